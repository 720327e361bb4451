"""KServe V2 inference logs (CloudEvents binary mode) become paired predictions."""

from __future__ import annotations

import json

import pytest
from factories import MODEL, recent_start, register, run_ingest
from kafka import KafkaProducer
from sqlalchemy import Engine, text

from monitor.config import Settings
from monitor.events import EventError
from monitor.ingest.kserve import (
    REQUEST,
    RESPONSE,
    cloud_event,
    request_to_feature_logs,
    response_to_predictions,
)
from monitor.ingest.topics import ensure_topics


def headers(kind: str, ce_id: str, *, sep: str = "-") -> list[tuple[str, bytes]]:
    return [
        (f"ce{sep}id", ce_id.encode()),
        (f"ce{sep}type", kind.encode()),
        (f"ce{sep}source", b"http://localhost:9081/"),
        (f"ce{sep}specversion", b"1.0"),
        (f"ce{sep}time", recent_start().isoformat().encode()),
        (f"ce{sep}inferenceservicename", MODEL.encode()),
    ]


REQUEST_BODY = {
    "id": "r1",
    "inputs": [
        {"name": "income", "shape": [2], "datatype": "FP64", "data": [3.1, 2.2]},
        {"name": "age", "shape": [2], "datatype": "INT64", "data": [40, 33]},
        {"name": "region", "shape": [2], "datatype": "BYTES", "data": ["north", "south"]},
    ],
}
RESPONSE_BODY = {
    "model_name": MODEL,
    "model_version": "1",
    "id": "r1",
    "outputs": [{"name": "output-0", "shape": [2], "datatype": "INT64", "data": [1, 0]}],
}


def test_a_request_and_its_response_pair_up_whichever_comes_first(
    db: Engine, settings: Settings
) -> None:
    register(db)
    ensure_topics(settings.bootstrap_servers, [settings.predictions_topic], partitions=1)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    # The response first, on the Kafka binding's ce_ spelling; then the request.
    producer.send(
        settings.predictions_topic,
        value=json.dumps(RESPONSE_BODY).encode(),
        headers=headers(RESPONSE, "ce-1", sep="_"),
    )
    producer.send(
        settings.predictions_topic,
        value=json.dumps(REQUEST_BODY).encode(),
        headers=headers(REQUEST, "ce-1"),
    )
    producer.flush()
    producer.close()
    run_ingest(settings)
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT event_id, model_version, num_values, cat_values, prediction "
                "FROM predictions ORDER BY event_id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("ce-1:0", "1", [3.1, 40.0], ["north"], 1),
        ("ce-1:1", "1", [2.2, 33.0], ["south"], 0),
    ]


def test_positional_inputs_follow_the_schema_and_probabilities_become_scores() -> None:
    ce = cloud_event(headers(REQUEST, "x"))
    assert ce is not None
    body = {
        "inputs": [
            {"name": "input-0", "shape": [1, 3], "datatype": "FP32", "data": [1.0, 2.0, 3.0]}
        ]
    }
    (log,) = request_to_feature_logs(
        ce, json.dumps(body).encode(), model_id="m", feature_names=["a", "b", "c"]
    )
    assert (log.event_id, log.features) == ("x", {"a": 1.0, "b": 2.0, "c": 3.0})
    response = {
        "model_name": "m",
        "outputs": [{"name": "p", "shape": [1, 2], "datatype": "FP32", "data": [[0.2, 0.8]]}],
    }
    (pred,) = response_to_predictions(ce, json.dumps(response).encode())
    assert (pred.prediction, pred.scores, pred.model_version) == (
        1,
        {"0": 0.2, "1": 0.8},
        "unversioned",
    )


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"inputs": [{"name": "input-0", "shape": [1, 2], "data": [1.0, 2.0]}]}, "has 2 columns"),
        ({"inputs": [{"name": "input-0", "shape": [2, 3], "data": [1.0]}]}, "does not hold 1"),
        ({"outputs": []}, "inputs: a V2 request needs"),
    ],
)
def test_malformed_requests_are_named(body: dict[str, object], needle: str) -> None:
    ce = cloud_event(headers(REQUEST, "x"))
    assert ce is not None
    with pytest.raises(EventError, match=needle):
        request_to_feature_logs(
            ce, json.dumps(body).encode(), model_id="m", feature_names=["a", "b", "c"]
        )


def test_other_headers_are_not_kserve_and_a_kserve_event_needs_an_id() -> None:
    assert cloud_event([("traceparent", b"00-abc")]) is None
    assert cloud_event(None) is None
    ce = cloud_event(headers(REQUEST, "x"))
    assert ce is not None
    assert (ce.type, ce.service, ce.time.tzinfo is not None) == (REQUEST, MODEL, True)
    with pytest.raises(EventError, match="ce-id: required"):
        cloud_event([("ce-type", REQUEST.encode())])
