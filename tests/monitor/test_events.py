"""Decoding of the wire formats: envelopes only (feature values: test_catalog.py)."""

from __future__ import annotations

import json

import pytest

from monitor.events import EventError, decode_feature_log, decode_label, decode_prediction

GOOD = {
    "event_id": "e1",
    "model_id": "m",
    "model_version": "2",
    "timestamp": "2026-11-26T10:00:00",
    "features": {"x": 1.5, "c": "a", "flag": True, "gone": None, "n": 3},
    "prediction": 1,
    "scores": {"0": 0.3, "1": 0.7},
}


def test_valid_prediction_is_decoded_with_utc_timestamp() -> None:
    event = decode_prediction(json.dumps(GOOD).encode())
    assert event.features == GOOD["features"]
    assert isinstance(event.features["n"], int)  # integers stay integers (categories)
    assert event.timestamp.utcoffset() is not None  # naive input is taken as UTC


def test_features_may_come_later_in_a_feature_log() -> None:
    event = decode_prediction(
        json.dumps({k: v for k, v in GOOD.items() if k != "features"}).encode()
    )
    assert event.features is None
    log = decode_feature_log(
        b'{"event_id": "e1", "model_id": "m", '
        b'"timestamp": "2026-11-26T10:00:00Z", "features": {"x": 1}}'
    )
    assert log.features == {"x": 1}


def test_nan_and_infinity_literals_are_read_not_refused() -> None:
    raw = json.dumps({**GOOD, "features": {"x": float("nan"), "y": float("inf")}}).encode()
    assert b"NaN" in raw  # what Python's json.dumps (and so many producers) writes
    event = decode_prediction(raw)
    assert event.features is not None
    assert event.features["x"] != event.features["x"]


@pytest.mark.parametrize(
    ("raw", "reason", "needle"),
    [
        (b"\xff\xfe garbage", "not_json", "not JSON"),
        (b'{"event_id": "\xc3\x28"}', "not_json", "not JSON"),  # invalid UTF-8
        (b"[1, 2]", "not_object", "not an object"),
        (b"[" * 100_000 + b"]" * 100_000, "not_json", "nested too deeply"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "not_json", "nested too deeply"),
        (json.dumps({**GOOD, "event_id": None}).encode(), "invalid_event", "event_id=null"),
        (json.dumps({**GOOD, "event_id": "x" * 1_000_000}).encode(), "invalid_event", "event_id="),
        (
            json.dumps({k: v for k, v in GOOD.items() if k != "timestamp"}).encode(),
            "invalid_event",
            "timestamp: required field is missing",
        ),
        (
            json.dumps({k: v for k, v in GOOD.items() if k != "model_id"}).encode(),
            "invalid_event",
            "model_id: required field is missing",
        ),
        (
            json.dumps({**GOOD, "timestamp": "yesterday"}).encode(),
            "invalid_event",
            'timestamp="yesterday"',
        ),
        (json.dumps({**GOOD, "scores": {"1": "high"}}).encode(), "invalid_event", "scores"),
        (json.dumps({**GOOD, "model_id": "a\u0000b"}).encode(), "nul_character", "NUL"),
    ],
)
def test_bad_messages_name_field_and_value(raw: bytes, reason: str, needle: str) -> None:
    with pytest.raises(EventError) as err:
        decode_prediction(raw)
    assert err.value.reason == reason
    assert needle in str(err.value)
    assert len(str(err.value)) < 1000  # a 1 MB value is not echoed whole


def test_label_requires_a_label() -> None:
    with pytest.raises(EventError, match="label: required field is missing"):
        decode_label(b'{"event_id": "e1", "model_id": "m", "timestamp": "2026-11-26T10:00:00Z"}')
