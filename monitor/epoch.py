"""Time cut into steps aligned to the Unix epoch, so that every process (ingest's
buckets, the worker's windows and sketches) agrees on the boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def floor_to(ts: datetime, size: timedelta) -> datetime:
    """The start of the epoch-aligned step of length ``size`` holding ``ts``."""
    return EPOCH + ((ts - EPOCH) // size) * size
