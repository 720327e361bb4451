"""Validation of events against registered models and schemas."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitor.events import EventError, PredictionEvent
from monitor.ingest.catalog import ModelCatalog
from monitor.resources import FeatureSchema, ModelDoc, register_model


def model(version: str, kind: str) -> ModelDoc:
    return ModelDoc(
        model_id="m",
        task_type="regression",
        version=version,
        features=[FeatureSchema(name="x", kind=kind)],
    )  # type: ignore[arg-type]


def event(version: str, x: object) -> PredictionEvent:
    return PredictionEvent.model_validate(
        {
            "event_id": "e",
            "model_id": "m",
            "model_version": version,
            "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
            "features": {"x": x},
        }
    )


def test_models_and_versions_registered_while_running_are_picked_up(db: Engine) -> None:
    catalog = ModelCatalog(refresh_s=0)
    with Session(db) as session:
        catalog.load(session)
        with pytest.raises(EventError, match="model_id='m': unknown model"):
            catalog.check_prediction(session, event("1", 1.0))
        register_model(session, model("1", "numerical"))
        catalog.check_prediction(session, event("1", 1.0))
        with pytest.raises(EventError, match=r"features\.x='a': expected a number"):
            catalog.check_prediction(session, event("1", "a"))
        # Version 2 turns x into a category: its events are checked against its own schema.
        register_model(session, model("2", "categorical"))
        catalog.check_prediction(session, event("2", "a"))
        with pytest.raises(EventError, match=r"features.x=1.5: expected a string"):
            catalog.check_prediction(session, event("2", 1.5))


def test_missing_values_and_unlisted_features_are_data_not_errors(db: Engine) -> None:
    catalog = ModelCatalog()
    with Session(db) as session:
        register_model(session, model("1", "numerical"))
        catalog.load(session)
        catalog.check_prediction(session, event("1", None))
        catalog.check_prediction(session, event("unregistered", 2))  # latest schema applies
        with pytest.raises(EventError, match="expected a number"):
            catalog.check_prediction(session, event("1", True))  # a bool is not a number
