"""``policy="evidently"`` against Evidently 0.7 itself, run on the same data.

For every column: the same test chosen, the same score (p-values to 1e-6 relative,
distances to 1e-9 absolute), the same verdict; and the same dataset share and verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from detectors import DriftResult, detect_drift
from detectors.backends.evidently import detect_drift as evidently_drift

Columns = dict[str, Any]


def assert_same(ours: DriftResult, theirs: DriftResult) -> None:
    assert [c.column for c in ours.columns] == sorted(
        (c.column for c in theirs.columns), key=[c.column for c in ours.columns].index
    )
    for t in theirs.columns:
        o = ours.by_column(t.column)
        assert (o.method, o.kind, o.threshold, o.drifted) == (
            t.method,
            t.kind,
            t.threshold,
            t.drifted,
        ), t.column
        if t.p_value is not None:
            assert o.p_value == pytest.approx(t.p_value, rel=1e-6, abs=1e-300), t.column
        else:
            assert o.p_value is None
            assert o.statistic == pytest.approx(t.statistic, abs=1e-9), t.column
    assert ours.drift_share == pytest.approx(theirs.drift_share, abs=1e-12)
    assert ours.dataset_drift == theirs.dataset_drift


def compare(reference: Mapping[str, Any], current: Mapping[str, Any]) -> DriftResult:
    ours = detect_drift(reference, current, policy="evidently")
    assert_same(ours, evidently_drift(reference, current))
    return ours


def mixed(n: int, rng: np.random.Generator, shift: float) -> Columns:
    return {
        "amount": rng.lognormal(3.0 + shift, 1.0, n),
        "score": rng.normal(shift, 1.0, n),
        "small_int": rng.choice([0, 1, 2], n, p=[0.4 - shift / 4, 0.3, 0.3 + shift / 4]),
        "five_levels": rng.integers(0, 5, n).astype(np.float64),  # float: numerical, 5 values
        "binary_float": rng.integers(0, 2, n).astype(np.float64),
        "many_int": rng.integers(0, 50 + int(10 * shift), n),  # int, > 10 values: numerical
        "country": rng.choice(["de", "fr", "it", "es"], n).astype(object),
        "flag": rng.choice(["yes", "no"], n, p=[0.5 + shift / 3, 0.5 - shift / 3]).astype(object),
        "is_new": rng.random(n) < 0.3 + shift / 5,
    }


@pytest.mark.parametrize("n", [300, 1000, 1001, 5000])
@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_mixed_types_small_and_large_reference(n: int, shift: float) -> None:
    rng = np.random.default_rng(n)
    compare(mixed(n, rng, 0.0), mixed(n, rng, shift))


def test_all_numerical() -> None:
    rng = np.random.default_rng(7)
    ref = {f"x{i}": rng.normal(0, 1 + i / 10, 2000) for i in range(8)}
    cur = {f"x{i}": rng.normal(0.05 * i, 1 + i / 10, 1500) for i in range(8)}
    result = compare(ref, cur)
    assert {c.method for c in result.columns} == {"wasserstein"}


def test_integer_columns_with_few_unique_values_are_categorical() -> None:
    rng = np.random.default_rng(8)
    ref = {"rating": rng.integers(1, 6, 800), "clicks": rng.integers(0, 10, 800)}
    cur = {"rating": rng.integers(1, 6, 700), "clicks": rng.integers(0, 10, 700)}
    ref["visits"], cur["visits"] = rng.integers(0, 11, 800), rng.integers(0, 11, 700)
    result = compare(ref, cur)
    # At most 10 distinct integers: categorical; 11: numerical.
    assert [c.kind for c in result.columns] == ["categorical", "categorical", "numerical"]
    assert result.by_column("rating").method == "chisquare"
    assert result.by_column("visits").method == "ks"


@pytest.mark.parametrize("n", [600, 4000])
def test_nan_present(n: int) -> None:
    rng = np.random.default_rng(9)
    ref, cur = mixed(n, rng, 0.0), mixed(n, rng, 0.2)
    for data in (ref, cur):
        data["score"][rng.random(n) < 0.1] = np.nan
        data["amount"][: n // 3] = np.nan  # NaN dropped per column: a third fewer rows
        country = data["country"]
        country[rng.random(n) < 0.05] = None
    result = compare(ref, cur)
    assert result.by_column("amount").n_reference == n  # sizes count missing rows


def test_a_categorical_with_1000_levels() -> None:
    rng = np.random.default_rng(10)
    levels = np.array([f"c{i}" for i in range(1000)], dtype=object)
    weights = 1.0 / np.arange(1, 1001)
    ref = {"merchant": rng.choice(levels, 20_000, p=weights / weights.sum())}
    shifted = np.roll(weights, 3)
    cur = {"merchant": rng.choice(levels, 20_000, p=shifted / shifted.sum())}
    result = compare(ref, cur)
    assert result.by_column("merchant").method == "jensenshannon"
    assert result.dataset_drift


def test_an_empty_current_window_is_a_clear_error() -> None:
    rng = np.random.default_rng(11)
    ref = {"score": rng.normal(size=500)}
    with pytest.raises(ValueError, match=r"column 'score': current has no values"):
        detect_drift(ref, {"score": np.array([], dtype=np.float64)}, policy="evidently")
    with pytest.raises(ValueError, match=r"column 'score': current has no values"):
        detect_drift(ref, {"score": np.full(10, np.nan)}, policy="evidently")


def test_columns_evidently_leaves_out_are_left_out() -> None:
    rng = np.random.default_rng(12)
    ref = {"score": rng.normal(size=300), "count": rng.integers(0, 100, 300).astype(np.uint32)}
    cur = {"score": rng.normal(size=300), "count": rng.integers(0, 100, 300).astype(np.uint32)}
    result = compare(ref, cur)
    assert [c.column for c in result.columns] == ["score"]


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown policy 'nannyml'; known: default, evidently"):
        detect_drift({"a": [1.0]}, {"a": [1.0]}, policy="nannyml")
