"""Duration strings of the alerting config (``90s``, ``15m``, ``2h``, ``1d``, ``1w``).

A copy of the small parser in ``monitor.detection.spec``: importing that module pulls in
``detectors`` (numpy, scipy: about two seconds), which the pure alerting modules and
``driftwarden rules check`` should not pay for.
"""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_UNIT_SECONDS = dict(_UNITS)


def parse_duration(value: str, *, allow_zero: bool = False) -> timedelta:
    """``"90s"`` -> ``timedelta(seconds=90)``. ``"0s"`` (or ``"0"``) only with ``allow_zero``."""
    text = value.strip()
    if allow_zero and text == "0":
        return timedelta(0)
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a duration like 90s, 15m, 2h, 1d or 1w")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds == 0 and not allow_zero:
        raise ValueError(f"{value!r}: must be longer than 0")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The inverse of :func:`parse_duration`, in the largest unit that divides evenly:
    ``timedelta(hours=24)`` -> ``"1d"``. Sub-second parts are not representable."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: 1s divides every whole number of seconds")
