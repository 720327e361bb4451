"""detectors.sequential.CUSUM: hand-computed sums, Montgomery's worked example, and the
average run lengths of his table 9.3 (k = 1/2, h = 5) by seeded simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.sequential import CUSUM, Detection
from detectors.sequential.base import Direction

# Target 0, sigma 1, so K = 0.5 and H = 5; every value and sum is a dyadic fraction, so
# the sums are exact. Columns: x, C+ and C- after it (by hand: C+ = max(0, x - 0.5 + C+),
# C- = max(0, -0.5 - x + C-)), detection. After a detection both sums restart at 0.
HAND: list[tuple[float, float, float, tuple[Direction, float, int] | None]] = [
    (1.0, 0.5, 0.0, None),
    (2.0, 2.0, 0.0, None),
    (0.5, 2.0, 0.0, None),
    (-1.0, 0.5, 0.5, None),
    (3.0, 3.0, 0.0, None),
    (2.5, 5.0, 0.0, None),  # C+ = H is not a detection: C+ must exceed H
    (0.75, 0.0, 0.0, ("up", 5.25, 7)),
    (-2.0, 0.0, 1.5, None),
    (-4.0, 0.0, 5.0, None),
    (-0.5, 0.0, 5.0, None),
    (-0.625, 0.0, 0.0, ("down", 5.125, 4)),
    (0.25, 0.0, 0.0, None),
]


def test_hand_computed_sums() -> None:
    cusum = CUSUM(target=0.0, sigma=1.0)
    for i, (x, up, down, detection) in enumerate(HAND):
        assert cusum.update(x) is (detection is not None), i
        assert cusum.drift_detected is (detection is not None)
        assert cusum.sums == (up, down), i
        if detection is not None:
            direction, statistic, n_window = detection
            assert cusum.last_detection == Detection(
                "cusum", i, direction, statistic, 5.0, n_window
            )
    assert cusum.detections == 2
    assert cusum.n == len(HAND)


def test_sums_are_in_sigma_units() -> None:
    # The same stream on another scale (x -> 10 + 2x, target 10, sigma 2): the same
    # detections, sums and statistic doubled, threshold H = 10.
    cusum = CUSUM(target=10.0, sigma=2.0)
    for i, (x, up, down, detection) in enumerate(HAND):
        assert cusum.update(10.0 + 2.0 * x) is (detection is not None), i
        assert cusum.sums == (2.0 * up, 2.0 * down), i
        if detection is not None:
            assert cusum.last_detection is not None
            assert cusum.last_detection.statistic == 2.0 * detection[1]
            assert cusum.last_detection.threshold == 10.0


# Montgomery, Introduction to Statistical Quality Control, example 9.1 (table 9.1): 20
# values from N(10, 1) then 10 from N(11, 1); with mu0 = 10, sigma = 1, k = 1/2, h = 5
# the tabular CUSUM signals at period 29 with C+ = 5.28, having been positive for the last
# N+ = 7 periods (so the shift is estimated to have happened after period 22).
MONTGOMERY_9_1 = [
    9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34,
    9.03, 11.47, 10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84,
    10.90, 9.33, 12.29, 11.50, 10.60, 11.08, 10.38, 11.62, 11.31, 10.52,
]  # fmt: skip


def test_montgomery_example_9_1() -> None:
    cusum = CUSUM(target=10.0, sigma=1.0, k=0.5, h=5.0)
    positive_run = 0
    found = []
    for i, x in enumerate(MONTGOMERY_9_1):
        if cusum.update(x):
            found.append(i)
            break
        positive_run = positive_run + 1 if cusum.sums[0] > 0 else 0
    assert found == [28]  # period 29
    assert cusum.last_detection is not None
    assert round(cusum.last_detection.statistic, 2) == 5.28
    assert cusum.last_detection.direction == "up"
    assert positive_run + 1 == 7  # N+, the detecting period included


def run_lengths(shift: float, n: int, seed: int) -> list[int]:
    """Run lengths (values from a restart to the next detection) of CUSUM(target 0,
    sigma 1, k 1/2, h 5) on N(shift, 1): each detection restarts the sums at 0, so they are
    independent draws of the zero-start run length."""
    cusum = CUSUM(target=0.0, sigma=1.0)
    lengths = []
    for x in np.random.default_rng(seed).normal(shift, 1.0, n).tolist():
        if cusum.update(x):
            assert cusum.last_detection is not None
            lengths.append(cusum.last_detection.n_window)
    return lengths


@pytest.mark.parametrize(
    ("shift", "table_arl", "n", "tolerance"),
    [
        # In control: about 640 runs, standard error of the mean about 4%.
        (0.0, 465.0, 300_000, 0.15),
        (1.0, 10.4, 20_000, 0.05),
        (2.0, 4.01, 8_000, 0.05),
    ],
)
def test_average_run_length_matches_montgomery_table(
    shift: float, table_arl: float, n: int, tolerance: float
) -> None:
    lengths = run_lengths(shift, n, seed=7)
    assert len(lengths) > 300
    assert float(np.mean(lengths)) == pytest.approx(table_arl, rel=tolerance)


def test_target_and_sigma_estimated_from_the_warmup() -> None:
    rng = np.random.default_rng(3)
    warm = rng.normal(0.2, 0.05, 40)
    cusum = CUSUM(warmup=40)
    for x in warm[:-1]:
        assert not cusum.update(float(x))
        assert cusum.warming_up
        assert cusum.target_in_use is None
    # The warm-up is not monitored: a wild value there is no detection, just data.
    assert not cusum.update(float(warm[-1]))
    assert not cusum.warming_up
    assert cusum.target_in_use == pytest.approx(np.mean(warm), rel=1e-13)
    assert cusum.sigma_in_use == pytest.approx(np.std(warm, ddof=1), rel=1e-12)
    assert cusum.sums == (0.0, 0.0)


def test_an_estimated_target_is_learnt_again_after_a_detection() -> None:
    rng = np.random.default_rng(11)
    before, after = rng.normal(0.0, 1.0, 300).tolist(), rng.normal(5.0, 1.0, 500).tolist()
    estimated = CUSUM(warmup=100)
    for x in before:
        estimated.update(x)
    assert estimated.target_in_use == pytest.approx(0.0, abs=0.3)
    # The 5 sigma shift is detected within a few values; the detector then warms up again
    # and the new level becomes the reference.
    first = next(i for i, x in enumerate(after) if estimated.update(x))
    assert first < 5
    assert estimated.warming_up
    for x in after[first + 1 : first + 101]:
        estimated.update(x)
    assert estimated.target_in_use == pytest.approx(5.0, abs=0.3)
    # A given target is kept: the persisting shift is detected again every couple of values.
    given = CUSUM(target=0.0, sigma=1.0)
    again = [i for i, x in enumerate(before + after) if given.update(x)]
    assert len([i for i in again if i >= 300]) > 150


def test_min_sigma_floors_a_constant_warmup() -> None:
    # A missing rate that was 0 in every warm-up window: sigma estimates to 0, so K = H = 0
    # and the first non-zero window is a detection, unless min_sigma floors sigma.
    bare, floored = CUSUM(warmup=10), CUSUM(warmup=10, min_sigma=0.01)
    for _ in range(10):
        bare.update(0.0)
        floored.update(0.0)
    assert bare.sigma_in_use == 0.0
    assert floored.sigma_in_use == 0.01
    assert bare.update(0.001)
    assert not floored.update(0.001)
    assert bare.last_detection is not None
    assert bare.last_detection.threshold == 0.0


def test_overflowing_warmup_never_detects() -> None:
    cusum = CUSUM(warmup=3)
    for x in (1e308, -1e308, 1e308):
        cusum.update(x)
    assert cusum.sigma_in_use is not None
    assert math.isnan(cusum.sigma_in_use)
    assert not any(cusum.update(x) for x in (0.0, 1e300, -1e300))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sigma": 0.0}, "sigma must be finite and > 0, got 0.0"),
        ({"sigma": math.inf}, "sigma must be finite and > 0, got inf"),
        ({"target": math.nan}, "target must be finite, got nan"),
        ({"k": -0.5}, "k must be finite and >= 0, got -0.5"),
        ({"h": 0.0}, "h must be finite and > 0, got 0.0"),
        ({"warmup": 1}, "warmup must be >= 2 to estimate sigma, got 1"),
        ({"sigma": 1.0, "warmup": 0}, "warmup must be >= 1 to estimate the target, got 0"),
        ({"target": 0.0, "sigma": 1.0, "warmup": -1}, "warmup must be >= 0, got -1"),
        ({"warmup": 30.0}, "warmup must be an integer, got 30.0"),
        ({"min_sigma": -1.0}, "min_sigma must be finite and >= 0, got -1.0"),
    ],
)
def test_bad_parameters_are_named(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        CUSUM(**kwargs)  # type: ignore[arg-type]
