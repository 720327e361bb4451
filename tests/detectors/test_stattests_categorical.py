"""The categorical stat tests z, fisher_exact, g_test, tvd and l_infinity.

Each is checked against scipy (or the formula) on the same counts, against Evidently 0.7's
test of the same name where the definitions agree, and for the shared rules: identical
samples are no drift, a clear shift is drift, None and NaN are one category, an empty side
is no evidence, inputs are not modified, and the registry calls them.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import detectors
from detectors.stattests.chisquare import MISSING, category_counts
from detectors.stattests.fisher_exact import fisher_exact
from detectors.stattests.g_test import g_test
from detectors.stattests.l_infinity import l_infinity
from detectors.stattests.tvd import tvd
from detectors.stattests.z import z

# Evidently and its dependencies warn about their own use of deprecated numpy and pandas
# APIs (our warnings are errors): nothing this test can act on.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", FutureWarning)
    from evidently.legacy.calculations.stattests.fisher_exact_stattest import fisher_exact_test
    from evidently.legacy.calculations.stattests.g_stattest import g_test as ev_g_test
    from evidently.legacy.calculations.stattests.tvd_stattest import (
        _total_variation_distance as ev_total_variation_distance,
    )
    from evidently.legacy.calculations.stattests.tvd_stattest import tvd_test as ev_tvd_test
    from evidently.legacy.calculations.stattests.z_stattest import z_stat_test
    from evidently.legacy.core import ColumnType

NAMES = ["z", "fisher_exact", "g_test", "tvd", "l_infinity"]
DISTANCES = {"tvd", "l_infinity"}
Array = npt.NDArray[Any]


def _sample(rng: np.random.Generator, cats: list[str], probs: list[float], n: int) -> Array:
    return np.array(rng.choice(cats, n, p=probs), dtype=object)


def _evidently(stat_test: Any, ref: Array, cur: Array) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        res = stat_test(pd.Series(ref), pd.Series(cur), ColumnType.Categorical, None)
    return float(res.drift_score)


def _binary_or_multi(name: str) -> tuple[list[str], list[float], list[float]]:
    """Categories and a reference / shifted distribution suited to the test."""
    if name == "fisher_exact":
        return ["no", "yes"], [0.7, 0.3], [0.4, 0.6]
    return ["a", "b", "c", "d"], [0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]


# --- z ------------------------------------------------------------------------------------


def _z_by_hand(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """x: count of the first category; returns (z, p) of the two-proportion test."""
    p1 = (n1 - x1) / n1
    p2 = (n2 - x2) / n2
    pooled = (n1 - x1 + n2 - x2) / (n1 + n2)
    z_stat = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return z_stat, 2 * (1 - stats.norm.cdf(abs(z_stat)))


@pytest.mark.parametrize(("n_ref", "n_cur", "shift"), [(500, 500, 0.0), (800, 300, 0.05)])
def test_z_equals_formula_and_chi2_of_first_vs_rest(n_ref: int, n_cur: int, shift: float) -> None:
    rng = np.random.default_rng(10)
    cats = ["apple", "banana", "cherry"]
    ref = _sample(rng, cats, [0.3, 0.4, 0.3], n_ref)
    cur = _sample(rng, cats, [0.3 + shift, 0.4, 0.3 - shift], n_cur)
    x1 = int((ref == "apple").sum())
    x2 = int((cur == "apple").sum())
    z_stat, p = _z_by_hand(x1, n_ref, x2, n_cur)
    res = z(ref, cur)
    assert res.statistic == pytest.approx(z_stat, rel=1e-12)
    assert res.p_value == pytest.approx(p, rel=1e-12)
    assert res.effect_size == pytest.approx(abs(x1 / n_ref - x2 / n_cur), rel=1e-12)
    # The pooled two-proportion z-test is the uncorrected chi-squared test of the 2x2 table
    # (first category vs the rest): z^2 = chi2, same p-value.
    table = np.array([[x1, n_ref - x1], [x2, n_cur - x2]])
    chi2 = stats.chi2_contingency(table, correction=False)
    assert res.statistic**2 == pytest.approx(chi2.statistic, rel=1e-9)
    assert res.p_value == pytest.approx(chi2.pvalue, rel=1e-9)


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "probs_cur"),
    [
        (400, 400, [0.25, 0.25, 0.25, 0.25]),
        (1000, 350, [0.2, 0.3, 0.3, 0.2]),
        (300, 900, [0.4, 0.2, 0.2, 0.2]),
        (2000, 2000, [0.1, 0.3, 0.3, 0.3]),
    ],
)
def test_z_equals_evidently(n_ref: int, n_cur: int, probs_cur: list[float]) -> None:
    rng = np.random.default_rng(n_ref + n_cur)
    cats = ["north", "east", "south", "west"]
    ref = _sample(rng, cats, [0.25, 0.25, 0.25, 0.25], n_ref)
    cur = _sample(rng, cats, probs_cur, n_cur)
    res = z(ref, cur)
    expected = _evidently(z_stat_test, ref, cur)
    assert res.p_value == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_z_equals_evidently_on_disjoint_and_single_categories() -> None:
    one = np.array(["x"] * 50, dtype=object)
    other = np.array(["y"] * 70, dtype=object)
    # Disjoint single categories: p1 = 0, p2 = 1, the pooled share is strictly inside (0, 1).
    assert z(one, other).p_value == pytest.approx(_evidently(z_stat_test, one, other), rel=1e-6)
    # One and the same category on both sides: p = 1 in both, and no division by zero.
    res = z(one, one[:20])
    assert (res.statistic, res.p_value, res.effect_size) == (0.0, 1.0, 0.0)
    assert _evidently(z_stat_test, one, one[:20]) == 1.0


def test_z_statistic_is_signed() -> None:
    # "a" is the first category; it is rarer in the reference, so p1 (share of the rest) is
    # larger in the reference and z is positive.
    ref = np.array(["a"] * 20 + ["b"] * 80, dtype=object)
    cur = np.array(["a"] * 60 + ["b"] * 40, dtype=object)
    forward = z(ref, cur)
    backward = z(cur, ref)
    assert forward.statistic > 0
    assert backward.statistic == pytest.approx(-forward.statistic, rel=1e-12)
    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-12)
    assert forward.effect_size == pytest.approx(0.4, rel=1e-12)


def test_z_sorts_categories_as_strings_unlike_evidently() -> None:
    # As strings "10" < "2" < "3"; Evidently sorts the raw ints, so its first category is 2.
    rng = np.random.default_rng(3)
    # The share of 2 stays, the share of 10 drops: Evidently sees nothing, we see drift.
    ref = np.array(rng.choice([2, 3, 10], 600, p=[0.4, 0.3, 0.3]), dtype=object)
    cur = np.array(rng.choice([2, 3, 10], 600, p=[0.4, 0.45, 0.15]), dtype=object)
    ours = z(ref, cur).p_value
    as_strings = _evidently(z_stat_test, ref.astype(str), cur.astype(str))
    on_ints = _evidently(z_stat_test, ref, cur)
    assert ours == pytest.approx(as_strings, rel=1e-6, abs=1e-12)
    assert ours is not None
    assert ours < 1e-6
    assert on_ints > 0.05


def test_z_only_sees_the_first_category() -> None:
    # b and c swap shares, "a" keeps its share: z cannot see it, chisquare-like tests can.
    ref = np.array(["a"] * 300 + ["b"] * 500 + ["c"] * 200, dtype=object)
    cur = np.array(["a"] * 300 + ["b"] * 200 + ["c"] * 500, dtype=object)
    assert z(ref, cur).p_value == 1.0
    g = g_test(ref, cur).p_value
    assert g is not None
    assert g < 1e-10


# --- fisher_exact -------------------------------------------------------------------------


def test_fisher_exact_equals_scipy_on_hand_built_table() -> None:
    ref = np.array(["no"] * 30 + ["yes"] * 10, dtype=object)
    cur = np.array(["no"] * 12 + ["yes"] * 25, dtype=object)
    table = np.array([[30, 10], [12, 25]])
    expected = stats.fisher_exact(table, alternative="two-sided")
    res = fisher_exact(ref, cur)
    assert res.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert res.statistic == pytest.approx((30 * 25) / (10 * 12), rel=1e-12)
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert res.effect_size == pytest.approx(abs(30 / 40 - 12 / 37), rel=1e-12)


@pytest.mark.parametrize(("n", "p_cur"), [(30, 0.5), (200, 0.4), (500, 0.35), (1000, 0.3)])
def test_fisher_exact_equals_evidently_on_equal_sizes(n: int, p_cur: float) -> None:
    rng = np.random.default_rng(n)
    ref = _sample(rng, ["no", "yes"], [0.7, 0.3], n)
    cur = _sample(rng, ["no", "yes"], [1 - p_cur, p_cur], n)
    res = fisher_exact(ref, cur)
    assert res.p_value == pytest.approx(_evidently(fisher_exact_test, ref, cur), rel=1e-6)


def test_fisher_exact_equals_evidently_with_one_category_per_side() -> None:
    # Evidently pads a single category with a "placeholder"; we keep the 2x2 table as is.
    ref = np.array(["no"] * 40, dtype=object)
    cur = np.array(["no"] * 30 + ["yes"] * 10, dtype=object)
    res = fisher_exact(ref, cur)
    assert res.p_value == pytest.approx(_evidently(fisher_exact_test, ref, cur), rel=1e-6)
    # ref_a * cur_b / (ref_b * cur_a) with ref_b = 0: an infinite odds ratio; swapped, 0.
    assert res.statistic == math.inf
    assert fisher_exact(cur, ref).statistic == 0.0
    assert fisher_exact(cur, ref).p_value == pytest.approx(res.p_value, rel=1e-12)


def test_fisher_exact_accepts_unequal_sizes_where_evidently_raises() -> None:
    ref = np.array(["no"] * 70 + ["yes"] * 30, dtype=object)
    cur = np.array(["no"] * 20 + ["yes"] * 30, dtype=object)
    with pytest.raises(ValueError, match="equal length"):
        _evidently(fisher_exact_test, ref, cur)
    expected = stats.fisher_exact([[70, 30], [20, 30]])
    assert fisher_exact(ref, cur).p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_fisher_exact_refuses_more_than_two_categories() -> None:
    ref = np.array(["a", "b", "c"], dtype=object)
    with pytest.raises(ValueError, match=r"'fisher_exact'.*got 3.*'chisquare' or 'z'"):
        fisher_exact(ref, ref)
    # Missing values are a category: a binary column with nulls has three.
    with pytest.raises(ValueError, match="got 3"):
        fisher_exact(np.array(["a", "b"], dtype=object), np.array(["a", None], dtype=object))


def test_fisher_exact_one_value_plus_nulls_is_binary() -> None:
    ref = np.array(["x"] * 95 + [None] * 5, dtype=object)
    cur = np.array(["x"] * 60 + [np.nan] * 40, dtype=object)
    # Sorted: MISSING < "x".
    expected = stats.fisher_exact([[5, 95], [40, 60]])
    res = fisher_exact(ref, cur)
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert res.effect_size == pytest.approx(0.35, rel=1e-12)


def test_fisher_exact_single_category_is_odds_ratio_one() -> None:
    one = np.array(["x"] * 10, dtype=object)
    res = fisher_exact(one, one[:4])
    assert (res.statistic, res.p_value, res.effect_size) == (1.0, 1.0, 0.0)


# --- g_test -------------------------------------------------------------------------------


def test_g_test_equals_scipy_and_the_formula() -> None:
    ref = np.array(["a"] * 40 + ["b"] * 35 + ["c"] * 25 + [None] * 10, dtype=object)
    cur = np.array(["a"] * 20 + ["b"] * 30 + ["d"] * 12 + [np.nan] * 3, dtype=object)
    ref_counts, cur_counts = category_counts(ref, cur)
    table = np.vstack([ref_counts, cur_counts])
    np.testing.assert_array_equal(table, [[10, 40, 35, 25, 0], [3, 20, 30, 0, 12]])
    expected = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    res = g_test(ref, cur)
    assert res.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    # G = 2 * sum O ln(O / E), zero cells contributing 0, with k - 1 = 4 degrees of freedom.
    e = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    nz = table > 0
    g = 2 * float((table[nz] * np.log(table[nz] / e[nz])).sum())
    assert res.statistic == pytest.approx(g, rel=1e-12)
    assert res.p_value == pytest.approx(stats.chi2.sf(g, 4), rel=1e-12)
    assert res.effect_size == pytest.approx(tvd(ref, cur).statistic, rel=1e-12)


def test_g_test_differs_from_evidently_goodness_of_fit() -> None:
    # Evidently's g_test is power_divergence(cur, ref): current counts against the raw
    # reference counts, a one-sample test. Ours is the two-sample test of homogeneity.
    rng = np.random.default_rng(5)
    cats = ["a", "b", "c", "d"]
    ref = _sample(rng, cats, [0.4, 0.3, 0.2, 0.1], 1000)
    cur = _sample(rng, cats, [0.37, 0.3, 0.2, 0.13], 1000)
    ref_counts, cur_counts = category_counts(ref, cur)
    theirs = _evidently(ev_g_test, ref, cur)
    gof = stats.power_divergence(cur_counts, ref_counts, lambda_="log-likelihood")
    assert theirs == pytest.approx(gof.pvalue, rel=1e-6)
    ours = g_test(ref, cur)
    assert ours.p_value is not None
    assert ours.p_value > theirs
    # For a small shift at equal sizes, our G is about half theirs (two noisy samples).
    assert ours.statistic == pytest.approx(gof.statistic / 2, rel=0.1)


def test_g_test_accepts_unequal_sizes_where_evidently_raises() -> None:
    ref = np.array(["a"] * 50 + ["b"] * 50, dtype=object)
    cur = np.array(["a"] * 10 + ["b"] * 30, dtype=object)
    with pytest.raises(ValueError, match="sum"):
        _evidently(ev_g_test, ref, cur)
    expected = stats.chi2_contingency(
        [[50, 50], [10, 30]], correction=False, lambda_="log-likelihood"
    )
    assert g_test(ref, cur).p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_g_test_single_category_is_no_evidence() -> None:
    one = np.array(["x"] * 10, dtype=object)
    res = g_test(one, one[:3])
    assert (res.statistic, res.p_value, res.effect_size) == (0.0, 1.0, 0.0)


# --- tvd and l_infinity -------------------------------------------------------------------


def test_tvd_and_l_infinity_by_hand() -> None:
    # Shares: ref a .5, b .3, c .2; cur a .2, b .3, c .1, d .4 (d new).
    ref = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 2, dtype=object)
    cur = np.array(["a"] * 2 + ["b"] * 3 + ["c"] * 1 + ["d"] * 4, dtype=object)
    t = tvd(ref, cur)
    assert t.statistic == pytest.approx(0.5 * (0.3 + 0.0 + 0.1 + 0.4), rel=1e-12)
    assert (t.p_value, t.effect_size) == (None, t.statistic)
    m = l_infinity(ref, cur)
    assert m.statistic == pytest.approx(0.4, rel=1e-12)
    assert (m.p_value, m.effect_size) == (None, m.statistic)


@pytest.mark.parametrize(("n_ref", "n_cur"), [(300, 300), (1000, 250)])
def test_tvd_equals_evidently_distance(n_ref: int, n_cur: int) -> None:
    rng = np.random.default_rng(n_cur)
    ref = _sample(rng, ["a", "b", "c"], [0.5, 0.3, 0.2], n_ref)
    cur = _sample(rng, ["a", "b", "c", "d"], [0.3, 0.3, 0.2, 0.2], n_cur)
    expected = ev_total_variation_distance(pd.Series(ref), pd.Series(cur))
    assert tvd(ref, cur).statistic == pytest.approx(expected, abs=1e-9)


def test_evidently_tvd_reports_a_permutation_p_value_not_the_distance() -> None:
    rng = np.random.default_rng(8)
    ref = _sample(rng, ["a", "b"], [0.5, 0.5], 40)
    cur = _sample(rng, ["a", "b"], [0.5, 0.5], 40)
    # Evidently's TVD reseeds numpy's global RNG; leave it as it was for the other tests.
    state = np.random.get_state()
    try:
        score = _evidently(ev_tvd_test, ref, cur)
    finally:
        np.random.set_state(state)
    assert score * 1000 == pytest.approx(round(score * 1000))  # a share of 1000 permutations
    assert score != pytest.approx(tvd(ref, cur).statistic)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "c", "d", None]), min_size=1, max_size=60),
    st.lists(st.sampled_from(["a", "b", "c", "e", None]), min_size=1, max_size=60),
)
def test_distance_properties(ref_list: list[str | None], cur_list: list[str | None]) -> None:
    ref = np.array(ref_list, dtype=object)
    cur = np.array(cur_list, dtype=object)
    t = tvd(ref, cur).statistic
    m = l_infinity(ref, cur).statistic
    k = category_counts(ref, cur)[0].size
    assert 0.0 <= m <= t + 1e-12
    assert t <= min(1.0, k / 2 * m) + 1e-12
    assert tvd(cur, ref).statistic == pytest.approx(t, abs=1e-15)
    assert l_infinity(cur, ref).statistic == pytest.approx(m, abs=1e-15)
    res = z(ref, cur)
    assert res.p_value is not None
    assert 0.0 <= res.p_value <= 1.0
    assert res.effect_size is not None
    assert res.effect_size <= m + 1e-12
    g = g_test(ref, cur)
    assert g.p_value is not None
    assert 0.0 <= g.p_value <= 1.0
    assert g.effect_size == pytest.approx(t, abs=1e-12)


# --- shared rules -------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_identical_samples_are_no_drift(name: str) -> None:
    cats, probs, _ = _binary_or_multi(name)
    ref = _sample(np.random.default_rng(1), cats, probs, 500)
    test = detectors.stattest(name)
    res = test(ref, ref.copy())
    assert not test.drifted(res)
    assert res.effect_size == 0.0
    if name in DISTANCES:
        assert res.statistic == 0.0
        assert res.p_value is None
    else:
        assert res.p_value == pytest.approx(1.0)
        assert res.statistic == (1.0 if name == "fisher_exact" else 0.0)


@pytest.mark.parametrize("name", NAMES)
def test_clear_shift_is_drift(name: str) -> None:
    cats, probs, shifted = _binary_or_multi(name)
    rng = np.random.default_rng(2)
    ref = _sample(rng, cats, probs, 1000)
    cur = _sample(rng, cats, shifted, 700)
    test = detectors.stattest(name)
    res = test(ref, cur)
    assert test.drifted(res)
    assert res.effect_size is not None
    assert res.effect_size >= test.default_min_effect


@pytest.mark.parametrize("name", NAMES)
def test_null_rate_jump_is_drift(name: str) -> None:
    ref = np.array(["x"] * 900 + [None] * 100, dtype=object)
    cur = np.array(["x"] * 600 + [np.nan] * 400, dtype=object)
    test = detectors.stattest(name)
    res = test(ref, cur)
    assert test.drifted(res)
    assert res.effect_size == pytest.approx(0.3, rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_none_and_nan_are_one_missing_category(name: str) -> None:
    cats, probs, shifted = _binary_or_multi(name)
    rng = np.random.default_rng(4)
    ref = _sample(rng, cats, probs, 200)
    cur = _sample(rng, cats, shifted, 150)
    # The first category becomes missing (for fisher_exact: still two categories).
    ref[ref == cats[0]] = None
    cur[cur == cats[0]] = None
    fn = detectors.stattest(name).fn
    expected = fn(ref, cur)
    mixed_ref = ref.copy()
    mixed_cur = cur.copy()
    mixed_ref[np.flatnonzero(np.equal(ref, None))[::2]] = np.nan
    mixed_cur[np.flatnonzero(np.equal(cur, None))[::3]] = np.float64("nan")
    assert fn(mixed_ref, mixed_cur) == expected
    ref_counts, _ = category_counts(mixed_ref, mixed_cur)
    assert ref_counts.size == len(cats)
    assert ref_counts[0] == int(np.equal(ref, None).sum())  # MISSING sorts first here
    assert min(cats) > MISSING


@pytest.mark.parametrize("name", NAMES)
def test_empty_side_is_no_evidence(name: str) -> None:
    values = np.array(["a", "b", None], dtype=object)
    empty = np.array([], dtype=object)
    fn = detectors.stattest(name).fn
    p = None if name in DISTANCES else 1.0
    for ref, cur in [(values, empty), (empty, values), (empty, empty)]:
        res = fn(ref, cur)
        assert (res.statistic, res.p_value, res.effect_size) == (0.0, p, 0.0)


@pytest.mark.parametrize("name", NAMES)
def test_all_missing_side_is_a_category_not_no_evidence(name: str) -> None:
    ref = np.array(["x"] * 50, dtype=object)
    cur = np.array([None] * 30, dtype=object)
    test = detectors.stattest(name)
    res = test(ref, cur)
    assert test.drifted(res)
    assert res.effect_size == 1.0


@pytest.mark.parametrize("name", NAMES)
def test_inputs_are_not_modified(name: str) -> None:
    ref = np.array(["a", "b", None, np.nan, "b"] * 20, dtype=object)
    cur = np.array(["b", None, "b", "a"] * 15, dtype=object)
    if name == "fisher_exact":
        ref = np.where(ref == "a", "b", ref)
        cur = np.where(cur == "a", "b", cur)
    ref_before = ref.copy()
    cur_before = cur.copy()
    detectors.stattest(name).fn(ref, cur)
    detectors.stattest(name)(ref, cur)
    # copy() keeps the element objects, so an untouched array holds the very same ones.
    assert all(a is b for a, b in zip(ref, ref_before, strict=True))
    assert all(a is b for a, b in zip(cur, cur_before, strict=True))


@pytest.mark.parametrize("name", NAMES)
def test_registry_call(name: str) -> None:
    cats, probs, shifted = _binary_or_multi(name)
    rng = np.random.default_rng(6)
    null = [] if name == "fisher_exact" else [None]  # fisher_exact: two categories at most
    ref = [*rng.choice(cats, 300, p=probs), *null]
    cur = [*rng.choice(cats, 200, p=shifted), *null]
    test = detectors.stattest(name)
    assert test.kinds == {"categorical"}
    direct = test.fn(np.array(ref, dtype=object), np.array(cur, dtype=object))
    assert test(ref, cur) == direct
    assert test(ref, cur, kind="categorical") == direct
    with pytest.raises(ValueError, match="does not support kind 'numerical'"):
        test([1.0, 2.0], [1.0, 2.0], kind="numerical")


def test_registered_metadata() -> None:
    meta = {
        n: (t.decision, t.default_threshold, t.default_min_effect)
        for n in NAMES
        for t in [detectors.stattest(n)]
    }
    assert meta == {
        "z": ("p_value", 0.05, 0.1),
        "fisher_exact": ("p_value", 0.1, 0.1),
        "g_test": ("p_value", 0.1, 0.1),
        "tvd": ("distance", 0.1, 0.1),
        "l_infinity": ("distance", 0.1, 0.1),
    }


def test_numeric_categories_go_through_the_registry_as_categories() -> None:
    # Ints are categorical for these tests (they support no other kind).
    ref = [1, 1, 2, 2, 2, 3]
    cur = [1, 2, 3, 3, 3, 3]
    expected = tvd(np.array(["1", "1", "2", "2", "2", "3"], object), np.array(cur, object))
    assert detectors.stattest("tvd")(ref, cur) == expected
