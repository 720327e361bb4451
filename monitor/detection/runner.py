"""The detect worker: claims due (monitor, window) jobs and stores their results.

Each window is one transaction: claim a monitor by locking its row (``FOR UPDATE SKIP
LOCKED``, most overdue first, so several workers spread over the monitors and none runs
a window twice), load the window's events, run the detectors per model version against
that version's reference (its baseline, the window before, or its events in a fixed
range), write one run row plus one row per feature, and advance ``checked_until``. A
worker that dies mid-window loses its transaction: PostgreSQL drops the row lock with the
connection and the next worker redoes the window, so nothing is stored twice or by half.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import detectors
from monitor.db.engine import make_sessionmaker
from monitor.db.models import DetectorRun, FeatureResult, Label, ModelVersion, Monitor, Prediction
from monitor.detection.baseline import load_baselines
from monitor.detection.spec import MonitorSpec
from monitor.detection.windows import earliest_start_after, floor_to, window_after
from monitor.layout import Layout

log = logging.getLogger(__name__)

# Rows of a fixed reference range kept per version: the same bound as a baseline's sample.
MAX_REFERENCE_ROWS = 20_000

# A window's transaction holds its monitor's row lock while the detectors compute, and is
# idle in PostgreSQL's eyes meanwhile. A dead worker's lock goes with its connection; this
# bounds how long a hung one (stopped, deadlocked in Python) keeps it: the server ends its
# session and another worker takes the monitor. Far above any window's compute time.
WINDOW_IDLE_TIMEOUT = "10min"


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


def _profile_reference(profile: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """A baseline profile's sample as columns, and their kinds."""
    features = profile["features"]
    kinds = {f: str(p["kind"]) for f, p in features.items()}
    return {f: _column(p["sample"], kinds[f]) for f, p in features.items()}, kinds


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


def _load_windows(
    session: Session, model_id: str, *, lo: datetime, hi: datetime, limit: int | None = None
) -> dict[str, _Window]:
    """The model's events in ``[lo, hi)`` by version; with ``limit``, at most that many
    rows per version, a fixed pseudo-random subset (by a hash of the event id)."""
    windows: dict[str, _Window] = defaultdict(lambda: _Window([], []))
    query = select(Prediction.model_version, Prediction.num_values, Prediction.cat_values).where(
        Prediction.model_id == model_id, Prediction.ts >= lo, Prediction.ts < hi
    )
    if limit is not None:
        # Rows still waiting for their features would take a place in the sample.
        ranked = (
            query.where((Prediction.num_values.is_not(None)) | (Prediction.cat_values.is_not(None)))
            .add_columns(
                func.row_number()
                .over(partition_by=Prediction.model_version, order_by=func.md5(Prediction.event_id))
                .label("rank")
            )
            .subquery()
        )
        query = select(ranked.c.model_version, ranked.c.num_values, ranked.c.cat_values).where(
            ranked.c.rank <= limit
        )
    for version, num, cat in session.execute(query):
        w = windows[version]
        if num is None and cat is None:
            w.pending += 1  # features still expected from a feature log
        else:
            w.num.append(num or [])
            w.cat.append(cat or [])
    return dict(windows)


# Reference rows of fixed ranges, by (model, start, end): loaded once per run_due call,
# not once per window.
RangeCache = dict[tuple[str, datetime, datetime], dict[str, _Window]]


def _window_references(
    session: Session, spec: MonitorSpec, *, lo: datetime, cache: RangeCache
) -> tuple[dict[str, _Window], str]:
    """The reference rows by version for a window starting at ``lo`` (reference
    ``previous_window`` or ``fixed_window``), and how to name that range in an error."""
    if spec.reference == "previous_window":
        start, end = lo - spec.window_size, lo
        return _load_windows(session, spec.model_id, lo=start, hi=end), "previous window"
    assert spec.reference_window is not None  # the spec's validator ensures it
    start, end = spec.reference_window.start, spec.reference_window.end
    key = (spec.model_id, start, end)
    if key not in cache:
        cache[key] = _load_windows(
            session, spec.model_id, lo=start, hi=end, limit=MAX_REFERENCE_ROWS
        )
    return cache[key], f"reference window [{start.isoformat()}, {end.isoformat()})"


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
    windows = _load_windows(session, spec.model_id, lo=lo, hi=hi)
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
    references: dict[str, _Window] = {}
    reference_name = ""
    if spec.reference == "baseline":
        baselines = load_baselines(session, spec.model_id, spec.baseline)
    else:
        references, reference_name = _window_references(
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
                    reference = _profile_reference(profile)
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
