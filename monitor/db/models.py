"""SQLAlchemy 2 models of the Driftwarden schema.

Alembic migrations (``alembic/versions``) are the only way the schema changes; these
classes describe it for queries and must stay in step (a test compares them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

TASK_TYPES = ("binary_classification", "multiclass_classification", "regression")
FEATURE_KINDS = ("numerical", "categorical")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB, list[Any]: JSONB}


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Model(Base):
    __tablename__ = "models"

    model_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    task_type: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = _created()

    __table_args__ = (
        CheckConstraint(
            "task_type IN ('binary_classification','multiclass_classification','regression')",
            name="ck_models_task_type",
        ),
    )


class ModelVersion(Base):
    """A model version and its feature schema: a list of
    ``{"name", "kind": numerical|categorical, "range": [lo, hi]?, "categories": [...]?}``."""

    __tablename__ = "model_versions"

    model_id: Mapped[str] = mapped_column(
        ForeignKey("models.model_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(String(200), primary_key=True)
    feature_schema: Mapped[list[Any]] = mapped_column(server_default="[]")
    created_at: Mapped[datetime] = _created()


class Prediction(Base):
    """One logged prediction. Range-partitioned by ``ts`` (monthly partitions created on
    demand by the writer), so the primary key must include ``ts``; replays of the same
    message carry the same timestamp, which keeps ``ON CONFLICT DO NOTHING`` idempotent.

    Features are stored in the order of the version's schema: ``num_values[i]`` is the
    i-th numerical feature, ``cat_values[j]`` the j-th categorical one (NULL = missing), so
    a window of one feature is read by subscript without parsing JSON (bench/writes.py).
    Features not in the schema go to ``extra_features``. Both arrays are NULL while the
    features are still expected from a feature log."""

    __tablename__ = "predictions"

    event_id: Mapped[str] = mapped_column(String(200))
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    model_id: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(200))
    num_values: Mapped[list[float | None] | None] = mapped_column(ARRAY(Double))
    cat_values: Mapped[list[str | None] | None] = mapped_column(ARRAY(Text))
    extra_features: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    prediction: Mapped[Any] = mapped_column(JSONB, nullable=True)
    scores: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    segment: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    received_at: Mapped[datetime] = _created()

    __table_args__ = (
        PrimaryKeyConstraint("event_id", "ts", name="pk_predictions"),
        Index("ix_predictions_model_ts", "model_id", "model_version", "ts"),
        {"postgresql_partition_by": "RANGE (ts)"},
    )


class FeatureLog(Base):
    """Features logged apart from their prediction, kept until the two meet (by
    ``event_id``, whichever comes first). One that never meets its prediction within the
    configured time gets ``expired_at`` and is counted as a data-quality fact; it is kept."""

    __tablename__ = "feature_logs"

    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(200))
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    features: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = _created()
    matched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "ix_feature_logs_open",
            "received_at",
            postgresql_where="matched_at IS NULL AND expired_at IS NULL",
        ),
    )


class QualityCount(Base):
    """How often a data-quality fact was seen, per model version, feature and 5-minute
    bucket of event time (``feature`` is '' for event-level facts). Counted only for
    events actually stored, so replays do not inflate it."""

    __tablename__ = "quality_counts"

    model_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(200), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    feature: Mapped[str] = mapped_column(String(200), primary_key=True)
    fact: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class Label(Base):
    """Ground truth for a prediction, joined by ``event_id`` whenever it arrives."""

    __tablename__ = "labels"

    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(200))
    label: Mapped[Any] = mapped_column(JSONB)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = _created()

    __table_args__ = (Index("ix_labels_model_ts", "model_id", "ts"),)


class Baseline(Base):
    """Reference profile of a model version: per feature its kind and a bounded sample."""

    __tablename__ = "baselines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200), server_default="training")
    n_rows: Mapped[int] = mapped_column(BigInteger)
    profile: Mapped[dict[str, Any]]
    # Per feature its kind, sketch layout and sketch, copied from the profile: a drift
    # check from stored sketches reads these kilobytes, not the megabytes of the profile
    # (JSONB is read whole). Empty for profiles made before sketches (format 1).
    sketches: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _created()

    __table_args__ = (
        ForeignKeyConstraint(
            ["model_id", "model_version"],
            ["model_versions.model_id", "model_versions.version"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("model_id", "model_version", "name", name="uq_baselines_version_name"),
    )


class Monitor(Base):
    """What to check for a model and how often. ``checked_until`` is the end of the last
    window evaluated, so ``detect`` resumes where it stopped."""

    __tablename__ = "monitors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.model_id", ondelete="CASCADE"))
    spec: Mapped[dict[str, Any]]
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    checked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()


class DetectorRun(Base):
    """One evaluation of one monitor's signal over one window, model version and segment
    (``segment`` '' is all traffic; else ``key=value``)."""

    __tablename__ = "detector_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    model_id: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(200))
    segment: Mapped[str] = mapped_column(String(200), server_default="")
    signal: Mapped[str] = mapped_column(String(40))
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20))
    n_reference: Mapped[int] = mapped_column(BigInteger, server_default="0")
    n_current: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Predictions of the window with a label, and whose features never arrived.
    n_labelled: Mapped[int] = mapped_column(BigInteger, server_default="0")
    n_features_pending: Mapped[int] = mapped_column(BigInteger, server_default="0")
    drift_share: Mapped[float | None] = mapped_column(Double)
    dataset_drift: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    # The PostgreSQL snapshot (pg_snapshot as text) taken before the run read its data: a
    # change queued by a refresh visible in it is already reflected (window_reruns).
    data_snapshot: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    results: Mapped[list[Result]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="Result.id"
    )

    __table_args__ = (
        CheckConstraint("status IN ('ok','insufficient_data','error')", name="ck_runs_status"),
        UniqueConstraint(
            "monitor_id",
            "model_version",
            "segment",
            "signal",
            "window_start",
            "window_end",
            name="uq_runs_window",
        ),
        Index("ix_runs_model_window", "model_id", "window_end"),
    )


# The id of the inserting transaction (xid8 as bigint): the results cursor reads a row
# only once every transaction that could still commit a smaller one has ended.
TXID_DEFAULT = "(pg_current_xact_id()::text::bigint)"


class Result(Base):
    """One value of one run, shaped for Grafana time series: one row per model, version,
    segment, signal, feature ('' for the run as a whole), metric and window, with the
    value, the threshold it was judged by and the verdict (``alert``, as in NannyML).

    Data drift: ``metric`` is the test (ks, psi, ...) with ``value`` its statistic, plus
    ``missing_share`` rows for the null-rate check and one ``drift_share`` row. The labels
    are copied from the run so that a dashboard or a rule needs no join. ``txid`` orders
    rows for readers that follow new results by a cursor (monitor/detection/results.py).
    """

    __tablename__ = "results"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("detector_runs.id", ondelete="CASCADE"))
    monitor_id: Mapped[int] = mapped_column(Integer)
    model_id: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(200))
    segment: Mapped[str] = mapped_column(String(200), server_default="")
    signal: Mapped[str] = mapped_column(String(40))
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    feature: Mapped[str] = mapped_column(String(200), server_default="")
    metric: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[float | None] = mapped_column(Double)
    p_value: Mapped[float | None] = mapped_column(Double)
    effect_size: Mapped[float | None] = mapped_column(Double)
    threshold: Mapped[float | None] = mapped_column(Double)
    # An interval around ``value`` (confidence interval, estimate's band), when known.
    lower: Mapped[float | None] = mapped_column(Double)
    upper: Mapped[float | None] = mapped_column(Double)
    alert: Mapped[bool] = mapped_column(Boolean)
    n_reference: Mapped[int | None] = mapped_column(BigInteger)
    n_current: Mapped[int | None] = mapped_column(BigInteger)
    txid: Mapped[int] = mapped_column(BigInteger, server_default=text(TXID_DEFAULT))
    run: Mapped[DetectorRun] = relationship(back_populates="results")

    __table_args__ = (
        UniqueConstraint("run_id", "feature", "metric", name="uq_results_run"),
        Index("ix_results_series", "model_id", "signal", "feature", "window_end"),
        Index("ix_results_cursor", "txid", "id"),
    )


# Sketch buckets are this long and aligned to the epoch; windows made of whole buckets are
# checked from the stored sketches (monitor/detection/bucket_refresh.py).
BUCKET_SECONDS = 3600


class EventBucket(Base):
    """What ingest stored per model version and hour of event time: ``events`` stored
    predictions, and ``changes``, those plus features joined to a stored prediction later
    and labels stored for one. ``sketched`` is the ``changes`` the last refresh saw: a
    bucket whose two differ has new (or late) data, so its sketches are rebuilt and the
    windows already checked over it are run again."""

    __tablename__ = "event_buckets"

    model_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(200), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger, server_default="0")
    changes: Mapped[int] = mapped_column(BigInteger, server_default="0")
    sketched: Mapped[int] = mapped_column(BigInteger, server_default="0")

    __table_args__ = (
        Index("ix_event_buckets_dirty", "model_id", postgresql_where=text("changes <> sketched")),
    )


class BucketSketch(Base):
    """One feature's sketch (``detectors.sketches``, bytes) over one bucket (or day) of one
    model version and segment, on the layout (fingerprint) of one of the version's baselines,
    plus a bottom-k sample: the values of the ``sample_keys`` smallest event hashes, so
    that merging buckets' samples gives a uniform sample of any window of them."""

    __tablename__ = "bucket_sketches"

    model_id: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(200))
    segment: Mapped[str] = mapped_column(String(200))
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # 1: an hour bucket; 24: the merge of a day's hour buckets (a day starting at
    # ``bucket``), so that a long window reads and decodes a day's sketch, not 24.
    span_hours: Mapped[int] = mapped_column(Integer)
    feature: Mapped[str] = mapped_column(String(200))
    layout: Mapped[str] = mapped_column(String(16))
    n: Mapped[int] = mapped_column(BigInteger)
    sketch: Mapped[bytes] = mapped_column(LargeBinary)
    sample_keys: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    sample_num: Mapped[list[float | None] | None] = mapped_column(ARRAY(Double))
    sample_cat: Mapped[list[str | None] | None] = mapped_column(ARRAY(Text))

    __table_args__ = (
        PrimaryKeyConstraint(
            "model_id",
            "model_version",
            "segment",
            "span_hours",
            "bucket",
            "feature",
            "layout",
            name="pk_bucket_sketches",
        ),
    )


