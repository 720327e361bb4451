"""The shared encoder of the multivariate detectors, against hand-computed encodings."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from detectors.multivariate import fit_encoder
from detectors.multivariate.encoding import IQR_PER_SD
from detectors.multivariate.types import ranked
from detectors.types import ColumnData


def test_iqr_per_sd_is_a_normal_distributions_interquartile_range() -> None:
    assert stats.norm.ppf(0.75) - stats.norm.ppf(0.25) == pytest.approx(IQR_PER_SD, rel=1e-15)


def test_numerical_column_is_robustly_standardised_with_a_missing_indicator() -> None:
    ref = np.array([1.0, 2.0, 3.0, 4.0, 100.0, np.nan, np.inf])
    encoder = fit_encoder({"x": ref})
    (enc,) = encoder.encodings
    finite = ref[np.isfinite(ref)]
    q1, q3 = np.percentile(finite, [25, 75])
    assert enc.center == 3.0
    assert enc.scale == pytest.approx((q3 - q1) / IQR_PER_SD, rel=1e-15)
    assert encoder.names == ("x", "x[missing]")

    cur = {"x": [3.0, 5.0, None, -np.inf, float("nan")]}
    got = encoder.transform(cur)
    expected = np.array([[0.0, 0.0], [2.0 / enc.scale, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(got, expected, rtol=1e-15)
    codes = encoder.codes(cur)
    assert codes.shape == (5, 1)
    assert codes[1, 0] == pytest.approx(2.0 / enc.scale)
    assert np.isnan(codes[2:, 0]).all()


def test_scale_falls_back_to_the_std_then_to_one() -> None:
    ties = np.array([0.0] * 8 + [1.0, 5.0])  # IQR 0: more than half the values are 0
    (enc,) = fit_encoder({"x": ties}).encodings
    assert enc.scale == pytest.approx(np.std(ties), rel=1e-15)
    (const,) = fit_encoder({"x": np.full(10, 7.0)}).encodings
    assert (const.center, const.scale) == (7.0, 1.0)


def test_categorical_column_is_one_hot_over_the_top_k_with_other_and_missing() -> None:
    ref = np.array(["b"] * 5 + ["a"] * 3 + ["c"] * 3 + ["d"] + [None, np.nan], dtype=object)
    encoder = fit_encoder({"c": ref}, top_k=3)
    (enc,) = encoder.encodings
    # Most frequent first; "a" and "c" tie at 3 and sort by their string form.
    assert enc.categories == ("b", "a", "c")
    assert encoder.names == ("c=b", "c=a", "c=c", "c[other]", "c[missing]")

    cur = np.array(["a", "d", "zzz", None, float("nan"), "b"], dtype=object)
    got = encoder.transform({"c": cur})
    assert got.tolist() == [
        [0, 1, 0, 0, 0],
        [0, 0, 0, 1, 0],  # in the reference but outside the top 3
        [0, 0, 0, 1, 0],  # never seen
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1],
        [1, 0, 0, 0, 0],
    ]
    assert encoder.codes({"c": cur})[:, 0].tolist() == [1, 3, 3, 4, 4, 0]


def test_categories_are_compared_as_strings() -> None:
    encoder = fit_encoder({"c": np.array([1, 1, "2"], dtype=object)}, kinds={"c": "categorical"})
    got = encoder.transform({"c": np.array(["1", 2, 3], dtype=object)})
    assert got.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]


def test_mixed_columns_keep_their_order_and_groups() -> None:
    reference: dict[str, ColumnData] = {
        "num": [0.5, 1.5, None, 2.5],
        "cat": ["u", "v", "u", None],
        "flag": np.array([True, False, True, True]),
    }
    encoder = fit_encoder(reference)
    assert encoder.columns == ("num", "cat", "flag")
    assert encoder.kinds == ("numerical", "categorical", "categorical")
    assert encoder.names == (
        "num",
        "num[missing]",
        "cat=u",
        "cat=v",
        "cat[other]",
        "cat[missing]",
        "flag=True",
        "flag=False",
        "flag[other]",
        "flag[missing]",
    )
    assert encoder.groups.tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    x = encoder.transform(reference)
    assert x.shape == (4, 10)
    # Every categorical row has exactly one 1 in its group.
    assert (x[:, 2:6].sum(axis=1) == 1).all()
    assert (x[:, 6:].sum(axis=1) == 1).all()
    assert encoder.per_column(np.arange(10.0)).tolist() == [1.0, 2 + 3 + 4 + 5, 6 + 7 + 8 + 9]
    # Selected rows only, in the given order.
    np.testing.assert_array_equal(encoder.transform(reference, np.array([3, 0])), x[[3, 0]])


def test_a_reference_column_with_no_value_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"column 'x': every reference value is missing"):
        fit_encoder({"x": [None, np.nan, np.inf]}, kinds={"x": "numerical"})
    with pytest.raises(ValueError, match=r"column 'c': every reference value is missing"):
        fit_encoder({"c": np.array([None, np.nan], dtype=object)}, kinds={"c": "categorical"})
    with pytest.raises(ValueError, match=r"top_k must be >= 1, got 0"):
        fit_encoder({"x": [1.0, 2.0]}, top_k=0)
    with pytest.raises(ValueError, match=r"kinds names columns not in reference: 'y'"):
        fit_encoder({"x": [1.0, 2.0]}, kinds={"y": "numerical"})
    with pytest.raises(ValueError, match=r"column 'x' is numerical but holds a non-number"):
        fit_encoder({"x": ["a", "b"]}, kinds={"x": "numerical"})


def test_ranked_contributions_sort_and_share() -> None:
    got = ranked(("a", "b", "c", "d"), ("numerical",) * 4, (0.1, 0.3, -0.2, 0.1))
    assert [c.column for c in got] == ["b", "a", "d", "c"]  # ties keep the column order
    assert [c.share for c in got] == pytest.approx([0.6, 0.2, 0.2, -0.4])
    assert all(c.share == 0.0 for c in ranked(("a",), ("numerical",), (-1.0,)))
