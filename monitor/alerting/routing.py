"""Alertmanager routing, grouping, inhibition and silences (pure).

- :class:`RouteTree` compiles a route tree once per config: every node's inherited
  settings and id are resolved in one walk, which also serves :meth:`RouteTree.all`.
  :meth:`RouteTree.match` walks it depth-first: a matching node descends into its
  children; the first matching child wins unless it has ``continue: true``; a node
  none of whose children match is itself the match. Children inherit the receiver,
  ``group_by`` and timers they leave unset.
- :func:`group_key` is Alertmanager's: the route's matcher path, then the group labels,
  ``{}/{severity="critical"}:{alertname="X", model="m"}``.
- :class:`Inhibitor`: a firing source alert mutes a target sharing its ``equal`` labels;
  an alert matching both sides cannot inhibit itself (nor one that also matches both).
  Built once per flush over the firing alerts, so each target costs a dict look-up per
  rule instead of a scan of every firing alert.
- :func:`silenced`: matcher-based mutes active on ``[starts_at, ends_at)``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
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


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _own(route: Route) -> str:
    """What a route sets itself, canonically: everything but its children. Timers and
    ``continue`` are in it so that siblings differing only in those get distinct ids."""
    return json.dumps(
        {
            "matchers": sorted(m.text for m in route.parsed_matchers),
            "receiver": route.receiver,
            "group_by": route.group_by,
            "group_wait": _seconds(route.group_wait),
            "group_interval": _seconds(route.group_interval),
            "repeat_interval": _seconds(route.repeat_interval),
            "continue": route.continue_,
        },
        sort_keys=True,
    )


def _route_id(own: str, parent_id: str, twin: int) -> str:
    """The parent's id, the route's own settings and, for identical siblings, which of
    them it is (0 for the first). Not its position: inserting a different sibling
    before it leaves its id, and so its groups, as they are."""
    text = json.dumps({"parent": parent_id, "own": own, "twin": twin})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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


@dataclass(frozen=True)
class _Node:
    matchers: tuple[Matcher, ...]
    continue_: bool
    match: RouteMatch
    children: tuple[_Node, ...]


class RouteTree:
    """A route tree compiled once (per applied config): ids, inherited settings and
    matcher paths are computed here, so routing an alert only evaluates matchers."""

    def __init__(self, root: Route) -> None:
        if root.receiver is None:
            raise ValueError("route.receiver=None: the root route needs a receiver")
        self._all: list[RouteMatch] = []  # depth-first, parents before children
        base = _Settings(root.receiver, (), GROUP_WAIT, GROUP_INTERVAL, REPEAT_INTERVAL)
        root_id = _route_id(_own(root), "", 0)
        self._root = self._compile(
            root, _inherit(root, base), root_id, format_matchers(root.parsed_matchers)
        )
        self._by_id = {m.route_id: m for m in self._all}

    def _compile(self, route: Route, settings: _Settings, route_id: str, key: str) -> _Node:
        match = _resolved(settings, route_id, key)
        self._all.append(match)
        children = []
        seen: Counter[str] = Counter()
        for child in route.routes:
            own = _own(child)
            child_id = _route_id(own, route_id, seen[own])
            seen[own] += 1
            child_key = f"{key}/{format_matchers(child.parsed_matchers)}"
            children.append(self._compile(child, _inherit(child, settings), child_id, child_key))
        return _Node(tuple(route.parsed_matchers), route.continue_, match, tuple(children))

    def match(self, labels: Mapping[str, str]) -> list[RouteMatch]:
        """The routes (receivers with their grouping) an alert with ``labels`` goes to."""
        return _walk(self._root, labels)

    @property
    def root(self) -> RouteMatch:
        """The root route, resolved (the fallback for a group whose route is gone)."""
        return self._all[0]

    def all(self) -> list[RouteMatch]:
        """Every node with its resolved settings, depth-first."""
        return list(self._all)

    def by_id(self, route_id: str) -> RouteMatch | None:
        """The node with ``route_id`` (a group's route when none of its alerts is left to
        route), or None when the route left the config."""
        return self._by_id.get(route_id)


def _walk(node: _Node, labels: Mapping[str, str]) -> list[RouteMatch]:
    out: list[RouteMatch] = []
    for child in node.children:
        if not matches(child.matchers, labels):
            continue
        out.extend(_walk(child, labels))
        if not child.continue_:
            break
    return out or [node.match]


# Kept for monitor/alerting/groups.py until it builds a RouteTree once per pass; delete
# them then. The last tree is reused while the same (frozen) root is passed, so they
# compile once per config, not once per alert. The strong reference keeps id() unique.


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


_EqualValues = tuple[str, ...]


class Inhibitor:
    """The inhibit rules indexed over the alerts firing now (build one per flush).

    Per rule, the fingerprints of firing source alerts by the values of the rule's
    ``equal`` labels (a missing label is ``""``), kept apart by whether the source also
    matches the target side: Alertmanager does not let such an alert inhibit a target
    that matches the source side too, so an alert never inhibits itself.
    """

    def __init__(
        self,
        rules: Sequence[InhibitRule],
        firing: Iterable[tuple[str, Mapping[str, str]]],
    ) -> None:
        self._rules = list(rules)
        # Per rule: equal values -> fingerprints of sources matching the source side
        # only, and of those matching both sides.
        self._one_sided: list[defaultdict[_EqualValues, set[str]]] = [
            defaultdict(set) for _ in self._rules
        ]
        self._two_sided: list[defaultdict[_EqualValues, set[str]]] = [
            defaultdict(set) for _ in self._rules
        ]
        for fp, labels in firing:
            for i, rule in enumerate(self._rules):
                if not matches(rule.parsed_source, labels):
                    continue
                index = self._two_sided if matches(rule.parsed_target, labels) else self._one_sided
                index[i][_equal_values(rule, labels)].add(fp)

    def inhibited(self, fingerprint: str, labels: Mapping[str, str]) -> bool:
        """Whether a firing source alert other than ``fingerprint`` mutes this alert."""
        for i, rule in enumerate(self._rules):
            if not matches(rule.parsed_target, labels):
                continue
            values = _equal_values(rule, labels)
            sources = [self._one_sided[i].get(values, set())]
            if not matches(rule.parsed_source, labels):
                sources.append(self._two_sided[i].get(values, set()))
            if any(fp != fingerprint for fps in sources for fp in fps):
                return True
        return False


def _equal_values(rule: InhibitRule, labels: Mapping[str, str]) -> _EqualValues:
    return tuple(labels.get(name, "") for name in rule.equal)


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
