"""Prometheus metrics (monitor/metrics.py) and the consumer_lag rows.

Each role runs as its real sub-command (`driftwarden ingest`, `detect`, `alert`,
`api`) on its own port; after real traffic its /metrics is scraped over HTTP and each
counter is compared with the rows the database holds.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from api_support import bearer, issue_key
from factories import CLI, MODEL, cli, encode, events, produce, recent_start, register, scalar
from factories import settings_env as env_of
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

from monitor import metrics
from monitor.config import Settings
from monitor.db.engine import make_engine
from monitor.demo.receiver import RecordingReceiver
from monitor.epoch import floor_to
from monitor.ingest.consumer import IngestLoop
from monitor.ingest.lag import LagRecorder, PartitionLag
from monitor.ingest.topics import ensure_topics

HOUR = timedelta(hours=1)
ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
RULES = """
version: 1
receivers:
  - {name: metrics-hook, type: webhook, url: "URL"}
route:
  receiver: metrics-hook
  group_by: [alertname, model]
  group_wait: 0s
groups:
  - name: drift
    rules:
      - alert: FeatureDrift
        matchers: ['signal="data_drift"', 'feature!=""', 'metric!~"missing_share|drift_share"']
        condition: alert == 1
        keep_firing_for: 1
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=5)
    response.raise_for_status()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def series(samples: Samples, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """The samples of ``name`` keyed by the values of ``labels``, zeros left out."""
    out = {}
    for (sample, pairs), value in samples.items():
        if sample == name and value:
            given = dict(pairs)
            out[tuple(given[label] for label in labels)] = value
    return out


def rows(engine: Engine, sql: str) -> dict[tuple[str, ...], float]:
    """``SELECT key..., count`` as {(key, ...): count}, keys as the exposition's strings."""
    with engine.connect() as conn:
        return {tuple(str(k) for k in row[:-1]): float(row[-1]) for row in conn.execute(text(sql))}


class Role:
    """``driftwarden ARGS`` as a long-running subprocess, its output in files."""

    def __init__(self, settings: Settings, tmp_path: Path, *args: str) -> None:
        name = args[0]
        self.out = tmp_path / f"{name}.out"
        self.err = tmp_path / f"{name}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(
                [CLI, *args], env={**os.environ, **env_of(settings)}, stdout=out, stderr=err
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"exited {self.proc.returncode}:\n{self.err.read_text()}")
        return True


@pytest.fixture
def roles(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., Role]]:
    started: list[Role] = []

    def start(*args: str) -> Role:
        started.append(Role(settings, tmp_path, *args))
        return started[-1]

    yield start
    for role in started:
        role.stop()


def exposed(metric: Any) -> str:
    """The name a metric has in the exposition (a counter's ``_total`` included)."""
    return str(metric._name) + ("_total" if isinstance(metric, Counter) else "")


@pytest.mark.parametrize("metric", metrics.ALL, ids=exposed)
def test_metric_follows_prometheus_naming(metric: Any) -> None:
    name = exposed(metric)
    assert re.fullmatch(r"driftwarden_[a-z_]+", name), name
    if isinstance(metric, Counter):
        assert name.endswith("_total")
    elif isinstance(metric, Histogram):
        assert name.endswith("_seconds"), "histograms here time things, in seconds"
    else:
        assert isinstance(metric, Gauge)
        assert not name.endswith(("_total", "_count", "_sum", "_bucket")), name
    assert metric._documentation.strip()
    assert f"`{name}`" in ARCHITECTURE.read_text(), "listed in docs/architecture.md, Metrics"


def test_every_driftwarden_metric_is_defined_in_the_metrics_module() -> None:
    from prometheus_client import REGISTRY  # noqa: PLC0415

    defined = {exposed(m).removesuffix("_total") for m in metrics.ALL}
    registered = {f.name for f in REGISTRY.collect() if f.name.startswith("driftwarden_")} - {
        f"{n}_created" for n in defined
    }
    assert registered == defined


def test_a_taken_metrics_port_is_logged_and_the_role_runs_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="monitor.metrics"):
            metrics.serve_metrics(port, host="127.0.0.1")  # does not raise
    assert f"metrics_port={port}: cannot serve /metrics" in caplog.text


