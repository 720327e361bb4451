"""Generic webhook receiver: Alertmanager webhook v4 JSON, signed with HMAC-SHA256.

Header ``X-Driftwarden-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
``HMAC_SHA256(secret, f"{t}.{body}")``, as Stripe does: the timestamp is signed too,
so a captured request cannot be replayed later (receivers reject old ``t``).
Verification (see :func:`verify_signature`, also in docs/architecture.md)::

    ok = verify_signature(secret, request.headers["X-Driftwarden-Signature"], raw_body)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from monitor.alerting.notifiers import Delivery, classify_status

SIGNATURE_HEADER = "X-Driftwarden-Signature"


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


def send_webhook(client: httpx.Client, config: dict[str, Any], payload: dict[str, Any]) -> Delivery:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "driftwarden"}
    secret = config.get("secret")
    if secret:
        headers[SIGNATURE_HEADER] = sign(str(secret), int(time.time()), body)
    try:
        response = client.post(str(config["url"]), content=body, headers=headers)
    except httpx.TransportError as exc:  # network: worth another try
        return Delivery(ok=False, retryable=True, error=f"{type(exc).__name__}: {exc}")
    except (httpx.HTTPError, httpx.InvalidURL, KeyError, ValueError) as exc:
        # A bad URL or configuration will not fix itself: fail this row, keep the others.
        return Delivery(ok=False, retryable=False, error=f"{type(exc).__name__}: {exc}")
    return classify_status(response.status_code)
