"""Several `driftwarden detect` processes on the same monitors: every window stored
exactly once, a worker killed mid-window replaced by another, one bad monitor never
stopping the others.

Workers are made to hold their window deterministically: the test takes a table lock
that the window's inserts wait for, and watches pg_stat_activity for the waiting
workers (no sleeps, no timing assertions).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import numpy as np
import pytest
from factories import (
    CLI,
    KINDS,
    MODEL,
    columns,
    events,
    recent_start,
    register,
    settings_env,
    store,
)
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.db.models import DetectorRun, Monitor
from monitor.detection.baseline import build_profile, save_baseline
from monitor.detection.runner import run_due
from monitor.detection.spec import MonitorSpec
from monitor.resources import FeatureSchema, ModelDoc, MonitorDoc, register_model, upsert_monitor

START = recent_start().replace(hour=0)
HOUR = timedelta(hours=1)


def worker(settings: Settings) -> subprocess.Popen[str]:
    env = {**os.environ, **settings_env(settings), "DRIFTWARDEN_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [CLI, "detect", "--once"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(proc: subprocess.Popen[str]) -> str:
    """The worker's stdout, once it exited 0."""
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


def waiting_on(db: Engine, table: str) -> list[int]:
    """Backends of this database blocked on a lock while inserting into ``table``."""
    with db.connect() as conn:
        return list(
            conn.scalars(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE :q ORDER BY pid"
                ),
                {"q": f"INSERT INTO {table} %"},
            )
        )


def backends(db: Engine) -> set[int]:
    with db.connect() as conn:
        return set(conn.scalars(text("SELECT pid FROM pg_stat_activity")))


def wait_for(predicate: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def add_monitors(db: Engine, n: int) -> None:
    with Session(db) as session, session.begin():
        for i in range(n):
            upsert_monitor(
                session,
                MonitorDoc(name=f"m{i}", spec=MonitorSpec(model_id=MODEL, min_rows=50)),
            )


def store_hours(db: Engine, hours: int, n: int = 120) -> None:
    rng = np.random.default_rng(5)
    for h in range(hours):
        store(db, events(START + h * HOUR, n, rng=rng, prefix=f"h{h}"))


def runs_per_window(db: Engine) -> dict[tuple[str, object, str], int]:
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT m.name, r.window_start, r.model_version, count(*) FROM detector_runs r "
                "JOIN monitors m ON m.id = r.monitor_id GROUP BY 1, 2, 3"
            )
        ).all()
    return {(name, start, version): count for name, start, version, count in rows}


@pytest.mark.parametrize("n_workers", [2, 4])
def test_workers_side_by_side_spread_over_the_monitors_and_run_each_window_once(
    db: Engine, settings: Settings, n_workers: int
) -> None:
    register(db)  # monitor credit-drift
    add_monitors(db, 5)
    store_hours(db, 5)
    with db.connect() as blocker:
        # Every worker claims a monitor and then waits to insert its first run: n
        # workers waiting at once means n different monitors are held at once (none
        # queues behind another on the same monitor).
        blocker.execute(text("LOCK TABLE detector_runs IN SHARE MODE"))
        procs = [worker(settings) for _ in range(n_workers)]
        wait_for(lambda: len(waiting_on(db, "detector_runs")) == n_workers, "workers")
        blocker.rollback()
    outputs = [finished(p) for p in procs]

    counts = runs_per_window(db)
    names = ["credit-drift", *(f"m{i}" for i in range(5))]
    assert counts == {(m, START + h * HOUR, "1"): 1 for m in names for h in range(5)}
    assert sum(len(o.splitlines()) for o in outputs) == 30  # each run reported by one worker
    with Session(db) as session:
        assert set(session.scalars(select(Monitor.checked_until))) == {START + 5 * HOUR}


def test_a_worker_killed_mid_window_is_replaced_and_the_window_stored_once(
    db: Engine, settings: Settings
) -> None:
    register(db)
    store_hours(db, 1)
    with db.connect() as blocker:
        # The killed worker has inserted its run row and waits to insert the features'.
        blocker.execute(text("LOCK TABLE results IN SHARE MODE"))
        victim = worker(settings)
        wait_for(lambda: len(waiting_on(db, "results")) == 1, "the victim")
        (pid,) = waiting_on(db, "results")
        victim.send_signal(signal.SIGKILL)
        victim.communicate()  # reaps it and closes its pipes
        # Its connection's transaction still holds the monitor: another worker skips it
        # (it neither waits nor runs the window a second time).
        assert finished(worker(settings)) == ""
        blocker.rollback()
    # Released, the dead worker's backend finds its client gone and rolls back.
    # (pg_stat_activity is a snapshot per transaction: a fresh one each look.)
    wait_for(lambda: pid not in backends(db), "the dead worker's backend to end")
    with db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM detector_runs")) == 0

    out = finished(worker(settings))
    assert out.splitlines() == [f"credit-drift data_drift {MODEL} v1 {START:%Y-%m-%d %H:%M}: ok"]
    assert runs_per_window(db) == {("credit-drift", START, "1"): 1}
    with db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM results WHERE feature <> ''")) == len(KINDS)


