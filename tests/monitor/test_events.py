from __future__ import annotations

import json

import pytest

from monitor.events import EventError, decode_label, decode_prediction

GOOD = {
    "event_id": "e1",
    "model_id": "m",
    "model_version": "2",
    "timestamp": "2026-11-26T10:00:00",
    "features": {"x": 1.5, "c": "a", "flag": True, "gone": None},
    "prediction": 1,
    "scores": {"0": 0.3, "1": 0.7},
}


def test_valid_prediction_is_decoded_with_utc_timestamp() -> None:
    event = decode_prediction(json.dumps(GOOD).encode())
    assert event.features["gone"] is None
    assert event.timestamp.utcoffset() is not None  # naive input is taken as UTC


@pytest.mark.parametrize(
    ("raw", "reason", "needle"),
    [
        (b"\xff\xfe garbage", "not_json", "not JSON"),
        (b"[1, 2]", "not_object", "not an object"),
        (json.dumps({**GOOD, "event_id": None}).encode(), "invalid_event", "event_id=null"),
        (
            json.dumps({k: v for k, v in GOOD.items() if k != "timestamp"}).encode(),
            "invalid_event",
            "timestamp: required field is missing",
        ),
        (json.dumps({**GOOD, "features": {"x": [1, 2]}}).encode(), "invalid_event", "features.x"),
        (
            json.dumps({**GOOD, "timestamp": "yesterday"}).encode(),
            "invalid_event",
            'timestamp="yesterday"',
        ),
    ],
)
def test_bad_messages_name_field_and_value(raw: bytes, reason: str, needle: str) -> None:
    with pytest.raises(EventError) as err:
        decode_prediction(raw)
    assert err.value.reason == reason
    assert needle in str(err.value)


def test_label_requires_a_label() -> None:
    with pytest.raises(EventError, match="label: required field is missing"):
        decode_label(b'{"event_id": "e1", "model_id": "m", "timestamp": "2026-11-26T10:00:00Z"}')
