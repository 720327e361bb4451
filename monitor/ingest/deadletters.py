"""Dead letters: list them, replay them after a fix, and mirror them to a DLQ topic.

Vocabulary and headers follow Kafka Connect's dead letter queue: a rejected record
keeps its source ``topic``/``partition``/``offset``, an error class and message; the
optional ``<topic>.dlq`` copy carries them in ``__connect.errors.*`` headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.db.engine import make_sessionmaker
from monitor.db.models import DeadLetter
from monitor.ingest.catalog import ModelCatalog
from monitor.ingest.prepare import Preparer
from monitor.ingest.sink import Batch, BatchWriter, Rejected, Source

DLQ_SUFFIX = ".dlq"


def dlq_headers(rejected: Rejected) -> list[tuple[str, bytes]]:
    """Kafka Connect's DLQ context headers for one rejected record."""
    s = rejected.source
    return [
        ("__connect.errors.topic", s.topic.encode()),
        ("__connect.errors.partition", str(s.partition).encode()),
        ("__connect.errors.offset", str(s.offset).encode()),
        ("__connect.errors.exception.class.name", rejected.error_class.encode()),
        ("__connect.errors.exception.message", rejected.error_message[:1000].encode()),
    ]


def list_dead_letters(
    session: Session,
    *,
    error_class: str | None = None,
    model_id: str | None = None,
    include_replayed: bool = False,
    limit: int = 100,
) -> list[DeadLetter]:
    query = select(DeadLetter).order_by(DeadLetter.id).limit(limit)
    if error_class:
        query = query.where(DeadLetter.error_class == error_class)
    if model_id:
        query = query.where(DeadLetter.model_id == model_id)
    if not include_replayed:
        query = query.where(DeadLetter.replayed_at.is_(None))
    return list(session.scalars(query))


@dataclass(frozen=True)
class ReplayOutcome:
    dead_letter_id: int
    source: str
    stored: bool
    error: str | None


def replay(
    engine: Engine,
    settings: Settings,
    *,
    ids: list[int] | None = None,
    error_class: str | None = None,
    limit: int = 1000,
) -> list[ReplayOutcome]:
    """Decode each selected dead letter again with today's models and schemas. One that
    now passes is written like any event and marked ``replayed_at``; one that still
    fails keeps its row, with the new reason. A payload cut at storage cannot replay."""
    catalog = ModelCatalog(refresh_s=0)
    preparer = Preparer(settings, catalog)
    writer = BatchWriter(engine, catalog)
    outcomes: list[ReplayOutcome] = []
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        query = select(DeadLetter).where(DeadLetter.replayed_at.is_(None))
        if ids:
            query = query.where(DeadLetter.id.in_(ids))
        if error_class:
            query = query.where(DeadLetter.error_class == error_class)
        letters = list(session.scalars(query.order_by(DeadLetter.id).limit(limit)))
    for letter in letters:
        source = Source(letter.topic, letter.partition, letter.offset, letter.key)
        outcomes.append(_replay_one(sessions, preparer, writer, letter, source))
    return outcomes


def _replay_one(
    sessions: Any, preparer: Preparer, writer: BatchWriter, letter: DeadLetter, source: Source
) -> ReplayOutcome:
    if letter.raw_size > len(letter.raw):
        return ReplayOutcome(
            letter.id,
            str(source),
            False,
            f"payload was cut to {len(letter.raw)} of {letter.raw_size} bytes",
        )
    with sessions() as session:
        batch = Batch()
        preparer.add(session, batch, source, letter.raw)
        if batch.rejected:
            reason = f"{batch.rejected[0].error_class}: {batch.rejected[0].error_message}"
            session.execute(
                update(DeadLetter)
                .where(DeadLetter.id == letter.id)
                .values(
                    error_class=batch.rejected[0].error_class,
                    error_message=batch.rejected[0].error_message,
                )
            )
            session.commit()
            return ReplayOutcome(letter.id, str(source), False, reason)
        session.execute(
            update(DeadLetter)
            .where(DeadLetter.id == letter.id)
            .values(replayed_at=datetime.now(UTC))
        )
        writer.write(session, batch)  # commits the event and the mark together
    return ReplayOutcome(letter.id, str(source), True, None)
