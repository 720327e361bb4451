"""The alerting config file: models, ${VAR} expansion, errors naming path and value,
and the receivers' reachability check against real local sockets."""

from __future__ import annotations

import copy
import socket
from datetime import timedelta
from typing import Any

import pytest
import yaml

from monitor.alerting.evaluate import Hold
from monitor.alerting.reachability import reachability_problems
from monitor.alerting.rules import (
    PAGERDUTY_URL,
    AlertingConfig,
    ConfigError,
    PagerDutyReceiver,
    RetrainReceiver,
    load_config,
)
from monitor.demo.receiver import RecordingReceiver

KEY = "0123456789abcdef0123456789abcdef"
ENV = {"PD_KEY": KEY, "HOOK_SECRET": "s3cret", "SLACK_PATH": "T0/B0/XYZ"}

EXAMPLE = """
version: 1
receivers:
  - {name: ml-slack, type: slack, url: "https://hooks.slack.com/services/${SLACK_PATH}"}
  - {name: oncall, type: pagerduty, routing_key: "${PD_KEY}"}
  - {name: audit, type: webhook, url: "http://127.0.0.1:8080/hook", secret: "${HOOK_SECRET}"}
  - name: retrain
    type: retrain
    url: https://ml.example.com/retrain
    policy: {cooldown: 24h, max_triggers: 2, per: 7d, min_labelled_rows: 1000,
             labelled_within: 30d, require_signals: [data_drift]}
route:
  receiver: ml-slack
  group_by: [alertname, model]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - {matchers: ['severity="critical"'], receiver: oncall, continue: true}
    - matchers: ['alertname="DatasetDrift"']
      receiver: retrain
      routes:
        - {matchers: ['model="churn"'], receiver: audit, group_wait: 0s}
inhibit_rules:
  - source_matchers: ['alertname="DataQuality"']
    target_matchers: ['signal=~"data_drift|skew"']
    equal: [model, version]
groups:
  - name: drift
    rules:
      - alert: DatasetDrift
        matchers: ['signal="data_drift"', 'metric="drift_share"']
        condition: value >= 0.3
        for: 2
        keep_firing_for: 1
        labels: {severity: warning}
        annotations: {summary: "{model} drifted: share {value}", runbook_url: "https://x/rb"}
  - name: performance
    rules:
      - alert: AccuracyDrop
        matchers: ['{signal="performance", metric=~"accuracy|f1"}']
        condition: drop > 0.05 and label_coverage >= 0.2
        for: 2h
        keep_firing_for: 0s
        labels: {severity: critical}
"""


def base() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE)
    assert isinstance(data, dict)
    return data


def load(data: dict[str, Any] | str, env: dict[str, str] | None = None) -> AlertingConfig:
    text = data if isinstance(data, str) else yaml.safe_dump(data)
    return load_config(text, "rules.yaml", ENV if env is None else env)


def test_the_example_loads() -> None:
    config = load(EXAMPLE)
    slack, pagerduty, webhook, retrain = config.receivers
    assert slack.url == "https://hooks.slack.com/services/T0/B0/XYZ"  # expanded
    assert isinstance(pagerduty, PagerDutyReceiver)
    assert (pagerduty.routing_key, pagerduty.url, pagerduty.severity) == (
        KEY,
        PAGERDUTY_URL,
        "error",
    )
    # Alertmanager's default; a retrain receiver has no resolved notifications.
    assert all(r.send_resolved for r in config.receivers if not isinstance(r, RetrainReceiver))
    assert isinstance(retrain, RetrainReceiver)
    assert (retrain.policy.cooldown, retrain.policy.cooldown_delta) == ("24h", timedelta(hours=24))
    assert retrain.policy.per_delta == timedelta(days=7)
    assert retrain.policy.labelled_within_delta == timedelta(days=30)
    assert retrain.policy.require_signals == ["data_drift"]
    assert webhook.type == "webhook"
    [(group, drift), (_, accuracy)] = config.rules()
    assert (group, drift.alert, drift.hold, drift.keep) == (
        "drift",
        "DatasetDrift",
        Hold(2),
        Hold(1),
    )
    assert accuracy.hold == Hold(duration=timedelta(hours=2))
    assert accuracy.keep == Hold(duration=timedelta(0))
    assert accuracy.parsed_condition.names == {"drop", "label_coverage"}
    assert [m.name for m in accuracy.parsed_matchers] == ["signal", "metric"]
    assert config.receiver("audit") is webhook
    assert config.route.routes[1].routes[0].group_wait == timedelta(0)


