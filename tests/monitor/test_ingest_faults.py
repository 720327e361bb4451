"""Faults against the real broker and PostgreSQL: crashes, outages, consumer groups.

Each asserts the delivery contract: every event stored exactly once.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import threading
import time
from datetime import timedelta

import numpy as np
import pytest
from factories import CLI, encode, events, recent_start, register, scalar, settings_env
from sqlalchemy import Engine, text

from monitor.config import Settings
from monitor.db.engine import make_engine
from monitor.ingest.consumer import IngestLoop
from monitor.ingest.topics import ensure_topics
from monitor.sdk import PredictionLogger

START = recent_start()


def stored_exactly(engine: Engine, n: int) -> None:
    assert scalar(engine, "SELECT count(*) FROM predictions") == n
    assert scalar(engine, "SELECT count(DISTINCT event_id) FROM predictions") == n


def messages(n: int, seed: int) -> list[bytes]:
    """``n`` prediction events, 10,000 per hour from START."""
    rng = np.random.default_rng(seed)
    out: list[bytes] = []
    for hour, lo in enumerate(range(0, n, 10_000)):
        batch = events(
            START + timedelta(hours=hour), min(10_000, n - lo), rng=rng, prefix=f"h{hour}"
        )
        out.extend(encode(e) for e in batch)
    return out


def stream(settings: Settings, payloads: list[bytes], *, per_second: float | None = None) -> None:
    logger = PredictionLogger(
        bootstrap_servers=settings.bootstrap_servers, predictions_topic=settings.predictions_topic
    )
    assert logger.wait_connected(timeout=30)
    try:
        began = time.monotonic()
        for i, raw in enumerate(payloads):
            logger.send_raw(settings.predictions_topic, raw)
            if per_second and i % 1000 == 0:
                ahead = i / per_second - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
        logger.flush()
    finally:
        logger.close()


def env_for(settings: Settings) -> dict[str, str]:
    return {**os.environ, **settings_env(settings), "DRIFTWARDEN_LOG_LEVEL": "WARNING"}


@pytest.mark.timeout(600)
def test_sigkill_at_random_points_while_100k_events_stream_in(
    db: Engine, settings: Settings
) -> None:
    register(db)
    ensure_topics(settings.bootstrap_servers, [settings.predictions_topic], partitions=4)
    payloads = messages(100_000, seed=1)
    producer = threading.Thread(
        target=stream, args=(settings, payloads), kwargs={"per_second": 25_000}
    )
    producer.start()
    rng = random.Random(7)
    kills = 0
    try:
        for _ in range(4):
            proc = subprocess.Popen(
                [CLI, "ingest"],
                env=env_for(settings),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Let it join the group and write some batches, then kill it mid-flight.
            time.sleep(rng.uniform(4.0, 7.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
    finally:
        producer.join()
    assert kills == 4
    # Tansu keeps a SIGKILLed member in the group, and gives it partitions, until a
    # member joins after the dead one's session expired; and a rebalance it starts
    # meanwhile waits for the dead members to rejoin, blocking the survivors' poll (in
    # kafka-python's join) for good. Apache Kafka expires dead members on its own. So
    # let the dead sessions expire before restarting, and should a restarted consumer
    # still hang in a join, kill it and start another (one more restart after a kill).
    time.sleep(settings.session_timeout_ms / 1000 + 2)
    deadline = time.monotonic() + 420
    while scalar(db, "SELECT count(*) FROM predictions") < 100_000:
        assert time.monotonic() < deadline, "the restarted consumers never caught up"
        proc = subprocess.Popen(
            [CLI, "ingest", "--idle-exit", "10"],
            env=env_for(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert proc.wait(timeout=60) == 0
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    stored_exactly(db, 100_000)


def test_connections_killed_mid_stream_are_survived(db: Engine, settings: Settings) -> None:
    register(db)
    ensure_topics(settings.bootstrap_servers, [settings.predictions_topic], partitions=2)
    stream(settings, messages(20_000, seed=2))
    engine = make_engine(settings)
    loop = IngestLoop(settings, engine)
    stop = threading.Event()
    result: dict[str, object] = {}
    worker = threading.Thread(target=lambda: result.update(stats=loop.run(stop, idle_exit_s=4)))
    worker.start()
    try:
        # Kill the ingest's connections again and again, until one dies mid-write.
        killed = 0
        deadline = time.monotonic() + 60
        while worker.is_alive() and loop.stats.db_failures < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            killed += scalar(
                db,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
    finally:
        worker.join(timeout=120)
        engine.dispose()
    assert killed >= 1
    stats = result["stats"]
    assert stats.db_failures >= 1  # type: ignore[attr-defined]
    stored_exactly(db, 20_000)


def test_a_failed_batch_is_replayed_by_the_same_running_consumer(
    outage: Engine, settings: Settings
) -> None:
    db = outage
    register(db)
    ensure_topics(settings.bootstrap_servers, [settings.predictions_topic], partitions=2)
    stream(settings, messages(3_000, seed=3))
    engine = make_engine(settings)
    loop = IngestLoop(settings, engine)
    result: dict[str, object] = {}
    worker = threading.Thread(
        target=lambda: result.update(stats=loop.run(threading.Event(), idle_exit_s=4))
    )
    worker.start()
    deadline = time.monotonic() + 60
    while (
        scalar(db, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM e2e_fault_hits") < 2
    ):
        assert time.monotonic() < deadline, "ingest never tried to write"
        time.sleep(0.2)
    with db.begin() as conn:
        conn.execute(text("UPDATE e2e_fault SET active = false"))  # the database recovers
    worker.join(timeout=120)
    engine.dispose()
    assert result["stats"].db_failures >= 2  # type: ignore[attr-defined]
    stored_exactly(db, 3_000)


def test_two_consumers_in_one_group_split_the_partitions(db: Engine, settings: Settings) -> None:
    register(db)
    ensure_topics(settings.bootstrap_servers, [settings.predictions_topic], partitions=4)
    stream(settings, messages(20_000, seed=4))
    procs = [
        subprocess.Popen(
            [CLI, "ingest", "--idle-exit", "6"],
            env=env_for(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    consumed = [int(re.search(r"consumed=(\d+)", out).group(1)) for out in outputs]  # type: ignore[union-attr]
    assert all(c > 0 for c in consumed), consumed  # both got partitions
    stored_exactly(db, 20_000)
