from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from monitor.db import migrate
from monitor.db.models import Base
from monitor.db.partitions import include_name


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_on_an_empty_database(create_database: Callable[[], str]) -> None:
    url = create_database()
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()
    assert {"predictions", "labels", "dead_letters", "notification_outbox"} <= _tables(url)
    migrate.downgrade(url, "base")
    assert migrate.current_revision(url) is None
    assert _tables(url) <= {"alembic_version"}
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()


def test_models_match_the_migrated_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_name": include_name})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
