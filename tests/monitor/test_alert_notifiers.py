"""Notifiers against real local HTTP receivers: the v4 payload, the signed webhook,
retrain, Slack Block Kit and PagerDuty Events v2, field by field."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.alerting.notifiers import NOTIFIERS, cut, notify
from monitor.alerting.notifiers.pagerduty import SEVERITY_ALIASES
from monitor.alerting.notifiers.slack import MAX_ALERTS, SECTION_CHARS
from monitor.alerting.notifiers.webhook import (
    SIGNATURE_HEADER,
    VERSION_HEADER,
    encode,
    sign,
    verify_signature,
)
from monitor.alerting.payload import ZERO_TIME, AlertView, alertmanager_v4
from monitor.alerting.rules import ConfigError, load_config
from monitor.demo.receiver import RecordingReceiver

SECRET = "s3cret"
T0 = datetime(2025, 3, 1, 10, tzinfo=UTC)
EXTERNAL = "https://driftwarden.example.com"
RUNBOOK = "https://wiki.example.com/drift"
GROUP_KEY = '{}:{alertname="FeatureDrift", model="credit"}'
DOCS = Path(__file__).parents[2] / "docs" / "alerting.md"


def alert(
    feature: str = "income",
    *,
    status: str = "firing",
    severity: str = "warning",
    **evidence: Any,
) -> AlertView:
    labels = {
        "alertname": "FeatureDrift",
        "model": "credit",
        "version": "3",
        "signal": "data_drift",
        "metric": "psi",
        "severity": severity,
    }
    if feature:
        labels["feature"] = feature
    return AlertView(
        status=status,
        labels=labels,
        annotations={
            "summary": f"{feature or 'dataset'} of credit drifted",
            "runbook_url": RUNBOOK,
        },
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2) if status == "resolved" else None,
        fingerprint=f"fp-{feature}",
        generator_url=f"{EXTERNAL}/runs/7",
        evidence={
            "value": 0.31234,
            "threshold": 0.2,
            "p_value": 0.0012,
            "window_start": "2025-03-01T09:00:00Z",
            "window_end": "2025-03-01T10:00:00Z",
            **evidence,
        },
    )


def payload(*alerts: AlertView, max_alerts: int = 0, **extra: Any) -> dict[str, Any]:
    doc = alertmanager_v4(
        receiver="r",
        group_key=GROUP_KEY,
        group_labels={"model": "credit", "alertname": "FeatureDrift"},
        alerts=list(alerts),
        external_url=EXTERNAL,
        max_alerts=max_alerts,
    )
    return {**doc, **extra}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


@pytest.fixture
def docs_verify() -> Callable[..., bool]:
    """The first python block under "## Verifying webhook signatures", as a user pastes it."""
    text = DOCS.read_text()
    section = text.split("## Verifying webhook signatures", 1)[1].split("\n## ", 1)[0]
    snippet = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    verify: Callable[..., bool] = namespace["verify"]
    return verify


# -- payload ---------------------------------------------------------------------------


def test_the_v4_payload_has_alertmanagers_fields_and_common_pairs() -> None:
    doc = payload(alert("income"), alert("age", status="resolved", severity="critical"))
    assert list(doc) == [
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    ]
    assert doc["version"] == "4"
    assert doc["groupKey"] == GROUP_KEY
    assert doc["status"] == "firing"  # any alert firing
    assert doc["truncatedAlerts"] == 0
    assert doc["groupLabels"] == {"alertname": "FeatureDrift", "model": "credit"}
    # Pairs every alert shares: not feature nor severity, which differ.
    assert doc["commonLabels"] == {
        "alertname": "FeatureDrift",
        "metric": "psi",
        "model": "credit",
        "signal": "data_drift",
        "version": "3",
    }
    assert doc["commonAnnotations"] == {"runbook_url": RUNBOOK}
    firing, resolved = doc["alerts"]
    assert firing == {
        "status": "firing",
        "labels": dict(alert("income").labels),
        "annotations": {"summary": "income of credit drifted", "runbook_url": RUNBOOK},
        "startsAt": "2025-03-01T10:00:00Z",
        "endsAt": ZERO_TIME,
        "generatorURL": f"{EXTERNAL}/runs/7",
        "fingerprint": "fp-income",
        "evidence": dict(alert("income").evidence),
    }
    assert (resolved["status"], resolved["endsAt"]) == ("resolved", "2025-03-01T12:00:00Z")
    only_resolved = payload(alert("age", status="resolved"))
    assert only_resolved["status"] == "resolved"


def test_max_alerts_cuts_resolved_first_and_counts_the_rest() -> None:
    doc = payload(
        alert("a", status="resolved"), alert("b"), alert("c"), alert("d", status="resolved"),
        max_alerts=2,
    )  # fmt: skip
    assert [a["fingerprint"] for a in doc["alerts"]] == ["fp-b", "fp-c"]
    assert doc["truncatedAlerts"] == 2
    assert "feature" not in doc["commonLabels"]  # computed over all four
    with pytest.raises(ValueError, match="max_alerts=-1"):
        payload(alert(), max_alerts=-1)
    with pytest.raises(ValueError, match="status='open'"):
        AlertView("open", {}, {}, T0, None, "x")


# -- webhook ---------------------------------------------------------------------------


def test_webhook_sends_the_stored_payload_signed_and_versioned(
    client: httpx.Client, docs_verify: Callable[..., bool]
) -> None:
    doc = payload(alert())
    with RecordingReceiver() as receiver:
        delivery = notify(client, "webhook", {"url": receiver.url, "secret": SECRET}, doc)
        (request,) = receiver.requests
    assert (delivery.ok, delivery.status) == (True, 200)
    assert request.json() == doc
    assert request.body == encode(doc)
    assert request.headers[VERSION_HEADER] == "4"
    assert request.headers["Content-Type"] == "application/json"
    header = request.headers[SIGNATURE_HEADER]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    # The documented verification accepts it; a wrong secret, an altered body, an old
    # timestamp and a header that is not ours are refused.
    assert docs_verify(SECRET, header, request.body) is True
    assert docs_verify("other", header, request.body) is False
    assert docs_verify(SECRET, header, request.body + b" ") is False
    old = sign(SECRET, int(time.time()) - 301, request.body)
    assert docs_verify(SECRET, old, request.body) is False
    assert docs_verify(SECRET, old, request.body, tolerance=600) is True
    assert docs_verify(SECRET, "garbage", request.body) is False
    assert verify_signature(SECRET, header, request.body)


def test_webhook_without_secret_is_unsigned_and_without_url_is_refused(
    client: httpx.Client,
) -> None:
    with RecordingReceiver() as receiver:
        assert notify(client, "webhook", {"url": receiver.url}, payload(alert())).ok
        (request,) = receiver.requests
    assert SIGNATURE_HEADER not in request.headers
    refused = notify(client, "webhook", {"secret": SECRET}, payload(alert()))
    assert (refused.ok, refused.retryable) == (False, False)
    assert refused.error == "receiver config url=None: a non-empty string is required"


def test_signature_rejects_an_old_timestamp() -> None:
    body = b'{"a":1}'
    header = sign(SECRET, 1_000_000, body)
    assert verify_signature(SECRET, header, body, now=1_000_100)
    assert not verify_signature(SECRET, header, body, now=1_000_000 + 3600)


# -- retrain ---------------------------------------------------------------------------


def test_retrain_adds_the_idempotency_key_and_refuses_a_payload_without_trigger(
    client: httpx.Client, docs_verify: Callable[..., bool]
) -> None:
    retraining = {
        "trigger_id": 12,
        "idempotency_key": "credit-3-0b1f",
        "model_id": "credit",
        "model_version": "3",
        "callback_url": f"{EXTERNAL}/retraining/12",
    }
    doc = payload(alert(), retraining=retraining)
    config = {"url": "", "secret": SECRET}
    with RecordingReceiver() as receiver:
        config["url"] = receiver.url
        assert notify(client, "retrain", config, doc).ok
        refused = notify(client, "retrain", config, payload(alert()))
        no_key = notify(client, "retrain", config, payload(alert(), retraining={"trigger_id": 1}))
        (request,) = receiver.requests  # the refused ones were not sent
    assert request.headers["Idempotency-Key"] == "credit-3-0b1f"
    assert request.headers[VERSION_HEADER] == "4"
    assert request.json() == doc
    assert docs_verify(SECRET, request.headers[SIGNATURE_HEADER], request.body)
    assert (refused.ok, refused.retryable) == (False, False)
    assert refused.error == "payload retraining=None: a retrain receiver needs the object"
    assert no_key.error is not None
    assert "retraining.idempotency_key=None" in no_key.error


# -- slack -----------------------------------------------------------------------------


def test_slack_renders_block_kit_with_fields_top_features_and_links(
    client: httpx.Client,
) -> None:
    run_level = alert(
        "",
        value=0.4,
        threshold=0.3,
        top_features=[
            {"feature": "income", "metric": "psi", "value": 0.31, "p_value": 1e-3, "threshold": 0},
            {"feature": "age", "metric": "ks", "value": 0.12, "p_value": 0.02, "threshold": 0},
        ],
    )
    doc = payload(alert("income"), run_level, alert("age", status="resolved"))
    with RecordingReceiver() as receiver:
        delivery = notify(client, "slack", {"url": receiver.url}, doc)
        (request,) = receiver.requests
    assert (delivery.ok, delivery.status) == (True, 200)
    sent = request.json()
    assert sent["text"].startswith("[FIRING:2] FeatureDrift credit: income of credit drifted; ")
    header, first, second, third, actions = sent["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[FIRING:2] FeatureDrift credit"},
    }
    assert first["type"] == "section"
    assert first["text"]["type"] == "mrkdwn"
    assert first["text"]["text"] == (
        ":red_circle: *income of credit drifted* (firing)\n"
        f"<{RUNBOOK}|Runbook> · <{EXTERNAL}/runs/7|Source>"
    )
    assert [f["text"] for f in first["fields"]] == [
        "*Model*\ncredit",
        "*Version*\n3",
        "*Signal*\ndata_drift",
        "*Feature*\nincome",
        "*Window*\n2025-03-01 09:00 UTC → 2025-03-01 10:00 UTC",
        "*Value*\npsi = 0.3123 (threshold 0.2)",
    ]
    assert all(f["type"] == "mrkdwn" for f in first["fields"])
    # A run-level alert (no feature label) lists the top drifted features.
    assert (
        "*Top drifted features*\n• `income` psi 0.31 (p=0.001)\n• `age` ks 0.12 (p=0.02)"
        in (second["text"]["text"])
    )
    assert "*Feature*" not in str(second["fields"])
    resolved_text = ":large_green_circle: *age of credit drifted* (resolved)"
    assert third["text"]["text"].startswith(resolved_text)
    assert actions == {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Open Driftwarden"},
                "url": EXTERNAL,
            }
        ],
    }


def test_slack_caps_alerts_blocks_and_section_length(client: httpx.Client) -> None:
    alerts = [alert(f"f{i}") for i in range(MAX_ALERTS + 3)]
    long = AlertView(
        "firing",
        {"alertname": "X", "model": "m<&>"},
        {"summary": "s", "description": "d" * 5000},
        T0,
        None,
        "fp-long",
    )
    doc = payload(long, *alerts, max_alerts=12)  # 14 alerts, 12 kept, 2 truncated
    with RecordingReceiver() as receiver:
        assert notify(client, "slack", {"url": receiver.url}, doc).ok
        sent = receiver.requests[0].json()
    blocks = sent["blocks"]
    assert len(blocks) <= 50
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == MAX_ALERTS
    assert blocks[0]["text"]["text"] == "[FIRING:12+] FeatureDrift credit"
    assert {"type": "mrkdwn", "text": "and 4 more"} in blocks[-2]["elements"]
    assert max(len(s["text"]["text"]) for s in sections) == SECTION_CHARS
    assert sections[0]["fields"][0]["text"] == "*Model*\nm&lt;&amp;&gt;"  # mrkdwn escaped
    resolved = payload(alert(status="resolved"))
    with RecordingReceiver() as receiver:
        assert notify(client, "slack", {"url": receiver.url}, resolved).ok
        sent = receiver.requests[0].json()
    assert sent["blocks"][0]["text"]["text"] == "[RESOLVED] FeatureDrift credit"


def test_slack_errors_final_with_slacks_text_or_retryable(client: httpx.Client) -> None:
    # Slack explains a refusal in the body: "400 invalid_payload".
    with RecordingReceiver([400], answer=b"invalid_payload") as receiver:
        refused = notify(client, "slack", {"url": receiver.url}, payload(alert()))
    assert (refused.ok, refused.retryable, refused.status) == (False, False, 400)
    assert refused.error == "HTTP 400: invalid_payload"
    for status, body in ((429, b"rate_limited"), (500, b"rollup_error"), (503, b"")):
        with RecordingReceiver([status], answer=body) as receiver:
            busy = notify(client, "slack", {"url": receiver.url}, payload(alert()))
        assert (busy.ok, busy.retryable, busy.status) == (False, True, status)
    down = notify(client, "slack", {"url": "http://127.0.0.1:9/hook"}, payload(alert()))
    assert (down.ok, down.retryable) == (False, True)
    assert down.error is not None
    assert "URLError" in down.error
    bad = notify(client, "slack", {"url": "ftp://hooks.example.com/x"}, payload(alert()))
    assert (bad.ok, bad.retryable) == (False, False)


# -- pagerduty -------------------------------------------------------------------------


def test_pagerduty_sends_one_event_per_alert_in_order(client: httpx.Client) -> None:
    doc = payload(
        alert("income", severity="page"),
        alert("age", status="resolved", severity="nonsense"),
    )
    routing_key = "R" * 32
    with RecordingReceiver(statuses=[202, 202]) as receiver:
        config = {"url": receiver.url, "routing_key": routing_key, "severity": "warning"}
        delivery = notify(client, "pagerduty", config, doc)
        trigger, resolve = (r.json() for r in receiver.requests)
    assert (delivery.ok, delivery.status) == (True, 202)
    assert trigger == {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": "fp-income",
        "payload": {
            "summary": "income of credit drifted",
            "source": "credit",
            "severity": "critical",  # page -> critical
            "timestamp": "2025-03-01T10:00:00Z",
            "component": "credit",
            "group": "data_drift",
            "class": "FeatureDrift",
            "custom_details": {
                "labels": doc["alerts"][0]["labels"],
                "annotations": doc["alerts"][0]["annotations"],
                "evidence": doc["alerts"][0]["evidence"],
            },
        },
        "links": [
            {"href": RUNBOOK, "text": "Runbook"},
            {"href": f"{EXTERNAL}/runs/7", "text": "Driftwarden"},
        ],
        "client": "Driftwarden",
        "client_url": EXTERNAL,
    }
    assert (resolve["event_action"], resolve["dedup_key"]) == ("resolve", "fp-age")
    assert resolve["payload"]["severity"] == "warning"  # unknown label: the receiver's


def test_pagerduty_summary_source_and_severity_fallbacks(client: httpx.Client) -> None:
    bare = AlertView("firing", {"alertname": "NoData"}, {"summary": "x" * 2000}, T0, None, "fp")
    unnamed = AlertView("firing", {"alertname": "Lag", "model": "eta"}, {}, T0, None, "fp2")
    with RecordingReceiver() as receiver:
        config = {"url": receiver.url, "routing_key": "k" * 32, "client_url": "https://dw"}
        assert notify(client, "pagerduty", config, payload(bare, unnamed)).ok
        first, second = (r.json() for r in receiver.requests)
    assert len(first["payload"]["summary"]) == 1024
    assert first["payload"]["source"] == "driftwarden"
    assert first["payload"]["severity"] == "error"  # the default
    assert "component" not in first["payload"]
    assert first["client_url"] == "https://dw"
    assert second["payload"]["summary"] == "Lag eta"
    assert SEVERITY_ALIASES["ticket"] == "warning"
    assert SEVERITY_ALIASES["sev4"] == "info"


def test_pagerduty_stops_at_the_first_failure(client: httpx.Client) -> None:
    doc = payload(alert("a"), alert("b"), alert("c"))
    with RecordingReceiver(statuses=[202, 400]) as receiver:
        config = {"url": receiver.url, "routing_key": "k" * 32}
        delivery = notify(client, "pagerduty", config, doc)
        assert len(receiver.requests) == 2  # c was not sent
    assert (delivery.ok, delivery.retryable, delivery.status) == (False, False, 400)
    assert delivery.error == "event 2/3 dedup_key='fp-b': HTTP 400: (no body)"
    with RecordingReceiver(statuses=[429]) as receiver:
        config = {"url": receiver.url, "routing_key": "k" * 32}
        assert notify(client, "pagerduty", config, doc).retryable
    missing = notify(client, "pagerduty", {"url": "http://127.0.0.1:9"}, doc)
    assert missing.error == "receiver config routing_key=None: a non-empty string is required"
    bad = notify(client, "pagerduty", {"routing_key": "k", "severity": "loud"}, doc)
    assert bad.error is not None
    assert "severity='loud'" in bad.error


# -- registry --------------------------------------------------------------------------


def test_registry_unknown_kind_and_payload_sent_as_stored(client: httpx.Client) -> None:
    assert set(NOTIFIERS) == {"webhook", "slack", "pagerduty", "retrain"}
    unknown = notify(client, "email", {}, payload(alert()))
    assert (unknown.ok, unknown.retryable) == (False, False)
    assert unknown.error is not None
    assert "kind='email'" in unknown.error
    # send_resolved is applied once, by the group flush when it writes the payload: a
    # notifier sends what is stored, resolved alerts included.
    mixed = payload(alert("a"), alert("b", status="resolved"))
    with RecordingReceiver() as receiver:
        config = {"url": receiver.url, "send_resolved": False}
        assert notify(client, "webhook", config, mixed).ok
        (request,) = receiver.requests
    assert request.body == encode(mixed)


def test_cut_marks_a_cut_with_an_ellipsis() -> None:
    assert cut("abc", 3) == "abc"
    assert cut("abcd", 3) == "ab…"
    assert len(cut("x" * 5000, SECTION_CHARS)) == SECTION_CHARS


# -- receiver settings -----------------------------------------------------------------

RECEIVERS = """
version: 1
receivers:
  - {name: hook, type: webhook, url: "http://h.example/x", max_alerts: 7}
  - {name: chat, type: slack, url: "https://hooks.slack.com/services/T/B/X", max_alerts: 20}
  - {name: train, type: retrain, url: "http://t.example/x", max_alerts: 50}
  - {name: pager, type: pagerduty, routing_key: "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"}
