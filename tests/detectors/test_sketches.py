"""detectors.sketches: layouts, exact merge, serialisation, and the distances on sketches
(against the registered tests, scipy, and the stated bounds of the binned ks and
wasserstein)."""

from __future__ import annotations

import bisect
import functools
import json
import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import detectors
from detectors.registry import UnknownStatTestError
from detectors.sketches import (
    METHODS,
    OTHER,
    SQ_EXP,
    SUM_EXP,
    UNSEEN,
    CategoricalLayout,
    Layout,
    Moments,
    NumericLayout,
    Sketch,
    SketchResult,
    compare,
    exact_sums,
    layout_from_dict,
    merge,
    sketch,
)
from detectors.stattests.chisquare import MISSING

BIN_METHODS = [
    "psi",
    "kl_div",
    "jensenshannon",
    "hellinger",
    "chisquare",
    "g_test",
    "tvd",
    "l_infinity",
]
P_VALUE_METHODS = {"chisquare", "g_test", "ks"}

# Numbers as a column may hold them: NaN, +-inf and None included, ties likely.
cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-3, 3).map(float),
    st.sampled_from([math.nan, math.inf, -math.inf, None, 0.0, -0.0, 5e-324]),
)
batches = st.lists(st.lists(cells, max_size=25), min_size=1, max_size=6)
# The same below 1e150, where the distances (and the registered tests) do not overflow.
moderate_cells = st.one_of(
    st.floats(-1e150, 1e150),
    st.integers(-3, 3).map(float),
    st.sampled_from([math.nan, math.inf, -math.inf, None, 0.0, -0.0, 5e-324]),
)
labels = st.one_of(st.sampled_from(["a", "b", "c", "d", "e", "1", None]), st.integers(0, 2))
cat_batches = st.lists(st.lists(labels, max_size=25), min_size=1, max_size=6)
# Moderate finite floats for the comparisons with scipy (its arithmetic overflows past 1e154).
finite_floats = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.integers(-5, 5).map(float),
)

NUM_LAYOUT = NumericLayout(np.array([-1.0, 0.0, 0.5, 2.0, 10.0]))
CAT_LAYOUT = CategoricalLayout.from_reference(["a"] * 5 + ["b"] * 3 + ["c", "1", None], top_k=2)


def no_evidence(res: SketchResult, method: str) -> bool:
    p_expected = 1.0 if method in P_VALUE_METHODS else None
    return (res.statistic, res.p_value, res.effect_size) == (0.0, p_expected, 0.0)


def reference_bins(values: list[Any], edges: list[float]) -> list[int]:
    """Counts over (-inf, e0), [e0, e1), ..., [e_last, inf), +-inf, NaN by plain bisect."""
    counts = [0] * (len(edges) + 3)
    for v in values:
        if v is None or math.isnan(v):
            counts[-1] += 1
        elif math.isinf(v):
            counts[-2] += 1
        else:
            counts[bisect.bisect_right(edges, v)] += 1
    return counts


# --- layouts ---------------------------------------------------------------------------------


def test_numeric_layout_bins_hold_equal_shares_of_the_reference() -> None:
    ref = np.random.default_rng(0).normal(size=10_000)
    layout = NumericLayout.from_reference(ref, bins=20)
    assert layout.edges.size == 19
    assert layout.n_value_bins == 20
    assert layout.size == 22
    counts = sketch(ref, layout).value_counts
    # Edge j is the reference's (500 j)-th smallest value and opens its bin.
    assert counts.tolist() == [499] + [500] * 18 + [501]
    # Edges are reference values (inverted-CDF quantiles).
    assert set(layout.edges.tolist()) <= set(ref.tolist())


def test_numeric_layout_merges_tied_quantiles_and_handles_no_finite_value() -> None:
    layout = NumericLayout.from_reference([0.0] * 70 + [1.0] * 30 + [math.nan] * 5, bins=10)
    assert layout.edges.tolist() == [0.0, 1.0]
    assert sketch([0.0, 1.0, 1.0], layout).value_counts.tolist() == [0, 1, 2]
    empty = NumericLayout.from_reference([math.nan, math.inf, None])
    assert empty.edges.size == 0
    assert sketch([1.0, -5.0, math.nan], empty).counts.tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match="bins"):
        NumericLayout.from_reference([1.0], bins=0)


