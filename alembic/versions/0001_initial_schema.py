"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 16:00:40.248149
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("raw_size", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=True),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_class", sa.String(length=60), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("topic", "partition", "offset", name="uq_dead_letters_source"),
    )
    op.create_table(
        "feature_logs",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("features", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(
        "ix_feature_logs_open",
        "feature_logs",
        ["received_at"],
        unique=False,
        postgresql_where="matched_at IS NULL AND expired_at IS NULL",
    )
    op.create_table(
        "labels",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("label", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_labels_model_ts", "labels", ["model_id", "ts"], unique=False)
    op.create_table(
        "models",
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("task_type", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "task_type IN ('binary_classification','multiclass_classification','regression')",
            name="ck_models_task_type",
        ),
        sa.PrimaryKeyConstraint("model_id"),
    )
    op.create_table(
        "predictions",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("num_values", postgresql.ARRAY(sa.Double()), nullable=True),
        sa.Column("cat_values", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("extra_features", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("prediction", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("scores", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("segment", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", "ts", name="pk_predictions"),
        postgresql_partition_by="RANGE (ts)",
    )
    op.create_index(
        "ix_predictions_model_ts", "predictions", ["model_id", "model_version", "ts"], unique=False
    )
    op.create_table(
        "quality_counts",
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feature", sa.String(length=200), nullable=False),
        sa.Column("fact", sa.String(length=40), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "model_version", "bucket", "feature", "fact"),
    )
    op.create_table(
        "receivers",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("config", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint("kind IN ('webhook','slack','pagerduty')", name="ck_receivers_kind"),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "alert_states",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("labels", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("annotations", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("breaches", sa.Integer(), server_default="0", nullable=False),
        sa.Column("clears", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('inactive','pending','firing','resolved')", name="ck_alert_states_state"
        ),
        sa.ForeignKeyConstraint(["rule_id"], ["alert_rules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    op.create_table(
        "model_versions",
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column(
            "feature_schema",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["model_id"], ["models.model_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("model_id", "version"),
    )
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("checked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["model_id"], ["models.model_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("receiver", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending','delivered','failed')", name="ck_outbox_status"),
        sa.ForeignKeyConstraint(["receiver"], ["receivers.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_outbox_due", "notification_outbox", ["status", "next_attempt_at"], unique=False
    )
    op.create_table(
        "baselines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="training", nullable=False),
        sa.Column("n_rows", sa.BigInteger(), nullable=False),
        sa.Column("profile", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["model_id", "model_version"],
            ["model_versions.model_id", "model_versions.version"],
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_id", "model_version", "name", name="uq_baselines_version_name"),
    )
    op.create_table(
        "detector_runs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("signal", sa.String(length=40), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n_reference", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("n_current", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("n_labelled", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("n_features_pending", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("drift_share", sa.Double(), nullable=True),
        sa.Column("dataset_drift", sa.Boolean(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('ok','insufficient_data','error')", name="ck_runs_status"),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "monitor_id",
            "model_version",
            "signal",
            "window_start",
            "window_end",
            name="uq_runs_window",
        ),
    )
    op.create_index(
        "ix_runs_model_window", "detector_runs", ["model_id", "window_end"], unique=False
    )
    op.create_table(
        "alert_evaluations",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["alert_rules.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["detector_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("rule_id", "run_id"),
    )
    op.create_table(
        "feature_results",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("feature", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("statistic", sa.Double(), nullable=False),
        sa.Column("p_value", sa.Double(), nullable=True),
        sa.Column("effect_size", sa.Double(), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=False),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("n_reference", sa.BigInteger(), nullable=False),
        sa.Column("n_current", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["detector_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "feature", name="uq_feature_results_run"),
    )


def downgrade() -> None:

    op.drop_table("feature_results")
    op.drop_table("alert_evaluations")
    op.drop_index("ix_runs_model_window", table_name="detector_runs")
    op.drop_table("detector_runs")
    op.drop_table("baselines")
    op.drop_index("ix_outbox_due", table_name="notification_outbox")
    op.drop_table("notification_outbox")
    op.drop_table("monitors")
    op.drop_table("model_versions")
    op.drop_table("alert_states")
    op.drop_table("receivers")
    op.drop_table("quality_counts")
    op.drop_index("ix_predictions_model_ts", table_name="predictions")
    op.drop_table("predictions")
    op.drop_table("models")
    op.drop_index("ix_labels_model_ts", table_name="labels")
    op.drop_table("labels")
    op.drop_index(
        "ix_feature_logs_open",
        table_name="feature_logs",
        postgresql_where="matched_at IS NULL AND expired_at IS NULL",
    )
    op.drop_table("feature_logs")
    op.drop_table("dead_letters")
    op.drop_table("alert_rules")
