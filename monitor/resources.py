"""Create or update models and monitors (used by the CLI, demo, tests).

``apply_document`` accepts the YAML/JSON documents of ``driftwarden apply -f``::

    kind: Model       {model_id, task_type, version, features: [{name, kind}]}
    kind: Monitor     {name, spec: MonitorSpec}

Receivers and alert rules live in the alerting config file (``rules.yaml``, applied by
``driftwarden rules apply``), with the route tree that connects them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitor.db.models import Model, ModelVersion, Monitor
from monitor.detection.bucket_reads import segment_keys
from monitor.detection.bucket_refresh import resketch
from monitor.detection.spec import MonitorSpec


class FeatureSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: Literal["numerical", "categorical"]
    range: tuple[float, float] | None = None
    categories: list[str] | None = None


class ModelDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str = Field(min_length=1)
    task_type: Literal["binary_classification", "multiclass_classification", "regression"]
    version: str = Field(min_length=1)
    description: str = ""
    features: list[FeatureSchema]


class MonitorDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    spec: MonitorSpec


class ResourceError(ValueError):
    """A document that cannot be applied; names the document, field and value."""


def register_model(session: Session, doc: ModelDoc) -> None:
    stmt = insert(Model).values(
        model_id=doc.model_id, task_type=doc.task_type, description=doc.description
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Model.model_id],
            set_={"task_type": stmt.excluded.task_type, "description": stmt.excluded.description},
        )
    )
    schema = [f.model_dump(exclude_none=True) for f in doc.features]
    vstmt = insert(ModelVersion).values(
        model_id=doc.model_id, version=doc.version, feature_schema=schema
    )
    session.execute(
        vstmt.on_conflict_do_update(
            index_elements=[ModelVersion.model_id, ModelVersion.version],
            set_={"feature_schema": vstmt.excluded.feature_schema},
        )
    )


def upsert_monitor(session: Session, doc: MonitorDoc) -> None:
    """Create or replace the monitor ``doc.name``. When that changes the segment keys its
    model's enabled monitors declare, the model's bucket sketches are rebuilt by the next
    refresh (they hold one sketch per declared key=value), in this transaction."""
    previous = session.scalar(select(Monitor.model_id).where(Monitor.name == doc.name))
    models = sorted({doc.spec.model_id, *([previous] if previous is not None else [])})
    before = {m: segment_keys(session, m) for m in models}
    stmt = insert(Monitor).values(
        name=doc.name, model_id=doc.spec.model_id, spec=doc.spec.model_dump(mode="json")
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Monitor.name],
            set_={"spec": stmt.excluded.spec, "model_id": stmt.excluded.model_id},
        )
    )
    for model_id in models:
        if segment_keys(session, model_id) != before[model_id]:
            resketch(session, model_id)


def apply_document(session: Session, document: dict[str, Any], *, where: str = "document") -> str:
    """Validate and apply one document; return a one-line description of what it did."""
    body = {k: v for k, v in document.items() if k != "kind"}
    kind = document.get("kind")
    try:
        if kind == "Model":
            model = ModelDoc.model_validate(body)
            register_model(session, model)
            return f"model {model.model_id} version {model.version}"
        if kind == "Monitor":
            monitor = MonitorDoc.model_validate(body)
            upsert_monitor(session, monitor)
            return f"monitor {monitor.name}"
        if kind in ("Receiver", "Rule"):
            raise ResourceError(
                f"{where}: kind={kind!r}: receivers and rules are in the alerting config file "
                "now, with the route tree: driftwarden rules apply -f rules.yaml "
                "(docs/alerting.md)"
            )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}={e.get('input')!r}: {e['msg']}"
            for e in exc.errors()
        )
        raise ResourceError(f"{where} (kind {kind}): {problems}") from None
    raise ResourceError(f"{where}: kind={kind!r} is not one of Model, Monitor")
