"""Outbox delivery against real local HTTP receivers and the real database: rows are
inserted directly, as the group flush writes them, or by the alerter's cycle."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from alert_support import apply_text, drift, free_port, write_window
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.alerting.alerter import run_cycle
from monitor.alerting.dispatch import DeliveryReport, RetryPolicy, deliver_due
from monitor.alerting.payload import AlertView, alertmanager_v4
from monitor.db.models import AlertGroup, Notification, Receiver
from monitor.demo.receiver import RecordingReceiver

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
SECRET = "s3cret"


def add_receiver(db: Engine, name: str, kind: str, config: dict[str, Any]) -> None:
    with Session(db) as session, session.begin():
        session.merge(Receiver(name=name, kind=kind, config=config))


def queue(db: Engine, receiver: str, group: str, note: str, *, kind: str = "webhook") -> int:
    """One outbox row for ``group``; ``note`` tells the notifications apart."""
    group_key = f'{{}}:{{model="{group}"}}'
    doc = alertmanager_v4(
        receiver=receiver,
        group_key=group_key,
        group_labels={"model": group},
        alerts=[
            AlertView(
                status="resolved" if note.startswith("resolved") else "firing",
                labels={"alertname": "Drift", "model": group, "note": note},
                annotations={"summary": note},
                starts_at=NOW - timedelta(hours=1),
                ends_at=NOW,
                fingerprint=f"fp-{group}",
            )
        ],
        external_url="",
    )
    row = Notification(
        receiver=receiver,
        kind=kind,
        group_key=group_key,
        fingerprint=hashlib.sha256(group_key.encode()).hexdigest()[:32],
        payload=doc,
        next_attempt_at=NOW,
    )
    with Session(db) as session, session.begin():
        session.add(row)
        session.flush()
        return row.id


def rows(db: Engine) -> list[Notification]:
    with Session(db) as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def notes(receiver: RecordingReceiver) -> list[str]:
    return [r.json()["alerts"][0]["labels"]["note"] for r in receiver.requests]


def test_a_receiver_down_then_up_gets_every_notification_once_in_group_order(
    db: Engine,
) -> None:
    port = free_port()
    add_receiver(db, "hook", "webhook", {"url": f"http://127.0.0.1:{port}/hook"})
    for group, note in [("a", "firing a"), ("b", "firing b"), ("a", "resolved a"), ("b", "x")]:
        queue(db, "hook", group, note)
    policy = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(minutes=5), max_attempts=5)
    with httpx.Client(timeout=2) as client:
        down = deliver_due(db, client, now=NOW, policy=policy)
        # Only each group's first row was tried: the later ones wait behind it.
        assert [(r.notification_id, r.status) for r in down] == [(1, "pending"), (2, "pending")]
        assert all(r.delivery.retryable and r.delivery.error for r in down)
        assert [n.last_error is not None for n in rows(db)] == [True, True, False, False]
        with RecordingReceiver(port=port) as receiver:
            assert deliver_due(db, client, now=NOW, policy=policy) == []  # backing off
            up = deliver_due(db, client, now=NOW + timedelta(minutes=1), policy=policy)
            assert sorted((r.notification_id, r.status) for r in up) == [
                (1, "delivered"),
                (2, "delivered"),
                (3, "delivered"),
                (4, "delivered"),
            ]
            assert deliver_due(db, client, now=NOW + timedelta(hours=1), policy=policy) == []
            received = notes(receiver)
    assert sorted(received) == sorted(["firing a", "firing b", "resolved a", "x"])  # once each
    assert received.index("firing a") < received.index("resolved a")
    assert received.index("firing b") < received.index("x")
    assert [(n.status, n.attempts, n.last_error) for n in rows(db)] == [
        ("delivered", 2, None),
        ("delivered", 2, None),
        ("delivered", 1, None),
        ("delivered", 1, None),
    ]


def test_a_refusal_is_final_after_one_attempt_and_does_not_hold_the_group(db: Engine) -> None:
    with RecordingReceiver(statuses=[400]) as receiver, httpx.Client(timeout=5) as client:
        add_receiver(db, "hook", "webhook", {"url": receiver.url, "secret": SECRET})
        queue(db, "hook", "a", "firing a")
        queue(db, "hook", "a", "resolved a")
        reports = deliver_due(db, client, now=NOW)
        assert deliver_due(db, client, now=NOW + timedelta(days=1)) == []
        assert len(receiver.requests) == 2
    assert [(r.status, r.delivery.retryable, r.delivery.status) for r in reports] == [
        ("failed", False, 400),
        ("delivered", False, 200),  # a failed row does not block its group
    ]
    first, second = rows(db)
    assert (first.status, first.attempts, first.last_error) == (
        "failed",
        1,
        "HTTP 400: (no body)",
    )
    assert (second.status, second.attempts) == ("delivered", 1)


def test_429_and_503_are_retried_with_jittered_exponential_back_off(db: Engine) -> None:
    policy = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(seconds=25), max_attempts=6)
    expected = random.Random(7)  # the same draws as the dispatcher's
    waits: list[timedelta] = []
    with (
        RecordingReceiver(statuses=[429, 503, 503, 500]) as receiver,
        httpx.Client(timeout=5) as client,
    ):
        add_receiver(db, "hook", "webhook", {"url": receiver.url})
        queue(db, "hook", "a", "firing a")
        rng = random.Random(7)
        now = NOW
        for attempt in range(1, 5):
            (report,) = deliver_due(db, client, now=now, policy=policy, rng=rng)
            assert (report.status, report.delivery.retryable) == ("pending", True)
            assert report.next_attempt_at is not None
            wait = report.next_attempt_at - now
            d = min(timedelta(seconds=25), timedelta(seconds=10) * 2 ** (attempt - 1))
            assert d / 2 <= wait <= d  # [d/2, d], d = min(cap, base * 2**(n-1))
            assert wait == policy.delay(attempt, expected)
            # Not before its time: a moment earlier nothing is due.
            early = report.next_attempt_at - timedelta(milliseconds=1)
            assert deliver_due(db, client, now=early, policy=policy, rng=rng) == []
            waits.append(wait)
            now = report.next_attempt_at
        (done,) = deliver_due(db, client, now=now, policy=policy, rng=rng)
        assert [r.headers.get("X-Driftwarden-Webhook-Version") for r in receiver.requests] == [
            "4"
        ] * 5
    assert done.status == "delivered"
    assert waits[3] <= timedelta(seconds=25)  # capped
    (row,) = rows(db)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 5, None)


def test_the_last_allowed_attempt_fails_the_row(db: Engine) -> None:
    policy = RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=1), max_attempts=2)
    with RecordingReceiver(statuses=[503, 503, 503]) as receiver, httpx.Client() as client:
        add_receiver(db, "hook", "webhook", {"url": receiver.url})
        queue(db, "hook", "a", "firing a")
        (first,) = deliver_due(db, client, now=NOW, policy=policy)
        (second,) = deliver_due(db, client, now=NOW + timedelta(minutes=1), policy=policy)
        assert len(receiver.requests) == 2
    assert (first.status, second.status) == ("pending", "failed")
    (row,) = rows(db)
    assert (row.status, row.attempts, row.last_error) == ("failed", 2, "HTTP 503: (no body)")


def test_rows_go_to_the_notifier_of_their_kind_with_the_receivers_config(db: Engine) -> None:
    with RecordingReceiver(statuses=[202]) as receiver, httpx.Client() as client:
        add_receiver(db, "oncall", "pagerduty", {"url": receiver.url, "routing_key": "k" * 32})
        add_receiver(db, "moved", "slack", {"url": receiver.url})
        queue(db, "oncall", "a", "firing a", kind="pagerduty")
        queue(db, "moved", "a", "firing a", kind="webhook")  # the receiver changed kind
        paged, moved = deliver_due(db, client, now=NOW)
        (event,) = (r.json() for r in receiver.requests)
    assert (paged.kind, paged.status, paged.delivery.status) == ("pagerduty", "delivered", 202)
    assert (event["event_action"], event["dedup_key"]) == ("trigger", "fp-a")
    assert (moved.status, moved.delivery.retryable) == ("failed", False)
    assert moved.delivery.error == (
        "receiver='moved' is kind='slack' now; the notification was queued for kind='webhook'"
    )
    assert moved.url.endswith("/…")  # a Slack webhook's path is a secret: not shown


def test_retry_policy_delays_stay_in_bounds() -> None:
    policy = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(hours=1), max_attempts=8)
    rng = random.Random(1)
    for attempts in range(1, 60):
        d = policy.ceiling(attempts)
        assert d == min(timedelta(hours=1), timedelta(seconds=10) * 2 ** min(attempts - 1, 40))
        assert d / 2 <= policy.delay(attempts, rng) <= d
    flat = RetryPolicy(base=timedelta(seconds=10), jitter=False)
    assert flat.delay(3, rng) == timedelta(seconds=40)
    with pytest.raises(ValueError, match="max_attempts=0"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="need 0 < base <= cap"):
        RetryPolicy(base=timedelta(hours=2), cap=timedelta(hours=1))


@contextmanager
def gated_receiver() -> Iterator[tuple[str, threading.Event, threading.Event]]:
    """A real local receiver that holds each request until ``release`` is set, and sets
    ``arrived`` when one comes in: a delivery the test can look at while it is in flight."""
    arrived, release = threading.Event(), threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            arrived.set()
            release.wait(timeout=30)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", arrived, release
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_each_delivery_is_committed_before_the_next_row_is_sent(db: Engine) -> None:
    """A crash while a row is in flight re-sends that row only: the rows before it are
    already marked delivered, as another connection sees them."""
    with (
        RecordingReceiver() as hook,
        gated_receiver() as (gate_url, arrived, release),
        httpx.Client(timeout=10) as client,
    ):
        add_receiver(db, "hook", "webhook", {"url": hook.url})
        add_receiver(db, "gate", "webhook", {"url": gate_url})
        queue(db, "hook", "a", "firing a")
        queue(db, "hook", "b", "firing b")
        queue(db, "gate", "c", "firing c")
        reports: list[DeliveryReport] = []
        sender = threading.Thread(
            target=lambda: reports.extend(deliver_due(db, client, now=NOW)), daemon=True
        )
        sender.start()
        try:
            assert arrived.wait(timeout=10), "row 3 was never sent"
            # Row 3 is in flight: rows 1 and 2 are committed, row 3 is still pending...
            assert [(n.id, n.status, n.attempts) for n in rows(db)] == [
                (1, "delivered", 1),
                (2, "delivered", 1),
                (3, "pending", 0),
            ]
            assert len(hook.requests) == 2
            # ... and locked: a second sender skips it rather than sending it twice.
            with httpx.Client(timeout=10) as other:
                assert deliver_due(db, other, now=NOW) == []
        finally:
            release.set()
            sender.join(timeout=30)
    assert [(r.notification_id, r.status) for r in reports] == [
        (1, "delivered"),
        (2, "delivered"),
        (3, "delivered"),
    ]
    assert [n.status for n in rows(db)] == ["delivered"] * 3


PIPELINE = """
version: 1
receivers:
  - {name: hook, type: webhook, url: "${URL}"}
