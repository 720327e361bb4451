"""mmd_drift against a direct O(n^2) numpy formula, scipy's distances and known truths."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scipy.spatial.distance import cdist, pdist

from detectors.multivariate import fit_encoder, mmd_drift
from detectors.multivariate.mmd import (
    categorical_mmd2,
    permuted_mmd2,
    squared_distances,
    to_kernel,
)
from detectors.types import ColumnData

Columns = dict[str, ColumnData]


def direct_mmd2(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], sigma: float) -> float:
    """The unbiased MMD^2 term by term, distances by scipy."""
    m, n = len(x), len(y)
    kxx = np.exp(-cdist(x, x, "sqeuclidean") / (2 * sigma**2))
    kyy = np.exp(-cdist(y, y, "sqeuclidean") / (2 * sigma**2))
    kxy = np.exp(-cdist(x, y, "sqeuclidean") / (2 * sigma**2))
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def median_sigma(z: npt.NDArray[np.float64]) -> float:
    """sqrt(median / 2) of the pairwise squared distances, lower median, all pairs."""
    return float(np.sqrt(np.quantile(pdist(z, "sqeuclidean"), 0.5, method="lower") / 2))


def mixed(seed: int, n_ref: int, n_cur: int, shift: float = 0.0) -> tuple[Columns, Columns]:
    rng = np.random.default_rng(seed)

    def side(n: int, s: float) -> Columns:
        x = rng.normal(s, 1.0, n)
        x[rng.random(n) < 0.1] = np.nan
        return {
            "x": x,
            "y": rng.exponential(2.0, n),
            "c": rng.choice(np.array(["a", "b", "c", None], dtype=object), n),
        }

    return side(n_ref, 0.0), side(n_cur, shift)


def test_statistic_and_bandwidth_equal_the_direct_formula() -> None:
    reference, current = mixed(seed=1, n_ref=60, n_cur=45, shift=0.5)
    result = mmd_drift(reference, current, permutations=50)

    encoder = fit_encoder(reference)
    x, y = encoder.transform(reference), encoder.transform(current)
    sigma = median_sigma(np.vstack([x, y]))
    assert result.bandwidth == pytest.approx(sigma, rel=1e-12)
    assert result.statistic == pytest.approx(direct_mmd2(x, y, sigma), abs=1e-12)
    assert (result.n_reference, result.n_current) == (60, 45)
    assert (result.n_reference_used, result.n_current_used) == (60, 45)
    assert (result.threshold, result.permutations, result.max_per_side) == (0.05, 50, 2000)

    fixed = mmd_drift(reference, current, bandwidth=0.7, permutations=10)
    assert fixed.bandwidth == 0.7
    assert fixed.statistic == pytest.approx(direct_mmd2(x, y, 0.7), abs=1e-12)


def test_contributions_are_each_columns_mmd2_alone() -> None:
    reference, current = mixed(seed=2, n_ref=50, n_cur=40, shift=0.8)
    result = mmd_drift(reference, current, permutations=10)
    encoder = fit_encoder(reference)
    x, y = encoder.transform(reference), encoder.transform(current)
    by_column = {c.column: c for c in result.contributions}
    for g, col in enumerate(encoder.columns):
        block = encoder.groups == g
        sigma = median_sigma(np.vstack([x[:, block], y[:, block]]))
        expected = direct_mmd2(x[:, block], y[:, block], sigma)
        assert by_column[col].value == pytest.approx(expected, abs=1e-12), col
    assert result.top_columns[0] == "x"
    positive = sum(c.value for c in result.contributions if c.value > 0)
    for c in result.contributions:
        assert c.share == pytest.approx(c.value / positive)


def test_categorical_closed_form_equals_the_kernel_matrix() -> None:
    rng = np.random.default_rng(3)
    codes = rng.choice(4, size=70, p=[0.7, 0.2, 0.05, 0.05])
    one_hot = np.eye(5)[codes]
    m = 30
    # Squared distances are 0 or 2 (the lower median is 0 here, as 0.7^2 + 0.2^2 > 1/2 of
    # the pairs tie), so the median heuristic's fallback to the non-zero ones gives 2.
    assert set(np.unique(pdist(one_hot, "sqeuclidean"))) == {0.0, 2.0}
    assert median_sigma(one_hot) == 0.0
    expected = direct_mmd2(one_hot[:m], one_hot[m:], 1.0)
    assert categorical_mmd2(codes, m, 5) == pytest.approx(expected, abs=1e-12)
    assert categorical_mmd2(np.zeros(10, dtype=np.intp), 4, 5) == 0.0


def test_permuted_statistics_are_the_statistics_of_the_permuted_splits() -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(size=(25, 3))
    m, perms = 10, 20
    kernel = squared_distances(z)
    np.testing.assert_allclose(kernel, cdist(z, z, "sqeuclidean"), atol=1e-12)
    to_kernel(kernel, 1.3)
    got = permuted_mmd2(kernel, m, perms, np.random.default_rng(7))
    # The same splits, drawn the same way, each evaluated term by term.
    labels = np.r_[np.ones(m), np.zeros(25 - m)]
    splits = np.random.default_rng(7).permuted(np.tile(labels, (perms, 1)), axis=1)
    expected = [direct_mmd2(z[s == 1], z[s == 0], 1.3) for s in splits]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_p_value_is_roughly_uniform_with_no_drift() -> None:
    p_values = []
    for seed in range(100):
        rng = np.random.default_rng(1000 + seed)
        reference = {"a": rng.normal(size=30), "b": rng.normal(size=30)}
        current = {"a": rng.normal(size=25), "b": rng.normal(size=25)}
        p_values.append(mmd_drift(reference, current, permutations=99, seed=seed).p_value)
    p = np.array(p_values)
    assert 0.0 <= np.mean(p <= 0.05) <= 0.12
    assert 0.35 <= np.median(p) <= 0.65
    # p = (1 + count) / (1 + permutations): never 0, a multiple of 1/100.
    assert p.min() >= 0.01
    np.testing.assert_allclose(p * 100, np.round(p * 100), atol=1e-9)


def test_a_clear_shift_has_the_smallest_p_value_and_names_the_column() -> None:
    rng = np.random.default_rng(5)
    reference = {f"f{i}": rng.normal(size=400) for i in range(5)}
    current = {f"f{i}": rng.normal(size=300) for i in range(5)}
    current["f3"] = current["f3"] + 1.0
    result = mmd_drift(reference, current, permutations=200)
    assert result.p_value == 1 / 201
    assert result.drifted
    assert result.top_columns[0] == "f3"
    assert result.contributions[0].share > 0.5


def test_the_budget_bounds_the_rows_and_the_seed_makes_it_reproducible() -> None:
    reference, current = mixed(seed=6, n_ref=3000, n_cur=500)
    result = mmd_drift(reference, current, max_per_side=200, permutations=20)
    assert (result.n_reference, result.n_current) == (3000, 500)
    assert (result.n_reference_used, result.n_current_used) == (200, 200)
    assert result.max_per_side == 200
    assert mmd_drift(reference, current, max_per_side=200, permutations=20) == result
    other = mmd_drift(reference, current, max_per_side=200, permutations=20, seed=1)
    assert other.statistic != result.statistic


def test_beyond_a_million_pairs_the_median_comes_from_a_million_random_pairs() -> None:
    reference, current = mixed(seed=8, n_ref=900, n_cur=800)  # 1,700 rows: 1.44e6 pairs
    result = mmd_drift(reference, current, permutations=10)
    encoder = fit_encoder(reference)
    exact = median_sigma(np.vstack([encoder.transform(reference), encoder.transform(current)]))
    assert result.bandwidth != exact
    assert result.bandwidth == pytest.approx(exact, rel=0.01)


def test_identical_rows_are_no_drift() -> None:
    reference: Columns = {"x": [1.0] * 5, "c": ["a"] * 5}
    result = mmd_drift(reference, {"x": [1.0] * 4, "c": ["a"] * 4})
    assert (result.statistic, result.p_value, result.drifted, result.bandwidth) == (
        0.0,
        1.0,
        False,
        1.0,
    )
    assert all(c.value == 0.0 for c in result.contributions)


def test_bad_input_is_a_value_error_naming_it() -> None:
    good: Columns = {"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0, 4.0]}
    with pytest.raises(ValueError, match=r"current is empty \(0 rows\)"):
        mmd_drift(good, {"a": [], "b": []})
    with pytest.raises(ValueError, match=r"needs 2 rows a side, got 3 and 1"):
        mmd_drift(good, {"a": [1.0], "b": [2.0]})
    with pytest.raises(ValueError, match=r"no columns in common .*'a', 'b'.*'z'"):
        mmd_drift(good, {"z": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"columns in reference but not in current: 'b'"):
        mmd_drift(good, {"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"current column 'b' has 1 rows, 'a' has 2"):
        mmd_drift(good, {"a": [1.0, 2.0], "b": [1.0]})
    with pytest.raises(ValueError, match=r"column 'b': every reference value is missing"):
        mmd_drift({"a": [1.0, 2.0], "b": [None, None]}, good, kinds={"b": "numerical"})
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\), got 1.5"):
        mmd_drift(good, good, alpha=1.5)
    with pytest.raises(ValueError, match=r"bandwidth must be a positive number, got 0.0"):
        mmd_drift(good, good, bandwidth=0.0)
    with pytest.raises(ValueError, match=r"permutations must be >= 1, got 0"):
        mmd_drift(good, good, permutations=0)
