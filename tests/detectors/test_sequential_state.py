"""detectors.sequential: a detector stored after any number of values and loaded again
(through strict JSON, and through what PostgreSQL's jsonb gives back) continues with the
same detections and the same state as one never interrupted; bad states, values and
parameters are refused with a message naming them."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.sequential import (
    ADWIN,
    CUSUM,
    DETECTORS,
    JSON,
    PageHinkley,
    SequentialDetector,
    load,
)

Factory = Callable[[], SequentialDetector]

# Sensitive settings, so short streams hold many detections (and restarts) to cross.
FACTORIES: dict[str, Factory] = {
    "page_hinkley": lambda: PageHinkley(min_instances=5, threshold=2.0),
    "page_hinkley_up_fading": lambda: PageHinkley(
        min_instances=3, threshold=1.0, alpha=0.9, mode="up"
    ),
    "cusum_estimated": lambda: CUSUM(warmup=8, h=3.0),
    "cusum_given": lambda: CUSUM(target=0.0, sigma=1.0, k=0.25, h=2.0),
    "adwin_clock_1": lambda: ADWIN(delta=0.2, clock=1, min_window_length=2, grace_period=4),
    "adwin_small_buckets": lambda: ADWIN(delta=0.3, clock=3, max_buckets=2),
}


def _streams() -> dict[str, list[float]]:
    rng = np.random.default_rng(5)
    n = 80
    return {
        "shifts": np.r_[rng.normal(0, 1, n), rng.normal(3, 1, n), rng.normal(-1, 0.5, n)].tolist(),
        "error_indicator": (rng.random(3 * n) < np.repeat([0.1, 0.6, 0.2], n))
        .astype(float)
        .tolist(),
        # Errors per window of 50 predictions.
        "window_errors": rng.binomial(50, np.repeat([0.05, 0.3, 0.1], n)).astype(float).tolist(),
    }


STREAMS = _streams()


def through_json(state: dict[str, JSON]) -> Any:
    return json.loads(json.dumps(state, allow_nan=False))


def as_jsonb(value: Any) -> Any:
    """What PostgreSQL's jsonb (numeric) gives back: a float with no fraction part comes
    back as an integer, and -0.0 as 0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: as_jsonb(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_jsonb(v) for v in value]
    return value


def run(detector: SequentialDetector, stream: list[float]) -> list[int]:
    return [detector.n - 1 for x in stream if detector.update(x)]


@pytest.mark.parametrize("stream", list(STREAMS))
@pytest.mark.parametrize("factory", list(FACTORIES))
def test_restored_after_every_k_continues_identically(factory: str, stream: str) -> None:
    values = STREAMS[stream]
    make = FACTORIES[factory]
    uninterrupted = make()
    states = [json.dumps(uninterrupted.to_state(), allow_nan=False)]
    expected = []
    for x in values:
        if uninterrupted.update(x):
            expected.append(uninterrupted.n - 1)
        states.append(json.dumps(uninterrupted.to_state(), allow_nan=False))
    assert len(expected) >= 2, "the stream should cross detections"
    final = uninterrupted.to_state()
    for k, stored in enumerate(states):
        restored = load(json.loads(stored))
        assert type(restored) is type(uninterrupted)
        assert restored.n == k
        assert restored.detections == sum(i < k for i in expected)
        assert restored.drift_detected == (k - 1 in expected)
        assert run(restored, values[k:]) == [i for i in expected if i >= k], k
        assert restored.to_state() == final, k


@settings(max_examples=60, deadline=None)
@given(
    factory=st.sampled_from(list(FACTORIES)),
    values=st.lists(
        st.one_of(
            st.floats(-10, 10),
            st.sampled_from([0.0, 1.0, -0.0]),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
        max_size=120,
    ),
    data=st.data(),
)
def test_restored_state_property(factory: str, values: list[float], data: st.DataObject) -> None:
    # Any finite values, up to +-1.8e308: the statistics may overflow to inf or NaN, which
    # the state must carry too.
    k = data.draw(st.integers(0, len(values)), label="k")
    uninterrupted, interrupted = FACTORIES[factory](), FACTORIES[factory]()
    before = run(interrupted, values[:k])
    state = interrupted.to_state()
    json.dumps(state, allow_nan=False)  # strict JSON: no NaN or Infinity literals
    from_json = load(through_json(state))
    from_jsonb = load(as_jsonb(through_json(state)))
    expected = run(uninterrupted, values)
    for restored in (interrupted, from_json, from_jsonb):
        assert before + run(restored, values[k:]) == expected
    assert from_json.to_state() == interrupted.to_state() == uninterrupted.to_state()
    # jsonb turns -0.0 into 0, which compares equal; every other float is exact.
    assert from_jsonb.to_state() == uninterrupted.to_state()


@pytest.mark.parametrize("factory", list(FACTORIES))
def test_reset_is_a_fresh_detector(factory: str) -> None:
    detector = FACTORIES[factory]()
    run(detector, STREAMS["shifts"])
    assert detector.detections > 0
    detector.reset()
    fresh = FACTORIES[factory]()
    assert detector.to_state() == fresh.to_state()
    assert (detector.n, detector.detections, detector.last_detection) == (0, 0, None)
    assert run(detector, STREAMS["shifts"]) == run(fresh, STREAMS["shifts"])


@pytest.mark.parametrize("factory", list(FACTORIES))
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "values must be finite, got nan"),
        (math.inf, "values must be finite, got inf"),
        (-math.inf, "values must be finite, got -inf"),
        (None, "values must be real numbers, got None"),
        ("0.5", "values must be real numbers, got '0.5'"),
    ],
)
def test_non_finite_values_are_refused(factory: str, value: object, message: str) -> None:
    detector = FACTORIES[factory]()
    run(detector, STREAMS["shifts"][:50])
    before = detector.to_state()
    with pytest.raises(ValueError, match=f"{detector.KIND}: {message}"):
        detector.update(value)  # type: ignore[arg-type]
    assert detector.to_state() == before


