"""The local-service harness used by `make test` and `driftwarden demo`."""

from __future__ import annotations

import hashlib

import psycopg
import pytest

from monitor.services.broker import TANSU_SHA256, tansu_binary
from monitor.services.postgres import resolve_postgres, start_embedded


def test_embedded_postgres_starts_serves_and_stops() -> None:
    service = start_embedded()
    try:
        with psycopg.connect(service.address) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        assert version is not None
        assert version[0].startswith("18")
    finally:
        service.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(service.address, connect_timeout=2)


def test_the_broker_binary_is_the_pinned_one() -> None:
    assert hashlib.sha256(tansu_binary().read_bytes()).hexdigest() == TANSU_SHA256


def test_an_unreachable_configured_database_is_named() -> None:
    url = "postgresql://nobody@127.0.0.1:9/none"
    with pytest.raises(RuntimeError) as err:
        resolve_postgres(url)
    assert f"DRIFTWARDEN_DATABASE_URL={url!r}" in str(err.value)