def register_churn(db: Engine) -> None:
    """A second model whose events all wait for their features (a feature log)."""
    with Session(db) as session, session.begin():
        register_model(
            session,
            ModelDoc(
                model_id="churn",
                task_type="binary_classification",
                version="1",
                features=[FeatureSchema(name=n, kind=k) for n, k in KINDS.items()],  # type: ignore[arg-type]
            ),
        )
        profile, n = build_profile(columns(np.random.default_rng(3), 1000), KINDS)
        save_baseline(session, model_id="churn", model_version="1", profile=profile, n_rows=n)
        upsert_monitor(
            session,
            MonitorDoc(name="churn-empty", spec=MonitorSpec(model_id="churn", min_rows=50)),
        )
    evs = events(START, 80, rng=np.random.default_rng(4), prefix="churn")
    for e in evs:
        e["model_id"] = "churn"
        del e["features"]
    store(db, evs)


def test_one_bad_monitor_never_stops_the_others_and_says_what_is_missing(
    db: Engine, settings: Settings
) -> None:
    register(db)  # the healthy monitor: credit-drift
    with Session(db) as session, session.begin():
        upsert_monitor(
            session,
            MonitorDoc(name="no-baseline", spec=MonitorSpec(model_id=MODEL, baseline="golden")),
        )
        upsert_monitor(
            session,
            MonitorDoc(name="no-feature", spec=MonitorSpec(model_id=MODEL, features=["salary"])),
        )
    register_churn(db)
    store_hours(db, 1)

    out = finished(worker(settings))  # error runs are results: the pass exits 0
    assert sorted(out.splitlines()) == [
        f"churn-empty data_drift churn v1 {START:%Y-%m-%d %H:%M}: insufficient_data",
        f"credit-drift data_drift credit v1 {START:%Y-%m-%d %H:%M}: ok",
        f"no-baseline data_drift credit v1 {START:%Y-%m-%d %H:%M}: error: model='credit' "
        "model_version='1': no baseline named 'golden'",
        f"no-feature data_drift credit v1 {START:%Y-%m-%d %H:%M}: error: model='credit' "
        "model_version='1': no monitored feature can be tested (not in the version's "
        "feature schema: salary; not in the baseline 'training': salary)",
    ]

    with Session(db) as session:
        rows = session.execute(
            select(Monitor.name, DetectorRun).join(
                DetectorRun, DetectorRun.monitor_id == Monitor.id
            )
        ).all()
        runs = {name: run for name, run in rows}
        assert set(runs) == {"credit-drift", "no-baseline", "no-feature", "churn-empty"}
        healthy = runs["credit-drift"]
        features = {r.feature for r in healthy.results if r.feature}
        assert (healthy.status, healthy.n_current, len(features)) == ("ok", 120, 3)
        assert runs["no-baseline"].status == "error"
        assert runs["no-baseline"].error == (
            "model='credit' model_version='1': no baseline named 'golden'"
        )
        assert runs["no-feature"].status == "error"
        assert runs["no-feature"].error == (
            "model='credit' model_version='1': no monitored feature can be tested (not in "
            "the version's feature schema: salary; not in the baseline 'training': salary)"
        )
        assert runs["no-feature"].results == []
        empty = runs["churn-empty"]
        assert (empty.status, empty.n_current, empty.n_features_pending) == (
            "insufficient_data",
            0,
            80,
        )
        assert empty.results == []


