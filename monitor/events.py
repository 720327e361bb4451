"""Wire schemas of the events model servers send (version 1), decoded with msgspec.

A prediction event (``driftwarden.predictions``, keyed by event id)::

    {"event_id": "7f0c...", "model_id": "fraud", "model_version": "3",
     "timestamp": "2026-11-26T10:00:00Z",
     "features": {"amount": 12.5, "country": "DE", "is_new": true, "age": null},
     "prediction": 1, "scores": {"0": 0.2, "1": 0.8}, "segment": {"region": "eu"}}

``features`` may be left out when the serving stack logs them separately as a feature
log (``driftwarden.features``)::

    {"event_id": "7f0c...", "model_id": "fraud", "timestamp": "...", "features": {...}}

A label event (``driftwarden.labels``; ground truth, any time later, keyed by event id)::

    {"event_id": "7f0c...", "model_id": "fraud", "label": 0,
     "timestamp": "2026-11-27T08:00:00Z"}

Timestamps are RFC 3339; one without an offset is taken as UTC. Decoding only checks the
envelope; feature values are checked against the model version's schema by
:mod:`monitor.ingest.catalog`.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Target = int | float | str | bool


class _Event(msgspec.Struct, gc=False):
    timestamp: datetime

    def __post_init__(self) -> None:
        if self.timestamp.tzinfo is None:
            # Model servers commonly log utcnow(): a naive timestamp is UTC.
            self.timestamp = self.timestamp.replace(tzinfo=UTC)


class PredictionBase(_Event):
    """A prediction event's fields but its features: what the writer stores of it."""

    event_id: Name
    model_id: Name
    timestamp: datetime
    model_version: Name = "unversioned"
    prediction: Target | None = None
    scores: dict[str, float] | None = None
    segment: dict[str, str] | None = None


class PredictionEvent(PredictionBase):
    # None: the features arrive in a feature log with the same event_id.
    features: dict[str, Any] | None = None


NO_FEATURES = msgspec.Raw(b"null")


class PredictionWire(PredictionBase):
    """A prediction event with its features left as JSON text (``NO_FEATURES`` when absent
    or null), for the schema contract to decode straight into the version's layout
    (:func:`monitor.ingest.catalog.map_encoded_features`)."""

    features: msgspec.Raw = NO_FEATURES


class FeatureLogEvent(_Event):
    event_id: Name
    model_id: Name
    timestamp: datetime
    features: dict[str, Any]


class LabelEvent(_Event):
    event_id: Name
    model_id: Name
    label: Target
    timestamp: datetime


E = TypeVar("E", PredictionEvent, FeatureLogEvent, LabelEvent)


class EventError(ValueError):
    """A message that cannot become an event. ``reason`` is a short stable class name
    (dead letters are counted by it); the message names the field and the value."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {
    t: msgspec.json.Decoder(t) for t in (PredictionEvent, FeatureLogEvent, LabelEvent)
}
_WIRE_DECODER = msgspec.json.Decoder(PredictionWire)
_FEATURES_DECODER = msgspec.json.Decoder(dict[str, Any])
_PATH = re.compile(r" - at `\$\.?(.*)`$")
_MISSING = re.compile(r"Object missing required field `(\w+)`")


def _lenient_load(raw: bytes) -> Any:
    """Python's parser, which also takes the NaN/Infinity literals many producers emit."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventError("not_json", f"message is not JSON: {exc}") from None
    except RecursionError:
        raise EventError("not_json", "message is JSON nested too deeply to read") from None


def _explain(obj: Any, exc: msgspec.ValidationError) -> EventError:
    text = str(exc)
    if not isinstance(obj, dict):
        return EventError("not_object", f"message is JSON but not an object: {str(obj)[:80]}")
    missing = _MISSING.search(text)
    if missing:
        return EventError("invalid_event", f"{missing.group(1)}: required field is missing")
    match = _PATH.search(text)
    path = match.group(1) if match else ""
    field = path.split(".")[0].split("[")[0]
    value = json.dumps(obj.get(field), default=str)[:120] if field else "?"
    reason = _PATH.sub("", text)
    return EventError("invalid_event", f"{path or field or '<event>'}={value}: {reason}")


def decode(raw: bytes, kind: type[E]) -> E:
    """Parse and validate one message as ``kind``, or raise :class:`EventError`."""
    if b"\\u0000" in raw:
        # PostgreSQL text and jsonb cannot hold NUL; refuse it here, not at COPY time.
        raise EventError("nul_character", "message contains a \\u0000 (NUL) character")
    try:
        return _DECODERS[kind].decode(raw)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        obj = _lenient_load(raw)
        raise _explain(obj, exc) from None
    except UnicodeDecodeError as exc:
        raise EventError("not_json", f"message is not JSON (invalid UTF-8): {exc}") from None
    except RecursionError:
        raise EventError("not_json", "message is JSON nested too deeply to read") from None
    except msgspec.DecodeError:
        # Not strict JSON: maybe NaN/Infinity literals, which we accept (the schema
        # check counts them as non-finite values).
        obj = _lenient_load(raw)
        try:
            return msgspec.convert(obj, kind)
        except msgspec.ValidationError as exc:
            raise _explain(obj, exc) from None


def decode_prediction(raw: bytes) -> PredictionEvent:
    return decode(raw, PredictionEvent)


def decode_prediction_wire(raw: bytes) -> PredictionWire | None:
    """The common, valid prediction event with its features undecoded, or None for any
    message that is not plainly that: :func:`decode_prediction` then decodes it whole and
    names what is wrong (or reads its NaN literals)."""
    if b"\\u0000" in raw:
        return None
    try:
        return _WIRE_DECODER.decode(raw)
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
        return None


def decode_features(raw: msgspec.Raw) -> dict[str, Any] | None:
    """A :class:`PredictionWire`'s features as :func:`decode_prediction` would give them,
    or None when they are not a JSON object: decoding the whole event then says why."""
    try:
        return _FEATURES_DECODER.decode(raw)
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
        return None


def decode_feature_log(raw: bytes) -> FeatureLogEvent:
    return decode(raw, FeatureLogEvent)


def decode_label(raw: bytes) -> LabelEvent:
    return decode(raw, LabelEvent)
