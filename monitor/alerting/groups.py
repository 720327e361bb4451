"""Aggregation groups and their notifications (Alertmanager's dispatcher, in PostgreSQL).

An instance that fires is routed (:class:`monitor.alerting.routing.RouteTree`); each
matching route puts it in the group of its ``group_by`` labels for that route's
receiver. A new group is flushed ``group_wait`` after it appears, then every
``group_interval`` while it has firing alerts. A flush notifies when the group has a
firing alert it has not notified yet, when an alert it notified has resolved (and the
receiver has ``send_resolved``), or, with nothing new, every ``repeat_interval``.
Silenced and inhibited alerts are left out of notifications (but stay members, so one
not notified yet is notified when its silence ends). The notification is written to the
outbox in the transaction that records what the group notified: a crash before the
commit repeats the flush, after it the outbox delivers. Groups are due-dated rows,
claimed with ``FOR UPDATE SKIP LOCKED``, so a restart or a second alerter picks up where
the first stopped.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitor.alerting.governance import retraining_payload
from monitor.alerting.matchers import Matcher, parse_matchers
from monitor.alerting.payload import AlertView, alertmanager_v4
from monitor.alerting.routing import (
    Inhibitor,
    RouteMatch,
    RouteTree,
    group_key,
    group_labels,
    silenced,
)
from monitor.alerting.rules import AlertingConfig, ReceiverSpec, RetrainReceiver
from monitor.alerting.sample import render
from monitor.db.models import AlertGroup, AlertState, Notification, Silence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """Where an instance goes: a route's group for that route's receiver."""

    match: RouteMatch
    key: str
    labels: dict[str, str]


def placements(routes: RouteTree, labels: Mapping[str, str]) -> list[Placement]:
    return [
        Placement(m, group_key(m, labels), group_labels(m, labels)) for m in routes.match(labels)
    ]


def _key_hash(receiver: str, key: str) -> str:
    return hashlib.sha256(f"{receiver}\n{key}".encode()).hexdigest()[:32]


def ensure_groups(
    session: Session,
    config: AlertingConfig,
    *,
    changed: Iterable[Mapping[str, str]],
    all_firing: bool,
    now: datetime,
) -> None:
    """Create the groups of the instances that changed (their label sets), and with
    ``all_firing`` of every firing instance, with a first flush ``group_wait`` from now.
    Existing groups keep their schedule. The evaluator asks for ``all_firing`` after a
    config change: the new routes' groups of alerts already firing must exist."""
    rows = list(changed)
    if all_firing:
        rows += session.scalars(select(AlertState.labels).where(AlertState.state == "firing"))
    wanted: dict[tuple[str, str, str], tuple[dict[str, str], datetime]] = {}
    routes = RouteTree(config.route)  # compiled once per pass, not per instance
    for labels in rows:
        for p in placements(routes, labels):
            wanted[(p.match.route_id, p.match.receiver, p.key)] = (
                p.labels,
                now + p.match.group_wait,
            )
    if not wanted:
        return
    groups: list[dict[str, Any]] = [
        {
            "route_id": route_id,
            "receiver": receiver,
            "group_key": key,
            "group_labels": labels,
            "next_flush_at": due,
        }
        for (route_id, receiver, key), (labels, due) in sorted(wanted.items())
    ]
    # executemany: a multi-row VALUES of hundreds of groups is slow to compile.
    stmt = insert(AlertGroup).on_conflict_do_nothing(constraint="uq_alert_groups_key")
    session.execute(stmt, groups)


@dataclass(frozen=True)
class Mutes:
    """What keeps a firing alert out of notifications right now."""

    inhibitor: Inhibitor
    silences: Sequence[tuple[Sequence[Matcher], datetime, datetime]]
    now: datetime

    def muted(self, state: AlertState) -> bool:
        return silenced(state.labels, self.silences, self.now) or self.inhibitor.inhibited(
            state.fingerprint, state.labels
        )


def _mutes(
    session: Session, config: AlertingConfig, firing: Sequence[AlertState], now: datetime
) -> Mutes:
    active = session.scalars(
        select(Silence).where(Silence.starts_at <= now, Silence.ends_at > now)
    ).all()
    return Mutes(
        # Indexed once per flush: each member then costs a look-up per rule.
        inhibitor=Inhibitor(config.inhibit_rules, [(s.fingerprint, s.labels) for s in firing]),
        silences=[(parse_matchers(s.matchers), s.starts_at, s.ends_at) for s in active],
        now=now,
    )


def _view(state: AlertState, status: str, generator_url: str) -> AlertView:
    return AlertView(
        status=status,
        labels=state.labels,
        annotations=state.annotations,
        starts_at=state.fired_at or state.active_at or state.updated_at,
        ends_at=state.resolved_at if status == "resolved" else None,
        fingerprint=state.fingerprint,
        # The dashboard link of the alert's model: {model} and {version} filled in.
        generator_url=render(generator_url, state.labels) if generator_url else "",
        evidence=state.evidence,
    )


@dataclass(frozen=True)
class FlushReport:
    group_key: str
    receiver: str
    notified: bool
    firing: int
    resolved: int


