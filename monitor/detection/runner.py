"""The detect worker: claims due (monitor, window) jobs and stores their results.

Each window is one transaction: lock the monitor row (``FOR UPDATE SKIP LOCKED``, so
several workers share the monitors without running one twice), load the window's
events, run the detectors per model version against that version's baseline, write one
run row plus one row per feature, and advance ``checked_until``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import detectors
from monitor.db.engine import make_sessionmaker
from monitor.db.models import DetectorRun, FeatureResult, Label, ModelVersion, Monitor, Prediction
from monitor.detection.baseline import load_baselines
from monitor.detection.spec import MonitorSpec
from monitor.detection.windows import closed_windows, floor_to
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


def _column(values: list[Any], kind: str) -> np.ndarray:
    if kind == "numerical":
        return np.array([np.nan if v is None else v for v in values], dtype=float)
    return np.array(values, dtype=object)


@dataclass
class _Window:
    """One version's rows of a window, as arrays in the version's layout."""

    num: list[list[float | None]]
    cat: list[list[str | None]]
    pending: int = 0

    def columns(self, layout: Layout) -> dict[str, np.ndarray]:
        n = len(self.num)
        # None -> NaN in the float matrix; short arrays (schema grew later) are padded.
        num = np.full((n, len(layout.numerical)), np.nan)
        for i, row in enumerate(self.num):
            num[i, : len(row)] = np.array(row, dtype=float)
        cat = np.full((n, len(layout.categorical)), None, dtype=object)
        for i, crow in enumerate(self.cat):
            cat[i, : len(crow)] = crow
        out = {name: num[:, j] for j, name in enumerate(layout.numerical)}
        out.update({name: cat[:, j] for j, name in enumerate(layout.categorical)})
        return out


def _evaluate_version(
    spec: MonitorSpec,
    profile: dict[str, Any],
    current_columns: dict[str, np.ndarray],
) -> detectors.DriftResult:
    reference_profile = profile["features"]
    names = [
        f
        for f in (spec.features or list(reference_profile))
        if f in reference_profile and f in current_columns
    ]
    kinds = {f: str(reference_profile[f]["kind"]) for f in names}
    reference = {f: _column(reference_profile[f]["sample"], kinds[f]) for f in names}
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


def _run_window(
    session: Session, monitor: Monitor, spec: MonitorSpec, *, lo: datetime, hi: datetime
) -> list[RunSummary]:
    windows: dict[str, _Window] = defaultdict(lambda: _Window([], []))
    rows = session.execute(
        select(Prediction.model_version, Prediction.num_values, Prediction.cat_values).where(
            Prediction.model_id == spec.model_id, Prediction.ts >= lo, Prediction.ts < hi
        )
    )
    for version, num, cat in rows:
        w = windows[version]
        if num is None and cat is None:
            w.pending += 1  # features still expected from a feature log
        else:
            w.num.append(num or [])
            w.cat.append(cat or [])
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
    baselines = load_baselines(session, spec.model_id, spec.baseline)
    summaries = []
    started = datetime.now(UTC)
    for version, window in sorted(windows.items()):
        n_rows = len(window.num)
        run = DetectorRun(
            monitor_id=monitor.id,
            model_id=spec.model_id,
            model_version=version,
            signal=spec.signal,
            window_start=lo,
            window_end=hi,
            n_current=n_rows,
            n_labelled=labelled.get(version, 0),
            n_features_pending=window.pending,
            started_at=started,
        )
        drifted: tuple[str, ...] = ()
        profile = baselines.get(version)
        if profile is None:
            run.status = "error"
            run.error = f"model_version={version!r}: no baseline named {spec.baseline!r}"
        elif n_rows < spec.min_rows:
            run.status = "insufficient_data"
            run.n_reference = int(profile["sample_size"])
        else:
            current = window.columns(layouts.get(version, Layout((), ())))
            result = _evaluate_version(spec, profile, current)
            run.status = "ok"
            run.n_reference = int(profile["sample_size"])
            run.drift_share = result.drift_share
            run.dataset_drift = result.dataset_drift
            drifted = result.drifted_columns
            run.results = [
                FeatureResult(
                    feature=c.column,
                    kind=c.kind,
                    method=c.method,
                    statistic=c.statistic,
                    p_value=c.p_value,
                    effect_size=c.effect_size,
                    threshold=c.threshold,
                    drifted=c.drifted,
                    n_reference=c.n_reference,
                    n_current=c.n_current,
                )
                for c in result.columns
            ]
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


def _next_window(
    session: Session, monitor: Monitor, spec: MonitorSpec, now: datetime
) -> tuple[datetime, datetime] | None:
    """The next window to check: after ``checked_until``, starting at the first window
    that holds an event (empty stretches are skipped, not run one by one), and closed
    for at least the spec's ``delay`` so that events still in flight are in."""
    query = select(func.min(Prediction.ts)).where(Prediction.model_id == spec.model_id)
    if monitor.checked_until is not None:
        query = query.where(Prediction.ts >= monitor.checked_until)
    first = session.scalar(query)
    if first is None:
        return None
    start = floor_to(first, spec.window_size)
    if monitor.checked_until is not None:
        start = max(start, monitor.checked_until)
    due = closed_windows(start, now - spec.delay_size, spec.window_size, limit=1)
    return due[0] if due else None


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


def run_due(
    engine: Engine,
    *,
    now: datetime | None = None,
    max_windows: int = 1000,
    on_run: Callable[[RunSummary], None] | None = None,
) -> list[RunSummary]:
    """Run every closed, not yet checked window of every enabled monitor (at most
    ``max_windows`` per monitor per call). Returns what was run, oldest first."""
    now = now or datetime.now(UTC)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        monitor_ids = list(
            session.scalars(select(Monitor.id).where(Monitor.enabled).order_by(Monitor.id))
        )
    summaries: list[RunSummary] = []
    for monitor_id in monitor_ids:
        for _ in range(max_windows):
            with sessions.begin() as session:
                monitor = session.scalar(
                    select(Monitor)
                    .where(Monitor.id == monitor_id)
                    .with_for_update(skip_locked=True)
                )
                if monitor is None:
                    break  # another worker holds it
                spec = MonitorSpec.model_validate(monitor.spec)
                window = _next_window(session, monitor, spec, now)
                if window is None:
                    break
                lo, hi = window
                try:
                    with session.begin_nested():
                        window_summaries = _run_window(session, monitor, spec, lo=lo, hi=hi)
                except (SQLAlchemyError, psycopg.Error):
                    raise  # the database itself: let the worker back off and retry
                except Exception as exc:
                    # One bad window (odd data, a detector bug) must not stall the
                    # monitor or the ones after it: record it as an error run and go on.
                    log.exception(
                        "model=%s monitor=%s window=%s failed",
                        spec.model_id,
                        monitor.name,
                        lo.isoformat(),
                    )
                    window_summaries = [
                        _record_failure(session, monitor, spec, lo=lo, hi=hi, exc=exc)
                    ]
                monitor.checked_until = hi
            summaries.extend(window_summaries)
            if on_run is not None:
                for s in window_summaries:
                    on_run(s)
    return summaries
