"""`driftwarden backfill`: the windows of a range, once, beside the detect worker."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import timedelta

import numpy as np
from factories import CLI, MODEL, cli, events, recent_start, register, settings_env, store
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.db.models import DetectorRun, Monitor
from monitor.detection.backfill import BackfillStep, plan_backfill, run_backfill, windows_in
from monitor.detection.runner import run_due
from monitor.detection.spec import MonitorSpec

START = recent_start().replace(hour=0)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def stored_windows(db: Engine) -> dict[object, tuple[int, str]]:
    """window_start -> (run id, status) of the runs of monitor credit-drift."""
    with Session(db) as session:
        rows = session.execute(
            select(DetectorRun.window_start, DetectorRun.id, DetectorRun.status).order_by(
                DetectorRun.window_start
            )
        ).all()
    starts = [r[0] for r in rows]
    assert len(starts) == len(set(starts)), "a window stored twice"
    return {start: (run_id, status) for start, run_id, status in rows}


def hours_with_events(db: Engine, hours: list[int]) -> None:
    rng = np.random.default_rng(21)
    for h in hours:
        store(db, events(START + h * HOUR, 100, rng=rng, prefix=f"h{h}"))


def test_windows_of_a_range_are_those_wholly_inside_it() -> None:
    tumbling = MonitorSpec(model_id=MODEL, window="1h")
    assert windows_in(tumbling, start=START + 30 * MINUTE, end=START + 3 * HOUR) == [
        (START + HOUR, START + 2 * HOUR),
        (START + 2 * HOUR, START + 3 * HOUR),
    ]
    sliding = MonitorSpec(model_id=MODEL, window="2h", step="1h")
    assert windows_in(sliding, start=START, end=START + 4 * HOUR + 59 * MINUTE) == [
        (START, START + 2 * HOUR),
        (START + HOUR, START + 3 * HOUR),
        (START + 2 * HOUR, START + 4 * HOUR),
    ]
    assert windows_in(tumbling, start=START, end=START + 59 * MINUTE) == []


def test_backfill_runs_the_range_once_and_the_worker_skips_what_it_stored(
    db: Engine, settings: Settings
) -> None:
    register(db)
    hours_with_events(db, [0, 1, 2, 4, 5])  # hour 3 has no event

    frm, to = (START + 30 * MINUTE).isoformat(), (START + 4 * HOUR).isoformat()
    out = cli(settings, "backfill", "--model", MODEL, "--from", frm, "--to", to)
    # [0h, 1h) starts before --from and [4h, 5h) ends after --to: not run.
    assert out.splitlines()[-1] == (
        "windows=3 run=2 replaced=0 already_stored=0 empty=1 runs=2 error_runs=0"
    )
    first = stored_windows(db)
    assert [(s, status) for s, (_, status) in first.items()] == [
        (START + HOUR, "ok"),
        (START + 2 * HOUR, "ok"),
    ]
    with Session(db) as session:
        assert session.scalar(select(Monitor.checked_until)) is None  # the worker's cursor

    # Again: nothing is run twice.
    out = cli(settings, "backfill", "--model", MODEL, "--from", frm, "--to", to)
    assert out.splitlines()[-1] == (
        "windows=3 run=0 replaced=0 already_stored=2 empty=1 runs=0 error_runs=0"
    )
    assert stored_windows(db) == first

    # --replace evaluates them again: new runs in place of the old.
    out = cli(settings, "backfill", "--model", MODEL, "--from", frm, "--to", to, "--replace")
    assert out.splitlines()[-1] == (
        "windows=3 run=0 replaced=2 already_stored=0 empty=1 runs=2 error_runs=0"
    )
    replaced = stored_windows(db)
    assert list(replaced) == list(first)
    assert all(replaced[s][0] != first[s][0] for s in first)

    # The worker runs the rest and skips the two windows already stored.
    runs = run_due(db)
    assert [r.window_start for r in runs] == [START, START + 4 * HOUR, START + 5 * HOUR]
    assert list(stored_windows(db)) == [START + h * HOUR for h in (0, 1, 2, 4, 5)]


def test_progress_is_reported_window_by_window_and_open_windows_are_left_out(
    db: Engine,
) -> None:
    register(db)
    hours_with_events(db, [0, 1])
    # At +2h03 the window [1h, 2h) is closed but not for the 5-minute delay yet.
    jobs = plan_backfill(
        db, model_id=MODEL, start=START, end=START + 3 * HOUR, now=START + 2 * HOUR + 3 * MINUTE
    )
    assert [(j.monitor, j.window_start) for j in jobs] == [("credit-drift", START)]
    jobs = plan_backfill(db, model_id=MODEL, start=START, end=START + 3 * HOUR)
    steps: list[BackfillStep] = []
    report = run_backfill(db, jobs, on_step=steps.append)
    assert [(s.job.window_start, s.outcome, len(s.runs)) for s in steps] == [
        (START, "run", 1),
        (START + HOUR, "run", 1),
        (START + 2 * HOUR, "empty", 0),
    ]
    assert report.counts == {"run": 2, "empty": 1}


def test_bad_arguments_are_refused_naming_the_value(db: Engine, settings: Settings) -> None:
    register(db)
    env = {**os.environ, **settings_env(settings)}
    cases = [
        (["--model", MODEL, "--from", "2026-11-02", "--to", "2026-11-01"], "is not after --from="),
        (["--model", "nosuch", "--from", "2026-11-01", "--to", "2026-11-02"], "'nosuch' has no"),
        (
            ["--model", MODEL, "--monitor", "x", "--from", "2026-11-01", "--to", "2026-11-02"],
            "--monitor='x' is not a monitor of model 'credit'",
        ),
        (["--model", MODEL, "--from", "yesterday", "--to", "2026-11-02"], "--from='yesterday'"),
    ]
    for args, message in cases:
        done = subprocess.run(
            [CLI, "backfill", *args], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 2, args
        assert message in " ".join(done.stdout.split()), done.stdout


def test_backfill_waits_for_a_worker_holding_the_monitor(db: Engine, settings: Settings) -> None:
    register(db)
    hours_with_events(db, [0])
    env = {**os.environ, **settings_env(settings)}
    with db.connect() as worker:
        # Stands for a detect worker in the middle of this monitor's window.
        worker.execute(text("SELECT id FROM monitors FOR NO KEY UPDATE"))
        proc = subprocess.Popen(
            [
                CLI,
                "backfill",
                "--model",
                MODEL,
                "--from",
                START.isoformat(),
                "--to",
                (START + HOUR).isoformat(),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not blocked_on_monitors(db):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the backfill never reached the monitor"
            time.sleep(0.05)
        assert stored_windows(db) == {}
        worker.rollback()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.splitlines()[-1].startswith("windows=1 run=1 ")
    assert [status for _, status in stored_windows(db).values()] == ["ok"]


def blocked_on_monitors(db: Engine) -> bool:
    with db.connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' "
                    "AND query LIKE '%FROM monitors%FOR NO KEY UPDATE%'"
                )
            )
        )


def test_replace_keeps_a_window_whose_events_are_gone(db: Engine, settings: Settings) -> None:
    register(db)
    hours_with_events(db, [1, 2])
    frm, to = START.isoformat(), (START + 3 * HOUR).isoformat()
    cli(settings, "backfill", "--model", MODEL, "--from", frm, "--to", to)
    first = stored_windows(db)
    with db.begin() as conn:  # retention dropped the first hour's events and sketches
        for table, column in (
            ("predictions", "ts"),
            ("event_buckets", "bucket"),
            ("bucket_sketches", "bucket"),
        ):
            conn.execute(
                text(f"DELETE FROM {table} WHERE {column} >= :lo AND {column} < :hi"),
                {"lo": START + HOUR, "hi": START + 2 * HOUR},
            )

    out = cli(settings, "backfill", "--model", MODEL, "--from", frm, "--to", to, "--replace")
    assert out.splitlines()[-1] == (
        "windows=3 run=0 replaced=1 already_stored=1 empty=1 runs=1 error_runs=0"
    )
    after = stored_windows(db)
    assert after[START + HOUR] == first[START + HOUR]  # kept, not deleted
    assert after[START + 2 * HOUR][0] != first[START + 2 * HOUR][0]  # evaluated again


def test_windows_of_a_monitor_changed_after_planning_are_skipped(db: Engine) -> None:
    register(db)
    hours_with_events(db, [0, 1])
    jobs = plan_backfill(db, model_id=MODEL, start=START, end=START + 2 * HOUR)
    changed = MonitorSpec(model_id=MODEL, window="2h", min_rows=50).model_dump(mode="json")
    with Session(db) as session, session.begin():
        session.scalars(select(Monitor)).one().spec = changed  # a monitors apply meanwhile
    report = run_backfill(db, jobs)
    assert report.counts == {"changed": 2}
    assert stored_windows(db) == {}
