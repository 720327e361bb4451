"""The default policy's null-rate check, per-column effect floors and their calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from detectors import calibrate_min_effect, detect_drift, stattest
from detectors.proportions import missing_rate_change, two_proportion_z
from detectors.types import ColumnData


def _with_nulls(values: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    out = values.copy()
    out[rng.random(out.size) < share] = np.nan
    return out


def test_a_jump_in_the_null_rate_of_a_numerical_column_is_drift() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    ref = {"x": _with_nulls(rng.normal(size=n), 0.01, rng)}
    cur = {"x": _with_nulls(rng.normal(size=n), 0.20, rng)}
    col = detect_drift(ref, cur).by_column("x")
    # The values that are there did not move: KS alone sees nothing ...
    assert col.p_value is not None
    assert col.p_value > col.threshold
    # ... but a fifth of the column went missing.
    assert col.missing is not None
    assert col.missing.reference == pytest.approx(0.01, abs=0.005)
    assert col.missing.current == pytest.approx(0.20, abs=0.02)
    assert col.missing.p_value < 1e-10
    assert col.missing.drifted
    assert col.drifted


def test_infinities_and_none_count_as_missing() -> None:
    ref: dict[str, ColumnData] = {"x": [1.0, 2.0, 3.0, 4.0] * 250}
    cur: dict[str, ColumnData] = {"x": [1.0, 2.0, None, np.inf] * 250}
    col = detect_drift(ref, cur, kinds={"x": "numerical"}).by_column("x")
    assert col.missing is not None
    assert (col.missing.reference, col.missing.current) == (0.0, 0.5)
    assert col.missing.drifted


def test_no_missing_value_on_either_side_means_no_null_rate_check() -> None:
    rng = np.random.default_rng(4)
    result = detect_drift(
        {"x": rng.normal(size=500), "c": np.array(["a", None] * 250, dtype=object)},
        {"x": rng.normal(size=500), "c": np.array(["a", "b"] * 250, dtype=object)},
    )
    assert result.by_column("x").missing is None
    # Categorical tests count missing as a category of their own; no separate check.
    assert result.by_column("c").missing is None
    assert result.by_column("c").drifted


def test_a_significant_but_small_null_rate_change_is_not_drift() -> None:
    rng = np.random.default_rng(5)
    n = 400_000
    ref = {"x": _with_nulls(rng.normal(size=n), 0.010, rng)}
    cur = {"x": _with_nulls(rng.normal(size=n), 0.014, rng)}
    col = detect_drift(ref, cur).by_column("x")
    assert col.missing is not None
    assert col.missing.p_value < col.threshold  # real at this size ...
    assert not col.missing.drifted  # ... but 0.4 points is below min_missing_change (1 point)
    assert detect_drift(ref, cur, min_missing_change=0.001).by_column("x").missing.drifted  # type: ignore[union-attr]


def test_null_rate_p_values_share_the_correction_family() -> None:
    rng = np.random.default_rng(6)
    ref = {f"x{i}": _with_nulls(rng.normal(size=300), 0.1, rng) for i in range(3)}
    cur = {f"x{i}": _with_nulls(rng.normal(size=300), 0.1, rng) for i in range(3)}
    result = detect_drift(ref, cur, alpha=0.06)
    # 3 value tests + 3 null-rate checks: Bonferroni over 6 p-values.
    assert result.columns[0].threshold == pytest.approx(0.01)


def test_missing_rate_change_matches_the_chi_square_2x2_test() -> None:
    table = np.array([[120, 880], [180, 1320 - 180]])
    res = missing_rate_change(120, 1000, 180, 1320)
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert res.p_value == pytest.approx(p, rel=1e-9)
    assert res.statistic == pytest.approx(180 / 1320 - 0.12)
    assert res.effect_size == pytest.approx(abs(180 / 1320 - 0.12))
    z = two_proportion_z(0.12, 1000, 180 / 1320, 1320)
    assert z is not None
    assert z[0] ** 2 == pytest.approx(chi2, rel=1e-9)


def test_missing_rate_change_uses_fisher_when_counts_are_small() -> None:
    res = missing_rate_change(0, 200, 4, 200)
    assert res.p_value == pytest.approx(stats.fisher_exact([[0, 200], [4, 196]]).pvalue)
    assert missing_rate_change(0, 0, 3, 10).p_value == 1.0
    assert missing_rate_change(0, 10, 0, 10).p_value == 1.0


def test_per_column_min_effect() -> None:
    rng = np.random.default_rng(7)
    ref = {"a": rng.normal(size=4000), "b": rng.normal(size=4000)}
    cur = {"a": rng.normal(0.3, 1, 4000), "b": rng.normal(0.3, 1, 4000)}
    result = detect_drift(ref, cur, min_effect={"a": 0.9})
    assert result.by_column("a").min_effect == 0.9
    assert not result.by_column("a").drifted
    assert result.by_column("b").min_effect == stattest("ks").default_min_effect
    assert result.by_column("b").drifted
    with pytest.raises(ValueError, match="min_effect names columns not in reference: 'zz'"):
        detect_drift(ref, cur, min_effect={"zz": 0.1})
    with pytest.raises(ValueError, match="min_effect for column 'a' must be >= 0, got -1"):
        detect_drift(ref, cur, min_effect={"a": -1})
    with pytest.raises(ValueError, match="min_missing_change must be in"):
        detect_drift(ref, cur, min_missing_change=2.0)


def _reference(n: int, seed: int) -> dict[str, ColumnData]:
    rng = np.random.default_rng(seed)
    return {
        "normal": rng.normal(size=n),
        "poisson": rng.poisson(2.0, n).astype(float),
        "cat": rng.choice(np.array(["a", "b", "c", "d"]), n, p=[0.4, 0.3, 0.2, 0.1]),
    }


def test_calibrated_floors_shrink_with_the_window_and_respect_the_defaults() -> None:
    ref = _reference(20_000, 8)
    small = calibrate_min_effect(ref, 200, trials=100)
    large = calibrate_min_effect(ref, 5000, trials=100)
    for col in ref:
        assert small[col] > large[col]
    assert min(large.values()) >= 0.025
    assert large["cat"] >= stattest("chisquare").default_min_effect
    # KS D's 95% null quantile at m = 200 against a large reference is about 1.36 / sqrt(200).
    assert small["normal"] == pytest.approx(1.36 / np.sqrt(200), rel=0.2)
    assert calibrate_min_effect(ref, 200, trials=50, seed=1) == calibrate_min_effect(
        ref, 200, trials=50, seed=1
    )


def test_calibrated_floors_hold_the_no_drift_rate_of_the_effect() -> None:
    # Fresh no-drift windows exceed the floor about (1 - quantile) of the time.
    ref = _reference(10_000, 9)
    floors = calibrate_min_effect(ref, 300, trials=300, quantile=0.9)
    rng = np.random.default_rng(10)
    fresh = [_reference(300, int(s)) for s in rng.integers(0, 2**31, 300)]
    over = np.mean(
        [stattest("ks")(ref["normal"], w["normal"]).effect_size > floors["normal"] for w in fresh]
    )  # type: ignore[operator]
    assert 0.04 <= over <= 0.17


def test_calibrate_refuses_bad_arguments() -> None:
    ref = _reference(100, 1)
    with pytest.raises(ValueError, match="window_size must be >= 1, got 0"):
        calibrate_min_effect(ref, 0)
    with pytest.raises(ValueError, match="quantile must be in"):
        calibrate_min_effect(ref, 10, quantile=1.0)
    with pytest.raises(ValueError, match="column 'e'"):
        calibrate_min_effect({"e": []}, 10)
    with pytest.raises(ValueError, match="does not support kind 'categorical'"):
        calibrate_min_effect(ref, 10, method={"cat": "ks"})