class WindowRerun(Base):
    """A bucket whose data changed, per monitor of its model: the monitor's windows over
    it that were already checked are run again by the next worker holding the monitor.

    No unique (monitor, bucket): the refresh only inserts, so it never waits on a worker
    that is deleting the same pair inside its window's transaction (holding, meanwhile,
    the bucket rows ingest needs); the worker deletes the rows it read, by id."""

    __tablename__ = "window_reruns"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The refresh's transaction: runs whose data snapshot sees it need not run again.
    txid: Mapped[int] = mapped_column(BigInteger, server_default=text(TXID_DEFAULT))

    __table_args__ = (Index("ix_window_reruns_monitor", "monitor_id", "bucket"),)


class Receiver(Base):
    """A notification target (Alertmanager's word). ``config`` holds the receiver's
    settings from the alerting config file: URL, secret, routing key, send_resolved,
    a retraining policy (:class:`monitor.alerting.rules` receiver specs)."""

    __tablename__ = "receivers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]]

    __table_args__ = (
        CheckConstraint(
            "kind IN ('webhook','slack','pagerduty','retrain')", name="ck_receivers_kind"
        ),
    )


class AlertingConfig(Base):
    """The applied alerting config file (one row): route tree, inhibit rules, and the
    validated file as a whole (``driftwarden rules apply``)."""

    __tablename__ = "alerting_config"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    config: Mapped[dict[str, Any]]
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("id = 1", name="ck_alerting_config_single"),)


