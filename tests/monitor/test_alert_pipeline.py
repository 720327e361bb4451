"""The alerter end to end on stored results: evaluation, groups and their timers,
inhibition, silences, re-run windows, disabled rules; delivered to real local receivers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from alert_support import HOUR, T0, Row, apply_text, drift, write_window
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from monitor.alerting.alerter import CycleReport, run_cycle
from monitor.alerting.silences import create_silence, expire_silence
from monitor.db.models import AlertGroup, AlertState, Notification
from monitor.demo.receiver import RecordingReceiver

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
S = timedelta(seconds=1)

CONFIG = """
version: 1
receivers:
  - {name: hook, type: webhook, url: "${URL}", secret: s3cret}
route:
  receiver: hook
  group_by: [alertname, model]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
inhibit_rules:
  - source_matchers: ['alertname="QualityFailing"']
    target_matchers: ['signal="data_drift"']
    equal: [model]
groups:
  - name: g
    rules:
      - alert: FeatureDrift
        matchers: ['signal="data_drift"', 'feature!=""']
        condition: alert == 1
        FOR
        annotations: {summary: "{feature} of {model} drifted ({metric} = {value})"}
      - alert: QualityFailing
        matchers: ['signal="data_quality"', 'metric="failed_checks"']
        condition: value >= 1
