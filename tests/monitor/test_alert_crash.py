"""An alerter killed with SIGKILL between an alert's state change and its delivery: the
restarted alerter delivers the notification exactly once.

The alerter commits in three steps (evaluate, flush a group to the outbox, deliver), and
each step carries on from what the last one committed. These tests kill a real
`driftwarden alert` process at the two points where a notification is owed but not yet
delivered: the alert is firing but its group has not flushed (group_wait), and the
notification is in the outbox but its receiver was down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alert_support import apply_text, drift, free_port, write_window
from factories import CLI, settings_env
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.db.models import AlertState, Notification
from monitor.demo.receiver import RecordingReceiver

CONFIG = """
version: 1
receivers:
  - {name: hook, type: webhook, url: "${URL}", secret: s3cret}
route:
  receiver: hook
  group_by: [alertname, model]
  group_wait: 3s   # the window in which the test kills the alerter
groups:
  - name: g
    rules:
      - alert: FeatureDrift
        matchers: ['signal="data_drift"', 'feature!=""', 'metric!="drift_share"']
        condition: alert == 1
"""


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def alerter(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`driftwarden alert --interval 0.5` in the background. Left running, it is stopped
    with SIGTERM at the end; a test may SIGKILL it first (only this process)."""
    env = {**os.environ, **settings_env(settings)}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [CLI, "alert", "--interval", "0.5"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL


def states(db: Engine) -> list[str]:
    with Session(db) as session:
        return list(session.scalars(select(AlertState.state)))


def outbox(db: Engine) -> list[tuple[str, int]]:
    with Session(db) as session:
        return [
            (n.status, n.attempts)
            for n in session.scalars(select(Notification).order_by(Notification.id))
        ]


def test_killed_after_the_alert_fired_before_its_group_flushed(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "alerter.log"
    with RecordingReceiver() as receiver:
        apply_text(db, CONFIG, {"URL": receiver.url})
        write_window(db, 0, drift({"income": True, "age": True, "region": False}))

        with alerter(settings, log) as first:
            wait_for(lambda: states(db).count("firing") == 2, 30, "the alerts to fire")
            # The states are committed; the group waits 3 s before it notifies.
            assert outbox(db) == []
            kill(first)
        assert outbox(db) == []

        with alerter(settings, log) as second:
            wait_for(lambda: len(receiver.requests) >= 1, 30, "the notification")
            time.sleep(2)  # a duplicate would come within these 4 cycles
            assert second.poll() is None, log.read_text()
        requests = list(receiver.requests)

    assert len(requests) == 1, log.read_text()
    alerts = requests[0].json()["alerts"]
    assert sorted(a["labels"]["feature"] for a in alerts) == ["age", "income"]
    assert outbox(db) == [("delivered", 1)]


def test_killed_while_the_receiver_was_down_then_delivered_once_when_it_is_back(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "alerter.log"
    port = free_port()
    apply_text(db, CONFIG, {"URL": f"http://127.0.0.1:{port}/hook"})
    write_window(db, 0, drift({"income": True, "age": True, "region": False}))

    with alerter(settings, log) as first:
        wait_for(lambda: outbox(db) == [("pending", 1)], 30, "a failed first attempt")
        kill(first)
    with Session(db) as session:
        row = session.scalars(select(Notification)).one()
        assert row.last_error is not None
        retry_in = (row.next_attempt_at - row.created_at).total_seconds()

    with RecordingReceiver(port=port) as receiver, alerter(settings, log) as second:
        # The retry waits out its back-off (10 s base, with jitter) after the restart too.
        wait_for(lambda: len(receiver.requests) >= 1, 30 + retry_in, "the retried notification")
        time.sleep(2)
        assert second.poll() is None, log.read_text()
        requests = list(receiver.requests)

    assert len(requests) == 1, log.read_text()
    assert outbox(db) == [("delivered", 2)]
