"""Registering model versions and reading them back (``POST /v1/models`` and
``driftwarden models register / list / show``), and deleting a monitor
(``DELETE /v1/monitors/{name}``, ``driftwarden monitors delete``).

A version's feature schema is fixed once registered: stored predictions are laid out by
it (``num_values[i]`` is its i-th numerical feature), so a changed schema would make them
read as other features. Registering the same schema again changes nothing; another one
is refused (:class:`SchemaConflictError`): a new schema is a new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from monitor.db.models import Model, ModelVersion, Monitor
from monitor.detection.bucket_reads import segment_keys
from monitor.detection.bucket_refresh import resketch
from monitor.detection.monitors_apply import APPLY_LOCK
from monitor.resources import ModelDoc, register_model


class SchemaConflictError(ValueError):
    """The version is registered with another feature schema."""


@dataclass(frozen=True)
class VersionInfo:
    version: str
    created_at: datetime
    features: list[dict[str, Any]]


@dataclass(frozen=True)
class ModelInfo:
    model_id: str
    task_type: str
    description: str
    created_at: datetime
    versions: list[VersionInfo]

    def to_json(self, n_features: Mapping[tuple[str, str], int] | None = None) -> dict[str, Any]:
        """As JSON: with ``n_features`` each version's count of features, else its
        feature schema."""
        return {
            "model_id": self.model_id,
            "task_type": self.task_type,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "versions": [
                {
                    "version": v.version,
                    "created_at": v.created_at.isoformat(),
                    **(
                        {"features": v.features}
                        if n_features is None
                        else {"n_features": n_features.get((self.model_id, v.version), 0)}
                    ),
                }
                for v in self.versions
            ],
        }


def register_version(session: Session, doc: ModelDoc) -> Literal["created", "unchanged"]:
    """Register ``doc``'s model and version in the caller's transaction."""
    schema = [f.model_dump(mode="json", exclude_none=True) for f in doc.features]
    # Two registrations of one new version at once: the second waits, then compares.
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"model:{doc.model_id}"}
    )
    existing = session.get(ModelVersion, (doc.model_id, doc.version))
    if existing is not None and existing.feature_schema != schema:
        raise SchemaConflictError(
            f"model_id={doc.model_id!r} version={doc.version!r}: registered with another "
            "feature schema; register the new schema as a new version"
        )
    register_model(session, doc)
    return "created" if existing is None else "unchanged"


def list_models(session: Session, model_id: str | None = None) -> list[ModelInfo]:
    """Every model (or ``model_id``), by id, with its versions oldest first."""
    query = select(Model).order_by(Model.model_id)
    versions = select(ModelVersion).order_by(
        ModelVersion.model_id, ModelVersion.created_at, ModelVersion.version
    )
    if model_id is not None:
        query = query.where(Model.model_id == model_id)
        versions = versions.where(ModelVersion.model_id == model_id)
    by_model: dict[str, list[VersionInfo]] = {}
    for v in session.scalars(versions):
        by_model.setdefault(v.model_id, []).append(
            VersionInfo(v.version, v.created_at, list(v.feature_schema))
        )
    return [
        ModelInfo(
            m.model_id, m.task_type, m.description, m.created_at, by_model.get(m.model_id, [])
        )
        for m in session.scalars(query)
    ]


def count_features(session: Session) -> dict[tuple[str, str], int]:
    """Features per (model, version), without reading the schemas."""
    rows = session.execute(
        select(
            ModelVersion.model_id,
            ModelVersion.version,
            func.jsonb_array_length(ModelVersion.feature_schema),
        )
    )
    return {(m, v): int(n) for m, v, n in rows}


def delete_monitor(session: Session, name: str) -> str | None:
    """Delete the monitor ``name`` with its runs and results (in the caller's
    transaction); its model id, or None when there is none. When it was the only one
    declaring some segment keys, the model's bucket sketches are rebuilt without them."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": APPLY_LOCK})
    model_id = session.scalar(select(Monitor.model_id).where(Monitor.name == name))
    if model_id is None:
        return None
    before = segment_keys(session, model_id)
    session.execute(delete(Monitor).where(Monitor.name == name))
    if segment_keys(session, model_id) != before:
        resketch(session, model_id)
    return model_id