@contextmanager
def forever(settings: Settings) -> Iterator[subprocess.Popen[str]]:
    """A `detect` worker that runs until SIGTERM (killed if the test fails first)."""
    env = {**os.environ, **settings_env(settings), "DRIFTWARDEN_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [CLI, "detect", "--interval", "3600"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_sigterm_finishes_the_window_in_progress_then_exits(db: Engine, settings: Settings) -> None:
    register(db)
    store_hours(db, 2)
    with forever(settings) as proc:
        with db.connect() as blocker:
            blocker.execute(text("LOCK TABLE detector_runs IN SHARE MODE"))
            wait_for(lambda: len(waiting_on(db, "detector_runs")) == 1, "the worker")
            proc.send_signal(signal.SIGTERM)
            blocker.rollback()
        # The first window is completed and stored; the second is not started; and
        # the worker does not wait out its interval.
        out = finished(proc)
    assert out.splitlines() == [f"credit-drift data_drift {MODEL} v1 {START:%Y-%m-%d %H:%M}: ok"]
    assert runs_per_window(db) == {("credit-drift", START, "1"): 1}


FAULT = """
CREATE TABLE detect_fault (active boolean NOT NULL);
INSERT INTO detect_fault VALUES (true);
CREATE SEQUENCE detect_fault_hits;
CREATE FUNCTION detect_fault_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT active FROM detect_fault) THEN
    PERFORM nextval('detect_fault_hits');  -- survives the rollback: counts attempts
    RAISE EXCEPTION 'injected database outage';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER detect_fault BEFORE INSERT ON detector_runs
  FOR EACH ROW EXECUTE FUNCTION detect_fault_fn();
"""
UNFAULT = """
DROP TRIGGER IF EXISTS detect_fault ON detector_runs;
DROP FUNCTION IF EXISTS detect_fault_fn();
DROP SEQUENCE IF EXISTS detect_fault_hits;
DROP TABLE IF EXISTS detect_fault;
"""


def test_a_database_outage_is_retried_with_back_off_not_fatal(
    db: Engine, settings: Settings
) -> None:
    register(db)
    store_hours(db, 1)

    def hits() -> int:
        with db.connect() as conn:
            return int(conn.scalar(text("SELECT last_value FROM detect_fault_hits")) or 0)

    with db.begin() as conn:
        conn.execute(text(FAULT))
    try:
        # --once reports the failed pass with exit 1 and stores nothing.
        once = worker(settings)
        once.communicate(timeout=120)
        assert once.returncode == 1
        with forever(settings) as proc:
            # The forever worker hits the fault, backs off, and tries again (interval
            # 1 h: only the retry can bring it back this soon).
            wait_for(lambda: hits() >= 3, "retries")
            assert proc.poll() is None
            assert runs_per_window(db) == {}
            with db.begin() as conn:
                conn.execute(text("UPDATE detect_fault SET active = false"))
            wait_for(lambda: runs_per_window(db) != {}, "the window after the outage")
            proc.send_signal(signal.SIGTERM)
            finished(proc)
    finally:
        with db.begin() as conn:
            conn.execute(text(UNFAULT))
    assert runs_per_window(db) == {("credit-drift", START, "1"): 1}


def test_a_monitor_with_an_invalid_stored_spec_is_left_out_not_fatal(db: Engine) -> None:
    register(db)
    add_monitors(db, 1)
    store_hours(db, 1)
    with db.begin() as conn:
        # As a spec stored by an older release could be, or edited by hand.
        conn.execute(
            text("UPDATE monitors SET spec = CAST(:spec AS jsonb) WHERE name = 'm0'"),
            {"spec": '{"model_id": "credit", "window": "soon"}'},
        )
    runs = run_due(db)
    assert [(r.monitor, r.status) for r in runs] == [("credit-drift", "ok")]
    with Session(db) as session:
        assert session.scalar(select(Monitor.checked_until).where(Monitor.name == "m0")) is None


def test_a_database_error_in_one_monitors_window_does_not_stall_the_others(db: Engine) -> None:
    register(db)  # monitor credit-drift
    add_monitors(db, 1)  # monitor m0, the one whose window the database refuses
    store_hours(db, 1)
    poison = """
    CREATE FUNCTION detect_poison_fn() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.monitor_id = (SELECT id FROM monitors WHERE name = 'm0') THEN
        RAISE EXCEPTION 'value refused for monitor m0';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER detect_poison BEFORE INSERT ON detector_runs
      FOR EACH ROW EXECUTE FUNCTION detect_poison_fn();
    """
    with db.begin() as conn:
        conn.execute(text(poison))
        # m0 (never checked) is claimed before credit-drift (checked up to START).
        conn.execute(
            text("UPDATE monitors SET checked_until = :t WHERE name = 'credit-drift'"),
            {"t": START},
        )
    try:
        # m0's window fails first; credit-drift's is still stored in the same pass, and
        # the pass then reports the error.
        with pytest.raises(Exception, match="value refused for monitor m0"):
            run_due(db)
        assert runs_per_window(db) == {("credit-drift", START, "1"): 1}
    finally:
        with db.begin() as conn:
            conn.execute(text("DROP TRIGGER detect_poison ON detector_runs"))
            conn.execute(text("DROP FUNCTION detect_poison_fn()"))
    run_due(db)  # the fault gone, m0's window is run on the next pass
    assert runs_per_window(db) == {
        ("credit-drift", START, "1"): 1,
        ("m0", START, "1"): 1,
    }