def test_values_on_an_edge_go_to_the_bin_they_open() -> None:
    layout = NumericLayout(np.array([0.0, 1.0, 2.0]))
    values = [-1.0, 0.0, -0.0, 0.5, 1.0, 2.0, 3.0, math.nan, None, math.inf, -math.inf]
    s = sketch(values, layout)
    #                          (-inf,0) [0,1) [1,2) [2,inf) +-inf NaN
    assert s.counts.tolist() == [1, 3, 1, 2, 2, 2]
    assert s.counts.tolist() == reference_bins(values, [0.0, 1.0, 2.0])
    assert (s.n, s.n_missing, s.n_infinite) == (11, 2, 2)
    just_below = np.nextafter(1.0, 0.0)
    assert sketch([just_below], layout).value_counts.tolist() == [0, 1, 0, 0]


def test_numeric_layout_validates_and_normalises_edges() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        NumericLayout(np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="finite"):
        NumericLayout(np.array([0.0, math.inf]))
    # -0.0 and 0.0 bin alike, so they are one layout.
    assert NumericLayout(np.array([-0.0, 1.0])) == NumericLayout(np.array([0.0, 1.0]))
    assert NumericLayout(np.array([0.0])).fingerprint != NumericLayout(np.array([1.0])).fingerprint


def test_categorical_layout_tells_other_unseen_and_missing() -> None:
    layout = CAT_LAYOUT
    assert layout.categories == ("a", "b")
    assert layout.labels == ("a", "b", OTHER, UNSEEN, MISSING)
    s = sketch(
        ["a", "b", "b", "c", 1, "1", "zzz", "new", None, math.nan, np.float64("nan")], layout
    )
    # "c" and "1" (also the int 1: categories compare as strings) were in the reference
    # outside its top 2: other. "zzz" and "new" never were: unseen.
    assert dict(zip(layout.labels, s.counts.tolist(), strict=True)) == {
        "a": 1,
        "b": 2,
        OTHER: 3,
        UNSEEN: 2,
        MISSING: 3,
    }
    assert s.moments is None
    assert (s.n, s.n_missing, s.n_infinite) == (11, 3, 0)


def test_categorical_layout_ranks_by_count_then_name() -> None:
    layout = CategoricalLayout.from_reference(["b", "a", "c", "c", "d", "d"], top_k=3)
    assert layout.categories == ("c", "d", "a")
    assert sketch(["b"], layout).counts.tolist() == [0, 0, 0, 1, 0, 0]


def test_categorical_layout_beyond_max_known_is_open() -> None:
    ref = ["a"] * 10 + [f"rare{i}" for i in range(20)]
    closed = CategoricalLayout.from_reference(ref, top_k=1, max_known=20)
    opened = CategoricalLayout.from_reference(ref, top_k=1, max_known=19)
    assert closed.known is not None
    assert len(closed.known) == 20
    assert opened.known is None
    values = ["a", "rare3", "brand-new"]
    assert sketch(values, closed).counts.tolist() == [1, 1, 1, 0]
    # An open layout cannot tell unseen from other: both count as other.
    assert sketch(values, opened).counts.tolist() == [1, 2, 0, 0]
    assert closed != opened


def test_categorical_layout_validates() -> None:
    with pytest.raises(ValueError, match="distinct"):
        CategoricalLayout(("a", "a"))
    with pytest.raises(ValueError, match="distinct"):
        CategoricalLayout(("a", MISSING))
    with pytest.raises(ValueError, match="64-bit"):
        CategoricalLayout(("a",), (5, 3))


@pytest.mark.parametrize(
    "layout",
    [
        NUM_LAYOUT,
        NumericLayout(np.zeros(0)),
        CAT_LAYOUT,
        CategoricalLayout.from_reference(["x"] * 3 + ["y", "z"], top_k=1, max_known=0),
    ],
)
def test_layout_dict_round_trip(layout: Layout) -> None:
    data = json.loads(json.dumps(layout.to_dict()))
    back = layout_from_dict(data)
    assert back == layout
    assert back.fingerprint == layout.fingerprint
    assert type(back) is type(layout)
    data["fingerprint"] = "0" * 16
    with pytest.raises(ValueError, match="does not match"):
        layout_from_dict(data)