"""


@pytest.fixture
def hook(db: Engine) -> Iterator[RecordingReceiver]:
    with RecordingReceiver() as receiver:
        apply_text(db, CONFIG.replace("FOR", "for: 0"), {"URL": receiver.url})
        yield receiver


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def cycle(db: Engine, client: httpx.Client, at: datetime) -> CycleReport:
    return run_cycle(db, client, now=at)


def alerts_of(receiver: RecordingReceiver) -> list[tuple[str, list[tuple[str, str]]]]:
    """Per notification received: its status and its (status, feature) alerts."""
    out = []
    for r in receiver.requests:
        p = r.json()
        out.append(
            (
                p["status"],
                sorted((a["status"], a["labels"].get("feature", "")) for a in p["alerts"]),
            )
        )
    return out


def test_a_group_waits_group_wait_then_notifies_its_alerts_together(
    db: Engine, hook: RecordingReceiver, client: httpx.Client
) -> None:
    write_window(db, 0, drift({"income": True, "age": True, "region": False}))
    report = cycle(db, client, NOW)
    assert sorted(e.labels["feature"] for e in report.events) == ["age", "income"]
    assert hook.requests == []  # group_wait: 30 s
    cycle(db, client, NOW + 29 * S)
    assert hook.requests == []
    cycle(db, client, NOW + 30 * S)
    assert alerts_of(hook) == [("firing", [("firing", "age"), ("firing", "income")])]
    payload = hook.requests[0].json()
    assert payload["groupLabels"] == {"alertname": "FeatureDrift", "model": "credit"}
    assert payload["groupKey"] == '{}:{alertname="FeatureDrift", model="credit"}'
    income = next(a for a in payload["alerts"] if a["labels"]["feature"] == "income")
    assert income["annotations"]["summary"] == "income of credit drifted (ks = 0.3)"
    assert income["evidence"]["window_end"] == (T0 + HOUR).isoformat()

    # Both clear: one resolved notification, at the next group_interval tick.
    write_window(db, 1, drift({"income": False, "age": False, "region": False}))
    cycle(db, client, NOW + 60 * S)
    assert len(hook.requests) == 1
    cycle(db, client, NOW + 30 * S + 5 * 60 * S)
    assert alerts_of(hook)[1] == ("resolved", [("resolved", "age"), ("resolved", "income")])
    with Session(db) as s:
        assert s.scalar(select(func.count()).select_from(AlertGroup)) == 0  # empty: dropped


def test_an_alert_resolved_within_group_wait_sends_nothing(
    db: Engine, hook: RecordingReceiver, client: httpx.Client
) -> None:
    write_window(db, 0, drift({"income": True}))
    cycle(db, client, NOW)
    write_window(db, 1, drift({"income": False}))
    cycle(db, client, NOW + 10 * S)
    cycle(db, client, NOW + 60 * S)
    assert hook.requests == []
    with Session(db) as s:
        assert s.scalar(select(func.count()).select_from(AlertGroup)) == 0


def test_a_new_alert_in_a_notified_group_waits_for_group_interval(
    db: Engine, hook: RecordingReceiver, client: httpx.Client
) -> None:
    write_window(db, 0, drift({"income": True, "age": False}))
    cycle(db, client, NOW)
    cycle(db, client, NOW + 30 * S)
    assert alerts_of(hook) == [("firing", [("firing", "income")])]
    write_window(db, 1, drift({"income": True, "age": True}))
    cycle(db, client, NOW + 60 * S)
    assert len(hook.requests) == 1  # group_interval (5m) after the last flush, not group_wait
    cycle(db, client, NOW + 30 * S + 5 * 60 * S)
    assert alerts_of(hook)[1] == ("firing", [("firing", "age"), ("firing", "income")])


def test_an_unchanged_firing_group_is_sent_again_every_repeat_interval(
    db: Engine, hook: RecordingReceiver, client: httpx.Client
) -> None:
    write_window(db, 0, drift({"income": True}))
    cycle(db, client, NOW)
    tick = NOW + 30 * S
    cycle(db, client, tick)
    for i in range(1, 12):  # 11 ticks of group_interval: 55 minutes, less than 1h
        cycle(db, client, tick + i * 5 * 60 * S)
    assert len(hook.requests) == 1
    cycle(db, client, tick + 12 * 5 * 60 * S)  # 60 minutes: repeat_interval
    assert alerts_of(hook) == [("firing", [("firing", "income")])] * 2


def test_a_firing_quality_alert_inhibits_drift_alerts_of_its_model_only(
    db: Engine, hook: RecordingReceiver, client: httpx.Client
) -> None:
    write_window(db, 0, [Row("failed_checks", 2.0, alert=True)], signal="data_quality")
    write_window(db, 0, drift({"income": True}))
    write_window(db, 0, drift({"income": True}), model="other")
    cycle(db, client, NOW)
    cycle(db, client, NOW + 30 * S)
    got = sorted(
        (r.json()["groupLabels"]["alertname"], r.json()["groupLabels"]["model"])
        for r in hook.requests
    )
    # FeatureDrift of credit is inhibited by QualityFailing of credit (equal: [model]).
    assert got == [("FeatureDrift", "other"), ("QualityFailing", "credit")]
    with Session(db) as s:  # inhibited, not resolved: the alert still fires
        states = s.scalars(
            select(AlertState.state).where(AlertState.labels["model"].astext == "credit")
        )
        assert sorted(states) == ["firing", "firing"]

    # The quality alert clears: the drift alert is notified at its group's next tick.
    write_window(db, 1, [Row("failed_checks", 0.0)], signal="data_quality")
    write_window(db, 1, drift({"income": True}))
    cycle(db, client, NOW + 60 * S)
    cycle(db, client, NOW + 30 * S + 5 * 60 * S)
    new = [r.json() for r in hook.requests[2:]]
    assert sorted((p["groupLabels"]["alertname"], p["status"]) for p in new) == [
        ("FeatureDrift", "firing"),
        ("QualityFailing", "resolved"),
    ]


def test_a_silence_mutes_until_it_expires(
    db: Engine, hook: RecordingReceiver, client: httpx.Client
) -> None:
    with Session(db) as s, s.begin():
        silence_id = create_silence(
            s,
            matchers=['feature="income"'],
            starts_at=NOW - HOUR,
            ends_at=NOW + HOUR,
            created_by="test",
            comment="known upstream change",
        ).id
    write_window(db, 0, drift({"income": True, "age": True}))
    cycle(db, client, NOW)
    cycle(db, client, NOW + 30 * S)
    assert alerts_of(hook) == [("firing", [("firing", "age")])]
    with Session(db) as s, s.begin():
        expire_silence(s, silence_id, now=NOW + 60 * S)
    cycle(db, client, NOW + 30 * S + 5 * 60 * S)
    assert alerts_of(hook)[1] == ("firing", [("firing", "age"), ("firing", "income")])


def test_a_window_run_again_for_late_data_is_judged_by_its_new_verdict(
    db: Engine, client: httpx.Client
) -> None:
    with RecordingReceiver() as receiver:
        apply_text(db, CONFIG.replace("FOR", "for: 1"), {"URL": receiver.url})
        write_window(db, 0, drift({"income": False}))
        write_window(db, 1, drift({"income": True}))
        cycle(db, client, NOW)
        with Session(db) as s:
            assert s.scalars(select(AlertState.state)).one() == "pending"
        # Late events make window 0 drift too: two breaching windows in a row, for: 1.
        write_window(db, 0, drift({"income": True}))
        events = cycle(db, client, NOW + 10 * S).events
        assert [(e.status, e.at) for e in events] == [("firing", T0 + 2 * HOUR)]
        cycle(db, client, NOW + 40 * S)
        assert alerts_of(receiver) == [("firing", [("firing", "income")])]

        # Later labels take it back: window 1 did not drift after all. It was notified as
        # firing, so it resolves.
        write_window(db, 1, drift({"income": False}))
        events = cycle(db, client, NOW + 60 * S).events
        assert [e.status for e in events] == ["resolved"]
        cycle(db, client, NOW + 40 * S + 5 * 60 * S)
        assert alerts_of(receiver)[1] == ("resolved", [("resolved", "income")])


def test_evaluation_is_idempotent(
    db: Engine, hook: RecordingReceiver, client: httpx.Client
) -> None:
    write_window(db, 0, drift({"income": True}))
    assert len(cycle(db, client, NOW).events) == 1
    for _ in range(3):
        assert cycle(db, client, NOW + 30 * S).events == []
    assert len(hook.requests) == 1
    with Session(db) as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 1


def test_a_rule_removed_from_the_config_resolves_its_alerts(
    db: Engine, hook: RecordingReceiver, client: httpx.Client
) -> None:
    write_window(db, 0, drift({"income": True}))
    cycle(db, client, NOW)
    cycle(db, client, NOW + 30 * S)
    without = CONFIG.replace("FOR", "for: 0")
    without = (
        without[: without.index("      - alert: FeatureDrift")]
        + without[without.index("      - alert: QualityFailing") :]
    )
    apply_text(db, without, {"URL": hook.url})
    events = cycle(db, client, NOW + 60 * S).events
    assert [(e.rule, e.status) for e in events] == [("FeatureDrift", "resolved")]
    cycle(db, client, NOW + 30 * S + 5 * 60 * S)
    assert alerts_of(hook)[1] == ("resolved", [("resolved", "income")])


def test_continue_sends_an_alert_to_every_matching_route(db: Engine, client: httpx.Client) -> None:
    config = """
