"""Runtime settings, read from ``DRIFTWARDEN_*`` environment variables.

Settings are built by :func:`load_settings`, never at import time, so tests and the demo
can point the same code at different services.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "DRIFTWARDEN_"
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*"
    r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$"
)


class ConfigError(ValueError):
    """A setting has a bad value; the message names the variable and the value."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # The PostgreSQL database every role reads and writes (postgresql:// URL).
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    # The Kafka brokers ingest consumes from, comma-separated host:port.
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Prediction events (docs/ingestion.md), also KServe inference-logger pairs.
    predictions_topic: str = "driftwarden.predictions"
    # Ground-truth labels, joined to their predictions by event_id.
    labels_topic: str = "driftwarden.labels"
    # Features logged apart from their predictions (joined by event_id).
    features_topic: str = "driftwarden.features"
    # The Kafka consumer group of `driftwarden ingest` processes.
    consumer_group: str = "driftwarden-ingest"
    # Ingest writes a batch (one transaction, then the offset commit) at this many
    # messages or after batch_max_wait_ms, whichever comes first.
    batch_size: int = Field(default=2000, ge=1, le=100_000)
    batch_max_wait_ms: int = Field(default=1000, ge=1, le=600_000)
    # Kafka group-membership timeout; Apache Kafka's default is 45 s.
    session_timeout_ms: int = Field(default=45_000, ge=1000)
    # The longest pause between polls before the member is dropped, and so the time a
    # rebalance waits for members to rejoin (kafka-python's max_poll_interval_ms).
    max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    # Prediction partitions (months) wholly older than this are dropped; events older
    # than this, or more than max_future_skew_s ahead of the clock, are dead letters.
    retention_days: int = Field(default=90, ge=1)
    max_future_skew_s: int = Field(default=86_400, ge=0)
    # A feature log with no prediction after this long is counted as unmatched.
    feature_log_ttl_s: int = Field(default=3600, ge=1)
    # Also copy each dead letter to <topic>.dlq with Kafka Connect's error headers.
    dead_letter_topics: bool = False
    # Back-off after a failed database write before the batch is replayed.
    retry_backoff_initial_s: float = Field(default=0.5, gt=0)
    retry_backoff_max_s: float = Field(default=30.0, gt=0)
    # Alerting. external_url: where this Driftwarden's API is reached (Alertmanager's
    # externalURL; retraining callbacks point to it). dashboard_url: a Grafana dashboard
    # URL for an alert's generatorURL link; {model} and {version} are filled in.
    external_url: str = ""
    dashboard_url: str = ""
    # How often `driftwarden alert` evaluates new results, flushes groups and delivers.
    alert_interval_s: float = Field(default=15.0, gt=0)
    # Where `driftwarden ingest`, `detect` and `alert` serve Prometheus /metrics (9464,
    # the OpenTelemetry Prometheus exporter's port); 0 disables it. Each worker process
    # on one host needs its own port: their --metrics-port option overrides this. The
    # API serves GET /metrics on its own port.
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    # Memory for encoded answers of GET /v1/results and /v1/results/series in each API
    # process, answered again while their model's results are unchanged
    # (monitor/api/results_cache.py); 0 keeps none.
    api_results_cache_mb: int = Field(default=64, ge=0, le=4096)
    # Receiver URLs sent through the API (POST /v1/rules/apply) may not point to
    # loopback, private, link-local or other non-public addresses, unless their host or
    # address is listed here: host names, addresses or CIDR networks, comma-separated
    # (monitor/alerting/outbound.py). The CLI is not restricted.
    outbound_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _host_port_list(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError("must be a comma-separated list of host:port")
        return value

    @field_validator("outbound_allowed_hosts", mode="before")
    @classmethod
    def _allow_list(cls, value: object) -> object:
        # The same rule as monitor.alerting.outbound.AllowList.parse (not imported here:
        # every process reads settings, and ingest must not import alerting).
        entries = value
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("[") and text.endswith("]"):  # a JSON or Python list's text
                text = text[1:-1]
            entries = [e.strip().strip("'\"") for e in text.split(",")]
        if isinstance(entries, list | tuple):
            entries = [str(e).strip() for e in entries if str(e).strip()]
            for entry in entries:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    if not _HOST_NAME.match(entry):
                        raise ValueError(
                            f"{entry!r} is not a host name, an IP address or a CIDR network"
                        ) from None
        return entries

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the psycopg 3 driver SQLAlchemy should use."""
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def bootstrap_servers(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap_servers.split(",")]


def libpq_url(url: str) -> str:
    """The URL without SQLAlchemy's driver suffix, as libpq/psycopg expect it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and explicit overrides); fail fast and clearly."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            problems.append(f"{ENV_PREFIX}{field.upper()}={err.get('input')!r}: {err['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
