"""Retraining governance end to end: a ``retrain`` receiver gets signed triggers with an
idempotency key when its policy allows, blocked decisions are recorded with their
reason, and the trainer's outcome callback registers the version it produced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from alert_support import Row, apply_text, drift, write_window
from api_support import Api
from factories import register
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from monitor.alerting.alerter import run_cycle
from monitor.alerting.notifiers.retrain import IDEMPOTENCY_HEADER
from monitor.alerting.notifiers.webhook import SIGNATURE_HEADER, verify_signature
from monitor.db.models import Baseline, Label, ModelVersion, RetrainingTrigger
from monitor.demo.receiver import ReceivedRequest, RecordingReceiver

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)
EXTERNAL = "https://driftwarden.example.org/"
SECRET = "tr4in"

# The retrain route takes both signals, one group (and so one trigger) per model version;
# everything else would go to the root's webhook, at another path of the same receiver.
CONFIG = """
version: 1
receivers:
  - {name: audit, type: webhook, url: "${URL}-audit"}
  - name: retrain
    type: retrain
    url: "${URL}"
    secret: SECRET
    policy: POLICY
route:
  receiver: audit
  group_by: [alertname, model]
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 1w
  routes:
    - receiver: retrain
      matchers: ['signal=~"data_drift|performance"']
      group_by: [model, version]
      repeat_interval: 1h
groups:
  - name: g
    rules:
      - alert: DatasetDrift
        matchers: ['signal="data_drift"', 'metric="drift_share"']
        condition: value >= 0.5
        labels: {severity: warning}
      - alert: PerformanceDrop
        matchers: ['signal="performance"', 'metric="accuracy"']
        condition: value < 0.8
