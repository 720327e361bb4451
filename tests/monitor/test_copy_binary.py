"""The hand-written binary COPY encoders, read back by PostgreSQL itself."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
import pytest
from sqlalchemy import Engine

from monitor.db import copy_binary as cb

ARRAYS: list[list[str | None]] = [
    ["a", "b", "a"],
    ["a", None, "ü€"],  # a NULL and multi-byte text
    ["a", "b", "a"],  # every element cached now
    [],
    [None],
    [f"v{i}" for i in range(10)],  # more labels than the cache holds in this test
]


def copied(engine: Engine, values: Sequence[list[str | None]]) -> list[list[str | None]]:
    rows = [cb.row((cb.text(f"{i:03d}"), cb.text_array(v))) for i, v in enumerate(values)]
    with engine.connect() as conn:
        pg = conn.connection.driver_connection
        assert isinstance(pg, psycopg.Connection)
        with pg.cursor() as cur:
            cur.execute("CREATE TEMP TABLE arrays (i text, v text[])")
            with cur.copy("COPY arrays FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(cb.stream(rows))
            cur.execute("SELECT v FROM arrays ORDER BY i")
            return [row[0] for row in cur.fetchall()]


def test_text_arrays_round_trip_with_nulls_repeats_and_a_full_cache(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cb, "TEXT_ELEMENTS_CACHED", 4)
    assert copied(db, ARRAYS) == ARRAYS
    assert len(cb._TEXT_ELEMENTS) <= 4