class AlertRule(Base):
    """An alert rule; ``spec`` is :class:`monitor.alerting.rules.RuleSpec` as JSON. A rule
    removed from the applied file is disabled, and its firing instances resolved."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    group_name: Mapped[str] = mapped_column(String(200), server_default="")
    spec: Mapped[dict[str, Any]]
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = _created()


class AlertCursor(Base):
    """Where the evaluator is in ``results`` (one row): the snapshot of its last read
    (:class:`monitor.detection.results.Cursor`)."""

    __tablename__ = "alert_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot: Mapped[str | None] = mapped_column(Text)
    # The applied_at of the alerting config whose routes every firing alert was last
    # grouped by: a newer config regroups them all once.
    routed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("id = 1", name="ck_alert_cursor_single"),)


class AlertState(Base):
    """State of one alert instance, identified by the fingerprint of its label set.
    ``record`` is :class:`monitor.alerting.evaluate.Record` (the state, and the recent
    windows it stepped on, so a window re-run for late data is replayed); the other
    columns repeat its current state for queries and dashboards."""

    __tablename__ = "alert_states"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    labels: Mapped[dict[str, Any]]
    annotations: Mapped[dict[str, Any]]
    evidence: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    value: Mapped[float | None] = mapped_column(Double)
    active_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The end of the latest window the instance stepped on.
    evaluated_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    record: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "state IN ('inactive','pending','firing','resolved')", name="ck_alert_states_state"
        ),
        Index("ix_alert_states_state", "state"),
    )


class AlertGroup(Base):
    """An aggregation group (Alertmanager): the alerts of one route and receiver that
    share the route's ``group_by`` labels. ``next_flush_at`` is when the group is next
    looked at (``group_wait`` after it appeared, then every ``group_interval``);
    ``notified_firing`` the fingerprints its last notification reported firing."""

    __tablename__ = "alert_groups"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    route_id: Mapped[str] = mapped_column(String(64))
    receiver: Mapped[str] = mapped_column(String(200))
    group_key: Mapped[str] = mapped_column(Text)
    group_labels: Mapped[dict[str, Any]]
    next_flush_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notified_firing: Mapped[list[Any]] = mapped_column(server_default="[]")
    created_at: Mapped[datetime] = _created()

    __table_args__ = (
        UniqueConstraint("route_id", "receiver", "group_key", name="uq_alert_groups_key"),
        Index("ix_alert_groups_due", "next_flush_at"),
    )


class Silence(Base):
    """Alertmanager's silence: alerts matching every matcher are not notified between
    ``starts_at`` and ``ends_at``. Expiring a silence sets ``ends_at`` to now."""

    __tablename__ = "silences"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    matchers: Mapped[list[Any]]
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = _created()

    __table_args__ = (
        CheckConstraint("ends_at >= starts_at", name="ck_silences_range"),
        Index("ix_silences_ends_at", "ends_at"),
    )


class Notification(Base):
    """Transactional outbox: a group's notification, written in the transaction that
    changes the group's notified state, delivered afterwards. ``payload`` is the
    Alertmanager webhook v4 JSON of the group; each notifier renders its format from it."""

    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    receiver: Mapped[str] = mapped_column(ForeignKey("receivers.name", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    group_key: Mapped[str] = mapped_column(Text)
    # A hash of the group key (the old per-alert fingerprint column, kept for its index).
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), server_default="pending")
    payload: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('pending','delivered','failed')", name="ck_outbox_status"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_order", "receiver", "fingerprint", "id"),
    )


class RetrainingTrigger(Base):
    """A retraining trigger a ``retrain`` receiver sent or its policy blocked, and its
    outcome, recorded by the callback (``driftwarden retraining outcome`` or the API)."""

    __tablename__ = "retraining_triggers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    receiver: Mapped[str] = mapped_column(String(200))
    model_id: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, server_default="")
    alerts: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    new_version: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, server_default="")

    __table_args__ = (
        CheckConstraint(
            "status IN ('blocked','triggered','succeeded','failed')",
            name="ck_retraining_triggers_status",
        ),
        Index("ix_retraining_triggers_model", "model_id", "receiver", "created_at"),
    )


class DeadLetter(Base):
    """A message ingest could not store, kept whole with the reason (Kafka Connect's DLQ
    vocabulary: ``error_class``/``error_message`` and the source topic/partition/offset)."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(255))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The payload, cut to ``monitor.ingest.deadletters.MAX_RAW_BYTES``; raw_size is the
    # original length.
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    raw_size: Mapped[int] = mapped_column(Integer)
    model_id: Mapped[str | None] = mapped_column(String(200))
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error_class: Mapped[str] = mapped_column(String(60))
    error_message: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = _created()

    __table_args__ = (
        UniqueConstraint("topic", "partition", "offset", name="uq_dead_letters_source"),
    )


