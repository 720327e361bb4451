"""The detect worker's pass: claims due (monitor, window) jobs, one transaction each.

Each window is one transaction: claim a monitor by locking its row (``FOR UPDATE SKIP
LOCKED``, most overdue first, so several workers spread over the monitors and none runs
a window twice), find its next closed window, evaluate and store it
(monitor.detection.evaluate), and advance ``checked_until``. A worker that dies
mid-window loses its transaction: PostgreSQL drops the row lock with the connection and
the next worker redoes the window, so nothing is stored twice or by half.

Late data: a pass starts with the sketch refresh (monitor.detection.bucket_refresh),
which rebuilds every hour bucket whose events, features or labels changed and queues the
bucket for each monitor of its model (``window_reruns``). Once it has no window due, a
claimed monitor runs again, in the same way, the windows it already checked over each
queued bucket (their old runs are replaced), so a late event, a feature log that came
after its prediction or a label that came weeks later updates the results it belongs to.
A window whose runs already reflect the change is left as it is
(monitor.detection.window_freshness).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Collection
from datetime import UTC, datetime

import psycopg
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from monitor.db.engine import make_sessionmaker
from monitor.db.models import DetectorRun, Monitor, Prediction, WindowRerun
from monitor.detection.bucket_reads import HOUR, is_bucketed
from monitor.detection.bucket_refresh import refresh_buckets
from monitor.detection.evaluate import RunSummary, evaluate_window
from monitor.detection.spec import MonitorSpec
from monitor.detection.window_data import RangeCache
from monitor.detection.window_freshness import reflects_refresh, rows_unchanged
from monitor.detection.windows import earliest_start_after, window_after
from monitor.epoch import floor_to

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

    ``FOR NO KEY UPDATE``: exclusive among workers, yet it lets the sketch refresh insert
    ``window_reruns`` rows for the monitor meanwhile (their foreign key takes a key-share
    lock, which ``FOR UPDATE`` would make wait for the whole window, and ingest behind
    it on the bucket rows the refresh holds).
    """
    query = select(Monitor).where(Monitor.enabled)
    if skip:
        query = query.where(Monitor.id.not_in(skip))
    return session.scalar(
        query.order_by(Monitor.checked_until.asc().nulls_first(), Monitor.id)
        .limit(1)
        .with_for_update(skip_locked=True, key_share=True)
    )


def hold_window(session: Session) -> None:
    """Bound how long this transaction may sit idle holding a monitor's lock."""
    session.execute(
        text(f"SET LOCAL idle_in_transaction_session_timeout = '{WINDOW_IDLE_TIMEOUT}'")
    )


