"""Tumbling windows aligned to the Unix epoch (so every worker agrees on boundaries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def floor_to(ts: datetime, size: timedelta) -> datetime:
    return EPOCH + ((ts - EPOCH) // size) * size


def closed_windows(
    start: datetime, now: datetime, size: timedelta, *, limit: int
) -> list[tuple[datetime, datetime]]:
    """Windows ``[s, s+size)`` from the one containing ``start`` whose end is <= ``now``."""
    out: list[tuple[datetime, datetime]] = []
    lo = floor_to(start, size)
    while lo + size <= now and len(out) < limit:
        out.append((lo, lo + size))
        lo += size
    return out
