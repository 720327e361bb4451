"""Pure alert-instance state machine (Prometheus rule semantics, counted in windows).

inactive --breach--> pending --(breach held for ``for`` more windows)--> firing
pending --clear--> inactive (nothing was ever sent)
firing --clear held for more than ``keep_firing_for`` windows--> resolved
resolved --breach--> pending again (a new alert episode)

With ``for = 0`` the first breach fires at once, as in Prometheus.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

State = Literal["inactive", "pending", "firing", "resolved"]
Transition = Literal["firing", "resolved"]


@dataclass(frozen=True)
class InstanceState:
    state: State = "inactive"
    breaches: int = 0  # consecutive breaching evaluations
    clears: int = 0  # consecutive clear evaluations while firing
    active_at: datetime | None = None
    fired_at: datetime | None = None
    resolved_at: datetime | None = None


def fingerprint(labels: Mapping[str, str]) -> str:
    """Stable identity of an alert instance: hash of its sorted label set."""
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def step(
    prev: InstanceState,
    *,
    breached: bool,
    at: datetime,
    for_windows: int,
    keep_firing_for_windows: int,
) -> tuple[InstanceState, Transition | None]:
    """One evaluation. Returns the new state and the transition to notify, if any."""
    if breached:
        if prev.state == "firing":
            return replace(prev, breaches=prev.breaches + 1, clears=0), None
        breaches = prev.breaches + 1 if prev.state == "pending" else 1
        active_at = prev.active_at if prev.state == "pending" else at
        if breaches > for_windows:
            fired = InstanceState("firing", breaches, 0, active_at, at, None)
            return fired, "firing"
        return InstanceState("pending", breaches, 0, active_at, None, None), None
    if prev.state == "pending":
        return InstanceState(), None
    if prev.state == "firing":
        clears = prev.clears + 1
        if clears > keep_firing_for_windows:
            return replace(prev, state="resolved", breaches=0, clears=0, resolved_at=at), "resolved"
        return replace(prev, clears=clears), None
    return prev, None