class ConsumerLag(Base):
    """The ingest consumer's position per partition it owns, written after each commit
    (at most every few seconds): what the dashboards show as consumer lag, since they
    read PostgreSQL only. ``lag`` = fetch high watermark - committed offset."""

    __tablename__ = "consumer_lag"

    consumer_group: Mapped[str] = mapped_column(String(255), primary_key=True)
    topic: Mapped[str] = mapped_column(String(255), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    committed_offset: Mapped[int] = mapped_column(BigInteger)
    high_watermark: Mapped[int] = mapped_column(BigInteger)
    lag: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ResultsVersion(Base):
    """A model's results version: a new value from ``results_version_seq`` each time a
    transaction changes the model's ``results`` rows, set by the deferred trigger of
    migration 0006 (never by the application). The API serves a cached results page
    only while its model's version is the one the page was read at."""

    __tablename__ = "results_versions"

    model_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    # The transaction that set ``version``: the trigger bumps a model once per transaction.
    txid: Mapped[int] = mapped_column(BigInteger)


class ApiKey(Base):
    """An API key (``driftwarden apikey create``): the token is shown once and only its
    scrypt hash is stored; ``key_id`` (the token's public part) finds the row."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = _created()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("scope IN ('read','write','admin')", name="ck_api_keys_scope"),
    )
