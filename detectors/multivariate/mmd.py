"""Maximum mean discrepancy of all columns jointly, on a bounded subsample."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from detectors.multivariate.encoding import TOP_K, CategoricalEncoding, Encoder, encoder_for
from detectors.multivariate.inputs import n_rows, resolve_columns, sample_rows
from detectors.multivariate.types import MMDDrift, ranked
from detectors.types import ColumnData

# 2,000 rows a side: the pooled kernel matrix is 4,000 x 4,000 float64 (128 MB), and the
# whole test takes about a second, at any number of rows.
MAX_PER_SIDE = 2_000
PERMUTATIONS = 500
# The median heuristic looks at every pair up to this many pairs (about 1,400 pooled rows),
# and at this many pairs drawn at random beyond: the median of a million draws is within
# about 0.2% of the exact one, and costs a hundredth of sorting 8 million pairs.
MEDIAN_PAIRS = 1_000_000
# A permuted statistic counts as "at least the observed one" up to rounding (as in
# scipy.stats.permutation_test): kernel values lie in [0, 1], so MMD^2 has a fixed scale.
_TIE_TOL = 1e-12
_Matrix = npt.NDArray[np.float64]


def mmd_drift(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData],
    *,
    kinds: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    max_per_side: int = MAX_PER_SIDE,
    permutations: int = PERMUTATIONS,
    bandwidth: float | None = None,
    top_k: int = TOP_K,
    seed: int = 0,
) -> MMDDrift:
    """Unbiased MMD^2 between the reference and current rows, with a permutation p-value.

    The columns (the keys of ``reference``, each required in ``current``) are encoded by
    one encoder fitted on the whole reference (:mod:`detectors.multivariate.encoding`,
    ``top_k`` categories per categorical column). Then at most ``max_per_side`` rows a
    side are drawn uniformly without replacement; with x the m reference rows and y the n
    current rows so drawn:

    - kernel ``k(a, b) = exp(-||a - b||^2 / (2 bandwidth^2))``; the bandwidth, unless
      given, by the median heuristic on the pooled rows: ``sqrt(median / 2)``, where
      ``median`` is the lower median of the squared distances of all pairs of distinct
      pooled rows (of ``MEDIAN_PAIRS`` random pairs when there are more), or, when that
      median is 0, of the non-zero ones;
    - ``MMD^2 = sum_{i != j} k(x_i, x_j) / (m(m-1)) + sum_{i != j} k(y_i, y_j) / (n(n-1))
      - 2 mean_{i,j} k(x_i, y_j)``;
    - ``p_value = (1 + #{permuted MMD^2 >= MMD^2}) / (1 + permutations)`` over random
      relabellings of the pooled rows into groups of m and n, all evaluated from the one
      kernel matrix; ``drifted`` iff ``p_value <= alpha``.

    Contributions: the MMD^2 of each column alone (its encoded columns only, the same
    bandwidth rule, the same rows). A column alone cannot show a change in the relation
    between columns (a correlation break): the joint statistic can, and
    :func:`detectors.multivariate.reconstruction_drift` says which columns carry it.

    Cost: one (m + n)^2 float64 matrix (128 MB at the default 2,000 a side) and about
    ``(m + n)^2 * (permutations + columns)`` operations, whatever the input size. All
    randomness comes from ``numpy.random.default_rng(seed)``. When every pooled row is
    alike (all squared distances 0): statistic 0, p-value 1, bandwidth 1 unless given.

    ValueError for fewer than 2 rows on a side, columns missing from ``current``, a
    reference column with no value (all missing), or a bad argument.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if max_per_side < 2:
        raise ValueError(f"max_per_side must be >= 2, got {max_per_side!r}")
    if permutations < 1:
        raise ValueError(f"permutations must be >= 1, got {permutations!r}")
    if bandwidth is not None and not (0.0 < bandwidth < np.inf):
        raise ValueError(f"bandwidth must be a positive number, got {bandwidth!r}")
    columns, kinds_ = resolve_columns(reference, current, kinds)
    n_ref = n_rows("reference", reference, columns)
    n_cur = n_rows("current", current, columns)
    if min(n_ref, n_cur) < 2:
        raise ValueError(f"MMD^2 (unbiased) needs 2 rows a side, got {n_ref} and {n_cur}")
    encoder = encoder_for(reference, columns, kinds_, top_k=top_k)
    rng = np.random.default_rng(seed)
    x = encoder.transform(reference, sample_rows(n_ref, max_per_side, rng))
    y = encoder.transform(current, sample_rows(n_cur, max_per_side, rng))
    m = x.shape[0]
    pooled = np.vstack([x, y])
    del x, y
    pairs = pair_sample(pooled.shape[0], rng)

    kernel = squared_distances(pooled)
    median = median_heuristic(kernel[pairs])
    sigma = bandwidth if bandwidth is not None else (1.0 if median is None else np.sqrt(median / 2))
    if median is None:  # every row alike: no discrepancy whatever the bandwidth
        statistic, p_value = 0.0, 1.0
    else:
        to_kernel(kernel, sigma)
        statistic = mmd2(kernel, m)
        permuted = permuted_mmd2(kernel, m, permutations, rng)
        p_value = (1 + int(np.count_nonzero(permuted >= statistic - _TIE_TOL))) / (1 + permutations)
    values = _contributions(pooled, encoder, m, pairs, buffer=kernel)
    del kernel
    return MMDDrift(
        statistic=statistic,
        p_value=p_value,
        threshold=alpha,
        drifted=p_value <= alpha,
        bandwidth=float(sigma),
        permutations=permutations,
        max_per_side=max_per_side,
        n_reference=n_ref,
        n_current=n_cur,
        n_reference_used=m,
        n_current_used=pooled.shape[0] - m,
        contributions=ranked(columns, kinds_, values),
    )


def squared_distances(z: _Matrix) -> _Matrix:
    """Squared Euclidean distances of all pairs of rows of ``z``, via ``|a|^2 + |b|^2 -
    2 a.b`` (one matrix product), rounding below 0 clipped and the diagonal exactly 0."""
    sq = np.einsum("ij,ij->i", z, z)
    out = z @ z.T
    out *= -2.0
    out += sq[:, None]
    out += sq[None, :]
    np.maximum(out, 0.0, out=out)
    np.fill_diagonal(out, 0.0)
    return out


def pair_sample(
    n: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Index pairs ``(i, j)``, ``i != j``, for the median heuristic: every pair ``i < j``
    when there are at most ``MEDIAN_PAIRS``, else ``MEDIAN_PAIRS`` uniform random pairs."""
    if n * (n - 1) // 2 <= MEDIAN_PAIRS:
        i, j = np.triu_indices(n, 1)
        return i, j
    i = rng.integers(0, n, MEDIAN_PAIRS)
    j = rng.integers(0, n - 1, MEDIAN_PAIRS)
    j += j >= i  # uniform over the n - 1 rows other than i
    return i, j


def median_heuristic(sq: _Matrix) -> float | None:
    """Lower median of the squared distances ``sq``; of the non-zero ones when that is 0;
    None when every one is 0."""
    median = _lower_median(sq)
    if median > 0.0:
        return median
    nonzero = sq[sq > 0.0]
    return _lower_median(nonzero) if nonzero.size else None


def to_kernel(sq: _Matrix, bandwidth: float) -> None:
    """Squared distances -> Gaussian RBF kernel values, in place, diagonal set to 0 (the
    unbiased estimate leaves out each row's similarity with itself)."""
    np.multiply(sq, -1.0 / (2.0 * bandwidth**2), out=sq)
    np.exp(sq, out=sq)
    np.fill_diagonal(sq, 0.0)


def mmd2(kernel: _Matrix, m: int) -> float:
    """Unbiased MMD^2 of rows ``:m`` against rows ``m:`` of a kernel matrix with a zero
    diagonal."""
    n = kernel.shape[0] - m
    return float(
        kernel[:m, :m].sum() / (m * (m - 1))
        + kernel[m:, m:].sum() / (n * (n - 1))
        - 2.0 * kernel[:m, m:].sum() / (m * n)
    )


def permuted_mmd2(kernel: _Matrix, m: int, permutations: int, rng: np.random.Generator) -> _Matrix:
    """MMD^2 of ``permutations`` random splits of the rows into m and the rest.

    Each split is an indicator vector u of its first group; the group sums are quadratic
    forms, ``u'Ku``, ``u'K(1-u)`` and the rest, so all splits take one product of the
    kernel with the matrix of indicators, not one kernel pass each.
    """
    size = kernel.shape[0]
    n = size - m
    labels = np.zeros(size)
    labels[:m] = 1.0
    members = rng.permuted(np.tile(labels, (permutations, 1)), axis=1).T
    in_x = kernel @ members  # row i: kernel sum of i against each split's first group
    row_sums = kernel.sum(axis=1)
    sum_xx = np.einsum("ip,ip->p", members, in_x)
    sum_xy = np.einsum("ip,ip->p", members, row_sums[:, None] - in_x)
    sum_yy = row_sums.sum() - sum_xx - 2.0 * sum_xy
    result: _Matrix = sum_xx / (m * (m - 1)) + sum_yy / (n * (n - 1)) - 2.0 * sum_xy / (m * n)
    return result


def _contributions(
    pooled: _Matrix,
    encoder: Encoder,
    m: int,
    pairs: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]],
    *,
    buffer: _Matrix,
) -> list[float]:
    """MMD^2 of each column alone: its encoded columns, the median-heuristic bandwidth.

    A numerical column is its standardised value v and missing indicator u, at squared
    distance ``(v_i - v_j)^2 + (u_i - u_j)^2``: built from the two vectors in ``buffer``
    (a pooled-size matrix reused for every column), its median from the sampled pairs
    alone. A categorical column needs no matrix (:func:`categorical_mmd2`).
    """
    i, j = pairs
    values = []
    for g, encoding in enumerate(encoder.encodings):
        block = pooled[:, encoder.groups == g]
        if isinstance(encoding, CategoricalEncoding):
            values.append(categorical_mmd2(np.argmax(block, axis=1), m, block.shape[1]))
            continue
        v, missing = block[:, 0], block[:, 1] > 0.0
        median = median_heuristic((v[i] - v[j]) ** 2 + (missing[i] != missing[j]))
        if median is None:
            values.append(0.0)
            continue
        np.subtract.outer(v, v, out=buffer)
        np.square(buffer, out=buffer)
        if missing.any():
            buffer += np.not_equal.outer(missing, missing)
        to_kernel(buffer, np.sqrt(median / 2))
        values.append(mmd2(buffer, m))
    return values


def categorical_mmd2(codes: npt.NDArray[np.intp], m: int, k: int) -> float:
    """MMD^2 of one one-hot-encoded column from its category counts, without a matrix.

    Two rows are at squared distance 0 (same category) or 2, so the median heuristic
    always gives ``bandwidth^2 = 1`` (a median of 0 falls back to the non-zero ones), the
    kernel is 1 or ``e^-1``, and each kernel sum is a sum over categories. 0 when every
    row has the same category.
    """
    cx = np.bincount(codes[:m], minlength=k).astype(np.float64)
    cy = np.bincount(codes[m:], minlength=k).astype(np.float64)
    if np.count_nonzero(cx + cy) < 2:
        return 0.0
    n = codes.size - m
    far = float(np.exp(-1.0))
    same_xx = float(cx @ (cx - 1.0))
    same_yy = float(cy @ (cy - 1.0))
    same_xy = float(cx @ cy)
    sum_xx = same_xx + far * (m * (m - 1) - same_xx)
    sum_yy = same_yy + far * (n * (n - 1) - same_yy)
    sum_xy = same_xy + far * (m * n - same_xy)
    return sum_xx / (m * (m - 1)) + sum_yy / (n * (n - 1)) - 2.0 * sum_xy / (m * n)


def _lower_median(values: _Matrix) -> float:
    k = (values.size - 1) // 2
    median: float = np.partition(values, k)[k]
    return float(median)
