"""Metrics of a classifier's scores: ROC AUC, PR AUC, log loss, Brier score, ECE."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from detectors.performance import probabilistic, ranking
from detectors.performance.intervals import Counts, normal
from detectors.performance.intervals import wilson as wilson_interval
from detectors.performance.types import MetricValue
from detectors.performance.window import Settings, metric, undefined

Floats = npt.NDArray[np.float64]
Codes = npt.NDArray[np.intp]

LOSSES = ("log_loss", "brier", "ece")


def binary(
    scores: Floats, positive: npt.NDArray[np.bool_], pos: int, *, bins: int, settings: Settings
) -> list[MetricValue]:
    """Score metrics of a binary task. ``scores`` are the positive class's (1-d) or an
    (n, 2) matrix whose column ``pos`` is; ``positive`` marks the truly positive rows."""
    n = positive.size
    s = scores[:, pos] if scores.ndim == 2 else scores
    out: list[MetricValue] = []
    p = ranking.placements(s, positive)
    if p is None:
        out.append(undefined("roc_auc", n, "delong", "the labelled rows hold one class only"))
    else:
        smaller = min(p.positive.size, p.negative.size)
        out.append(
            _auc(
                p.auc,
                ranking.delong_variance(p),
                n=n,
                smaller=smaller,
                method="delong",
                settings=settings,
            )
        )
    # From here on rows are in score order, and the resamples are drawn in that order.
    layout = ranking.pr_layout(s, positive)
    ranked = s[layout.order]
    losses = None
    if bool(np.all((ranked >= 0.0) & (ranked <= 1.0))):
        two = np.empty((n, 2))
        two[:, pos], two[:, 1 - pos] = ranked, 1.0 - ranked
        true = np.where(positive[layout.order], pos, 1 - pos).astype(np.intp)
        losses = probabilistic.row_losses(two, true, bins=bins, binary=True)
    has_positive = layout.positive_at.size > 0

    def statistics(counts: Counts) -> dict[str, Floats]:
        values = losses.weighted(counts) if losses is not None else {}
        if has_positive:
            values["pr_auc"] = ranking.average_precision(counts, layout)
        return values

    point, replicates = settings.resample_rows(n, statistics)
    if has_positive:
        out.append(settings.bootstrapped("pr_auc", point["pr_auc"], replicates["pr_auc"], n))
    else:
        out.append(undefined("pr_auc", n, settings.method(), "no labelled row is positive"))
    if losses is None:
        why = "scores are not probabilities (outside [0, 1])"
        out += [undefined(name, n, settings.method(basic=name == "ece"), why) for name in LOSSES]
    else:
        out += _losses(point, replicates, n, settings)
    return out


def multiclass(
    prob: Floats, true: Codes, classes: tuple[object, ...], *, bins: int, settings: Settings
) -> list[MetricValue]:
    """Score metrics of a multiclass task from an (n, k) probability matrix (checked by
    the caller), columns in class order."""
    n, k = prob.shape
    out: list[MetricValue] = []
    absent = [classes[c] for c in np.flatnonzero(np.bincount(true, minlength=k) == 0)]
    why = f"no labelled row of class(es) {absent!r}"
    auc = ranking.macro_ovr(prob, true)
    if auc is None:
        out.append(undefined("roc_auc", n, "delong-ovr", f"one-vs-rest AUC undefined: {why}"))
    else:
        sizes = np.bincount(true, minlength=k)
        smaller = int(min(sizes.min(), (n - sizes).min()))
        out.append(
            _auc(auc[0], auc[1], n=n, smaller=smaller, method="delong-ovr", settings=settings)
        )
    # Rows grouped by confidence bin, so that each bin is one run; any order does for the rest.
    by_bin = np.argsort(probabilistic.confidence_bins(prob.max(axis=1), bins), kind="stable")
    prob, true = prob[by_bin], true[by_bin]
    layouts = [ranking.pr_layout(prob[:, c], true == c) for c in range(k)] if not absent else []
    losses = probabilistic.row_losses(prob, true, bins=bins, binary=False)

    def statistics(counts: Counts) -> dict[str, Floats]:
        values = losses.weighted(counts)
        if layouts:
            aps = [ranking.average_precision(counts[:, lay.order], lay) for lay in layouts]
            values["pr_auc"] = np.mean(aps, axis=0)
        return values

    point, replicates = settings.resample_rows(n, statistics)
    if layouts:
        out.append(settings.bootstrapped("pr_auc", point["pr_auc"], replicates["pr_auc"], n))
    else:
        out.append(undefined("pr_auc", n, settings.method(), why))
    return out + _losses(point, replicates, n, settings)


def _auc(
    value: float, variance: float, *, n: int, smaller: int, method: str, settings: Settings
) -> MetricValue:
    """An AUC with its DeLong interval; where DeLong's variance is 0 (perfect separation:
    every placement 0 or 1) or undefined (a class of one row), the max-variance bound
    instead, ``Var(AUC) <= AUC (1 - AUC) / min(m, k)`` (van Dantzig 1951, Birnbaum and
    Klose 1957), inverted as a score interval: Wilson's with ``min(m, k)`` trials, so a
    window of few labels never claims a point-sized interval."""
    if math.isfinite(variance) and variance > 0.0:
        return metric("roc_auc", value, normal(value, variance, settings.confidence), n, method)
    bounds = wilson_interval(value * smaller, smaller, settings.confidence)
    return metric("roc_auc", value, bounds, n, "max-variance")


def _losses(
    point: dict[str, float], replicates: dict[str, Floats], n: int, settings: Settings
) -> list[MetricValue]:
    """Log loss and Brier with percentile intervals; ECE with the basic one (clipped at
    0): ECE sums absolute bin gaps, so noise only adds to it and its resamples sit above
    the estimate (the percentile interval of a well-calibrated model misses 0)."""
    return [
        settings.bootstrapped(name, point[name], replicates[name], n)
        for name in ("log_loss", "brier")
    ] + [settings.bootstrapped("ece", point["ece"], replicates["ece"], n, basic=True, floor=0.0)]
