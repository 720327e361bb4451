"""results_versions: a per-model version of the stored results, for the API's page cache

Every change to a model's ``results`` rows (insert, update, delete, also by a cascade, and
TRUNCATE) gives the model a new ``version`` from ``results_version_seq``, in the changing
transaction. The API caches encoded result pages with the version they were read at and
serves a page again only while the model's version is unchanged
(monitor/api/results_cache.py).

The trigger is a deferred constraint trigger: the version row is locked at commit, not at
the first write, so two workers writing results of one model wait for each other only
for a commit, never for a whole window's computation, and cannot deadlock on it. It runs
per row, but bumps a model once per transaction (``txid`` marks who bumped it last; the
rows after the first cost a comparison, ~4 us a row in all).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE results_version_seq")
    op.create_table(
        "results_versions",
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("model_id"),
    )
    # A transaction's rows are nearly always of one model: the model bumped last is kept
    # in a transaction-local setting, so the rows after the first cost a comparison, not
    # an upsert (a savepoint rolled back takes the setting back with its bump). The
    # upsert's txid condition covers a transaction that goes back to an earlier model.
    op.execute(
        """
        CREATE FUNCTION results_version_bump(model text) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
          IF current_setting('driftwarden.results_bumped', true) IS NOT DISTINCT FROM model
          THEN
            RETURN;
          END IF;
          INSERT INTO results_versions AS v (model_id, version, txid)
          VALUES (model, nextval('results_version_seq'), pg_current_xact_id()::text::bigint)
          ON CONFLICT (model_id) DO UPDATE SET version = excluded.version, txid = excluded.txid
          WHERE v.txid <> excluded.txid;
          PERFORM set_config('driftwarden.results_bumped', model, true);
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION results_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP <> 'DELETE' THEN
            PERFORM results_version_bump(NEW.model_id);
          END IF;
          IF TG_OP = 'DELETE'
             OR (TG_OP = 'UPDATE' AND OLD.model_id IS DISTINCT FROM NEW.model_id) THEN
            PERFORM results_version_bump(OLD.model_id);
          END IF;
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION results_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE results_versions
          SET version = nextval('results_version_seq'),
              txid = pg_current_xact_id()::text::bigint;
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER results_version AFTER INSERT OR UPDATE OR DELETE ON results "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION results_changed()"
    )
    op.execute(
        "CREATE TRIGGER results_truncate_version AFTER TRUNCATE ON results "
        "FOR EACH STATEMENT EXECUTE FUNCTION results_truncated()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER results_truncate_version ON results")
    op.execute("DROP TRIGGER results_version ON results")
    op.execute("DROP FUNCTION results_truncated()")
    op.execute("DROP FUNCTION results_changed()")
    op.execute("DROP FUNCTION results_version_bump(text)")
    op.drop_table("results_versions")
    op.execute("DROP SEQUENCE results_version_seq")
