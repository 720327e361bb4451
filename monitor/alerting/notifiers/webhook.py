"""Generic webhook receiver: Alertmanager webhook v4 JSON, signed with HMAC-SHA256.

Header ``X-Driftwarden-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
``HMAC_SHA256(secret, f"{t}." + body)``, as Stripe does: the timestamp is signed too,
so a captured request cannot be replayed later (receivers reject an old ``t``).
``X-Driftwarden-Webhook-Version: 4`` names the body's format. Receivers verify with
:func:`verify_signature` or the stdlib snippet in docs/alerting.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from monitor.alerting.notifiers import Delivery, classify_status, config_str, final

SIGNATURE_HEADER = "X-Driftwarden-Signature"
VERSION_HEADER = "X-Driftwarden-Webhook-Version"
PAYLOAD_VERSION = "4"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: float | None = None, tolerance_s: int = 300
) -> bool:
    """True if ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of now."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def encode(payload: Mapping[str, Any]) -> bytes:
    """The body as sent and signed: compact JSON with sorted keys (the JSONB column
    does not keep key order, so sorting makes a retry's body identical)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def post_signed(
    client: httpx.Client,
    config: Mapping[str, Any],
    payload: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
) -> Delivery:
    """POST ``payload`` to ``config["url"]``, signed when ``config["secret"]`` is set."""
    try:
        url = config_str(config, "url")
    except ValueError as exc:
        return final(str(exc))
    body = encode(payload)
    sent = {
        "Content-Type": "application/json",
        "User-Agent": "driftwarden",
        VERSION_HEADER: PAYLOAD_VERSION,
        **(headers or {}),
    }
    secret = config.get("secret")
    if secret:
        sent[SIGNATURE_HEADER] = sign(str(secret), int(time.time()), body)
    try:
        response = client.post(url, content=body, headers=sent)
    except httpx.TransportError as exc:  # network: worth another try
        return Delivery(ok=False, retryable=True, error=f"{type(exc).__name__}: {exc}")
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        # A bad URL will not fix itself: fail this row, keep the others.
        return final(f"url={url!r}: {type(exc).__name__}: {exc}")
    return classify_status(response.status_code, response.text)


def send_webhook(
    client: httpx.Client, config: Mapping[str, Any], payload: Mapping[str, Any]
) -> Delivery:
    return post_signed(client, config, payload)
