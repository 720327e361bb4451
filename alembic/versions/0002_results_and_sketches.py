"""results table, segments on runs, event buckets, bucket sketches, window reruns

``feature_results`` (one drift row per feature) becomes ``results``: one row per run,
feature and metric with the run's labels copied, for Grafana and for the alerting cursor.
Stored feature results are carried over (and back on downgrade). ``event_buckets`` is
filled from the stored predictions so their sketches get built. ``baselines.sketches``
copies each profile's sketches out of it, for drift checks that should not read the
profile's row samples.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_WINDOW_COLUMNS = ["monitor_id", "model_version", "signal", "window_start", "window_end"]


def upgrade() -> None:
    op.add_column(
        "detector_runs",
        sa.Column("segment", sa.String(length=200), server_default="", nullable=False),
    )
    op.add_column("detector_runs", sa.Column("data_snapshot", sa.Text(), nullable=True))
    op.add_column(
        "alert_states",
        sa.Column("evaluated_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.drop_constraint("uq_runs_window", "detector_runs", type_="unique")
    op.create_unique_constraint(
        "uq_runs_window",
        "detector_runs",
        ["monitor_id", "model_version", "segment", "signal", "window_start", "window_end"],
    )
    op.create_table(
        "results",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("segment", sa.String(length=200), server_default="", nullable=False),
        sa.Column("signal", sa.String(length=40), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feature", sa.String(length=200), server_default="", nullable=False),
        sa.Column("metric", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("p_value", sa.Double(), nullable=True),
        sa.Column("effect_size", sa.Double(), nullable=True),
        sa.Column("threshold", sa.Double(), nullable=True),
        sa.Column("lower", sa.Double(), nullable=True),
        sa.Column("upper", sa.Double(), nullable=True),
        sa.Column("alert", sa.Boolean(), nullable=False),
        sa.Column("n_reference", sa.BigInteger(), nullable=True),
        sa.Column("n_current", sa.BigInteger(), nullable=True),
        sa.Column(
            "txid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text::bigint)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["run_id"], ["detector_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "feature", "metric", name="uq_results_run"),
    )
    op.create_index("ix_results_series", "results", ["model_id", "signal", "feature", "window_end"])
    op.create_index("ix_results_cursor", "results", ["txid", "id"])
    op.execute(
        "INSERT INTO results (run_id, monitor_id, model_id, model_version, segment, signal, "
        "window_start, window_end, feature, metric, kind, value, p_value, effect_size, "
        "threshold, alert, n_reference, n_current) "
        "SELECT r.id, r.monitor_id, r.model_id, r.model_version, r.segment, r.signal, "
        "r.window_start, r.window_end, f.feature, f.method, f.kind, f.statistic, f.p_value, "
        "f.effect_size, f.threshold, f.drifted, f.n_reference, f.n_current "
        "FROM feature_results f JOIN detector_runs r ON r.id = f.run_id ORDER BY f.id"
    )
    op.drop_table("feature_results")
    op.create_table(
        "event_buckets",
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("changes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("sketched", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("model_id", "model_version", "bucket"),
    )
    op.create_index(
        "ix_event_buckets_dirty",
        "event_buckets",
        ["model_id"],
        postgresql_where=sa.text("changes <> sketched"),
    )
    # sketched = -1 (bucket_refresh.RESKETCH): the first refresh builds the sketches of
    # the stored events without running their (already checked) windows again.
    op.execute(
        "INSERT INTO event_buckets (model_id, model_version, bucket, events, changes, sketched) "
        "SELECT model_id, model_version, "
        "date_bin('1 hour', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00'), count(*), count(*), -1 "
        "FROM predictions GROUP BY 1, 2, 3"
    )
    op.create_table(
        "bucket_sketches",
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("segment", sa.String(length=200), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("span_hours", sa.Integer(), nullable=False),
        sa.Column("feature", sa.String(length=200), nullable=False),
        sa.Column("layout", sa.String(length=16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("sketch", sa.LargeBinary(), nullable=False),
        sa.Column("sample_keys", sa.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("sample_num", sa.ARRAY(sa.Double()), nullable=True),
        sa.Column("sample_cat", sa.ARRAY(sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint(
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
    op.add_column(
        "baselines",
        sa.Column(
            "sketches",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.execute(
        "UPDATE baselines b SET sketches = coalesce((SELECT jsonb_object_agg(f.key, "
        "jsonb_build_object('kind', f.value -> 'kind', 'layout', f.value -> 'layout', "
        "'sketch', f.value -> 'sketch')) FROM jsonb_each(b.profile -> 'features') "
        "AS f(key, value) WHERE f.value ? 'sketch'), '{}'::jsonb)"
    )
    op.create_table(
        "window_reruns",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "txid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text::bigint)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_window_reruns_monitor", "window_reruns", ["monitor_id", "bucket"])


def downgrade() -> None:
    op.drop_index("ix_window_reruns_monitor", table_name="window_reruns")
    op.drop_table("window_reruns")
    op.drop_column("baselines", "sketches")
    op.drop_table("bucket_sketches")
    op.drop_index(
        "ix_event_buckets_dirty",
        table_name="event_buckets",
        postgresql_where=sa.text("changes <> sketched"),
    )
    op.drop_table("event_buckets")
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
    # Only what the old table could hold: per-feature drift statistics of whole-traffic runs.
    op.execute(
        "INSERT INTO feature_results (run_id, feature, kind, method, statistic, p_value, "
        "effect_size, threshold, drifted, n_reference, n_current) "
        "SELECT s.run_id, s.feature, s.kind, s.metric, s.value, s.p_value, s.effect_size, "
        "s.threshold, s.alert, s.n_reference, s.n_current FROM results s "
        "WHERE s.signal = 'data_drift' AND s.feature <> '' AND s.metric <> 'missing_share' "
        "AND s.segment = '' AND s.kind IS NOT NULL AND s.value IS NOT NULL "
        "AND s.effect_size IS NOT NULL AND s.threshold IS NOT NULL ORDER BY s.id"
    )
    op.drop_index("ix_results_cursor", table_name="results")
    op.drop_index("ix_results_series", table_name="results")
    op.drop_table("results")
    op.execute("DELETE FROM detector_runs WHERE segment <> ''")
    op.drop_constraint("uq_runs_window", "detector_runs", type_="unique")
    op.create_unique_constraint("uq_runs_window", "detector_runs", _WINDOW_COLUMNS)
    op.drop_column("alert_states", "evaluated_until")
    op.drop_column("detector_runs", "data_snapshot")
    op.drop_column("detector_runs", "segment")
