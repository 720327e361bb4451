"""alerting: config, results cursor, instance records, groups, silences, retraining

The evaluator follows ``results`` by a cursor (``alert_cursor``) instead of marking
consumed runs (``alert_evaluations`` is dropped). Alert instances are now identified by
the result's labels including ``metric``, and keep a record of the windows they stepped
on, so stored states of the first cut are deleted (their fingerprints would not match):
an alert firing at upgrade fires again at its next window, once. The cursor starts at the
migration's snapshot, so stored history is not replayed into notifications. Notifications are
per aggregation group (``alert_groups``); silences and retraining triggers are new.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_JSON = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.drop_constraint("ck_receivers_kind", "receivers", type_="check")
    op.create_check_constraint(
        "ck_receivers_kind", "receivers", "kind IN ('webhook','slack','pagerduty','retrain')"
    )
    op.create_table(
        "alerting_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("config", _JSON, nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_alerting_config_single"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.add_column(
        "alert_rules",
        sa.Column("group_name", sa.String(length=200), server_default="", nullable=False),
    )
    op.create_table(
        "alert_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=True),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name="ck_alert_cursor_single"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO alert_cursor (id, snapshot) VALUES (1, pg_current_snapshot()::text)")
    op.drop_table("alert_evaluations")
    op.execute("DELETE FROM alert_states")
    op.drop_column("alert_states", "breaches")
    op.drop_column("alert_states", "clears")
    op.add_column(
        "alert_states",
        sa.Column("evidence", _JSON, server_default=sa.text("'{}'::jsonb"), nullable=False),
    )
    op.add_column("alert_states", sa.Column("record", _JSON, nullable=False))
    op.create_index("ix_alert_states_state", "alert_states", ["state"])
    op.create_table(
        "alert_groups",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("route_id", sa.String(length=64), nullable=False),
        sa.Column("receiver", sa.String(length=200), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("group_labels", _JSON, nullable=False),
        sa.Column("next_flush_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_firing", _JSON, server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("route_id", "receiver", "group_key", name="uq_alert_groups_key"),
    )
    op.create_index("ix_alert_groups_due", "alert_groups", ["next_flush_at"])
    op.create_table(
        "silences",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("matchers", _JSON, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("ends_at >= starts_at", name="ck_silences_range"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])
    op.add_column(
        "notification_outbox",
        sa.Column("kind", sa.String(length=20), server_default="webhook", nullable=False),
    )
    op.alter_column("notification_outbox", "kind", server_default=None)
    op.add_column("notification_outbox", sa.Column("group_key", sa.Text(), nullable=True))
    op.execute("UPDATE notification_outbox SET group_key = fingerprint")
    op.alter_column("notification_outbox", "group_key", nullable=False)
    op.create_index("ix_outbox_order", "notification_outbox", ["receiver", "fingerprint", "id"])
    op.create_table(
        "retraining_triggers",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("receiver", sa.String(length=200), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("alerts", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new_version", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint(
            "status IN ('blocked','triggered','succeeded','failed')",
            name="ck_retraining_triggers_status",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index(
        "ix_retraining_triggers_model",
        "retraining_triggers",
        ["model_id", "receiver", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_retraining_triggers_model", table_name="retraining_triggers")
    op.drop_table("retraining_triggers")
    op.drop_index("ix_outbox_order", table_name="notification_outbox")
    op.drop_column("notification_outbox", "group_key")
    op.drop_column("notification_outbox", "kind")
    op.drop_index("ix_silences_ends_at", table_name="silences")
    op.drop_table("silences")
    op.drop_index("ix_alert_groups_due", table_name="alert_groups")
    op.drop_table("alert_groups")
    op.drop_index("ix_alert_states_state", table_name="alert_states")
    op.execute("DELETE FROM alert_states")
    op.drop_column("alert_states", "record")
    op.drop_column("alert_states", "evidence")
    op.add_column(
        "alert_states", sa.Column("breaches", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "alert_states", sa.Column("clears", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_table(
        "alert_evaluations",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["alert_rules.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["detector_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("rule_id", "run_id"),
    )
    # Every stored run counts as consumed: the first cut's evaluator must not replay them.
    op.execute(
        "INSERT INTO alert_evaluations (rule_id, run_id) "
        "SELECT r.id, d.id FROM alert_rules r CROSS JOIN detector_runs d"
    )
    op.drop_table("alert_cursor")
    op.drop_column("alert_rules", "group_name")
    op.drop_table("alerting_config")
    op.execute(
        "DELETE FROM notification_outbox n USING receivers r "
        "WHERE n.receiver = r.name AND r.kind = 'retrain'"
    )
    op.execute("DELETE FROM receivers WHERE kind = 'retrain'")
    op.drop_constraint("ck_receivers_kind", "receivers", type_="check")
    op.create_check_constraint(
        "ck_receivers_kind", "receivers", "kind IN ('webhook','slack','pagerduty')"
    )