def test_json_round_trip_keeps_durations_as_text() -> None:
    config = load(EXAMPLE)
    dumped = config.model_dump(mode="json", by_alias=True)
    assert dumped["route"]["repeat_interval"] == "4h"
    assert dumped["receivers"][3]["policy"]["per"] == "7d"
    assert dumped["groups"][0]["rules"][0]["for"] == 2
    assert AlertingConfig.model_validate(dumped) == config


def test_minimal_config() -> None:
    config = load(
        "version: 1\nreceivers: [{name: r, type: webhook, url: 'http://localhost/x'}]\n"
        "route: {receiver: r}\n",
        env={},
    )
    assert (config.groups, config.inhibit_rules, config.route.routes) == ([], [], [])


def mutated(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(base())
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = data
    for key in parents:
        node = node[key]
    node[last] = value
    return data


BAD: list[tuple[str, Any, str]] = [
    # path, value, in the message after "path=value: "
    ("version", 2, "Input should be 1"),
    ("receivers.2.url", "ftp://x.example/hook", "http:// or https://"),
    ("receivers.2.url", "http:///no-host", "with a host"),
    ("receivers.2.url", "not a url", "http:// or https://"),
    ("receivers.2.url", "http://127.0.0.1:99999/x", "not a URL"),
    ("receivers.0.url", "hooks.slack.com/services/x", "http:// or https://"),
    ("receivers.1.severity", "page", "'critical', 'error', 'warning' or 'info'"),
    ("receivers.1.client_url", "nope", "http:// or https://"),
    ("receivers.2.send_resolved", "maybe", "valid boolean"),
    ("receivers.2.type", "email", "expected one of webhook, slack, pagerduty, retrain"),
    ("receivers.2.name", "has space", "should match pattern"),
    ("receivers.2.colour", "red", "unknown field"),
    ("receivers.3.policy.cooldown", "1 day", "not a duration"),
    ("receivers.3.policy.max_triggers", 0, "greater than or equal to 1"),
    ("route.group_wait", "soon", "not a duration"),
    ("route.group_interval", "0s", "longer than 0"),
    ("route.group_by", ["...", "model"], "'...' (group by all labels) must be the only entry"),
    ("route.group_by", ["model", "model"], "listed twice"),
    ("route.routes.0.matchers.0", 'severity=="x"', "unexpected text"),
    ("route.routes.0.continue", "perhaps", "valid boolean"),
    ("inhibit_rules.0.equal.0", "model-id", "not a label name"),
    ("inhibit_rules.0.target_matchers", [], "at least 1 item"),
    ("groups.0.rules.0.condition", "value >> 3", "expected a clause like 'value >= 0.3'"),
    ("groups.0.rules.0.condition", "feature > 3", "a label, not a number"),
    ("groups.0.rules.0.matchers.1", 'metric=~"("', "not a regular expression"),
    ("groups.0.rules.0.for", -1, "must be 0 or more"),
    ("groups.0.rules.0.for", "2 hours", "not a duration"),
    ("groups.0.rules.0.keep_firing_for", 1.5, "number of windows or a duration"),
    ("groups.0.rules.0.alert", "Dataset-Drift", "should match pattern"),
    ("groups.0.rules.0.labels", {"model": "x"}, "'model' is a sample label"),
    ("groups.0.rules.0.labels", {"alertname": "x"}, "'alertname' is a sample label"),
    ("groups.0.rules.0.labels", {"bad-name": "x"}, "not a label name"),
    ("groups.0.rules.0.scope", "run", "unknown field"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD, ids=[f"{p}={v!r}" for p, v, _ in BAD])
def test_errors_name_the_path_and_the_value(path: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(mutated(path, value))
    assert f"rules.yaml: {path}={value!r}: " in str(err.value)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("path", "value", "line"),
    [
        (
            "route.routes.1.routes.0.receiver",
            "nobody",
            "rules.yaml: route.routes.1.routes.0.receiver='nobody': no such receiver "
            "(receivers: audit, ml-slack, oncall, retrain)",
        ),
        ("route.receiver", "nobody", "rules.yaml: route.receiver='nobody': no such receiver"),
        (
            "receivers.2.name",
            "oncall",
            "rules.yaml: receivers.2.name='oncall': already the name of receivers.1",
        ),
        (
            "groups.1.rules.0.alert",
            "DatasetDrift",
            "rules.yaml: groups.1.rules.0.alert='DatasetDrift': already the name of "
            "groups.0.rules.0 (rule names are unique across groups)",
        ),
        (
            "groups.1.name",
            "drift",
            "rules.yaml: groups.1.name='drift': already the name of groups.0",
        ),
        (
            "route.matchers",
            ['model="churn"'],
            "rules.yaml: route.matchers=['model=\"churn\"']: the root route takes every alert",
        ),
        ("route.continue", True, "rules.yaml: route.continue=True: the root route cannot continue"),
    ],
)
def test_cross_references(path: str, value: Any, line: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(mutated(path, value))
    assert line in str(err.value)


def test_the_root_route_needs_a_receiver() -> None:
    data = base()
    del data["route"]["receiver"]
    with pytest.raises(ConfigError, match=r"route.receiver=None: the root route needs a receiver"):
        load(data)


def test_missing_fields_are_named() -> None:
    data = base()
    del data["groups"][0]["rules"][0]["condition"]
    del data["receivers"][1]["routing_key"]
    with pytest.raises(ConfigError) as err:
        load(data)
    assert err.value.problems == [
        "receivers.1.routing_key: required",
        "groups.0.rules.0.condition: required",
    ]


def test_env_expansion() -> None:
    config = load(EXAMPLE)
    assert config.receivers[2].secret == "s3cret"  # type: ignore[union-attr]
    with pytest.raises(ConfigError) as err:
        load(EXAMPLE, env={"PD_KEY": KEY})
    assert err.value.problems == [
        "receivers.0.url='https://hooks.slack.com/services/${SLACK_PATH}': "
        "environment variable SLACK_PATH is not set",
        "receivers.2.secret='${HOOK_SECRET}': environment variable HOOK_SECRET is not set",
    ]
    # Only receiver settings are expanded: a rule annotation keeps its text.
    data = mutated("groups.0.rules.0.annotations", {"summary": "cost ${COST}"})
    assert load(data).groups[0].rules[0].annotations == {"summary": "cost ${COST}"}


def test_secrets_are_not_echoed() -> None:
    with pytest.raises(ConfigError) as err:
        load(EXAMPLE, env={**ENV, "PD_KEY": "short-key"})
    # The value is shown as written (${PD_KEY}), never expanded.
    assert str(err.value) == (
        "rules.yaml: receivers.1.routing_key='${PD_KEY}': a PagerDuty integration key "
        "has 32 characters, this one 9"
    )
    with pytest.raises(ConfigError) as err:
        load(mutated("receivers.1.routing_key", "written-in-the-file"))
    assert "written-in-the-file" not in str(err.value)
    assert "receivers.1.routing_key=<19 characters, not shown>" in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: [1", "rules.yaml: not valid YAML"),
        ("- 1\n- 2", "rules.yaml: expected a mapping"),
        ("", "rules.yaml: expected a mapping"),
    ],
)
def test_not_a_config(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(text)


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^rules\.yaml: version=2: "):
        load("version: 2")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


def test_reachability() -> None:
    with RecordingReceiver() as receiver:
        text = f"""
version: 1
receivers:
  - {{name: up, type: webhook, url: "{receiver.url}"}}
  - {{name: down, type: slack, url: "http://127.0.0.1:{closed_port()}/services/SECRET"}}
route: {{receiver: up}}
"""
        problems = reachability_problems(load(text, env={}))
        assert receiver.requests == []  # a TCP connect only, no request
    [problem] = problems
    assert problem.startswith("receivers.1.url=http://127.0.0.1:")
    assert problem.endswith(": connection refused")
    assert "SECRET" not in problem
