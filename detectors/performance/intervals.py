"""Confidence intervals: Wilson, normal (for DeLong), bootstrap percentile and basic,
order statistics.

The bootstrap draws its resamples here, as count matrices: row ``r`` of a chunk says how
many times each labelled row was drawn in resample ``r`` (a multinomial of ``n`` draws
over ``n`` rows, Efron's bootstrap). A statistic of a resample is then the statistic
weighted by those counts, computed for a whole chunk with a few numpy passes (weighted
sums, cumulative sums) instead of a Python loop per resample or per row.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from scipy import stats

Floats = npt.NDArray[np.float64]
Counts = npt.NDArray[np.int64]

# Cells (resamples x rows) per chunk of count matrix: 1 MB of int64, so that a chunk and
# its temporaries stay in a core's cache; one resample a chunk from this many rows up.
# Measured at 100,000 rows: 1 resample a chunk ran the bootstrap twice as fast as 10.
CHUNK_CELLS = 131_072
# Below this many rows one bincount over the whole chunk (offset per resample) is cheaper;
# above it, one bincount per resample keeps the scattered writes in cache.
_FLAT_BINCOUNT_ROWS = 4096
# A bootstrap interval needs most resamples to define the statistic; below this share
# (e.g. almost every resample of 3 labelled rows lacks a class) it is not reported.
MIN_DEFINED_SHARE = 0.5


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile of ``confidence`` (1.96 at 0.95)."""
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def wilson(successes: float, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of the proportion ``successes / n``; (NaN, NaN) when n = 0.

    It always contains the observed proportion, stays inside [0, 1] and keeps close to
    nominal coverage down to a few rows, where the normal (Wald) interval collapses.
    """
    if n == 0:
        return math.nan, math.nan
    z = z_value(confidence)
    p = successes / n
    denom = 1.0 + z * z / n
    center = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    # Rounding must not push the bounds past the observed share (0/n and n/n).
    return max(0.0, min(center - half, p)), min(1.0, max(center + half, p))


def normal(value: float, variance: float, confidence: float) -> tuple[float, float]:
    """``value +- z * sqrt(variance)``, clipped to [0, 1] (for AUCs)."""
    if not math.isfinite(variance) or variance < 0.0:
        return math.nan, math.nan
    half = z_value(confidence) * math.sqrt(variance)
    return max(0.0, value - half), min(1.0, value + half)


def percentile(
    replicates: Floats, value: float, confidence: float, *, basic: bool = False
) -> tuple[float, float, str | None]:
    """Bootstrap interval of ``value`` from its ``replicates``: ``(lower, upper, reason)``.

    The percentile interval ``[q(alpha/2), q(1 - alpha/2)]`` of the replicates, or with
    ``basic`` the basic (reverse percentile) one, ``[2 value - q(1 - alpha/2),
    2 value - q(alpha/2)]``, which corrects a statistic biased away from its truth (the
    replicates sit as far beyond the estimate as the estimate beyond the truth). Either
    is widened to include ``value`` when every replicate falls on one side of it.

    Replicates where the statistic is undefined (NaN: a resample that drew no positive
    row, say) are left out; when fewer than half are defined the bounds are NaN and
    ``reason`` says so.
    """
    defined = replicates[np.isfinite(replicates)]
    if defined.size < MIN_DEFINED_SHARE * replicates.size or defined.size == 0:
        return (
            math.nan,
            math.nan,
            f"interval undefined: the metric is defined in only {defined.size} of "
            f"{replicates.size} bootstrap resamples",
        )
    alpha = 1.0 - confidence
    low, high = (float(q) for q in np.quantile(defined, [alpha / 2.0, 1.0 - alpha / 2.0]))
    if basic:
        low, high = 2.0 * value - high, 2.0 * value - low
    return min(low, value), max(high, value), None


def quantile_bounds(
    sorted_values: Floats, q: float, confidence: float, *, floor: float
) -> tuple[float, float]:
    """Distribution-free interval of the ``q`` quantile from the order statistics of
    ``sorted_values`` (ascending, n >= 1).

    The number of values below the true quantile is Binomial(n, q), so
    ``[x_(l), x_(u)]`` with ``l = F^-1(alpha/2)`` and ``u = F^-1(1 - alpha/2) + 1``
    (1-based ranks, F the binomial CDF) covers it with probability at least
    ``confidence`` for a continuous distribution, with no resampling. A rank below 1
    gives ``floor`` (the smallest possible value, 0 for absolute errors); a rank above n
    gives +inf: too few rows to bound that quantile from above.
    """
    n = sorted_values.size
    alpha = 1.0 - confidence
    low_rank = int(stats.binom.ppf(alpha / 2.0, n, q))
    high_rank = int(stats.binom.ppf(1.0 - alpha / 2.0, n, q)) + 1
    lower = floor if low_rank < 1 else float(sorted_values[low_rank - 1])
    upper = math.inf if high_rank > n else float(sorted_values[high_rank - 1])
    return lower, upper


def weighted_sums(counts: Counts, columns: Floats) -> Floats:
    """Each resample's weighted column sums: ``counts @ columns.T``, shape (r, k), for
    ``counts`` (r, n) and ``columns`` (k, n).

    numpy's own loop, not BLAS: with one resample a chunk this is a matrix-vector product,
    which OpenBLAS spreads over threads that spin when the cores are busy (measured ten
    times slower on a shared 2-core machine).
    """
    # Cast first: einsum's own int-to-float cast inside the loop is twice as slow.
    sums: Floats = np.einsum("rn,kn->rk", counts.astype(np.float64), columns)
    return sums


def resample_counts(n: int, n_bootstrap: int, rng: np.random.Generator) -> Iterator[Counts]:
    """Bootstrap count matrices of ``n`` rows, ``n_bootstrap`` resamples in all, in chunks
    of shape (resamples, n); every row of a chunk sums to ``n``.

    Counts stay integers: their cumulative sums (average precision) are exact and run
    several times faster than floating-point ones, which numpy cannot vectorise.
    """
    chunk = max(1, min(n_bootstrap, CHUNK_CELLS // max(n, 1)))
    for start in range(0, n_bootstrap, chunk):
        size = min(chunk, n_bootstrap - start)
        draws = rng.integers(
            0, n, size=(size, n), dtype=np.int64 if n < _FLAT_BINCOUNT_ROWS else np.int32
        )
        if n < _FLAT_BINCOUNT_ROWS:
            draws += np.arange(size)[:, None] * n
            yield np.bincount(draws.ravel(), minlength=size * n).reshape(size, n)
        else:
            out = np.empty((size, n), dtype=np.int64)
            for r in range(size):
                out[r] = np.bincount(draws[r], minlength=n)
            yield out