def test_direction_of_a_detection() -> None:
    makers: list[Factory] = [
        lambda: PageHinkley(min_instances=5, threshold=2.0),
        lambda: CUSUM(warmup=20),
        lambda: ADWIN(clock=1),
    ]
    for make in makers:
        for sign, direction in ((1.0, "up"), (-1.0, "down")):
            detector = make()
            stream = [0.1 * math.sin(i) for i in range(100)] + [sign * 2.0] * 100
            first = next(i for i, x in enumerate(stream) if detector.update(x))
            assert first >= 100, detector.KIND
            detection = detector.last_detection
            assert detection is not None
            assert detection.method == detector.KIND
            assert detection.direction == direction, detector.KIND
            assert detection.index == first
            assert detection.statistic > detection.threshold


def test_load_dispatches_on_kind() -> None:
    assert set(DETECTORS) == {"page_hinkley", "cusum", "adwin"}
    for make in FACTORIES.values():
        detector = make()
        assert type(load(detector.to_state())) is type(detector)


def _state(kind: str) -> dict[str, Any]:
    detector = {"page_hinkley": PageHinkley, "cusum": CUSUM, "adwin": ADWIN}[kind]()
    run(detector, STREAMS["shifts"][:40])
    return through_json(detector.to_state())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.update(kind="kswin"), "must name a sequential detector .* got 'kswin'"),
        (lambda s: s.pop("kind"), "must name a sequential detector .* got None"),
        (lambda s: s.update(version=2), "state version 2 is not supported"),
        (lambda s: s.pop("stats"), "state key 'stats' must be an object, got None"),
        (lambda s: s.update(n="40"), "state key 'n' must be an integer, got '40'"),
        (lambda s: s.update(n=-1), "state key 'n' must be >= 0, got -1"),
        (
            lambda s: s.update(drift_detected=0),
            "state key 'drift_detected' must be a boolean, got 0",
        ),
        (lambda s: s["stats"].pop("tick", None), "state has no key 'tick'"),
        (
            lambda s: s["stats"].update(total="Infinity"),
            "state key 'total' must be a number, 'inf', '-inf' or 'nan', got 'Infinity'",
        ),
        (lambda s: s["params"].update(delta=2.0), "delta must be in \\(0, 1\\), got 2.0"),
        (lambda s: s["stats"]["rows"].append([[1.0]]), "must be \\[total, variance\\]"),
        (lambda s: s["stats"]["rows"][0].extend([[0.0, 0.0]] * 9), "at most 5 buckets"),
    ],
)
def test_bad_adwin_states_are_named(edit: Callable[[dict[str, Any]], object], message: str) -> None:
    state = _state("adwin")
    edit(state)
    with pytest.raises(ValueError, match=message):
        load(state)


def test_a_state_of_another_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="state key 'kind' must be 'page_hinkley', got 'adwin'"):
        PageHinkley.from_state(_state("adwin"))
    with pytest.raises(ValueError, match="must be an object, got \\[\\]"):
        load([])  # type: ignore[arg-type]
    state = _state("cusum")
    state["stats"]["up"] = None
    with pytest.raises(ValueError, match="state key 'up' must be a number"):
        load(state)
    state = _state("page_hinkley")
    state["params"]["mode"] = "sideways"
    with pytest.raises(ValueError, match="mode must be one of up, down, both, got 'sideways'"):
        load(state)
    state = _state("page_hinkley")
    state["last_detection"] = {"method": "page_hinkley", "index": 3, "direction": "left"}
    with pytest.raises(ValueError, match="'direction' must be 'up' or 'down', got 'left'"):
        load(state)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PageHinkley(min_instances=0), "min_instances must be >= 1, got 0"),
        (lambda: PageHinkley(min_instances=True), "min_instances must be an integer, got True"),
        (lambda: PageHinkley(delta=-0.1), "delta must be finite and >= 0, got -0.1"),
        (lambda: PageHinkley(threshold=math.inf), "threshold must be finite and > 0, got inf"),
        (lambda: PageHinkley(alpha=0.0), "alpha must be in \\(0, 1\\], got 0.0"),
        (lambda: PageHinkley(alpha=1.5), "alpha must be in \\(0, 1\\], got 1.5"),
        (lambda: ADWIN(delta=0.0), "delta must be in \\(0, 1\\), got 0.0"),
        (lambda: ADWIN(clock=0), "clock must be >= 1, got 0"),
        (lambda: ADWIN(max_buckets=1), "max_buckets must be >= 2, got 1"),
        (lambda: ADWIN(min_window_length=0), "min_window_length must be >= 1, got 0"),
        (lambda: ADWIN(grace_period=-1), "grace_period must be >= 0, got -1"),
        (lambda: ADWIN(clock=2.0), "clock must be an integer, got 2.0"),  # type: ignore[arg-type]
    ],
)
def test_bad_parameters_are_named(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
