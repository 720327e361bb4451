"""Evaluating past windows on demand (``driftwarden backfill``).

A backfill takes each window under the same claim as the detect worker (the monitor's
row lock, waiting for a worker's window in progress rather than skipping) and stores it
exactly as the worker would. It never moves ``checked_until``: the worker skips the
windows a backfill stored ahead of it (runner.window_stored), so the two never store a
window twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Engine, select

from monitor.db.engine import make_sessionmaker
from monitor.db.models import Monitor
from monitor.detection.bucket_refresh import refresh_buckets
from monitor.detection.evaluate import RunSummary
from monitor.detection.runner import hold_window, replace_window, window_stored
from monitor.detection.spec import MonitorSpec
from monitor.detection.window_data import RangeCache
from monitor.epoch import floor_to

log = logging.getLogger(__name__)

Outcome = Literal["run", "replaced", "stored", "empty", "gone", "changed"]


class BackfillError(ValueError):
    """The backfill cannot start: bad range, unknown model or monitor, invalid spec."""


@dataclass(frozen=True)
class BackfillJob:
    monitor_id: int
    monitor: str
    spec: MonitorSpec
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True)
class BackfillStep:
    job: BackfillJob
    outcome: Outcome
    runs: tuple[RunSummary, ...] = ()


@dataclass
class BackfillReport:
    """Windows by outcome: ``run`` (evaluated), ``replaced`` (stored runs deleted and
    evaluated again), ``stored`` (already stored, skipped), ``empty`` (no event in the
    window: nothing to store), ``gone`` (the monitor was deleted meanwhile), ``changed``
    (the monitor's spec changed since the backfill was planned: its windows may no longer
    be these; skipped, run the backfill again)."""

    counts: dict[str, int] = field(default_factory=dict)
    runs: list[RunSummary] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return self.counts.get(outcome, 0)


def _same_spec(stored: dict[str, object], planned: MonitorSpec) -> bool:
    try:
        return MonitorSpec.model_validate(stored) == planned
    except ValueError:  # no longer a valid spec: certainly not the planned one
        return False


def windows_in(
    spec: MonitorSpec, *, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The monitor's windows (epoch-aligned, as the worker runs them) lying wholly in
    ``[start, end)``: a window that starts before ``start`` or ends after ``end`` is
    not one of them."""
    size, step = spec.window_size, spec.step_size
    hi = floor_to(start + size, step)
    if hi < start + size:
        hi += step
    out = []
    while hi <= end:
        out.append((hi - size, hi))
        hi += step
    return out


def plan_backfill(
    engine: Engine,
    *,
    model_id: str,
    start: datetime,
    end: datetime,
    monitor: str | None = None,
    now: datetime | None = None,
) -> list[BackfillJob]:
    """The windows to evaluate: every window in ``[start, end)`` of the model's enabled
    monitors (or of the one named ``monitor``, enabled or not) that has been closed for
    the monitor's ``delay`` by ``now``, by monitor name then time."""
    if end <= start:
        raise BackfillError(f"--to={end.isoformat()} is not after --from={start.isoformat()}")
    now = now or datetime.now(UTC)
    query = select(Monitor).where(Monitor.model_id == model_id).order_by(Monitor.name)
    query = (
        query.where(Monitor.name == monitor)
        if monitor is not None
        else query.where(Monitor.enabled)
    )
    with make_sessionmaker(engine)() as session:
        monitors = list(session.scalars(query))
    if not monitors:
        if monitor is not None:
            raise BackfillError(f"--monitor={monitor!r} is not a monitor of model {model_id!r}")
        raise BackfillError(f"--model={model_id!r} has no enabled monitor")
    jobs: list[BackfillJob] = []
    for m in monitors:
        try:
            spec = MonitorSpec.model_validate(m.spec)
        except ValueError as exc:
            raise BackfillError(f"monitor {m.name!r}: its stored spec is invalid: {exc}") from None
        closed = min(end, now - spec.delay_size)
        jobs.extend(
            BackfillJob(m.id, m.name, spec, lo, hi)
            for lo, hi in windows_in(spec, start=start, end=closed)
        )
    return jobs


def run_backfill(
    engine: Engine,
    jobs: list[BackfillJob],
    *,
    replace: bool = False,
    on_step: Callable[[BackfillStep], None] | None = None,
    stop: threading.Event | None = None,
) -> BackfillReport:
    """Evaluate ``jobs`` one window per transaction, skipping windows already stored
    (``replace``: deleting their runs, feature results and alert marks, and evaluating
    them again; kept as they are when the window no longer has events). Stops between
    windows once ``stop`` is set. A window's failure is stored as an error run, as the
    worker does; a database error propagates (windows committed before it stay, so
    running the backfill again resumes)."""
    # The windows read the stored sketches of their buckets: bring them up to date first
    # (a backfill runs beside the workers, whose pass may not have refreshed them yet).
    for model_id in sorted({job.spec.model_id for job in jobs}):
        mine = [job for job in jobs if job.spec.model_id == model_id]
        refresh_buckets(
            engine,
            model_id=model_id,
            lo=min(job.window_start for job in mine),
            hi=max(job.window_end for job in mine),
        )
    sessions = make_sessionmaker(engine)
    cache: RangeCache = {}
    report = BackfillReport()
    for job in jobs:
        if stop is not None and stop.is_set():
            break
        lo, hi, spec = job.window_start, job.window_end, job.spec
        runs: list[RunSummary] = []
        with sessions.begin() as session:
            # Not SKIP LOCKED: wait for a worker's window in progress on this monitor.
            monitor = session.scalar(
                select(Monitor).where(Monitor.id == job.monitor_id).with_for_update(key_share=True)
            )
            if monitor is None:
                outcome: Outcome = "gone"
            elif not _same_spec(monitor.spec, spec):
                outcome = "changed"
            else:
                hold_window(session)
                stored = window_stored(session, monitor, spec, lo=lo, hi=hi)
                if stored and not replace:
                    outcome = "stored"
                else:
                    runs = replace_window(
                        session, monitor, spec, lo=lo, hi=hi, stored=stored, cache=cache
                    )
                    if stored and not runs:  # the events are gone: the runs were kept
                        outcome = "stored"
                    else:
                        outcome = "replaced" if stored else ("run" if runs else "empty")
        report.counts[outcome] = report.count(outcome) + 1
        report.runs.extend(runs)
        log.info(
            "model=%s monitor=%s window=%s backfill=%s",
            spec.model_id,
            job.monitor,
            lo.isoformat(),
            outcome,
        )
        if on_step is not None:
            on_step(BackfillStep(job, outcome, tuple(runs)))
    return report
