"""detectors.sketch_drift: detect_drift's default policy applied to sketches, checked
against detect_drift on the raw rows the sketches summarise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from detectors import detect_drift, detect_drift_sketches, stattest
from detectors.sketches import (
    METHODS,
    CategoricalLayout,
    Layout,
    NumericLayout,
    Sketch,
    compare,
    merge,
    sketch,
)
from detectors.types import ColumnData, DriftResult

CATS = np.array(["a", "b", "c", "d", None], dtype=object)


def _layouts(reference: dict[str, np.ndarray]) -> dict[str, Layout]:
    out: dict[str, Layout] = {}
    for col, values in reference.items():
        if values.dtype == object:
            out[col] = CategoricalLayout.from_reference(values)
        else:
            out[col] = NumericLayout.from_reference(values)
    return out


def _sketches(data: dict[str, np.ndarray], layouts: dict[str, Layout]) -> dict[str, Sketch]:
    return {col: sketch(values, layouts[col]) for col, values in data.items()}


def _on_sketches(
    reference: dict[str, np.ndarray], current: dict[str, np.ndarray], **kwargs: object
) -> DriftResult:
    layouts = _layouts(reference)
    return detect_drift_sketches(
        _sketches(reference, layouts),
        _sketches(current, layouts),
        **kwargs,  # type: ignore[arg-type]
    )


# --- categorical: the raw test's result -----------------------------------------------------


@pytest.mark.parametrize("method", ["auto", "chisquare"])
def test_categorical_verdicts_equal_detect_drift_on_the_raw_rows(method: str) -> None:
    rng = np.random.default_rng(21)
    base = [0.4, 0.3, 0.15, 0.1, 0.05]
    reference = {c: rng.choice(CATS, 5000, p=base) for c in ("same", "moved", "nulls")}
    current = {
        "same": rng.choice(CATS, 3000, p=base),
        "moved": rng.choice(CATS, 3000, p=[0.33, 0.3, 0.2, 0.12, 0.05]),
        "nulls": rng.choice(CATS, 3000, p=[0.35, 0.25, 0.15, 0.1, 0.15]),
    }
    raw = detect_drift(reference, current, method=method)
    got = _on_sketches(reference, current, method=method)
    assert raw.drifted_columns == got.drifted_columns == ("moved", "nulls")
    assert (got.drift_share, got.dataset_drift) == (raw.drift_share, raw.dataset_drift)
    for r, s in zip(raw.columns, got.columns, strict=True):
        # Exactly equal: everything the verdict is made of but the floats of the test.
        assert (s.column, s.kind, s.method, s.drifted) == (r.column, r.kind, "chisquare", r.drifted)
        assert (s.threshold, s.min_effect) == (r.threshold, r.min_effect)
        assert (s.n_reference, s.n_current) == (r.n_reference, r.n_current) == (5000, 3000)
        assert s.missing is None
        # The same counts, but in layout order (top-k, then missing) instead of sorted
        # labels: sums taken in another order may differ in the last bits.
        assert s.statistic == pytest.approx(r.statistic, rel=1e-12)
        assert s.p_value == pytest.approx(r.p_value, rel=1e-9)
        assert s.effect_size == pytest.approx(r.effect_size, rel=1e-12)
    moved = got.by_column("moved")
    assert moved.p_value is not None
    assert moved.p_value < 1e-6
    assert moved.effect_size >= 0.03


# --- numerical: binned ks ---------------------------------------------------------------------


def test_a_shifted_column_drifts_and_an_unshifted_one_does_not() -> None:
    rng = np.random.default_rng(22)
    reference = {"shifted": rng.normal(size=20_000), "steady": rng.normal(size=20_000)}
    current = {"shifted": rng.normal(0.25, 1.0, size=8000), "steady": rng.normal(size=8000)}
    layouts = _layouts(reference)
    ref_sk, cur_sk = _sketches(reference, layouts), _sketches(current, layouts)
    result = detect_drift_sketches(ref_sk, cur_sk)
    assert result.drifted_columns == ("shifted",)
    assert result.dataset_drift  # 1 of 2 columns >= 0.5
    for col in ("shifted", "steady"):
        got = result.by_column(col)
        raw_ks = stattest("ks")(reference[col], current[col]).statistic
        bounds = compare(ref_sk[col], cur_sk[col], "ks").bounds
        assert bounds is not None
        assert bounds[0] <= raw_ks <= bounds[1]
        # The statistic is the lower bound: never above the raw D.
        assert got.statistic == bounds[0]
        assert got.method == "ks"
        assert got.effect_size == got.statistic
        assert got.min_effect == stattest("ks").default_min_effect == 0.025
        assert (got.n_reference, got.n_current) == (20_000, 8000)
        assert got.missing is None  # no missing value on either side
    shifted, steady = result.by_column("shifted"), result.by_column("steady")
    assert shifted.p_value is not None
    assert steady.p_value is not None
    assert shifted.p_value < 1e-20
    assert shifted.effect_size > 0.08
    assert steady.p_value > 0.05
    assert steady.effect_size < 0.025
    # Same verdicts as the raw-row policy.
    assert detect_drift(reference, current).drifted_columns == ("shifted",)


def test_merged_bucket_sketches_decide_as_one_sketch_of_all_rows() -> None:
    rng = np.random.default_rng(23)
    reference = {"x": rng.lognormal(size=10_000), "c": rng.choice(CATS, 10_000)}
    window = {
        "x": np.concatenate([rng.lognormal(0.1, 1.0, size=6000), [math.nan] * 300, [math.inf]]),
        "c": rng.choice(CATS, 6301, p=[0.3, 0.2, 0.2, 0.2, 0.1]),
    }
    layouts = _layouts(reference)
    cuts = np.sort(rng.choice(np.arange(1, 6301), size=47, replace=False))
    merged = {
        col: merge(*[sketch(part, layouts[col]) for part in np.split(values, cuts)])
        for col, values in window.items()
    }
    whole = _sketches(window, layouts)
    assert merged == whole
    ref_sk = _sketches(reference, layouts)
    from_buckets = detect_drift_sketches(ref_sk, merged, correction="bh")
    assert from_buckets == detect_drift_sketches(ref_sk, whole, correction="bh")
    assert from_buckets.drifted_columns == ("x", "c")
    assert from_buckets.by_column("x").n_current == 6301


# --- the null-rate check ----------------------------------------------------------------------


def test_a_fifth_of_a_numerical_column_going_missing_is_drift() -> None:
    rng = np.random.default_rng(24)
    reference = {"x": rng.normal(size=5000)}
    values = rng.normal(size=5000)
    values[rng.random(5000) < 0.2] = np.nan
    values[:10] = np.inf  # +-inf count as missing, as in detect_drift
    values[10:20] = -np.inf
    current = {"x": values}
    got = _on_sketches(reference, current).by_column("x")
    raw = detect_drift(reference, current).by_column("x")
    # The values that are there did not move ...
    assert got.p_value is not None
    assert got.p_value > got.threshold
    assert got.effect_size < 0.025
    # ... but a fifth of the column went missing: the same counts give the same check.
    assert got.missing is not None
    assert got.missing == raw.missing
    assert got.missing.reference == 0.0
    assert got.missing.current == pytest.approx(0.2, abs=0.02)
    assert got.missing.p_value < 1e-10
    assert got.missing.drifted
    assert got.drifted
    # Two p-values in the family: the ks test and the null-rate check.
    assert got.threshold == raw.threshold == 0.05 / 2
    assert (got.n_reference, got.n_current) == (5000, 5000)


def test_a_small_null_rate_change_is_not_drift_below_min_missing_change() -> None:
    reference = {"x": np.tile(np.arange(100.0), 100)}
    current = {"x": np.tile(np.r_[np.arange(99.0), np.nan], 100)}  # 1% missing
    got = _on_sketches(reference, current, min_missing_change=0.02).by_column("x")
    assert got.missing is not None
    assert got.missing.p_value < 1e-20
    assert not got.missing.drifted
    assert _on_sketches(reference, current, min_missing_change=0.01).by_column("x").drifted


# --- the correction family --------------------------------------------------------------------


def _two_categories(n_a: int, n_b: int) -> np.ndarray:
    return np.array(["a"] * n_a + ["b"] * n_b, dtype=object)


def test_bonferroni_over_more_columns_turns_a_borderline_verdict() -> None:
    # 1070 of 2000 against 1000 of 2000: chi-square p = 0.027, effect 0.035 >= 0.03.
    reference = {"border": _two_categories(1000, 1000)}
    current = {"border": _two_categories(1070, 930)}
    p = stats.chi2_contingency([[1000, 1000], [1070, 930]], correction=False).pvalue
    assert 0.05 / 3 < p < 0.05

    alone = _on_sketches(reference, current).by_column("border")
    assert alone.p_value == pytest.approx(p, rel=1e-12)
    assert alone.threshold == 0.05
    assert alone.drifted

    rng = np.random.default_rng(25)
    steady = rng.normal(size=2000)
    steady_nan = np.r_[steady[:1990], [np.nan] * 10]
    reference |= {"other": _two_categories(1000, 1000), "num": steady}
    current |= {"other": _two_categories(1000, 1000), "num": steady_nan}
    family = _on_sketches(reference, current)
    border = family.by_column("border")
    # Four p-values: border, other, num's ks and num's null-rate check.
    assert border.threshold == 0.05 / 4
    assert border.p_value == alone.p_value
    assert not border.drifted
    assert family.drifted_columns == ()
    # Without correction the same column drifts again.
    assert _on_sketches(reference, current, correction="none").by_column("border").drifted


def test_distances_are_decided_on_their_effect_and_stay_out_of_the_family() -> None:
    rng = np.random.default_rng(26)
    reference = {"x": rng.normal(size=5000), "c": rng.choice(CATS, 5000)}
    current = {"x": rng.normal(0.5, 1.0, size=5000), "c": rng.choice(CATS, 5000)}
    result = _on_sketches(reference, current, method={"x": "psi"}, min_effect={"c": 0.5})
    x, c = result.by_column("x"), result.by_column("c")
    assert x.method == "psi"
    assert x.p_value is None
    assert x.min_effect == stattest("psi").default_min_effect
    assert x.drifted == (x.effect_size >= x.min_effect)
    assert x.drifted
    # Only c's chi-square p-value is in the family.
    assert c.threshold == 0.05
    assert c.min_effect == 0.5
    assert not c.drifted


# --- errors -------------------------------------------------------------------------------------


def _numeric_pair() -> tuple[dict[str, Sketch], dict[str, Sketch]]:
    rng = np.random.default_rng(27)
    x = rng.normal(size=1000)
    layout = NumericLayout.from_reference(x)
    return {"x": sketch(x, layout)}, {"x": sketch(x[:500], layout)}


@pytest.mark.parametrize("name", ["anderson", "no_such_test"])
def test_a_method_sketches_cannot_compute_is_refused(name: str) -> None:
    ref, cur = _numeric_pair()
    with pytest.raises(ValueError, match="cannot be computed from sketches") as info:
        detect_drift_sketches(ref, cur, method={"x": name})
    message = str(info.value)
    assert "'x'" in message
    assert repr(name) in message
    assert ", ".join(METHODS) in message


def test_a_method_of_another_kind_is_refused() -> None:
    ref, cur = _numeric_pair()
    with pytest.raises(ValueError, match=r"column 'x': method 'chisquare' does not support"):
        detect_drift_sketches(ref, cur, method="chisquare")


def test_sketches_of_different_layouts_or_kinds_are_refused() -> None:
    ref, cur = _numeric_pair()
    other = NumericLayout(np.array([-1.0, 0.0, 1.0]))
    values: ColumnData = [0.5, 2.0]
    with pytest.raises(ValueError, match=r"column 'x': .*different layouts"):
        detect_drift_sketches(ref, {"x": sketch(values, other)})
    categorical = sketch(np.array(["a"], dtype=object), CategoricalLayout(("a",)))
    with pytest.raises(ValueError, match=r"column 'x': .*numerical .*categorical"):
        detect_drift_sketches(ref, {"x": categorical})
    assert detect_drift_sketches(ref, cur).by_column("x").n_current == 500


def test_missing_columns_and_bad_arguments_are_refused_like_detect_drift() -> None:
    ref, cur = _numeric_pair()
    with pytest.raises(ValueError, match="column 'x' is in reference but not in current"):
        detect_drift_sketches(ref, {"y": cur["x"]})
    with pytest.raises(ValueError, match="reference has no columns"):
        detect_drift_sketches({}, cur)
    with pytest.raises(ValueError, match="method names columns not in reference: 'y'"):
        detect_drift_sketches(ref, cur, method={"y": "ks"})
    with pytest.raises(ValueError, match="unknown correction 'holm'"):
        detect_drift_sketches(ref, cur, correction="holm")
    with pytest.raises(ValueError, match="alpha must be in"):
        detect_drift_sketches(ref, cur, alpha=1.0)
