"""performance (the labelled rows of a window, detectors.performance) and
estimated_performance (CBPE, detectors.estimation: fitted on the reference's labelled
rows, applied to the window's scores, no labels needed).

Rows per metric (feature ''): ``value`` with its 95% interval in ``lower``/``upper``,
``threshold`` the bound it was judged by (the stricter of the configured ``min``/``max``
and the reference's value worsened by ``max_drop`` of it), ``effect_size`` the change
from the reference's value, ``alert`` when worse than the threshold; performance adds a
run-level ``label_coverage`` row (labelled rows / predictions).

Classes: the sorted classes of the labels, predictions and score keys (window and
reference together); a binary task's positive class is the last one, its score the
score of that class. CBPE's decision threshold is 0.5 on that score.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from detectors.estimation import CBPE
from detectors.performance import (
    PerformanceResult,
    classification_performance,
    regression_performance,
)
from monitor.db.models import DetectorRun, Result
from monitor.detection.results import result_row
from monitor.detection.signal_inputs import SignalInputs, fail
from monitor.detection.spec import ESTIMATED_METRICS, LOWER_IS_BETTER, PerformanceSettings
from monitor.detection.window_outputs import Outputs, classes_of

LABEL_COVERAGE = "label_coverage"
CBPE_THRESHOLD = 0.5
# Bootstrap calibrators of a CBPE fit (they carry the calibration's uncertainty into the
# interval): its cost is about resamples + 6 isotonic fits of the reference, per window.
CBPE_RESAMPLES = 20


def bound(metric: str, settings: PerformanceSettings, reference: float | None) -> float | None:
    """The value ``metric`` must not be worse than: the configured min (max for an
    error metric) and the reference's value worsened by max_drop of it, the stricter."""
    lower_better = metric in LOWER_IS_BETTER
    bounds = []
    fixed = (settings.max if lower_better else settings.min).get(metric)
    if fixed is not None:
        bounds.append(fixed)
    if settings.max_drop is not None and reference is not None and math.isfinite(reference):
        slack = settings.max_drop * abs(reference)
        bounds.append(reference + slack if lower_better else reference - slack)
    if not bounds:
        return None
    return min(bounds) if lower_better else max(bounds)


def worse(metric: str, value: float, threshold: float | None) -> bool:
    if threshold is None or not math.isfinite(value):
        return False
    return value > threshold if metric in LOWER_IS_BETTER else value < threshold


def _measure(outputs: Outputs, *, task: str, classes: list[str]) -> PerformanceResult:
    labelled = outputs.labelled
    if task == "regression":
        return regression_performance(
            outputs.label_column(classification=False)[labelled],
            outputs.prediction_column(classification=False)[labelled],
            n_predictions=len(outputs),
        )
    y_true = outputs.label_column(classification=True)[labelled]
    y_pred = outputs.prediction_column(classification=True)[labelled]
    scores: np.ndarray[Any, Any] | None = None
    if outputs.score_classes():
        if task == "binary_classification":
            scores = outputs.score_matrix([classes[-1]])[labelled, 0]
        else:
            scores = outputs.score_matrix(classes)[labelled]
        if np.isnan(scores).any():
            scores = None  # some rows without scores: the score metrics are left out
    binary = task == "binary_classification"
    return classification_performance(
        y_true,
        y_pred,
        scores=scores,
        labels=classes,
        positive=classes[-1] if binary else None,
        n_predictions=len(outputs),
    )


def _classes(inputs: SignalInputs, version: str, *sides: Outputs) -> tuple[list[str], str]:
    """The classes ([] for regression), and why they cannot be used ('' when they can):
    a classifier's labels, predictions and score keys must name two classes (binary) or
    at least two."""
    if inputs.task == "regression":
        return [], ""
    classes = classes_of(*sides)
    binary = inputs.task == "binary_classification"
    if len(classes) < 2 or (binary and len(classes) > 2):
        want = "two" if binary else "at least two"
        return classes, (
            f"{inputs.where(version)}: a {inputs.task} model needs {want} classes in its "
            f"labels, predictions and score keys, found {len(classes)}: {classes}"
        )
    return classes, ""


def _judged(
    run: DetectorRun,
    settings: PerformanceSettings,
    name: str,
    *,
    value: float,
    interval: tuple[float | None, float | None],
    reference: float | None,
    change: float | None,
    n_reference: int | None,
    n_current: int,
) -> Result:
    """A metric's row, judged against the bound the settings give it (from ``reference``
    for ``max_drop``): the same rule for measured and estimated performance."""
    threshold = bound(name, settings, reference)
    return result_row(
        run,
        metric=name,
        value=value,
        lower=interval[0],
        upper=interval[1],
        threshold=threshold,
        effect_size=change,
        alert=worse(name, value, threshold),
        n_reference=n_reference,
        n_current=n_current,
    )


