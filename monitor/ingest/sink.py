"""Batch writer: one transaction per batch, idempotent on ``event_id``.

Predictions use ``INSERT ... ON CONFLICT DO NOTHING`` so a replayed batch (after a
crash between the database commit and the Kafka offset commit) stores nothing twice.
Labels upsert: the latest label for an event wins (corrections). Dead letters are
idempotent on their source ``(topic, partition, offset)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitor.db.models import DeadLetter, Label, Prediction
from monitor.db.partitions import PartitionManager
from monitor.events import LabelEvent, PredictionEvent


@dataclass(frozen=True)
class Source:
    """Where a message came from: ``topic[partition]@offset``."""

    topic: str
    partition: int
    offset: int
    key: bytes | None = None

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True)
class Rejected:
    source: Source
    raw: bytes
    error_class: str
    error_message: str


@dataclass
class Batch:
    predictions: list[PredictionEvent] = field(default_factory=list)
    labels: list[LabelEvent] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.predictions) + len(self.labels) + len(self.rejected)


@dataclass(frozen=True)
class WriteCounts:
    predictions: int
    labels: int
    dead_letters: int


class BatchWriter:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._partitions = PartitionManager()

    def write(self, session: Session, batch: Batch) -> WriteCounts:
        """Write the whole batch and commit, or raise with nothing written."""
        if batch.predictions:
            with self._engine.connect() as conn:
                self._partitions.ensure(conn, (e.timestamp for e in batch.predictions))
        stored = 0
        # Deduplicate inside the batch too: ON CONFLICT cannot see rows of its own statement.
        unique = {(e.event_id, e.timestamp): e for e in batch.predictions}
        if unique:
            # executemany: SQLAlchemy's insertmanyvalues pages the rows under the
            # driver's parameter limit, whatever the batch size.
            result = session.execute(
                insert(Prediction)
                .on_conflict_do_nothing(constraint="pk_predictions")
                .returning(Prediction.event_id),
                [
                    {
                        "event_id": e.event_id,
                        "ts": e.timestamp,
                        "model_id": e.model_id,
                        "model_version": e.model_version,
                        "features": e.features,
                        "prediction": e.prediction,
                        "scores": e.scores,
                        "segment": e.segment,
                    }
                    for e in unique.values()
                ],
            )
            stored = len(result.all())
        labels = {e.event_id: e for e in batch.labels}
        if labels:
            stmt = insert(Label)
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[Label.event_id],
                    set_={"label": stmt.excluded.label, "ts": stmt.excluded.ts},
                ),
                [
                    {
                        "event_id": e.event_id,
                        "model_id": e.model_id,
                        "label": e.label,
                        "ts": e.timestamp,
                    }
                    for e in labels.values()
                ],
            )
        if batch.rejected:
            session.execute(
                insert(DeadLetter).on_conflict_do_nothing(constraint="uq_dead_letters_source"),
                [
                    {
                        "topic": r.source.topic,
                        "partition": r.source.partition,
                        "offset": r.source.offset,
                        "key": r.source.key,
                        "raw": r.raw,
                        "error_class": r.error_class,
                        "error_message": r.error_message,
                    }
                    for r in batch.rejected
                ],
            )
        session.commit()
        return WriteCounts(stored, len(labels), len(batch.rejected))