"""


def configure(db: Engine, receiver: RecordingReceiver, policy: str = "{}") -> None:
    text = CONFIG.replace("SECRET", SECRET).replace("POLICY", policy)
    apply_text(db, text, {"URL": receiver.url})


@pytest.fixture
def trainer() -> Iterator[RecordingReceiver]:
    with RecordingReceiver() as receiver:
        yield receiver


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def cycle(db: Engine, client: httpx.Client, at: datetime) -> None:
    run_cycle(db, client, now=at, external_url=EXTERNAL)


def triggers(receiver: RecordingReceiver) -> list[ReceivedRequest]:
    assert all(r.path == "/hook" for r in receiver.requests), "only the retrain route fires"
    return list(receiver.requests)


def retraining(request: ReceivedRequest) -> dict[str, Any]:
    body: dict[str, Any] = request.json()["retraining"]
    return body


def header(request: ReceivedRequest, name: str) -> str:
    return {k.lower(): v for k, v in request.headers.items()}[name.lower()]


def rows(db: Engine) -> list[RetrainingTrigger]:
    with Session(db) as s:
        return list(s.scalars(select(RetrainingTrigger).order_by(RetrainingTrigger.id)))


def drifting(db: Engine, window: int, *, version: str = "1") -> None:
    write_window(db, window, drift({"income": True, "age": True}), version=version)


def add_labels(db: Engine, model: str, times: list[datetime]) -> None:
    with Session(db) as s, s.begin():
        start = s.scalar(select(func.count()).select_from(Label)) or 0
        s.add_all(
            Label(event_id=f"e{start + i}", model_id=model, label=1, ts=t)
            for i, t in enumerate(times)
        )


# --- the trigger -----------------------------------------------------------------------


def test_a_trigger_is_signed_keyed_and_names_its_callback(
    db: Engine, trainer: RecordingReceiver, client: httpx.Client
) -> None:
    configure(db, trainer)
    drifting(db, 0)
    cycle(db, client, NOW)

    [sent] = triggers(trainer)
    [row] = rows(db)
    assert (row.status, row.reason, row.model_id, row.model_version) == (
        "triggered",
        "",
        "credit",
        "1",
    )
    assert row.created_at == NOW
    assert retraining(sent) == {
        "trigger_id": row.id,
        "idempotency_key": row.idempotency_key,
        "model_id": "credit",
        "model_version": "1",
        "callback_url": f"https://driftwarden.example.org/v1/retraining/{row.id}/outcome",
    }
    assert header(sent, IDEMPOTENCY_HEADER) == row.idempotency_key
    assert verify_signature(SECRET, header(sent, SIGNATURE_HEADER), sent.body)
    assert not verify_signature("other", header(sent, SIGNATURE_HEADER), sent.body)
    body = sent.json()
    assert body["status"] == "firing"
    assert [(a["status"], a["labels"]["alertname"]) for a in body["alerts"]] == [
        ("firing", "DatasetDrift")
    ]
    assert [a["fingerprint"] for a in row.alerts] == [body["alerts"][0]["fingerprint"]]


def test_a_repeat_of_the_episode_is_the_same_trigger_and_a_resolution_triggers_nothing(
    db: Engine, trainer: RecordingReceiver, client: httpx.Client
) -> None:
    configure(db, trainer)
    drifting(db, 0)
    cycle(db, client, NOW)
    cycle(db, client, NOW + 5 * M)  # group_interval: nothing new, no repeat yet
    assert len(triggers(trainer)) == 1
    cycle(db, client, NOW + H)  # repeat_interval
    first, repeat = triggers(trainer)
    assert retraining(repeat) == retraining(first)
    assert header(repeat, IDEMPOTENCY_HEADER) == header(first, IDEMPOTENCY_HEADER)
    assert len(rows(db)) == 1  # not recorded twice

    write_window(db, 1, drift({"income": False, "age": False}))
    cycle(db, client, NOW + H + M)  # resolves; the group flushes at its next interval
    cycle(db, client, NOW + H + 5 * M)
    assert len(triggers(trainer)) == 2  # a resolution retrains nothing
    assert [r.status for r in rows(db)] == ["triggered"]

    # The model drifts again: a new episode, a new trigger (the cooldown, 24h, blocks it).
    drifting(db, 2)
    cycle(db, client, NOW + 2 * H)
    assert len(triggers(trainer)) == 2
    old, new = rows(db)
    assert new.idempotency_key != old.idempotency_key
    assert (new.status, new.reason) == (
        "blocked",
        "cooldown=24h: last trigger at 2026-11-20T12:00:00+00:00",
    )


# --- the policy ------------------------------------------------------------------------


def test_require_signals_blocks_until_every_signal_fires(
    db: Engine, trainer: RecordingReceiver, client: httpx.Client
) -> None:
    configure(db, trainer, "{require_signals: [data_drift, performance]}")
    drifting(db, 0)
    cycle(db, client, NOW)
    assert triggers(trainer) == []
    [blocked] = rows(db)
    assert blocked.status == "blocked"
    assert blocked.reason == "require_signals: no firing alert of signal ['performance']"

    # The performance alert joins the model version's group: both signals fire now.
    write_window(db, 0, [Row("accuracy", 0.7)], signal="performance")
    cycle(db, client, NOW + 5 * M)
    [sent] = triggers(trainer)
    assert sorted(a["labels"]["signal"] for a in sent.json()["alerts"]) == [
        "data_drift",
        "performance",
    ]
    assert [(r.status, r.reason) for r in rows(db)] == [
        ("blocked", blocked.reason),
        ("triggered", ""),
    ]
    assert retraining(sent)["trigger_id"] == rows(db)[1].id


def test_cooldown_blocks_a_second_trigger_of_the_model_and_allows_it_after(
    db: Engine, trainer: RecordingReceiver, client: httpx.Client
) -> None:
    configure(db, trainer, "{cooldown: 2h}")
    drifting(db, 0, version="1")
    cycle(db, client, NOW)
    drifting(db, 0, version="2")  # another version of the same model
    cycle(db, client, NOW + H)
    by_version = {r.model_version: r for r in rows(db)}
    assert (by_version["2"].status, by_version["2"].reason) == (
        "blocked",
        "cooldown=2h: last trigger at 2026-11-20T12:00:00+00:00",
    )
    assert {retraining(t)["model_version"] for t in triggers(trainer)} == {"1"}

    cycle(db, client, NOW + 2 * H)  # version 2's repeat, the cooldown over: triggered
    v2 = [t for t in triggers(trainer) if retraining(t)["model_version"] == "2"]
    assert len(v2) == 1
    v2_row = next(r for r in rows(db) if r.model_version == "2")
    assert (v2_row.status, v2_row.reason, v2_row.created_at) == ("triggered", "", NOW + 2 * H)
    assert retraining(v2[0])["idempotency_key"] == by_version["2"].idempotency_key
    assert len(rows(db)) == 2  # the blocked decision was taken again, not added


def test_max_triggers_per_period(
    db: Engine, trainer: RecordingReceiver, client: httpx.Client
) -> None:
    configure(db, trainer, "{cooldown: 1h, max_triggers: 2, per: 1d}")
    for i, version in enumerate(["1", "2", "3"]):
        drifting(db, 0, version=version)
        cycle(db, client, NOW + 2 * i * H)
    assert [(r.model_version, r.status) for r in rows(db)] == [
        ("1", "triggered"),
        ("2", "triggered"),
        ("3", "blocked"),
    ]
    assert rows(db)[2].reason == "max_triggers=2 per 1d: 2 already"
    assert "3" not in {retraining(t)["model_version"] for t in triggers(trainer)}

    # Version 3's repeats decide again: a minute short of a day after the first trigger
    # both still count; the next repeat, an hour on, finds the first out of the period.
    cycle(db, client, NOW + 24 * H - M)
    assert (rows(db)[2].status, rows(db)[2].created_at) == ("blocked", NOW + 24 * H - M)
    cycle(db, client, NOW + 25 * H - M)
    assert (rows(db)[2].status, rows(db)[2].created_at) == ("triggered", NOW + 25 * H - M)
    assert "3" in {retraining(t)["model_version"] for t in triggers(trainer)}


def test_min_labelled_rows_counts_the_models_labels_within_the_period(
    db: Engine, trainer: RecordingReceiver, client: httpx.Client
) -> None:
    configure(db, trainer, "{min_labelled_rows: 3, labelled_within: 1d}")
    add_labels(db, "credit", [NOW - H, NOW - 22 * H, NOW - 2 * 24 * H])  # one too old
    add_labels(db, "other", [NOW - H, NOW - H])  # another model's
    drifting(db, 0)
    cycle(db, client, NOW)
    assert triggers(trainer) == []
    [row] = rows(db)
    assert (row.status, row.reason) == (
        "blocked",
        "min_labelled_rows=3: 2 labels of credit within 1d",
    )

    add_labels(db, "credit", [NOW])
    cycle(db, client, NOW + H)  # the repeat: three labels within a day of NOW + 1h
    [sent] = triggers(trainer)
    [row] = rows(db)
    assert (row.status, row.reason) == ("triggered", "")
    assert retraining(sent)["idempotency_key"] == row.idempotency_key


# --- the outcome callback --------------------------------------------------------------


@pytest.fixture
def api(db: Engine, database_url: str) -> Iterator[Api]:
    client = Api(database_url)
    yield client
    client.close()


def test_a_succeeded_outcome_registers_the_new_version_with_its_baseline(
    db: Engine, trainer: RecordingReceiver, client: httpx.Client, api: Api
) -> None:
    register(db)  # credit version 1: feature schema and a "training" baseline
    configure(db, trainer)
    drifting(db, 0)
    cycle(db, client, NOW)
    [trigger] = rows(db)

    response = api.post(
        f"/v1/retraining/{trigger.id}/outcome",
        {
            "status": "succeeded",
            "new_version": "2",
            "copy_baseline": "training",
            "detail": "job 42",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "trigger_id": trigger.id,
        "status": "succeeded",
        "model_id": "credit",
        "model_version": "1",
        "new_version": "2",
    }
    [done] = rows(db)
    assert (done.status, done.new_version, done.detail) == ("succeeded", "2", "job 42")
    assert done.outcome_at is not None
    with Session(db) as s:
        schemas: dict[str, list[Any]] = dict(
            s.execute(
                select(ModelVersion.version, ModelVersion.feature_schema).where(
                    ModelVersion.model_id == "credit"
                )
            ).all()
        )
        baselines: dict[str, int] = dict(
            s.execute(
                select(Baseline.model_version, Baseline.n_rows).where(
                    Baseline.model_id == "credit", Baseline.name == "training"
                )
            ).all()
        )
    assert schemas["2"] == schemas["1"]
    assert baselines == {"1": 3000, "2": 3000}

    # With its outcome reported, the episode's repeat does not remind the trainer.
    cycle(db, client, NOW + H)
    assert len(triggers(trainer)) == 1


def test_outcomes_that_cannot_be_recorded_are_refused(
    db: Engine, trainer: RecordingReceiver, client: httpx.Client, api: Api
) -> None:
    register(db)
    configure(db, trainer, "{require_signals: [performance]}")
    drifting(db, 0, version="1")
    cycle(db, client, NOW)
    [blocked] = rows(db)
    assert blocked.status == "blocked"

    def post(trigger_id: int, **body: Any) -> httpx.Response:
        return api.post(f"/v1/retraining/{trigger_id}/outcome", body)

    refused = post(blocked.id, status="succeeded")
    assert refused.status_code == 422
    assert "blocked by its policy" in refused.json()["detail"]
    unknown = post(999, status="failed")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "trigger_id=999: no such retraining trigger"

    # A triggered one (the policy no longer asks for performance) and bad reports of it.
    configure(db, trainer, "{}")
    cycle(db, client, NOW + H)
    triggered = rows(db)[0]
    assert triggered.status == "triggered"
    cases = [
        ({"status": "done"}, "body.status='done'"),
        ({"status": "failed", "new_version": "2"}, "new_version='2': only a succeeded"),
        ({"status": "succeeded", "copy_baseline": "training"}, "copy_baseline='training'"),
        ({"status": "succeeded", "new_version": "1"}, "new_version='1': is the retrained"),
    ]
    for body, words in cases:
        response = post(triggered.id, **body)
        assert response.status_code == 422, body
        assert words in response.json()["detail"], response.json()

    # A baseline that cannot be copied (the new version's schema differs) refuses the
    # whole outcome: the version stays unregistered by it and the trigger unreported.
    with Session(db) as s, s.begin():
        s.add(ModelVersion(model_id="credit", version="3", feature_schema=[{"name": "x"}]))
    response = post(triggered.id, status="succeeded", new_version="3", copy_baseline="training")
    assert response.status_code == 422
    assert "differ in features" in response.json()["detail"]
    assert rows(db)[0].status == "triggered"
