"""prediction_drift and target_drift: the model's outputs and the labels of a window
against those of its production reference (the window before, or a fixed range), with
detectors.signals; rows as data drift's (monitor/detection/results.py): feature
``prediction``, ``score`` (binary: the positive class's) or ``score[<class>]``, ``label``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.signals import prediction_drift, target_drift
from detectors.types import DriftResult
from monitor.db.models import DetectorRun
from monitor.detection.results import drift_results
from monitor.detection.signal_inputs import SignalInputs, fail
from monitor.detection.spec import MonitorSpec
from monitor.detection.window_outputs import Outputs, class_order


def _options(spec: MonitorSpec) -> dict[str, Any]:
    p = spec.policy
    return {
        "alpha": p.alpha,
        "min_effect": p.min_effect,
        "min_missing_change": p.min_missing_change,
        "correction": p.correction,
        "share_threshold": p.share_threshold,
    }


def _store(run: DetectorRun, result: DriftResult, spec: MonitorSpec) -> tuple[str, ...]:
    run.status = "ok"
    run.drift_share = result.drift_share
    run.dataset_drift = result.dataset_drift
    run.results = drift_results(run, result, share_threshold=spec.policy.share_threshold)
    return result.drifted_columns


def _scores(
    ref: Outputs, cur: Outputs
) -> tuple[np.ndarray[Any, Any] | None, np.ndarray[Any, Any] | None, list[str] | None]:
    """Both sides' scores: the positive class's (two classes: column ``score``) or one
    column per class, in the classes' order; None when either side logs none."""
    if not ref.score_classes() or not cur.score_classes():
        return None, None, None
    classes = sorted(ref.score_classes() | cur.score_classes(), key=class_order)
    if len(classes) == 2:
        positive = [classes[-1]]
        return ref.score_matrix(positive)[:, 0], cur.score_matrix(positive)[:, 0], None
    return ref.score_matrix(classes), cur.score_matrix(classes), classes


def run_prediction_drift(inputs: SignalInputs, version: str, run: DetectorRun) -> tuple[str, ...]:
    spec = inputs.spec
    cur = inputs.outputs().get(version, Outputs())
    run.n_current = len(cur)
    ref = inputs.reference_of(version, run)
    if ref is None:
        return ()
    run.n_reference = len(ref)
    if min(len(cur), len(ref)) < spec.min_rows:
        run.status = "insufficient_data"
        return ()
    cls = inputs.classification
    ref_scores, cur_scores, classes = _scores(ref, cur) if cls else (None, None, None)
    ref_pred = ref.prediction_column(classification=cls)
    cur_pred = cur.prediction_column(classification=cls)
    logged = [p for p in (*ref.predictions, *cur.predictions) if p is not None]
    if not logged and ref_scores is None:
        return fail(
            run,
            f"{inputs.where(version)}: no prediction or scores logged in the window or the "
            "reference (events' prediction and scores fields)",
        )
    result = prediction_drift(
        ref_pred,
        cur_pred,
        task="classification" if cls else "regression",
        reference_scores=ref_scores,
        current_scores=cur_scores,
        classes=classes,
        **_options(spec),
    )
    return _store(run, result.result, spec)


def run_target_drift(inputs: SignalInputs, version: str, run: DetectorRun) -> tuple[str, ...]:
    spec = inputs.spec
    cur = inputs.outputs().get(version, Outputs())
    run.n_current = len(cur)
    ref = inputs.reference_of(version, run)
    if ref is None:
        return ()
    # Only labelled rows count: n_labelled (the window's) and n_reference say which side
    # is short of labels.
    run.n_reference = ref.n_labelled
    if min(cur.n_labelled, ref.n_labelled) < spec.min_labels:
        run.status = "insufficient_data"
        return ()
    cls = inputs.classification
    result = target_drift(
        ref.label_column(classification=cls),
        cur.label_column(classification=cls),
        task="classification" if cls else "regression",
        **_options(spec),
    )
    return _store(run, result.result, spec)