route: {receiver: hook}
"""


def test_max_alerts_on_webhook_slack_and_retrain_receivers() -> None:
    def max_alerts(text: str) -> list[int | None]:
        receivers = load_config(text, "rules.yaml", {}).receivers
        return [getattr(r, "max_alerts", None) for r in receivers]

    assert max_alerts(RECEIVERS) == [7, 20, 50, None]  # pagerduty has none
    unset = RECEIVERS.replace(", max_alerts: 7", "").replace(", max_alerts: 20", "")
    assert max_alerts(unset) == [0, 0, 50, None]  # 0 = all, Alertmanager's default


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # PagerDuty sends one event per alert: a cut alert would never be triggered.
        (
            RECEIVERS.replace('kkkk"}', 'kkkk", max_alerts: 3}'),
            "rules.yaml: receivers.3.max_alerts=3: unknown field",
        ),
        (
            RECEIVERS.replace("max_alerts: 7", "max_alerts: -1"),
            "rules.yaml: receivers.0.max_alerts=-1: Input should be greater than or equal to 0",
        ),
        # A resolution retrains nothing: retrain receivers have no send_resolved.
        (
            RECEIVERS.replace("max_alerts: 50", "max_alerts: 50, send_resolved: false"),
            "rules.yaml: receivers.2.send_resolved=False: unknown field",
        ),
    ],
)
def test_receiver_settings_that_mean_nothing_are_refused(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(text, "rules.yaml", {})
    assert str(error.value) == problem
