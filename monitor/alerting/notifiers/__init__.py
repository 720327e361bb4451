"""Notifiers deliver one outbox payload to one receiver and say whether to retry.

Every notifier takes the stored Alertmanager webhook v4 document (``payload.py``) and
renders its own format. It never raises for a delivery problem: it returns a
:class:`Delivery`, and ``dispatch.py`` decides on retries from ``retryable``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

ERROR_BODY_CHARS = 300  # enough for Slack's "invalid_payload" or PagerDuty's errors list


@dataclass(frozen=True)
class Delivery:
    ok: bool
    retryable: bool = False
    status: int | None = None
    error: str | None = None


def classify_status(status: int, body: str = "") -> Delivery:
    """2xx delivered; 429 and 5xx worth retrying; any other 4xx is final. The error
    carries the start of the response body: receivers explain a refusal there."""
    if 200 <= status < 300:
        return Delivery(ok=True, status=status)
    retryable = status == 429 or status >= 500
    text = " ".join(body.split())[:ERROR_BODY_CHARS]
    return Delivery(
        ok=False, retryable=retryable, status=status, error=f"HTTP {status}: {text or '(no body)'}"
    )


def final(error: str) -> Delivery:
    """A failure no retry can fix (bad configuration or payload)."""
    return Delivery(ok=False, retryable=False, error=error)


def config_str(config: Mapping[str, Any], key: str) -> str:
    """A required non-empty string of the receiver config; ValueError names the key."""
    value = config.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"receiver config {key}={value!r}: a non-empty string is required")
    return value


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, an ellipsis marking a cut (Slack and
    PagerDuty refuse a field over their limit instead of truncating it)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Notifier(Protocol):
    def __call__(
        self, client: httpx.Client, config: Mapping[str, Any], payload: Mapping[str, Any]
    ) -> Delivery: ...


# The notifier modules import Delivery from here, so they are imported after it exists.
from monitor.alerting.notifiers.pagerduty import send_pagerduty  # noqa: E402
from monitor.alerting.notifiers.retrain import send_retrain  # noqa: E402
from monitor.alerting.notifiers.slack import send_slack  # noqa: E402
from monitor.alerting.notifiers.webhook import send_webhook  # noqa: E402

NOTIFIERS: dict[str, Notifier] = {
    "webhook": send_webhook,
    "slack": send_slack,
    "pagerduty": send_pagerduty,
    "retrain": send_retrain,
}


def notify(
    client: httpx.Client, kind: str, config: Mapping[str, Any], payload: Mapping[str, Any]
) -> Delivery:
    """Deliver ``payload`` with the notifier of ``kind``, as stored: the group flush
    already left resolved alerts out for a receiver with ``send_resolved: false``."""
    notifier = NOTIFIERS.get(kind)
    if notifier is None:
        return final(f"kind={kind!r}: no notifier (known: {', '.join(sorted(NOTIFIERS))})")
    return notifier(client, config, payload)
