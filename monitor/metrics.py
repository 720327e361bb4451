"""Every Prometheus metric Driftwarden exposes, in one place (docs/architecture.md,
"Metrics").

The metrics live on prometheus_client's default registry: each process (one role each)
has its own, served by ``serve_metrics`` on the worker's ``metrics_port`` or by the
API's ``GET /metrics``. Code records a fact where it is known once, after its
transaction committed, through the small functions below, so the label names and
values are spelled in this module only. Counting is per batch or per run, never per
message: the ingest hot path pays a few dictionary look-ups a batch.

No database or HTTP-client import here: the recording functions take plain values.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics import MetricWrapperBase

log = logging.getLogger(__name__)

# Kinds of stored ingest rows (the ``kind`` label).
PREDICTION, LABEL, FEATURE_LOG = "prediction", "label", "feature_log"
# Outcomes of one delivery attempt (the ``outcome`` label); the outbox row's status
# after it: delivered, pending (retried later) or failed.
DELIVERED, RETRIED, FAILED = "delivered", "retried", "failed"
ALERT_STATES = ("inactive", "pending", "firing", "resolved")

EVENTS_CONSUMED = Counter(
    "driftwarden_events_consumed_total",
    "Messages polled from Kafka and settled (written, or dead-lettered) by ingest.",
    ["topic"],
)
EVENTS_STORED = Counter(
    "driftwarden_events_stored_total",
    "Rows newly stored by ingest (Kafka or HTTP): predictions and feature logs not "
    "stored before, labels upserted.",
    ["kind"],
)
EVENTS_DUPLICATE = Counter(
    "driftwarden_events_duplicate_total",
    "Events already stored (replays, producer resends), left as they were.",
    ["kind"],
)
DEAD_LETTERS = Counter(
    "driftwarden_dead_letters_total",
    "Messages newly stored as dead letters, by error_class.",
    ["reason"],
)
BATCH_WRITE_SECONDS = Histogram(
    "driftwarden_batch_write_seconds",
    "One ingest batch's database write, commit included (successful writes).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
CONSUMER_LAG = Gauge(
    "driftwarden_consumer_lag",
    "Messages behind the fetch high watermark, per partition this consumer owns.",
    ["topic", "partition"],
)
DETECTOR_RUNS = Counter(
    "driftwarden_detector_runs_total",
    "Detector runs committed (detector_runs rows), by signal and status.",
    ["signal", "status"],
)
DETECTOR_RUN_SECONDS = Histogram(
    "driftwarden_detector_run_seconds",
    "Time to compute one detector run (one window, version, segment and signal).",
    ["signal"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
RESULTS = Counter(
    "driftwarden_results_total",
    "Result rows committed, by signal and verdict (alert or ok).",
    ["signal", "verdict"],
)
ALERT_INSTANCES = Gauge(
    "driftwarden_alert_instances",
    "Alert instances by state, as of the alerter's last evaluation.",
    ["state"],
)
NOTIFICATIONS = Counter(
    "driftwarden_notifications_total",
    "Notification delivery attempts by receiver and outcome (delivered, retried, failed).",
    ["receiver", "outcome"],
)

ALL: tuple[MetricWrapperBase, ...] = (
    EVENTS_CONSUMED,
    EVENTS_STORED,
    EVENTS_DUPLICATE,
    DEAD_LETTERS,
    BATCH_WRITE_SECONDS,
    CONSUMER_LAG,
    DETECTOR_RUNS,
    DETECTOR_RUN_SECONDS,
    RESULTS,
    ALERT_INSTANCES,
    NOTIFICATIONS,
)


def record_consumed(by_topic: Mapping[str, int]) -> None:
    for topic, n in by_topic.items():
        EVENTS_CONSUMED.labels(topic).inc(n)


def record_write(
    *,
    seconds: float,
    predictions: int,
    duplicates: int,
    feature_logs: int,
    labels: int,
    dead_letters: Iterable[str],
) -> None:
    """One committed batch: its write time, the rows it newly stored, and the error
    classes of the dead letters it newly stored (one item each)."""
    BATCH_WRITE_SECONDS.observe(seconds)
    for kind, n in ((PREDICTION, predictions), (FEATURE_LOG, feature_logs), (LABEL, labels)):
        if n:
            EVENTS_STORED.labels(kind).inc(n)
    if duplicates:
        EVENTS_DUPLICATE.labels(PREDICTION).inc(duplicates)
    for reason in dead_letters:
        DEAD_LETTERS.labels(reason).inc()


def set_consumer_lag(topic: str, partition: int, lag: int) -> None:
    CONSUMER_LAG.labels(topic, str(partition)).set(lag)


def forget_partition(topic: str, partition: int) -> None:
    """A revoked partition's lag is its new owner's to report: drop the series rather
    than leave a stale value behind."""
    with contextlib.suppress(KeyError):  # never reported by this process
        CONSUMER_LAG.remove(topic, str(partition))


def record_detector_run(
    *, signal: str, status: str, seconds: float | None, alerts: int, oks: int
) -> None:
    """One committed detector run and its results (``seconds`` None: not computed, a
    window that failed as a whole)."""
    DETECTOR_RUNS.labels(signal, status).inc()
    if seconds is not None:
        DETECTOR_RUN_SECONDS.labels(signal).observe(seconds)
    if alerts:
        RESULTS.labels(signal, "alert").inc(alerts)
    if oks:
        RESULTS.labels(signal, "ok").inc(oks)


def set_alert_instances(counts: Mapping[str, int]) -> None:
    """Every state is set, to 0 when absent, so a state that emptied reads 0."""
    for state in ALERT_STATES:
        ALERT_INSTANCES.labels(state).set(counts.get(state, 0))


def record_notification(receiver: str, outcome: str) -> None:
    NOTIFICATIONS.labels(receiver, outcome).inc()


def serve_metrics(port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from outside
    """Serve this process's metrics at http://HOST:PORT/metrics on a daemon thread;
    port 0 disables it. A port that cannot be bound (another worker on this host has
    it) is logged as an error and the role runs on without metrics: observability
    must never stop ingest, detection or alerting."""
    if port == 0:
        return
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.error(
            "metrics_port=%d: cannot serve /metrics on %s (%s); give each worker on a "
            "host its own --metrics-port. Running without metrics.",
            port,
            host,
            exc,
        )
        return
    log.info("serving Prometheus metrics on http://%s:%d/metrics", host, port)
