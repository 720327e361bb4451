"""Notifiers deliver one outbox payload to one receiver and say whether to retry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Delivery:
    ok: bool
    retryable: bool = False
    status: int | None = None
    error: str | None = None


def classify_status(status: int) -> Delivery:
    """2xx delivered; 429 and 5xx worth retrying; any other 4xx is final."""
    if 200 <= status < 300:
        return Delivery(ok=True, status=status)
    retryable = status == 429 or status >= 500
    return Delivery(ok=False, retryable=retryable, status=status, error=f"HTTP {status}")
