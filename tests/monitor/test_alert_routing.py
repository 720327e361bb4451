"""Alertmanager routing: the route tree, inheritance, group keys, inhibition, silences."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.alerting.evaluate import fingerprint
from monitor.alerting.matchers import matches, parse_matchers
from monitor.alerting.routing import (
    Inhibitor,
    RouteMatch,
    RouteTree,
    group_key,
    group_labels,
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


def compiled(tree: dict[str, Any] = TREE) -> RouteTree:
    return RouteTree(route(tree))


def match_routes_of(tree: dict[str, Any], labels: dict[str, str]) -> list[RouteMatch]:
    return compiled(tree).match(labels)


def receivers(labels: dict[str, str], tree: dict[str, Any] = TREE) -> list[str]:
    return [m.receiver for m in match_routes_of(tree, labels)]


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
    [perf] = match_routes_of(TREE, {"team": "risk", "signal": "performance"})
    assert (perf.receiver, perf.group_by) == ("risk-perf", ("alertname", "model"))
    assert (perf.group_wait, perf.group_interval, perf.repeat_interval) == (
        timedelta(seconds=10),  # the root's
        timedelta(minutes=10),  # the parent's
        timedelta(hours=4),  # Alertmanager's default, never set
    )
    [drift] = match_routes_of(TREE, {"team": "risk", "signal": "skew"})
    assert (drift.receiver, drift.group_by) == ("risk", None)  # '...': every label
    [root] = match_routes_of({"receiver": "r"}, {})
    assert (root.group_by, root.group_wait, root.group_interval, root.repeat_interval) == (
        (),
        timedelta(seconds=30),
        timedelta(minutes=5),
        timedelta(hours=4),
    )


def test_repeat_interval_is_rounded_up_to_a_multiple_of_group_interval() -> None:
    [audit] = match_routes_of(TREE, {"signal": "data_quality"})
    assert (audit.group_interval, audit.repeat_interval) == (
        timedelta(minutes=5),
        timedelta(minutes=15),
    )


LABELS = {"alertname": "Drift", "model": "churn", "version": "v2", "severity": "critical"}


def test_group_labels_and_key() -> None:
    oncall, *_ = match_routes_of(TREE, LABELS)
    assert group_labels(oncall, LABELS) == {"alertname": "Drift", "model": "churn"}
    assert group_key(oncall, LABELS) == (
        '{}/{severity="critical"}:{alertname="Drift", model="churn"}'
    )
    [root] = match_routes_of(TREE, {"alertname": "Drift"})
    assert group_key(root, {"alertname": "Drift"}) == '{}:{alertname="Drift"}'  # no model
    nested = {"team": "risk", "signal": "skew", "model": 'a"b'}
    [drift] = match_routes_of(TREE, nested)
    assert group_labels(drift, nested) == nested
    assert group_key(drift, nested) == (
        '{}/{team="risk"}/{signal=~"data_drift|skew"}:{model="a\\"b", signal="skew", team="risk"}'
    )


def test_route_ids_are_stable_and_distinct() -> None:
    def ids(tree: dict[str, Any], labels: dict[str, str]) -> list[str]:
        return [m.route_id for m in match_routes_of(tree, labels)]

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
        for m in match_routes_of(TREE, labels)
    ]
    assert len(set(every)) == 5
    assert len({m.route_id for m in compiled().all()}) == 7


SIBLING = {"matchers": ['team="risk"'], "receiver": "risk"}


@pytest.mark.parametrize(
    "differs",
    [
        {"group_wait": "0s"},  # 0s is set, not the parent's
        {"group_wait": "1m"},
        {"group_interval": "10m"},
        {"repeat_interval": "1h"},
        {"continue": True},
        {},  # identical twins: told apart by their order among equal siblings
    ],
)
def test_siblings_differing_only_in_timers_or_continue_get_distinct_ids(
    differs: dict[str, Any],
) -> None:
    tree = compiled({"receiver": "r", "routes": [SIBLING, {**SIBLING, **differs}]})
    _, first, second = tree.all()
    assert first.route_id != second.route_id
    assert tree.by_id(first.route_id) == first
    assert tree.by_id(second.route_id) == second


def test_a_twin_inserted_before_a_route_is_the_only_change_that_moves_its_id() -> None:
    def ids(*children: dict[str, Any]) -> list[str]:
        return [m.route_id for m in compiled({"receiver": "r", "routes": list(children)}).all()]

    other = {"matchers": ['team="fraud"'], "receiver": "fraud"}
    _, risk = ids(SIBLING)
    assert ids(other, SIBLING)[2] == risk  # a different sibling before it
    assert ids(SIBLING, {**SIBLING, "group_wait": "1m"})[1] == risk  # a near-twin after it
    assert ids(SIBLING, SIBLING)[1] == risk  # the first of two twins keeps it


def test_all_lists_every_node_as_match_resolves_it() -> None:
    tree = compiled()
    every = tree.all()
    assert [m.receiver for m in every] == [
        "ml-slack",
        "oncall",
        "risk",
        "risk-perf",
        "risk",
        "fraud",
        "audit",
    ]
    for labels in ({}, {"team": "risk", "signal": "skew"}, {"signal": "data_quality"}):
        for m in tree.match(labels):
            assert tree.by_id(m.route_id) is m  # the same compiled object
    assert tree.by_id("0" * 16) is None  # a route that left the config
    assert tree.root is every[0]
    assert tree.root.key == "{}"
    every.clear()  # a copy: the tree's own list is untouched
    assert len(tree.all()) == 7


def test_the_root_needs_a_receiver() -> None:
    with pytest.raises(ValueError, match=r"route\.receiver=None"):
        RouteTree(route({"routes": [SIBLING]}))


def test_route_match_is_plain_data() -> None:
    [m] = match_routes_of(TREE, {})
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
CRITICAL_MUTES_CHURN = InhibitRule.model_validate(
    {"source_matchers": ['severity="critical"'], "target_matchers": ['model="churn"']}
)


def mutes(
    target: Mapping[str, str],
    firing: Sequence[Mapping[str, str]],
    rules: Sequence[InhibitRule] = (QUALITY_MUTES_DRIFT,),
) -> bool:
    inhibitor = Inhibitor(rules, [(fingerprint(f), f) for f in firing])
    return inhibitor.inhibited(fingerprint(target), target)


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
    assert mutes(target, firing) is muted


BOTH = {"alertname": "A", "severity": "critical", "model": "churn"}


@pytest.mark.parametrize(
    ("target", "firing", "muted"),
    [
        (BOTH, [BOTH], False),  # itself
        # Another alert matching both sides does not inhibit it either (Alertmanager) ...
        (BOTH, [{**BOTH, "alertname": "B"}], False),
        # ... one matching the source side only does.
        (BOTH, [{"alertname": "C", "severity": "critical"}], True),
        # An alert on the target side only is inhibited by one matching both.
        ({"alertname": "D", "model": "churn"}, [BOTH], True),
    ],
)
def test_an_alert_matching_both_sides_does_not_inhibit_itself(
    target: dict[str, str], firing: list[dict[str, str]], muted: bool
) -> None:
    assert mutes(target, firing, [CRITICAL_MUTES_CHURN]) is muted


def test_any_of_several_rules_mutes() -> None:
    firing = [QUALITY, {"alertname": "C", "severity": "critical"}]
    rules = [QUALITY_MUTES_DRIFT, CRITICAL_MUTES_CHURN]
    assert mutes({"alertname": "E", "model": "churn"}, firing, rules)  # the second rule
    assert mutes(DRIFT, firing, rules)  # the first rule
    assert not mutes({"alertname": "E", "model": "fraud"}, firing, rules)


def pairwise(
    target: Mapping[str, str], firing: Sequence[Mapping[str, str]], rules: Sequence[InhibitRule]
) -> bool:
    """Alertmanager's rule, one target against every firing alert (the old scan)."""
    for rule in rules:
        if not matches(rule.parsed_target, target):
            continue
        two_sided = matches(rule.parsed_source, target)
        for source in firing:
            if not matches(rule.parsed_source, source):
                continue
            if two_sided and matches(rule.parsed_target, source):
                continue
            if all(source.get(name, "") == target.get(name, "") for name in rule.equal):
                return True
    return False


