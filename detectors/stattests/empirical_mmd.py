"""Maximum mean discrepancy with a Gaussian kernel and a permutation p-value."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from detectors.columns import finite
from detectors.effect import ks_distance
from detectors.registry import register
from detectors.types import StatResult

SEED = 0
PERMUTATIONS = 100
MAX_PER_SIDE = 1000
# A permuted statistic counts as "at least the observed one" up to rounding (as in
# scipy.stats.permutation_test), so that a relabelling giving the same groups, summed in
# another order, counts. Kernel values are in [0, 1], so MMD^2 has a fixed scale and an
# absolute tolerance fits.
_TIE_TOL = 1e-12


@register(
    "empirical_mmd", kinds={"numerical"}, decision="p_value", threshold=0.1, default_min_effect=0.1
)
def empirical_mmd(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """Unbiased MMD^2 with a Gaussian RBF kernel, permutation p-value, on finite values.

    Each side with more than ``MAX_PER_SIDE`` (1,000) finite values is first subsampled
    without replacement to 1,000, so the cost is bounded at any n: the pooled kernel matrix
    has at most 2,000 x 2,000 float64 entries, about (2 * 1000)^2 * 8 bytes = 32 MB, and
    the 100 permutations are one matrix product with it. All randomness (subsampling and
    permutations) comes from ``numpy.random.default_rng(SEED)`` with ``SEED = 0``, so a
    result is reproducible.

    With x the m reference values and y the n current values (after subsampling):

    - kernel width by the median heuristic on the reference only:
      ``sigma = sqrt(0.5 * median{(x_i - x_j)^2 : all i, j})`` (the median of the m^2
      values, diagonal included, with numpy's ``method="nearest"``), and sqrt(0.5) if that
      is 0; ``k(a, b) = exp(-(a - b)^2 / (2 sigma^2))``;
    - statistic ``MMD^2 = sum_{i != j} k(x_i, x_j) / (m(m-1))
      + sum_{i != j} k(y_i, y_j) / (n(n-1)) - 2 * mean_{i, j} k(x_i, y_j)``;
    - p-value: the share of ``PERMUTATIONS`` (100) random relabellings of the pooled
      values into groups of m and n whose MMD^2 is >= the observed one (the observed
      split is not counted, so p can be 0).

    Effect size is the two-sample KS distance D of all finite values, not the subsample
    (:func:`detectors.effect.ks_distance`).

    NaN and +-inf are dropped. Fewer than 2 finite values on a side (the unbiased estimate
    is undefined): statistic 0, p-value 1, effect 0.

    Definitions as in Evidently 0.7's ``empirical_mmd`` (same sigma, same statistic, same
    p-value rule, default threshold 0.1), which differs in two ways on purpose: it uses
    numpy's unseeded global RNG, so its p-value changes between identical runs, and it
    builds the full (m+n)^2 kernel matrix, which at 100,000 rows a side is 320 GB. Squared
    distances are computed as (a - b)^2, not Evidently's a^2 - 2ab + b^2, which loses
    precision for values far from 0.
    """
    ref = finite(reference)
    cur = finite(current)
    if ref.size < 2 or cur.size < 2:
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    effect = ks_distance(ref, cur)
    rng = np.random.default_rng(SEED)
    x = _subsample(ref, rng)
    y = _subsample(cur, rng)
    m, n = x.size, y.size

    pooled = np.concatenate([x, y])
    kernel = np.subtract.outer(pooled, pooled)
    np.square(kernel, out=kernel)
    sigma_sq = 0.5 * float(np.percentile(kernel[:m, :m], 50, method="nearest"))
    if sigma_sq == 0.0:
        sigma_sq = 0.5
    np.multiply(kernel, -1.0 / (2.0 * sigma_sq), out=kernel)
    np.exp(kernel, out=kernel)
    np.fill_diagonal(kernel, 0.0)

    # Column 0 is the observed split, the others random relabellings: x-membership
    # indicators, so that a group's kernel sum is a quadratic form in its indicator.
    labels = np.concatenate([np.ones(m), np.zeros(n)])
    members = np.empty((pooled.size, PERMUTATIONS + 1))
    members[:, 0] = labels
    members[:, 1:] = rng.permuted(np.tile(labels, (PERMUTATIONS, 1)), axis=1).T
    in_x = kernel @ members  # row i: kernel sum of i against each split's x-group
    in_y = kernel.sum(axis=1)[:, None] - in_x
    sum_xx = np.einsum("ip,ip->p", members, in_x)
    sum_yy = np.einsum("ip,ip->p", 1.0 - members, in_y)
    sum_xy = np.einsum("ip,ip->p", members, in_y)
    mmd2 = sum_xx / (m * (m - 1)) + sum_yy / (n * (n - 1)) - 2.0 * sum_xy / (m * n)

    observed = float(mmd2[0])
    p_value = float(np.mean(mmd2[1:] >= observed - _TIE_TOL))
    return StatResult(statistic=observed, p_value=p_value, effect_size=effect)


def _subsample(
    values: npt.NDArray[np.float64], rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    if values.size <= MAX_PER_SIDE:
        return values
    return rng.choice(values, size=MAX_PER_SIDE, replace=False)
