"""The ingest loop: Kafka consumer group -> decode/validate -> one transaction -> commit.

Delivery contract (at-least-once + idempotent writes = no loss, no duplicates):

1. Poll until the batch holds ``batch_size`` records or ``batch_max_wait_ms`` passed.
2. Decode and validate each record; a bad one becomes a dead letter, its batch goes on.
3. Write predictions, labels and dead letters in one database transaction.
4. Only after that commit, commit the Kafka offsets (last offset + 1 per partition).
5. On a database error: roll back, seek every partition back to the batch's first
   offset, back off exponentially, and replay. No offset is committed for that batch.

A partition revoked by a rebalance while a batch is being filled is dropped from the
batch: its new owner replays it from the last committed offset.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings
from monitor.events import EventError, decode_label, decode_prediction
from monitor.ingest.catalog import ModelCatalog
from monitor.ingest.sink import Batch, BatchWriter, Rejected, Source, WriteCounts

log = logging.getLogger(__name__)

Record = Any  # kafka.consumer.fetcher.ConsumerRecord (untyped library)


@dataclass
class IngestStats:
    consumed: int = 0
    stored: int = 0
    duplicates: int = 0
    labels: int = 0
    dead_letters: int = 0
    batches: int = 0
    db_failures: int = 0
    lag: dict[str, int] = field(default_factory=dict)


class _Pending(ConsumerRebalanceListener):  # type: ignore[misc]
    """Records polled but not yet written, by partition."""

    def __init__(self) -> None:
        self.records: dict[TopicPartition, list[Record]] = {}

    def add(self, polled: dict[TopicPartition, list[Record]]) -> None:
        for tp, records in polled.items():
            self.records.setdefault(tp, []).extend(records)

    def count(self) -> int:
        return sum(len(r) for r in self.records.values())

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked:
            dropped = self.records.pop(tp, [])
            if dropped:
                log.info(
                    "partition %s revoked: %d unwritten records left to its new owner",
                    tp,
                    len(dropped),
                )

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info(
            "assigned partitions: %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned)
        )


def make_kafka_consumer(settings: Settings, **overrides: Any) -> KafkaConsumer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "group_id": settings.consumer_group,
        "enable_auto_commit": False,
        # A new group starts from the beginning: an unseen topic's history is data.
        "auto_offset_reset": "earliest",
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": min(3000, settings.session_timeout_ms // 3),
        "max_poll_records": settings.batch_size,
        "client_id": "driftwarden-ingest",
    }
    options.update(overrides)
    return KafkaConsumer(**options)


class IngestLoop:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        consumer: KafkaConsumer | None = None,
        on_batch: Callable[[WriteCounts, IngestStats], None] | None = None,
    ) -> None:
        self._settings = settings
        self._sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)
        self._writer = BatchWriter(engine)
        self._catalog = ModelCatalog()
        self._consumer = consumer or make_kafka_consumer(settings)
        self._pending = _Pending()
        self._consumer.subscribe(
            [settings.predictions_topic, settings.labels_topic], listener=self._pending
        )
        self._on_batch = on_batch
        self.stats = IngestStats()

    def run(self, stop: threading.Event, *, idle_exit_s: float | None = None) -> IngestStats:
        """Consume until ``stop`` is set (the current batch is finished first) or, when
        ``idle_exit_s`` is given, until no record arrived for that long."""
        backoff = self._settings.retry_backoff_initial_s
        last_record_at = time.monotonic()
        try:
            while not stop.is_set():
                self._fill(stop)
                if not self._pending.records:
                    if not self._consumer.assignment():
                        # Joining the group is not idleness: the idle clock starts once
                        # partitions are assigned.
                        last_record_at = time.monotonic()
                    elif (
                        idle_exit_s is not None and time.monotonic() - last_record_at >= idle_exit_s
                    ):
                        break
                    continue
                last_record_at = time.monotonic()
                if self._write_and_commit():
                    backoff = self._settings.retry_backoff_initial_s
                else:
                    stop.wait(backoff)
                    backoff = min(backoff * 2, self._settings.retry_backoff_max_s)
        finally:
            # Never let close() auto-commit: only written batches have committed offsets.
            self._consumer.close(autocommit=False)
        return self.stats

    def _fill(self, stop: threading.Event) -> None:
        deadline = time.monotonic() + self._settings.batch_max_wait_ms / 1000
        while not stop.is_set():
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            room = self._settings.batch_size - self._pending.count()
            if remaining_ms <= 0 or room <= 0:
                return
            self._pending.add(self._consumer.poll(timeout_ms=remaining_ms, max_records=room))

    def _decode(self, session: Session, records: list[Record]) -> Batch:
        batch = Batch()
        for rec in records:
            source = Source(rec.topic, rec.partition, rec.offset, rec.key)
            raw = rec.value if rec.value is not None else b""
            try:
                if rec.topic == self._settings.labels_topic:
                    label = decode_label(raw)
                    self._catalog.check_model(session, label.model_id)
                    batch.labels.append(label)
                else:
                    event = decode_prediction(raw)
                    self._catalog.check_prediction(session, event)
                    batch.predictions.append(event)
            except EventError as exc:
                log.warning("dead letter %s: %s: %s", source, exc.reason, exc)
                batch.rejected.append(Rejected(source, raw, exc.reason, str(exc)))
        return batch

    def _write_and_commit(self) -> bool:
        polled = self._pending.records
        records = [r for recs in polled.values() for r in recs]
        try:
            with self._sessions() as session:
                batch = self._decode(session, records)
                counts = self._writer.write(session, batch)
        except SQLAlchemyError as exc:
            self.stats.db_failures += 1
            log.error(
                "database write failed, replaying %d records: %s",
                len(records),
                str(exc).splitlines()[0],
            )
            for tp, recs in polled.items():
                self._consumer.seek(tp, recs[0].offset)
            self._pending.records = {}
            return False
        offsets = {
            tp: OffsetAndMetadata(recs[-1].offset + 1, "", -1) for tp, recs in polled.items()
        }
        self._pending.records = {}
        try:
            self._consumer.commit(offsets)
        except CommitFailedError as exc:
            # The group rebalanced: the new owner replays from the last commit and the
            # idempotent writes absorb the repeat.
            log.warning("offset commit failed after rebalance, batch will be replayed: %s", exc)
        self._record(counts, len(records), len(batch.predictions), polled)
        return True

    def _record(
        self,
        counts: WriteCounts,
        n_records: int,
        n_predictions: int,
        polled: dict[TopicPartition, list[Record]],
    ) -> None:
        s = self.stats
        s.consumed += n_records
        s.stored += counts.predictions
        s.duplicates += n_predictions - counts.predictions
        s.labels += counts.labels
        s.dead_letters += counts.dead_letters
        s.batches += 1
        for tp in polled:
            high = self._consumer.highwater(tp)
            position = self._consumer.position(tp)
            if high is not None and position is not None:
                s.lag[f"{tp.topic}[{tp.partition}]"] = max(0, high - position)
        if self._on_batch is not None:
            self._on_batch(counts, s)
