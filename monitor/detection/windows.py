"""Windows aligned to the Unix epoch (so every worker agrees on boundaries)."""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.epoch import floor_to


def window_after(
    checked_until: datetime | None, first_event: datetime, *, size: timedelta, step: timedelta
) -> tuple[datetime, datetime]:
    """The first window ``[end - size, end)`` that ends after ``checked_until`` and holds
    ``first_event`` or a later instant. Window ends are aligned to ``step`` (tumbling
    windows: ``step == size``); ``first_event`` is the first event at or after the start
    of the first window ending after ``checked_until``, so stretches without events are
    skipped, not stepped through."""
    end = floor_to(first_event, step) + step
    if checked_until is not None:
        # The first aligned end strictly after checked_until (which is not aligned when
        # the window or step changed since the last check).
        end = max(end, floor_to(checked_until, step) + step)
    return end - size, end


def earliest_start_after(
    checked_until: datetime | None, *, size: timedelta, step: timedelta
) -> datetime | None:
    """Where the first window ending after ``checked_until`` starts (None: no bound)."""
    if checked_until is None:
        return None
    return floor_to(checked_until, step) + step - size
