"""Test data: a small registered model with a baseline, and events for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from monitor.config import load_settings
from monitor.db.engine import make_engine
from monitor.detection.baseline import build_profile, save_baseline
from monitor.detection.spec import MonitorSpec
from monitor.ingest.catalog import ModelCatalog
from monitor.ingest.consumer import IngestLoop
from monitor.ingest.prepare import Preparer
from monitor.ingest.sink import Batch, BatchWriter, Source
from monitor.resources import FeatureSchema, ModelDoc, MonitorDoc, register_model, upsert_monitor

MODEL = "credit"
KINDS = {"income": "numerical", "age": "numerical", "region": "categorical"}
# A monitor spec as stored before monitors.yaml added its keys (reference, step, schedule,
# reference_window): stored rows like it must keep loading.
LEGACY_SPEC: dict[str, Any] = {
    "model_id": MODEL,
    "signal": "data_drift",
    "features": None,
    "window": "1h",
    "delay": "5m",
    "min_rows": 50,
    "baseline": "training",
    "methods": {},
    "policy": {
        "alpha": 0.05,
        "min_effect": None,
        "min_missing_change": 0.01,
        "correction": "bonferroni",
        "share_threshold": 0.5,
    },
}


def columns(rng: np.random.Generator, n: int, *, shift: bool = False) -> dict[str, list[Any]]:
    regions = ["north", "south", "east", "west"]
    p = [0.1, 0.2, 0.3, 0.4] if shift else [0.25, 0.25, 0.25, 0.25]
    return {
        "income": np.round(rng.normal(5.0 if shift else 3.0, 1.0, n), 3).tolist(),
        "age": rng.integers(18, 80, n).tolist(),
        "region": rng.choice(regions, p=p, size=n).tolist(),
    }


def register(engine: Engine, *, seed: int = 1, window: str = "1h", min_rows: int = 50) -> None:
    with Session(engine) as session, session.begin():
        register_model(
            session,
            ModelDoc(
                model_id=MODEL,
                task_type="binary_classification",
                version="1",
                features=[FeatureSchema(name=n, kind=k) for n, k in KINDS.items()],  # type: ignore[arg-type]
            ),
        )
        profile, n = build_profile(columns(np.random.default_rng(seed), 3000), KINDS)
        save_baseline(session, model_id=MODEL, model_version="1", profile=profile, n_rows=n)
        upsert_monitor(
            session,
            MonitorDoc(
                name="credit-drift",
                spec=MonitorSpec(model_id=MODEL, window=window, min_rows=min_rows),
            ),
        )


def events(
    start: datetime, n: int, *, rng: np.random.Generator, shift: bool = False, prefix: str = "e"
) -> list[dict[str, Any]]:
    cols = columns(rng, n, shift=shift)
    step = timedelta(hours=1) / n
    return [
        {
            "event_id": f"{prefix}-{i}",
            "model_id": MODEL,
            "model_version": "1",
            "timestamp": (start + i * step).isoformat(),
            "features": {k: v[i] for k, v in cols.items()},
            "prediction": 1,
        }
        for i in range(n)
    ]


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def recent_start(days_ago: int = 3) -> datetime:
    """A whole hour a few days back: inside the retention horizon whatever today is."""
    now = datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(days=days_ago)


def store(
    engine: Engine,
    evs: list[dict[str, Any]],
    *,
    topic: str = "driftwarden.predictions",
    writer: BatchWriter | None = None,
) -> Any:
    """Write events through the same prepare + batch-write path as ingest (no Kafka);
    ``writer`` carries a writer's state from batch to batch, as in a consumer."""

    settings = load_settings()
    catalog = ModelCatalog(refresh_s=0)
    preparer = Preparer(settings, catalog)
    batch = Batch()
    with Session(engine) as session:
        for i, e in enumerate(evs):
            preparer.add(session, batch, Source(topic, 0, i), encode(e))
        assert not batch.rejected, batch.rejected
        return (writer or BatchWriter(engine, catalog)).write(session, batch)


def settings_env(settings: Any) -> dict[str, str]:
    """The DRIFTWARDEN_* variables that reproduce ``settings`` in a subprocess."""
    return {
        f"DRIFTWARDEN_{name.upper()}": str(value) for name, value in settings.model_dump().items()
    }


def produce(
    bootstrap: str, topic: str, messages: list[bytes], *, partition: int | None = 0
) -> None:

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for raw in messages:
            producer.send(topic, value=raw, partition=partition)
        producer.flush(timeout=30)
    finally:
        producer.close()


def committed_offset(settings: Any, topic: str, partition: int = 0) -> int | None:

    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
    )
    try:
        return consumer.committed(TopicPartition(topic, partition))  # type: ignore[no-any-return]
    finally:
        consumer.close(autocommit=False)


# The console script installed next to the interpreter running the tests.
CLI = str(Path(sys.executable).parent / "driftwarden")


def scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text(sql)) or 0)


def run_ingest(settings: Any, idle_exit_s: float = 2.0) -> Any:
    """Run the ingest loop in this process until it has been idle for ``idle_exit_s``."""

    engine = make_engine(settings)
    try:
        return IngestLoop(settings, engine).run(threading.Event(), idle_exit_s=idle_exit_s)
    finally:
        engine.dispose()


def cli(settings: Any, *args: str, timeout: float = 120) -> str:
    """Run ``driftwarden ARGS`` with ``settings`` in its environment; its stdout."""

    env = {**os.environ, **settings_env(settings)}
    done = subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"driftwarden {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout
