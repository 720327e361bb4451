"""Duration strings of the alerting config (``90s``, ``15m``, ``2h``, ``1d``, ``1w``), on
the grammar of :mod:`monitor.durations`, with this file's messages and a bare ``0``."""

from __future__ import annotations

from datetime import timedelta

from monitor.durations import duration_seconds, format_duration

__all__ = ["format_duration", "parse_duration"]


def parse_duration(value: str, *, allow_zero: bool = False) -> timedelta:
    """``"90s"`` -> ``timedelta(seconds=90)``. ``"0s"`` (or ``"0"``) only with ``allow_zero``."""
    text = value.strip()
    if allow_zero and text == "0":
        return timedelta(0)
    seconds = duration_seconds(text)
    if seconds is None:
        raise ValueError(f"{value!r} is not a duration like 90s, 15m, 2h, 1d or 1w")
    if seconds == 0 and not allow_zero:
        raise ValueError(f"{value!r}: must be longer than 0")
    return timedelta(seconds=seconds)