def window_stored(
    session: Session, monitor: Monitor, spec: MonitorSpec, *, lo: datetime, hi: datetime
) -> bool:
    """Whether runs of this monitor over exactly ``[lo, hi)`` are stored, of any of its
    signals (by ``backfill``, or a worker before this window's bounds changed)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(DetectorRun)
            .where(
                DetectorRun.monitor_id == monitor.id,
                # With the window's end: ix_runs_model_window finds the rows directly.
                DetectorRun.model_id == spec.model_id,
                DetectorRun.window_start == lo,
                DetectorRun.window_end == hi,
            )
        )
        or 0
    ) > 0


def replace_window(
    session: Session,
    monitor: Monitor,
    spec: MonitorSpec,
    *,
    lo: datetime,
    hi: datetime,
    stored: bool,
    cache: RangeCache | None = None,
) -> list[RunSummary]:
    """Evaluate ``[lo, hi)`` (again, when runs of it are ``stored``: their runs are deleted
    first, with their results and alert marks). When the window no longer has events
    (retention dropped their partition) the stored runs are kept and nothing is
    returned. Returns the new runs."""
    # A savepoint: when the window's events are gone, the delete is undone.
    replacing = session.begin_nested()
    if stored:
        session.execute(
            delete(DetectorRun).where(
                DetectorRun.monitor_id == monitor.id,
                DetectorRun.window_start == lo,
                DetectorRun.window_end == hi,
            )
        )
    runs = evaluate_window(session, monitor, spec, lo=lo, hi=hi, cache=cache)
    if stored and not runs:
        replacing.rollback()
    else:
        replacing.commit()
    return runs


def windows_over(spec: MonitorSpec, bucket: datetime) -> list[tuple[datetime, datetime]]:
    """The monitor's windows whose result a change in the bucket ``[bucket, bucket + 1h)``
    can alter: those holding it, and with a ``previous_window`` reference those whose
    reference (the window before) holds it."""
    size, step = spec.window_size, spec.step_size
    reach = 2 * size if spec.reference == "previous_window" else size
    end = floor_to(bucket, step) + step  # the first window end after the bucket's start
    out = []
    while end - reach < bucket + HOUR:
        out.append((end - size, end))
        end += step
    return out


def _pop_rerun(session: Session, monitor: Monitor) -> tuple[datetime, int] | None:
    """Take the oldest changed bucket (late events, features or labels) queued for a
    claimed monitor, and the latest refresh that queued it (its transaction id): its rows
    are deleted by id, so a refresh queueing the same bucket again meanwhile is kept (and
    runs the windows once more)."""
    oldest = (
        select(func.min(WindowRerun.bucket))
        .where(WindowRerun.monitor_id == monitor.id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(WindowRerun.id, WindowRerun.bucket, WindowRerun.txid).where(
            WindowRerun.monitor_id == monitor.id, WindowRerun.bucket == oldest
        )
    ).all()
    if not rows:
        return None
    session.execute(delete(WindowRerun).where(WindowRerun.id.in_([r.id for r in rows])))
    return rows[0].bucket, max(r.txid for r in rows)


def _fresh(
    session: Session, monitor: Monitor, spec: MonitorSpec, *, lo: datetime, hi: datetime, txid: int
) -> bool:
    """Whether the stored window would come out the same if run again: its runs saw the
    refresh that queued the bucket, or (a window read from rows, not from whole hours of
    sketches) none of its rows changed since they ran."""
    if reflects_refresh(session, monitor.id, lo=lo, hi=hi, txid=txid):
        return True
    if is_bucketed(lo, hi):
        return False  # its rows may be many: running it from sketches is the cheaper check
    rows_from = lo - spec.window_size if spec.reference == "previous_window" else lo
    return rows_unchanged(session, monitor.id, spec.model_id, lo=lo, hi=hi, rows_from=rows_from)


def _rerun(
    session: Session,
    monitor: Monitor,
    spec: MonitorSpec,
    *,
    bucket: datetime,
    txid: int,
    cache: RangeCache,
) -> list[RunSummary]:
    """Run again the windows a changed bucket alters that are already stored: those the
    worker checked (up to ``checked_until``, even if they had no event then) and those a
    backfill stored ahead of it, unless running them again would change nothing
    (:func:`_fresh`). A window still to come reads the new data anyway."""
    hold_window(session)
    summaries: list[RunSummary] = []
    for lo, hi in windows_over(spec, bucket):
        checked = monitor.checked_until is not None and hi <= monitor.checked_until
        stored = window_stored(session, monitor, spec, lo=lo, hi=hi)
        if (checked or stored) and not _fresh(session, monitor, spec, lo=lo, hi=hi, txid=txid):
            summaries += replace_window(
                session, monitor, spec, lo=lo, hi=hi, stored=stored, cache=cache
            )
    if summaries:
        log.info(
            "model=%s monitor=%s changed data in bucket %s: %d run(s) again",
            monitor.model_id,
            monitor.name,
            bucket.isoformat(),
            len(summaries),
        )
    return summaries


def _step(
    session: Session, monitor: Monitor, spec: MonitorSpec, *, now: datetime, cache: RangeCache
) -> list[RunSummary] | None:
    """One step of a claimed monitor, in the caller's transaction: its next due window
    is run and ``checked_until`` moves past it, or else the stored windows over its
    oldest changed bucket run again. None: neither is there.

    Due windows first: they are what alerts wait for, while a re-run corrects a result
    already stored (and the end of each hour queues one for every window of the hour,
    most of which then turn out unchanged). A due window reads the current data anyway."""
    window = _next_window(session, monitor, spec, now)
    if window is None:
        queued = _pop_rerun(session, monitor)
        if queued is None:
            return None
        bucket, txid = queued
        return _rerun(session, monitor, spec, bucket=bucket, txid=txid, cache=cache)
    lo, hi = window
    hold_window(session)
    if window_stored(session, monitor, spec, lo=lo, hi=hi):
        summaries: list[RunSummary] = []  # backfilled ahead of the cursor: not run twice
    else:
        summaries = evaluate_window(session, monitor, spec, lo=lo, hi=hi, cache=cache)
    monitor.checked_until = hi
    return summaries


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
    # Sketches of every closed bucket with new or late data first: the windows below read
    # them, and the changed buckets under windows already checked queue those windows
    # again. The open hour is left alone: no window over it is due, and rebuilding it on
    # every pass while events stream in would be wasted.
    refresh_buckets(engine, hi=floor_to(now, HOUR))
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
                window_summaries = _step(session, monitor, spec, now=now, cache=cache)
                if window_summaries is None:
                    finished.add(monitor.id)
                    continue
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
