"""Deliver notifications from the outbox with retries.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several senders can run. A
retryable failure (network, 429, 5xx) is rescheduled with exponential back-off; a final
one (other 4xx) or too many attempts marks the row ``failed`` with the last error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import aliased

from monitor.alerting.notifiers import Delivery
from monitor.alerting.notifiers.webhook import send_webhook
from monitor.db.engine import make_sessionmaker
from monitor.db.models import Notification, Receiver

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_BACKOFF = timedelta(seconds=10)
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class DeliveryReport:
    notification_id: int
    receiver: str
    url: str
    status: str
    delivery: Delivery


def _backoff(attempts: int) -> timedelta:
    delay: timedelta = BASE_BACKOFF * 2 ** (attempts - 1)
    return min(delay, MAX_BACKOFF)


def deliver_due(
    engine: Engine, client: httpx.Client, *, now: datetime | None = None, limit: int = 100
) -> list[DeliveryReport]:
    """Deliver due notifications, up to ``limit``. Passes repeat while they deliver
    something, so an alert's "resolved" follows its "firing" in the same call."""
    reports: list[DeliveryReport] = []
    while len(reports) < limit:
        sent = _deliver_pass(
            engine, client, now=now or datetime.now(UTC), limit=limit - len(reports)
        )
        reports.extend(sent)
        if not any(r.status == "delivered" for r in sent):
            break
    return reports


def _deliver_pass(
    engine: Engine, client: httpx.Client, *, now: datetime, limit: int
) -> list[DeliveryReport]:
    reports: list[DeliveryReport] = []
    with make_sessionmaker(engine).begin() as session:
        older = aliased(Notification)
        earlier_pending = (
            select(older.id)
            .where(
                older.receiver == Notification.receiver,
                older.fingerprint == Notification.fingerprint,
                older.status == "pending",
                older.id < Notification.id,
            )
            .exists()
        )
        due = session.scalars(
            select(Notification)
            # One alert's notifications go out in order: a "resolved" never overtakes
            # the "firing" still waiting for a retry.
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
            if receiver is None or receiver.kind != "webhook":
                kind = receiver.kind if receiver else None
                delivery = Delivery(
                    ok=False, error=f"receiver={note.receiver!r} kind={kind!r}: no notifier"
                )
            else:
                delivery = send_webhook(client, receiver.config, note.payload)
            note.attempts += 1
            if delivery.ok:
                note.status, note.delivered_at, note.last_error = "delivered", now, None
            elif delivery.retryable and note.attempts < MAX_ATTEMPTS:
                note.next_attempt_at = now + _backoff(note.attempts)
                note.last_error = delivery.error
            else:
                note.status, note.last_error = "failed", delivery.error
            url = str(receiver.config.get("url", "")) if receiver else ""
            log.info(
                "notification %d to %s: %s (%s)",
                note.id,
                note.receiver,
                note.status,
                delivery.error or delivery.status,
            )
            reports.append(DeliveryReport(note.id, note.receiver, url, note.status, delivery))
    return reports
