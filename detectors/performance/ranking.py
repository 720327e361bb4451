"""Ranking metrics: ROC AUC with DeLong's variance, and average precision.

ROC AUC is the Mann-Whitney probability that a positive row scores above a negative one
(ties count one half), from midranks: equal to sklearn's ``roc_auc_score``. DeLong et al.
(1988) write it as the mean of each positive row's placement (the share of negatives
below it) and derive its variance from the spread of the placements of both classes;
it is the delta-method variance of the AUC, so the multiclass one-vs-rest macro AUC gets
its variance the same way: each row's influence on the macro mean is the mean of its
influences on the per-class AUCs, and the variance is the sum of their squares.

Average precision (sklearn's ``average_precision_score``, the PR AUC without
interpolation): ``sum_t (R_t - R_t-1) P_t`` over the distinct scores t, highest first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Placements:
    """DeLong's placements of one binary split: for each positive row the share of
    negative rows scored below it, for each negative row the share of positive rows
    scored above it (ties count one half)."""

    auc: float
    positive: Floats
    negative: Floats


def placements(scores: Floats, positive: Mask) -> Placements | None:
    """The placements of ``scores`` split by ``positive``; None when a class is empty."""
    pos, neg = scores[positive], scores[~positive]
    m, k = pos.size, neg.size
    if m == 0 or k == 0:
        return None
    ranks = stats.rankdata(np.concatenate([pos, neg]))
    v_pos = (ranks[:m] - stats.rankdata(pos)) / k
    v_neg = 1.0 - (ranks[m:] - stats.rankdata(neg)) / m
    return Placements(float(v_pos.mean()), v_pos, v_neg)


def delong_variance(p: Placements) -> float:
    """DeLong's variance of the AUC: ``S10 / m + S01 / k`` with S10 and S01 the sample
    variances (ddof 1) of the positive and negative placements; NaN when a class has a
    single row (no spread to estimate)."""
    m, k = p.positive.size, p.negative.size
    if m < 2 or k < 2:
        return math.nan
    return float(p.positive.var(ddof=1) / m + p.negative.var(ddof=1) / k)


def macro_ovr(probabilities: Floats, true: npt.NDArray[np.intp]) -> tuple[float, float] | None:
    """One-vs-rest macro AUC over the k columns of ``probabilities`` (sklearn's
    ``roc_auc_score(multi_class="ovr", average="macro")``) and its delta-method variance;
    None when some class has no row, or every row (its AUC is undefined)."""
    k = probabilities.shape[1]
    influence = np.zeros(true.size)
    aucs = []
    for c in range(k):
        positive = true == c
        p = placements(probabilities[:, c], positive)
        if p is None:
            return None
        aucs.append(p.auc)
        # A row's influence on AUC_c: (placement - AUC_c) / class size, by its side.
        influence[positive] += (p.positive - p.auc) / p.positive.size
        influence[~positive] += (p.negative - p.auc) / p.negative.size
    influence /= k
    return float(np.mean(aucs)), float(np.sum(influence * influence))


@dataclass(frozen=True, slots=True)
class PRLayout:
    """Rows ordered by score, highest first, for average precision on weighted rows.

    ``order`` sorts the rows; in that order ``positive_at`` are the positions of the
    positive rows, ``group_end`` (per positive) the position of the last row tied with
    it, and ``tp_end`` (per positive) the index, among the positives, of the last positive
    at or above that position: precision at a positive's threshold is then (positive
    weight up to ``tp_end``) / (all weight up to ``group_end``).
    """

    order: npt.NDArray[np.intp]
    positive_at: npt.NDArray[np.intp]
    group_end: npt.NDArray[np.intp]
    tp_end: npt.NDArray[np.intp]
    ties: bool


def pr_layout(scores: Floats, positive: Mask) -> PRLayout:
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    end_of = np.repeat(ends, np.diff(np.concatenate([[-1], ends])))
    positive_at = np.flatnonzero(positive[order])
    group_end = end_of[positive_at]
    tp_end = np.searchsorted(positive_at, group_end, side="right") - 1
    return PRLayout(order, positive_at, group_end, tp_end, ties=ends.size < scores.size)


def average_precision(counts: npt.NDArray[np.int64], layout: PRLayout) -> Floats:
    """Average precision of the rows weighted by each row of ``counts`` (shape (r, n),
    columns in ``layout.order``): NaN where no positive row has weight."""
    out = np.full(counts.shape[0], np.nan)
    if layout.positive_at.size == 0:
        return out
    w_pos = counts[:, layout.positive_at]
    tp = np.cumsum(w_pos, axis=1)
    total_pos = tp[:, -1].copy()
    everything = np.cumsum(counts, axis=1)[:, layout.group_end]
    if layout.ties:
        tp = tp[:, layout.tp_end]
    # everything >= tp >= 0; where it is 0 so is the positive's weight, so the term is 0.
    # Integer product first: one floating-point pass instead of two.
    terms = (w_pos * tp) / np.maximum(everything, 1)
    np.divide(terms.sum(axis=1), total_pos, out=out, where=total_pos > 0)
    return out
