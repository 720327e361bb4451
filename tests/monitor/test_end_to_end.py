"""Kafka -> `driftwarden ingest` -> PostgreSQL -> `driftwarden detect --once` ->
`driftwarden rules apply` + `driftwarden alert --once` -> one signed, grouped webhook
to a real local HTTP receiver.

Also the delivery contract: while the database rejects writes, ingest commits no
offset; stopped and restarted after the outage, it stores every event exactly once.
Were offsets committed before the database commit, the outage phase would find a
committed offset and the restarted consumer would skip the events (both asserted).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from factories import (
    CLI,
    MODEL,
    cli,
    committed_offset,
    encode,
    events,
    produce,
    register,
    scalar,
    settings_env,
)
from sqlalchemy import Engine, text

from monitor.alerting.notifiers.webhook import SIGNATURE_HEADER, verify_signature
from monitor.config import Settings
from monitor.demo.receiver import RecordingReceiver
from monitor.epoch import floor_to
from monitor.ingest.topics import ensure_topics

HOUR = timedelta(hours=1)
SECRET = "e2e-secret"
# The secret comes from the environment, as a deployment's would (${VAR} in the file).
RULES = """
version: 1
receivers:
  - {name: e2e-hook, type: webhook, url: "URL", secret: "${E2E_WEBHOOK_SECRET}"}
route:
  receiver: e2e-hook
  group_by: [alertname, model]
  group_wait: 0s
groups:
  - name: drift
    rules:
      - alert: FeatureDrift
        matchers: ['signal="data_drift"', 'feature!=""', 'metric!~"missing_share|drift_share"']
        condition: alert == 1
        # The one alert cycle sees all three windows: ride out the clean last one.
        keep_firing_for: 1
        labels: {severity: warning}
        annotations: {summary: "Feature {feature} of {model} drifted"}
"""


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_events_flow_from_kafka_to_a_signed_webhook(
    outage: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = outage
    register(db)
    topic = settings.predictions_topic
    ensure_topics(settings.bootstrap_servers, [topic, settings.labels_topic], partitions=2)
    start = floor_to(datetime.now(UTC), HOUR) - 4 * HOUR
    rng = np.random.default_rng(31)
    windows = [
        events(start + i * HOUR, 200, rng=rng, shift=(i == 1), prefix=f"w{i}") for i in range(3)
    ]
    messages = [encode(e) for w in windows for e in w]
    messages[100:100] = [b"not json at all", b'{"event_id": "x", "model_id": "ghost"}']
    half = len(messages) // 2
    produce(settings.kafka_bootstrap_servers, topic, messages[:half], partition=0)
    produce(settings.kafka_bootstrap_servers, topic, messages[half:], partition=1)

    # Phase 1: the database rejects every prediction write.
    env = {**os.environ, **settings_env(settings)}
    proc = subprocess.Popen(
        [CLI, "ingest"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(
            lambda: (
                scalar(
                    db, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM e2e_fault_hits"
                )
                >= 3
            ),
            60,
            "ingest to try (and replay) a batch",
        )
        assert committed_offset(settings, topic, 0) is None
        assert committed_offset(settings, topic, 1) is None
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "database write failed, replaying" in stderr
    assert scalar(db, "SELECT count(*) FROM predictions") == 0
    assert committed_offset(settings, topic, 0) is None
    assert committed_offset(settings, topic, 1) is None

    # Phase 2: the database is back; a restarted consumer stores everything exactly once.
    with db.begin() as conn:
        conn.execute(text("UPDATE e2e_fault SET active = false"))
    cli(settings, "ingest", "--idle-exit", "3")
    assert scalar(db, "SELECT count(*) FROM predictions") == 600
    assert scalar(db, "SELECT count(DISTINCT event_id) FROM predictions") == 600
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 2
    assert committed_offset(settings, topic, 0) == half
    assert committed_offset(settings, topic, 1) == len(messages) - half

    # Detection of the three closed windows: drift in the middle one only.
    cli(settings, "detect", "--once")
    with db.connect() as conn:
        drifted = conn.execute(
            text(
                "SELECT DISTINCT r.window_start, f.feature FROM detector_runs r "
                "JOIN results f ON f.run_id = r.id WHERE f.alert AND f.feature <> '' "
                "ORDER BY 1, 2"
            )
        ).all()
        n_runs = conn.scalar(text("SELECT count(*) FROM detector_runs WHERE status = 'ok'"))
    assert n_runs == 3
    assert [(ts, f) for ts, f in drifted] == [(start + HOUR, "income"), (start + HOUR, "region")]

    # Alerting as code: a rules file applied, then one cycle of the alerter.
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    with RecordingReceiver() as receiver:
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES.replace("URL", receiver.url))
        applied = cli(settings, "rules", "apply", "-f", str(rules))
        out = cli(settings, "alert", "--once")
        requests = list(receiver.requests)

    assert "applied receiver e2e-hook" in applied
    assert "applied rule FeatureDrift" in applied
    assert "delivered" in out
    # group_by [alertname, model]: both drifted features in one firing notification.
    assert len(requests) == 1
    payload = requests[0].json()
    assert verify_signature(SECRET, requests[0].headers[SIGNATURE_HEADER], requests[0].body)
    assert payload["status"] == "firing"
    assert payload["receiver"] == "e2e-hook"
    assert payload["groupLabels"] == {"alertname": "FeatureDrift", "model": MODEL}
    assert sorted((a["status"], a["labels"]["feature"]) for a in payload["alerts"]) == [
        ("firing", "income"),
        ("firing", "region"),
    ]
    for a in payload["alerts"]:
        assert a["labels"]["model"] == MODEL
        assert a["annotations"]["summary"] == f"Feature {a['labels']['feature']} of {MODEL} drifted"
        # It fired at the end of the drifted window (the middle one).
        assert a["startsAt"] == (start + 2 * HOUR).isoformat().replace("+00:00", "Z")
