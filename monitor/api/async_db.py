"""The API's asynchronous database connections (psycopg_pool), for the hot read path.

Every ``/v1`` request checks its key, and a cached results page is answered after one
look at its model's results version: both are one indexed read, run here on the event
loop. Through FastAPI's threadpool each would cost a thread hop and the GIL contention of
its 40 threads, more than the query itself (bench/api.py measures both paths). Everything
else keeps the synchronous SQLAlchemy engine in the threadpool.

The pool belongs to the event loop that opens it: the app's lifespan opens it and closes
it at shutdown (tests/api_support.py runs the lifespan as uvicorn does).
"""

from __future__ import annotations

from typing import Any, LiteralString

import psycopg
from psycopg_pool import AsyncConnectionPool

from monitor.config import libpq_url


class AsyncDatabase:
    """A small autocommit pool: each call is one statement, outside any transaction."""

    def __init__(self, url: str, *, max_size: int = 8) -> None:
        self._conninfo = libpq_url(url)
        self._max_size = max_size
        self._pool: AsyncConnectionPool | None = None

    async def open(self) -> None:
        """Start the pool without waiting for a connection: the API starts (and /readyz
        says why it is not ready) while the database is down."""
        pool = AsyncConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=self._max_size,
            open=False,
            name="api-async",
            # Datetimes read back are in UTC whatever the server's TimeZone (make_engine).
            kwargs={"autocommit": True, "options": "-c TimeZone=UTC"},
        )
        await pool.open(wait=False)
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def fetchone(self, sql: LiteralString, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of one statement. A connection the server dropped (a restart,
        ``pg_terminate_backend``) is discarded by the pool and the statement is tried
        once more on another, as the engine's pre-ping would have."""
        try:
            return await self._fetchone(sql, params)
        except psycopg.OperationalError:
            return await self._fetchone(sql, params)

    async def _fetchone(self, sql: LiteralString, params: dict[str, Any]) -> tuple[Any, ...] | None:
        if self._pool is None:
            raise RuntimeError("the API's async database is not open (the lifespan opens it)")
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql, params)
            return await cursor.fetchone()
