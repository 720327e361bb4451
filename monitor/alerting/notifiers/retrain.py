"""Retraining trigger: the signed webhook plus ``Idempotency-Key``.

The payload is the group's webhook v4 document with a top-level ``retraining`` object
(trigger_id, idempotency_key, model_id, model_version, callback_url) that the flush adds
once governance allows the trigger. The key lets the training system drop a retried
delivery it already acted on; a payload without the object is refused, never sent: a
training job started without governance's trigger row could not be tracked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from monitor.alerting.notifiers import Delivery, final
from monitor.alerting.notifiers.webhook import post_signed

IDEMPOTENCY_HEADER = "Idempotency-Key"


def send_retrain(
    client: httpx.Client, config: Mapping[str, Any], payload: Mapping[str, Any]
) -> Delivery:
    retraining = payload.get("retraining")
    if not isinstance(retraining, Mapping):
        return final(f"payload retraining={retraining!r}: a retrain receiver needs the object")
    key = retraining.get("idempotency_key")
    if not isinstance(key, str) or not key:
        return final(f"payload retraining.idempotency_key={key!r}: a non-empty string is needed")
    return post_signed(client, config, payload, headers={IDEMPOTENCY_HEADER: key})
