"""The distance stat tests (wasserstein, psi, kl_div, jensenshannon, hellinger, energy) and
detectors.binning: against scipy, against Evidently 0.7's functions of the same name, and
their missing-value and edge-case rules."""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

import detectors
from detectors.binning import (
    MAX_VALUE_BINS,
    Bins,
    binned_counts,
    evidently_bins,
    fill_zero_shares,
    shares,
    sturges_edges,
    value_bin_counts,
)
from detectors.stattests import jensenshannon as js_module
from detectors.stattests import kl_div as kl_module
from detectors.stattests.chisquare import MISSING
from detectors.types import StatResult

# Evidently 0.7 touches numpy.core on import (deprecated in numpy 2) and our pytest config
# makes warnings errors; the oracle's import warnings are not what is tested here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from evidently.legacy.calculations.stattests.energy_distance import energy_dist_test
    from evidently.legacy.calculations.stattests.hellinger_distance import hellinger_stat_test
    from evidently.legacy.calculations.stattests.jensenshannon import jensenshannon_stat_test
    from evidently.legacy.calculations.stattests.kl_div import kl_div_stat_test
    from evidently.legacy.calculations.stattests.psi import psi_stat_test
    from evidently.legacy.calculations.stattests.wasserstein_distance_norm import (
        wasserstein_stat_test,
    )
    from evidently.legacy.core import ColumnType

NUMERICAL = ["wasserstein", "psi", "kl_div", "jensenshannon", "hellinger", "energy"]
BOTH_KINDS = ["psi", "kl_div", "jensenshannon", "hellinger"]
# Our name -> Evidently 0.7's StatTest of the same definition ("ed" for energy).
EVIDENTLY: dict[str, Any] = {
    "wasserstein": wasserstein_stat_test,
    "psi": psi_stat_test,
    "kl_div": kl_div_stat_test,
    "jensenshannon": jensenshannon_stat_test,
    "hellinger": hellinger_stat_test,
    "energy": energy_dist_test,
}
NO_EVIDENCE = (0.0, None, 0.0)


def run(name: str, ref: npt.ArrayLike, cur: npt.ArrayLike) -> StatResult:
    """The registered test's function on already-converted arrays (as the registry calls it)."""
    fn = detectors.stattest(name).fn
    return fn(np.asarray(ref), np.asarray(cur))


def triple(res: StatResult) -> tuple[float, float | None, float | None]:
    return (res.statistic, res.p_value, res.effect_size)


def evidently_score(name: str, ref: npt.ArrayLike, cur: npt.ArrayLike, kind: str) -> float:
    """Evidently 0.7's drift score of the same-named test (on copies: hellinger drops NaN
    from its inputs in place)."""
    column_type = ColumnType.Numerical if kind == "numerical" else ColumnType.Categorical
    ref_s = pd.Series(np.array(ref, copy=True))
    cur_s = pd.Series(np.array(cur, copy=True))
    return float(EVIDENTLY[name](ref_s, cur_s, column_type, None).drift_score)


def _normal(seed: int, n_ref: int, n_cur: int, shift: float) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, n_ref), rng.normal(shift, 1.2, n_cur)


def _few_values(seed: int) -> tuple[Any, Any]:
    # 10 distinct reference values (value bins); current has two values the reference lacks
    # and lacks one it has, so both zero-fill sides are exercised.
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 10, 700).astype(np.float64)
    cur = rng.integers(1, 12, 400).astype(np.float64)
    return ref, cur


def _rare_values(seed: int) -> tuple[Any, Any]:
    # One reference value seen once in 20 000 rows: its share 5e-5 <= 1e-4 switches the zero
    # fill to min_nonzero / 1e6.
    rng = np.random.default_rng(seed)
    ref = np.concatenate([rng.integers(0, 5, 19_999).astype(np.float64), [7.0]])
    cur = rng.integers(0, 6, 3000).astype(np.float64)
    return ref, cur