# --- exact moments -----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=40),
    st.integers(1, 4),
)
def test_exact_sums_are_exact(values: list[float], k: int) -> None:
    x = np.array(values, dtype=np.float64)
    bins = np.arange(x.size, dtype=np.int64) % k
    sums, total_sq = exact_sums(x, bins, k)
    for g in range(k):
        assert Fraction(sums[g], 2**-SUM_EXP) == sum(map(Fraction, values[g::k]), Fraction(0))
    assert Fraction(total_sq, 2**-SQ_EXP) == sum((Fraction(v) ** 2 for v in values), Fraction(0))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=40))
def test_moments_mean_and_std_are_correctly_computed(values: list[float]) -> None:
    m = sketch(values, NUM_LAYOUT).moments
    assert m is not None
    n = len(values)
    exact_mean = sum(map(Fraction, values)) / n
    exact_var = sum((Fraction(v) - exact_mean) ** 2 for v in values) / n
    assert m.sum == sum(map(Fraction, values))
    assert m.mean == float(exact_mean)
    assert m.std is not None
    if exact_var == 0:
        assert m.std == 0.0
    elif exact_var > Fraction(1, 10**600):
        # Rounded once from a 64-bit integer root: within an ulp or two, compared squared
        # (the variance itself may be beyond the float range).
        assert abs(Fraction(m.std) ** 2 / exact_var - 1) < Fraction(1, 10**15)
    else:
        assert m.std < 1e-290
    assert (m.min, m.max) == (min(values), max(values))


def test_moments_match_numpy_on_ordinary_data() -> None:
    x = np.random.default_rng(3).lognormal(size=50_000)
    m = sketch(x, NumericLayout.from_reference(x)).moments
    assert m is not None
    assert m.mean == pytest.approx(float(np.mean(x)), rel=1e-14)
    assert m.std == pytest.approx(float(np.std(x)), rel=1e-12)
    assert Moments.empty(3).mean is None
    assert Moments.empty(3).std is None


# --- merge ------------------------------------------------------------------------------------


def num_sketches(parts: list[list[Any]], layout: Layout = NUM_LAYOUT) -> list[Sketch]:
    return [sketch(np.array(p, dtype=object), layout) for p in parts]


@settings(max_examples=150, deadline=None)
@given(batches, st.randoms(use_true_random=False))
def test_merge_is_exact_in_any_order_and_grouping(parts: list[list[Any]], rnd: Any) -> None:
    sketches = num_sketches(parts)
    whole = sketch(np.array([v for p in parts for v in p], dtype=object), NUM_LAYOUT)
    shuffled = sketches[:]
    rnd.shuffle(shuffled)
    left = functools.reduce(merge, sketches)
    right = functools.reduce(lambda acc, s: merge(s, acc), reversed(sketches))
    assert merge(*sketches) == whole
    assert left == whole
    assert right == whole
    assert merge(*shuffled) == whole
    assert functools.reduce(lambda a, b: a + b, shuffled) == whole
    assert merge(Sketch.empty(NUM_LAYOUT), whole) == whole
    assert hash(merge(*shuffled)) == hash(whole)


@settings(max_examples=150, deadline=None)
@given(cat_batches, st.randoms(use_true_random=False))
def test_categorical_merge_is_exact_in_any_order(parts: list[list[Any]], rnd: Any) -> None:
    sketches = [sketch(np.array(p, dtype=object), CAT_LAYOUT) for p in parts]
    whole = sketch(np.array([v for p in parts for v in p], dtype=object), CAT_LAYOUT)
    rnd.shuffle(sketches)
    assert merge(*sketches) == whole
    assert functools.reduce(merge, sketches) == whole
    assert merge(Sketch.empty(CAT_LAYOUT), whole) == whole


@settings(max_examples=100, deadline=None)
@given(st.lists(cells, max_size=30), st.lists(cells, max_size=30))
def test_sketch_of_concatenation_is_merge_of_sketches(a: list[Any], b: list[Any]) -> None:
    whole = sketch(np.array(a + b, dtype=object), NUM_LAYOUT)
    assert merge(*num_sketches([a, b])) == whole
    assert whole.counts.tolist() == reference_bins(a + b, NUM_LAYOUT.edges.tolist())


