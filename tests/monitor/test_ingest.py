"""Ingest against the real broker and PostgreSQL."""

from __future__ import annotations

import json
import threading

import numpy as np
from factories import MODEL, committed_offset, encode, events, produce, recent_start, register
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.db.engine import make_engine
from monitor.db.models import DeadLetter, Label, Prediction
from monitor.ingest.consumer import IngestLoop, IngestStats
from monitor.ingest.topics import ensure_topics

START = recent_start()


def run_ingest(settings: Settings, idle_exit_s: float = 2.0) -> IngestStats:
    engine = make_engine(settings)
    try:
        return IngestLoop(settings, engine).run(threading.Event(), idle_exit_s=idle_exit_s)
    finally:
        engine.dispose()


def count(engine: Engine, model: type[Prediction] | type[Label] | type[DeadLetter]) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_bad_messages_are_dead_lettered_and_their_batch_is_stored(
    db: Engine, settings: Settings
) -> None:
    register(db)
    topic = settings.predictions_topic
    ensure_topics(settings.bootstrap_servers, [topic, settings.labels_topic], partitions=1)
    good = [encode(e) for e in events(START, 20, rng=np.random.default_rng(3))]
    wrong_type = events(START, 1, rng=np.random.default_rng(4), prefix="bad")[0]
    wrong_type["features"]["income"] = "lots"
    bad = {
        3: b"{not json",
        7: json.dumps({"model_id": MODEL, "timestamp": START.isoformat()}).encode(),
        11: json.dumps(
            {"event_id": "u1", "model_id": "ghost", "timestamp": START.isoformat()}
        ).encode(),
        15: encode(wrong_type),
    }
    messages = list(good)
    for position, raw in sorted(bad.items()):
        messages.insert(position, raw)
    produce(settings.kafka_bootstrap_servers, topic, messages)

    stats = run_ingest(settings)

    assert stats.stored == 20
    assert count(db, Prediction) == 20
    with Session(db) as session:
        letters = {d.offset: d for d in session.scalars(select(DeadLetter))}
    assert sorted(letters) == sorted(bad)
    assert {d.topic for d in letters.values()} == {topic}
    assert {d.partition for d in letters.values()} == {0}
    assert letters[3].error_class == "not_json"
    assert letters[3].raw == b"{not json"
    assert letters[7].error_class == "invalid_event"
    assert "event_id: required field is missing" in letters[7].error_message
    assert letters[11].error_class == "unknown_model"
    assert "model_id='ghost'" in letters[11].error_message
    assert letters[15].error_class == "feature_type"
    assert "features.income='lots'" in letters[15].error_message
    assert committed_offset(settings, topic) == len(messages)


def test_replaying_a_topic_stores_nothing_twice(db: Engine, settings: Settings) -> None:
    register(db)
    topic = settings.predictions_topic
    ensure_topics(settings.bootstrap_servers, [topic, settings.labels_topic], partitions=1)
    batch = [encode(e) for e in events(START, 30, rng=np.random.default_rng(5))]
    produce(settings.kafka_bootstrap_servers, topic, batch + batch[:5])  # 5 resent by a producer

    first = run_ingest(settings)
    assert (first.stored, first.duplicates) == (30, 5)

    # A new consumer group re-reads the whole topic: as after a crash before the offset commit.
    replay = settings.model_copy(update={"consumer_group": settings.consumer_group + "-replay"})
    second = run_ingest(replay)
    assert (second.stored, second.duplicates) == (0, 35)
    assert count(db, Prediction) == 30


def test_labels_join_predictions_whichever_arrives_first(db: Engine, settings: Settings) -> None:
    register(db)
    ensure_topics(
        settings.bootstrap_servers,
        [settings.predictions_topic, settings.labels_topic],
        partitions=1,
    )
    evs = events(START, 10, rng=np.random.default_rng(6))
    labels = [
        json.dumps(
            {
                "event_id": e["event_id"],
                "model_id": MODEL,
                "label": i % 2,
                "timestamp": START.isoformat(),
            }
        ).encode()
        for i, e in enumerate(evs)
    ]
    produce(settings.kafka_bootstrap_servers, settings.labels_topic, labels[:5])
    run_ingest(settings)  # labels before their predictions
    produce(settings.kafka_bootstrap_servers, settings.predictions_topic, [encode(e) for e in evs])
    produce(settings.kafka_bootstrap_servers, settings.labels_topic, labels[5:])
    run_ingest(settings)

    with db.connect() as conn:
        joined = conn.scalar(
            text("SELECT count(*) FROM predictions p JOIN labels l USING (event_id)")
        )
    assert joined == 10
