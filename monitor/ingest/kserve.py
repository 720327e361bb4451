"""Open Inference Protocol (KServe V2) request/response pairs, as a KServe inference
logger emits them: CloudEvents in binary mode (``ce-id``, ``ce-type``, ``ce-source``,
``ce-time``, and KServe's ``ce-inferenceservicename``; the Kafka binding spells them
``ce_id`` ...), the body a V2 inference request or response.

A request becomes feature logs and a response predictions, paired by ``ce-id`` through
the ordinary feature-log join, whichever arrives first. A batch of k rows becomes k
events ``<ce-id>:<row>`` (``<ce-id>`` alone when k = 1). Request inputs map to features
by name (one input per feature, shape ``[k]`` or ``[k, 1]``), or positionally, in the
order of the model version's schema, from a single input of shape ``[k, n]``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from monitor.events import EventError, FeatureLogEvent, PredictionEvent

REQUEST = "org.kubeflow.serving.inference.request"
RESPONSE = "org.kubeflow.serving.inference.response"


@dataclass(frozen=True)
class CloudEvent:
    id: str
    type: str
    source: str
    time: datetime
    service: str | None


def cloud_event(headers: Sequence[tuple[str, bytes]] | None) -> CloudEvent | None:
    """The CloudEvent attributes of a KServe inference log record, or None."""
    if not headers:
        return None
    attrs = {}
    for key, value in headers:
        k = key.lower()
        if k.startswith(("ce-", "ce_")):
            attrs[k[3:]] = value.decode("utf-8", "replace") if value is not None else ""
    if attrs.get("type") not in (REQUEST, RESPONSE):
        return None
    if not attrs.get("id"):
        raise EventError("invalid_event", "ce-id: required CloudEvents attribute is missing")
    try:
        time = datetime.fromisoformat(attrs["time"]) if attrs.get("time") else datetime.now(UTC)
    except ValueError:
        raise EventError("invalid_event", f"ce-time={attrs['time']!r}: not RFC 3339") from None
    if time.tzinfo is None:
        time = time.replace(tzinfo=UTC)
    return CloudEvent(
        attrs["id"], attrs["type"], attrs.get("source", ""), time, attrs.get("inferenceservicename")
    )


def _rows(tensor: dict[str, Any]) -> list[Any]:
    """A tensor's values per row (first dimension), from flat or nested ``data``."""
    name = tensor.get("name", "?")
    shape, data = tensor.get("shape"), tensor.get("data")
    if not isinstance(shape, list) or not shape or not isinstance(data, list):
        raise EventError("invalid_event", f"inputs/outputs {name!r}: needs a shape and data")
    flat = data
    while flat and isinstance(flat[0], list):
        flat = [v for row in flat for v in row]
    k = int(shape[0])
    width = 1
    for d in shape[1:]:
        width *= int(d)
    if k * width != len(flat):
        raise EventError(
            "invalid_event", f"tensor {name!r}: shape={shape} does not hold {len(flat)} values"
        )
    if width == 1 and len(shape) <= 2:
        return list(flat)
    return [flat[i * width : (i + 1) * width] for i in range(k)]


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise EventError("not_json", f"KServe body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise EventError("not_object", "KServe body is JSON but not an object")
    return body


def _event_ids(ce: CloudEvent, k: int) -> list[str]:
    return [ce.id] if k == 1 else [f"{ce.id}:{i}" for i in range(k)]


def request_to_feature_logs(
    ce: CloudEvent, raw: bytes, *, model_id: str, feature_names: Sequence[str]
) -> list[FeatureLogEvent]:
    inputs = _body(raw).get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise EventError("invalid_event", "inputs: a V2 request needs a list of input tensors")
    names = set(feature_names)
    if all(isinstance(t, dict) and t.get("name") in names for t in inputs):
        columns = {t["name"]: _rows(t) for t in inputs}
        k = len(next(iter(columns.values())))
        rows = [{n: col[i] for n, col in columns.items()} for i in range(k)]
    elif len(inputs) == 1 and isinstance(inputs[0], dict):
        matrix = _rows(inputs[0])
        rows = []
        for r in matrix:
            values = r if isinstance(r, list) else [r]
            if len(values) != len(feature_names):
                raise EventError(
                    "invalid_event",
                    f"inputs[0] has {len(values)} columns, model {model_id!r} has "
                    f"{len(feature_names)} features",
                )
            rows.append(dict(zip(feature_names, values, strict=True)))
    else:
        raise EventError(
            "invalid_event",
            "inputs: neither one tensor per feature (by name) nor one [k, n] tensor",
        )
    return [
        FeatureLogEvent(event_id=event_id, model_id=model_id, timestamp=ce.time, features=row)
        for event_id, row in zip(_event_ids(ce, len(rows)), rows, strict=True)
    ]


def response_to_predictions(ce: CloudEvent, raw: bytes) -> list[PredictionEvent]:
    body = _body(raw)
    model_id = ce.service or body.get("model_name")
    if not model_id:
        raise EventError(
            "invalid_event", "model_name: missing (no ce-inferenceservicename header either)"
        )
    outputs = body.get("outputs")
    if not isinstance(outputs, list) or not outputs or not isinstance(outputs[0], dict):
        raise EventError("invalid_event", "outputs: a V2 response needs a list of output tensors")
    values = _rows(outputs[0])
    version = str(body.get("model_version") or "unversioned")
    events = []
    for event_id, v in zip(_event_ids(ce, len(values)), values, strict=True):
        prediction, scores = v, None
        if isinstance(v, list):
            # A row of class probabilities: the scores, and the most likely class.
            scores = {str(j): float(p) for j, p in enumerate(v)}
            prediction = max(range(len(v)), key=lambda j: v[j])
        events.append(
            PredictionEvent(
                event_id=event_id,
                model_id=str(model_id),
                timestamp=ce.time,
                model_version=version,
                features=None,
                prediction=prediction,
                scores=scores,
            )
        )
    return events
