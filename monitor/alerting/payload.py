"""The outbox payload: Alertmanager's webhook v4 JSON for one notification of a group.

Every receiver kind gets this same document in ``notification_outbox.payload``; each
notifier renders its own format (Slack blocks, PagerDuty events) from it at delivery, so
a row can be re-sent after a receiver's format changes and the stored row stays readable
by anything that knows Alertmanager. Driftwarden adds one field per alert, ``evidence``
(the numbers behind the verdict), and retrain receivers a top-level ``retraining``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt for a firing alert
STATUSES = ("firing", "resolved")


def iso(ts: datetime | None) -> str:
    """RFC 3339 in UTC with a ``Z``, as Alertmanager writes it; None is the zero time."""
    if ts is None:
        return ZERO_TIME
    if ts.tzinfo is None:
        raise ValueError(f"timestamp={ts!r}: naive datetime, expected an aware one")
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class AlertView:
    """One alert instance as a notification shows it."""

    status: str  # "firing" | "resolved"
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None  # None while firing
    fingerprint: str
    generator_url: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status={self.status!r}: expected one of {STATUSES}")

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": iso(self.starts_at),
            # A firing alert has no end yet: Alertmanager sends the zero time.
            "endsAt": iso(self.ends_at) if self.status == "resolved" else ZERO_TIME,
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
            "evidence": dict(self.evidence),
        }


def common_pairs(maps: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """The (name, value) pairs every map has (Alertmanager's commonLabels); {} for none."""
    common: dict[str, str] | None = None
    for m in maps:
        kept = common if common is not None else m
        common = {k: v for k, v in kept.items() if m.get(k) == v}
    return dict(sorted((common or {}).items()))


def group_status(alerts: Iterable[Mapping[str, Any]]) -> str:
    """ "firing" if any alert fires, else "resolved" (Alertmanager's ``.Status``)."""
    return "firing" if any(a.get("status") == "firing" for a in alerts) else "resolved"


def alertmanager_v4(
    *,
    receiver: str,
    group_key: str,
    group_labels: Mapping[str, str],
    alerts: Sequence[AlertView],
    external_url: str,
    max_alerts: int = 0,
) -> dict[str, Any]:
    """The webhook v4 document of one group notification.

    ``status``, ``commonLabels`` and ``commonAnnotations`` describe all ``alerts``;
    the ``alerts`` list has the firing ones first (stable otherwise), cut to
    ``max_alerts`` when that is positive, and ``truncatedAlerts`` counts the rest
    (Alertmanager's ``max_alerts``: 0 keeps all). Firing first so a cut drops
    resolved alerts before firing ones.
    """
    if max_alerts < 0:
        raise ValueError(f"max_alerts={max_alerts}: must be >= 0 (0 = no limit)")
    if not alerts:
        raise ValueError(f"group_key={group_key!r}: a notification needs at least one alert")
    ordered = sorted(alerts, key=lambda a: a.status != "firing")
    kept = ordered[:max_alerts] if max_alerts else ordered
    rendered = [a.to_json() for a in ordered]
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": len(ordered) - len(kept),
        "status": group_status(rendered),
        "receiver": receiver,
        "groupLabels": dict(sorted(group_labels.items())),
        "commonLabels": common_pairs(a["labels"] for a in rendered),
        "commonAnnotations": common_pairs(a["annotations"] for a in rendered),
        "externalURL": external_url,
        "alerts": rendered[: len(kept)],
    }
