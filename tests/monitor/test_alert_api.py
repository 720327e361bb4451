"""The alerting API: alerts as the alerter left them, and silences created, listed and
expired over HTTP, with refusals that name the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from alert_support import apply_text, drift, write_window
from api_support import Api
from sqlalchemy import Engine

from monitor.alerting.alerter import run_cycle
from monitor.demo.receiver import RecordingReceiver

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)

CONFIG = """
version: 1
receivers:
  - {name: hook, type: webhook, url: "${URL}"}
route: {receiver: hook, group_by: [alertname, model]}
groups:
  - name: g
    rules:
      - alert: FeatureDrift
        matchers: ['signal="data_drift"', 'feature!=""']
        condition: alert == 1
        labels: {severity: warning}
        annotations: {summary: "{feature} drifted"}
"""


@pytest.fixture
def api(db: Engine, database_url: str) -> Iterator[Api]:
    client = Api(database_url)
    yield client
    client.close()


def iso(at: datetime) -> str:
    return at.isoformat()


def test_alerts_lists_the_instances_the_alerter_evaluated(db: Engine, api: Api) -> None:
    assert api("GET", "/v1/alerts").json() == []
    with RecordingReceiver() as hook, httpx.Client(timeout=5) as client:
        apply_text(db, CONFIG, {"URL": hook.url})
        write_window(db, 0, drift({"income": True, "age": False}))
        run_cycle(db, client, now=NOW)

    response = api("GET", "/v1/alerts")
    assert response.status_code == 200, response.text
    # Every instance a rule selected is listed, the ones that never breached as inactive.
    by_feature = {a["labels"]["feature"]: a for a in response.json()}
    assert {f: a["state"] for f, a in by_feature.items()} == {
        "income": "firing",
        "age": "inactive",
    }
    alert = by_feature["income"]
    assert alert["labels"] == {
        "alertname": "FeatureDrift",
        "model": "credit",
        "version": "1",
        "signal": "data_drift",
        "metric": "ks",
        "feature": "income",
        "severity": "warning",
    }
    assert alert["annotations"] == {"summary": "income drifted"}
    assert alert["value"] == 0.3
    assert alert["fired_at"] == "2026-11-02T01:00:00Z"  # the window's end, not NOW
    assert alert["resolved_at"] is None
    assert len(alert["fingerprint"]) == 32

    firing = api("GET", "/v1/alerts", params={"state": "firing"}).json()
    assert [a["fingerprint"] for a in firing] == [alert["fingerprint"]]
    assert api("GET", "/v1/alerts", params={"state": "resolved"}).json() == []
    for params in ({"state": "burning"}, {"limit": 0}, {"limit": 5001}):
        refused = api("GET", "/v1/alerts", params=params)
        assert refused.status_code == 422, params
        assert refused.json()["detail"].startswith(f"query.{next(iter(params))}=")


def test_a_silence_is_created_listed_and_expired(api: Api) -> None:
    now = datetime.now(UTC)
    created = api(
        "POST",
        "/v1/silences",
        json={
            "matchers": ['model="credit"', 'signal=~"data_drift|skew"'],
            "ends_at": iso(now + timedelta(hours=2)),
            "created_by": "ana",
            "comment": "retraining in progress",
        },
    )
    assert created.status_code == 201, created.text
    silence_id = created.json()["silenceID"]

    [listed] = api("GET", "/v1/silences").json()
    assert listed["id"] == silence_id
    assert listed["state"] == "active"
    assert listed["matchers"] == ['model="credit"', 'signal=~"data_drift|skew"']
    assert (listed["created_by"], listed["comment"]) == ("ana", "retraining in progress")
    assert (
        now - timedelta(minutes=1)
        < datetime.fromisoformat(listed["starts_at"])
        <= (datetime.now(UTC))
    )

    later = api(
        "POST",
        "/v1/silences",
        json={
            "matchers": ['model="other"'],
            "starts_at": iso(now + timedelta(days=1)),
            "ends_at": iso(now + timedelta(days=2)),
            "created_by": "bo",
        },
    )
    assert later.status_code == 201
    states = {s["id"]: s["state"] for s in api("GET", "/v1/silences").json()}
    assert states == {silence_id: "active", later.json()["silenceID"]: "pending"}

    expired = api("DELETE", f"/v1/silences/{silence_id}")
    assert expired.status_code == 200, expired.text
    assert expired.json()["state"] == "expired"
    assert silence_id not in {s["id"] for s in api("GET", "/v1/silences").json()}
    kept = api("GET", "/v1/silences", params={"expired": "true"}).json()
    assert {s["id"]: s["state"] for s in kept}[silence_id] == "expired"
    assert api("DELETE", f"/v1/silences/{silence_id}").json()["state"] == "expired"

    unknown = api("DELETE", "/v1/silences/no-such-id")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "id='no-such-id': no such silence"


def test_a_silence_that_cannot_be_created_is_refused_naming_the_field(api: Api) -> None:
    now = datetime.now(UTC)
    good: dict[str, Any] = {
        "matchers": ['model="credit"'],
        "ends_at": iso(now + timedelta(hours=1)),
        "created_by": "ana",
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"matchers": ['model="credit"', "model credit"]}, "matchers[1]='model credit'"),
        ({"matchers": ['model=~"("']}, "matchers[0]='model=~\"(\"'"),
        (
            {"starts_at": iso(now), "ends_at": iso(now - timedelta(hours=1))},
            f"ends_at={iso(now - timedelta(hours=1))}: must be after starts_at={iso(now)}",
        ),
        ({"matchers": []}, "body.matchers=[]"),
        ({"created_by": ""}, "body.created_by=''"),
        # Without an offset the time is ambiguous: refused, not guessed.
        ({"ends_at": "2030-01-01T00:00:00"}, "body.ends_at='2030-01-01T00:00:00'"),
    ]
    for change, words in cases:
        response = api("POST", "/v1/silences", json={**good, **change})
        assert response.status_code == 422, (change, response.text)
        assert words in response.json()["detail"], (change, response.json())
    assert api("GET", "/v1/silences").json() == []
