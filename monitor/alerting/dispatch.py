"""Deliver notifications from the outbox with retries.

One row per transaction: a row is claimed with ``FOR UPDATE SKIP LOCKED`` (so several
senders can run), sent, and its outcome committed before the next row is claimed. A
process that dies mid-call re-sends at most the row in flight (at-least-once delivery);
the rows before it stay marked. Each row goes to the notifier of its ``kind`` with its
receiver's current config. A retryable failure (network, 429, 5xx) is rescheduled with
exponential back-off and jitter; a final one (other 4xx, bad configuration) or the last
allowed attempt marks the row ``failed`` with the error and, in the same transaction,
takes its firing alerts out of what their group has notified, so the group's next
``group_interval`` tick notifies them again (Alertmanager only records what was sent).
A group's notifications go out in order: a row waits while an older row of the same
receiver and group key is still pending, so a "resolved" never overtakes the "firing"
it follows.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine, Text, cast, select, update
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.orm import Session, aliased

from monitor import metrics
from monitor.alerting.notifiers import Delivery, final, notify
from monitor.db.engine import make_sessionmaker
from monitor.db.models import AlertGroup, Notification, Receiver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off: attempt n waits d = min(cap, base * 2**(n-1)), drawn
    uniformly in [d/2, d] with jitter so receivers coming back are not hit by every
    sender at once ("equal jitter")."""

    base: timedelta = timedelta(seconds=10)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 8
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError(f"base={self.base}, cap={self.cap}: need 0 < base <= cap")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts={self.max_attempts}: must be >= 1")

    def ceiling(self, attempts: int) -> timedelta:
        """d for the wait after ``attempts`` failed attempts (>= 1)."""
        # Cap the exponent too: 2**attempts overflows timedelta long before max_attempts.
        grown: timedelta = self.base * 2 ** min(attempts - 1, 40)
        return min(self.cap, grown)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        d = self.ceiling(attempts)
        return d * rng.uniform(0.5, 1.0) if self.jitter else d


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class DeliveryReport:
    notification_id: int
    receiver: str
    kind: str
    url: str  # for display: a Slack webhook's path is its secret and is left out
    status: str  # the row's status after this attempt: delivered | pending | failed
    delivery: Delivery
    next_attempt_at: datetime | None = None  # when pending


def display_url(kind: str, config: Mapping[str, Any]) -> str:
    url = str(config.get("url") or "")
    if kind == "slack" and url:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}/…"
    return url


def deliver_due(
    engine: Engine,
    client: httpx.Client,
    *,
    now: datetime | None = None,
    limit: int = 100,
    policy: RetryPolicy = DEFAULT_POLICY,
    rng: random.Random | None = None,
) -> list[DeliveryReport]:
    """Deliver the notifications due by ``now`` (default: the time of the call), up to
    ``limit``, each in its own transaction. A group's next row becomes due as soon as
    the one it waited for is delivered or failed, so it follows in the same call; a row
    rescheduled for a retry is due after ``now`` and is not tried again in this call."""
    chance = rng or random.Random()  # noqa: S311 (jitter, not secrets)
    due_by = now or datetime.now(UTC)
    sessions = make_sessionmaker(engine)
    reports: list[DeliveryReport] = []
    while len(reports) < limit:
        with sessions.begin() as session:
            report = _deliver_next(
                session, client, due_by=due_by, now=now, policy=policy, rng=chance
            )
        if report is None:
            break
        # Committed: count the attempt by the row's status it left (pending = retried).
        metrics.record_notification(
            report.receiver, metrics.RETRIED if report.status == "pending" else report.status
        )
        reports.append(report)
    return reports


def _deliver_one(client: httpx.Client, note: Notification, receiver: Receiver | None) -> Delivery:
    if receiver is None:
        return final(f"receiver={note.receiver!r}: no such receiver (removed from the config?)")
    if receiver.kind != note.kind:
        return final(
            f"receiver={note.receiver!r} is kind={receiver.kind!r} now; "
            f"the notification was queued for kind={note.kind!r}"
        )
    return notify(client, note.kind, receiver.config, note.payload)


def _claim(session: Session, due_by: datetime) -> Notification | None:
    """The oldest due row no other sender holds and no older pending row of its group
    waits before, locked until the caller's transaction ends."""
    older = aliased(Notification)
    earlier_pending = (
        select(older.id)
        .where(
            older.receiver == Notification.receiver,
            # fingerprint is the group key's hash: it uses ix_outbox_order.
            older.fingerprint == Notification.fingerprint,
            older.group_key == Notification.group_key,
            older.status == "pending",
            older.id < Notification.id,
        )
        .exists()
    )
    return session.scalars(
        select(Notification)
        .where(
            Notification.status == "pending",
            Notification.next_attempt_at <= due_by,
            ~earlier_pending,
        )
        .order_by(Notification.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def _firing_fingerprints(payload: Mapping[str, Any]) -> list[str]:
    """The fingerprints of the alerts a v4 payload reports firing."""
    return sorted(
        str(a["fingerprint"])
        for a in payload.get("alerts", [])
        if a.get("status") == "firing" and a.get("fingerprint")
    )


def _renotify(session: Session, note: Notification) -> None:
    """Forget that the row's group notified its firing alerts: the group's next tick
    sees them as new and notifies them again. A single UPDATE, so it applies to the
    group as a concurrent flush leaves it (it waits for that flush's lock)."""
    fingerprints = _firing_fingerprints(note.payload)
    if not fingerprints:
        return
    # jsonb - text[]: the array without those strings.
    session.execute(
        update(AlertGroup)
        .where(AlertGroup.receiver == note.receiver, AlertGroup.group_key == note.group_key)
        .values(
            notified_firing=AlertGroup.notified_firing.op("-")(
                cast(array(fingerprints), ARRAY(Text))
            )
        )
        # No group object is loaded in this session: nothing to synchronise.
        .execution_options(synchronize_session=False)
    )


def _deliver_next(
    session: Session,
    client: httpx.Client,
    *,
    due_by: datetime,
    now: datetime | None,
    policy: RetryPolicy,
    rng: random.Random,
) -> DeliveryReport | None:
    """Claim, send and settle one row (None: nothing due). The caller commits."""
    note = _claim(session, due_by)
    if note is None:
        return None
    receiver = session.get(Receiver, note.receiver)
    delivery = _deliver_one(client, note, receiver)
    settled_at = now or datetime.now(UTC)  # after the request: when it was answered
    note.attempts += 1
    retry_at: datetime | None = None
    if delivery.ok:
        note.status, note.delivered_at, note.last_error = "delivered", settled_at, None
    elif delivery.retryable and note.attempts < policy.max_attempts:
        retry_at = settled_at + policy.delay(note.attempts, rng)
        note.next_attempt_at, note.last_error = retry_at, delivery.error
    else:
        note.status, note.last_error = "failed", delivery.error
        _renotify(session, note)
    url = display_url(receiver.kind, receiver.config) if receiver else ""
    log.info(
        "notification %d to %s (%s): %s (%s)",
        note.id,
        note.receiver,
        note.kind,
        note.status,
        delivery.error or delivery.status,
    )
    return DeliveryReport(note.id, note.receiver, note.kind, url, note.status, delivery, retry_at)
