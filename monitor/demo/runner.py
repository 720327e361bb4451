"""Orchestrates `driftwarden demo`: services, setup, traffic, ingest, detect, alert.

Everything runs through the same code paths as the long-running roles; only the
services are embedded (unless DRIFTWARDEN_DATABASE_URL / _KAFKA_BOOTSTRAP_SERVERS are set).
The alerting config is a rules file (rules.yaml next to this module) applied as
`driftwarden rules apply` applies one, and one cycle of `driftwarden alert` evaluates,
groups and delivers.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, Protocol

import httpx
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerting.alerter import run_cycle
from monitor.alerting.config_store import apply_config
from monitor.alerting.dispatch import DeliveryReport
from monitor.alerting.evaluator import AlertEvent
from monitor.alerting.notifiers.webhook import SIGNATURE_HEADER, verify_signature
from monitor.alerting.rules import load_config
from monitor.config import Settings, load_settings
from monitor.db import migrate
from monitor.db.engine import make_engine
from monitor.db.models import DeadLetter, Notification
from monitor.demo.receiver import RecordingReceiver
from monitor.demo.send import VERSION, log_rows
from monitor.demo.traffic import ETA, FRAUD, SyntheticModel
from monitor.detection.baseline import build_profile, save_baseline
from monitor.detection.evaluate import RunSummary
from monitor.detection.monitors_apply import apply_monitors
from monitor.detection.monitors_file import parse_monitors
from monitor.detection.runner import run_due
from monitor.epoch import floor_to
from monitor.ingest.consumer import IngestLoop, IngestStats
from monitor.ingest.topics import ensure_topics
from monitor.resources import FeatureSchema, ModelDoc, register_model
from monitor.sdk import PredictionLogger
from monitor.services import Service
from monitor.services.broker import resolve_broker
from monitor.services.postgres import resolve_postgres, scratch_database, start_embedded

WINDOW = timedelta(hours=1)
SECRET = "demo-signing-secret"  # noqa: S105 - a demo value, printed nowhere
MONITORS_FILE = "monitors.yaml"  # next to this module; shipped as package data
RULES_FILE = "rules.yaml"  # likewise


class Reporter(Protocol):
    def step(self, text: str) -> None: ...

    def progress(self, task: str, done: int, total: int) -> None: ...


@dataclass(frozen=True)
class Carried:
    """A notification's group labels and the (status, feature) of each of its alerts."""

    group: dict[str, str]
    alerts: list[tuple[str, str]]


@dataclass
class DemoOutcome:
    services: list[str] = field(default_factory=list)
    produced: int = 0
    bad_messages: int = 0
    ingest: IngestStats = field(default_factory=IngestStats)
    # (topic[partition]@offset, error_class, error_message) of each dead letter
    dead_letters: list[tuple[str, str, str]] = field(default_factory=list)
    ingest_seconds: float = 0.0
    runs: list[RunSummary] = field(default_factory=list)
    alerts: list[AlertEvent] = field(default_factory=list)
    deliveries: list[DeliveryReport] = field(default_factory=list)
    # What each delivered notification carried, by its id (read back from the outbox).
    carried: dict[int, Carried] = field(default_factory=dict)
    signatures_ok: int = 0
    drift_start: datetime | None = None
    models: list[SyntheticModel] = field(default_factory=list)


def configure_model(session: Session, model: SyntheticModel, seed: int) -> None:
    register_model(
        session,
        ModelDoc(
            model_id=model.model_id,
            task_type=model.task_type,
            version=VERSION,
            features=[FeatureSchema(name=n, kind=k) for n, k in model.kinds.items()],
        ),
    )
    training = model.generate(np.random.default_rng(seed), 20_000, False)
    profile, n_rows = build_profile(training, model.kinds, seed=seed)
    save_baseline(
        session, model_id=model.model_id, model_version=VERSION, profile=profile, n_rows=n_rows
    )


def _apply_monitors(session: Session) -> None:
    """The demo's monitors, from its monitors.yaml, as `driftwarden monitors apply`."""
    text = resources.files("monitor.demo").joinpath(MONITORS_FILE).read_text(encoding="utf-8")
    apply_monitors(session, parse_monitors(text, source=f"monitor/demo/{MONITORS_FILE}"))


def _apply_rules(session: Session, receiver_url: str, now: datetime) -> None:
    """The demo's alerting config, from its rules.yaml, as `driftwarden rules apply`:
    ``${DEMO_WEBHOOK_URL}`` and ``${DEMO_WEBHOOK_SECRET}`` come from the demo, not from
    the environment (the receiver's port is only known once it listens)."""
    text = resources.files("monitor.demo").joinpath(RULES_FILE).read_text(encoding="utf-8")
    env = {"DEMO_WEBHOOK_URL": receiver_url, "DEMO_WEBHOOK_SECRET": SECRET}
    apply_config(session, load_config(text, f"monitor/demo/{RULES_FILE}", env), now=now)


def _carried(payload: dict[str, Any]) -> Carried:
    alerts = [(a["status"], a["labels"].get("feature", "")) for a in payload["alerts"]]
    return Carried(dict(payload["groupLabels"]), sorted(alerts, key=lambda a: a[1]))


