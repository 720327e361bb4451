"""Duration strings (``90s``, ``15m``, ``2h``, ``1d``, ``1w``): the grammar shared by
monitors.yaml (``monitor.detection.spec``) and rules.yaml (``monitor.alerting``).

Pure and import-light on purpose: ``monitor.detection.spec`` pulls in ``detectors``
(numpy, scipy), which the alerting config and ``driftwarden rules check`` should not pay
for. Each caller words its own errors (the two files' messages differ).
"""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_UNIT_SECONDS = dict(_UNITS)


def duration_seconds(text: str) -> int | None:
    """``"15m"`` -> 900; None when ``text`` (stripped) is not a number and a unit."""
    match = _DURATION.match(text.strip())
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else None


def format_duration(value: timedelta) -> str:
    """The inverse of parsing, in the largest unit that divides evenly:
    ``timedelta(hours=24)`` -> ``"1d"``. Sub-second parts are not representable."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: 1s divides every whole number of seconds")