route:
  receiver: hook
  group_by: [alertname, model]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
groups:
  - name: g
    rules:
      - alert: FeatureDrift
        matchers: ['signal="data_drift"', 'feature!=""']
        condition: alert == 1
"""


def test_a_notification_that_failed_for_good_is_sent_again_at_the_next_group_interval(
    db: Engine,
) -> None:
    """Alertmanager records only what was sent: a refused notification's alerts are
    notified again at the group's next tick, not after repeat_interval."""
    s = timedelta(seconds=1)
    with RecordingReceiver(statuses=[400]) as hook, httpx.Client(timeout=5) as client:
        apply_text(db, PIPELINE, {"URL": hook.url})
        write_window(db, 0, drift({"income": True, "age": True, "region": False}))
        run_cycle(db, client, now=NOW)  # fire; the group waits group_wait
        refused = run_cycle(db, client, now=NOW + 30 * s)
        assert [(d.status, d.delivery.status) for d in refused.deliveries] == [("failed", 400)]
        with Session(db) as session:
            (group,) = session.scalars(select(AlertGroup))
            assert group.notified_firing == []  # forgotten with the failed row
        assert run_cycle(db, client, now=NOW + 60 * s).deliveries == []  # not before the tick
        again = run_cycle(db, client, now=NOW + 30 * s + 5 * 60 * s)
        assert [(d.status, d.delivery.status) for d in again.deliveries] == [("delivered", 200)]
        # Delivered: the next ticks have nothing new to say (repeat_interval is 4h).
        assert run_cycle(db, client, now=NOW + 30 * s + 10 * 60 * s).deliveries == []
        sent = [r.json() for r in hook.requests]
    assert len(sent) == 2
    assert sent[0]["alerts"] == sent[1]["alerts"]
    assert sorted(a["labels"]["feature"] for a in sent[1]["alerts"]) == ["age", "income"]
    assert [(n.status, n.attempts) for n in rows(db)] == [("failed", 1), ("delivered", 1)]


