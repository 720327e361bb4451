"""`driftwarden traffic`: the demo models registered once, live events through the real
broker and ingest path, drift from the given time on, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from factories import settings_env
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.db.models import Baseline, Label, Monitor, Prediction
from monitor.demo.live import MODELS, register_live_models
from monitor.ingest.consumer import IngestLoop
from monitor.ingest.topics import ensure_topics

CLI = os.path.join(os.path.dirname(sys.executable), "driftwarden")


def test_register_is_idempotent(db: Engine) -> None:
    assert register_live_models(db) == [m.model_id for m in MODELS]
    with Session(db) as s:
        created = s.scalars(select(Baseline.created_at)).all()
    assert register_live_models(db) == []  # the baselines are kept, not re-saved
    with Session(db) as s:
        assert s.scalars(select(Baseline.created_at)).all() == created
        specs = {m.model_id: m.spec for m in s.scalars(select(Monitor))}
    assert set(specs) == {m.model_id for m in MODELS}
    assert all(spec["window"] == "5m" for spec in specs.values())


def test_traffic_command_produces_live_events_until_sigterm(db: Engine, settings: Settings) -> None:
    ensure_topics(
        settings.bootstrap_servers,
        [settings.predictions_topic, settings.labels_topic, settings.features_topic],
    )
    began = datetime.now(UTC)
    proc = subprocess.Popen(
        [CLI, "traffic", "--rate", "40", "--drift-after", "2s"],
        env={**os.environ, **settings_env(settings), "DRIFTWARDEN_LOG_LEVEL": "WARNING"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # once registered and producing
        assert "producing" in first, first
        time.sleep(5)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        out = first + out
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "registered: fraud-detector, eta-regressor" in out
    assert out.rstrip().endswith(" 0 dropped"), out  # it produced only once connected
    IngestLoop(settings, db).run(threading.Event(), idle_exit_s=3)
    with Session(db) as s:
        per_model = dict(
            s.execute(select(Prediction.model_id, func.count()).group_by(Prediction.model_id)).all()
        )
        n_labels = s.scalar(select(func.count()).select_from(Label))
        oldest, newest = s.execute(select(func.min(Prediction.ts), func.max(Prediction.ts))).one()
        dead = s.scalar(text("SELECT count(*) FROM dead_letters"))
    # ~40/s per model for ~5 s once the producer connected: well above a few ticks' worth.
    assert set(per_model) == {m.model_id for m in MODELS}
    assert all(n >= 40 for n in per_model.values()), per_model
    assert n_labels == (sum(per_model.values()) + 3) // 4  # the 1st, 5th, 9th ... event
    assert dead == 0
    assert began - timedelta(seconds=1) <= oldest <= newest <= datetime.now(UTC)


def test_traffic_names_a_broker_that_never_accepts_its_producer() -> None:
    # In a process of its own: the Kafka client's connect thread outlives the call, holding
    # sockets that would be reported as leaked in whichever test runs next.
    script = """
import threading
from datetime import timedelta
from monitor.config import Settings
from monitor.demo import live
live.CONNECT_TIMEOUT_S = 1.0
nobody = Settings(kafka_bootstrap_servers="127.0.0.1:1")
live.produce_live(nobody, threading.Event(), rate=10, drift_after=timedelta(0))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert done.stderr.rstrip().endswith(
        "RuntimeError: the broker at 127.0.0.1:1 did not accept the producer in 1 s"
    ), done.stderr