def flush_due(
    session: Session,
    config: AlertingConfig,
    *,
    now: datetime,
    external_url: str = "",
    dashboard_url: str = "",
    limit: int = 500,
) -> list[FlushReport]:
    """Flush every group due by ``now`` (in the caller's transaction)."""
    due = session.scalars(
        select(AlertGroup)
        .where(AlertGroup.next_flush_at <= now)
        .order_by(AlertGroup.next_flush_at, AlertGroup.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not due:
        return []
    receivers = {r.name: r for r in config.receivers}
    routes = RouteTree(config.route)
    firing = session.scalars(select(AlertState).where(AlertState.state == "firing")).all()
    mutes = _mutes(session, config, firing, now)
    # Members: firing instances, by the groups they route to, plus what groups notified.
    members: dict[tuple[str, str, str], list[AlertState]] = defaultdict(list)
    for state in firing:
        for p in placements(routes, state.labels):
            members[(p.match.route_id, p.match.receiver, p.key)].append(state)
    # Alerts the due groups notified that fire no more (the firing ones are loaded above).
    notified = {fp for g in due for fp in g.notified_firing}
    stopped = {
        s.fingerprint: s
        for s in session.scalars(
            select(AlertState).where(
                AlertState.fingerprint.in_(notified), AlertState.state != "firing"
            )
        )
    }
    reports = []
    for group in due:
        # By id: a group with no member left still needs its route's timers.
        route = routes.by_id(group.route_id)
        receiver = receivers.get(group.receiver)
        if receiver is None:
            session.delete(group)  # the receiver left the config: nowhere to notify
            continue
        if route is None:
            # The route changed: its firing alerts are in the new route's groups now. Its
            # alerts that resolved since are notified here, once, and the group ends
            # (it has no member left), so no incident stays open.
            route = routes.root
        firing_members = members.get((group.route_id, group.receiver, group.group_key), [])
        reports.append(
            _flush(
                session,
                group,
                route,
                receiver,
                firing_members=firing_members,
                stopped=stopped,
                mutes=mutes,
                external_url=external_url,
                dashboard_url=dashboard_url,
            )
        )
    return reports


def _notifications(
    session: Session,
    receiver: ReceiverSpec,
    views: Sequence[AlertView],
    firing: Sequence[AlertState],
    *,
    now: datetime,
    external_url: str,
) -> list[tuple[list[AlertView], dict[str, Any] | None]]:
    """The notifications of one flush: the group's alerts in one, except for a retrain
    receiver: one trigger per firing model version that its policy allows (resolutions
    do not retrain anything)."""
    if not isinstance(receiver, RetrainReceiver):
        return [(list(views), None)]
    out: list[tuple[list[AlertView], dict[str, Any] | None]] = []
    by_version: dict[tuple[str, str], list[AlertState]] = defaultdict(list)
    for state in firing:
        by_version[(state.labels.get("model", ""), state.labels.get("version", ""))].append(state)
    for (model, version), alerts in sorted(by_version.items()):
        retraining = retraining_payload(
            session,
            receiver,
            alerts,
            model=model,
            version=version,
            now=now,
            external_url=external_url,
        )
        if retraining is not None:
            fps = {a.fingerprint for a in alerts}
            out.append(([v for v in views if v.fingerprint in fps], retraining))
    return out


def _flush(
    session: Session,
    group: AlertGroup,
    route: RouteMatch,
    receiver: ReceiverSpec,
    *,
    firing_members: Sequence[AlertState],
    stopped: Mapping[str, AlertState],
    mutes: Mutes,
    external_url: str,
    dashboard_url: str,
) -> FlushReport:
    now = mutes.now
    firing = sorted((s for s in firing_members if not mutes.muted(s)), key=lambda s: s.fingerprint)
    muted = {s.fingerprint for s in firing_members} - {s.fingerprint for s in firing}
    previously = set(group.notified_firing)
    firing_fps = {s.fingerprint for s in firing}
    resolved = [stopped[fp] for fp in sorted(previously) if fp in stopped]
    # A retrain receiver has no resolved notifications: a retraining is for firing alerts.
    send_resolved = not isinstance(receiver, RetrainReceiver) and receiver.send_resolved
    repeat = (
        firing
        and group.last_notified_at is not None
        and now - group.last_notified_at >= route.repeat_interval
    )
    notify = bool(firing_fps - previously) or bool(resolved and send_resolved) or bool(repeat)
    views = [_view(s, "firing", dashboard_url) for s in firing]
    if send_resolved:
        views += [_view(s, "resolved", dashboard_url) for s in resolved]
    sent = 0
    if notify and views:
        for alerts, retraining in _notifications(
            session, receiver, views, firing, now=now, external_url=external_url
        ):
            payload = alertmanager_v4(
                receiver=group.receiver,
                group_key=group.group_key,
                group_labels=group.group_labels,
                alerts=alerts,
                external_url=external_url,
                # PagerDuty sends one event per alert: it takes them all.
                max_alerts=getattr(receiver, "max_alerts", 0),
            )
            if retraining is not None:
                payload["retraining"] = retraining
            session.add(
                Notification(
                    receiver=group.receiver,
                    kind=receiver.type,
                    group_key=group.group_key,
                    fingerprint=_key_hash(group.receiver, group.group_key),
                    next_attempt_at=now,
                    payload=payload,
                )
            )
            sent += 1
        group.last_notified_at = now
    group.notified_firing = sorted(firing_fps | (muted & previously))
    if firing_members:
        group.next_flush_at = now + route.group_interval
    else:
        session.delete(group)  # Alertmanager drops an empty aggregation group
    if sent:
        log.info(
            "notification to %s for %s: %d firing, %d resolved",
            group.receiver,
            group.group_key,
            len(firing),
            len(resolved),
        )
    return FlushReport(group.group_key, group.receiver, sent > 0, len(firing), len(resolved))
