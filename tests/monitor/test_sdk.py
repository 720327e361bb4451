"""The producer SDK: delivers to the real broker, and never raises into the caller."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

from kafka import KafkaConsumer

from monitor.config import Settings
from monitor.ingest.topics import ensure_topics
from monitor.sdk import PredictionLogger


def test_predictions_features_and_labels_reach_their_topics(settings: Settings) -> None:
    topics = [settings.predictions_topic, settings.features_topic, settings.labels_topic]
    ensure_topics(settings.bootstrap_servers, topics, partitions=1)
    logger = PredictionLogger(
        bootstrap_servers=settings.bootstrap_servers,
        predictions_topic=topics[0],
        features_topic=topics[1],
        labels_topic=topics[2],
    )
    assert logger.wait_connected(timeout=30)
    event_id = logger.log_prediction(model_id="m", model_version="1", features=None, prediction=0.7)
    logger.log_features(event_id=event_id, model_id="m", features={"x": float("nan")})
    logger.log_label(event_id=event_id, model_id="m", label=1)
    logger.close()
    assert (logger.sent, logger.dropped) == (3, 0)

    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"sdk-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
    )
    got: dict[str, bytes] = {}
    keys: dict[str, bytes] = {}
    deadline = time.monotonic() + 30
    while len(got) < 3 and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            got.update({r.topic: r.value for r in records})
            keys.update({r.topic: r.key for r in records})
    consumer.close()
    # Every event is keyed by its event id, predictions too: one busy model's predictions
    # spread over all partitions (and so over all consumers of the group).
    assert keys == dict.fromkeys(topics, event_id.encode())
    assert json.loads(got[topics[0]])["event_id"] == event_id
    assert "features" not in json.loads(got[topics[0]])
    assert b"NaN" in got[topics[1]]
    assert json.loads(got[topics[2]])["label"] == 1


UNREACHABLE = """
import json, time
from monitor.sdk import PredictionLogger
began = time.monotonic()
logger = PredictionLogger(bootstrap_servers="127.0.0.1:9", max_block_ms=50,
                          request_timeout_ms=1000)
for i in range(20):
    logger.log_prediction(model_id="m", model_version="1", features={"x": i}, prediction=i)
logger.log_prediction(model_id="m", model_version="1", features={"x": object()}, prediction=1)
print(json.dumps({"dropped": logger.dropped, "elapsed": time.monotonic() - began}))
logger.close(timeout=1)
"""


def test_an_unreachable_broker_costs_the_caller_little_and_never_raises() -> None:
    # In a child process: kafka-python leaves the sockets of refused connections to the
    # garbage collector, and their ResourceWarnings are not this test's subject.
    done = subprocess.run(
        [sys.executable, "-c", UNREACHABLE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["dropped"] == 21  # 20 unsendable + 1 not JSON-able, none raised
    assert result["elapsed"] < 5
