"""Deliver notifications from the outbox with retries.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several senders can run. Each row
goes to the notifier of its ``kind`` with its receiver's current config. A retryable
failure (network, 429, 5xx) is rescheduled with exponential back-off and jitter; a
final one (other 4xx, bad configuration) or the last allowed attempt marks the row
``failed`` with the error. A group's notifications go out in order: a row waits while
an older row of the same receiver and group key is still pending, so a "resolved"
never overtakes the "firing" it follows.
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
from sqlalchemy import Engine, select
from sqlalchemy.orm import aliased

from monitor.alerting.notifiers import Delivery, final, notify
from monitor.db.engine import make_sessionmaker
from monitor.db.models import Notification, Receiver

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
    """Deliver due notifications, up to ``limit``. Passes repeat while rows leave
    ``pending``, so a group's next row follows the one it waited for in the same call."""
    chance = rng or random.Random()  # noqa: S311 (jitter, not secrets)
    reports: list[DeliveryReport] = []
    while len(reports) < limit:
        sent = _deliver_pass(
            engine,
            client,
            now=now or datetime.now(UTC),
            limit=limit - len(reports),
            policy=policy,
            rng=chance,
        )
        reports.extend(sent)
        # A delivered or failed row no longer holds its group back: pass again.
        if all(r.status == "pending" for r in sent):
            break
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


def _deliver_pass(
    engine: Engine,
    client: httpx.Client,
    *,
    now: datetime,
    limit: int,
    policy: RetryPolicy,
    rng: random.Random,
) -> list[DeliveryReport]:
    reports: list[DeliveryReport] = []
    with make_sessionmaker(engine).begin() as session:
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
        due = session.scalars(
            select(Notification)
            .where(
                Notification.status == "pending",
                Notification.next_attempt_at <= now,
                ~earlier_pending,
            )
            .order_by(Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for note in due:
            receiver = session.get(Receiver, note.receiver)
            delivery = _deliver_one(client, note, receiver)
            note.attempts += 1
            retry_at: datetime | None = None
            if delivery.ok:
                note.status, note.delivered_at, note.last_error = "delivered", now, None
            elif delivery.retryable and note.attempts < policy.max_attempts:
                retry_at = now + policy.delay(note.attempts, rng)
                note.next_attempt_at, note.last_error = retry_at, delivery.error
            else:
                note.status, note.last_error = "failed", delivery.error
            url = display_url(receiver.kind, receiver.config) if receiver else ""
            log.info(
                "notification %d to %s (%s): %s%s",
                note.id,
                note.receiver,
                note.kind,
                note.status,
                " (nothing to send)"
                if delivery.skipped
                else f" ({delivery.error or delivery.status})",
            )
            reports.append(
                DeliveryReport(
                    note.id, note.receiver, note.kind, url, note.status, delivery, retry_at
                )
            )
    return reports
