"""Binary classification metrics from sufficient statistics, realized and expected.

For fixed scores and threshold, the five metrics of a labelling ``y`` depend on ``y`` only
through three sums: ``tp = sum(y * yhat)``, ``positives = sum(y)`` and
``rank_sum = sum(y * rank)``, with ``yhat = score >= threshold`` and ``rank`` the midrank
of the score (ties share their mean rank). ROC AUC is then the Mann-Whitney form
``(rank_sum - positives (positives + 1) / 2) / (positives * negatives)``, which counts a
tied positive-negative pair as half, like ``sklearn.metrics.roc_auc_score``. This is what
lets the interval draw thousands of labellings as one matrix product.

A metric whose denominator is 0 is NaN ("undefined"), never a warning: precision with no
predicted positive, recall with no positive, F1 with neither, ROC AUC with one class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PerformanceMetrics:
    """Accuracy, precision, recall, F1 and ROC AUC of the positive class (NaN: undefined)."""

    accuracy: float
    precision: float
    recall: float
    f1: float
    roc_auc: float

    def value(self, metric: str) -> float:
        """The metric named ``metric`` (one of ``METRICS``)."""
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
        return float(getattr(self, metric))


def midranks(scores: FloatArray) -> FloatArray:
    """Ranks 1..n of ``scores``, ties sharing their mean rank."""
    ranks: FloatArray = stats.rankdata(scores, method="average").astype(np.float64)
    return ranks


def basis(predicted: FloatArray, ranks: FloatArray) -> FloatArray:
    """The (n, 3) matrix ``[yhat, 1, rank]``: a labelling ``y`` times it gives
    ``(tp, positives, rank_sum)``."""
    return np.column_stack([predicted, np.ones_like(predicted), ranks])


def _dot(a: FloatArray, b: FloatArray) -> float:
    # Not BLAS's dot: on a loaded machine its threads cost ~10x the arithmetic.
    return float(np.sum(a * b))


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    # 0/0 is an undefined metric, reported as NaN without numpy's RuntimeWarning.
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def from_statistics(statistics: FloatArray, *, predicted_positives: float, n: int) -> FloatArray:
    """Metrics of each row ``(tp, positives, rank_sum)`` of ``statistics`` (k, 3), as a
    (5, k) array in ``METRICS`` order.

    ``predicted_positives`` is ``sum(yhat)`` and ``n`` the number of rows: both fixed by
    the scores alone.
    """
    tp, positives, rank_sum = statistics[:, 0], statistics[:, 1], statistics[:, 2]
    fn = positives - tp
    fp = predicted_positives - tp
    tn = n - predicted_positives - fn
    negatives = n - positives
    return np.stack(
        [
            (tp + tn) / n,
            _ratio(tp, np.full_like(tp, predicted_positives)),
            _ratio(tp, positives),
            _ratio(2.0 * tp, 2.0 * tp + fp + fn),
            _ratio(rank_sum - positives * (positives + 1.0) / 2.0, positives * negatives),
        ]
    )


def realized(labels: FloatArray, predicted: FloatArray, ranks: FloatArray) -> PerformanceMetrics:
    """The metrics of 0/1 ``labels`` given predictions ``yhat`` and score midranks."""
    row = (labels @ basis(predicted, ranks))[None, :]
    values = from_statistics(row, predicted_positives=float(predicted.sum()), n=labels.size)
    return PerformanceMetrics(*(float(v) for v in values[:, 0]))


@dataclass(frozen=True, slots=True)
class ExpectedConfusion:
    """Expected confusion matrix counts of a window: with calibrated probability ``p_i``
    and prediction ``yhat_i``, ``tp = sum p_i yhat_i``, ``fp = sum (1 - p_i) yhat_i``,
    ``fn = sum p_i (1 - yhat_i)``, ``tn = sum (1 - p_i) (1 - yhat_i)``. They add up to n."""

    tp: float
    fp: float
    tn: float
    fn: float


def expected(
    probabilities: FloatArray, predicted: FloatArray, ranks: FloatArray
) -> tuple[ExpectedConfusion, PerformanceMetrics]:
    """The expected confusion matrix and the metrics computed from expected counts, each
    a ratio of expectations (NannyML's CBPE estimates, but for ROC AUC, below).

    ROC AUC: ``E[U] / E[positives * negatives]`` over independent ``y_i ~ Bernoulli(p_i)``,
    U the Mann-Whitney count of correctly ordered positive-negative pairs, in closed form:
    ``E[U] = sum p_i r_i - P - (P^2 - sum p_i^2) / 2`` and
    ``E[positives * negatives] = P (n - P) - sum p_i (1 - p_i)``, with ``P = sum p_i`` and
    ``r_i`` the midrank of the raw score. Pairs tied in score count half. NannyML instead
    sorts by score and integrates the curve of cumulative expected TPR and FPR; that also
    pairs each row with itself and breaks ties by sort order, a difference of order 1/n.
    With ``p`` all 0 or 1 every value here is the realized metric of those labels.
    """
    p = probabilities
    n = p.size
    total = float(p.sum())
    tp = _dot(p, predicted)
    npp = float(predicted.sum())
    fn = total - tp
    fp = npp - tp
    tn = n - npp - fn
    pairs = total * (n - total) - _dot(p, 1.0 - p)
    u = _dot(p, ranks) - total - (total * total - _dot(p, p)) / 2.0
    num = np.array([tp + tn, tp, tp, 2.0 * tp, u])
    den = np.array([n, npp, total, npp + total, pairs])
    values = _ratio(num, den)
    # Rounding can leave a hair outside [0, 1] when p is all 0 or 1.
    values = np.clip(values, 0.0, 1.0)
    return ExpectedConfusion(tp=tp, fp=fp, tn=tn, fn=fn), PerformanceMetrics(*map(float, values))
