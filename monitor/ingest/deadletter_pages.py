"""Dead letters a page at a time, by filters (``GET /v1/dead-letters`` and
``driftwarden dead-letters list``).

Keyset pagination on the id (oldest first): a page is the first ``limit`` rows with
``id > after`` that pass the filters, so a page costs one index range scan however deep
the reader is, and rows arriving meanwhile never shift a page. Every filter is a bound
parameter of the query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.db.models import DeadLetter

MAX_PAGE = 1000


@dataclass(frozen=True)
class DeadLetterFilter:
    topic: str | None = None
    error_class: str | None = None
    model_id: str | None = None
    since: datetime | None = None  # received at or after
    until: datetime | None = None  # received before
    include_replayed: bool = False

    @property
    def empty(self) -> bool:
        return not (self.topic or self.error_class or self.model_id or self.since or self.until)


def page_dead_letters(
    session: Session, where: DeadLetterFilter, *, after: int = 0, limit: int = 100
) -> list[DeadLetter]:
    """Up to ``limit`` (at most MAX_PAGE) dead letters with ``id > after``, by id."""
    query = (
        select(DeadLetter)
        .where(DeadLetter.id > after)
        .order_by(DeadLetter.id)
        .limit(max(1, min(limit, MAX_PAGE)))
    )
    if where.topic:
        query = query.where(DeadLetter.topic == where.topic)
    if where.error_class:
        query = query.where(DeadLetter.error_class == where.error_class)
    if where.model_id:
        query = query.where(DeadLetter.model_id == where.model_id)
    if where.since is not None:
        query = query.where(DeadLetter.received_at >= where.since)
    if where.until is not None:
        query = query.where(DeadLetter.received_at < where.until)
    if not where.include_replayed:
        query = query.where(DeadLetter.replayed_at.is_(None))
    return list(session.scalars(query))


def known_ids(session: Session, ids: list[int]) -> set[int]:
    """Which of ``ids`` are dead letters (replayed or not)."""
    return set(session.scalars(select(DeadLetter.id).where(DeadLetter.id.in_(ids))))