def test_a_failed_row_forgets_only_its_firing_alerts_and_only_in_its_group(db: Engine) -> None:
    def group(receiver: str, model: str, notified: list[str]) -> AlertGroup:
        return AlertGroup(
            route_id="r",
            receiver=receiver,
            group_key=f'{{}}:{{model="{model}"}}',
            group_labels={"model": model},
            notified_firing=notified,
        )

    with RecordingReceiver(statuses=[400, 400]) as receiver, httpx.Client() as client:
        add_receiver(db, "hook", "webhook", {"url": receiver.url})
        add_receiver(db, "other", "webhook", {"url": receiver.url})
        with Session(db) as session, session.begin():
            session.add_all(
                [
                    group("hook", "a", ["fp-a", "fp-x"]),
                    group("hook", "b", ["fp-b"]),
                    group("other", "a", ["fp-a"]),  # same key, another receiver
                ]
            )
        queue(db, "hook", "a", "firing a")
        queue(db, "hook", "b", "resolved b")  # a resolution: nothing to notify again
        assert [r.status for r in deliver_due(db, client, now=NOW)] == ["failed", "failed"]
    with Session(db) as session:
        notified = {
            (g.receiver, g.group_key): g.notified_firing
            for g in session.scalars(select(AlertGroup))
        }
    assert notified == {
        ("hook", '{}:{model="a"}'): ["fp-x"],
        ("hook", '{}:{model="b"}'): ["fp-b"],
        ("other", '{}:{model="a"}'): ["fp-a"],
    }
