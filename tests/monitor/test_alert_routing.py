"""Alertmanager routing: the route tree, inheritance, group keys, inhibition, silences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.alerting.matchers import parse_matchers
from monitor.alerting.routing import (
    RouteMatch,
    all_routes,
    group_key,
    group_labels,
    inhibited,
    match_routes,
    silenced,
)
from monitor.alerting.rules import InhibitRule, Route

TREE: dict[str, Any] = {
    "receiver": "ml-slack",
    "group_by": ["alertname", "model"],
    "group_wait": "10s",
    "routes": [
        {"matchers": ['severity="critical"'], "receiver": "oncall", "continue": True},
        {
            "matchers": ['team="risk"'],
            "receiver": "risk",
            "group_interval": "10m",
            "routes": [
                {"matchers": ['signal="performance"'], "receiver": "risk-perf"},
                {"matchers": ['signal=~"data_drift|skew"'], "group_by": ["..."]},
            ],
        },
        {"matchers": ['team=~"risk|fraud"'], "receiver": "fraud"},
        {"matchers": ['signal="data_quality"'], "receiver": "audit", "repeat_interval": "12m"},
    ],
}


def route(tree: dict[str, Any] = TREE) -> Route:
    return Route.model_validate(tree)


def receivers(labels: dict[str, str], tree: dict[str, Any] = TREE) -> list[str]:
    return [m.receiver for m in match_routes(route(tree), labels)]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"alertname": "X"}, ["ml-slack"]),  # no child matches: the root itself
        # continue lets later siblings match too; the root is the match only when no
        # child matched, so it is not added after oncall
        ({"severity": "critical"}, ["oncall"]),
        ({"team": "risk"}, ["risk"]),  # a node none of whose children match
        ({"team": "risk", "signal": "performance"}, ["risk-perf"]),
        ({"team": "risk", "signal": "skew"}, ["risk"]),  # inherited receiver
        ({"team": "fraud"}, ["fraud"]),
        # first matching child wins: risk stops the walk before the fraud route
        ({"team": "risk", "severity": "critical"}, ["oncall", "risk"]),
        ({"signal": "data_quality", "severity": "critical"}, ["oncall", "audit"]),
    ],
)
def test_match_routes(labels: dict[str, str], expected: list[str]) -> None:
    assert receivers(labels) == expected


def test_children_inherit_receiver_group_by_and_timers() -> None:
    [perf] = match_routes(route(), {"team": "risk", "signal": "performance"})
    assert (perf.receiver, perf.group_by) == ("risk-perf", ("alertname", "model"))
    assert (perf.group_wait, perf.group_interval, perf.repeat_interval) == (
        timedelta(seconds=10),  # the root's
        timedelta(minutes=10),  # the parent's
        timedelta(hours=4),  # Alertmanager's default, never set
    )
    [drift] = match_routes(route(), {"team": "risk", "signal": "skew"})
    assert (drift.receiver, drift.group_by) == ("risk", None)  # '...': every label
    [root] = match_routes(route({"receiver": "r"}), {})
    assert (root.group_by, root.group_wait, root.group_interval, root.repeat_interval) == (
        (),
        timedelta(seconds=30),
        timedelta(minutes=5),
        timedelta(hours=4),
    )


def test_repeat_interval_is_rounded_up_to_a_multiple_of_group_interval() -> None:
    [audit] = match_routes(route(), {"signal": "data_quality"})
    assert (audit.group_interval, audit.repeat_interval) == (
        timedelta(minutes=5),
        timedelta(minutes=15),
    )


LABELS = {"alertname": "Drift", "model": "churn", "version": "v2", "severity": "critical"}


def test_group_labels_and_key() -> None:
    oncall, *_ = match_routes(route(), LABELS)
    assert group_labels(oncall, LABELS) == {"alertname": "Drift", "model": "churn"}
    assert group_key(oncall, LABELS) == (
        '{}/{severity="critical"}:{alertname="Drift", model="churn"}'
    )
    [root] = match_routes(route(), {"alertname": "Drift"})
    assert group_key(root, {"alertname": "Drift"}) == '{}:{alertname="Drift"}'  # no model
    nested = {"team": "risk", "signal": "skew", "model": 'a"b'}
    [drift] = match_routes(route(), nested)
    assert group_labels(drift, nested) == nested
    assert group_key(drift, nested) == (
        '{}/{team="risk"}/{signal=~"data_drift|skew"}:{model="a\\"b", signal="skew", team="risk"}'
    )


def test_route_ids_are_stable_and_distinct() -> None:
    def ids(tree: dict[str, Any], labels: dict[str, str]) -> list[str]:
        return [m.route_id for m in match_routes(route(tree), labels)]

    perf = {"team": "risk", "signal": "performance"}
    assert ids(TREE, perf) == ids(TREE, perf)
    # A route inserted before it does not change its id (a path like 0.1.0 would).
    inserted = {**TREE, "routes": [{"matchers": ['x="y"'], "receiver": "r"}, *TREE["routes"]]}
    assert ids(inserted, perf) == ids(TREE, perf)
    # Its parent changing does.
    parent = {**TREE["routes"][1], "matchers": ['team=~"risk"']}
    changed = {**TREE, "routes": [TREE["routes"][0], parent, *TREE["routes"][2:]]}
    assert ids(changed, perf) != ids(TREE, perf)
    every = [
        m.route_id
        for labels in ({}, {"severity": "critical"}, {"team": "risk"}, perf, {"team": "fraud"})
        for m in match_routes(route(), labels)
    ]
    assert len(set(every)) == 5


def test_all_routes_lists_every_node_as_match_routes_resolves_it() -> None:
    tree = route()
    every = all_routes(tree)
    assert [m.receiver for m in every] == [
        "ml-slack",
        "oncall",
        "risk",
        "risk-perf",
        "risk",
        "fraud",
        "audit",
    ]
    by_id = {m.route_id: m for m in every}
    for labels in ({}, {"team": "risk", "signal": "skew"}, {"signal": "data_quality"}):
        for m in match_routes(tree, labels):
            assert by_id[m.route_id] == m


def test_route_match_is_plain_data() -> None:
    [m] = match_routes(route(), {})
    assert isinstance(m, RouteMatch)
    assert m.key == "{}"


# --- inhibition ----------------------------------------------------------------------

QUALITY_MUTES_DRIFT = InhibitRule.model_validate(
    {
        "source_matchers": ['alertname="DataQuality"'],
        "target_matchers": ['signal=~"data_drift|skew"'],
        "equal": ["model", "version"],
    }
)
DRIFT = {"alertname": "FeatureDrift", "signal": "data_drift", "model": "churn", "version": "v2"}
QUALITY = {"alertname": "DataQuality", "signal": "data_quality", "model": "churn", "version": "v2"}


@pytest.mark.parametrize(
    ("target", "firing", "muted"),
    [
        (DRIFT, [QUALITY], True),
        (DRIFT, [], False),
        (DRIFT, [{**QUALITY, "version": "v3"}], False),  # equal labels differ
        (DRIFT, [{**QUALITY, "alertname": "Other"}], False),  # not a source
        (QUALITY, [QUALITY], False),  # not a target
        ({**DRIFT, "signal": "performance"}, [QUALITY], False),
        # equal labels missing on both sides are equal ("" == "")
        (
            {"alertname": "X", "signal": "skew"},
            [{"alertname": "DataQuality"}],
            True,
        ),
        ({"alertname": "X", "signal": "skew"}, [{"alertname": "DataQuality", "model": "m"}], False),
    ],
)
def test_inhibited(target: dict[str, str], firing: list[dict[str, str]], muted: bool) -> None:
    assert inhibited(target, firing, [QUALITY_MUTES_DRIFT]) is muted


def test_an_alert_matching_both_sides_does_not_inhibit_itself() -> None:
    rule = InhibitRule.model_validate(
        {"source_matchers": ['severity="critical"'], "target_matchers": ['model="churn"']}
    )
    both = {"alertname": "A", "severity": "critical", "model": "churn"}
    assert not inhibited(both, [both], [rule])
    # Another alert matching both sides does not inhibit it either (Alertmanager) ...
    assert not inhibited(both, [{**both, "alertname": "B"}], [rule])
    # ... one matching the source side only does.
    assert inhibited(both, [{"alertname": "C", "severity": "critical"}], [rule])
    # An alert on the target side only is inhibited by one matching both.
    assert inhibited({"alertname": "D", "model": "churn"}, [both], [rule])


# --- silences ------------------------------------------------------------------------

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("matchers", "starts_at", "ends_at", "muted"),
    [
        (['model="churn"'], NOW - HOUR, NOW + HOUR, True),
        (['model="churn"', 'signal="data_drift"'], NOW - HOUR, NOW + HOUR, True),
        (['model="churn"', 'signal="skew"'], NOW - HOUR, NOW + HOUR, False),
        (['model=~"ch.*"'], NOW, NOW + HOUR, True),  # starts_at inclusive
        (['model="churn"'], NOW - HOUR, NOW, False),  # ends_at exclusive: expired
        (['model="churn"'], NOW + HOUR, NOW + 2 * HOUR, False),  # not started
        ([], NOW - HOUR, NOW + HOUR, False),  # no matchers: matches nothing
    ],
)
def test_silenced(matchers: list[str], starts_at: datetime, ends_at: datetime, muted: bool) -> None:
    assert silenced(DRIFT, [(matchers, starts_at, ends_at)], NOW) is muted


def test_silences_take_parsed_matchers_and_any_of_several() -> None:
    expired = (parse_matchers('model="churn"'), NOW - 2 * HOUR, NOW - HOUR)
    active = (parse_matchers('version="v2"'), NOW - HOUR, NOW + HOUR)
    assert silenced(DRIFT, [expired, active], NOW)
    assert not silenced(DRIFT, [expired], NOW)
