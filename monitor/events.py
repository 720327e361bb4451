"""Wire schemas of the events model servers send (version 1).

A prediction event::

    {"event_id": "7f0c...", "model_id": "fraud", "model_version": "3",
     "timestamp": "2026-11-26T10:00:00Z",
     "features": {"amount": 12.5, "country": "DE", "is_new": true, "age": null},
     "prediction": 1, "scores": {"0": 0.2, "1": 0.8}, "segment": {"region": "eu"}}

A label event (ground truth, arrives later, keyed by the prediction's ``event_id``)::

    {"event_id": "7f0c...", "model_id": "fraud", "label": 0,
     "timestamp": "2026-11-27T08:00:00Z"}
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

FeatureValue = StrictBool | StrictInt | StrictFloat | StrictStr | None
Target = StrictBool | StrictInt | StrictFloat | StrictStr


def _aware(ts: datetime) -> datetime:
    # Naive timestamps are taken as UTC: model servers commonly log utcnow().
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


Timestamp = Annotated[datetime, AfterValidator(_aware)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=200)]


class PredictionEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: NonEmpty
    model_id: NonEmpty
    model_version: NonEmpty = "unversioned"
    timestamp: Timestamp
    features: dict[str, FeatureValue] = Field(default_factory=dict)
    prediction: Target | None = None
    scores: dict[str, float] | None = None
    segment: dict[str, str] | None = None


class LabelEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: NonEmpty
    model_id: NonEmpty
    label: Target
    timestamp: Timestamp


class EventError(ValueError):
    """A message that cannot become an event. ``reason`` is a short stable class name
    (used to count dead letters by reason); the message names the field and the value."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "<event>"
        if err["type"] == "missing":
            parts.append(f"{field}: required field is missing")
        else:
            value = json.dumps(err.get("input"), default=str)[:120]
            parts.append(f"{field}={value}: {err['msg']}")
    return "; ".join(parts)


def _load_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventError("not_json", f"message is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EventError("not_object", f"message is JSON but not an object: {str(data)[:80]}")
    return data


def decode_prediction(raw: bytes) -> PredictionEvent:
    """Parse and validate one prediction message, or raise :class:`EventError`."""
    try:
        return PredictionEvent.model_validate(_load_object(raw))
    except ValidationError as exc:
        raise EventError("invalid_event", _describe(exc)) from None


def decode_label(raw: bytes) -> LabelEvent:
    """Parse and validate one label message, or raise :class:`EventError`."""
    try:
        return LabelEvent.model_validate(_load_object(raw))
    except ValidationError as exc:
        raise EventError("invalid_event", _describe(exc)) from None
