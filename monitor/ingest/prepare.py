"""Turn one raw message into a prepared item of a batch, or a dead letter.

The same path serves the Kafka consumer and HTTP ingest: decode by topic, check the
timestamp is within the accepted horizon, check the model, and place the features in
the version's layout (the schema contract of :mod:`monitor.ingest.catalog`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.events import (
    NO_FEATURES,
    EventError,
    FeatureLogEvent,
    LabelEvent,
    PredictionEvent,
    PredictionWire,
    decode_feature_log,
    decode_features,
    decode_label,
    decode_prediction,
    decode_prediction_wire,
)
from monitor.ingest.catalog import (
    ContractLayout,
    MappedFeatures,
    ModelCatalog,
    map_encoded_features,
    map_features,
)
from monitor.ingest.kserve import (
    REQUEST,
    CloudEvent,
    cloud_event,
    request_to_feature_logs,
    response_to_predictions,
)
from monitor.ingest.sink import Batch, PreparedPrediction, Rejected, Source


def _features(
    event: PredictionWire | PredictionEvent, layout: ContractLayout, raw: bytes
) -> MappedFeatures | None:
    """The event's features placed in the layout; None when a feature log brings them."""
    if not isinstance(event, PredictionWire):
        features = event.features
    elif event.features == NO_FEATURES:
        return None
    else:
        mapped = map_encoded_features(layout, event.features)
        if mapped is not None:
            return mapped
        # Not the common case: the features decoded and checked the long way. Features
        # that are not an object: the whole event decoded, which rejects it naming them.
        features = decode_features(event.features)
        if features is None:
            features = decode_prediction(raw).features
    return None if features is None else map_features(event.model_id, layout, features)


class Preparer:
    def __init__(self, settings: Settings, catalog: ModelCatalog) -> None:
        self._settings = settings
        self._catalog = catalog
        # The accepted timestamp range for the last ``now`` seen: the consumer passes one
        # ``now`` per batch, so the bounds are computed once a batch, not per event.
        self._horizon: tuple[datetime, datetime, datetime] | None = None

    def _check_time(self, ts: datetime, now: datetime) -> None:
        horizon = self._horizon  # one read: HTTP ingest may share this across threads
        if horizon is None or horizon[0] is not now:
            horizon = self._horizon = (
                now,
                now - timedelta(days=self._settings.retention_days),
                now + timedelta(seconds=self._settings.max_future_skew_s),
            )
        _, oldest, newest = horizon
        if not oldest <= ts <= newest:
            raise EventError(
                "timestamp_out_of_range",
                f"timestamp={ts.isoformat()!r}: outside the accepted range "
                f"{oldest.isoformat()} .. {newest.isoformat()} (retention_days, max_future_skew_s)",
            )

    def _kserve(
        self, session: Session, batch: Batch, ce: CloudEvent, raw: bytes, now: datetime
    ) -> None:
        self._check_time(ce.time, now)
        if ce.type == REQUEST:
            if not ce.service:
                raise EventError(
                    "invalid_event",
                    "ce-inferenceservicename: needed to know the model of a request",
                )
            layout = self._catalog.latest_layout(session, ce.service)
            batch.feature_logs.extend(
                request_to_feature_logs(ce, raw, model_id=ce.service, feature_names=layout.names)
            )
            return
        for event in response_to_predictions(ce, raw):
            self._catalog.layout(session, event.model_id, event.model_version)
            batch.predictions.append(PreparedPrediction.of(event, None))

    def add(
        self,
        session: Session,
        batch: Batch,
        source: Source,
        raw: bytes,
        *,
        headers: Sequence[tuple[str, bytes]] | None = None,
        route: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Decode ``raw`` from ``source`` into ``batch`` (as events or a dead letter).
        A record with KServe inference-log CloudEvents headers is read as one, whatever
        its topic (:mod:`monitor.ingest.kserve`). ``route`` names the topic whose kind of
        event ``raw`` is when it did not come from Kafka (HTTP ingest)."""
        now = now or datetime.now(UTC)
        topic = route or source.topic
        model_id: str | None = None
        try:
            ce = cloud_event(headers)
            if ce is not None:
                model_id = ce.service
                self._kserve(session, batch, ce, raw, now)
            elif topic == self._settings.labels_topic:
                label: LabelEvent = decode_label(raw)
                model_id = label.model_id
                self._catalog.check_model(session, label.model_id)
                batch.labels.append(label)
            elif topic == self._settings.features_topic:
                log: FeatureLogEvent = decode_feature_log(raw)
                model_id = log.model_id
                self._check_time(log.timestamp, now)
                self._catalog.check_model(session, log.model_id)
                batch.feature_logs.append(log)
            else:
                # The common event decodes with its features left as JSON text, which
                # the schema contract then decodes straight into the layout.
                event: PredictionWire | PredictionEvent = decode_prediction_wire(
                    raw
                ) or decode_prediction(raw)
                model_id = event.model_id
                self._check_time(event.timestamp, now)
                layout = self._catalog.layout(session, event.model_id, event.model_version)
                mapped = _features(event, layout, raw)
                batch.predictions.append(PreparedPrediction.of(event, mapped))
        except EventError as exc:
            batch.rejected.append(Rejected(source, raw, exc.reason, str(exc), model_id))
        except UnicodeEncodeError as exc:
            # A lone surrogate (\ud800) from a JSON escape: valid JSON, not valid text.
            batch.rejected.append(
                Rejected(source, raw, "invalid_text", f"text is not valid Unicode: {exc}", model_id)
            )
        except (SQLAlchemyError, psycopg.Error):
            raise  # the database, not the message: the caller backs off and replays
        except Exception as exc:  # no message may stop the consumer
            batch.rejected.append(
                Rejected(source, raw, "internal_error", f"{type(exc).__name__}: {exc}", model_id)
            )
