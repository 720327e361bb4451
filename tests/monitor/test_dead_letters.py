"""The dead-letter workflow: list, fix, replay; and the optional .dlq topic copy."""

from __future__ import annotations

import json
import time
import uuid

import numpy as np
from factories import (
    cli,
    encode,
    events,
    produce,
    recent_start,
    register,
    run_ingest,
)
from kafka import KafkaConsumer
from sqlalchemy import Engine, text

from monitor.config import Settings
from monitor.ingest.topics import ensure_topics


def test_messages_of_a_model_registered_late_are_replayed_after_the_fix(
    db: Engine, settings: Settings
) -> None:
    ensure_topics(settings.bootstrap_servers, [settings.predictions_topic], partitions=1)
    evs = events(recent_start(), 5, rng=np.random.default_rng(1))
    produce(
        settings.kafka_bootstrap_servers,
        settings.predictions_topic,
        [encode(e) for e in evs] + [b"still not json"],
    )
    run_ingest(settings)  # the model is not registered yet: all six are dead letters

    listed = json.loads(cli(settings, "dead-letters", "list", "--output", "json"))
    assert [d["error_class"] for d in listed] == ["unknown_model"] * 5 + ["not_json"]
    assert listed[0]["source"] == f"{settings.predictions_topic}[0]@0"

    register(db)  # the fix
    out = cli(settings, "dead-letters", "replay", "--all")
    assert "replayed 6: 5 stored, 1 still refused" in out
    with db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM predictions")) == 5
        assert conn.scalar(text("SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL")) == 1
    assert "replayed 0" in cli(settings, "dead-letters", "replay", "--error-class", "unknown_model")
    assert json.loads(cli(settings, "dead-letters", "list", "--output", "json"))[0]["model"] is None


def test_dead_letters_can_be_copied_to_a_dlq_topic_with_connect_headers(
    db: Engine, settings: Settings
) -> None:
    register(db)
    settings = settings.model_copy(update={"dead_letter_topics": True})
    topic = settings.predictions_topic
    ensure_topics(settings.bootstrap_servers, [topic, topic + ".dlq"], partitions=1)
    good = encode(events(recent_start(), 1, rng=np.random.default_rng(2))[0])
    produce(settings.kafka_bootstrap_servers, topic, [good, b"{broken", good])
    run_ingest(settings)

    consumer = KafkaConsumer(
        topic + ".dlq",
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"dlq-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
    )
    records = []
    deadline = time.monotonic() + 30
    while not records and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    consumer.close()
    assert [r.value for r in records] == [b"{broken"]
    headers = {k: v.decode() for k, v in records[0].headers}
    assert headers["__connect.errors.topic"] == topic
    assert headers["__connect.errors.offset"] == "1"
    assert headers["__connect.errors.exception.class.name"] == "not_json"
    # The good message was sent twice with one event id: stored once.
    with db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM predictions")) == 1
