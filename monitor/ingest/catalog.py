"""Known models and their feature schemas, used to validate events before storing them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.db.models import Model, ModelVersion
from monitor.events import EventError, PredictionEvent


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    kind: str  # "numerical" | "categorical"


def _type_error(event: PredictionEvent, spec: FeatureSpec, value: Any) -> EventError | None:
    if value is None:
        return None  # missing values are data (their own bin), not errors
    if spec.kind == "numerical" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return EventError(
            "feature_type",
            f"features.{spec.name}={value!r}: expected a number for numerical feature "
            f"of model {event.model_id!r}",
        )
    if spec.kind == "categorical" and isinstance(value, float):
        return EventError(
            "feature_type",
            f"features.{spec.name}={value!r}: expected a string, integer or boolean for "
            f"categorical feature of model {event.model_id!r}",
        )
    return None


class ModelCatalog:
    """Caches models and schemas; reloads (at most every ``refresh_s``) when it meets an
    unknown model, so a model registered while ingest runs is picked up."""

    def __init__(self, *, refresh_s: float = 5.0) -> None:
        self._refresh_s = refresh_s
        self._loaded_at = float("-inf")
        self._schemas: dict[str, dict[str, tuple[FeatureSpec, ...]]] = {}
        self._latest: dict[str, str] = {}

    def load(self, session: Session) -> None:
        schemas: dict[str, dict[str, tuple[FeatureSpec, ...]]] = {
            m: {} for m in session.scalars(select(Model.model_id))
        }
        latest: dict[str, str] = {}
        rows = session.execute(
            select(
                ModelVersion.model_id, ModelVersion.version, ModelVersion.feature_schema
            ).order_by(ModelVersion.created_at)
        )
        for model_id, version, schema in rows:
            schemas.setdefault(model_id, {})[version] = tuple(
                FeatureSpec(f["name"], f["kind"]) for f in schema
            )
            latest[model_id] = version
        self._schemas, self._latest = schemas, latest
        self._loaded_at = time.monotonic()

    def _known(self, model_id: str, version: str | None) -> bool:
        versions = self._schemas.get(model_id)
        return versions is not None and (version is None or version in versions)

    def _ensure_known(self, session: Session, model_id: str, version: str | None = None) -> bool:
        """Reload (rate-limited) when the model, or the given version, is not cached."""
        if not self._known(model_id, version) and (
            time.monotonic() - self._loaded_at >= self._refresh_s
        ):
            self.load(session)
        return model_id in self._schemas

    def check_prediction(self, session: Session, event: PredictionEvent) -> None:
        """Raise :class:`EventError` if the event names an unknown model or carries a
        feature of the wrong type. An unregistered version is checked against the
        model's latest registered schema; features missing from the schema are kept."""
        self._ensure_known(session, event.model_id, event.model_version)
        self.check_model(session, event.model_id)
        versions = self._schemas[event.model_id]
        schema = versions.get(event.model_version) or versions.get(
            self._latest.get(event.model_id, ""), ()
        )
        for spec in schema:
            error = _type_error(event, spec, event.features.get(spec.name))
            if error is not None:
                raise error

    def check_model(self, session: Session, model_id: str) -> None:
        """Raise :class:`EventError` if ``model_id`` is not registered."""
        if not self._ensure_known(session, model_id):
            known = ", ".join(sorted(self._schemas)) or "none registered"
            raise EventError(
                "unknown_model", f"model_id={model_id!r}: unknown model (known: {known})"
            )