def test_api_serves_its_metrics_in_the_prometheus_text_format(
    db: Engine, settings: Settings, roles: Callable[..., Role]
) -> None:
    register(db)
    port = free_port()
    api = roles("api", "--host", "127.0.0.1", "--port", str(port))
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        api.alive()
        try:
            return httpx.get(base + "/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, 60, "the API to listen")
    sent = events(recent_start(), 3, rng=np.random.default_rng(3))
    answer = httpx.post(
        base + "/v1/events",
        json={"predictions": [*sent, sent[0]]},
        headers=bearer(issue_key(db, "write")),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text

    response = httpx.get(base + "/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = scrape(base + "/metrics")
    stored = series(samples, "driftwarden_events_stored_total", "kind")
    assert (
        stored
        == {("prediction",): scalar(db, "SELECT count(*) FROM predictions")}
        == {("prediction",): 3}
    )
    assert series(samples, "driftwarden_events_duplicate_total", "kind") == {("prediction",): 1}
    assert samples[("driftwarden_batch_write_seconds_count", ())] == 1


def test_each_role_counts_what_the_database_holds(
    db: Engine,
    settings: Settings,
    tmp_path: Path,
    roles: Callable[..., Role],
) -> None:
    register(db)
    topic, labels_topic = settings.predictions_topic, settings.labels_topic
    ensure_topics(settings.bootstrap_servers, [topic, labels_topic], partitions=2)
    start = floor_to(datetime.now(UTC), HOUR) - 4 * HOUR
    rng = np.random.default_rng(8)
    sent = [e for i in range(3) for e in events(start + i * HOUR, 120, rng=rng, shift=i == 1)]
    messages = [encode(e) for e in sent] + [encode(e) for e in sent[:5]]  # 5 resent
    messages[50:50] = [b"not json", b'{"event_id": "x", "model_id": "ghost"}', b"{}"]
    half = len(messages) // 2
    produce(settings.kafka_bootstrap_servers, topic, messages[:half], partition=0)
    produce(settings.kafka_bootstrap_servers, topic, messages[half:], partition=1)
    labels = [
        encode(
            {"event_id": e["event_id"], "model_id": MODEL, "label": 1, "timestamp": e["timestamp"]}
        )
        for e in sent[:20]
    ]
    produce(settings.kafka_bootstrap_servers, labels_topic, labels, partition=0)
    offsets = {(topic, 0): half, (topic, 1): len(messages) - half, (labels_topic, 0): 20}

    # Ingest: runs until everything is stored and its lag rows read 0.
    port = free_port()
    ingest = roles("ingest", "--metrics-port", str(port))

    def lag_rows() -> dict[tuple[str, int], tuple[str, int, int, int]]:
        with db.connect() as conn:
            return {
                (t, p): (g, c, h, lag)
                for g, t, p, c, h, lag in conn.execute(
                    text(
                        "SELECT consumer_group, topic, partition, committed_offset, "
                        "high_watermark, lag FROM consumer_lag"
                    )
                )
            }

    wait_for(
        lambda: (
            ingest.alive()
            and {k: v[1] for k, v in lag_rows().items()} == offsets
            and all(v[3] == 0 for v in lag_rows().values())
        ),
        90,
        "ingest to store everything and write its lag rows",
    )
    assert lag_rows() == {k: (settings.consumer_group, n, n, 0) for k, n in offsets.items()}
    samples = scrape(f"http://127.0.0.1:{port}/metrics")
    assert series(samples, "driftwarden_events_consumed_total", "topic") == {
        (topic,): len(messages),
        (labels_topic,): 20,
    }
    assert scalar(db, "SELECT count(*) FROM predictions") == 360
    assert series(samples, "driftwarden_events_stored_total", "kind") == {
        ("prediction",): 360,
        ("label",): scalar(db, "SELECT count(*) FROM labels"),
    }
    assert series(samples, "driftwarden_events_duplicate_total", "kind") == {("prediction",): 5}
    dead = rows(db, "SELECT error_class, count(*) FROM dead_letters GROUP BY 1")
    assert sum(dead.values()) == 3
    assert series(samples, "driftwarden_dead_letters_total", "reason") == dead
    assert samples[("driftwarden_batch_write_seconds_count", ())] >= 2
    lag = {k: v for (n, k), v in samples.items() if n == "driftwarden_consumer_lag"}
    assert lag == {(("partition", str(p)), ("topic", t)): 0.0 for t, p in offsets}
    ingest.stop()

    # Detect: a worker's first pass runs the three closed windows.
    port = free_port()
    detect = roles("detect", "--interval", "1", "--metrics-port", str(port))
    db_runs = lambda: rows(db, "SELECT signal, status, count(*) FROM detector_runs GROUP BY 1, 2")  # noqa: E731
    wait_for(
        lambda: detect.alive() and db_runs() == {("data_drift", "ok"): 3},
        120,
        "three ok data_drift runs",
    )
    url = f"http://127.0.0.1:{port}/metrics"
    wait_for(
        lambda: (
            series(scrape(url), "driftwarden_detector_runs_total", "signal", "status") == db_runs()
        ),
        10,
        "the runs to be counted",
    )
    samples = scrape(url)
    assert samples[("driftwarden_detector_run_seconds_count", (("signal", "data_drift"),))] == 3
    verdicts = rows(
        db,
        "SELECT signal, CASE WHEN alert THEN 'alert' ELSE 'ok' END, count(*) "
        "FROM results GROUP BY 1, 2",
    )
    assert verdicts[("data_drift", "alert")] >= 2  # income and region in the middle window
    assert series(samples, "driftwarden_results_total", "signal", "verdict") == verdicts
    detect.stop()

    # Alert: the first delivery is answered 503 (retried), the retry 200 (delivered).
    with RecordingReceiver(statuses=[503]) as receiver:
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES.replace("URL", receiver.url))
        cli(settings, "rules", "apply", "-f", str(rules))
        port = free_port()
        alert = roles("alert", "--interval", "1", "--metrics-port", str(port))
        wait_for(
            lambda: (
                alert.alive()
                and scalar(
                    db, "SELECT count(*) FROM notification_outbox WHERE status = 'delivered'"
                )
                == 1
            ),
            60,  # the retry waits 5-10 s (10 s back-off, equal jitter)
            "the notification to be delivered on its second attempt",
        )
        samples = scrape(f"http://127.0.0.1:{port}/metrics")
        alert.stop()
    assert len(receiver.requests) == 2
    retried = scalar(db, "SELECT sum(attempts - 1) FROM notification_outbox")
    assert retried == 1
    assert series(samples, "driftwarden_notifications_total", "receiver", "outcome") == {
        ("metrics-hook", "retried"): retried,
        ("metrics-hook", "delivered"): 1,
    }
    states = rows(db, "SELECT state, count(*) FROM alert_states GROUP BY 1")
    assert states[("firing",)] == 2
    assert series(samples, "driftwarden_alert_instances", "state") == states


def test_lag_rows_are_written_at_most_every_interval(db: Engine, settings: Settings) -> None:
    now = [100.0]
    recorder = LagRecorder(db, "g", interval_s=5.0, clock=lambda: now[0])
    lag = [PartitionLag("t", 0, 10, 25)]

    recorder.flush(lambda: lag)
    assert recorder.writes == 0  # nothing committed yet: nothing to show
    recorder.committed()
    recorder.flush(lambda: lag)
    assert recorder.writes == 1
    lag = [PartitionLag("t", 0, 25, 25)]
    recorder.committed()
    now[0] += 4.9
    recorder.flush(lambda: lag)
    assert recorder.writes == 1
    assert scalar(db, "SELECT lag FROM consumer_lag WHERE consumer_group = 'g'") == 15
    now[0] += 0.1
    recorder.flush(lambda: lag)
    assert recorder.writes == 2
    assert scalar(db, "SELECT lag FROM consumer_lag WHERE consumer_group = 'g'") == 0
    recorder.committed()
    recorder.flush(lambda: lag, force=True)  # the loop's last word before it stops
    assert recorder.writes == 3


LAG_FAULT = """
CREATE FUNCTION lag_fault_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'injected consumer_lag failure'; END $$;
CREATE TRIGGER lag_fault BEFORE INSERT OR UPDATE ON consumer_lag
FOR EACH ROW EXECUTE FUNCTION lag_fault_fn();
"""


def test_a_failing_lag_write_does_not_stop_ingest(
    db: Engine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    register(db)
    ensure_topics(settings.bootstrap_servers, [settings.predictions_topic], partitions=1)
    sent = events(recent_start(), 100, rng=np.random.default_rng(5))
    produce(settings.kafka_bootstrap_servers, settings.predictions_topic, [encode(e) for e in sent])
    with db.begin() as conn:
        conn.execute(text(LAG_FAULT))
    engine = make_engine(settings)
    try:
        loop = IngestLoop(settings, engine)
        with caplog.at_level(logging.WARNING, logger="monitor.ingest.lag"):
            stats = loop.run(threading.Event(), idle_exit_s=2.0)
    finally:
        engine.dispose()
        with db.begin() as conn:
            conn.execute(
                text("DROP TRIGGER lag_fault ON consumer_lag; DROP FUNCTION lag_fault_fn()")
            )
    assert stats.stored == 100
    assert scalar(db, "SELECT count(*) FROM predictions") == 100
    assert loop._lag.failures >= 1
    assert "could not write consumer_lag rows (ingest goes on)" in caplog.text
    assert scalar(db, "SELECT count(*) FROM consumer_lag") == 0
