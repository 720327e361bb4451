"""Turn one raw message into a prepared item of a batch, or a dead letter.

The same path serves the Kafka consumer and HTTP ingest: decode by topic, check the
timestamp is within the accepted horizon, check the model, and place the features in
the version's layout (the schema contract of :mod:`monitor.ingest.catalog`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.events import (
    EventError,
    FeatureLogEvent,
    LabelEvent,
    PredictionEvent,
    decode_feature_log,
    decode_label,
    decode_prediction,
)
from monitor.ingest.catalog import ModelCatalog, map_features
from monitor.ingest.sink import Batch, PreparedPrediction, Rejected, Source


class Preparer:
    def __init__(self, settings: Settings, catalog: ModelCatalog) -> None:
        self._settings = settings
        self._catalog = catalog

    def _check_time(self, ts: datetime, now: datetime) -> None:
        oldest = now - timedelta(days=self._settings.retention_days)
        newest = now + timedelta(seconds=self._settings.max_future_skew_s)
        if not oldest <= ts <= newest:
            raise EventError(
                "timestamp_out_of_range",
                f"timestamp={ts.isoformat()!r}: outside the accepted range "
                f"{oldest.isoformat()} .. {newest.isoformat()} (retention_days, max_future_skew_s)",
            )

    def add(
        self,
        session: Session,
        batch: Batch,
        source: Source,
        raw: bytes,
        *,
        now: datetime | None = None,
    ) -> None:
        """Decode ``raw`` from ``source`` into ``batch`` (as an event or a dead letter)."""
        now = now or datetime.now(UTC)
        model_id: str | None = None
        try:
            if source.topic == self._settings.labels_topic:
                label: LabelEvent = decode_label(raw)
                model_id = label.model_id
                self._catalog.check_model(session, label.model_id)
                batch.labels.append(label)
            elif source.topic == self._settings.features_topic:
                log: FeatureLogEvent = decode_feature_log(raw)
                model_id = log.model_id
                self._check_time(log.timestamp, now)
                self._catalog.check_model(session, log.model_id)
                batch.feature_logs.append(log)
            else:
                event: PredictionEvent = decode_prediction(raw)
                model_id = event.model_id
                self._check_time(event.timestamp, now)
                layout = self._catalog.layout(session, event.model_id, event.model_version)
                mapped = (
                    None
                    if event.features is None
                    else map_features(event.model_id, layout, event.features)
                )
                batch.predictions.append(PreparedPrediction(event, mapped))
        except EventError as exc:
            batch.rejected.append(Rejected(source, raw, exc.reason, str(exc), model_id))
        except (SQLAlchemyError, psycopg.Error):
            raise  # the database, not the message: the caller backs off and replays
        except Exception as exc:  # no message may stop the consumer
            batch.rejected.append(
                Rejected(source, raw, "internal_error", f"{type(exc).__name__}: {exc}", model_id)
            )
