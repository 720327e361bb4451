"""HTTP ingest: ``POST /v1/events`` for producers without Kafka.

The body is a batch, each list optional::

    {"predictions": [...], "features": [...], "labels": [...]}

Every event goes through the same decoding, schema contract and batch writer as Kafka
ingest, in one transaction. Bad events are answered per index (and kept as dead letters
with source ``http/<request id>[0]@<index>``); the good ones beside them are stored.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from monitor.ingest.sink import Batch, Source

router = APIRouter(prefix="/v1", tags=["ingest"])

MAX_EVENTS = 10_000


class EventBatch(BaseModel):
    predictions: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_EVENTS)
    features: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_EVENTS)
    labels: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_EVENTS)


class Refused(BaseModel):
    list: str
    index: int
    error_class: str
    error_message: str


class IngestResult(BaseModel):
    request_id: str
    stored: int
    duplicates: int
    feature_logs: int
    labels: int
    refused: list[Refused]


EXAMPLE = {
    "predictions": [
        {
            "event_id": "7f0c2a",
            "model_id": "fraud",
            "model_version": "3",
            "timestamp": "2026-11-26T10:00:00Z",
            "features": {"amount": 12.5, "country": "DE"},
            "prediction": 1,
        }
    ],
    "labels": [
        {"event_id": "6e1b9d", "model_id": "fraud", "label": 0, "timestamp": "2026-11-26T11:00:00Z"}
    ],
}


@router.post("/events", response_model=IngestResult)
def post_events(
    request: Request,
    batch_in: Annotated[EventBatch, Body(openapi_examples={"mixed": {"value": EXAMPLE}})],
) -> IngestResult:
    """Ingest a batch of predictions, feature logs and labels (as Kafka ingest would);
    refused events are listed by list and index, and kept as dead letters."""
    settings = request.app.state.settings
    request_id = uuid.uuid4().hex
    topic = f"http/{request_id}"
    lists = {
        "predictions": (settings.predictions_topic, batch_in.predictions),
        "features": (settings.features_topic, batch_in.features),
        "labels": (settings.labels_topic, batch_in.labels),
    }
    batch = Batch()
    where: dict[int, tuple[str, int]] = {}
    offset = 0
    with Session(request.app.state.engine) as session:
        for name, (event_topic, items) in lists.items():
            for index, item in enumerate(items):
                where[offset] = (name, index)
                # Routed as if from the event's topic; a dead letter records the request.
                request.app.state.preparer.add(
                    session,
                    batch,
                    Source(topic, 0, offset),
                    json.dumps(item).encode(),
                    route=event_topic,
                )
                offset += 1
        counts = request.app.state.writer.write(session, batch)
    return IngestResult(
        request_id=request_id,
        stored=counts.predictions,
        duplicates=counts.duplicates,
        feature_logs=counts.feature_logs,
        labels=counts.labels,
        refused=[
            Refused(
                list=where[r.source.offset][0],
                index=where[r.source.offset][1],
                error_class=r.error_class,
                error_message=r.error_message,
            )
            for r in batch.rejected
        ],
    )
