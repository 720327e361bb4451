from __future__ import annotations

import copy

import numpy as np
import pytest

from detectors import DriftResult, detect_drift
from detectors.types import ColumnData

N = 2000


def _frames(seed: int = 7) -> tuple[dict[str, ColumnData], dict[str, ColumnData]]:
    rng = np.random.default_rng(seed)
    cats = np.array(["red", "green", "blue"])
    reference: dict[str, ColumnData] = {
        "shifted": rng.normal(0.0, 1.0, N),
        "stable_num": rng.normal(5.0, 2.0, N),
        "mix": rng.choice(cats, N, p=[0.5, 0.3, 0.2]),
        "stable_cat": rng.choice(cats, N, p=[0.4, 0.4, 0.2]),
    }
    current: dict[str, ColumnData] = {
        "shifted": rng.normal(1.0, 1.0, N),
        "stable_num": rng.normal(5.0, 2.0, N),
        "mix": rng.choice(cats, N, p=[0.2, 0.3, 0.5]),
        "stable_cat": rng.choice(cats, N, p=[0.4, 0.4, 0.2]),
    }
    return reference, current


def test_flags_shifted_columns_only() -> None:
    reference, current = _frames()
    result = detect_drift(reference, current)
    assert isinstance(result, DriftResult)
    assert result.drifted_columns == ("shifted", "mix")
    assert result.by_column("shifted").method == "ks"
    assert result.by_column("shifted").kind == "numerical"
    assert result.by_column("mix").method == "chisquare"
    assert result.by_column("mix").kind == "categorical"
    assert result.drift_share == 0.5
    assert result.dataset_drift  # 0.5 >= default share_threshold 0.5
    stable = result.by_column("stable_num")
    assert (stable.n_reference, stable.n_current) == (N, N)


def test_tiny_shift_at_a_million_rows_is_not_drift() -> None:
    # A 0.005 sd mean shift is real but negligible: the p-value alone flags it here, the
    # effect-size floor does not.
    rng = np.random.default_rng(11)
    n = 1_000_000
    ref = {"x": rng.normal(0.0, 1.0, n)}
    cur = {"x": rng.normal(0.005, 1.0, n)}
    col = detect_drift(ref, cur).by_column("x")
    assert col.p_value is not None
    assert col.p_value < col.threshold
    assert col.effect_size < col.min_effect == 0.025
    assert not col.drifted
    # Without the floor, significance alone would call it drift.
    assert detect_drift(ref, cur, min_effect=0.0).by_column("x").drifted


def test_bonferroni_threshold_is_alpha_over_columns() -> None:
    reference, current = _frames()
    result = detect_drift(reference, current, alpha=0.05)
    assert all(c.threshold == pytest.approx(0.05 / 4) for c in result.columns)
    uncorrected = detect_drift(reference, current, alpha=0.05, correction="none")
    assert all(c.threshold == 0.05 for c in uncorrected.columns)


def test_inputs_are_not_mutated() -> None:
    reference, current = _frames()
    reference["with_nulls"] = [1.0, None, 3.0, float("nan")] * 10
    current["with_nulls"] = [None, 2.0, 2.5, 4.0] * 10
    before = copy.deepcopy((reference, current))
    detect_drift(reference, current)
    for got, want in zip((reference, current), before, strict=True):
        assert list(got) == list(want)
        for key in want:
            assert type(got[key]) is type(want[key])
            if isinstance(want[key], list):
                # repr, because NaN != NaN would fail an element-wise comparison of lists.
                assert repr(got[key]) == repr(want[key])
            else:
                np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]))


def test_list_with_none_is_inferred_numerical() -> None:
    result = detect_drift({"x": [1.0, None, 2, 3.5]}, {"x": [2.0, 1.0, None, 3]})
    assert result.by_column("x").kind == "numerical"
    assert detect_drift({"b": [True, False]}, {"b": [False, False]}).by_column("b").kind == (
        "categorical"
    )


def test_method_mapping_per_column() -> None:
    reference, current = _frames()
    kinds = {"shifted": "categorical"}
    result = detect_drift(reference, current, kinds=kinds, method={"shifted": "chisquare"})
    assert result.by_column("shifted").method == "chisquare"
    assert result.by_column("stable_num").method == "ks"  # unmapped columns use "auto"


def test_wrong_kind_names_column_method_and_kind() -> None:
    reference, current = _frames()
    with pytest.raises(ValueError, match=r"'mix'.*'ks'.*'categorical'"):
        detect_drift(reference, current, method={"mix": "ks"})


def test_column_missing_from_current_is_named() -> None:
    with pytest.raises(ValueError, match="'only_ref'"):
        detect_drift({"only_ref": [1.0]}, {"other": [1.0]})


def test_unknown_correction_is_refused() -> None:
    with pytest.raises(ValueError, match="'holm'"):
        detect_drift({"x": [1.0]}, {"x": [1.0]}, correction="holm")


def test_benjamini_hochberg_rejects_what_scipy_rejects() -> None:
    from scipy import stats  # noqa: PLC0415

    from detectors.correction import p_threshold  # noqa: PLC0415

    rng = np.random.default_rng(5)
    for _ in range(200):
        m = int(rng.integers(1, 30))
        # A mix of nulls and a few real effects, so that BH rejects sometimes.
        p = np.where(rng.random(m) < 0.3, rng.random(m) * 0.01, rng.random(m))
        t = p_threshold(0.05, p.tolist(), method="bh")
        expected = stats.false_discovery_control(p, method="bh") <= 0.05
        assert np.array_equal(p <= t, expected)


def test_benjamini_hochberg_flags_more_than_bonferroni_when_many_columns_drift() -> None:
    rng = np.random.default_rng(9)  # a draw where one shifted column has p = 0.01
    reference = {f"x{i}": rng.normal(size=400) for i in range(10)}
    # Six columns shifted by a moderate amount: their p-values are small but not tiny.
    current = {f"x{i}": rng.normal(0.35 if i < 6 else 0.0, 1.0, 400) for i in range(10)}
    bonferroni = detect_drift(reference, current, correction="bonferroni")
    bh = detect_drift(reference, current, correction="bh")
    assert set(bonferroni.drifted_columns) <= set(bh.drifted_columns)
    assert bh.columns[0].threshold >= bonferroni.columns[0].threshold
    assert len(bh.drifted_columns) > len(bonferroni.drifted_columns)


def test_a_tenth_of_a_standard_deviation_is_drift_from_ten_thousand_rows() -> None:
    # The calibration target of the default policy (bench/calibration.py measures rates).
    rng = np.random.default_rng(12)
    ref = {"x": rng.normal(0.0, 1.0, 10_000)}
    cur = {"x": rng.normal(0.1, 1.0, 10_000)}
    assert detect_drift(ref, cur).by_column("x").drifted
