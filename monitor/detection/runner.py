"""The detect worker's pass: claims due (monitor, window) jobs, one transaction each.

Each window is one transaction: claim a monitor by locking its row (``FOR UPDATE SKIP
LOCKED``, most overdue first, so several workers spread over the monitors and none runs
a window twice), find its next closed window, evaluate and store it
(monitor.detection.evaluate), and advance ``checked_until``. A worker that dies
mid-window loses its transaction: PostgreSQL drops the row lock with the connection and
the next worker redoes the window, so nothing is stored twice or by half.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Collection
from datetime import UTC, datetime

import psycopg
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from monitor.db.engine import make_sessionmaker
from monitor.db.models import DetectorRun, Monitor, Prediction
from monitor.detection.evaluate import RunSummary, evaluate_window
from monitor.detection.spec import MonitorSpec
from monitor.detection.window_data import RangeCache
from monitor.detection.windows import earliest_start_after, floor_to, window_after

log = logging.getLogger(__name__)


# A window's transaction holds its monitor's row lock while the detectors compute, and is
# idle in PostgreSQL's eyes meanwhile. A dead worker's lock goes with its connection; this
# bounds how long a hung one (stopped, deadlocked in Python) keeps it: the server ends its
# session and another worker takes the monitor. Far above any window's compute time.
WINDOW_IDLE_TIMEOUT = "10min"


def _next_window(
    session: Session, monitor: Monitor, spec: MonitorSpec, now: datetime
) -> tuple[datetime, datetime] | None:
    """The next window to check: the first ending after ``checked_until`` that holds an
    event (empty stretches are skipped, not run one by one), closed for at least the
    spec's ``delay`` so that events still in flight are in, and, with a schedule, only
    once a tick of its ``every`` has passed since (plus the delay)."""
    size, step = spec.window_size, spec.step_size
    query = select(func.min(Prediction.ts)).where(Prediction.model_id == spec.model_id)
    bound = earliest_start_after(monitor.checked_until, size=size, step=step)
    if bound is not None:
        query = query.where(Prediction.ts >= bound)
    first = session.scalar(query)
    if first is None:
        return None
    lo, hi = window_after(monitor.checked_until, first, size=size, step=step)
    cutoff = now - spec.delay_size
    if spec.schedule is not None:
        cutoff = floor_to(cutoff, spec.schedule.every_size)
    return (lo, hi) if hi <= cutoff else None


def _claim(session: Session, *, skip: Collection[int]) -> Monitor | None:
    """Lock the most overdue enabled monitor no other worker holds (None: none left).

    Most overdue first (never checked, then the oldest ``checked_until``) rather than in
    id order: concurrent workers each take a different monitor instead of queueing on
    the first, and a monitor with a long backlog does not starve the others.
    """
    query = select(Monitor).where(Monitor.enabled)
    if skip:
        query = query.where(Monitor.id.not_in(skip))
    return session.scalar(
        query.order_by(Monitor.checked_until.asc().nulls_first(), Monitor.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def hold_window(session: Session) -> None:
    """Bound how long this transaction may sit idle holding a monitor's lock."""
    session.execute(
        text(f"SET LOCAL idle_in_transaction_session_timeout = '{WINDOW_IDLE_TIMEOUT}'")
    )


def window_stored(
    session: Session, monitor: Monitor, spec: MonitorSpec, *, lo: datetime, hi: datetime
) -> bool:
    """Whether runs of this monitor's signal over exactly ``[lo, hi)`` are stored
    (by ``backfill``, or a worker before this window's bounds changed)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(DetectorRun)
            .where(
                DetectorRun.monitor_id == monitor.id,
                # With the window's end: ix_runs_model_window finds the rows directly.
                DetectorRun.model_id == spec.model_id,
                DetectorRun.signal == spec.signal,
                DetectorRun.window_start == lo,
                DetectorRun.window_end == hi,
            )
        )
        or 0
    ) > 0


def run_due(
    engine: Engine,
    *,
    now: datetime | None = None,
    max_windows: int = 1000,
    on_run: Callable[[RunSummary], None] | None = None,
    stop: threading.Event | None = None,
) -> list[RunSummary]:
    """Run every closed, not yet checked window of every enabled monitor that no other
    worker holds (at most ``max_windows`` per monitor per call), one window per
    transaction, until none is due or ``stop`` is set (checked between windows: the
    current one is finished and committed first). Returns what was run.

    A monitor whose stored spec no longer validates is logged and left out. A database
    error in a window rolls that window back (nothing of it is kept) and leaves its
    monitor for the next pass; the other monitors still run, and the pass then raises
    the first such error (the worker backs off; ``--once`` exits 1). A failing claim
    raises at once.
    """
    now = now or datetime.now(UTC)
    sessions = make_sessionmaker(engine)
    cache: RangeCache = {}
    done: dict[int, int] = defaultdict(int)  # windows run per monitor in this call
    finished: set[int] = set()  # nothing due, max_windows reached, or a bad spec
    summaries: list[RunSummary] = []
    failed: list[Exception] = []  # database errors of single windows, this pass
    while stop is None or not stop.is_set():
        # (id, model, name) of the claimed monitor, kept as plain values: a rollback
        # expires the ORM object.
        claimed: tuple[int, str, str] | None = None
        try:
            with sessions.begin() as session:
                monitor = _claim(session, skip=finished)
                if monitor is None:
                    break  # every monitor is finished or held by another worker
                claimed = (monitor.id, monitor.model_id, monitor.name)
                try:
                    spec = MonitorSpec.model_validate(monitor.spec)
                except ValueError as exc:
                    log.error(
                        "model=%s monitor=%s invalid stored spec: %s",
                        monitor.model_id,
                        monitor.name,
                        exc,
                    )
                    finished.add(monitor.id)
                    continue
                window = _next_window(session, monitor, spec, now)
                if window is None:
                    finished.add(monitor.id)
                    continue
                lo, hi = window
                hold_window(session)
                if window_stored(session, monitor, spec, lo=lo, hi=hi):
                    window_summaries = []  # backfilled ahead of the cursor: not run twice
                else:
                    window_summaries = evaluate_window(
                        session, monitor, spec, lo=lo, hi=hi, cache=cache
                    )
                monitor.checked_until = hi
                done[monitor.id] += 1
                if done[monitor.id] >= max_windows:
                    finished.add(monitor.id)
        except (SQLAlchemyError, psycopg.Error) as exc:
            if claimed is None:
                raise  # the claim itself failed: the database is not there
            # One window's database error (a value the schema refuses, or an outage that
            # began mid-window) must not stop the other monitors: this monitor waits for
            # the next pass, the others go on, and the pass then ends with the error.
            log.exception("model=%s monitor=%s window failed", claimed[1], claimed[2])
            finished.add(claimed[0])
            failed.append(exc)
            continue
        summaries.extend(window_summaries)
        if on_run is not None:
            for s in window_summaries:
                on_run(s)
    if failed:
        raise failed[0]
    return summaries
