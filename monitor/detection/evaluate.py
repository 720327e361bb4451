"""Evaluating one window of a claimed monitor against its references.

Per model version: the window's rows are tested against that version's reference (its
baseline, the window before, or its events in a fixed range) with the detectors, and
stored as one ``DetectorRun`` row plus its ``Result`` rows (monitor/detection/results.py); a version
with no usable reference or too few rows gets an ``error`` or ``insufficient_data`` run,
and a window that raises is stored as an ``error`` run.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import detectors
from monitor.db.models import DetectorRun, Label, ModelVersion, Monitor, Prediction
from monitor.detection.baseline import load_baselines
from monitor.detection.results import drift_results
from monitor.detection.spec import MonitorSpec
from monitor.detection.window_data import (
    RangeCache,
    Window,
    load_windows,
    profile_reference,
    window_references,
)
from monitor.layout import Layout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSummary:
    monitor: str
    model_id: str
    model_version: str
    window_start: datetime
    window_end: datetime
    status: str
    n_current: int
    drifted_features: tuple[str, ...] = ()
    drift_share: float | None = None
    error: str | None = None


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


def _run_window(
    session: Session,
    monitor: Monitor,
    spec: MonitorSpec,
    *,
    lo: datetime,
    hi: datetime,
    cache: RangeCache | None = None,
) -> list[RunSummary]:
    windows = load_windows(session, spec.model_id, lo=lo, hi=hi)
    labelled = dict(
        session.execute(
            select(Prediction.model_version, func.count())
            .join(
                Label,
                (Label.event_id == Prediction.event_id) & (Label.model_id == Prediction.model_id),
            )
            .where(Prediction.model_id == spec.model_id, Prediction.ts >= lo, Prediction.ts < hi)
            .group_by(Prediction.model_version)
        ).all()
    )
    layouts = {
        v: Layout.from_schema(schema)
        for v, schema in session.execute(
            select(ModelVersion.version, ModelVersion.feature_schema).where(
                ModelVersion.model_id == spec.model_id
            )
        )
    }
    baselines: dict[str, dict[str, Any]] = {}
    references: dict[str, Window] = {}
    reference_name = ""
    if spec.reference == "baseline":
        baselines = load_baselines(session, spec.model_id, spec.baseline)
    else:
        references, reference_name = window_references(
            session, spec, lo=lo, cache={} if cache is None else cache
        )
    summaries = []
    started = datetime.now(UTC)
    for version, window in sorted(windows.items()):
        n_rows = len(window.num)
        run = DetectorRun(
            monitor_id=monitor.id,
            model_id=spec.model_id,
            model_version=version,
            segment="",
            signal=spec.signal,
            window_start=lo,
            window_end=hi,
            n_current=n_rows,
            n_labelled=labelled.get(version, 0),
            n_features_pending=window.pending,
            started_at=started,
        )
        drifted: tuple[str, ...] = ()
        layout = layouts.get(version, Layout((), ()))
        reference: tuple[dict[str, np.ndarray], dict[str, str]] | None = None
        if spec.reference == "baseline":
            profile = baselines.get(version)
            if profile is not None:
                run.n_reference = int(profile["sample_size"])
                run.error = _untestable(
                    spec,
                    version,
                    monitor=monitor.name,
                    schema=layout.kinds,
                    reference=profile["features"],
                    reference_name=f"baseline {spec.baseline!r}",
                )
                if n_rows >= spec.min_rows:
                    reference = profile_reference(profile)
            else:
                run.error = (
                    f"model={spec.model_id!r} model_version={version!r}: "
                    f"no baseline named {spec.baseline!r}"
                )
        else:
            ref_window = references.get(version)
            run.n_reference = len(ref_window.num) if ref_window is not None else 0
            if ref_window is None and spec.reference == "fixed_window":
                # A version with no events in the range will never have any: say so
                # rather than record insufficient data forever.
                run.error = f"model_version={version!r}: no events in the {reference_name}"
            else:
                # The reference rows are in the same version's layout: only the schema
                # can lack a monitored feature.
                run.error = _untestable(
                    spec,
                    version,
                    monitor=monitor.name,
                    schema=layout.kinds,
                    reference=layout.kinds,
                    reference_name=reference_name,
                )
                if ref_window is not None and min(n_rows, run.n_reference) >= spec.min_rows:
                    reference = ref_window.columns(layout), dict(layout.kinds)
        if run.error is not None:
            run.status = "error"
        elif reference is None or n_rows < spec.min_rows:
            # Too few rows in the window, or in a production reference (the window
            # before, a fixed range): n_current and n_reference say which.
            run.status = "insufficient_data"
        else:
            result = _evaluate_version(spec, *reference, window.columns(layout))
            run.status = "ok"
            run.drift_share = result.drift_share
            run.dataset_drift = result.dataset_drift
            drifted = result.drifted_columns
            run.results = drift_results(run, result, share_threshold=spec.policy.share_threshold)
        run.finished_at = datetime.now(UTC)
        session.add(run)
        summaries.append(
            RunSummary(
                monitor.name,
                spec.model_id,
                version,
                lo,
                hi,
                run.status,
                n_rows,
                drifted,
                run.drift_share,
                run.error,
            )
        )
        log.info(
            "model=%s monitor=%s version=%s window=%s status=%s drifted=%s",
            spec.model_id,
            monitor.name,
            version,
            lo.isoformat(),
            run.status,
            list(drifted),
        )
    return summaries


def _record_failure(
    session: Session,
    monitor: Monitor,
    spec: MonitorSpec,
    *,
    lo: datetime,
    hi: datetime,
    exc: Exception,
) -> RunSummary:
    now = datetime.now(UTC)
    error = f"{type(exc).__name__}: {exc}"[:2000]
    session.add(
        DetectorRun(
            monitor_id=monitor.id,
            model_id=spec.model_id,
            model_version="",
            segment="",
            signal=spec.signal,
            window_start=lo,
            window_end=hi,
            status="error",
            error=error,
            started_at=now,
            finished_at=now,
        )
    )
    return RunSummary(monitor.name, spec.model_id, "", lo, hi, "error", 0, error=error)


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
        return [_record_failure(session, monitor, spec, lo=lo, hi=hi, exc=exc)]
