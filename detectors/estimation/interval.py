"""Draws of the sufficient statistics of labellings the calibrated probabilities imply.

Each draw is one labelling of the window, ``y_i ~ Bernoulli(p_i)`` independently, with
``p`` from one of the calibrators (the draws are shared out evenly among them), reduced to
``(tp, positives, rank_sum)`` (:mod:`detectors.estimation.metrics`). If the calibration
holds, the metric of a draw is distributed as the window's realized metric; spreading the
draws over bootstrap calibrators adds the calibration's own uncertainty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

Interval = Literal["exact", "normal"]
INTERVALS = ("auto", "exact", "normal")
# "auto" draws labels exactly up to this many (draw, row) cells, ~0.3 s; beyond it the
# three sums are sums of thousands of independent terms and their normal approximation
# is as good as exact draws, at a cost independent of the number of draws.
EXACT_MAX_CELLS = 20_000_000
# (draw, row) cells per chunk of exact draws: bounds their memory to ~70 MB.
_CHUNK_CELLS = 4_000_000

FloatArray = npt.NDArray[np.float64]


def choose(method: str, n: int, draws: int) -> Interval:
    """The method ``method`` ("auto": exact up to ``EXACT_MAX_CELLS`` cells) resolves to."""
    if method == "auto":
        return "exact" if n * draws <= EXACT_MAX_CELLS else "normal"
    if method == "exact":
        return "exact"
    if method == "normal":
        return "normal"
    raise ValueError(f"unknown interval {method!r}; known: {', '.join(INTERVALS)}")


def draw(
    calibrators: Sequence[Callable[[FloatArray], FloatArray]],
    scores: FloatArray,
    basis: FloatArray,
    *,
    draws: int,
    rng: np.random.Generator,
    method: Interval,
) -> FloatArray:
    """(draws, 3) sums ``y @ basis`` of labellings drawn from the probabilities each
    calibrator gives ``scores``, the draws shared out evenly among the calibrators.

    One calibrator's probabilities at a time, so memory is O(n) whatever their number.
    Sorted ``scores`` make the calibrators' interpolation several times faster.
    """
    count = len(calibrators)
    out = np.empty((draws, basis.shape[1]))
    # One contiguous row per basis column, for the row-wise sums below. The normal
    # approximation needs sum w_i basis_i basis_i^T for each calibrator's weights; the
    # products of basis columns, made once, turn that into one weighted sum per pair.
    pairs = np.triu_indices(basis.shape[1])
    columns = np.ascontiguousarray(basis.T)
    products = columns[pairs[0]] * columns[pairs[1]] if method == "normal" else columns
    start = 0
    for c, calibrate in enumerate(calibrators):
        k = draws // count + (c < draws % count)
        if k == 0:
            continue
        p = calibrate(scores)
        if method == "exact":
            out[start : start + k] = _exact(p, columns, k, rng)
        else:
            out[start : start + k] = _normal(p, columns, products, pairs, draws=k, rng=rng)
        start += k
    return out


def _exact(p: FloatArray, columns: FloatArray, draws: int, rng: np.random.Generator) -> FloatArray:
    out = np.empty((draws, columns.shape[0]))
    rows = max(1, _CHUNK_CELLS // max(p.size, 1))
    for start in range(0, draws, rows):
        stop = min(draws, start + rows)
        labels = rng.random((stop - start, p.size)) < p
        # einsum's own loops rather than BLAS, as in _normal (4x faster when loaded).
        out[start:stop] = np.einsum("kn,jn->kj", labels.astype(np.float64), columns)
    return out


def _normal(
    p: FloatArray,
    columns: FloatArray,
    products: FloatArray,
    pairs: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]],
    *,
    draws: int,
    rng: np.random.Generator,
) -> FloatArray:
    # The sums are sums of independent vectors y_i * basis_i: mean sum p_i basis_i,
    # covariance sum p_i (1 - p_i) basis_i basis_i^T. The covariance can be singular (every
    # row predicted positive makes tp = positives), hence a square root by eigenvalues.
    # Sums by numpy's reductions, not BLAS: on a loaded machine (2 cores shared) OpenBLAS's
    # threads made this function about 4 times slower (12.6 vs 3.5 ms at 200,000 rows).
    mean = (columns * p).sum(axis=1)
    dim = columns.shape[0]
    cov = np.zeros((dim, dim))
    cov[pairs] = (products * (p * (1.0 - p))).sum(axis=1)
    cov = cov + np.triu(cov, 1).T
    values, vectors = np.linalg.eigh(cov)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    out: FloatArray = mean + rng.standard_normal((draws, dim)) @ root.T
    return out


def clip_normal(statistics: FloatArray, *, predicted_positives: float, n: int) -> FloatArray:
    """Normal draws made sums that labellings can have: ``tp`` and ``fn = positives - tp``
    whole numbers with ``0 <= tp <= predicted positives`` and ``0 <= fn <= n - predicted
    positives``, and ``rank_sum`` that many positives times the draw's mean positive rank,
    within its extremes (exact draws are all this already). Whole counts keep a metric
    undefined where it must be (ROC AUC of a draw with no positive or no negative), and
    keeping the mean rank keeps ROC AUC exactly 0.5 when every score is tied."""
    out = statistics.copy()
    tp = np.clip(np.rint(out[:, 0]), 0.0, predicted_positives)
    fn = np.clip(np.rint(out[:, 1] - out[:, 0]), 0.0, n - predicted_positives)
    positives = tp + fn
    mean_rank = np.full(positives.shape, (n + 1.0) / 2.0)
    np.divide(out[:, 2], out[:, 1], out=mean_rank, where=out[:, 1] > 0.0)
    low = positives * (positives + 1.0) / 2.0
    high = positives * (2.0 * n - positives + 1.0) / 2.0
    out[:, 0], out[:, 1] = tp, positives
    out[:, 2] = np.clip(positives * mean_rank, low, high)
    return out


def percentile(values: FloatArray, confidence: float) -> tuple[float, float]:
    """Central ``confidence`` percentile interval of the finite ``values``; NaNs (draws in
    which the metric is undefined) are left out, and all-NaN gives ``(nan, nan)``."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)
