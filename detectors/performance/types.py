"""Result types of the performance metrics: frozen, self-explaining, free of I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Task = Literal["binary", "multiclass", "regression"]


@dataclass(frozen=True, slots=True)
class MetricValue:
    """One metric of one window, with its confidence interval.

    ``lower`` and ``upper`` bound ``value`` at the result's ``confidence`` level, computed
    by ``interval_method`` ("wilson", "delong", "delong-ovr", "max-variance",
    "bootstrap-percentile(B)", "bootstrap-basic(B)", "order-statistics";
    docs/detectors.md says which metric uses which). ``n`` is the
    number of labelled rows the value rests on: all labelled rows for most metrics, the
    rows predicted positive for precision, the truly positive rows for recall, the rows
    with ``y_true != 0`` for MAPE.

    An undefined value (no labelled row, one class only for ROC AUC, ...) is NaN and
    ``reason`` says why; a defined value whose interval cannot be computed has NaN bounds
    and a ``reason`` too, and MAPE notes the rows it left out. ``reason`` is None
    otherwise.
    """

    name: str
    value: float
    lower: float
    upper: float
    n: int
    interval_method: str
    reason: str | None = None

    @property
    def width(self) -> float:
        """``upper - lower``: how sure the value is (NaN when there is no interval)."""
        return self.upper - self.lower


@dataclass(frozen=True, slots=True)
class ConfusionMatrix:
    """Counts of labelled rows by true class (rows) and predicted class (columns), in
    ``labels`` order: sklearn's ``confusion_matrix(y_true, y_pred, labels=labels)``."""

    labels: tuple[object, ...]
    counts: tuple[tuple[int, ...], ...]

    def as_array(self) -> npt.NDArray[np.int64]:
        """The counts as a (k, k) int64 array (a copy)."""
        return np.array(self.counts, dtype=np.int64).reshape(len(self.labels), len(self.labels))


@dataclass(frozen=True, slots=True)
class PerformanceResult:
    """The metrics of one window of predictions against the labels known so far.

    ``n_rows`` rows were given, ``n_labelled`` of them had a label (the others are
    excluded from every metric); ``coverage = n_labelled / n_predictions`` says how much of
    the window the metrics rest on, ``n_predictions`` defaulting to ``n_rows``.
    ``confidence`` is the level of every interval. ``labels`` is the class order (the
    confusion matrix's and the score columns'), ``positive`` the positive class of a
    binary task; both are None for regression. ``reason`` is set when no metric could be
    computed at all (no labelled row).
    """

    task: Task
    metrics: tuple[MetricValue, ...]
    n_rows: int
    n_labelled: int
    n_predictions: int
    coverage: float
    confidence: float
    labels: tuple[object, ...] | None = None
    positive: object | None = None
    confusion: ConfusionMatrix | None = None
    reason: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the metrics, in result order."""
        return tuple(m.name for m in self.metrics)

    def metric(self, name: str) -> MetricValue:
        """The metric ``name``; KeyError naming it and the metrics of this result."""
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"no metric {name!r} in this result; metrics: {', '.join(self.names)}")

    def __getitem__(self, name: str) -> MetricValue:
        return self.metric(name)
