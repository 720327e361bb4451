"""One cycle of the alerter (``driftwarden alert``): evaluate, flush groups, deliver.

Three transactions, each safe to repeat: evaluation commits the instances' new states
with the cursor and the groups they joined; a flush commits what each due group
notified with its outbox rows; delivery marks each row delivered or schedules its next
attempt. A process killed between any two loses nothing: the next cycle, in this
process or another, carries on from what is committed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine, func, select

from monitor import metrics
from monitor.alerting.config_store import load_applied
from monitor.alerting.dispatch import DeliveryReport, deliver_due
from monitor.alerting.evaluator import AlertEvent, evaluate
from monitor.alerting.groups import FlushReport, flush_due
from monitor.db.engine import make_sessionmaker
from monitor.db.models import AlertState

DELIVERY_LIMIT = 2_000  # notifications a cycle delivers at most


@dataclass
class CycleReport:
    events: list[AlertEvent] = field(default_factory=list)
    flushes: list[FlushReport] = field(default_factory=list)
    deliveries: list[DeliveryReport] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def run_cycle(
    engine: Engine,
    client: httpx.Client,
    *,
    now: datetime | None = None,
    external_url: str = "",
    dashboard_url: str = "",
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> CycleReport:
    """Evaluate new results, flush the due groups, deliver the due notifications.
    ``now`` fixes the time of all three (tests); else each step reads ``clock``."""
    report = CycleReport()
    sessions = make_sessionmaker(engine)
    started = time.perf_counter()
    with sessions.begin() as session:
        config = load_applied(session)
        report.events = evaluate(session, config, now=now or clock())
        # The instances as this evaluation leaves them (ix_alert_states_state: one
        # index scan); a gauge, set once a cycle after the commit below.
        states: dict[str, int] = {
            state: n
            for state, n in session.execute(
                select(AlertState.state, func.count()).group_by(AlertState.state)
            )
        }
    metrics.set_alert_instances(states)
    report.seconds["evaluate"] = time.perf_counter() - started
    started = time.perf_counter()
    if config is not None:
        with sessions.begin() as session:
            report.flushes = flush_due(
                session,
                config,
                now=now or clock(),
                external_url=external_url,
                dashboard_url=dashboard_url,
            )
    report.seconds["flush"] = time.perf_counter() - started
    started = time.perf_counter()
    # Drain the outbox, up to a bound: a cycle that fires a thousand alerts has hundreds
    # of notifications, and they should not wait for the next cycles 100 at a time.
    report.deliveries = deliver_due(engine, client, now=now or clock(), limit=DELIVERY_LIMIT)
    report.seconds["deliver"] = time.perf_counter() - started
    return report