version: 1
receivers:
  - {name: team, type: webhook, url: "${TEAM}"}
  - {name: pager, type: webhook, url: "${PAGER}", send_resolved: false}
route:
  receiver: team
  group_wait: 0s
  routes:
    - {receiver: pager, matchers: ['severity="critical"'], continue: true}
    - {receiver: team, matchers: ['model="credit"']}
groups:
  - name: g
    rules:
      - alert: Share
        matchers: ['metric="drift_share"']
        condition: value >= 0.5
        labels: {severity: critical}
"""
    with RecordingReceiver() as team, RecordingReceiver() as pager:
        apply_text(db, config, {"TEAM": team.url, "PAGER": pager.url})
        write_window(db, 0, drift({"income": True}))
        cycle(db, client, NOW)
        assert [r.json()["status"] for r in team.requests] == ["firing"]
        assert [r.json()["status"] for r in pager.requests] == ["firing"]
        write_window(db, 1, drift({"income": False}))
        cycle(db, client, NOW + 10 * 60 * S)
        assert [r.json()["status"] for r in team.requests] == ["firing", "resolved"]
        assert [r.json()["status"] for r in pager.requests] == ["firing"]  # send_resolved off


def test_a_rule_whose_labels_change_resolves_its_old_alerts(
    db: Engine, hook: RecordingReceiver, client: httpx.Client
) -> None:
    write_window(db, 0, drift({"income": True}))
    cycle(db, client, NOW)
    cycle(db, client, NOW + 30 * S)
    changed = CONFIG.replace("FOR", "for: 0\n        labels: {severity: critical}")
    apply_text(db, changed, {"URL": hook.url})
    write_window(db, 1, drift({"income": True}))
    events = cycle(db, client, NOW + 60 * S).events
    got = sorted((e.status, e.labels.get("severity", "")) for e in events)
    # The old instance (no severity) ends; the rule's new instance fires.
    assert got == [("firing", "critical"), ("resolved", "")]
    with Session(db) as s:
        firing = s.scalars(select(AlertState.labels).where(AlertState.state == "firing")).all()
    assert [lab.get("severity") for lab in firing] == ["critical"]


def test_alerts_resolved_after_a_route_change_are_still_notified(
    db: Engine, hook: RecordingReceiver, client: httpx.Client
) -> None:
    write_window(db, 0, drift({"income": True}))
    cycle(db, client, NOW)
    cycle(db, client, NOW + 30 * S)
    assert alerts_of(hook) == [("firing", [("firing", "income")])]
    regrouped = CONFIG.replace("FOR", "for: 0").replace(
        "group_by: [alertname, model]", "group_by: [alertname, model, feature]"
    )
    apply_text(db, regrouped, {"URL": hook.url})
    write_window(db, 1, drift({"income": False}))
    cycle(db, client, NOW + 60 * S)
    cycle(db, client, NOW + 10 * 60 * S)
    statuses = [s for s, _ in alerts_of(hook)]
    assert statuses == ["firing", "resolved"]


def test_an_alert_taken_back_is_resolved_with_its_episode_times(
    db: Engine, client: httpx.Client
) -> None:
    with RecordingReceiver() as receiver:
        apply_text(db, CONFIG.replace("FOR", "for: 0"), {"URL": receiver.url})
        write_window(db, 0, drift({"income": True}))
        cycle(db, client, NOW)
        cycle(db, client, NOW + 30 * S)
        write_window(db, 0, drift({"income": False}))  # late labels: it never drifted
        cycle(db, client, NOW + 60 * S)
        write_window(db, 1, drift({"income": False}))  # the next window moves on
        cycle(db, client, NOW + 30 * S + 5 * 60 * S)
        resolved = receiver.requests[-1].json()["alerts"][0]
        assert resolved["status"] == "resolved"
        assert resolved["startsAt"] == "2026-11-02T01:00:00Z"
        assert resolved["endsAt"] == "2026-11-02T01:00:00Z"
