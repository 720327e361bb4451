"""One run of a slow step for all the requests that need it at once.

The results cache builds a page once for every request that asks while it is being
built, and the key check runs scrypt once for every first request with the same new
token (a dashboard opening 20 panels at once would otherwise cost 20 builds or checks).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """The runs in flight in this event loop, by key."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[T]] = {}

    def running(self, key: Hashable) -> asyncio.Future[T] | None:
        """The run in flight for ``key`` (await it through ``asyncio.shield``), if any."""
        return self._running.get(key)

    async def run(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        """Run ``make`` as the run for ``key``: those that wait on it get its result, or
        its exception; it is cancelled for them if this caller is."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            result = await make()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" log when nobody waits
            raise
        finally:
            del self._running[key]
        future.set_result(result)
        return result

    async def join(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        """The result of the run in flight for ``key``, or of a new one."""
        pending = self.running(key)
        if pending is not None:
            return await asyncio.shield(pending)
        return await self.run(key, make)
