"""Alertmanager routing, grouping, inhibition and silences (pure).

- :func:`match_routes` walks the route tree depth-first: a matching node descends into
  its children; the first matching child wins unless it has ``continue: true``; a node
  none of whose children match is itself the match. Children inherit the receiver,
  ``group_by`` and timers they leave unset.
- :func:`group_key` is Alertmanager's: the route's matcher path, then the group labels,
  ``{}/{severity="critical"}:{alertname="X", model="m"}``.
- :func:`inhibited`: a firing source alert mutes a target sharing its ``equal`` labels;
  an alert matching both sides cannot inhibit itself (nor one that also matches both).
- :func:`silenced`: matcher-based mutes active on ``[starts_at, ends_at)``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.alerting.matchers import Matcher, format_matchers, matches, parse_matcher
from monitor.alerting.rules import InhibitRule, Route

# Alertmanager's defaults for the root route.
GROUP_WAIT = timedelta(seconds=30)
GROUP_INTERVAL = timedelta(minutes=5)
REPEAT_INTERVAL = timedelta(hours=4)
ALL_LABELS = "..."


@dataclass(frozen=True)
class RouteMatch:
    """A route an alert was routed to, with its inherited settings resolved."""

    route_id: str  # stable across applies while the route and its ancestors are unchanged
    receiver: str
    group_by: tuple[str, ...] | None  # None: every label ('...')
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta  # a multiple of group_interval
    key: str  # the matcher path, e.g. '{}/{severity="critical"}'


@dataclass(frozen=True)
class _Settings:
    receiver: str
    group_by: tuple[str, ...] | None
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta


def _route_id(route: Route, parent_id: str) -> str:
    own = {
        "parent": parent_id,
        "matchers": sorted(m.text for m in route.parsed_matchers),
        "receiver": route.receiver,
        "group_by": route.group_by,
    }
    return hashlib.sha256(json.dumps(own, sort_keys=True).encode()).hexdigest()[:16]


def _inherit(route: Route, parent: _Settings) -> _Settings:
    group_by: tuple[str, ...] | None
    if route.group_by is None:
        group_by = parent.group_by
    elif route.group_by == [ALL_LABELS]:
        group_by = None
    else:
        group_by = tuple(route.group_by)
    return _Settings(
        receiver=route.receiver or parent.receiver,
        group_by=group_by,
        group_wait=route.group_wait if route.group_wait is not None else parent.group_wait,
        group_interval=route.group_interval or parent.group_interval,
        repeat_interval=route.repeat_interval or parent.repeat_interval,
    )


def _round_up(repeat: timedelta, interval: timedelta) -> timedelta:
    """repeat_interval as a multiple of group_interval: a repeat can only go out with a
    group flush, which happens every group_interval."""
    return interval * math.ceil(repeat / interval)


def _resolved(settings: _Settings, route_id: str, key: str) -> RouteMatch:
    return RouteMatch(
        route_id=route_id,
        receiver=settings.receiver,
        group_by=settings.group_by,
        group_wait=settings.group_wait,
        group_interval=settings.group_interval,
        repeat_interval=_round_up(settings.repeat_interval, settings.group_interval),
        key=key,
    )


def _root_settings(root: Route) -> _Settings:
    if root.receiver is None:
        raise ValueError("route.receiver=None: the root route needs a receiver")
    base = _Settings(root.receiver, (), GROUP_WAIT, GROUP_INTERVAL, REPEAT_INTERVAL)
    return _inherit(root, base)


def _match(
    route: Route, settings: _Settings, route_id: str, key: str, labels: Mapping[str, str]
) -> list[RouteMatch]:
    out: list[RouteMatch] = []
    for child in route.routes:
        if not matches(child.parsed_matchers, labels):
            continue
        child_settings = _inherit(child, settings)
        found = _match(
            child,
            child_settings,
            _route_id(child, route_id),
            f"{key}/{format_matchers(child.parsed_matchers)}",
            labels,
        )
        out.extend(found)
        if not child.continue_:
            break
    if out:
        return out
    return [_resolved(settings, route_id, key)]


def match_routes(root: Route, labels: Mapping[str, str]) -> list[RouteMatch]:
    """The routes (receivers with their grouping) an alert with ``labels`` goes to."""
    key = format_matchers(root.parsed_matchers)
    return _match(root, _root_settings(root), _route_id(root, ""), key, labels)


def all_routes(root: Route) -> list[RouteMatch]:
    """Every node of the tree with its resolved settings, depth-first (to find a
    group's route by ``route_id`` when none of its alerts is left to route)."""
    out: list[RouteMatch] = []

    def walk(route: Route, settings: _Settings, route_id: str, key: str) -> None:
        out.append(_resolved(settings, route_id, key))
        for child in route.routes:
            walk(
                child,
                _inherit(child, settings),
                _route_id(child, route_id),
                f"{key}/{format_matchers(child.parsed_matchers)}",
            )

    walk(root, _root_settings(root), _route_id(root, ""), format_matchers(root.parsed_matchers))
    return out


def group_labels(match: RouteMatch, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels the alert's group is keyed on (the ``group_by`` labels it has)."""
    if match.group_by is None:
        return dict(sorted(labels.items()))
    return {name: labels[name] for name in sorted(match.group_by) if name in labels}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def group_key(match: RouteMatch, labels: Mapping[str, str]) -> str:
    """``{}/{severity="critical"}:{alertname="X", model="m"}`` (Alertmanager's form)."""
    grouped = group_labels(match, labels)
    body = ", ".join(f'{k}="{_escape(v)}"' for k, v in sorted(grouped.items()))
    return f"{match.key}:{{{body}}}"


def inhibited(
    target_labels: Mapping[str, str],
    firing_labels: Iterable[Mapping[str, str]],
    inhibit_rules: Iterable[InhibitRule],
) -> bool:
    """Whether a firing source alert mutes the alert with ``target_labels``."""
    sources = list(firing_labels)
    for rule in inhibit_rules:
        if not matches(rule.parsed_target, target_labels):
            continue
        # Alertmanager: when the target matches the source side too, sources that match
        # the target side are skipped, so an alert never inhibits itself.
        two_sided = matches(rule.parsed_source, target_labels)
        for source in sources:
            if not matches(rule.parsed_source, source):
                continue
            if two_sided and matches(rule.parsed_target, source):
                continue
            if all(source.get(name, "") == target_labels.get(name, "") for name in rule.equal):
                return True
    return False


Silence = tuple[Sequence[str | Matcher], datetime, datetime]


def silenced(labels: Mapping[str, str], silences: Iterable[Silence], now: datetime) -> bool:
    """Whether a silence active at ``now`` (``starts_at <= now < ends_at``) matches.
    A silence without matchers matches nothing (Alertmanager refuses to create one)."""
    for raw, starts_at, ends_at in silences:
        if not (starts_at <= now < ends_at) or not raw:
            continue
        parsed = [m if isinstance(m, Matcher) else parse_matcher(m) for m in raw]
        if matches(parsed, labels):
            return True
    return False
