"""Rules on stored results -> outbox -> a real local HTTP receiver."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from factories import MODEL, events, recent_start, register, store
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.alerting.dispatch import deliver_due
from monitor.alerting.evaluator import evaluate_rules
from monitor.alerting.notifiers.webhook import SIGNATURE_HEADER, sign, verify_signature
from monitor.alerting.rules import Condition, RuleSpec
from monitor.db.models import AlertState, Notification
from monitor.demo.receiver import RecordingReceiver
from monitor.detection.runner import run_due
from monitor.resources import ReceiverDoc, upsert_receiver, upsert_rule

START = recent_start()
HOUR = timedelta(hours=1)
SECRET = "s3cret"


def seed_runs(engine: Engine, shifts: list[bool]) -> None:
    register(engine)
    rng = np.random.default_rng(21)
    evs = []
    for i, shift in enumerate(shifts):
        evs.extend(events(START + i * HOUR, 200, rng=rng, shift=shift, prefix=f"w{i}"))
    store(engine, evs)
    run_due(engine, now=START + len(shifts) * HOUR + timedelta(minutes=10))


def add_rule(engine: Engine, url: str, **overrides: object) -> None:
    spec = {
        "name": "FeatureDrift",
        "matchers": {"feature": "income"},
        "condition": Condition(value="drifted", op=">=", threshold=1),
        "labels": {"severity": "page"},
        "annotations": {"summary": "{feature} of {model} drifted"},
        "receiver": "hook",
        **overrides,
    }
    with Session(engine) as session, session.begin():
        upsert_receiver(session, ReceiverDoc(name="hook", url=url, secret=SECRET))
        upsert_rule(session, RuleSpec.model_validate(spec))


def test_firing_and_resolved_are_delivered_signed_in_alertmanager_shape(db: Engine) -> None:
    seed_runs(db, [False, True, True, False])
    with RecordingReceiver() as receiver, httpx.Client() as client:
        add_rule(db, receiver.url)
        events_ = evaluate_rules(db)
        assert [(e.status, e.at) for e in events_] == [
            ("firing", START + 2 * HOUR),
            ("resolved", START + 4 * HOUR),
        ]
        assert evaluate_rules(db) == []  # idempotent: the runs were consumed
        reports = deliver_due(db, client)
        assert [r.status for r in reports] == ["delivered", "delivered"]
        requests = list(receiver.requests)

    firing, resolved = (r.json() for r in requests)
    assert firing["version"] == "4"
    assert firing["status"] == "firing"
    alert = firing["alerts"][0]
    assert alert["labels"] == {
        "alertname": "FeatureDrift",
        "model": MODEL,
        "version": "1",
        "signal": "data_drift",
        "feature": "income",
        "severity": "page",
    }
    assert alert["annotations"]["summary"] == f"income of {MODEL} drifted"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["fingerprint"] == alert["fingerprint"]
    for r in requests:
        assert verify_signature(SECRET, r.headers[SIGNATURE_HEADER], r.body)
        assert not verify_signature("wrong", r.headers[SIGNATURE_HEADER], r.body)


def test_retryable_failures_are_retried_and_final_ones_are_not(db: Engine) -> None:
    seed_runs(db, [True])
    with RecordingReceiver(statuses=[503]) as receiver, httpx.Client() as client:
        add_rule(db, receiver.url)
        evaluate_rules(db)
        now = datetime.now(UTC)
        first = deliver_due(db, client, now=now)
        assert [(r.status, r.delivery.status) for r in first] == [("pending", 503)]
        assert deliver_due(db, client, now=now) == []  # backing off
        second = deliver_due(db, client, now=now + timedelta(minutes=5))
        assert [r.status for r in second] == ["delivered"]
        assert len(receiver.requests) == 2

    with RecordingReceiver(statuses=[400]) as receiver, httpx.Client() as client:
        with Session(db) as session, session.begin():
            upsert_receiver(session, ReceiverDoc(name="hook", url=receiver.url, secret=SECRET))
            note = session.scalars(select(Notification)).one()
            note.status = "pending"
        final = deliver_due(db, client, now=datetime.now(UTC) + timedelta(hours=1))
        assert [(r.status, r.delivery.retryable) for r in final] == [("failed", False)]


def test_an_unreachable_receiver_is_retryable(db: Engine) -> None:
    seed_runs(db, [True])
    add_rule(db, "http://127.0.0.1:9/unreachable")
    evaluate_rules(db)
    with httpx.Client(timeout=2) as client:
        (report,) = deliver_due(db, client)
    assert report.status == "pending"
    assert report.delivery.retryable


def test_the_readme_verification_snippet_accepts_our_signature() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    snippet = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "def verify" in b)
    namespace: dict[str, object] = {}
    exec(snippet, namespace)  # the documented code, as a user would paste it
    verify = namespace["verify"]
    body = b'{"status":"firing"}'
    header = sign(SECRET, int(time.time()), body)
    assert verify(SECRET, header, body) is True  # type: ignore[operator]
    assert verify("other", header, body) is False  # type: ignore[operator]


def test_signature_rejects_an_old_timestamp() -> None:
    body = json.dumps({"a": 1}).encode()
    header = sign(SECRET, 1_000_000, body)
    assert verify_signature(SECRET, header, body, now=1_000_100)
    assert not verify_signature(SECRET, header, body, now=1_000_000 + 3600)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"scope": "run", "condition": {"value": "drifted"}}, "does not exist for scope='run'"),
        ({"name": "bad name"}, "name"),
    ],
)
def test_invalid_rules_are_refused(spec: dict[str, object], needle: str) -> None:
    base: dict[str, object] = {"name": "R", "condition": {"value": "drifted"}, "receiver": "x"}
    with pytest.raises(ValueError, match=needle):
        RuleSpec.model_validate({**base, **spec})


def test_a_window_run_again_for_late_data_does_not_step_an_alert_twice(db: Engine) -> None:
    seed_runs(db, [False, True, True, False])
    add_rule(db, "http://127.0.0.1:9/unused")
    assert [e.status for e in evaluate_rules(db)] == ["firing", "resolved"]
    # Late shifted events make the (resolved) last window drift again, then the first.
    rng = np.random.default_rng(5)
    for hour in (3, 0):
        store(db, events(START + hour * HOUR, 600, rng=rng, shift=True, prefix=f"late{hour}"))
        rerun = run_due(db, now=START + 6 * HOUR)
        assert [r.window_start for r in rerun] == [START + hour * HOUR]
    # The last window's new run is a window the state already stepped on: no second
    # count (nor a fire on it); the first window is older still.
    assert evaluate_rules(db) == []
    with Session(db) as session:
        (state,) = session.scalars(select(AlertState)).all()
    assert (state.state, state.evaluated_until) == ("resolved", START + 4 * HOUR)