def _produce(
    settings: Settings,
    *,
    models: list[SyntheticModel],
    start: datetime,
    hours: int,
    per_hour: int,
    drift_from: int,
    seed: int,
    reporter: Reporter,
) -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    logger = PredictionLogger(
        bootstrap_servers=settings.bootstrap_servers,
        predictions_topic=settings.predictions_topic,
        labels_topic=settings.labels_topic,
    )
    if not logger.wait_connected(timeout=30):
        raise RuntimeError("the broker did not accept the producer in 30 s")
    total = len(models) * hours * per_hour
    sent = 0
    try:
        for hour in range(hours):
            for model in models:
                drift = bool(model.drifted_features) and hour >= drift_from
                cols = model.generate(rng, per_hour, drift)
                offsets = np.sort(rng.uniform(0, 3600, size=per_hour))
                # A quarter of the predictions get their ground truth an hour later.
                log_rows(
                    logger,
                    model,
                    cols,
                    rng,
                    timestamps=[start + timedelta(hours=hour, seconds=float(o)) for o in offsets],
                    id_prefix=f"{model.model_id}-{hour}",
                    label_delay=timedelta(hours=1),
                )
                sent += per_hour
                reporter.progress("producing events", sent, total)
        recent = (start + timedelta(hours=1)).isoformat().encode()
        bad = [
            b"this is not json",
            b'{"model_id": "fraud-detector", "timestamp": "' + recent + b'"}',
            b'{"event_id": "x1", "model_id": "no-such-model", "timestamp": "' + recent + b'"}',
            b'{"event_id": "x2", "model_id": "fraud-detector", "model_version": "1", '
            b'"timestamp": "' + recent + b'", "features": {"amount": "twelve"}}',
            b'{"event_id": "x3", "model_id": "fraud-detector", '
            b'"timestamp": "1970-01-01T00:00:00Z"}',
        ]
        for raw in bad:
            logger.send_raw(settings.predictions_topic, raw)
        logger.flush()
    finally:
        logger.close()
    return sent, len(bad)


def run_demo(
    reporter: Reporter,
    *,
    hours: int = 12,
    per_hour: int = 1000,
    drift_from: int = 8,
    seed: int = 7,
    database_url: str | None = None,
) -> DemoOutcome:
    """Run the demo. ``per_hour`` sets the window size: at 1000 rows the effect-size gate
    (KS D or TVD >= 0.1) is far above the noise of an unchanged feature, so the 168
    per-feature tests of the default run raise no false alarm; at a few hundred rows
    the per-run Bonferroni level (5% family-wise) starts to show through.

    ``database_url``: an empty database to run in and leave filled (the dashboard and
    report tests seed theirs so); by default a scratch database, dropped at the end."""
    outcome = DemoOutcome(models=[FRAUD, ETA])
    now = datetime.now(UTC)
    start = floor_to(now, WINDOW) - hours * WINDOW
    outcome.drift_start = start + drift_from * WINDOW
    run_id = uuid.uuid4().hex[:8]
    with ExitStack() as stack:
        reporter.step("starting services")
        configured = load_settings()  # only to see what the user configured
        if database_url is not None:
            pg = Service("postgresql", database_url, False, "the given database")
        elif "database_url" in configured.model_fields_set:
            # A configured server: the demo works in a database of its own, dropped at
            # the end, so it never touches the user's monitors, rules or receivers.
            server = resolve_postgres(configured.database_url)
            pg = stack.enter_context(
                _stopping(scratch_database(server.address, prefix="driftwarden_demo"))
            )
        else:
            pg = stack.enter_context(_stopping(start_embedded()))
        broker = stack.enter_context(
            _stopping(
                resolve_broker(
                    configured.kafka_bootstrap_servers
                    if "kafka_bootstrap_servers" in configured.model_fields_set
                    else None
                )
            )
        )
        outcome.services = [f"PostgreSQL: {pg.detail}", f"Kafka-protocol broker: {broker.detail}"]
        settings = load_settings(
            database_url=pg.address,
            kafka_bootstrap_servers=broker.address,
            predictions_topic=f"driftwarden.demo-{run_id}.predictions",
            labels_topic=f"driftwarden.demo-{run_id}.labels",
            features_topic=f"driftwarden.demo-{run_id}.features",
            consumer_group=f"driftwarden-demo-{run_id}",
            batch_size=2000,
            batch_max_wait_ms=300,
            session_timeout_ms=6000,
        )
        reporter.step("migrating the database")
        migrate.upgrade(settings.sqlalchemy_url)
        engine = make_engine(settings)
        stack.callback(engine.dispose)
        receiver = stack.enter_context(RecordingReceiver())

        reporter.step("registering 2 models, their training baselines, monitors and rules")
        with Session(engine) as session, session.begin():
            for model in outcome.models:
                configure_model(session, model, seed)
            _apply_monitors(session)
            _apply_rules(session, receiver.url, now)
        ensure_topics(
            settings.bootstrap_servers, [settings.predictions_topic, settings.labels_topic]
        )

        outcome.produced, outcome.bad_messages = _produce(
            settings,
            models=outcome.models,
            start=start,
            hours=hours,
            per_hour=per_hour,
            drift_from=drift_from,
            seed=seed,
            reporter=reporter,
        )
        expected = outcome.produced * 5 // 4 + outcome.bad_messages  # + labels
        reporter.step("ingesting (consumer group -> PostgreSQL)")
        loop = IngestLoop(
            settings,
            engine,
            on_batch=lambda _c, s: reporter.progress("ingesting", s.consumed, expected),
        )
        began = time.monotonic()
        outcome.ingest = loop.run(threading.Event(), idle_exit_s=3)
        outcome.ingest_seconds = time.monotonic() - began - 3  # less the idle wait
        with Session(engine) as session:
            outcome.dead_letters = [
                (f"{d.topic}[{d.partition}]@{d.offset}", d.error_class, d.error_message)
                for d in session.scalars(select(DeadLetter).order_by(DeadLetter.id))
            ]

        reporter.step("detecting drift window by window")
        outcome.runs = run_due(
            engine,
            now=now,
            on_run=lambda r: reporter.progress("windows checked", len(outcome.runs) + 1, 0),
        )
        reporter.step("evaluating alert rules, grouping and delivering notifications")
        # One cycle of `driftwarden alert` at the demo's clock: group_wait is 0s in the
        # demo's rules, so the groups it creates are flushed and delivered in this cycle.
        with httpx.Client(timeout=10) as client:
            cycle = run_cycle(engine, client, now=now)
        outcome.alerts, outcome.deliveries = cycle.events, cycle.deliveries
        with Session(engine) as session:
            outcome.carried = {
                n.id: _carried(n.payload)
                for n in session.scalars(
                    select(Notification).where(
                        Notification.id.in_([d.notification_id for d in cycle.deliveries])
                    )
                )
            }
        outcome.signatures_ok = sum(
            verify_signature(SECRET, r.headers.get(SIGNATURE_HEADER, ""), r.body)
            for r in receiver.requests
        )
    return outcome


