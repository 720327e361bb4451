"""Real services for the tests: PostgreSQL and a Kafka-protocol broker.

`make test` runs pytest under `driftwarden services run`, which exports
DRIFTWARDEN_DATABASE_URL and DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS. Run bare (`pytest`),
this file finds or starts the same services itself. It never skips: a missing service
is an error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from monitor.config import Settings, load_settings
from monitor.db import migrate
from monitor.db.engine import make_engine
from monitor.services import Service
from monitor.services.broker import resolve_broker
from monitor.services.postgres import resolve_postgres, scratch_database


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    service = resolve_postgres(os.environ.get("DRIFTWARDEN_DATABASE_URL"))
    yield service.address
    service.stop()


@pytest.fixture(scope="session")
def bootstrap() -> Iterator[str]:
    service = resolve_broker(os.environ.get("DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS"))
    yield service.address
    service.stop()


@pytest.fixture(scope="session")
def create_database(server_url: str) -> Iterator[Callable[[], str]]:
    """Make empty databases on the server; all are dropped at the end of the session."""
    created: list[Service] = []

    def create() -> str:
        created.append(scratch_database(server_url, prefix="dw_test"))
        return created[-1].address

    yield create
    for database in created:
        database.stop()


@pytest.fixture(scope="session")
def database_url(create_database: Callable[[], str]) -> str:
    url = create_database()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(load_settings(database_url=database_url))
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine: Engine) -> Engine:
    """The migrated test database, emptied before the test."""
    with engine.begin() as conn:
        tables = conn.scalars(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version' AND tablename NOT LIKE 'predictions_y%'"
            )
        ).all()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    return engine


@pytest.fixture
def settings(database_url: str, bootstrap: str) -> Settings:
    """Settings with this test's own topics and consumer group."""
    tag = uuid.uuid4().hex[:8]
    return load_settings(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        predictions_topic=f"test-{tag}.predictions",
        labels_topic=f"test-{tag}.labels",
        features_topic=f"test-{tag}.features",
        consumer_group=f"test-{tag}",
        batch_size=200,
        batch_max_wait_ms=200,
        # Tansu completes a group's first join after about half the session timeout.
        session_timeout_ms=6000,
        retry_backoff_initial_s=0.2,
        retry_backoff_max_s=1.0,
        # Roles run as subprocesses serve no /metrics unless a test gives them a port:
        # concurrent tests would contend for the default one.
        metrics_port=0,
    )


FAULT_SQL = """
CREATE TABLE e2e_fault (active boolean NOT NULL);
INSERT INTO e2e_fault VALUES (true);
CREATE SEQUENCE e2e_fault_hits;
CREATE FUNCTION e2e_fault_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT active FROM e2e_fault) THEN
    PERFORM nextval('e2e_fault_hits');  -- sequences survive the rollback: counts attempts
    RAISE EXCEPTION 'injected database outage';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER e2e_fault BEFORE INSERT ON predictions FOR EACH ROW EXECUTE FUNCTION e2e_fault_fn();
"""
UNFAULT_SQL = """
DROP TRIGGER IF EXISTS e2e_fault ON predictions;
DROP FUNCTION IF EXISTS e2e_fault_fn();
DROP SEQUENCE IF EXISTS e2e_fault_hits;
DROP TABLE IF EXISTS e2e_fault;
"""


@pytest.fixture
def outage(db: Engine) -> Iterator[Engine]:
    """The test database, rejecting every prediction insert until
    ``UPDATE e2e_fault SET active = false``; ``e2e_fault_hits`` counts the attempts."""
    with db.begin() as conn:
        conn.execute(text(FAULT_SQL))
    yield db
    with db.begin() as conn:
        conn.execute(text(UNFAULT_SQL))


@pytest.fixture
def run_cli(db: Engine, database_url: str) -> Callable[..., str]:
    """``run_cli(*args, code=0)``: `driftwarden ARGS` in-process against the emptied test
    database; checks the exit code and returns the output."""
    from typer.testing import CliRunner  # noqa: PLC0415

    from monitor.cli import app  # noqa: PLC0415

    runner = CliRunner()
    env = {"DRIFTWARDEN_DATABASE_URL": database_url, "COLUMNS": "200"}

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    return invoke