NUMERICAL_CASES: dict[str, Callable[[], tuple[Any, Any]]] = {
    "continuous-shifted": lambda: _normal(11, 1500, 900, 0.3),
    "continuous-same": lambda: _normal(12, 800, 800, 0.0),
    "few-values": lambda: _few_values(13),
    "rare-values": lambda: _rare_values(14),
    "exactly-20-ref-values": lambda: (
        np.arange(20.0).repeat(5),
        np.arange(3.0, 25.0).repeat(4),
    ),
    "21-ref-values": lambda: (np.arange(21.0).repeat(5), np.arange(3.0, 25.0).repeat(4)),
    # hellinger's sqrt(1 - BC) shows BC's last bit: equal only when summed in Evidently's order.
    "identical": lambda: (_normal(15, 3000, 1, 0.0)[0], _normal(15, 3000, 1, 0.0)[0]),
    "constant-reference": lambda: (np.full(50, 2.0), np.linspace(0.0, 4.0, 40)),
}


def _categories(seed: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    ref = rng.choice(np.array(["a", "b", "c", "d"], dtype=object), 1200, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(np.array(["b", "c", "d", "e"], dtype=object), 800, p=[0.1, 0.3, 0.4, 0.2])
    return ref, cur


CATEGORICAL_CASES: dict[str, Callable[[], tuple[Any, Any]]] = {
    "strings-shifted": lambda: _categories(21),
    "strings-same": lambda: (
        np.array(["x", "y", "y", "z"] * 50, dtype=object),
        np.array(["z", "y", "x", "y"] * 30, dtype=object),
    ),
    "rare-category": lambda: (
        np.array(["a"] * 19_999 + ["b"], dtype=object),
        np.array(["a"] * 900 + ["c"] * 100, dtype=object),
    ),
}


# --- against Evidently 0.7 --------------------------------------------------------------


@pytest.mark.parametrize("case", NUMERICAL_CASES)
@pytest.mark.parametrize("name", NUMERICAL)
def test_numerical_equals_evidently(name: str, case: str) -> None:
    ref, cur = NUMERICAL_CASES[case]()
    res = run(name, ref, cur)
    assert res.statistic == pytest.approx(evidently_score(name, ref, cur, "numerical"), abs=1e-9)
    assert res.p_value is None
    assert res.effect_size == res.statistic


@pytest.mark.parametrize("case", CATEGORICAL_CASES)
@pytest.mark.parametrize("name", BOTH_KINDS)
def test_categorical_equals_evidently(name: str, case: str) -> None:
    ref, cur = CATEGORICAL_CASES[case]()
    res = run(name, ref, cur)
    assert res.statistic == pytest.approx(evidently_score(name, ref, cur, "categorical"), abs=1e-9)
    assert res.effect_size == res.statistic


@pytest.mark.parametrize("name", BOTH_KINDS)
def test_categorical_integers_equal_evidently(name: str) -> None:
    # Categories compared as strings here, by value in Evidently: the same bins.
    rng = np.random.default_rng(31)
    ref = rng.integers(0, 6, 500)
    cur = rng.integers(2, 8, 300)
    res = run(name, ref.astype(object), cur.astype(object))
    assert res.statistic == pytest.approx(evidently_score(name, ref, cur, "categorical"), abs=1e-9)


@pytest.mark.parametrize("name", BOTH_KINDS)
def test_missing_category_equals_evidently_with_a_label(name: str) -> None:
    # Evidently drops missing values; with them spelled as an ordinary label it agrees with ours.
    ref = np.array(["a"] * 60 + [None] * 20 + ["b"] * 20, dtype=object)
    cur = np.array(["a"] * 30 + [None] * 50 + [np.nan] * 10 + ["b"] * 10, dtype=object)
    labelled_ref = np.where(pd.isna(ref), MISSING, ref)
    labelled_cur = np.where(pd.isna(cur), MISSING, cur)
    expected = evidently_score(name, labelled_ref, labelled_cur, "categorical")
    assert run(name, ref, cur).statistic == pytest.approx(expected, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    ref=st.lists(st.integers(-3, 30), min_size=1, max_size=80),
    cur=st.lists(st.integers(-3, 30), min_size=1, max_size=80),
)
def test_integer_valued_columns_equal_evidently(ref: list[int], cur: list[int]) -> None:
    # Small integer ranges cross the 20-distinct-values line between the two binnings.
    ref_a = np.asarray(ref, dtype=np.float64)
    cur_a = np.asarray(cur, dtype=np.float64)
    for name in NUMERICAL:
        expected = evidently_score(name, ref_a, cur_a, "numerical")
        got = run(name, ref_a, cur_a).statistic
        if name == "jensenshannon" and math.isnan(expected):
            assert got == 0.0  # scipy's sqrt of rounding noise below zero
        else:
            assert got == pytest.approx(expected, abs=1e-9), name


# --- against scipy and hand computations -----------------------------------------------


def test_wasserstein_equals_scipy_over_reference_std() -> None:
    ref, cur = _normal(41, 700, 500, 0.4)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert run("wasserstein", ref, cur).statistic == pytest.approx(expected, rel=1e-12)


def test_wasserstein_floors_the_norm_for_a_constant_reference() -> None:
    ref = np.full(10, 3.0)
    cur = np.array([3.0, 3.002])
    expected = stats.wasserstein_distance(ref, cur) / 0.001
    assert run("wasserstein", ref, cur).statistic == pytest.approx(expected, rel=1e-12)


def test_energy_equals_scipy() -> None:
    ref, cur = _normal(42, 600, 450, 0.2)
    expected = stats.energy_distance(ref, cur)
    assert run("energy", ref, cur).statistic == pytest.approx(expected, rel=1e-12)


def _histogram_shares(ref: Any, cur: Any) -> tuple[Any, Any]:
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    return np.histogram(ref, edges)[0] / ref.size, np.histogram(cur, edges)[0] / cur.size


def test_psi_kl_js_equal_scipy_on_sturges_histograms() -> None:
    ref, cur = _normal(43, 2000, 1000, 0.5)
    r, c = _histogram_shares(ref, cur)
    fr, fc = fill_zero_shares(r), fill_zero_shares(c)
    assert run("psi", ref, cur).statistic == pytest.approx(
        float(np.sum((fr - fc) * np.log(fr / fc))), rel=1e-12
    )
    assert run("kl_div", ref, cur).statistic == pytest.approx(stats.entropy(fr, fc), rel=1e-12)
    assert run("jensenshannon", ref, cur).statistic == pytest.approx(
        distance.jensenshannon(r, c), rel=1e-12
    )


def test_psi_by_hand_on_categories() -> None:
    # Shares a: .5/.25, b: .5/.25, c: 0/.5; the reference's empty "c" is filled with 1e-4.
    ref = np.array(["a", "b"] * 4, dtype=object)
    cur = np.array(["a", "b", "c", "c"], dtype=object)
    expected = 2 * (0.25 * math.log(2.0)) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert run("psi", ref, cur).statistic == pytest.approx(expected, rel=1e-12)


def test_hellinger_by_hand_on_categories() -> None:
    ref = np.array(["a", "a", "b", "b"], dtype=object)
    cur = np.array(["a", "c", "c", "c"], dtype=object)
    expected = math.sqrt(1.0 - math.sqrt(0.5 * 0.25))
    assert run("hellinger", ref, cur).statistic == pytest.approx(expected, rel=1e-12)


def test_hellinger_numerical_builds_edges_on_distinct_values() -> None:
    # 1000 rows but 4 distinct values: Sturges of 4 values (3 bins), not of 1000 rows.
    ref = np.repeat([0.0, 1.0, 2.0], [500, 300, 200])
    cur = np.repeat([0.0, 3.0], [100, 900])
    edges = np.histogram_bin_edges([0.0, 1.0, 2.0, 3.0], bins="sturges")
    h1 = np.histogram(ref, edges, density=True)[0]
    h2 = np.histogram(cur, edges, density=True)[0]
    width = (edges[-1] - edges[0]) / (edges.size - 1)
    expected = math.sqrt(1.0 - min(float(np.sum(np.sqrt(h1 * h2))) * width, 1.0))
    assert run("hellinger", ref, cur).statistic == pytest.approx(expected, rel=1e-12)


# --- verdicts ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NUMERICAL)
def test_identical_numerical_samples_are_not_drift(name: str) -> None:
    ref, _ = _normal(51, 3000, 10, 0.0)
    res = run(name, ref, ref.copy())
    # hellinger is sqrt(1 - BC): the rounding of BC near 1 (1e-16) shows as 1e-8 (so in Evidently).
    assert res.statistic == pytest.approx(0.0, abs=1e-7 if name == "hellinger" else 1e-12)
    assert not detectors.stattest(name).drifted(res)


@pytest.mark.parametrize("name", BOTH_KINDS)
def test_identical_categorical_samples_are_not_drift(name: str) -> None:
    ref, _ = _categories(52)
    res = run(name, ref, ref[::-1].copy())
    assert res.statistic == pytest.approx(0.0, abs=1e-12)
    assert not detectors.stattest(name).drifted(res)


@pytest.mark.parametrize("name", NUMERICAL)
def test_clear_numerical_shift_is_drift(name: str) -> None:
    ref, cur = _normal(53, 3000, 3000, 1.0)
    assert detectors.stattest(name).drifted(run(name, ref, cur))


@pytest.mark.parametrize("name", BOTH_KINDS)
def test_clear_categorical_shift_is_drift(name: str) -> None:
    ref, cur = _categories(54)
    assert detectors.stattest(name).drifted(run(name, ref, cur))


@pytest.mark.parametrize("name", BOTH_KINDS)
def test_null_rate_jump_is_categorical_drift(name: str) -> None:
    ref = np.array(["x"] * 900 + [None] * 100, dtype=object)
    cur = np.array(["x"] * 500 + [None] * 300 + [np.nan] * 200, dtype=object)
    assert detectors.stattest(name).drifted(run(name, ref, cur))


def test_energy_drifts_at_exactly_its_threshold() -> None:
    # Evidently's "ed" uses a strict >; ours is >= like every other distance.
    test = detectors.stattest("energy")
    assert test.drifted(StatResult(statistic=0.1, p_value=None, effect_size=0.1))


@pytest.mark.parametrize("name", NUMERICAL)
def test_registration(name: str) -> None:
    test = detectors.stattest(name)
    assert test.decision == "distance"
    assert test.default_threshold == 0.1
    assert test.default_min_effect == 0.1
    expected = {"numerical", "categorical"} if name in BOTH_KINDS else {"numerical"}
    assert test.kinds == expected


# --- missing values and edge cases -------------------------------------------------------


@pytest.mark.parametrize("name", NUMERICAL)
def test_nan_and_inf_give_the_result_on_finite_values(name: str) -> None:
    ref, cur = _normal(61, 500, 400, 0.3)
    dirty_ref = np.concatenate([ref[:100], [np.nan, np.inf], ref[100:], [-np.inf]])
    dirty_cur = np.concatenate([[np.nan] * 30, cur, [np.inf]])
    assert triple(run(name, dirty_ref, dirty_cur)) == triple(run(name, ref, cur))


@pytest.mark.parametrize("name", NUMERICAL)
@pytest.mark.parametrize(
    ("ref", "cur"),
    [
        ([1.0, 2.0, 3.0], [np.nan, np.inf]),
        ([np.nan], [1.0, 2.0]),
        ([], [1.0, 2.0]),
        ([1.0, 2.0], []),
        ([], []),
    ],
)
def test_numerical_without_finite_values_is_no_evidence(
    name: str, ref: list[float], cur: list[float]
) -> None:
    res = run(name, np.asarray(ref, dtype=np.float64), np.asarray(cur, dtype=np.float64))
    assert triple(res) == NO_EVIDENCE


@pytest.mark.parametrize("name", BOTH_KINDS)
def test_categorical_empty_side_is_no_evidence(name: str) -> None:
    some = np.array(["a", "b", None], dtype=object)
    empty = np.array([], dtype=object)
    assert triple(run(name, some, empty)) == NO_EVIDENCE
    assert triple(run(name, empty, some)) == NO_EVIDENCE


@pytest.mark.parametrize("name", BOTH_KINDS)
def test_all_missing_on_both_sides_is_one_category(name: str) -> None:
    res = run(name, np.array([None, np.nan], dtype=object), np.array([None], dtype=object))
    assert res.statistic == 0.0


@pytest.mark.parametrize("name", NUMERICAL)
def test_numerical_inputs_are_not_modified(name: str) -> None:
    ref = np.array([3.0, np.nan, 1.0, np.inf, 2.0, 2.0] * 10)
    cur = np.array([np.nan, 5.0, 4.0, -np.inf, 1.0] * 10)
    ref_before, cur_before = ref.copy(), cur.copy()
    run(name, ref, cur)
    np.testing.assert_array_equal(ref, ref_before)
    np.testing.assert_array_equal(cur, cur_before)


@pytest.mark.parametrize("name", BOTH_KINDS)
def test_categorical_inputs_are_not_modified(name: str) -> None:
    ref = np.array(["b", None, "a", np.nan, "a"], dtype=object)
    cur = np.array([None, "c", "a"], dtype=object)
    ref_before, cur_before = list(ref), list(cur)
    run(name, ref, cur)
    assert list(ref) == ref_before  # list equality: NaN is the same object, so it compares equal
    assert list(cur) == cur_before


def test_jensenshannon_reports_scipy_nan_as_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(js_module.distance, "jensenshannon", lambda p, q: np.float64(np.nan))
    assert triple(run("jensenshannon", [1.0, 2.0], [1.0, 3.0])) == (0.0, None, 0.0)


def test_kl_div_reports_rounding_noise_below_zero_as_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kl_module.stats, "entropy", lambda p, q: np.float64(-1e-17))
    assert triple(run("kl_div", [1.0, 2.0], [1.0, 3.0])) == (0.0, None, 0.0)


# --- through the registry ---------------------------------------------------------------


@pytest.mark.parametrize("name", NUMERICAL)
def test_registry_call_infers_numerical(name: str) -> None:
    ref = [0.5, 1.5, None, 2.5, 3.5] * 20
    cur = [1.0, 2.0, 3.0, None] * 20
    via_registry = detectors.stattest(name)(ref, cur)
    direct = run(name, np.array(ref, dtype=np.float64), np.array(cur, dtype=np.float64))
    assert triple(via_registry) == triple(direct)
    assert triple(detectors.stattest(name)(ref, cur, kind="numerical")) == triple(direct)


@pytest.mark.parametrize("name", BOTH_KINDS)
def test_registry_call_infers_categorical(name: str) -> None:
    ref = ["a", "b", None, "b"] * 10
    cur = ["b", "c", "c", None] * 10
    direct = run(name, np.array(ref, dtype=object), np.array(cur, dtype=object))
    assert triple(detectors.stattest(name)(ref, cur)) == triple(direct)
    assert triple(detectors.stattest(name)(ref, cur, kind="categorical")) == triple(direct)


@pytest.mark.parametrize("name", BOTH_KINDS)
def test_registry_call_with_kind_categorical_on_numbers(name: str) -> None:
    ref = [1, 2, 2, 3] * 10
    cur = [2, 3, 3, 4] * 10
    res = detectors.stattest(name)(ref, cur, kind="categorical")
    expected = run(name, np.array(ref, dtype=object), np.array(cur, dtype=object))
    assert triple(res) == triple(expected)


@pytest.mark.parametrize("name", ["wasserstein", "energy"])
def test_numerical_only_tests_refuse_categorical(name: str) -> None:
    with pytest.raises(ValueError, match="does not support kind"):
        detectors.stattest(name)(["a"], ["b"], kind="categorical")


# --- detectors.binning ------------------------------------------------------------------


def test_shares() -> None:
    np.testing.assert_array_equal(shares(np.array([1, 3, 0])), [0.25, 0.75, 0.0])
    np.testing.assert_array_equal(shares(np.array([0, 0])), [0.0, 0.0])
    assert shares(np.array([], dtype=np.int64)).size == 0


def test_fill_zero_shares_uses_evidentlys_two_rules_without_renormalising() -> None:
    values = np.array([0.5, 0.0, 0.5])
    filled = fill_zero_shares(values)
    np.testing.assert_array_equal(filled, [0.5, 1e-4, 0.5])
    np.testing.assert_array_equal(values, [0.5, 0.0, 0.5])  # input untouched
    np.testing.assert_array_equal(fill_zero_shares(np.array([0.0, 1e-4, 1.0])), [1e-10, 1e-4, 1])
    np.testing.assert_array_equal(fill_zero_shares(np.array([0.0, 0.0])), [0.0, 0.0])
    np.testing.assert_array_equal(fill_zero_shares(np.array([0.3, 0.7])), [0.3, 0.7])


def test_evidently_bins_switch_above_20_reference_values() -> None:
    cur = np.array([100.0, 101.0])
    at_limit = evidently_bins(np.arange(float(MAX_VALUE_BINS)), cur)
    assert at_limit.kind == "values"
    np.testing.assert_array_equal(at_limit.points, [*range(MAX_VALUE_BINS), 100.0, 101.0])
    assert at_limit.size == MAX_VALUE_BINS + 2

    ref = np.arange(MAX_VALUE_BINS + 1.0)
    above = evidently_bins(ref, cur)
    assert above.kind == "edges"
    np.testing.assert_array_equal(
        above.points, np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    )
    assert above.size == above.points.size - 1


def test_edge_bins_count_like_np_histogram() -> None:
    values = np.random.default_rng(71).normal(size=5000)
    edges = sturges_edges(values)
    np.testing.assert_array_equal(
        Bins("edges", edges).counts(values), np.histogram(values, edges)[0]
    )


def test_value_bin_counts_skip_values_outside_the_bins() -> None:
    values = np.array([2.0, 1.0, 2.0, 9.0, -0.0, 0.0, 5.0])
    expected = Counter(values.tolist())
    bin_values = np.array([0.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(
        value_bin_counts(values, bin_values), [expected[v] for v in bin_values.tolist()]
    )
    np.testing.assert_array_equal(Bins("values", bin_values).counts(values), [2, 1, 2, 0])
    assert value_bin_counts(values, np.array([])).size == 0


def test_binned_counts_numerical_and_categorical() -> None:
    ref_counts, cur_counts = binned_counts(
        np.array([1.0, 1.0, np.nan, 2.0]), np.array([2.0, 3.0, np.inf])
    )
    np.testing.assert_array_equal(ref_counts, [2, 1, 0])
    np.testing.assert_array_equal(cur_counts, [0, 1, 1])

    ref_counts, cur_counts = binned_counts(
        np.array(["b", None], dtype=object), np.array(["a", "b"], dtype=object)
    )
    np.testing.assert_array_equal(ref_counts, [1, 0, 1])  # __missing__, a, b
    np.testing.assert_array_equal(cur_counts, [0, 1, 1])

    ref_counts, cur_counts = binned_counts(np.array([np.nan]), np.array([], dtype=np.float64))
    assert ref_counts.size == cur_counts.size == 0