def random_alert(rng: random.Random, i: int) -> dict[str, str]:
    labels = {
        "alertname": rng.choice(["FeatureDrift", "DataQuality", "Latency"]),
        "signal": rng.choice(["data_drift", "skew", "data_quality", "performance"]),
        "model": f"m{rng.randrange(50)}",
        "feature": f"f{i}",  # every alert distinct
    }
    if rng.random() < 0.7:
        labels["version"] = f"v{rng.randrange(3)}"  # sometimes missing: ""
    if rng.random() < 0.3:
        labels["severity"] = "critical"
    if rng.random() < 0.3:
        labels["model"] = "churn"
    return labels


def test_the_index_agrees_with_the_pairwise_scan() -> None:
    rng = random.Random(7)
    alerts = [random_alert(rng, i) for i in range(400)]
    rules = [QUALITY_MUTES_DRIFT, CRITICAL_MUTES_CHURN]
    firing = alerts[:300]  # the last 100 are targets that do not fire
    inhibitor = Inhibitor(rules, [(fingerprint(a), a) for a in firing])
    got = [inhibitor.inhibited(fingerprint(a), a) for a in alerts]
    assert got == [pairwise(a, firing, rules) for a in alerts]
    assert 0 < sum(got) < len(got)  # both outcomes exercised


def test_inhibition_at_scale() -> None:
    """10k firing alerts, 1k targets: the pairwise scan took about a minute."""
    rng = random.Random(11)
    firing = [random_alert(rng, i) for i in range(10_000)]
    firing_fps = [(fingerprint(a), a) for a in firing]
    targets = firing_fps[:1_000]
    rules = [QUALITY_MUTES_DRIFT, CRITICAL_MUTES_CHURN]
    started = time.perf_counter()
    inhibitor = Inhibitor(rules, firing_fps)
    muted = sum(inhibitor.inhibited(fp, labels) for fp, labels in targets)
    seconds = time.perf_counter() - started
    print(f"inhibition: 10,000 firing x 1,000 targets in {seconds:.3f}s ({muted} muted)")
    assert 0 < muted < len(targets)
    assert seconds < 5


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