def test_merge_and_compare_refuse_different_layouts() -> None:
    other = NumericLayout(np.array([0.0, 1.0]))
    a, b = sketch([1.0], NUM_LAYOUT), sketch([1.0], other)
    for call in (lambda: merge(a, b), lambda: a + b, lambda: compare(a, b, "psi")):
        with pytest.raises(ValueError, match="different layouts") as err:
            call()
        assert NUM_LAYOUT.fingerprint in str(err.value)
        assert other.fingerprint in str(err.value)
    with pytest.raises(ValueError, match=CAT_LAYOUT.fingerprint):
        compare(a, sketch(["a"], CAT_LAYOUT), "ks")


def test_sketch_validates_its_parts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        Sketch(CAT_LAYOUT, np.array([1, 2]))
    with pytest.raises(ValueError, match="non-negative"):
        Sketch(CAT_LAYOUT, np.array([-1, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="no moments"):
        Sketch(CAT_LAYOUT, np.zeros(5, dtype=np.int64), Moments.empty(5))
    with pytest.raises(ValueError, match="moments"):
        Sketch(NUM_LAYOUT, np.ones(NUM_LAYOUT.size, dtype=np.int64), Moments.empty(6))
    s = sketch([1.0, 2.0], NUM_LAYOUT)
    with pytest.raises(ValueError, match="read-only"):
        s.counts[0] = 5


def test_sketch_does_not_modify_its_input() -> None:
    values = np.array([3.0, math.nan, -math.inf, 0.5])
    before = values.copy()
    sketch(values, NUM_LAYOUT)
    np.testing.assert_array_equal(values, before)
    cats = np.array(["a", None, "q"], dtype=object)
    sketch(cats, CAT_LAYOUT)
    assert cats.tolist() == ["a", None, "q"]


# --- serialisation ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(batches)
def test_numerical_round_trips_are_exact(parts: list[list[Any]]) -> None:
    s = merge(*num_sketches(parts))
    assert Sketch.from_bytes(s.to_bytes(), NUM_LAYOUT) == s
    assert Sketch.from_dict(json.loads(json.dumps(s.to_dict())), NUM_LAYOUT) == s
    back = Sketch.from_bytes(s.to_bytes(), NUM_LAYOUT)
    assert back.to_bytes() == s.to_bytes()


@settings(max_examples=100, deadline=None)
@given(cat_batches)
def test_categorical_round_trips_are_exact(parts: list[list[Any]]) -> None:
    s = merge(*[sketch(np.array(p, dtype=object), CAT_LAYOUT) for p in parts])
    assert Sketch.from_bytes(s.to_bytes(), CAT_LAYOUT) == s
    assert Sketch.from_dict(json.loads(json.dumps(s.to_dict())), CAT_LAYOUT) == s


def test_bytes_are_compact() -> None:
    # 19-byte header, then one byte per count while every count is below 256.
    s = sketch(["a"] * 200 + ["zzz"] * 3, CAT_LAYOUT)
    assert len(s.to_bytes()) == 19 + CAT_LAYOUT.size
    assert len(sketch(["a"] * 300, CAT_LAYOUT).to_bytes()) == 19 + 2 * CAT_LAYOUT.size
    x = np.random.default_rng(5).normal(size=10_000)
    layout = NumericLayout.from_reference(x)
    raw = sketch(x, layout).to_bytes()
    # 22 two-byte counts, min/max, 20 exact bin sums and the sum of squares.
    assert len(raw) < 400
    # An exact sum of zero is its 4-byte prefix alone.
    assert len(Sketch.empty(layout).to_bytes()) == 19 + 22 + 16 + 21 * 4


def test_reading_with_the_wrong_layout_or_bad_bytes_fails() -> None:
    s = sketch([0.25, 3.0, math.nan], NUM_LAYOUT)
    other = NumericLayout(np.array([0.0]))
    with pytest.raises(ValueError, match=other.fingerprint):
        Sketch.from_bytes(s.to_bytes(), other)
    with pytest.raises(ValueError, match=NUM_LAYOUT.fingerprint):
        Sketch.from_dict(s.to_dict(), other)
    raw = s.to_bytes()
    for bad in (raw[:-1], raw + b"\0", b"XXXX" + raw[4:], raw[:10]):
        with pytest.raises(ValueError, match=r"truncated|trailing|format|malformed"):
            Sketch.from_bytes(bad, NUM_LAYOUT)
    data = s.to_dict()
    data["format"] = 99
    with pytest.raises(ValueError, match="format"):
        Sketch.from_dict(data, NUM_LAYOUT)


def test_dict_form_is_plain_json() -> None:
    s = sketch([0.1, 0.2, math.inf, None], NUM_LAYOUT)
    data = s.to_dict()
    assert data["layout"] == NUM_LAYOUT.fingerprint
    assert data["counts"] == [0, 0, 2, 0, 0, 0, 1, 1]
    assert data["moments"]["min"] == 0.1
    assert data["moments"]["max"] == 0.2
    # The bin's exact sum 0.1 + 0.2 (not the float 0.30000000000000004), odd numerator.
    exact = Fraction(0.1) + Fraction(0.2)
    exponent = -(exact.denominator.bit_length() - 1)
    assert data["moments"]["bin_sums"][2] == f"{exact.numerator:#x}p{exponent}"
    assert data["moments"]["bin_sums"][0] == "0x0p0"
    assert json.loads(json.dumps(data)) == data
    assert Sketch.empty(NUM_LAYOUT).to_dict()["moments"]["min"] is None


# --- compare -----------------------------------------------------------------------------------


def test_categorical_compare_equals_the_registered_tests() -> None:
    rng = np.random.default_rng(11)
    cats = ["a", "b", "c", "d", None]
    ref = rng.choice(np.array(cats, dtype=object), 3000, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    cur = rng.choice(np.array(cats, dtype=object), 2000, p=[0.3, 0.3, 0.2, 0.15, 0.05])
    # The layout covers every category of the data, so its bins are the registered tests'
    # categories (in another order, which none of the formulas depends on).
    layout = CategoricalLayout.from_reference(ref)
    r, c = sketch(ref, layout), sketch(cur, layout)
    for method in BIN_METHODS:
        expected = detectors.stattest(method)(ref, cur, kind="categorical")
        got = compare(r, c, method)
        assert got.statistic == pytest.approx(expected.statistic, rel=1e-12), method
        assert got.effect_size == pytest.approx(expected.effect_size, rel=1e-12), method
        if expected.p_value is None:
            assert got.p_value is None
        else:
            assert got.p_value == pytest.approx(expected.p_value, rel=1e-9), method
        assert got.bounds is None
        assert got.error_bound is None


def test_numerical_compare_runs_the_formulas_on_the_layout_bins() -> None:
    rng = np.random.default_rng(12)
    ref = rng.normal(size=4000)
    cur = np.concatenate([rng.normal(0.3, 1.2, size=3000), [math.nan, math.inf]])
    layout = NumericLayout.from_reference(ref, bins=10)
    edges = layout.edges.tolist()
    r_counts = np.array(reference_bins(ref.tolist(), edges)[:-2])
    c_counts = np.array(reference_bins(cur.tolist(), edges)[:-2])
    table = np.vstack([r_counts, c_counts])
    res = compare(sketch(ref, layout), sketch(cur, layout), "chisquare")
    expected = stats.chi2_contingency(table, correction=False)
    assert res.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    r_share, c_share = r_counts / r_counts.sum(), c_counts / c_counts.sum()
    tvd = compare(sketch(ref, layout), sketch(cur, layout), "tvd")
    assert tvd.statistic == pytest.approx(0.5 * np.abs(r_share - c_share).sum(), rel=1e-12)
    psi = compare(sketch(ref, layout), sketch(cur, layout), "psi")
    assert psi.statistic == pytest.approx(
        float(np.sum((r_share - c_share) * np.log(r_share / c_share))), rel=1e-12
    )


def test_bins_empty_on_both_sides_are_left_out() -> None:
    # The unseen and other bins are empty on both sides: chisquare still has a table with
    # no zero column, and psi fills no phantom bins.
    ref = ["a"] * 50 + ["b"] * 50
    layout = CategoricalLayout.from_reference(ref)
    r, c = sketch(ref, layout), sketch(["a"] * 40 + ["b"] * 60, layout)
    got = compare(r, c, "chisquare")
    assert got.statistic == pytest.approx(
        stats.chi2_contingency([[50, 50], [40, 60]], correction=False).statistic
    )
    assert compare(r, c, "psi").statistic == pytest.approx(
        detectors.stattest("psi")(ref, ["a"] * 40 + ["b"] * 60).statistic, rel=1e-12
    )


def test_a_clear_shift_is_drift_for_every_method() -> None:
    rng = np.random.default_rng(13)
    ref = rng.normal(size=5000)
    layout = NumericLayout.from_reference(ref)
    r, c = sketch(ref, layout), sketch(rng.normal(1.0, 1.0, 5000), layout)
    for method in METHODS:
        res = compare(r, c, method)
        assert detectors.stattest(method).drifted(res), method
    cats = CategoricalLayout.from_reference(["a"] * 80 + ["b"] * 20)
    rc, cc = sketch(["a"] * 80 + ["b"] * 20, cats), sketch(["a"] * 30 + ["b"] * 70, cats)
    for method in BIN_METHODS:
        assert detectors.stattest(method).drifted(compare(rc, cc, method)), method


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(moderate_cells, max_size=25), min_size=1, max_size=6))
def test_identical_sketches_show_no_drift(parts: list[list[Any]]) -> None:
    s = merge(*num_sketches(parts))
    for method in METHODS:
        res = compare(s, s, method)
        assert not detectors.stattest(method).drifted(res), method
        assert 0.0 <= res.statistic <= 1e-7, method
        if method in P_VALUE_METHODS:
            assert res.p_value == pytest.approx(1.0), method
    c = sketch(["a", "b", "zz", None] * 5, CAT_LAYOUT)
    for method in BIN_METHODS:
        res = compare(c, c, method)
        assert not detectors.stattest(method).drifted(res), method
        assert res.statistic <= 1e-7, method


@settings(max_examples=100, deadline=None)
@given(st.lists(moderate_cells, max_size=20), st.lists(moderate_cells, max_size=20))
def test_nan_inf_and_empty_inputs_give_a_defined_result(a: list[Any], b: list[Any]) -> None:
    ra, rb = (
        sketch(np.array(a, dtype=object), NUM_LAYOUT),
        sketch(np.array(b, dtype=object), NUM_LAYOUT),
    )
    for method in METHODS:
        res = compare(ra, rb, method)
        assert isinstance(res, SketchResult)
        assert not math.isnan(res.statistic), method
        assert res.p_value is None or 0.0 <= res.p_value <= 1.0
        ma, mb = ra.moments, rb.moments
        assert ma is not None
        assert mb is not None
        if ma.count == 0 or mb.count == 0:
            assert no_evidence(res, method), method
            assert not detectors.stattest(method).drifted(res)


def test_empty_categorical_side_is_no_evidence() -> None:
    full = sketch(["a", "b"], CAT_LAYOUT)
    for method in BIN_METHODS:
        assert no_evidence(compare(full, Sketch.empty(CAT_LAYOUT), method), method)
        assert no_evidence(compare(Sketch.empty(CAT_LAYOUT), full, method), method)


def test_unknown_method_and_wrong_kind() -> None:
    s = sketch([1.0], NUM_LAYOUT)
    with pytest.raises(UnknownStatTestError, match="energy"):
        compare(s, s, "energy")
    c = sketch(["a"], CAT_LAYOUT)
    for method in ("ks", "wasserstein"):
        with pytest.raises(ValueError, match="numerical"):
            compare(c, c, method)


# --- binned ks and wasserstein against scipy ---------------------------------------------------


def ks_by_brute_force(ref: list[float], cur: list[float]) -> float:
    """max |F_ref(x) - F_cur(x)| over the pooled values (scipy's ks_2samp statistic; its
    p-value computation warns on some tiny tied samples, which this test does not need)."""
    r, c = np.sort(ref), np.sort(cur)
    points = np.union1d(r, c)
    f_ref = np.searchsorted(r, points, side="right") / r.size
    f_cur = np.searchsorted(c, points, side="right") / c.size
    return float(np.max(np.abs(f_ref - f_cur)))


def test_brute_force_ks_is_scipys() -> None:
    rng = np.random.default_rng(15)
    ref, cur = rng.normal(size=300).round(1), rng.normal(0.2, 1, 200).round(1)
    assert ks_by_brute_force(ref.tolist(), cur.tolist()) == pytest.approx(
        stats.ks_2samp(ref, cur).statistic, abs=1e-15
    )


def layout_and_sketches(
    ref: list[float], cur: list[float], bins: int
) -> tuple[NumericLayout, Sketch, Sketch]:
    layout = NumericLayout.from_reference(ref, bins=bins)
    return layout, sketch(ref, layout), sketch(cur, layout)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(finite_floats, min_size=1, max_size=60),
    st.lists(finite_floats, min_size=1, max_size=60),
    st.integers(1, 12),
)
def test_binned_ks_is_within_its_bound_of_scipy(
    ref: list[float], cur: list[float], bins: int
) -> None:
    _, r, c = layout_and_sketches(ref, cur, bins)
    res = compare(r, c, "ks")
    exact = ks_by_brute_force(ref, cur)
    assert res.bounds is not None
    lower, upper = res.bounds
    assert lower == res.statistic
    assert res.statistic <= exact + 1e-12
    assert exact <= upper + 1e-12
    # The stated bound: D_exact <= D_binned + max over bins of the smaller of the two masses
    # (so also of the larger one).
    rs = r.value_counts / r.value_counts.sum()
    cs = c.value_counts / c.value_counts.sum()
    assert upper <= res.statistic + float(np.max(np.minimum(rs, cs))) + 1e-12
    assert res.error_bound == pytest.approx(upper - res.statistic)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(finite_floats, min_size=1, max_size=60),
    st.lists(finite_floats, min_size=1, max_size=60),
    st.integers(1, 12),
)
def test_binned_wasserstein_is_within_its_bounds_of_the_registered_test(
    ref: list[float], cur: list[float], bins: int
) -> None:
    _, r, c = layout_and_sketches(ref, cur, bins)
    res = compare(r, c, "wasserstein")
    exact = detectors.stattest("wasserstein")(ref, cur).statistic
    assert res.bounds is not None
    lower, upper = res.bounds
    norm = max(float(np.std(ref)), 0.001)
    tol = 1e-9 * (1.0 + (max(ref + cur) - min(ref + cur)) / norm)
    assert lower - tol <= exact <= upper + tol
    assert lower - tol <= res.statistic <= upper + tol


