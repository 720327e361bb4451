"""Ingest against the real broker and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
from factories import (
    MODEL,
    committed_offset,
    encode,
    events,
    produce,
    recent_start,
    register,
    run_ingest,
)
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.db.models import DeadLetter, Label, Prediction
from monitor.ingest.topics import ensure_topics

START = recent_start()


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


def test_every_kind_of_bad_input_beside_good_messages(db: Engine, settings: Settings) -> None:
    """The issue's list of bad input, in one stream with good events between each."""
    register(db)
    topic = settings.predictions_topic
    ensure_topics(settings.bootstrap_servers, [topic, settings.labels_topic], partitions=1)
    base = events(START, 1, rng=np.random.default_rng(9), prefix="base")[0]

    def variant(**changes: object) -> bytes:
        return json.dumps(
            {**base, "event_id": f"v-{len(changes)}-{id(changes)}", **changes}, allow_nan=True
        ).encode()

    far_future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    bad: list[tuple[bytes, str]] = [
        (b"plain text", "not_json"),
        (b"[1, 2, 3]", "not_object"),
        (json.dumps({"model_id": MODEL, "timestamp": START.isoformat()}).encode(), "invalid_event"),
        (variant(model_id="ghost"), "unknown_model"),
        (variant(features={"income": "a lot"}), "feature_type"),
        (variant(features={"region": "r" * 1_000_000}), "feature_type"),  # a 1 MB string
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "not_json"),  # deeply nested
        (b'{"event_id": "\xff\xfe", "model_id": "credit"}', "not_json"),  # invalid UTF-8
        # Valid JSON, but a lone surrogate is no Unicode text PostgreSQL can store.
        (variant(features={"income": 1.0, "age": 2, "region": "\ud800"}), "invalid_text"),
        (variant(timestamp=far_future), "timestamp_out_of_range"),
        (variant(timestamp="1970-01-01T00:00:00Z"), "timestamp_out_of_range"),
        (
            json.dumps({**base, "event_id": "big", "extra": "x" * 5_000_000}).encode(),
            "stored",
        ),  # a 5 MB message: valid, stored, the padding ignored
    ]
    nan = variant(features={"income": float("nan"), "age": 30, "region": "north"})
    good = [encode(e) for e in events(START, len(bad) + 1, rng=np.random.default_rng(10))]
    stream = [good[0]]
    for (raw, _), g in zip(bad, good[1:], strict=True):
        stream += [raw, g]
    stream += [nan, good[0]]  # NaN stored as missing; a duplicate of the first event

    from kafka import KafkaProducer  # noqa: PLC0415

    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, max_request_size=8 * 1024 * 1024
    )
    for raw in stream:
        producer.send(topic, value=raw, partition=0)
    producer.flush()
    producer.close()

    stats = run_ingest(settings)
    assert stats.consumed == len(stream)
    expected_rejects = [reason for _, reason in bad if reason != "stored"]
    with Session(db) as session:
        reasons = [
            d.error_class for d in session.scalars(select(DeadLetter).order_by(DeadLetter.offset))
        ]
        sizes = [
            d.raw_size for d in session.scalars(select(DeadLetter).order_by(DeadLetter.offset))
        ]
    assert reasons == expected_rejects
    assert max(sizes) > 1_000_000  # the 1 MB message, kept (cut) with its real size
    # every good event, the NaN one and the 5 MB one; the duplicate once
    assert count(db, Prediction) == len(good) + 2
    with db.connect() as conn:
        assert (
            conn.scalar(text("SELECT sum(count) FROM quality_counts WHERE fact = 'non_finite'"))
            == 1
        )
