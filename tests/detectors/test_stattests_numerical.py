"""The numerical stat tests anderson, cramer_von_mises, mannw, t_test, epps_singleton and
empirical_mmd, and the shared KS distance: against scipy, against Evidently 0.7, and on
edge cases."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import detectors
from detectors.effect import ks_distance
from detectors.stattests.anderson import anderson
from detectors.stattests.cramer_von_mises import cramer_von_mises
from detectors.stattests.empirical_mmd import MAX_PER_SIDE, PERMUTATIONS, SEED, empirical_mmd
from detectors.stattests.epps_singleton import epps_singleton
from detectors.stattests.mannw import mannw
from detectors.stattests.t_test import t_test
from detectors.types import StatResult

# Evidently 0.7 warns at import (numpy.core is deprecated) and our pytest config makes
# warnings errors; the oracle's own warnings are not what is tested here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from evidently.legacy.calculations.stattests.anderson_darling_stattest import (
        anderson_darling_test as ev_anderson,
    )
    from evidently.legacy.calculations.stattests.cramer_von_mises_stattest import (
        cramer_von_mises as ev_cramer_von_mises,
    )
    from evidently.legacy.calculations.stattests.epps_singleton_stattest import (
        epps_singleton_test as ev_es,
    )
    from evidently.legacy.calculations.stattests.mann_whitney_urank_stattest import (
        mann_whitney_u_stat_test as ev_mannw,
    )
    from evidently.legacy.calculations.stattests.mmd_stattest import (
        empirical_mmd as ev_empirical_mmd,
    )
    from evidently.legacy.calculations.stattests.mmd_stattest import mmd_pval as ev_mmd_pval
    from evidently.legacy.calculations.stattests.t_test import t_test as ev_t_test
    from evidently.legacy.core import ColumnType

Arr = npt.NDArray[np.float64]
StatFn = Callable[[npt.NDArray[Any], npt.NDArray[Any]], StatResult]

NAMES = ["anderson", "cramer_von_mises", "mannw", "t_test", "epps_singleton", "empirical_mmd"]
FUNCTIONS: dict[str, StatFn] = {
    "anderson": anderson,
    "cramer_von_mises": cramer_von_mises,
    "mannw": mannw,
    "t_test": t_test,
    "epps_singleton": epps_singleton,
    "empirical_mmd": empirical_mmd,
}
NO_EVIDENCE = (0.0, 1.0, 0.0)


def _samples(seed: int, n_ref: int = 400, n_cur: int = 300, shift: float = 0.3) -> tuple[Arr, Arr]:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, n_ref), rng.normal(shift, 1.2, n_cur)


def _evidently_score(test: Any, ref: Arr, cur: Arr) -> float:
    with warnings.catch_warnings():
        # Evidently's anderson calls scipy without `variant` and warns about the p cap.
        warnings.simplefilter("ignore")
        res = test(pd.Series(ref), pd.Series(cur), ColumnType.Numerical, None)
    return float(res.drift_score)


def _triple(res: StatResult) -> tuple[float, float | None, float | None]:
    return (res.statistic, res.p_value, res.effect_size)


# --- ks_distance ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "cur"),
    [
        (np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.5])),
        (np.array([1.0, 1.0, 2.0, 2.0]), np.array([2.0, 2.0, 3.0])),
        (np.array([5.0]), np.array([5.0])),
        (np.array([0.0, 1.0]), np.array([2.0, 3.0, 4.0])),
    ],
)
def test_ks_distance_equals_scipy_on_small_cases(ref: Arr, cur: Arr) -> None:
    assert ks_distance(ref, cur) == pytest.approx(
        stats.ks_2samp(ref, cur).statistic, rel=1e-12, abs=1e-15
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ks_distance_equals_scipy_on_continuous_and_tied_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=3000)
    cur = rng.normal(0.1, 1.3, 2100)
    assert ks_distance(ref, cur) == pytest.approx(stats.ks_2samp(ref, cur).statistic, rel=1e-12)
    ref_int = rng.integers(0, 7, 1000).astype(float)
    cur_int = rng.integers(1, 8, 700).astype(float)
    assert ks_distance(ref_int, cur_int) == pytest.approx(
        stats.ks_2samp(ref_int, cur_int).statistic, rel=1e-12
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-5, 5).map(float), min_size=1, max_size=30),
    st.lists(st.floats(-6, 6, allow_nan=False, allow_infinity=False), min_size=1, max_size=30),
)
def test_ks_distance_property(ref: list[float], cur: list[float]) -> None:
    r, c = np.array(ref), np.array(cur)
    assert ks_distance(r, c) == pytest.approx(stats.ks_2samp(r, c).statistic, abs=1e-12)


def test_ks_distance_empty_side_is_zero_and_inputs_untouched() -> None:
    ref = np.array([3.0, 1.0, 2.0])
    before = ref.copy()
    assert ks_distance(ref, np.array([])) == 0.0
    assert ks_distance(np.array([]), ref) == 0.0
    assert ks_distance(ref, np.array([0.0, 9.0])) == pytest.approx(0.5)  # at x = 0 and 3
    np.testing.assert_array_equal(ref, before)


# --- each test against scipy -----------------------------------------------------------


def test_anderson_equals_scipy() -> None:
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(size=400), rng.normal(0.15, 1.0, 300)
    expected = stats.anderson_ksamp([ref, cur], variant="midrank")
    res = anderson(ref, cur)
    assert res.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert 0.001 < res.p_value < 0.25  # interpolated, not capped
    assert res.effect_size == pytest.approx(stats.ks_2samp(ref, cur).statistic, rel=1e-12)


def test_anderson_p_value_is_capped_to_scipy_range_without_warning() -> None:
    rng = np.random.default_rng(11)
    ref = rng.normal(size=500)
    same = anderson(ref, ref.copy())
    far = anderson(ref, ref + 5.0)
    assert same.p_value == 0.25
    assert far.p_value == 0.001
    assert not detectors.stattest("anderson").drifted(same)
    assert detectors.stattest("anderson").drifted(far)


def test_cramer_von_mises_equals_scipy() -> None:
    for n_ref, n_cur in [(400, 300), (12, 9)]:  # asymptotic and exact p-value branches
        ref, cur = _samples(20, n_ref, n_cur)
        expected = stats.cramervonmises_2samp(ref, cur)
        res = cramer_von_mises(ref, cur)
        assert res.statistic == pytest.approx(expected.statistic, rel=1e-12)
        assert res.p_value == pytest.approx(expected.pvalue, rel=1e-12)
        assert res.effect_size == pytest.approx(stats.ks_2samp(ref, cur).statistic, rel=1e-12)


def test_mannw_equals_scipy_two_sided() -> None:
    ref, cur = _samples(30)
    expected = stats.mannwhitneyu(ref, cur, alternative="two-sided")
    res = mannw(ref, cur)
    assert res.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    u = float(expected.statistic)
    assert res.effect_size == pytest.approx(abs(1 - 2 * u / (ref.size * cur.size)), rel=1e-12)
    # Rank-biserial correlation = P(ref < cur) - P(ref > cur) over all pairs.
    below = (ref[:, None] < cur[None, :]).mean()
    above = (ref[:, None] > cur[None, :]).mean()
    assert res.effect_size == pytest.approx(abs(below - above), rel=1e-12)


def test_mannw_effect_is_one_for_disjoint_samples() -> None:
    res = mannw(np.arange(10.0), np.arange(20.0, 30.0))
    assert res.effect_size == 1.0
    assert res.statistic == 0.0


def test_t_test_equals_scipy_welch() -> None:
    ref, cur = _samples(40)
    expected = stats.ttest_ind(ref, cur, equal_var=False)
    res = t_test(ref, cur)
    assert res.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    d = abs(ref.mean() - cur.mean()) / math.sqrt((ref.var(ddof=1) + cur.var(ddof=1)) / 2)
    assert res.effect_size == pytest.approx(d, rel=1e-12)


def test_epps_singleton_equals_scipy() -> None:
    for n_ref, n_cur in [(400, 300), (12, 9)]:  # with and without the small-sample correction
        ref, cur = _samples(50, n_ref, n_cur)
        expected = stats.epps_singleton_2samp(ref, cur)
        res = epps_singleton(ref, cur)
        assert res.statistic == pytest.approx(expected.statistic, rel=1e-12)
        assert res.p_value == pytest.approx(expected.pvalue, rel=1e-12)
        assert res.effect_size == pytest.approx(stats.ks_2samp(ref, cur).statistic, rel=1e-12)


# --- against Evidently 0.7 -----------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_anderson_equals_evidently(seed: int) -> None:
    # Seed 0 gives the 0.25 cap, an interpolated p-value and the 0.001 floor.
    for shift in (0.0, 0.12, 1.0):
        ref, cur = _samples(seed, 300, 250, shift)
        assert anderson(ref, cur).p_value == pytest.approx(
            _evidently_score(ev_anderson, ref, cur), rel=1e-6
        )


@pytest.mark.parametrize(("n_ref", "n_cur"), [(300, 250), (15, 12), (8, 20)])
def test_cramer_von_mises_equals_evidently(n_ref: int, n_cur: int) -> None:
    ref, cur = _samples(60, n_ref, n_cur, shift=0.4)
    # Evidently's own copy of scipy's code: identical above 20 values a side, about 1e-10
    # apart in the exact branch.
    assert cramer_von_mises(ref, cur).p_value == pytest.approx(
        _evidently_score(ev_cramer_von_mises, ref, cur), rel=1e-6
    )


def test_mannw_differs_from_evidently_which_is_one_sided() -> None:
    ref, cur = _samples(70, shift=-0.3)  # current moves DOWN
    ev = _evidently_score(ev_mannw, ref, cur)
    assert ev == pytest.approx(stats.mannwhitneyu(ref, cur, alternative="less").pvalue, rel=1e-12)
    ours = mannw(ref, cur)
    assert ours.p_value == pytest.approx(
        stats.mannwhitneyu(ref, cur, alternative="two-sided").pvalue, rel=1e-12
    )
    # Evidently sees no drift in a drop; the two-sided test does.
    assert ev > 0.99
    assert detectors.stattest("mannw").drifted(ours)


def test_t_test_differs_from_evidently_which_is_student() -> None:
    ref, cur = _samples(80, 1000, 100, shift=0.15)
    cur = cur * 2.5  # unequal variances and sizes: where Student and Welch disagree
    ev = _evidently_score(ev_t_test, ref, cur)
    assert ev == pytest.approx(stats.ttest_ind(ref, cur, equal_var=True).pvalue, rel=1e-12)
    ours = t_test(ref, cur).p_value
    assert ours == pytest.approx(stats.ttest_ind(ref, cur, equal_var=False).pvalue, rel=1e-12)
    assert ours != pytest.approx(ev, rel=0.05)


@pytest.mark.parametrize(("n_ref", "n_cur"), [(300, 250), (10, 7)])
def test_epps_singleton_equals_evidently_es(n_ref: int, n_cur: int) -> None:
    ref, cur = _samples(90, n_ref, n_cur, shift=0.4)
    assert epps_singleton(ref, cur).p_value == pytest.approx(
        _evidently_score(ev_es, ref, cur), rel=1e-6
    )


def test_epps_singleton_zero_iqr_raises_like_evidently() -> None:
    ref = np.array([1.0] * 20 + [2.0, 3.0])
    cur = np.array([1.0] * 15 + [4.0])
    with pytest.raises(ValueError, match="interquartile"):
        _evidently_score(ev_es, ref, cur)
    with pytest.raises(ValueError, match=r"epps_singleton.*interquartile.*'ks'"):
        epps_singleton(ref, cur)


def test_empirical_mmd_statistic_equals_evidently() -> None:
    ref, cur = _samples(100, 300, 200, shift=0.2)
    _, ev_mmd = ev_mmd_pval(ref.reshape(-1, 1), cur.reshape(-1, 1))
    assert empirical_mmd(ref, cur).statistic == pytest.approx(float(ev_mmd), abs=1e-9)


def test_empirical_mmd_clear_shift_p_equals_evidently() -> None:
    ref, cur = _samples(101, 300, 200, shift=1.5)
    # Evidently's RNG is unseeded, but no permutation comes near a shift this large.
    assert _evidently_score(ev_empirical_mmd, ref, cur) == 0.0
    assert empirical_mmd(ref, cur).p_value == 0.0


# --- empirical_mmd ---------------------------------------------------------------------------


def _direct_mmd2(x: Arr, y: Arr, sigma_sq: float) -> float:
    kxx = np.exp(-((x[:, None] - x[None, :]) ** 2) / (2 * sigma_sq))
    kyy = np.exp(-((y[:, None] - y[None, :]) ** 2) / (2 * sigma_sq))
    kxy = np.exp(-((x[:, None] - y[None, :]) ** 2) / (2 * sigma_sq))
    m, n = x.size, y.size
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def _median_sigma_sq(x: Arr) -> float:
    s = 0.5 * float(np.percentile((x[:, None] - x[None, :]) ** 2, 50, method="nearest"))
    return s if s > 0 else 0.5


def test_empirical_mmd_statistic_equals_the_formula() -> None:
    x, y = _samples(110, 250, 180, shift=0.3)
    res = empirical_mmd(x, y)
    assert res.statistic == pytest.approx(_direct_mmd2(x, y, _median_sigma_sq(x)), rel=1e-9)
    assert res.effect_size == pytest.approx(stats.ks_2samp(x, y).statistic, rel=1e-12)


def test_empirical_mmd_p_value_equals_a_direct_permutation_loop() -> None:
    # Pins the random stream: seed-0 Generator, one row-wise shuffle of the 0/1 labels per
    # permutation (no subsampling at this size). Checks the one-matrix-product shortcut.
    x, y = _samples(111, 60, 45, shift=0.25)
    sigma_sq = _median_sigma_sq(x)
    pooled = np.concatenate([x, y])
    labels = np.concatenate([np.ones(x.size), np.zeros(y.size)])
    rng = np.random.default_rng(SEED)
    perms = rng.permuted(np.tile(labels, (PERMUTATIONS, 1)), axis=1)
    observed = _direct_mmd2(x, y, sigma_sq)
    permuted = np.array([_direct_mmd2(pooled[p == 1], pooled[p == 0], sigma_sq) for p in perms])
    res = empirical_mmd(x, y)
    assert res.statistic == pytest.approx(observed, rel=1e-9)
    assert res.p_value == pytest.approx(float(np.mean(permuted >= observed - 1e-12)), abs=1e-12)
    assert 0.0 < res.p_value < 1.0


def test_empirical_mmd_constant_identical_data_uses_fallback_width() -> None:
    res = empirical_mmd(np.full(30, 4.0), np.full(20, 4.0))
    assert res.statistic == pytest.approx(0.0, abs=1e-12)
    assert res.p_value == 1.0
    assert res.effect_size == 0.0


def test_empirical_mmd_detects_a_clear_shift() -> None:
    ref, cur = _samples(120, 500, 500, shift=0.8)
    res = empirical_mmd(ref, cur)
    assert res.p_value is not None
    assert res.p_value < 0.05


def test_empirical_mmd_identical_distributions_rarely_drift() -> None:
    p_values = []
    for seed in range(20):
        rng = np.random.default_rng(1000 + seed)
        res = empirical_mmd(rng.normal(size=300), rng.normal(size=300))
        assert res.p_value is not None
        p_values.append(res.p_value)
    assert sum(p > 0.1 for p in p_values) >= 16
    assert float(np.median(p_values)) > 0.3


def test_empirical_mmd_is_reproducible_and_bounded_at_large_n() -> None:
    rng = np.random.default_rng(130)
    ref = rng.normal(size=200_000)
    cur = rng.normal(0.5, 1.0, 150_000)
    first = empirical_mmd(ref, cur)
    second = empirical_mmd(ref.copy(), cur.copy())
    assert first == second
    assert first.p_value == 0.0
    # The effect size is computed on all values, not the subsample.
    assert first.effect_size == pytest.approx(stats.ks_2samp(ref, cur).statistic, rel=1e-12)
    assert ref.size > 2 * MAX_PER_SIDE


def test_empirical_mmd_same_seed_same_result_small_n() -> None:
    ref, cur = _samples(140, 200, 150, shift=0.1)
    assert empirical_mmd(ref, cur) == empirical_mmd(ref, cur)


# --- shared behaviour of all six --------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_registered_metadata(name: str) -> None:
    test = detectors.stattest(name)
    expected = {
        "anderson": (0.1, 0.1),
        "cramer_von_mises": (0.1, 0.1),
        "mannw": (0.05, 0.05),
        "t_test": (0.05, 0.1),
        "epps_singleton": (0.05, 0.1),
        "empirical_mmd": (0.1, 0.1),
    }[name]
    assert test.kinds == frozenset({"numerical"})
    assert test.decision == "p_value"
    assert (test.default_threshold, test.default_min_effect) == expected
    assert test.fn is FUNCTIONS[name]


@pytest.mark.parametrize("name", NAMES)
def test_identical_samples_do_not_drift(name: str) -> None:
    ref, _ = _samples(150, 400, 1)
    test = detectors.stattest(name)
    res = test(ref, ref.copy())
    assert res.p_value is not None
    assert res.p_value > 0.2
    assert not test.drifted(res)
    assert res.effect_size is not None
    assert res.effect_size < test.default_min_effect


@pytest.mark.parametrize("name", NAMES)
def test_clear_shift_drifts_at_defaults(name: str) -> None:
    ref, cur = _samples(160, 500, 400, shift=0.8)
    test = detectors.stattest(name)
    res = test(ref, cur)
    assert test.drifted(res)
    assert res.effect_size is not None
    assert res.effect_size >= test.default_min_effect


@pytest.mark.parametrize("name", NAMES)
def test_non_finite_values_are_dropped(name: str) -> None:
    ref, cur = _samples(170, 300, 200)
    dirty_ref = np.concatenate([ref[:100], [np.nan, np.inf], ref[100:], [-np.inf]])
    dirty_cur = np.concatenate([[np.nan] * 40, cur, [np.inf]])
    fn = FUNCTIONS[name]
    assert fn(dirty_ref, dirty_cur) == fn(ref, cur)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("ref", "cur"),
    [
        (np.array([np.nan, np.nan]), np.arange(10.0)),
        (np.arange(10.0), np.array([np.nan, np.inf, -np.inf])),
        (np.array([]), np.arange(10.0)),
        (np.arange(10.0), np.array([])),
        (np.array([]), np.array([])),
    ],
)
def test_no_finite_value_on_a_side_is_no_evidence(name: str, ref: Arr, cur: Arr) -> None:
    assert _triple(FUNCTIONS[name](ref, cur)) == NO_EVIDENCE


@pytest.mark.parametrize("name", NAMES)
def test_inputs_are_not_modified(name: str) -> None:
    ref, cur = _samples(180, 1500, 1200)  # above MAX_PER_SIDE: the subsampling path too
    ref[::7] = np.nan
    cur[::11] = np.inf
    ref_before, cur_before = ref.copy(), cur.copy()
    FUNCTIONS[name](ref, cur)
    np.testing.assert_array_equal(ref, ref_before)
    np.testing.assert_array_equal(cur, cur_before)


@pytest.mark.parametrize("name", NAMES)
def test_registry_call_with_inferred_and_given_kind(name: str) -> None:
    ref, cur = _samples(190, 200, 150)
    expected = FUNCTIONS[name](ref, cur)
    test = detectors.stattest(name)
    assert test(ref.tolist(), cur.tolist()) == expected
    assert test(ref, cur, kind="numerical") == expected
    # JSON-style lists with nulls: None becomes NaN and is dropped.
    assert test([*ref.tolist(), None], [None, *cur.tolist()]) == expected
    with pytest.raises(ValueError, match="does not support kind 'categorical'"):
        test(ref, cur, kind="categorical")


def _epps_refuses(ref: Arr, cur: Arr) -> bool:
    same_constant = ref.min() == ref.max() == cur.min() == cur.max()
    too_small = min(ref.size, cur.size) < 5
    return not same_constant and (too_small or stats.iqr(np.concatenate([ref, cur])) == 0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n_ref", [1, 2, 3, 5])
@pytest.mark.parametrize("n_cur", [1, 2, 4, 6])
@pytest.mark.parametrize("values", ["distinct", "tied", "constant"])
def test_tiny_samples_give_a_defined_result(name: str, n_ref: int, n_cur: int, values: str) -> None:
    """Small or degenerate columns never give NaN (only epps_singleton may refuse)."""
    rng = np.random.default_rng(n_ref * 10 + n_cur)
    if values == "distinct":
        ref, cur = rng.normal(size=n_ref), rng.normal(size=n_cur)
    elif values == "tied":
        ref, cur = rng.integers(0, 2, n_ref).astype(float), rng.integers(0, 2, n_cur) + 0.0
    else:
        ref, cur = np.full(n_ref, 3.0), np.full(n_cur, 3.0)
    fn = FUNCTIONS[name]
    if name == "epps_singleton" and _epps_refuses(ref, cur):
        with pytest.raises(ValueError, match="epps_singleton"):
            fn(ref, cur)
        return
    with warnings.catch_warnings():
        # scipy's rank warning for epps_singleton on two-valued data is scipy's to give.
        warnings.filterwarnings("ignore", message="Estimated covariance matrix")
        res = fn(ref, cur)
    if name == "t_test" and math.isinf(res.statistic):
        # Two different constants: scipy's t is infinite, and so is Cohen's d.
        assert ref.min() == ref.max() != cur.min() == cur.max()
        assert (res.p_value, res.effect_size) == (0.0, math.inf)
        return
    assert math.isfinite(res.statistic)
    assert res.p_value is not None
    assert 0.0 <= res.p_value <= 1.0
    assert res.effect_size is not None
    assert math.isfinite(res.effect_size)
    assert res.effect_size >= 0.0
    if values == "constant":
        assert res.p_value == 1.0
        assert res.effect_size == 0.0


# --- per-test edge cases --------------------------------------------------------------------------


def test_anderson_degenerate_inputs_are_no_evidence() -> None:
    # A single distinct pooled value (scipy refuses) and fewer than 4 values in all.
    assert _triple(anderson(np.full(5, 2.0), np.full(3, 2.0))) == NO_EVIDENCE
    assert _triple(anderson(np.array([1.0, 2.0]), np.array([3.0]))) == NO_EVIDENCE
    res = anderson(np.array([1.0]), np.array([2.0, 3.0, 4.0]))
    assert res.p_value == pytest.approx(
        stats.anderson_ksamp([np.array([1.0]), np.array([2.0, 3.0, 4.0])], variant="midrank").pvalue
    )


def test_cramer_von_mises_one_constant_on_both_sides_is_no_evidence() -> None:
    ref, cur = np.full(10, 3.0), np.full(100, 3.0)
    assert stats.cramervonmises_2samp(ref, cur).pvalue < 1e-6  # scipy: spurious drift
    assert _evidently_score(ev_cramer_von_mises, ref, cur) < 1e-6  # Evidently too
    assert _triple(cramer_von_mises(ref, cur)) == NO_EVIDENCE


def test_cramer_von_mises_needs_two_values_a_side() -> None:
    assert _triple(cramer_von_mises(np.array([1.0]), np.arange(10.0))) == NO_EVIDENCE
    assert cramer_von_mises(np.array([1.0, 2.0]), np.arange(10.0)).p_value is not None


def test_t_test_constant_sides() -> None:
    assert _triple(t_test(np.full(4, 2.0), np.full(6, 2.0))) == NO_EVIDENCE
    # The mean of 3 copies of 0.1 is not 0.1 in floating point; still no evidence.
    assert np.mean(np.full(3, 0.1)) != np.mean(np.full(2, 0.1))
    assert _triple(t_test(np.full(3, 0.1), np.full(2, 0.1))) == NO_EVIDENCE
    res = t_test(np.full(4, 2.0), np.full(6, 5.0))
    assert (res.statistic, res.p_value, res.effect_size) == (-math.inf, 0.0, math.inf)
    # One constant side: scipy's answer, without scipy's "precision loss" warning (the
    # pytest config makes warnings errors).
    rng = np.random.default_rng(200)
    ref, cur = np.full(30, 5.5), rng.normal(5.0, 1.0, 50)
    res = t_test(ref, cur)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Precision loss", category=RuntimeWarning)
        expected = stats.ttest_ind(ref, cur, equal_var=False)
    assert res.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_t_test_needs_two_values_a_side() -> None:
    assert _triple(t_test(np.array([1.0, np.nan]), np.arange(10.0))) == NO_EVIDENCE


def test_epps_singleton_small_samples_raise_with_sizes() -> None:
    with pytest.raises(ValueError, match=r"epps_singleton.*at least 5.*got 4 .*and 9"):
        epps_singleton(np.arange(4.0), np.arange(9.0))


def test_epps_singleton_identical_constants_are_no_evidence() -> None:
    assert _triple(epps_singleton(np.full(3, 7.0), np.full(8, 7.0))) == NO_EVIDENCE
    with pytest.raises(ValueError, match="interquartile"):
        epps_singleton(np.full(6, 7.0), np.full(20, 8.0))


def test_empirical_mmd_needs_two_values_a_side() -> None:
    assert _triple(empirical_mmd(np.array([1.0]), np.arange(10.0))) == NO_EVIDENCE


def test_ks_falls_back_to_scipys_asymptotic_p_value_without_a_warning() -> None:
    # Heavily tied counts where scipy's exact p-value fails and it warns, then falls back.
    rng = np.random.default_rng(30)
    ref, cur = rng.poisson(0.5, 1000).astype(float), rng.poisson(0.5, 1000).astype(float)
    with pytest.warns(RuntimeWarning, match="Exact calculation unsuccessful"):
        expected = stats.ks_2samp(ref, cur)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = detectors.stattest("ks")(ref, cur)
    assert (got.statistic, got.p_value) == (expected.statistic, expected.pvalue)
