"""The producer side: one call per prediction, from the model server.

    logger = PredictionLogger(bootstrap_servers="kafka:9092")
    event_id = logger.log_prediction(model_id="fraud", model_version="3",
                                     features={"amount": 12.5}, prediction=1)
    logger.log_label(event_id=event_id, model_id="fraud", label=0)   # later

Monitoring must never hurt serving. The logger batches in the background (kafka-python),
blocks a call for at most ``max_block_ms`` (buffer full, or no metadata yet), and never
raises into the caller: whatever it cannot send is counted in :attr:`dropped` and logged
(at most once a minute). A broker that is down when the model server starts is retried
on later calls.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer

log = logging.getLogger(__name__)

RECONNECT_EVERY_S = 30.0
WARN_EVERY_S = 60.0


def _json(value: Any) -> bytes:
    # NaN/Infinity are written as such; ingest reads them as non-finite values.
    return json.dumps(value, separators=(",", ":"), default=str).encode()


class PredictionLogger:
    def __init__(
        self,
        *,
        bootstrap_servers: str | list[str],
        predictions_topic: str = "driftwarden.predictions",
        labels_topic: str = "driftwarden.labels",
        features_topic: str = "driftwarden.features",
        max_block_ms: int = 50,
        **producer_options: Any,
    ) -> None:
        self._options: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "linger_ms": 20,
            "acks": "all",
            "retries": 5,
            "max_block_ms": max_block_ms,
            **producer_options,
        }
        self._predictions_topic = predictions_topic
        self._labels_topic = labels_topic
        self._features_topic = features_topic
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None
        self._tried_at = float("-inf")
        self._warned_at = float("-inf")
        self._closed = False
        self.sent = 0
        self.dropped = 0
        self._connect()

    def _connect(self) -> KafkaProducer | None:
        """The producer, once connected. Connecting happens on a background thread (a
        broker that is down can hold the Kafka client's constructor for a long time);
        until it succeeds, logs are dropped and counted, and it is retried every
        ``RECONNECT_EVERY_S``."""
        if self._producer is None and time.monotonic() - self._tried_at >= RECONNECT_EVERY_S:
            self._tried_at = time.monotonic()
            threading.Thread(target=self._open, name="driftwarden-sdk-connect", daemon=True).start()
        return self._producer

    def _open(self) -> None:
        try:
            producer = KafkaProducer(**self._options)
        except Exception as exc:  # never into the model's path
            self._warn(f"cannot reach Kafka, predictions are dropped until it can: {exc}")
            return
        with self._lock:
            if self._closed:
                producer.close(timeout=1)
            else:
                self._producer = producer

    def wait_connected(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Block up to ``timeout`` seconds for the connection (startup, tests), or until
        ``stop`` is set."""
        deadline = time.monotonic() + timeout
        while self._producer is None and time.monotonic() < deadline:
            if stop is not None and stop.is_set():
                break
            time.sleep(0.02)
        return self._producer is not None

    def _warn(self, message: str) -> None:
        if time.monotonic() - self._warned_at >= WARN_EVERY_S:
            self._warned_at = time.monotonic()
            log.warning("%s (dropped so far: %d)", message, self.dropped)

    def _on_sent(self, _metadata: Any) -> None:
        with self._lock:
            self.sent += 1

    def _on_error(self, exc: BaseException) -> None:
        with self._lock:
            self.dropped += 1
        self._warn(f"a prediction log could not be delivered: {exc!r}")

    def _send(self, topic: str, key: bytes | None, value: bytes) -> bool:
        producer = self._connect()
        if producer is None:
            with self._lock:
                self.dropped += 1
            return False
        try:
            future = producer.send(topic, key=key, value=value)
            future.add_callback(self._on_sent)
            future.add_errback(self._on_error)
            return True
        except Exception as exc:  # buffer full, timeout, closed: count it
            self._on_error(exc)
            return False

    def log_prediction(
        self,
        *,
        model_id: str,
        model_version: str,
        features: dict[str, Any] | None,
        prediction: Any,
        scores: dict[str, float] | None = None,
        segment: dict[str, str] | None = None,
        event_id: str | None = None,
        timestamp: datetime | None = None,
    ) -> str:
        """Queue one prediction event (keyed by event id); return its ``event_id``.
        ``features=None``: the features are logged apart with :meth:`log_features`."""
        event_id = event_id or uuid.uuid4().hex
        try:
            event: dict[str, Any] = {
                "event_id": event_id,
                "model_id": model_id,
                "model_version": model_version,
                "timestamp": (timestamp or datetime.now(UTC)).isoformat(),
                "prediction": prediction,
            }
            if features is not None:
                event["features"] = features
            if scores is not None:
                event["scores"] = scores
            if segment is not None:
                event["segment"] = segment
            # Keyed by event id, not model id: a busy model's predictions spread over all
            # partitions, so more consumers share its load. Nothing downstream needs one
            # model's events in order (writes are idempotent, joins and tallies are not
            # order-sensitive); murmur2 of a fleet's model ids piles them onto a few
            # partitions (16 ids of one pattern: half on one partition of 4).
            self._send(self._predictions_topic, event_id.encode(), _json(event))
        except Exception as exc:  # e.g. features that are not JSON-able
            self._on_error(exc)
        return event_id

    def log_features(
        self,
        *,
        event_id: str,
        model_id: str,
        features: dict[str, Any],
        timestamp: datetime | None = None,
    ) -> None:
        """Queue a feature log: the features of a prediction logged elsewhere."""
        try:
            event = {
                "event_id": event_id,
                "model_id": model_id,
                "timestamp": (timestamp or datetime.now(UTC)).isoformat(),
                "features": features,
            }
            self._send(self._features_topic, event_id.encode(), _json(event))
        except Exception as exc:
            self._on_error(exc)

    def log_label(
        self, *, event_id: str, model_id: str, label: Any, timestamp: datetime | None = None
    ) -> None:
        """Queue the ground truth of a prediction (any time later)."""
        try:
            event = {
                "event_id": event_id,
                "model_id": model_id,
                "label": label,
                "timestamp": (timestamp or datetime.now(UTC)).isoformat(),
            }
            self._send(self._labels_topic, event_id.encode(), _json(event))
        except Exception as exc:
            self._on_error(exc)

    def send_raw(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        """Queue bytes as they are (tests and demos of bad input)."""
        self._send(topic, key, value)

    def flush(self, timeout: float | None = 30) -> None:
        if self._producer is not None:
            try:
                self._producer.flush(timeout=timeout)
            except Exception as exc:
                self._warn(f"flush did not complete: {exc!r}")

    def close(self, timeout: float | None = 30) -> None:
        with self._lock:
            self._closed = True
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.flush(timeout=timeout)
            finally:
                producer.close(timeout=timeout)