@contextmanager
def _stopping(service: Service) -> Iterator[Service]:
    try:
        yield service
    finally:
        service.stop()


def _hhmm(ts: datetime) -> str:
    return ts.strftime("%H:%M")


def timeline(outcome: DemoOutcome) -> list[str]:
    """The demo's report, as lines of text."""
    s = outcome.ingest
    lines = [*outcome.services, ""]
    lines.append(
        f"Ingested {s.consumed} messages in {s.batches} batches "
        f"({s.consumed / max(outcome.ingest_seconds, 1e-3):,.0f} msg/s): {s.stored} predictions "
        f"and {s.labels} labels stored, {s.dead_letters} dead letters kept with their reason:"
    )
    lines.extend(f"  {src}  {cls}: {msg}" for src, cls, msg in outcome.dead_letters)
    ok_runs = [r for r in outcome.runs if r.status == "ok"]
    lines.append(
        f"Checked {len(ok_runs)} hourly windows against the training baselines "
        f"({len(outcome.runs) - len(ok_runs)} skipped)."
    )
    if outcome.drift_start is not None:
        for model in outcome.models:
            if model.drifted_features:
                names = " and ".join(sorted(model.drifted_features))
                lines.append(
                    f"Drift was injected into {model.model_id}'s {names} "
                    f"from {_hhmm(outcome.drift_start)} UTC."
                )
    lines.append("")
    for model in outcome.models:
        runs = [r for r in ok_runs if r.model_id == model.model_id]
        first: dict[str, datetime] = {}
        count: dict[str, int] = {}
        for r in runs:
            for f in r.drifted_features:
                first.setdefault(f, r.window_start)
                count[f] = count.get(f, 0) + 1
        if not first:
            lines.append(f"{model.model_id}: no drift in {len(runs)} windows.")
            continue
        lines.append(f"{model.model_id}: drift in {len(first)} of {len(model.kinds)} features:")
        for f, ts in sorted(first.items(), key=lambda kv: kv[1]):
            lines.append(
                f"  {f}: from the {_hhmm(ts)} window, in {count[f]} of {len(runs)} windows"
            )
    lines.append("")
    for alert in outcome.alerts:
        feature = alert.labels.get("feature", "")
        lines.append(
            f"Alert {alert.rule} {alert.status} for {alert.labels['model']}/{feature} "
            f"at the window ending {_hhmm(alert.at)}."
        )
    for d in outcome.deliveries:
        carried = outcome.carried.get(d.notification_id, Carried({}, []))
        group = ", ".join(f"{k}={v}" for k, v in sorted(carried.group.items()))
        alerts = ", ".join(f"{feature} {status}" for status, feature in carried.alerts)
        n = len(carried.alerts)
        lines.append(
            f"Notification {d.notification_id} -> {d.receiver} ({d.url}): {d.status}"
            f" (HTTP {d.delivery.status}), group {{{group}}}: {n} alert{'s' * (n != 1)}"
            f" in one message ({alerts})."
        )
    lines.append(
        f"{outcome.signatures_ok} of {len(outcome.deliveries)} webhook signatures "
        "verified by the receiver."
    )
    return lines
