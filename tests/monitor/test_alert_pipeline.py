"""The alerter end to end on stored results: evaluation, groups and their timers,
inhibition, silences, re-run windows, disabled rules; delivered to real local receivers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from alert_support import HOUR, T0, apply_text, drift, write_window
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from monitor.alerting.alerter import CycleReport, run_cycle
from monitor.db.models import AlertGroup
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
