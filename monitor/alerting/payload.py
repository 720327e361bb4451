"""Alertmanager webhook v4 payloads (one alert per notification until grouping lands)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt for a firing alert
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def render(template: str, values: Mapping[str, str]) -> str:
    """Replace ``{name}`` with a label or value; unknown names are left as they are.
    Deliberately not ``str.format``: templates come from users."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _iso(ts: datetime | None) -> str:
    return ts.isoformat().replace("+00:00", "Z") if ts else ZERO_TIME


def alertmanager_v4(
    *,
    receiver: str,
    status: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    fingerprint: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
) -> dict[str, Any]:
    alertname = labels.get("alertname", "")
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alertname}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": alertname},
        "commonLabels": dict(labels),
        "commonAnnotations": dict(annotations),
        "externalURL": "",
        "alerts": [
            {
                "status": status,
                "labels": dict(labels),
                "annotations": dict(annotations),
                "startsAt": _iso(starts_at),
                "endsAt": _iso(ends_at) if status == "resolved" else ZERO_TIME,
                "generatorURL": "",
                "fingerprint": fingerprint,
            }
        ],
    }
