"""Signals: which question a result answers. Skew and drift run the same tests on the
features; what tells them apart is the reference. Prediction and target drift run them on
the model's outputs and on the labels.

- ``skew``: serving features vs the model version's training baseline ("does production
  look like what the model was trained on?").
- ``data_drift``: a production window vs an earlier production window or a fixed
  reference window ("did production change?"). A feature can be skewed from day one and
  never drift, or drift away from a skew-free start: two signals, two results.
- ``prediction_drift``: the predicted class shares and the score distribution.
- ``target_drift``: the labels' distribution, over labelled rows only.

Each function returns a :class:`SignalDrift`: the signal's name and the
:class:`~detectors.types.DriftResult` of :func:`detectors.detect_drift`, whose keyword
options (``alpha``, ``min_effect``, ``correction``, ``policy``, ...) they pass on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from detectors.columns import missing_labels
from detectors.types import ColumnData, DriftResult
from detectors.univariate import detect_drift

Signal = Literal["skew", "data_drift", "prediction_drift", "target_drift"]
Task = Literal["classification", "regression"]
TASKS: tuple[str, ...] = ("classification", "regression")


@dataclass(frozen=True, slots=True)
class SignalDrift:
    """The drift result of one signal."""

    signal: Signal
    result: DriftResult


def skew(
    training: Mapping[str, ColumnData], serving: Mapping[str, ColumnData], **options: Any
) -> SignalDrift:
    """Training-serving skew: serving features tested against the training baseline."""
    return SignalDrift("skew", detect_drift(training, serving, **options))


def data_drift(
    reference: Mapping[str, ColumnData], current: Mapping[str, ColumnData], **options: Any
) -> SignalDrift:
    """Data drift: a production window tested against an earlier or fixed production one."""
    return SignalDrift("data_drift", detect_drift(reference, current, **options))


def prediction_drift(
    reference: ColumnData,
    current: ColumnData,
    *,
    task: Task,
    reference_scores: ColumnData | None = None,
    current_scores: ColumnData | None = None,
    classes: Sequence[object] | None = None,
    **options: Any,
) -> SignalDrift:
    """Drift of the model's output.

    ``reference`` / ``current`` are the predictions. Classification: the predicted class is
    a categorical column ``prediction`` (class shares); scores, when given on both sides,
    add numerical columns: a 1-d array (the positive class's score) is ``score``, an
    (n, k) matrix gives ``score[<class>]`` per column, named after ``classes`` (required
    then, k of them). Regression: ``prediction`` is numerical. Missing predictions are
    missing values like any other (a jump in them is drift).
    """
    task = _task(task)
    ref_cols: dict[str, ColumnData] = {"prediction": _vector("reference", reference)}
    cur_cols: dict[str, ColumnData] = {"prediction": _vector("current", current)}
    kinds = {"prediction": "categorical" if task == "classification" else "numerical"}
    if (reference_scores is None) != (current_scores is None):
        raise ValueError("scores must be given for both sides or for neither")
    if reference_scores is not None and current_scores is not None:
        if task != "classification":
            raise ValueError("scores are for classification; a regression's output is its value")
        ref_s = _scores("reference_scores", reference_scores, classes)
        cur_s = _scores("current_scores", current_scores, classes)
        ref_cols.update(ref_s)
        cur_cols.update(cur_s)
        kinds.update(dict.fromkeys(ref_s, "numerical"))
    return SignalDrift("prediction_drift", detect_drift(ref_cols, cur_cols, kinds=kinds, **options))


def target_drift(
    reference: ColumnData, current: ColumnData, *, task: Task, **options: Any
) -> SignalDrift:
    """Drift of the labels (column ``label``): class shares, or the target's distribution.

    Only labelled rows count: a missing label (None, NaN) is one that has not arrived yet,
    not a value, so a window half labelled is not "drifted towards missing". A side with no
    label at all is a ValueError (there is nothing to compare yet).
    """
    task = _task(task)
    kind = "categorical" if task == "classification" else "numerical"
    ref = _labelled("reference", reference)
    cur = _labelled("current", current)
    return SignalDrift(
        "target_drift",
        detect_drift({"label": ref}, {"label": cur}, kinds={"label": kind}, **options),
    )


def _task(task: str) -> Task:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    return "classification" if task == "classification" else "regression"


def _vector(name: str, values: ColumnData) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} predictions must be 1-d, got shape {arr.shape}")
    return arr


def _scores(
    name: str, values: ColumnData, classes: Sequence[object] | None
) -> dict[str, npt.NDArray[Any]]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        return {"score": arr}
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-d or (n, classes), got shape {arr.shape}")
    if classes is None or len(classes) != arr.shape[1]:
        got = None if classes is None else len(classes)
        raise ValueError(
            f"{name} has {arr.shape[1]} score columns: classes must name them, got {got}"
        )
    return {f"score[{c}]": arr[:, j] for j, c in enumerate(classes)}


def _labelled(side: str, values: ColumnData) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{side} labels must be 1-d, got shape {arr.shape}")
    obj = arr.astype(object, copy=False)
    kept = arr[~missing_labels(obj)]
    if kept.size == 0:
        raise ValueError(f"{side} has no labels yet ({arr.size} rows, none labelled)")
    return kept
