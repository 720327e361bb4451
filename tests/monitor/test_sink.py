"""The batch writer against the real database: arrays, feature logs, quality facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from factories import MODEL, events, recent_start, register, store
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from monitor.config import load_settings
from monitor.ingest.catalog import ModelCatalog
from monitor.ingest.sink import BatchWriter

START = recent_start()
FEATURES_TOPIC = load_settings().features_topic
LABELS = load_settings().labels_topic


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_features_are_stored_in_schema_order_with_nulls_and_extras(db: Engine) -> None:
    register(db)  # schema: income, age (numerical), region (categorical)
    e = events(START, 1, rng=np.random.default_rng(1))[0]
    e["features"] = {"region": None, "income": float("nan"), "age": 41, "colour": "red"}
    store(db, [e])
    assert rows(db, "SELECT num_values, cat_values, extra_features FROM predictions") == [
        ([None, 41.0], [None], {"colour": "red"})
    ]
    facts = rows(db, "SELECT feature, fact, count FROM quality_counts ORDER BY 1, 2")
    assert facts == [
        ("colour", "unknown_feature", 1),
        ("income", "non_finite", 1),
        ("region", "missing", 1),
    ]
    store(db, [e])  # a replay: nothing new stored, nothing counted twice
    assert rows(db, "SELECT sum(count) FROM quality_counts") == [(3,)]


def feature_log(e: dict[str, object]) -> dict[str, object]:
    return {k: e[k] for k in ("event_id", "model_id", "timestamp", "features")}


def without_features(e: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in e.items() if k != "features"}


def test_a_feature_log_meets_its_prediction_whichever_comes_first(db: Engine) -> None:
    register(db)
    a, b, c = events(START, 3, rng=np.random.default_rng(2))
    store(db, [feature_log(a)], topic=FEATURES_TOPIC)  # log first
    store(db, [without_features(a), without_features(b)])  # then predictions
    store(db, [feature_log(b)], topic=FEATURES_TOPIC)  # log after its prediction
    store(db, [without_features(c)])  # and c's log never comes
    stored = dict(rows(db, "SELECT event_id, num_values IS NOT NULL FROM predictions"))
    assert stored == {a["event_id"]: True, b["event_id"]: True, c["event_id"]: False}
    assert rows(db, "SELECT count(*) FROM feature_logs WHERE matched_at IS NOT NULL") == [(2,)]


def test_a_feature_log_that_never_meets_its_prediction_is_counted_not_lost(db: Engine) -> None:
    register(db)
    (a,) = events(START, 1, rng=np.random.default_rng(3))
    store(db, [feature_log(a)], topic=FEATURES_TOPIC)
    writer = BatchWriter(db, ModelCatalog())
    with Session(db) as session:
        now = START + timedelta(days=1)
        assert writer.sweep_feature_logs(session, now=now, ttl=timedelta(hours=1)) == (0, 0)
    with db.begin() as conn:  # pretend it arrived two hours ago
        conn.execute(text("UPDATE feature_logs SET received_at = now() - interval '2 hours'"))
    with Session(db) as session:
        swept = writer.sweep_feature_logs(session, now=datetime.now(UTC), ttl=timedelta(hours=1))
    assert swept == (0, 1)
    assert rows(db, "SELECT count(*) FROM feature_logs WHERE expired_at IS NOT NULL") == [(1,)]
    assert rows(db, "SELECT model_id, fact, count FROM quality_counts") == [
        (MODEL, "unmatched_feature_log", 1)
    ]
    # Its prediction turns up after all: still joined (kept, not lost).
    store(db, [without_features(a)])
    assert rows(db, "SELECT num_values IS NOT NULL FROM predictions") == [(True,)]


def test_a_sweep_joins_pairs_that_two_consumers_each_missed(db: Engine) -> None:
    register(db)
    (a,) = events(START, 1, rng=np.random.default_rng(4))
    store(db, [without_features(a)])
    with db.begin() as conn:  # the log committed by another consumer, unmatched
        conn.execute(
            text(
                "INSERT INTO feature_logs (event_id, model_id, ts, features) "
                "VALUES (:id, :m, :ts, CAST(:f AS jsonb))"
            ),
            {"id": a["event_id"], "m": MODEL, "ts": START, "f": '{"income": 1.0, "age": 2}'},
        )
    with Session(db) as session:
        joined = BatchWriter(db, ModelCatalog()).sweep_feature_logs(
            session, now=datetime.now(UTC), ttl=timedelta(hours=1)
        )
    assert joined == (1, 0)
    assert rows(db, "SELECT num_values, cat_values FROM predictions") == [([1.0, 2.0], [None])]


def test_event_buckets_count_stored_events_and_every_later_change(db: Engine) -> None:
    register(db)
    first = events(START, 4, rng=np.random.default_rng(3))
    second = events(START + timedelta(hours=1), 2, rng=np.random.default_rng(4), prefix="f")
    buckets = "SELECT bucket, events, changes, sketched FROM event_buckets ORDER BY 1"
    store(db, first + second)
    assert rows(db, buckets) == [(START, 4, 4, 0), (START + timedelta(hours=1), 2, 2, 0)]
    store(db, first)  # a replay stores nothing: nothing changed
    assert rows(db, buckets)[0] == (START, 4, 4, 0)
    # Features joined later and a late label change the bucket of their prediction.
    late = events(START + timedelta(minutes=30), 1, rng=np.random.default_rng(5), prefix="g")[0]
    store(db, [without_features(late)])
    store(db, [feature_log(late)], topic=FEATURES_TOPIC)
    label = {"event_id": first[0]["event_id"], "model_id": MODEL, "label": 1}
    store(db, [{**label, "timestamp": (START + timedelta(days=1)).isoformat()}], topic=LABELS)
    assert rows(db, buckets)[0] == (START, 5, 5 + 1 + 1, 0)


def test_a_batch_repeating_stored_events_stores_only_the_new_ones_and_ingest_goes_on(
    db: Engine,
) -> None:
    """New rows are copied straight into the table; a batch meeting rows stored before
    (a replay) is merged instead. Either way each event is stored, tallied and has its
    quality facts counted once, and the batches after a replay are stored too."""
    register(db)
    writer = BatchWriter(db, ModelCatalog(refresh_s=0))
    first, second, third = (
        events(START, 3, rng=np.random.default_rng(seed), prefix=prefix)
        for seed, prefix in ((6, "a"), (7, "b"), (8, "c"))
    )
    for e in first + second + third:
        e["features"]["income"] = float("nan")  # one quality fact per stored event
    assert store(db, first, writer=writer).predictions == 3
    replay = store(db, first[1:] + second, writer=writer)
    assert (replay.predictions, replay.duplicates) == (3, 2)
    after = store(db, third, writer=writer)
    assert (after.predictions, after.duplicates) == (3, 0)
    assert store(db, third + first, writer=writer).predictions == 0
    assert rows(db, "SELECT count(*), count(DISTINCT event_id) FROM predictions") == [(9, 9)]
    assert rows(db, "SELECT sum(events), sum(changes) FROM event_buckets") == [(9, 9)]
    nan = "SELECT sum(count) FROM quality_counts WHERE feature = 'income' AND fact = 'non_finite'"
    assert rows(db, nan) == [(9,)]


def test_a_batch_spanning_months_gets_a_partition_for_each(db: Engine) -> None:
    register(db)
    starts = [START - timedelta(days=days) for days in (62, 31, 0)]
    batch = [
        e
        for i, start in enumerate(starts)
        for e in events(start, 2, rng=np.random.default_rng(i), prefix=f"m{i}")
    ]
    assert store(db, batch[::-1]).predictions == 6
    months = "SELECT count(DISTINCT tableoid) FROM predictions"
    assert rows(db, months) == [(len({(s.year, s.month) for s in starts}),)]