def test_binned_estimates_are_close_on_realistic_data() -> None:
    rng = np.random.default_rng(14)
    ref = rng.normal(size=20_000)
    for shift, scale in [(0.0, 1.0), (0.2, 1.1), (1.0, 0.5)]:
        cur = rng.normal(shift, scale, 5000)
        layout = NumericLayout.from_reference(ref)
        r, c = sketch(ref, layout), sketch(cur, layout)
        w = compare(r, c, "wasserstein")
        exact_w = detectors.stattest("wasserstein")(ref, cur).statistic
        assert w.statistic == pytest.approx(exact_w, rel=0.05, abs=0.005)
        k = compare(r, c, "ks")
        exact = stats.ks_2samp(ref, cur)
        assert exact.statistic - 0.01 <= k.statistic <= exact.statistic
        assert k.p_value is not None
        assert k.p_value >= exact.pvalue


def test_wasserstein_uses_the_exact_reference_std_with_the_floor() -> None:
    layout = NumericLayout.from_reference([5.0] * 10)
    r, c = sketch([5.0] * 10, layout), sketch([5.0] * 5 + [6.0] * 5, layout)
    res = compare(r, c, "wasserstein")
    # The reference is constant: norm 0.001, exact distance 0.5 (half the mass moves by 1).
    assert res.statistic == pytest.approx(500.0)
    assert res.bounds == pytest.approx((500.0, 500.0))
    assert detectors.stattest("wasserstein")([5.0] * 10, [5.0] * 5 + [6.0] * 5).statistic == (
        pytest.approx(500.0)
    )
