"""Late data: events, feature logs and labels that arrive after their window was checked
make the worker run that window again (and only that one), replacing its runs."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from factories import MODEL, events, recent_start, register, store
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from monitor.config import load_settings
from monitor.db.models import DetectorRun
from monitor.db.partitions import PartitionManager
from monitor.detection.backfill import plan_backfill, run_backfill
from monitor.detection.runner import run_due, windows_over
from monitor.detection.spec import MonitorSpec

START = recent_start().replace(hour=0)
HOUR = timedelta(hours=1)
LATER = START + 10 * HOUR


def _runs(db: Engine) -> dict[object, tuple[str, int, float | None]]:
    with Session(db) as s:
        return {
            r.window_start: (r.status, r.n_current, r.drift_share)
            for r in s.scalars(select(DetectorRun).where(DetectorRun.segment == ""))
        }


def test_late_events_run_their_window_again_and_only_it(db: Engine) -> None:
    register(db, min_rows=50)
    rng = np.random.default_rng(5)
    for h in range(3):
        store(db, events(START + h * HOUR, 200, rng=rng, prefix=f"w{h}"))
    run_due(db, now=LATER)
    before = _runs(db)
    assert [before[START + h * HOUR][:2] for h in range(3)] == [("ok", 200)] * 3
    assert before[START + HOUR][2] == 0.0

    # 600 shifted events of the middle hour arrive hours late.
    store(db, events(START + HOUR, 600, rng=rng, prefix="late", shift=True))
    again = run_due(db, now=LATER + HOUR)
    assert [(r.window_start, r.n_current) for r in again] == [(START + HOUR, 800)]
    after = _runs(db)
    assert after[START + HOUR][:2] == ("ok", 800)
    assert (after[START + HOUR][2] or 0.0) > 0.5  # the late events drift
    assert after[START] == before[START]
    assert after[START + 2 * HOUR] == before[START + 2 * HOUR]
    # One run per window, still: the old one was replaced.
    with db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM detector_runs")) == 3
        assert conn.scalar(text("SELECT count(*) FROM window_reruns")) == 0
    # Nothing changed since: nothing runs.
    assert run_due(db, now=LATER + 2 * HOUR) == []


def test_a_late_label_runs_its_window_again(db: Engine) -> None:
    register(db, min_rows=50)
    rng = np.random.default_rng(6)
    evs = events(START, 100, rng=rng, prefix="x")
    store(db, evs)
    run_due(db, now=LATER)
    label = {"event_id": evs[0]["event_id"], "model_id": MODEL, "label": 1}
    label["timestamp"] = (LATER + HOUR).isoformat()
    store(db, [label], topic=load_settings().labels_topic)
    again = run_due(db, now=LATER + HOUR)
    assert [r.window_start for r in again] == [START]
    with Session(db) as s:
        (run,) = s.scalars(select(DetectorRun)).all()
    assert run.n_labelled == 1


def test_the_end_of_an_hour_runs_again_only_the_sub_hour_windows_that_changed(
    db: Engine,
) -> None:
    """Ingest changes the open hour's bucket all hour long; once the hour is refreshed,
    the 10-minute windows checked meanwhile, each after its own events had come, are
    queued but not run again. A late event or label then runs exactly its window."""
    register(db, window="10m", min_rows=20)
    rng = np.random.default_rng(7)
    evs = events(START, 600, rng=rng, prefix="m")  # 100 per 10 minutes
    store(db, evs)
    minute = timedelta(minutes=1)
    first = run_due(db, now=START + 58 * minute)  # the hour still open: no refresh yet
    assert sorted(r.window_start for r in first) == [START + 10 * k * minute for k in range(5)]
    before = _runs(db)

    # The hour ends: its bucket is refreshed and queued; only the window due runs.
    second = run_due(db, now=START + HOUR + 6 * minute)
    assert [r.window_start for r in second] == [START + 50 * minute]
    with db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM window_reruns")) == 0
    assert {k: v for k, v in _runs(db).items() if k in before} == before

    # A late event in [10m, 20m) and a late label for an event of [20m, 30m).
    late = events(START + 12 * minute, 1, rng=rng, prefix="late")
    store(db, late)
    label = {"event_id": evs[250]["event_id"], "model_id": MODEL, "label": 1}
    label["timestamp"] = (LATER + HOUR).isoformat()
    store(db, [label], topic=load_settings().labels_topic)
    third = run_due(db, now=LATER + HOUR)
    assert sorted(r.window_start for r in third) == [START + 10 * minute, START + 20 * minute]
    after = _runs(db)
    assert after[START + 10 * minute][1] == 101
    assert after[START] == before[START]


def test_windows_over_a_bucket() -> None:
    tumbling = MonitorSpec(model_id=MODEL, window="1h")
    daily = MonitorSpec(model_id=MODEL, window="1d", step="6h")
    day_over_day = MonitorSpec(model_id=MODEL, window="1h", reference="previous_window")
    assert windows_over(tumbling, START + HOUR) == [(START + HOUR, START + 2 * HOUR)]
    # 1-day windows every 6 hours: those ending at +6h, +12h, +18h and +24h hold 05:00.
    assert windows_over(daily, START + 5 * HOUR) == [
        (START + k * 6 * HOUR - 24 * HOUR, START + k * 6 * HOUR) for k in (1, 2, 3, 4)
    ]
    # Compared with the window before: the next window's reference holds the bucket too.
    assert windows_over(day_over_day, START + HOUR) == [
        (START + HOUR, START + 2 * HOUR),
        (START + 2 * HOUR, START + 3 * HOUR),
    ]


def test_late_events_rerun_a_window_backfilled_ahead_of_the_worker(db: Engine) -> None:
    register(db, min_rows=50)
    rng = np.random.default_rng(9)
    store(db, events(START, 200, rng=rng, prefix="a"))
    store(db, events(START + 5 * HOUR, 200, rng=rng, prefix="b"))
    run_backfill(db, plan_backfill(db, model_id=MODEL, start=START + 5 * HOUR, end=LATER))
    with Session(db) as s, s.begin():  # the worker has checked only the first hour
        s.execute(text("UPDATE monitors SET checked_until = :t"), {"t": START + HOUR})
        s.execute(text("DELETE FROM window_reruns"))
    store(db, events(START + 5 * HOUR, 300, rng=rng, prefix="late", shift=True))
    again = run_due(db, now=LATER)
    assert (START + 5 * HOUR, 500) in [(r.window_start, r.n_current) for r in again]
    assert _runs(db)[START + 5 * HOUR][:2] == ("ok", 500)


def test_retention_drops_the_buckets_and_sketches_of_dropped_months(db: Engine) -> None:
    register(db, min_rows=50)
    store(db, events(START, 200, rng=np.random.default_rng(4), prefix="r"))
    run_due(db, now=LATER)
    with db.connect() as conn:
        dropped = PartitionManager().drop_expired(
            conn, now=START + timedelta(days=400), retention=timedelta(days=30)
        )
        assert dropped
        for table in ("predictions", "event_buckets", "bucket_sketches"):
            assert conn.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
    # The runs of the gone events are kept: a replacing backfill finds nothing to run.
    before = _runs(db)
    report = run_backfill(
        db, plan_backfill(db, model_id=MODEL, start=START, end=LATER), replace=True
    )
    assert report.count("run") == report.count("replaced") == 0
    assert _runs(db) == before
