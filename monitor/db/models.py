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
    """A notification target (Alertmanager's word). ``config`` holds URL and secret."""

    __tablename__ = "receivers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]]

    __table_args__ = (
        CheckConstraint("kind IN ('webhook','slack','pagerduty')", name="ck_receivers_kind"),
    )


class AlertRule(Base):
    """An alert rule; ``spec`` is :class:`monitor.alerting.rules.RuleSpec` as JSON."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    spec: Mapped[dict[str, Any]]
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = _created()


class AlertEvaluation(Base):
    """That a rule has consumed a run. A mark per run, not a cursor over run ids: with
    several detect workers a run can commit after one with a higher id."""

    __tablename__ = "alert_evaluations"

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[int] = mapped_column(
        ForeignKey("detector_runs.id", ondelete="CASCADE"), primary_key=True
    )


class AlertState(Base):
    """State of one alert instance, identified by the fingerprint of its label set."""

    __tablename__ = "alert_states"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    labels: Mapped[dict[str, Any]]
    annotations: Mapped[dict[str, Any]]
    value: Mapped[float | None] = mapped_column(Double)
    breaches: Mapped[int] = mapped_column(Integer, server_default="0")
    clears: Mapped[int] = mapped_column(Integer, server_default="0")
    active_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The end of the latest window the state stepped on: a run of that window or an
    # earlier one (a window run again for late data) does not step it a second time.
    evaluated_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "state IN ('inactive','pending','firing','resolved')", name="ck_alert_states_state"
        ),
    )


class Notification(Base):
    """Transactional outbox: written with the state change, delivered afterwards."""

    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    receiver: Mapped[str] = mapped_column(ForeignKey("receivers.name", ondelete="CASCADE"))
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
