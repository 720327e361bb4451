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
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

import detectors
from monitor.db.models import DetectorRun, FeatureResult, Monitor, Prediction
from monitor.detection.baseline import load_baselines
from monitor.detection.spec import MonitorSpec
from monitor.detection.windows import closed_windows

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


def _evaluate_version(
    spec: MonitorSpec,
    profile: dict[str, Any],
    rows: list[dict[str, Any]],
) -> detectors.DriftResult:
    reference_profile = profile["features"]
    names = [f for f in (spec.features or list(reference_profile)) if f in reference_profile]
    kinds = {f: str(reference_profile[f]["kind"]) for f in names}
    reference = {f: _column(reference_profile[f]["sample"], kinds[f]) for f in names}
    current = {f: _column([r.get(f) for r in rows], kinds[f]) for f in names}
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
        correction=p.correction,
        share_threshold=p.share_threshold,
    )


def _run_window(
    session: Session, monitor: Monitor, spec: MonitorSpec, lo: datetime, hi: datetime
) -> list[RunSummary]:
    rows_by_version: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rows = session.execute(
        select(Prediction.model_version, Prediction.features).where(
            Prediction.model_id == spec.model_id, Prediction.ts >= lo, Prediction.ts < hi
        )
    )
    for version, features in rows:
        rows_by_version[version].append(features)
    baselines = load_baselines(session, spec.model_id, spec.baseline)
    summaries = []
    started = datetime.now(UTC)
    for version, version_rows in sorted(rows_by_version.items()):
        run = DetectorRun(
            monitor_id=monitor.id,
            model_id=spec.model_id,
            model_version=version,
            signal=spec.signal,
            window_start=lo,
            window_end=hi,
            n_current=len(version_rows),
            started_at=started,
        )
        drifted: tuple[str, ...] = ()
        profile = baselines.get(version)
        if profile is None:
            run.status = "error"
            run.error = f"model_version={version!r}: no baseline named {spec.baseline!r}"
        elif len(version_rows) < spec.min_rows:
            run.status = "insufficient_data"
            run.n_reference = int(profile["sample_size"])
        else:
            result = _evaluate_version(spec, profile, version_rows)
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
                len(version_rows),
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


def _first_event(session: Session, model_id: str) -> datetime | None:
    return session.scalar(select(func.min(Prediction.ts)).where(Prediction.model_id == model_id))


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
    sessions = sessionmaker(engine, expire_on_commit=False)
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
                start = monitor.checked_until or _first_event(session, spec.model_id)
                if start is None:
                    break
                due = closed_windows(start, now, spec.window_size, limit=1)
                if not due:
                    break
                lo, hi = due[0]
                window_summaries = _run_window(session, monitor, spec, lo, hi)
                monitor.checked_until = hi
            summaries.extend(window_summaries)
            if on_run is not None:
                for s in window_summaries:
                    on_run(s)
    return summaries
