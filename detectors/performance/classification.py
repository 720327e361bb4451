"""Performance of a classifier on the labelled rows of a window."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from detectors.performance import counts, scoring
from detectors.performance.inputs import Encoded, check_length, encode, first_row
from detectors.performance.intervals import wilson
from detectors.performance.types import ConfusionMatrix, MetricValue, PerformanceResult, Task
from detectors.performance.window import NO_LABELS, Settings, coverage, metric, undefined
from detectors.types import ColumnData

Floats = npt.NDArray[np.float64]

AVERAGED = tuple(f"{m}_{a}" for a in ("macro", "weighted") for m in counts.AVERAGED)
# A probability matrix's rows must sum to 1 within this (float32 probabilities do).
SUM_TOLERANCE = 1e-6


def classification_performance(
    y_true: ColumnData,
    y_pred: ColumnData,
    *,
    scores: npt.ArrayLike | None = None,
    labels: Sequence[object] | None = None,
    positive: object | None = None,
    n_predictions: int | None = None,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    ece_bins: int = 10,
    seed: int = 0,
) -> PerformanceResult:
    """Classification metrics of predictions ``y_pred`` against labels ``y_true``, each
    with a ``confidence`` interval and the number of labelled rows it rests on.

    Rows where ``y_true`` is None or NaN are unlabelled and excluded from every metric;
    ``coverage = n_labelled / n_predictions`` (``n_predictions`` defaults to the rows
    given; pass the window's prediction count when only some rows are given). A labelled
    row must have a prediction (and scores, when given): ValueError naming the row.

    Classes are ``labels`` in that order, or the sorted classes of the labelled rows of
    ``y_true``, ``y_pred`` and ``positive``. Two classes make a binary task, whose positive
    class is ``positive`` or else the last class; more make a multiclass task. With one
    known class it is a ValueError asking for ``labels``; a window without labelled rows
    is not an error: every metric is NaN with ``n=0`` and the result's ``reason`` says so.

    Metrics (intervals in brackets):

    - always: ``accuracy`` [Wilson]; ``{precision,recall,f1}_{macro,weighted}``
      [bootstrap]; binary also ``precision`` and ``recall`` of the positive class
      [Wilson] and ``f1`` [bootstrap]. A class with no predicted row has no precision,
      with no true row no recall: NaN, left out of the averages (sklearn's
      ``zero_division=np.nan``).
    - with ``scores`` (binary: the positive class's score per row, or an (n, 2) matrix;
      multiclass: an (n, k) matrix of probabilities, columns in class order):
      ``roc_auc`` [DeLong; multiclass one-vs-rest macro, "delong-ovr"; "max-variance"
      where DeLong's variance is 0 or undefined], ``pr_auc``
      (average precision; multiclass macro one-vs-rest) [bootstrap], and, when the scores
      are probabilities, ``log_loss`` and ``brier`` [bootstrap] and ``ece`` (``ece_bins``
      equal-width bins of confidence) [basic bootstrap: ECE is biased upward]. Binary
      scores outside [0, 1] are not probabilities: those three are NaN with a reason.
      A matrix must hold probabilities, each row summing to 1 (within 1e-6).

    Wilson and DeLong are analytic; "bootstrap" is the percentile interval of
    ``n_bootstrap`` resamples of the labelled rows, seeded by ``seed`` (metrics of the
    confusion matrix resample its cells, which is the same thing at a cost of k^2).
    :mod:`detectors.performance.probabilistic` defines the Brier score, log loss and ECE.
    """
    settings = Settings(confidence, n_bootstrap, seed)
    if isinstance(ece_bins, bool) or not isinstance(ece_bins, int) or ece_bins < 1:
        raise ValueError(f"ece_bins must be an integer >= 1, got {ece_bins!r}")
    enc = encode(y_true, y_pred, labels, positive)
    n_rows = enc.labelled.size
    n_labelled = int(enc.true.size)
    total, share = coverage(n_labelled, n_rows, n_predictions)
    prob = _scores(scores, enc, n_rows)
    k = len(enc.classes)
    wide = prob is not None and prob.ndim == 2 and prob.shape[1] > 2
    task: Task = "multiclass" if k > 2 or wide else "binary"
    if task == "multiclass" and enc.positive is not None:
        raise ValueError(
            f"positive applies to binary tasks; with positive={positive!r} there are {k} "
            f"classes {list(enc.classes)!r}"
        )

    def result(
        metrics: Sequence[MetricValue],
        pos: int | None,
        confusion: ConfusionMatrix | None = None,
        reason: str | None = None,
    ) -> PerformanceResult:
        return PerformanceResult(
            task=task,
            metrics=tuple(metrics),
            n_rows=n_rows,
            n_labelled=n_labelled,
            n_predictions=total,
            coverage=share,
            confidence=confidence,
            labels=enc.classes or None,
            positive=enc.classes[pos] if pos is not None else None,
            confusion=confusion,
            reason=reason,
        )

    if n_labelled == 0:
        names = _names(task, scored=prob is not None)
        pos = enc.positive if enc.positive is not None else (1 if k == 2 else None)
        return result(
            [undefined(name, 0, "none", NO_LABELS) for name in names], pos, None, NO_LABELS
        )
    if k < 2:
        raise ValueError(
            f"labels: only one class is known ({enc.classes[0]!r}), from the labelled rows "
            "or labels=; pass labels= with all the model's classes so that the task and the "
            "positive class are known"
        )
    pos = (k - 1 if enc.positive is None else enc.positive) if task == "binary" else None
    table = np.bincount(enc.true * k + enc.pred, minlength=k * k).reshape(k, k)
    metrics = _count_metrics(table, pos, settings)
    if prob is not None and pos is not None:
        metrics += scoring.binary(prob, enc.true == pos, pos, bins=ece_bins, settings=settings)
    elif prob is not None:
        metrics += scoring.multiclass(prob, enc.true, enc.classes, bins=ece_bins, settings=settings)
    confusion = ConfusionMatrix(enc.classes, tuple(tuple(int(c) for c in row) for row in table))
    return result(metrics, pos, confusion)


def _names(task: Task, *, scored: bool) -> list[str]:
    names = ["accuracy"]
    if task == "binary":
        names += ["precision", "recall", "f1"]
    names += AVERAGED
    return [*names, "roc_auc", "pr_auc", *scoring.LOSSES] if scored else names


def _scores(scores: npt.ArrayLike | None, enc: Encoded, n_rows: int) -> Floats | None:
    """The scores of the labelled rows as float64, checked: 1-d or 2-d with a column per
    class, finite at every labelled row."""
    if scores is None:
        return None
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"scores must be numbers: {exc}") from exc
    if arr.ndim not in (1, 2):
        raise ValueError(f"scores must be 1-d or 2-d, got shape {arr.shape}")
    check_length("scores", arr, n_rows)
    k = len(enc.classes)
    if arr.ndim == 2 and k and arr.shape[1] != k:
        raise ValueError(
            f"scores has {arr.shape[1]} columns but there are {k} classes {list(enc.classes)!r}; "
            "pass labels= in the order of the columns"
        )
    if arr.ndim == 1 and k > 2:
        raise ValueError(f"scores must be an (n, {k}) matrix of probabilities for {k} classes")
    out = arr[enc.labelled]
    rows = np.flatnonzero(enc.labelled)
    finite = np.isfinite(out)
    bad = ~(finite.all(axis=1) if out.ndim == 2 else finite)
    if bad.any():
        raise ValueError(f"scores is not finite at labelled row {rows[first_row(bad)]}")
    if out.ndim == 2 and out.size:
        outside = (out < 0.0).any(axis=1) | (out > 1.0).any(axis=1)
        if outside.any():
            row = first_row(outside)
            raise ValueError(
                f"scores: a matrix must hold probabilities in [0, 1]; labelled row "
                f"{rows[row]} is {out[row].tolist()}"
            )
        off = np.abs(out.sum(axis=1) - 1.0)
        if off.max() > SUM_TOLERANCE:
            row = int(off.argmax())
            raise ValueError(
                f"scores: the probabilities of labelled row {rows[row]} sum to "
                f"{float(out[row].sum())!r}, not 1"
            )
    return out


def _count_metrics(
    table: npt.NDArray[np.int64], pos: int | None, settings: Settings
) -> list[MetricValue]:
    n = int(table.sum())
    level = settings.confidence
    point = counts.averaged(table[None].astype(np.float64))
    resampled = counts.resample_tables(table, settings.n_bootstrap, settings.rng(0))
    replicates = counts.averaged(resampled)
    correct = int(np.trace(table))
    out = [metric("accuracy", correct / n, wilson(correct, n, level), n, "wilson")]
    if pos is not None:
        tp = int(table[pos, pos])
        predicted, support = int(table[:, pos].sum()), int(table[pos].sum())
        for name, den, why in (
            ("precision", predicted, "no labelled row is predicted positive"),
            ("recall", support, "no labelled row is positive"),
        ):
            if den == 0:
                out.append(undefined(name, 0, "wilson", why))
            else:
                out.append(metric(name, tp / den, wilson(tp, den, level), den, "wilson"))
        f1 = float(counts.per_class(table[None].astype(np.float64))["f1"][0, pos])
        if np.isnan(f1):
            out.append(undefined("f1", n, settings.method(), "no positive row, true or predicted"))
        else:
            f1_replicates = counts.per_class(resampled)["f1"][:, pos]
            out.append(settings.bootstrapped("f1", f1, f1_replicates, n))
    for name in AVERAGED:
        out.append(settings.bootstrapped(name, float(point[name][0]), replicates[name], n))
    return out
