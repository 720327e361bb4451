"""Evaluating one window of a claimed monitor: one run per model version and signal, for
the whole traffic and for each segment of the spec's keys (monitor/detection/
window_segments.py says which; SignalInputs.for_segment loads only that segment's rows).

Each signal of the monitor's spec is computed per model version by its own module
(feature drift and skew here; signal_outputs, signal_quality and signal_performance for
the others), against its reference (the version's baseline, the window before, or its
events in a fixed range), and stored as one ``DetectorRun`` row plus its ``Result`` rows
(monitor/detection/results.py). A version with no usable reference or too few rows gets
an ``error`` or ``insufficient_data`` run; a signal that raises gets an ``error`` run
(the other signals are still stored); a window that fails as a whole is stored as one
``error`` run per signal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import detectors
from detectors.sketch_drift import detect_drift_sketches
from detectors.sketches import METHODS as SKETCH_METHODS
from monitor.db.models import DetectorRun, Model, ModelVersion, Monitor
from monitor.detection.bucket_reads import (
    K_DAY,
    is_bucketed,
    window_sample,
    window_sketches,
    window_versions,
)
from monitor.detection.results import drift_results
from monitor.detection.signal_inputs import Signal, SignalInputs, fail
from monitor.detection.signal_outputs import run_prediction_drift, run_target_drift
from monitor.detection.signal_performance import run_estimated_performance, run_performance
from monitor.detection.signal_quality import run_data_quality
from monitor.detection.spec import MonitorSpec
from monitor.detection.window_data import RangeCache, load_windows, profile_reference
from monitor.detection.window_segments import window_segments
from monitor.layout import Layout

log = logging.getLogger(__name__)

# An exact test on the stored sample of a window needs at least this many rows; a window
# with fewer sampled rows (under about 16,000 events) is read whole instead.
MIN_EXACT_SAMPLE = 1_000


@dataclass(frozen=True)
class RunSummary:
    monitor: str
    model_id: str
    model_version: str
    window_start: datetime
    window_end: datetime
    status: str
    n_current: int
    # Drift signals: the drifted columns; the others: what alerted (a metric, or
    # ``feature:check`` for data quality).
    drifted_features: tuple[str, ...] = ()
    drift_share: float | None = None
    error: str | None = None
    signal: str = "data_drift"
    segment: str = ""  # '' (all traffic) or key=value
    # For the metrics (monitor/metrics.py): the time the run took to compute (None: not
    # computed, the window failed as a whole) and its result rows by verdict.
    seconds: float | None = None
    n_alert_results: int = 0
    n_ok_results: int = 0


def _evaluate_version(
    spec: MonitorSpec,
    reference_columns: dict[str, np.ndarray],
    reference_kinds: dict[str, str],
    current_columns: dict[str, np.ndarray],
) -> detectors.DriftResult:
    names = [
        f
        for f in (spec.features or list(reference_columns))
        if f in reference_columns and f in current_columns
    ]
    kinds = {f: reference_kinds[f] for f in names}
    reference = {f: reference_columns[f] for f in names}
    current = {f: current_columns[f] for f in names}
    method: str | dict[str, str] = (
        {f: spec.methods.get(f, "auto") for f in names} if spec.methods else "auto"
    )
    p = spec.policy
    return detectors.detect_drift(
        reference,
        current,
        kinds=kinds,
        method=method,
        alpha=p.alpha,
        min_effect=p.min_effect,
        min_missing_change=p.min_missing_change,
        correction=p.correction,
        share_threshold=p.share_threshold,
    )


def _untestable(
    spec: MonitorSpec,
    version: str,
    *,
    monitor: str,
    schema: Collection[str],
    reference: Collection[str],
    reference_name: str,
) -> str | None:
    """Why none of the monitor's features can be tested on ``version`` (None: some can).
    A version lacking only some of them is tested on the rest (docs/monitors.md), with
    a warning; lacking all of them is an error run, never an empty pass."""
    wanted = spec.features if spec.features is not None else list(reference)
    testable = [f for f in wanted if f in schema and f in reference]
    if testable:
        if len(testable) < len(wanted):
            log.warning(
                "model=%s monitor=%s version=%s features not tested (absent from the schema "
                "or the %s): %s",
                spec.model_id,
                monitor,
                version,
                reference_name,
                [f for f in wanted if f not in testable],
            )
        return None
    missing = []
    if not wanted:
        missing.append(f"the {reference_name} has no features")
    if absent := [f for f in wanted if f not in schema]:
        missing.append(f"not in the version's feature schema: {', '.join(absent)}")
    if absent := [f for f in wanted if f not in reference]:
        missing.append(f"not in the {reference_name}: {', '.join(absent)}")
    return (
        f"model={spec.model_id!r} model_version={version!r}: no monitored feature can be "
        f"tested ({'; '.join(missing)})"
    )


def _feature_drift(
    inputs: SignalInputs, version: str, run: DetectorRun, *, baseline: bool
) -> tuple[str, ...]:
    """The window's features against the version's baseline (``baseline``: skew, or
    data drift with a baseline reference) or a production reference (data drift)."""
    spec = inputs.spec
    if baseline and (drifted := _sketch_drift(inputs, version, run)) is not None:
        return drifted
    window = inputs.windows.get(version)
    n_rows = len(window.num) if window is not None else 0
    run.n_current = n_rows
    run.n_features_pending = window.pending if window is not None else 0
    layout = inputs.layouts.get(version, Layout((), ()))
    reference: tuple[dict[str, np.ndarray], dict[str, str]] | None = None
    if baseline:
        profile = inputs.baseline(spec.baseline).get(version)
        if profile is None:
            return fail(run, f"{inputs.where(version)}: no baseline named {spec.baseline!r}")
        run.n_reference = int(profile["sample_size"])
        run.error = _untestable(
            spec,
            version,
            monitor=inputs.monitor,
            schema=layout.kinds,
            reference=profile["features"],
            reference_name=f"baseline {spec.baseline!r}",
        )
        if n_rows >= spec.min_rows:
            reference = profile_reference(profile)
    else:
        references, reference_name = inputs.feature_references()
        ref_window = references.get(version)
        run.n_reference = len(ref_window.num) if ref_window is not None else 0
        if ref_window is None and spec.reference == "fixed_window":
            # A version with no events in the range will never have any: say so
            # rather than record insufficient data forever.
            return fail(run, f"model_version={version!r}: no events in the {reference_name}")
        # The reference rows are in the same version's layout: only the schema can lack
        # a monitored feature.
        run.error = _untestable(
            spec,
            version,
            monitor=inputs.monitor,
            schema=layout.kinds,
            reference=layout.kinds,
            reference_name=reference_name,
        )
        if ref_window is not None and min(n_rows, run.n_reference) >= spec.min_rows:
            reference = ref_window.columns(layout), dict(layout.kinds)
    if run.error is not None:
        run.status = "error"
        return ()
    if window is None or reference is None or n_rows < spec.min_rows:
        # Too few rows in the window, or in a production reference (the window before,
        # a fixed range): n_current and n_reference say which.
        run.status = "insufficient_data"
        return ()
    result = _evaluate_version(spec, *reference, window.columns(layout))
    run.status = "ok"
    run.drift_share = result.drift_share
    run.dataset_drift = result.dataset_drift
    run.results = drift_results(run, result, share_threshold=spec.policy.share_threshold)
    return result.drifted_columns


def _sketch_drift(inputs: SignalInputs, version: str, run: DetectorRun) -> tuple[str, ...] | None:
    """The drift check against the baseline from the window's stored bucket sketches
    (monitor/detection/bucket_reads.py), without reading its rows. A method with no
    binned form (not in ``detectors.sketches.METHODS``) runs, like every feature of that
    check, on the stored hash sample of the window (up to ``K_DAY`` rows) against the
    baseline's row sample. None when it cannot be done that way and the rows must be
    read: the window is not made of whole hour buckets, its sketches are not current (a
    refresh is due: backfill, or data that came during the pass), the baseline has no
    sketch of a tested feature (made before format 2), or an exact test's sample would
    be under ``MIN_EXACT_SAMPLE`` rows (a window that small is cheap to read)."""
    spec = inputs.spec
    events, current_sketches = inputs.versions.get(version, (0, None))
    if not current_sketches:
        return None
    profile = inputs.baseline_sketches(spec.baseline).get(version)
    if profile is None or not profile.sketches:
        return None  # the row path says there is no such baseline, or reads its sample
    layout = inputs.layouts.get(version, Layout((), ()))
    run.error = _untestable(
        spec,
        version,
        monitor=inputs.monitor,
        schema=layout.kinds,
        reference=profile.kinds,
        reference_name=f"baseline {spec.baseline!r}",
    )
    wanted = spec.features if spec.features is not None else list(profile.kinds)
    names = [f for f in wanted if f in layout.kinds and f in profile.kinds]
    methods = {f: spec.methods.get(f, "auto") for f in names}
    if any(f not in profile.sketches for f in names):
        run.error = None
        return None
    # Which stored rows: this version and segment over the window, on the baseline's layouts.
    stored: dict[str, Any] = {
        "model_id": spec.model_id,
        "version": version,
        "segment": inputs.segment_name,
        "lo": inputs.lo,
        "hi": inputs.hi,
        "layouts": {f: profile.sketches[f].layout for f in names},
    }
    current = window_sketches(inputs.session, **stored)
    run.n_reference = profile.n_rows  # the baseline's sketches hold all its rows
    run.n_current = max((s.n for s in current.values()), default=0)
    run.n_features_pending = max(events - run.n_current, 0)
    if run.error is not None:
        run.status = "error"
        return ()
    if run.n_current < spec.min_rows or any(f not in current for f in names):
        run.status = "insufficient_data"
        return ()
    p = spec.policy
    if any(m != "auto" and m not in SKETCH_METHODS for m in methods.values()):
        sample = window_sample(inputs.session, **stored, features=names, k=K_DAY)
        if min(len(sample.get(f, ())) for f in names) < MIN_EXACT_SAMPLE:
            return None
        reference = profile_reference(inputs.baseline(spec.baseline)[version])
        result = _evaluate_version(spec, *reference, sample)
    else:
        result = detect_drift_sketches(
            {f: profile.sketches[f] for f in names},
            {f: current[f] for f in names},
            method=methods,
            alpha=p.alpha,
            min_effect=p.min_effect,
            min_missing_change=p.min_missing_change,
            correction=p.correction,
            share_threshold=p.share_threshold,
        )
    run.status = "ok"
    run.drift_share = result.drift_share
    run.dataset_drift = result.dataset_drift
    run.results = drift_results(run, result, share_threshold=p.share_threshold)
    return result.drifted_columns


def _data_drift(inputs: SignalInputs, version: str, run: DetectorRun) -> tuple[str, ...]:
    return _feature_drift(inputs, version, run, baseline=inputs.spec.reference == "baseline")


def _skew(inputs: SignalInputs, version: str, run: DetectorRun) -> tuple[str, ...]:
    return _feature_drift(inputs, version, run, baseline=True)


SIGNALS: dict[str, Signal] = {
    "data_drift": _data_drift,
    "skew": _skew,
    "prediction_drift": run_prediction_drift,
    "target_drift": run_target_drift,
    "data_quality": run_data_quality,
    "performance": run_performance,
    "estimated_performance": run_estimated_performance,
}


def _run_window(
    session: Session,
    monitor: Monitor,
    spec: MonitorSpec,
    *,
    lo: datetime,
    hi: datetime,
    cache: RangeCache | None = None,
) -> list[RunSummary]:
    # Before any read: a refresh committed and visible in it is reflected in this window.
    snapshot = session.scalar(text("SELECT pg_current_snapshot()::text"))
    versions: dict[str, tuple[int, bool | None]]
    windows = None
    if is_bucketed(lo, hi):
        versions = dict(window_versions(session, spec.model_id, lo=lo, hi=hi))
    else:  # no sketches: the rows say which versions have events
        windows = load_windows(session, spec.model_id, lo=lo, hi=hi)
        versions = {v: (len(w.num) + w.pending, None) for v, w in windows.items()}
    layouts = {
        v: Layout.from_schema(schema)
        for v, schema in session.execute(
            select(ModelVersion.version, ModelVersion.feature_schema).where(
                ModelVersion.model_id == spec.model_id
            )
        )
    }
    task = session.scalar(select(Model.task_type).where(Model.model_id == spec.model_id)) or ""
    inputs = SignalInputs(
        session=session,
        monitor=monitor.name,
        spec=spec,
        lo=lo,
        hi=hi,
        task=task,
        versions=versions,
        layouts=layouts,
        cache={} if cache is None else cache,
        data_snapshot=snapshot,
        _windows=windows,
    )
    # The whole traffic, then each segment of the spec's keys with events in the window.
    segments = window_segments(session, spec, lo=lo, hi=hi, versions=versions)
    slices = [inputs, *(inputs.for_segment(s, v) for s, v in segments.items())]
    summaries = []
    for slice_inputs in slices:
        for version in sorted(slice_inputs.versions):
            for signal in spec.signals:
                summaries.append(_run_signal(slice_inputs, monitor, signal, version))
    return summaries


def _run_signal(inputs: SignalInputs, monitor: Monitor, signal: str, version: str) -> RunSummary:
    spec, lo, hi = inputs.spec, inputs.lo, inputs.hi
    run = DetectorRun(
        monitor_id=monitor.id,
        model_id=spec.model_id,
        model_version=version,
        segment=inputs.segment_name,
        signal=signal,
        window_start=lo,
        window_end=hi,
        n_current=0,
        n_reference=0,
        n_labelled=inputs.labelled(version),
        n_features_pending=0,
        data_snapshot=inputs.data_snapshot,
        started_at=datetime.now(UTC),
    )
    started = time.perf_counter()
    try:
        alerts = SIGNALS[signal](inputs, version, run)
    except (SQLAlchemyError, psycopg.Error):
        raise
    except Exception as exc:
        # A detector's failure on odd data fails this signal only; the window's other
        # signals are still stored.
        log.exception(
            "model=%s monitor=%s version=%s segment=%s signal=%s window=%s failed",
            spec.model_id,
            monitor.name,
            version,
            run.segment,
            signal,
            lo.isoformat(),
        )
        alerts = fail(run, f"{type(exc).__name__}: {exc}"[:2000])
        run.results = []
        run.drift_share = run.dataset_drift = None
    run.finished_at = datetime.now(UTC)
    seconds = time.perf_counter() - started
    n_alert = sum(bool(r.alert) for r in run.results)  # before add: no autoflush, no load
    n_results = len(run.results)
    inputs.session.add(run)
    log.info(
        "model=%s monitor=%s version=%s segment=%s signal=%s window=%s status=%s alerts=%s",
        spec.model_id,
        monitor.name,
        version,
        run.segment,
        signal,
        lo.isoformat(),
        run.status,
        list(alerts),
    )
    return RunSummary(
        monitor.name,
        spec.model_id,
        version,
        lo,
        hi,
        run.status,
        run.n_current,
        alerts,
        run.drift_share,
        run.error,
        signal,
        run.segment,
        seconds=seconds,
        n_alert_results=n_alert,
        n_ok_results=n_results - n_alert,
    )


def _record_failure(
    session: Session,
    monitor: Monitor,
    spec: MonitorSpec,
    *,
    lo: datetime,
    hi: datetime,
    exc: Exception,
) -> list[RunSummary]:
    now = datetime.now(UTC)
    error = f"{type(exc).__name__}: {exc}"[:2000]
    for signal in spec.signals:
        session.add(
            DetectorRun(
                monitor_id=monitor.id,
                model_id=spec.model_id,
                model_version="",
                segment="",
                signal=signal,
                window_start=lo,
                window_end=hi,
                status="error",
                error=error,
                started_at=now,
                finished_at=now,
            )
        )
    return [
        RunSummary(monitor.name, spec.model_id, "", lo, hi, "error", 0, error=error, signal=s)
        for s in spec.signals
    ]


def evaluate_window(
    session: Session,
    monitor: Monitor,
    spec: MonitorSpec,
    *,
    lo: datetime,
    hi: datetime,
    cache: RangeCache | None = None,
) -> list[RunSummary]:
    """Run and store one window of a claimed monitor in the caller's transaction. A
    failure of the window itself (odd data, a detector bug) is stored as an error run;
    a database error propagates, for the caller to roll back and retry."""
    try:
        with session.begin_nested():
            return _run_window(session, monitor, spec, lo=lo, hi=hi, cache=cache)
    except (SQLAlchemyError, psycopg.Error):
        raise
    except Exception as exc:
        log.exception(
            "model=%s monitor=%s window=%s failed", spec.model_id, monitor.name, lo.isoformat()
        )
        return _record_failure(session, monitor, spec, lo=lo, hi=hi, exc=exc)
