"""consumer lag per partition, for the dashboards

The ingest consumer writes its committed offset and the fetch high watermark per
partition it owns (``consumer_lag``), so the Grafana dashboards, which read PostgreSQL
only, can show consumer lag beside what Prometheus scrapes from ``/metrics``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consumer_lag",
        sa.Column("consumer_group", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("committed_offset", sa.BigInteger(), nullable=False),
        sa.Column("high_watermark", sa.BigInteger(), nullable=False),
        sa.Column("lag", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer_group", "topic", "partition"),
    )


def downgrade() -> None:
    op.drop_table("consumer_lag")
