"""Silences (Alertmanager): mute the notifications of matching alerts for a time range.

A silence never changes an alert's state: the alert keeps firing and is left out of its
groups' notifications while the silence is active; when the silence ends, the next
flush of the group notifies it. Expiring a silence ends it now (Alertmanager keeps
expired silences for reference; so do we).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerting.matchers import parse_matchers
from monitor.db.models import Silence


class SilenceError(ValueError):
    """A silence that cannot be created or expired; names the field and value."""


def create_silence(
    session: Session,
    *,
    matchers: Sequence[str],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str = "",
) -> Silence:
    if not matchers:
        raise SilenceError("matchers=[]: a silence needs at least one matcher")
    for i, text in enumerate(matchers):
        try:
            parse_matchers([text])
        except ValueError as exc:
            raise SilenceError(f"matchers[{i}]={text!r}: {exc}") from None
    if ends_at <= starts_at:
        raise SilenceError(
            f"ends_at={ends_at.isoformat()}: must be after starts_at={starts_at.isoformat()}"
        )
    if not created_by.strip():
        raise SilenceError("created_by='': say who silences (Alertmanager requires it)")
    silence = Silence(
        id=str(uuid.uuid4()),
        matchers=list(matchers),
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=created_by,
        comment=comment,
    )
    session.add(silence)
    session.flush()
    return silence


def expire_silence(session: Session, silence_id: str, *, now: datetime) -> Silence:
    silence = session.get(Silence, silence_id, with_for_update=True)
    if silence is None:
        raise SilenceError(f"id={silence_id!r}: no such silence")
    if silence.ends_at <= now:
        return silence  # already over: expiring is idempotent
    silence.starts_at = min(silence.starts_at, now)  # a pending silence expires before it began
    silence.ends_at = now
    return silence


def list_silences(session: Session, *, now: datetime, expired: bool = False) -> list[Silence]:
    """Active and pending silences (and expired ones with ``expired``), newest first."""
    query = select(Silence).order_by(Silence.created_at.desc(), Silence.id)
    if not expired:
        query = query.where(Silence.ends_at > now)
    return list(session.scalars(query))


def silence_state(silence: Silence, now: datetime) -> str:
    """Alertmanager's words: pending (not started), active, expired."""
    if silence.ends_at <= now:
        return "expired"
    return "active" if silence.starts_at <= now else "pending"
