"""Per-row losses of predicted probabilities: Brier, log loss, and calibration error.

Each metric is made of sums over rows divided by n, so the metric of a bootstrap
resample is the same sums weighted by its counts (:meth:`RowLosses.weighted`): no Python
loop over rows or resamples.

- Brier: ``sum_k (p_k - [y = k])^2`` per row (multiclass, range 0..2); halved for a
  binary task, where it equals ``(p_positive - [y = positive])^2``, sklearn's
  ``brier_score_loss``.
- Log loss: ``-ln p_y`` with ``p_y`` clipped to ``[eps, 1 - eps]`` (float64 eps), as
  sklearn's ``log_loss``.
- ECE (expected calibration error, Guo et al. 2017): the confidence of a row is its
  largest probability, its prediction that class (ties: the first in label order),
  correct when it is the true class. Rows go into equal-width bins of confidence,
  ``(0, 1/B], (1/B, 2/B], ..., ((B-1)/B, 1]``, and
  ``ECE = sum_b (n_b / n) |accuracy_b - mean confidence_b|
  = sum_b |sum_{i in b} (correct_i - confidence_i)| / n``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.performance.intervals import weighted_sums

Floats = npt.NDArray[np.float64]

_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True, slots=True)
class RowLosses:
    """Per-row losses, rows in some fixed order.

    ``values`` (2, n) holds each row's Brier and log loss; ``gap`` its correct (0/1) minus
    its confidence, and ``starts`` the first row of each run of rows in the same
    confidence bin (``run_bin``) in this order: a bin's gap sum is the sum of its runs.
    """

    values: Floats
    gap: Floats
    starts: npt.NDArray[np.intp]
    run_bin: npt.NDArray[np.intp]
    bins: int

    def weighted(self, counts: npt.NDArray[np.int64]) -> dict[str, Floats]:
        """``brier``, ``log_loss`` and ``ece`` of the rows weighted by each row of
        ``counts`` (shape (r, n), each row summing to n); ones give the point values."""
        n = self.gap.size
        sums = weighted_sums(counts, self.values)
        runs = np.add.reduceat(counts * self.gap, self.starts, axis=1)
        by_bin = np.zeros((counts.shape[0], self.bins))
        for b in range(self.bins):
            by_bin[:, b] = runs[:, self.run_bin == b].sum(axis=1)
        return {
            "brier": sums[:, 0] / n,
            "log_loss": sums[:, 1] / n,
            "ece": np.abs(by_bin).sum(axis=1) / n,
        }


def row_losses(
    probabilities: Floats, true: npt.NDArray[np.intp], *, bins: int, binary: bool
) -> RowLosses:
    """Per-row losses of ``probabilities`` (n, k), columns in class order, for the true
    class codes ``true``; rows stay in the order given, so give them grouped by
    confidence bin where possible (sorted by score, say): fewer runs, faster resamples."""
    n, k = probabilities.shape
    rows = np.arange(n)
    onehot = np.zeros((n, k))
    onehot[rows, true] = 1.0
    brier = ((probabilities - onehot) ** 2).sum(axis=1)
    if binary:
        brier *= 0.5
    log_loss = -np.log(np.clip(probabilities[rows, true], _EPS, 1.0 - _EPS))
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities[rows, predicted]
    which = confidence_bins(confidence, bins)
    starts = np.flatnonzero(np.concatenate([[True], which[1:] != which[:-1]]))
    gap = (predicted == true) - confidence
    return RowLosses(np.vstack([brier, log_loss]), gap, starts, which[starts], bins)


def confidence_bins(confidence: Floats, bins: int) -> npt.NDArray[np.intp]:
    """Bin of each confidence: ``(0, 1/B] -> 0``, ..., ``((B-1)/B, 1] -> B - 1``."""
    inner_edges = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    return np.searchsorted(inner_edges, confidence, side="left")
