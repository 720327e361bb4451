"""The API's results page cache (monitor/api/results_cache.py) on its own: versions,
one build for concurrent misses, the byte budget."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from monitor.api.results_cache import Page, ResultsCache


def _builder(
    pages: list[Page], calls: list[int], delay: float = 0.0
) -> Callable[[], Awaitable[Page]]:
    async def build() -> Page:
        calls.append(1)
        await asyncio.sleep(delay)
        return pages[len(calls) - 1]

    return build


def test_a_page_is_kept_under_the_version_it_was_built_at() -> None:
    cache = ResultsCache(max_bytes=1000)
    calls: list[int] = []
    build = _builder([Page(1, b"one"), Page(2, b"two")], calls)

    async def run() -> list[bytes]:
        return [
            await cache.page("k", 1, build),
            await cache.page("k", 1, build),
            await cache.page("k", 2, build),  # the model's results changed
            await cache.page("k", 2, build),
        ]

    assert asyncio.run(run()) == [b"one", b"one", b"two", b"two"]
    assert len(calls) == 2
    assert (cache.hits, cache.misses) == (2, 2)


def test_concurrent_misses_wait_for_one_build() -> None:
    cache = ResultsCache(max_bytes=1000)
    calls: list[int] = []
    build = _builder([Page(5, b"body")], calls, delay=0.05)

    async def run() -> list[bytes]:
        return list(await asyncio.gather(*(cache.page("k", 5, build) for _ in range(20))))

    assert asyncio.run(run()) == [b"body"] * 20
    assert len(calls) == 1
    assert (cache.hits, cache.misses) == (19, 1)


def test_a_waiter_at_a_newer_version_builds_again() -> None:
    cache = ResultsCache(max_bytes=1000)
    calls: list[int] = []
    build = _builder([Page(1, b"old"), Page(2, b"new")], calls, delay=0.05)

    async def run() -> list[bytes]:
        first = asyncio.create_task(cache.page("k", 1, build))
        await asyncio.sleep(0.01)  # the first build is under way
        second = asyncio.create_task(cache.page("k", 2, build))
        return [await first, await second]

    assert asyncio.run(run()) == [b"old", b"new"]
    assert len(calls) == 2


def test_a_failed_build_fails_its_waiters_and_is_not_kept() -> None:
    cache = ResultsCache(max_bytes=1000)
    attempts: list[int] = []

    async def failing() -> Page:
        attempts.append(1)
        await asyncio.sleep(0.02)
        raise RuntimeError("database down")

    async def run() -> list[BaseException | bytes]:
        return list(
            await asyncio.gather(
                *(cache.page("k", 1, failing) for _ in range(3)), return_exceptions=True
            )
        )

    outcomes = asyncio.run(run())
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert len(attempts) == 1
    calls: list[int] = []
    assert asyncio.run(cache.page("k", 1, _builder([Page(1, b"ok")], calls))) == b"ok"


def test_the_byte_budget_evicts_the_least_recently_used() -> None:
    cache = ResultsCache(max_bytes=800)  # pages of at most 100 bytes are kept
    built: list[str] = []

    async def get(key: str, size: int = 100) -> None:
        async def build() -> Page:
            built.append(key)
            return Page(1, b"x" * size)

        await cache.page(key, 1, build)

    async def run() -> None:
        for key in "abcdefgh":
            await get(key)
        await get("a")  # used again: b is now the least recently used
        await get("i")
        await get("a")
        await get("b")
        await get("huge", 101)
        await get("huge", 101)

    asyncio.run(run())
    assert built == [*"abcdefgh", "i", "b", "huge", "huge"]
    assert cache.size_bytes <= 800


def test_a_zero_budget_keeps_nothing() -> None:
    cache = ResultsCache(max_bytes=0)
    calls: list[int] = []
    build = _builder([Page(1, b"a"), Page(1, b"b")], calls)

    async def run() -> list[bytes]:
        return [await cache.page("k", 1, build), await cache.page("k", 1, build)]

    assert asyncio.run(run()) == [b"a", b"b"]
    assert cache.size_bytes == 0
