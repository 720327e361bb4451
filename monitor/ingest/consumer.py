"""The ingest loop: Kafka consumer group -> decode/validate -> one transaction -> commit.

Delivery contract (at-least-once + idempotent writes = no loss, no duplicates):

1. Poll until the batch holds ``batch_size`` records or ``batch_max_wait_ms`` passed.
2. Decode and validate each record; a bad one becomes a dead letter, its batch goes on.
3. Write predictions, labels and dead letters in one database transaction.
4. Only after that commit, commit the Kafka offsets (last offset + 1 per partition).
5. On a database error: roll back, seek every partition back to the batch's first
   offset, back off exponentially, and replay. No offset is committed for that batch.

Steps 3 runs on a writer thread while this thread polls and decodes the next batch: the
database's time (about 8 us of the 40 us an event costs, bench/ingest.py) overlaps the
Python work instead of adding to it. One batch at most is in flight; it is settled
(offsets committed, or everything rewound) before the next one is handed over, so
batches are written and committed in order.

A partition revoked by a rebalance while a batch is being filled is dropped from the
batch: its new owner replays it from the last committed offset. The offsets of a batch
in flight are committed only for the partitions still assigned when it settles.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, SQLAlchemyError
from sqlalchemy.orm import Session

from monitor import metrics
from monitor.config import Settings
from monitor.db.engine import make_sessionmaker
from monitor.ingest.catalog import ModelCatalog
from monitor.ingest.deadletters import DLQ_SUFFIX, dlq_headers
from monitor.ingest.lag import LagRecorder, PartitionLag
from monitor.ingest.prepare import Preparer
from monitor.ingest.sink import Batch, BatchWriter, Rejected, Source, WriteCounts

log = logging.getLogger(__name__)

Record = Any  # kafka.consumer.fetcher.ConsumerRecord (untyped library)
Polled = dict[TopicPartition, list[Record]]
MAINTENANCE_INTERVAL_S = 60.0
# How long an assigned partition with no fetch answer yet (no high watermark) keeps an
# idle-exit run from counting as caught up. Any answer, an empty partition's too, brings
# a high watermark; on a loaded machine the first one can take seconds after the join.
FIRST_FETCH_WAIT_S = 30.0
# The writer thread wakes from each database round trip needing the GIL; at Python's
# default 5 ms switch interval it waits for the decoding thread most of that time.
SWITCH_INTERVAL_S = 0.001


@dataclass
class IngestStats:
    consumed: int = 0
    stored: int = 0
    duplicates: int = 0
    feature_logs: int = 0
    joined: int = 0
    labels: int = 0
    dead_letters: int = 0
    batches: int = 0
    db_failures: int = 0
    lag: dict[str, int] = field(default_factory=dict)


@dataclass
class _InFlight:
    polled: Polled
    write: Future[tuple[WriteCounts, list[Rejected]]]


class _Pending(ConsumerRebalanceListener):  # type: ignore[misc]
    """Records polled but not yet handed to the writer, by partition. ``on_revoked``
    is told of each partition a rebalance takes away."""

    def __init__(self, on_revoked: Callable[[TopicPartition], None] | None = None) -> None:
        self.records: Polled = {}
        self._on_revoked = on_revoked
        self.assigned_at = time.monotonic()

    def add(self, polled: Polled) -> None:
        for tp, records in polled.items():
            self.records.setdefault(tp, []).extend(records)

    def take(self) -> Polled:
        taken, self.records = self.records, {}
        return taken

    def count(self) -> int:
        return sum(len(r) for r in self.records.values())

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked:
            if self._on_revoked is not None:
                self._on_revoked(tp)
            dropped = self.records.pop(tp, [])
            if dropped:
                log.info(
                    "partition %s revoked: %d unwritten records left to its new owner",
                    tp,
                    len(dropped),
                )

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.assigned_at = time.monotonic()
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
        "max_poll_interval_ms": settings.max_poll_interval_ms,
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
        self._engine = engine
        self._sessions = make_sessionmaker(engine)
        catalog = ModelCatalog()
        self._writer = BatchWriter(engine, catalog)
        self._preparer = Preparer(settings, catalog)
        self._consumer = consumer or make_kafka_consumer(settings)
        self._pending = _Pending(on_revoked=self._forget_partition)
        # Offsets this consumer committed, per partition it owns: the consumer_lag rows.
        self._committed: dict[TopicPartition, int] = {}
        self._lag = LagRecorder(engine, settings.consumer_group)
        self._dlq_producer: KafkaProducer | None = None
        topics = [settings.predictions_topic, settings.features_topic, settings.labels_topic]
        self._consumer.subscribe(topics, listener=self._pending)
        self._on_batch = on_batch
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="ingest-writer")
        self._in_flight: _InFlight | None = None
        self.stats = IngestStats()

    def maintain(self) -> None:
        """Housekeeping between batches: partitions ahead, retention, feature-log sweep.
        A failure is logged and retried at the next interval; it never stops ingest."""
        now = datetime.now(UTC)
        s = self._settings
        try:
            with self._engine.connect() as conn:
                self._writer.partitions.ensure_ahead(conn, now)
                dropped = self._writer.partitions.drop_expired(
                    conn, now=now, retention=timedelta(days=s.retention_days)
                )
            with self._sessions() as session:
                joined, expired = self._writer.sweep_feature_logs(
                    session, now=now, ttl=timedelta(seconds=s.feature_log_ttl_s)
                )
        except (SQLAlchemyError, psycopg.Error) as exc:
            log.warning("maintenance failed, will retry: %s", str(exc).splitlines()[0])
            return
        if dropped or joined or expired:
            log.info(
                "maintenance: dropped %s, joined %d feature logs late, expired %d",
                dropped,
                joined,
                expired,
            )

    def run(self, stop: threading.Event, *, idle_exit_s: float | None = None) -> IngestStats:
        """Consume until ``stop`` is set (the batch in flight is finished first) or, when
        ``idle_exit_s`` is given, until no record arrived for that long."""
        backoff = self._settings.retry_backoff_initial_s
        last_record_at = time.monotonic()
        maintained_at = float("-inf")
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(switch_interval, SWITCH_INTERVAL_S))
        try:
            while not stop.is_set():
                if time.monotonic() - maintained_at >= MAINTENANCE_INTERVAL_S:
                    self.maintain()  # beside the writer, as beside another consumer
                    maintained_at = time.monotonic()
                self._lag.flush(self._lag_rows)  # a no-op unless a commit is due to show
                self._fill(stop)
                if not self._pending.records:
                    if self._in_flight is not None:
                        ok = self._settle()  # nothing to overlap it with
                    elif not self._caught_up():
                        # Joining the group, or partitions with records still to fetch,
                        # is not idleness: the idle clock starts once we are caught up.
                        last_record_at = time.monotonic()
                        continue
                    elif (
                        idle_exit_s is not None and time.monotonic() - last_record_at >= idle_exit_s
                    ):
                        break
                    else:
                        continue
                else:
                    last_record_at = time.monotonic()
                    ok = self._hand_over()
                if ok:
                    backoff = self._settings.retry_backoff_initial_s
                else:
                    stop.wait(backoff)
                    backoff = min(backoff * 2, self._settings.retry_backoff_max_s)
            self._settle()
            self._lag.flush(self._lag_rows, force=True)  # the position we stop at
        finally:
            if self._in_flight is not None:  # an error on this thread: never commit it
                self._in_flight.write.cancel()
            self._writer_thread.shutdown(wait=True)
            sys.setswitchinterval(switch_interval)
            # Never let close() auto-commit: only written batches have committed offsets.
            self._consumer.close(autocommit=False)
            if self._dlq_producer is not None:
                self._dlq_producer.close(timeout=10)
        return self.stats

    def _forget_partition(self, tp: TopicPartition) -> None:
        self._committed.pop(tp, None)
        metrics.forget_partition(tp.topic, tp.partition)

    def _lag_rows(self) -> list[PartitionLag]:
        """Committed offset and fetch high watermark of each partition this consumer
        owns and has committed (a partition not fetched yet has no high watermark)."""
        rows = []
        for tp in self._consumer.assignment():
            committed = self._committed.get(tp)
            high = self._consumer.highwater(tp)
            if committed is not None and high is not None:
                rows.append(PartitionLag(tp.topic, tp.partition, committed, high))
        return rows

    def _caught_up(self) -> bool:
        """Partitions assigned, and none known to hold unread records. A partition not
        fetched yet (no high watermark) is not caught up for FIRST_FETCH_WAIT_S after the
        assignment; after that it counts as caught up, so a broker that never answers for
        it cannot keep an idle consumer from stopping."""
        assignment = self._consumer.assignment()
        if not assignment:
            return False
        waiting_first_fetch = time.monotonic() - self._pending.assigned_at < FIRST_FETCH_WAIT_S
        for tp in assignment:
            high = self._consumer.highwater(tp)
            if high is None:
                if waiting_first_fetch:
                    return False
            elif self._consumer.position(tp) < high:
                return False
        return True

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
        now = datetime.now(UTC)  # one clock reading per batch for the timestamp horizon
        for rec in records:
            source = Source(rec.topic, rec.partition, rec.offset, rec.key)
            raw = rec.value if rec.value is not None else b""
            self._preparer.add(session, batch, source, raw, headers=rec.headers, now=now)
        for r in batch.rejected:
            log.warning("dead letter %s: %s: %s", r.source, r.error_class, r.error_message[:300])
        return batch

    def _write(
        self, records: list[Record], rejected: list[Rejected], batch: Batch | None = None
    ) -> WriteCounts:
        """Write the records (``batch``, when they are decoded already) in one
        transaction. If PostgreSQL refuses a value (a data exception, SQLSTATE class 22:
        the same message would fail on every replay), the batch is halved until the
        refused message is alone; it becomes a dead letter and the rest is stored. Any
        other error propagates: the caller replays the batch."""
        try:
            with self._sessions() as session:
                if batch is None:
                    batch = self._decode(session, records)
                counts = self._writer.write(session, batch)
                rejected.extend(batch.rejected)
                return counts
        except (DataError, psycopg.errors.DataError) as exc:
            if len(records) > 1:
                mid = len(records) // 2
                return self._write(records[:mid], rejected) + self._write(records[mid:], rejected)
            rec = records[0]
            source = Source(rec.topic, rec.partition, rec.offset, rec.key)
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            log.warning("dead letter %s: database_rejected: %s", source, reason)
            refused = Rejected(source, rec.value or b"", "database_rejected", reason)
            with self._sessions() as session:
                counts = self._writer.write(session, Batch(rejected=[refused]))
            rejected.append(refused)
            return counts

    def _mirror_dead_letters(self, rejected: list[Rejected]) -> None:
        """Copy rejected records to ``<topic>.dlq`` with Kafka Connect's error headers.
        Best effort: the dead_letters table is the record of truth, so a failure here is
        logged and does not hold back the batch."""
        try:
            if self._dlq_producer is None:
                self._dlq_producer = KafkaProducer(
                    bootstrap_servers=self._settings.bootstrap_servers, acks="all"
                )
            for r in rejected:
                self._dlq_producer.send(
                    r.source.topic + DLQ_SUFFIX,
                    key=r.source.key,
                    value=r.raw,
                    headers=dlq_headers(r),
                )
            self._dlq_producer.flush(timeout=30)
        except KafkaError as exc:
            log.error("could not copy %d dead letters to their .dlq topics: %r", len(rejected), exc)

    def _write_in_background(
        self, records: list[Record], batch: Batch
    ) -> tuple[WriteCounts, list[Rejected]]:
        rejected: list[Rejected] = []
        return self._write(records, rejected, batch), rejected

    def _hand_over(self) -> bool:
        """Decode the pending records, settle the batch in flight, and hand these to the
        writer. False when the batch in flight failed (everything was rewound)."""
        polled = self._pending.take()
        records = [r for recs in polled.values() for r in recs]
        try:
            with self._sessions() as session:
                batch = self._decode(session, records)
        except (SQLAlchemyError, psycopg.Error) as exc:  # the catalog could not load
            self._rewind(polled, exc)
            return False
        if not self._settle(polled_since=polled):
            return False
        self._in_flight = _InFlight(
            polled, self._writer_thread.submit(self._write_in_background, records, batch)
        )
        return True

    def _rewind(self, polled: Polled, exc: BaseException | None = None) -> None:
        """Seek each partition back to the first offset of ``polled``: nothing of it is
        committed, the same consumer replays it after its back-off."""
        if exc is not None:
            self.stats.db_failures += 1
            span = ", ".join(
                f"{tp.topic}[{tp.partition}]@{recs[0].offset}-{recs[-1].offset}"
                for tp, recs in polled.items()
            )
            log.error("database write failed, replaying %s: %s", span, str(exc).splitlines()[0])
        assigned = self._consumer.assignment()
        for tp, recs in polled.items():
            if tp in assigned:
                self._consumer.seek(tp, recs[0].offset)

    def _settle(self, *, polled_since: Polled | None = None) -> bool:
        """Wait for the batch in flight; commit its offsets, or rewind it together with
        ``polled_since`` (records polled after it, not handed over). False if it failed."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is None:
            return True
        polled = in_flight.polled
        try:
            counts, rejected = in_flight.write.result()
        except (SQLAlchemyError, psycopg.Error) as exc:
            if polled_since:
                self._rewind(polled_since)
            self._rewind(polled, exc)  # last: a partition in both ends at the earlier offset
            return False
        if rejected and self._settings.dead_letter_topics:
            self._mirror_dead_letters(rejected)
        assigned = self._consumer.assignment()
        offsets = {
            tp: OffsetAndMetadata(recs[-1].offset + 1, "", -1)
            for tp, recs in polled.items()
            if tp in assigned  # a revoked partition's new owner commits it
        }
        try:
            if offsets:
                self._consumer.commit(offsets)
                self._committed.update({tp: o.offset for tp, o in offsets.items()})
                self._lag.committed()
        except KafkaError as exc:
            # A rebalance (CommitFailedError, RebalanceInProgressError) or a timeout: the
            # partition's owner replays from the last commit and the idempotent writes
            # absorb the repeat. The data is already safe in PostgreSQL.
            log.warning("offset commit failed, the batch will be replayed: %r", exc)
        self._record(counts, sum(map(len, polled.values())), polled)
        return True

    def _record(self, counts: WriteCounts, n_records: int, polled: Polled) -> None:
        s = self.stats
        s.consumed += n_records
        s.stored += counts.predictions
        s.duplicates += counts.duplicates
        s.feature_logs += counts.feature_logs
        s.joined += counts.joined
        s.labels += counts.labels
        s.dead_letters += counts.dead_letters
        s.batches += 1
        by_topic: Counter[str] = Counter()
        for tp, recs in polled.items():
            by_topic[tp.topic] += len(recs)
            high = self._consumer.highwater(tp)
            position = self._consumer.position(tp)
            if high is not None and position is not None:
                s.lag[f"{tp.topic}[{tp.partition}]"] = max(0, high - position)
                metrics.set_consumer_lag(tp.topic, tp.partition, max(0, high - position))
        metrics.record_consumed(by_topic)
        if self._on_batch is not None:
            self._on_batch(counts, s)
