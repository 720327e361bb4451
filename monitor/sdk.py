"""The producer side: one call per prediction from the model server.

logger = PredictionLogger(bootstrap_servers="kafka:9092")
logger.log_prediction(model_id="fraud", model_version="3",
                      features={"amount": 12.5}, prediction=1)
logger.log_label(event_id=..., model_id="fraud", label=0)
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


class PredictionLogger:
    def __init__(
        self,
        *,
        bootstrap_servers: str | list[str],
        predictions_topic: str = "driftwarden.predictions",
        labels_topic: str = "driftwarden.labels",
        **producer_options: Any,
    ) -> None:
        options: dict[str, Any] = {"linger_ms": 20, "acks": "all", "retries": 5}
        options.update(producer_options)
        self._producer = KafkaProducer(bootstrap_servers=bootstrap_servers, **options)
        self._predictions_topic = predictions_topic
        self._labels_topic = labels_topic

    def log_prediction(
        self,
        *,
        model_id: str,
        model_version: str,
        features: dict[str, Any],
        prediction: Any,
        scores: dict[str, float] | None = None,
        segment: dict[str, str] | None = None,
        event_id: str | None = None,
        timestamp: datetime | None = None,
    ) -> str:
        """Send one prediction event (keyed by model id) and return its ``event_id``."""
        event_id = event_id or uuid.uuid4().hex
        event = {
            "event_id": event_id,
            "model_id": model_id,
            "model_version": model_version,
            "timestamp": (timestamp or datetime.now(UTC)).isoformat(),
            "features": features,
            "prediction": prediction,
            "scores": scores,
            "segment": segment,
        }
        self._producer.send(self._predictions_topic, key=model_id.encode(), value=_json(event))
        return event_id

    def log_label(
        self, *, event_id: str, model_id: str, label: Any, timestamp: datetime | None = None
    ) -> None:
        event = {
            "event_id": event_id,
            "model_id": model_id,
            "label": label,
            "timestamp": (timestamp or datetime.now(UTC)).isoformat(),
        }
        self._producer.send(self._labels_topic, key=event_id.encode(), value=_json(event))

    def send_raw(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        """Send bytes as they are (used to show how bad input is handled)."""
        self._producer.send(topic, key=key, value=value)

    def flush(self, timeout: float | None = 30) -> None:
        self._producer.flush(timeout=timeout)

    def close(self) -> None:
        self._producer.close()
