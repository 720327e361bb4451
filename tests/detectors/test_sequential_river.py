"""detectors.sequential.PageHinkley and ADWIN against River 0.26's drift.PageHinkley and
drift.ADWIN: the same detections, at the same values, on the same seeded streams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import drift

from detectors.sequential import ADWIN, PageHinkley, SequentialDetector


def _streams() -> dict[str, list[float]]:
    rng = np.random.default_rng(20240605)
    n = 3000
    streams = {
        "abrupt": np.r_[rng.normal(0, 1, n), rng.normal(1, 1, n), rng.normal(-0.5, 2, n)],
        "gradual": rng.normal(0, 1, 2 * n) + np.linspace(0, 3, 2 * n),
        "no_change": rng.normal(0, 1, 2 * n),
        # A 0/1 error indicator per prediction, its rate moving 0.1 -> 0.3 -> 0.05.
        "bernoulli": np.r_[rng.random(n) < 0.1, rng.random(n) < 0.3, rng.random(n) < 0.05].astype(
            float
        ),
        # A per-window error rate (windows of 200 predictions), 2% -> 5%.
        "window_rate": np.r_[rng.binomial(200, 0.02, n), rng.binomial(200, 0.05, n)] / 200,
        # Far from 0: the running sums' rounding is where two implementations part first.
        "offset": np.r_[rng.normal(1e6, 10, n), rng.normal(1e6 + 3, 10, n)],
    }
    return {name: [float(x) for x in s] for name, s in streams.items()}


STREAMS = _streams()
DRIFTING = ("abrupt", "gradual", "bernoulli", "window_rate", "offset")


def detections(update: Callable[[float], bool], stream: list[float]) -> list[int]:
    return [i for i, x in enumerate(stream) if update(x)]


def river_detections(detector: Any, stream: list[float]) -> list[int]:
    found = []
    for i, x in enumerate(stream):
        detector.update(x)
        if detector.drift_detected:
            found.append(i)
    return found


PH_PARAMS = [
    {},
    {"threshold": 5.0},
    {"threshold": 5.0, "mode": "up"},
    {"threshold": 3.0, "mode": "down", "alpha": 0.99},
    {"min_instances": 5, "delta": 0.0, "threshold": 2.0},
    {"threshold": 0.5, "delta": 0.001, "alpha": 1.0},
]


@pytest.mark.parametrize("params", PH_PARAMS, ids=str)
def test_page_hinkley_detects_where_river_does(params: dict[str, Any]) -> None:
    found_any = 0
    for name, stream in STREAMS.items():
        ours = PageHinkley(**params)
        theirs = drift.PageHinkley(**params)
        expected = []
        for i, x in enumerate(stream):
            theirs.update(x)
            assert ours.update(x) == theirs.drift_detected, (name, i)
            if theirs.drift_detected:
                expected.append(i)
            else:
                # Between detections the statistics are River's, to the bit (its private
                # attributes; river is pinned). At a detection River restarts at the next
                # value, ours at once.
                stats = ours.to_state()["stats"]
                assert isinstance(stats, dict)
                assert (stats["mean"], stats["sum_up"], stats["sum_down"]) == (
                    theirs._x_mean.get(),
                    theirs._sum_increase,
                    theirs._sum_decrease,
                ), (name, i)
        assert ours.detections == len(expected)
        if expected:
            assert ours.last_detection is not None
            assert ours.last_detection.index == expected[-1]
        found_any += len(expected) > 0 and name in DRIFTING
    assert found_any >= 1


def test_page_hinkley_defaults_detect_the_abrupt_shift() -> None:
    # The defaults are River's; the mean moving up by 1 sd at value 3000 is found within
    # 100 values (with false detections before it: threshold 50 is small for unit noise
    # over thousands of values).
    found = detections(PageHinkley().update, STREAMS["abrupt"][:6000])
    assert found == river_detections(drift.PageHinkley(), STREAMS["abrupt"][:6000])
    assert any(3000 <= i < 3100 for i in found)


ADWIN_PARAMS = [
    {},
    {"clock": 1},
    {"delta": 0.1, "clock": 1, "max_buckets": 2},
    {"delta": 0.01, "clock": 4, "max_buckets": 3, "min_window_length": 1, "grace_period": 0},
    {"delta": 0.5, "clock": 7, "min_window_length": 20, "grace_period": 100},
]


@pytest.mark.parametrize("params", ADWIN_PARAMS, ids=str)
def test_adwin_detects_where_river_does(params: dict[str, Any]) -> None:
    for name, stream in STREAMS.items():
        ours = ADWIN(**params)
        theirs = drift.ADWIN(**params)
        for i, x in enumerate(stream):
            theirs.update(x)
            assert ours.update(x) == theirs.drift_detected, (name, i)
            if not theirs.drift_detected:
                # Between detections the window is the same, to the bit. (At a detection
                # River drops the old buckets and restarts at the next value; ours restarts
                # at once.)
                assert (ours.width, ours.mean, ours.variance) == (
                    theirs.width,
                    theirs.estimation,
                    theirs.variance / theirs.width,
                ), (name, i)
        if name in DRIFTING:
            assert ours.detections >= 1, name


def test_adwin_defaults() -> None:
    # River's defaults: the abrupt 1 sd shift is found at the first check (every 32 values)
    # that sees it; no detection on the stream without change.
    found = detections(ADWIN().update, STREAMS["abrupt"][:6000])
    assert found == river_detections(drift.ADWIN(), STREAMS["abrupt"][:6000])
    assert len(found) == 1
    assert 3000 <= found[0] < 3100
    assert (found[0] + 1) % 32 == 0
    assert detections(ADWIN().update, STREAMS["no_change"]) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"grace_period": 0}, [1]),
        ({"grace_period": 1}, [1]),  # checks start once the window holds MORE than this
        ({"grace_period": 2}, [2]),
        ({"grace_period": 0, "min_window_length": 2}, []),
        ({"grace_period": 0, "clock": 2}, [1]),
        ({"grace_period": 0, "clock": 3}, [2]),
    ],
    ids=str,
)
def test_adwin_small_windows(params: dict[str, Any], expected: list[int]) -> None:
    # By hand, for [100, 0]: W0 = [100], W1 = [0], variance 2500, m = 1/1 + 1/1 = 2,
    # d = ln(2 ln 2 / 0.99) = 0.336685, bound sqrt(2 * 2 * 2500 * d) + 2/3 * d * 2 = 58.4734
    # < 100: a detection as soon as a check sees both parts with min_window_length values.
    all_params = {"delta": 0.99, "clock": 1, "min_window_length": 1} | params
    stream = [100.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    ours = ADWIN(**all_params)
    assert detections(ours.update, stream) == expected
    assert river_detections(drift.ADWIN(**all_params), stream) == expected
    if expected == [1]:
        assert ours.last_detection is not None
        assert ours.last_detection.statistic == 100.0
        assert ours.last_detection.threshold == pytest.approx(58.4734, abs=5e-5)
        assert ours.last_detection.direction == "down"
        assert ours.last_detection.n_window == 2


@pytest.mark.parametrize("make", [PageHinkley, ADWIN])
def test_integer_and_bool_values_are_numbers(make: Callable[[], SequentialDetector]) -> None:
    # An error indicator may arrive as bool or int; it is the same stream as 0.0/1.0.
    stream = STREAMS["bernoulli"]
    as_floats, as_bools, as_ints = make(), make(), make()
    for x in stream:
        assert as_floats.update(x) == as_bools.update(x == 1.0) == as_ints.update(int(x))
    assert as_floats.to_state() == as_bools.to_state() == as_ints.to_state()


# Streams of level segments (a constant, or noise around a level), short and long, so
# detections also come at small windows and at the edge of min_window_length.
segments = st.lists(
    st.tuples(
        st.one_of(st.floats(-5, 5), st.sampled_from([0.0, 1.0])),
        st.integers(1, 60),
        st.sampled_from([0.0, 0.1, 1.0]),
    ),
    min_size=1,
    max_size=8,
)


def segment_stream(parts: list[tuple[float, int, float]], seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(level + spread * rng.normal()) for level, n, spread in parts for _ in range(n)]


@settings(max_examples=150, deadline=None)
@given(
    params=st.fixed_dictionaries(
        {
            "delta": st.floats(0.001, 0.99),
            "clock": st.integers(1, 8),
            "max_buckets": st.integers(2, 6),
            "min_window_length": st.integers(1, 8),
            "grace_period": st.integers(0, 20),
        }
    ),
    parts=segments,
    seed=st.integers(0, 2**32 - 1),
)
def test_adwin_matches_river_on_any_stream(
    params: dict[str, Any], parts: list[tuple[float, int, float]], seed: int
) -> None:
    stream = segment_stream(parts, seed)
    assert detections(ADWIN(**params).update, stream) == river_detections(
        drift.ADWIN(**params), stream
    )


@settings(max_examples=150, deadline=None)
@given(
    params=st.fixed_dictionaries(
        {
            "min_instances": st.integers(1, 40),
            "delta": st.floats(0, 0.5),
            "threshold": st.floats(0.01, 20),
            "alpha": st.floats(0.5, 1.0),
            "mode": st.sampled_from(["up", "down", "both"]),
        }
    ),
    parts=segments,
    seed=st.integers(0, 2**32 - 1),
)
def test_page_hinkley_matches_river_on_any_stream(
    params: dict[str, Any], parts: list[tuple[float, int, float]], seed: int
) -> None:
    stream = segment_stream(parts, seed)
    assert detections(PageHinkley(**params).update, stream) == river_detections(
        drift.PageHinkley(**params), stream
    )
