"""Each stat test against scipy called directly on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from detectors.stattests.chisquare import MISSING, category_counts, chisquare
from detectors.stattests.ks import ks


def test_ks_equals_scipy() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(0.0, 1.0, 800)
    cur = rng.normal(0.2, 1.1, 600)
    expected = stats.ks_2samp(ref, cur, method="auto")
    res = ks(ref, cur)
    assert res.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert res.effect_size == res.statistic


def test_ks_uses_finite_values_only() -> None:
    rng = np.random.default_rng(2)
    ref = rng.normal(size=300)
    cur = rng.normal(0.3, 1.0, 200)
    dirty_ref = np.concatenate([ref, [np.nan, np.inf, -np.inf]])
    dirty_cur = np.concatenate([[np.nan] * 50, cur])
    expected = stats.ks_2samp(ref, cur, method="auto")
    res = ks(dirty_ref, dirty_cur)
    assert res.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_ks_without_finite_values_is_no_evidence() -> None:
    res = ks(np.array([1.0, 2.0]), np.array([np.nan, np.nan]))
    assert (res.statistic, res.p_value, res.effect_size) == (0.0, 1.0, 0.0)


def test_chisquare_equals_scipy_on_hand_built_table() -> None:
    # Categories a, b, c, MISSING; "c" never appears in the reference, and None and NaN
    # both count as the missing category.
    ref = np.array(["a"] * 30 + ["b"] * 50 + [None] * 20, dtype=object)
    cur = np.array(["a"] * 20 + ["b"] * 40 + ["c"] * 15 + [None] * 10 + [np.nan] * 15, dtype=object)
    table = np.array(
        [
            # __missing__, a, b, c  (np.unique's sorted order: "_" < "a")
            [20, 30, 50, 0],
            [25, 20, 40, 15],
        ]
    )
    ref_counts, cur_counts = category_counts(ref, cur)
    np.testing.assert_array_equal(np.vstack([ref_counts, cur_counts]), table)

    expected = stats.chi2_contingency(table, correction=False)
    res = chisquare(ref, cur)
    assert res.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    # TVD: 0.5 * (|.20-.25| + |.30-.20| + |.50-.40| + |0-.15|)
    assert res.effect_size == pytest.approx(0.2, rel=1e-12)
    assert MISSING < "a"


def test_chisquare_compares_categories_as_strings() -> None:
    ref_counts, cur_counts = category_counts(
        np.array([1, 2, 2], dtype=object), np.array(["1", "2", 2], dtype=object)
    )
    np.testing.assert_array_equal(ref_counts, [1, 2])
    np.testing.assert_array_equal(cur_counts, [1, 2])


def test_chisquare_null_rate_jump_is_detected() -> None:
    ref = np.array(["x"] * 900 + [None] * 100, dtype=object)
    cur = np.array(["x"] * 600 + [None] * 400, dtype=object)
    res = chisquare(ref, cur)
    assert res.p_value is not None
    assert res.p_value < 1e-10
    assert res.effect_size == pytest.approx(0.3)


def test_chisquare_single_category_is_degenerate() -> None:
    res = chisquare(np.array(["a"] * 5, dtype=object), np.array(["a"] * 7, dtype=object))
    assert (res.statistic, res.p_value, res.effect_size) == (0.0, 1.0, 0.0)
