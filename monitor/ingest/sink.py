"""Batch writer: one transaction per batch, idempotent, fast.

Predictions go by binary COPY (each row encoded when its message was decoded,
:func:`PreparedPrediction.of`) straight into ``predictions``, in a savepoint. When that
COPY meets a key stored before (a replay, a producer's resend), the batch goes through a
temporary staging table and ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``
instead (bench/writes.py measured it against multi-row VALUES and executemany on the same
rows), and so does every batch after it until one holds nothing stored before. A
replayed batch stores nothing twice, and data-quality facts are counted only for the rows
actually stored, so replays do not inflate them either. Feature logs meet their
predictions here, whichever came first; labels upsert (the latest label of an event
wins); dead letters are idempotent on their source offset.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Engine, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitor import metrics
from monitor.db import copy_binary as cb
from monitor.db.models import (
    BUCKET_SECONDS,
    DeadLetter,
    EventBucket,
    FeatureLog,
    Label,
    QualityCount,
)
from monitor.db.partitions import PartitionManager
from monitor.epoch import EPOCH, floor_to
from monitor.events import FeatureLogEvent, LabelEvent, PredictionBase, PredictionEvent
from monitor.ingest.catalog import Fact, MappedFeatures, ModelCatalog, map_features

QUALITY_BUCKET = timedelta(minutes=5)
EVENT_BUCKET = timedelta(seconds=BUCKET_SECONDS)
# What a batch changed per (model, version, hour bucket): (stored predictions, changes).
BucketTally = Counter[tuple[str, str, datetime, str]]
MAX_RAW_BYTES = 64 * 1024  # dead letters keep at most this much of a payload

_COLUMNS = (
    "event_id, ts, model_id, model_version, num_values, cat_values, extra_features, "
    "prediction, scores, segment"
)
_STAGE = "_stage_predictions"
_CREATING = "created, not committed yet"


# Source and PreparedPrediction are made per message: not frozen, as a frozen dataclass's
# __init__ costs 3x (object.__setattr__ per field). Treat them as immutable.
@dataclass(slots=True)
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
    model_id: str | None = None


@dataclass(slots=True)
class PreparedPrediction:
    event: PredictionBase
    # None: the features are expected from a feature log.
    features: MappedFeatures | None
    row: bytes  # the event as a binary COPY row of _COLUMNS

    @classmethod
    def of(cls, event: PredictionBase, features: MappedFeatures | None) -> PreparedPrediction:
        """Encode the row; raises UnicodeEncodeError for text PostgreSQL cannot hold."""
        f = features
        row = cb.row((
            cb.text(event.event_id), cb.timestamptz(event.timestamp),
            cb.text(event.model_id), cb.text(event.model_version),
            cb.float8_array(f.num_values if f else None),
            cb.text_array(f.cat_values if f else None),
            cb.jsonb(f.extra if f else None), cb.jsonb(event.prediction),
            cb.jsonb(event.scores), cb.jsonb(event.segment),
        ))  # fmt: skip
        return cls(event, features, row)


@dataclass
class Batch:
    predictions: list[PreparedPrediction] = field(default_factory=list)
    feature_logs: list[FeatureLogEvent] = field(default_factory=list)
    labels: list[LabelEvent] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.predictions) + len(self.feature_logs) + len(self.labels) + len(self.rejected)
        )


@dataclass(frozen=True)
class WriteCounts:
    predictions: int = 0
    duplicates: int = 0  # predictions already stored (replays, producer resends)
    feature_logs: int = 0
    joined: int = 0
    labels: int = 0
    dead_letters: int = 0

    def __add__(self, other: WriteCounts) -> WriteCounts:
        return WriteCounts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def _bucket(ts: datetime, size: timedelta = QUALITY_BUCKET) -> datetime:
    return floor_to(ts, size)


def _change_key(model_id: str, version: str, ts: datetime) -> tuple[str, str, datetime, str]:
    """The tally key of a change (features joined, a label) to a stored prediction. Stored
    predictions are tallied on the same buckets by ``_stored_tally`` or, in the merge, by
    PostgreSQL's ``date_bin``."""
    return (model_id, version, _bucket(ts, EVENT_BUCKET), "changes")