def _finish(run: DetectorRun, rows: list[Result]) -> tuple[str, ...]:
    """Store the rows on an ``ok`` run; what alerted, for the run's summary."""
    alerts = tuple(r.metric for r in rows if r.alert)
    run.status = "ok"
    run.dataset_drift = bool(alerts)
    run.results = rows
    return alerts


def run_performance(inputs: SignalInputs, version: str, run: DetectorRun) -> tuple[str, ...]:
    spec = inputs.spec
    settings = spec.performance
    cur = inputs.outputs().get(version, Outputs())
    run.n_current = len(cur)
    n_labelled = cur.n_labelled
    run.n_labelled = n_labelled
    ref: Outputs | None = None
    if settings.max_drop is not None:
        ref = inputs.reference_of(version, run)
        if ref is None:
            return ()
        run.n_reference = ref.n_labelled
    if n_labelled < spec.min_labels or (ref is not None and ref.n_labelled < spec.min_labels):
        run.status = "insufficient_data"
        return ()
    classes, problem = _classes(inputs, version, cur, *([ref] if ref is not None else []))
    if problem:
        return fail(run, problem)
    metrics = settings.metrics_for(inputs.task)
    current = _measure(cur, task=inputs.task, classes=classes)
    reference = _measure(ref, task=inputs.task, classes=classes) if ref is not None else None
    rows: list[Result] = []
    for name in metrics:
        if name not in current.names:  # a score metric of a model that logs no scores
            rows.append(result_row(run, metric=name, alert=False, n_current=0))
            continue
        m = current.metric(name)
        known = reference is not None and name in reference.names
        ref_value = reference.metric(name).value if reference is not None and known else None
        rows.append(
            _judged(
                run,
                settings,
                name,
                value=m.value,
                interval=(m.lower, m.upper),
                reference=ref_value,
                change=m.value - ref_value if ref_value is not None else None,
                n_reference=run.n_reference if ref is not None else None,
                n_current=m.n,
            )
        )
    rows.append(
        result_row(
            run,
            metric=LABEL_COVERAGE,
            value=current.coverage,
            alert=False,
            n_current=n_labelled,
        )
    )
    return _finish(run, rows)


def run_estimated_performance(
    inputs: SignalInputs, version: str, run: DetectorRun
) -> tuple[str, ...]:
    spec = inputs.spec
    settings = spec.performance
    if inputs.task != "binary_classification":
        return fail(
            run,
            f"{inputs.where(version)}: estimated_performance (CBPE) estimates binary "
            f"classifiers only; {spec.model_id} is a {inputs.task} model",
        )
    cur = inputs.outputs().get(version, Outputs())
    run.n_current = len(cur)
    ref = inputs.reference_of(version, run)
    if ref is None:
        return ()
    classes, problem = _classes(inputs, version, cur, ref)
    if problem:
        return fail(run, problem)
    positive = classes[-1]
    ref_scores = ref.score_matrix([positive])[:, 0]
    usable = ref.labelled & np.isfinite(ref_scores)
    run.n_reference = int(usable.sum())
    cur_scores = cur.score_matrix([positive])[:, 0]
    cur_scores = cur_scores[np.isfinite(cur_scores)]
    if not ref.score_classes() and not cur.score_classes():
        return fail(
            run,
            f"{inputs.where(version)}: estimated_performance needs the model's scores and "
            "none are logged (events' scores field)",
        )
    if run.n_reference < spec.min_labels or cur_scores.size < spec.min_rows:
        # The reference's labelled rows with a score, and the window's rows with one.
        run.status = "insufficient_data"
        return ()
    truth = ref.label_column(classification=True)[usable]
    estimator = CBPE.fit(
        ref_scores[usable],
        truth == positive,
        threshold=CBPE_THRESHOLD,
        resamples=CBPE_RESAMPLES,
    )
    estimate = estimator.estimate(cur_scores)
    names = [m for m in settings.metrics_for(inputs.task) if m in ESTIMATED_METRICS]
    rows = []
    for name in names:
        e = estimate.by_metric(name)
        rows.append(
            _judged(
                run,
                settings,
                name,
                value=e.value,
                interval=(e.lower, e.upper),
                reference=e.reference,
                change=e.change,
                n_reference=run.n_reference,
                n_current=estimate.n,
            )
        )
    return _finish(run, rows)
