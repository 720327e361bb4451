"""The retraining callback: record a trigger's outcome, register the new model version.

A trainer started by a ``retrain`` receiver reports back, by the API
(``POST /v1/retraining/{id}/outcome``) or the CLI (``driftwarden retraining outcome``):
``succeeded`` or ``failed``, with optionally the new model version it produced. A new
version is registered with the feature schema of the version that was retrained (or the
one given), and can get its baseline right away: the old version's copied
(``copy_baseline``, same schema only) here, or one built from a training file by the CLI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitor.db.models import ModelVersion, RetrainingTrigger
from monitor.detection.baseline import copy_baseline

Outcome = Literal["succeeded", "failed"]


class RetrainingError(ValueError):
    """An outcome that cannot be recorded; names the trigger and the field."""


class UnknownTriggerError(RetrainingError):
    """No trigger has the id (the API answers 404, not 422)."""


def record_outcome(
    session: Session,
    trigger_id: int,
    *,
    status: Outcome,
    now: datetime,
    new_version: str | None = None,
    feature_schema: list[dict[str, Any]] | None = None,
    copy_baseline_name: str | None = None,
    detail: str = "",
) -> RetrainingTrigger:
    """Record the outcome of trigger ``trigger_id`` (again: the last report wins)."""
    trigger = session.get(RetrainingTrigger, trigger_id, with_for_update=True)
    if trigger is None:
        raise UnknownTriggerError(f"trigger_id={trigger_id}: no such retraining trigger")
    if trigger.status == "blocked":
        raise RetrainingError(
            f"trigger_id={trigger_id}: was blocked by its policy ({trigger.reason}); "
            "nothing was retrained"
        )
    if new_version is not None and status != "succeeded":
        raise RetrainingError(f"new_version={new_version!r}: only a succeeded retraining has one")
    if copy_baseline_name is not None and new_version is None:
        # Said, not ignored: the caller expects a baseline the new version would not get.
        raise RetrainingError(
            f"copy_baseline={copy_baseline_name!r}: a baseline is copied to a new_version"
        )
    if new_version == trigger.model_version:
        raise RetrainingError(
            f"new_version={new_version!r}: is the retrained version itself; "
            "a retraining produces another version"
        )
    if new_version is not None:
        schema = feature_schema
        if schema is None:
            schema = session.scalar(
                select(ModelVersion.feature_schema).where(
                    ModelVersion.model_id == trigger.model_id,
                    ModelVersion.version == trigger.model_version,
                )
            )
        if schema is None:
            raise RetrainingError(
                f"new_version={new_version!r}: version {trigger.model_version!r} of "
                f"{trigger.model_id!r} is not registered; give the feature schema"
            )
        session.execute(
            insert(ModelVersion)
            .values(model_id=trigger.model_id, version=new_version, feature_schema=schema)
            .on_conflict_do_nothing(index_elements=[ModelVersion.model_id, ModelVersion.version])
        )
        if copy_baseline_name is not None:
            copy_baseline(
                session,
                model_id=trigger.model_id,
                from_version=trigger.model_version,
                to_version=new_version,
                name=copy_baseline_name,
            )
    trigger.status = status
    trigger.outcome_at = now
    trigger.new_version = new_version
    trigger.detail = detail
    return trigger