def _jsonb(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def _copy_new(cur: psycopg.Cursor[Any], rows: list[bytes]) -> bool:
    """COPY the rows straight into ``predictions``: a third less PostgreSQL CPU per event
    than the staging merge, and as cheap on the writer thread. False, with nothing
    written, if one of them was stored before (a replay): the caller merges instead."""
    cur.execute("SAVEPOINT copy_new")
    try:
        with cur.copy(f"COPY predictions ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(cb.stream(rows))
    except psycopg.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT copy_new")
        return False
    cur.execute("RELEASE SAVEPOINT copy_new")
    return True


def _stored_tally(stored: Iterable[PreparedPrediction]) -> BucketTally:
    """Stored predictions counted per (model, version, hour bucket), the buckets of
    ``date_bin`` in the merge: grouped on epoch seconds first, as a datetime per event
    costs 3x."""
    hours: Counter[tuple[str, str, float]] = Counter(
        (p.event.model_id, p.event.model_version, p.event.timestamp.timestamp() // BUCKET_SECONDS)
        for p in stored
    )
    return Counter(
        {
            (model_id, version, EPOCH + timedelta(seconds=step * BUCKET_SECONDS), "events"): n
            for (model_id, version, step), n in hours.items()
        }
    )


class BatchWriter:
    def __init__(self, engine: Engine, catalog: ModelCatalog) -> None:
        self._engine = engine
        self._catalog = catalog
        self.partitions = PartitionManager()
        # True after a batch met predictions stored before: the next batch merges too.
        self._merging = False

    def write(self, session: Session, batch: Batch) -> WriteCounts:
        """Write the whole batch and commit, or raise with nothing written."""
        started = time.perf_counter()
        months = self.partitions.unknown_months([p.event.timestamp for p in batch.predictions])
        if months:  # checked first: a pool checkout costs a round trip per batch
            with self._engine.connect() as conn:
                self.partitions.create(conn, months)
        facts: Counter[tuple[str, str, datetime, str, str]] = Counter()
        tally: BucketTally = Counter()
        logs = {log.event_id: log for log in batch.feature_logs}
        predictions, matched_logs = self._attach_logged_features(session, batch.predictions, logs)
        stored = self._insert_predictions(session, predictions, facts, tally)
        joined = self._join_stored_predictions(
            session,
            [log for log in logs.values() if log.event_id not in matched_logs],
            facts,
            tally,
        )
        matched_logs |= joined
        new_logs = self._store_feature_logs(session, logs.values(), matched_logs)
        self._store_quality(session, facts)
        labels = self._store_labels(session, batch.labels, tally)
        self._store_buckets(session, tally)
        new_dead_letters = self._store_dead_letters(session, batch.rejected)
        info = session.connection().info  # the database connection's, not the session's
        session.commit()
        if info.get(_STAGE) == _CREATING:
            info[_STAGE] = True  # committed: the staging table exists from now on
        metrics.record_write(
            seconds=time.perf_counter() - started,
            predictions=stored,
            duplicates=len(batch.predictions) - stored,
            feature_logs=new_logs,
            labels=labels,
            dead_letters=new_dead_letters,
        )
        return WriteCounts(
            predictions=stored,
            duplicates=len(batch.predictions) - stored,
            feature_logs=len(logs),
            joined=len(matched_logs),
            labels=len(batch.labels),
            dead_letters=len(batch.rejected),
        )

    def _map(
        self, session: Session, event: PredictionBase, features: dict[str, Any]
    ) -> MappedFeatures:
        layout = self._catalog.layout(session, event.model_id, event.model_version)
        return map_features(event.model_id, layout, features, strict=False)

    def _attach_logged_features(
        self,
        session: Session,
        predictions: list[PreparedPrediction],
        logs: dict[str, FeatureLogEvent],
    ) -> tuple[list[PreparedPrediction], set[str]]:
        """Fill pending predictions from feature logs of this batch or already stored."""
        pending = [p.event.event_id for p in predictions if p.features is None]
        if not pending:
            return predictions, set()
        found: dict[str, dict[str, Any]] = {i: logs[i].features for i in pending if i in logs}
        missing = [i for i in pending if i not in found]
        if missing:
            rows = session.execute(
                text(
                    "SELECT event_id, features FROM feature_logs "
                    "WHERE event_id = ANY(:ids) AND matched_at IS NULL"
                ),
                {"ids": missing},
            )
            found.update({event_id: features for event_id, features in rows})
        out = [
            PreparedPrediction.of(p.event, self._map(session, p.event, found[p.event.event_id]))
            if p.features is None and p.event.event_id in found
            else p
            for p in predictions
        ]
        return out, set(found)

    def _insert_predictions(
        self,
        session: Session,
        predictions: list[PreparedPrediction],
        facts: Counter[tuple[str, str, datetime, str, str]],
        tally: BucketTally,
    ) -> int:
        # Duplicates inside the batch are dropped here, so each key is written once.
        unique = {(p.event.event_id, p.event.timestamp): p for p in predictions}
        if not unique:
            return 0
        conn = session.connection()
        pg = conn.connection.driver_connection
        rows = [p.row for p in unique.values()]
        with pg.cursor() as cur:  # type: ignore[union-attr]
            if not self._merging and _copy_new(cur, rows):
                for p in unique.values():
                    if p.features is not None and p.features.facts:
                        self._count(facts, p.event, p.features.facts)
                tally.update(_stored_tally(unique.values()))
                return len(unique)
            stored = self._merge(cur, rows, unique, info=conn.info, facts=facts, tally=tally)
        # After a conflict (a replay), merge until a batch holds nothing stored before.
        self._merging = stored < len(unique)
        return stored

    def _merge(
        self,
        cur: psycopg.Cursor[Any],
        rows: list[bytes],
        unique: dict[tuple[str, datetime], PreparedPrediction],
        *,
        info: dict[str, Any],
        facts: Counter[tuple[str, str, datetime, str, str]],
        tally: BucketTally,
    ) -> int:
        """COPY into a staging table, then ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``:
        stores the rows not stored before; returns how many."""
        # Once per database connection: write() marks it in the connection's info (which
        # lives as long as the connection) after the creating batch commits. Rows go at
        # commit or rollback, so each batch starts with an empty table.
        if info.get(_STAGE) is not True:
            cur.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
                "(LIKE predictions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            info[_STAGE] = _CREATING
        with cur.copy(f"COPY {_STAGE} ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(cb.stream(rows))
        # The stored rows come back counted per (model, version, hour bucket) by
        # PostgreSQL, not one by one: a row each costs the writer thread (and the GIL) a
        # tuple to load and a bucket to compute. Only the stored events that have quality
        # facts to count come back by key.
        with_facts = [
            p.event.event_id for p in unique.values() if p.features is not None and p.features.facts
        ]
        cur.execute(
            f"WITH stored AS (INSERT INTO predictions ({_COLUMNS}) "
            f"SELECT {_COLUMNS} FROM {_STAGE} ON CONFLICT DO NOTHING "
            "RETURNING event_id, ts, model_id, model_version) "
            "SELECT model_id, model_version, date_bin(%(size)s, ts, %(epoch)s), count(*), "
            "array_agg(event_id) FILTER (WHERE event_id = ANY(%(ids)s)), "
            "array_agg(ts) FILTER (WHERE event_id = ANY(%(ids)s)) "
            "FROM stored GROUP BY 1, 2, 3",
            {"size": EVENT_BUCKET, "epoch": EPOCH, "ids": with_facts},
        )
        stored = 0
        for model_id, version, bucket, n, ids, stamps in cur.fetchall():
            tally[(model_id, version, bucket, "events")] += n
            stored += n
            for key in zip(ids or (), stamps or (), strict=True):
                p = unique[key]
                if p.features is not None:
                    self._count(facts, p.event, p.features.facts)
        return stored

    @staticmethod
    def _count(
        facts: Counter[tuple[str, str, datetime, str, str]],
        event: PredictionBase,
        found: Iterable[Fact],
    ) -> None:
        bucket = _bucket(event.timestamp)
        for feature, fact in found:
            facts[(event.model_id, event.model_version, bucket, feature, fact)] += 1

    def _join_stored_predictions(
        self,
        session: Session,
        logs: list[FeatureLogEvent],
        facts: Counter[tuple[str, str, datetime, str, str]],
        tally: BucketTally,
    ) -> set[str]:
        """Give stored predictions still waiting for features the features of these logs."""
        if not logs:
            return set()
        by_id = {log.event_id: log for log in logs}
        waiting = session.execute(
            text(
                "SELECT event_id, ts, model_id, model_version FROM predictions "
                "WHERE event_id = ANY(:ids) AND num_values IS NULL AND cat_values IS NULL"
            ),
            {"ids": list(by_id)},
        ).all()
        joined: set[str] = set()
        for event_id, ts, model_id, version in waiting:
            event = PredictionEvent(
                event_id=event_id, model_id=model_id, timestamp=ts, model_version=version
            )
            mapped = self._map(session, event, by_id[event_id].features)
            updated = session.execute(
                text(
                    "UPDATE predictions SET num_values = :num, cat_values = :cat, "
                    "extra_features = :extra WHERE event_id = :id AND ts = :ts "
                    "AND num_values IS NULL AND cat_values IS NULL"
                ),
                {
                    "num": mapped.num_values,
                    "cat": mapped.cat_values,
                    "extra": _jsonb(mapped.extra),
                    "id": event_id,
                    "ts": ts,
                },
            )
            if updated.rowcount:  # type: ignore[attr-defined]
                joined.add(event_id)
                tally[_change_key(model_id, version, ts)] += 1
                self._count(facts, event, mapped.facts)
        return joined

    def sweep_feature_logs(
        self, session: Session, *, now: datetime, ttl: timedelta
    ) -> tuple[int, int]:
        """Join open feature logs to predictions stored since (two consumers can each
        miss the other's uncommitted half of a pair), then expire the logs older than
        ``ttl`` that still have no prediction, counting each as an
        ``unmatched_feature_log`` fact. Returns (joined, expired); commits."""
        open_logs = session.scalars(
            select(FeatureLog)
            .where(FeatureLog.matched_at.is_(None), FeatureLog.expired_at.is_(None))
            .order_by(FeatureLog.received_at)
            .limit(10_000)
        ).all()
        facts: Counter[tuple[str, str, datetime, str, str]] = Counter()
        tally: BucketTally = Counter()
        events = [
            FeatureLogEvent(
                event_id=log.event_id,
                model_id=log.model_id,
                timestamp=log.ts,
                features=log.features,
            )
            for log in open_logs
        ]
        joined = self._join_stored_predictions(session, events, facts, tally)
        expired = 0
        for log in open_logs:
            if log.event_id in joined:
                log.matched_at = now
            elif log.received_at < now - ttl:
                log.expired_at = now
                facts[(log.model_id, "", _bucket(log.ts), "", "unmatched_feature_log")] += 1
                expired += 1
        self._store_quality(session, facts)
        self._store_buckets(session, tally)
        session.commit()
        return len(joined), expired

    @staticmethod
    def _store_feature_logs(
        session: Session, logs: Iterable[FeatureLogEvent], matched: set[str]
    ) -> int:
        """Store the logs not stored before; returns how many were new."""
        now = datetime.now(UTC)
        rows = [
            {
                "event_id": log.event_id,
                "model_id": log.model_id,
                "ts": log.timestamp,
                "features": log.features,
                "matched_at": now if log.event_id in matched else None,
            }
            for log in logs
        ]
        stored = 0
        if rows:
            stored = len(
                session.execute(
                    insert(FeatureLog).on_conflict_do_nothing().returning(FeatureLog.event_id),
                    rows,
                ).all()
            )
        if matched:
            session.execute(
                text(
                    "UPDATE feature_logs SET matched_at = :now "
                    "WHERE event_id = ANY(:ids) AND matched_at IS NULL"
                ),
                {"now": now, "ids": list(matched)},
            )
        return stored

    @staticmethod
    def _store_quality(
        session: Session, facts: Counter[tuple[str, str, datetime, str, str]]
    ) -> None:
        if not facts:
            return
        stmt = insert(QualityCount)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["model_id", "model_version", "bucket", "feature", "fact"],
                set_={"count": QualityCount.count + stmt.excluded.count},
            ),
            # Sorted, so concurrent consumers take row locks in one order (no deadlock).
            [
                {
                    "model_id": m,
                    "model_version": v,
                    "bucket": b,
                    "feature": f,
                    "fact": k,
                    "count": n,
                }
                for (m, v, b, f, k), n in sorted(facts.items())
            ],
        )

    @staticmethod
    def _store_labels(session: Session, labels: list[LabelEvent], tally: BucketTally) -> int:
        """Upsert the latest label of each event; returns how many events got one."""
        latest = {e.event_id: e for e in labels}
        if not latest:
            return 0
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
                for e in latest.values()
            ],
        )
        # A label changes its prediction's bucket (performance is computed again); one
        # that comes before its prediction is counted when the prediction is stored.
        stored = session.execute(
            text("SELECT model_id, model_version, ts FROM predictions WHERE event_id = ANY(:ids)"),
            {"ids": list(latest)},
        )
        for model_id, version, ts in stored:
            tally[_change_key(model_id, version, ts)] += 1
        return len(latest)

    @staticmethod
    def _store_buckets(session: Session, tally: BucketTally) -> None:
        """Add the batch's stored events and changes to ``event_buckets``: what the sketch
        refresh (monitor/detection/bucket_refresh.py) follows."""
        if not tally:
            return
        rows: dict[tuple[str, str, datetime], dict[str, Any]] = {}
        for (model_id, version, bucket, column), n in tally.items():
            row = rows.setdefault(
                (model_id, version, bucket),
                {
                    "model_id": model_id,
                    "model_version": version,
                    "bucket": bucket,
                    "events": 0,
                    "changes": 0,
                },
            )
            row[column] += n
            if column == "events":
                row["changes"] += n
        stmt = insert(EventBucket)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["model_id", "model_version", "bucket"],
                set_={
                    "events": EventBucket.events + stmt.excluded.events,
                    "changes": EventBucket.changes + stmt.excluded.changes,
                },
            ),
            # Sorted, so concurrent consumers take row locks in one order (no deadlock).
            [rows[k] for k in sorted(rows)],
        )

    @staticmethod
    def _store_dead_letters(session: Session, rejected: list[Rejected]) -> list[str]:
        """Store the dead letters not stored before (a replayed batch's are); returns
        the error classes of those that were new, one item each."""
        if not rejected:
            return []
        inserted = session.execute(
            insert(DeadLetter)
            .on_conflict_do_nothing(constraint="uq_dead_letters_source")
            .returning(DeadLetter.error_class),
            [
                {
                    "topic": r.source.topic,
                    "partition": r.source.partition,
                    "offset": r.source.offset,
                    "key": r.source.key,
                    "raw": r.raw[:MAX_RAW_BYTES],
                    "raw_size": len(r.raw),
                    "model_id": r.model_id,
                    "error_class": r.error_class,
                    "error_message": r.error_message,
                }
                for r in rejected
            ],
        )
        return list(inserted.scalars())
