"""Encoded results pages, answered again while their model's results are unchanged.

A 7-day series of one model is thousands of rows and about 1.7 MB of JSON: reading and
encoding it takes tens of milliseconds of CPU, while a dashboard or a script asks for the
same series again and again and a model's results change only when one of its windows is
stored. So a page is encoded once and kept with the version of its model's results
(``results_versions``: a trigger gives the model a new version in every transaction that
changes its rows, migration 0006). A request reads that version (one indexed row) and is
answered with the kept bytes while it matches.

Exact, not a time to live: a page is built in one REPEATABLE READ snapshot with the
version that snapshot sees, so it is never kept under a version newer than its rows.

Bounded by bytes (least recently used first out). Concurrent requests for a page not
kept wait for one build instead of each building it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from monitor.api.single_flight import SingleFlight


@dataclass(frozen=True)
class Page:
    """An encoded page and the model's results version its snapshot saw."""

    version: int
    body: bytes


class ResultsCache:
    """Pages by request key (the filter, page size and cursor); one per API process."""

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        # A page over an eighth of the budget is answered but not kept: one large page
        # must not push out every series the dashboards keep asking for.
        self.max_page_bytes = max_bytes // 8
        self._pages: OrderedDict[Hashable, Page] = OrderedDict()
        self._bytes = 0
        self._builds: SingleFlight[Page] = SingleFlight()
        self.hits = 0
        self.misses = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    async def page(
        self, key: Hashable, version: int, build: Callable[[], Awaitable[Page]]
    ) -> bytes:
        """The body for ``key`` at the model's current ``version``: the kept page when
        its version matches, else one built by ``build`` (shared by the requests that
        ask meanwhile, when it comes out at their version)."""
        while True:
            kept = self._pages.get(key)
            if kept is not None and kept.version == version:
                self._pages.move_to_end(key)
                self.hits += 1
                return kept.body
            pending = self._builds.running(key)
            if pending is None:
                break
            try:
                built = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if pending.cancelled():  # its builder's request was: build it here
                    continue
                raise
            if built.version == version:
                self.hits += 1
                return built.body
            # Built from an older snapshot than this request's version: look again.
        self.misses += 1
        built = await self._builds.run(key, build)
        self._keep(key, built)
        return built.body

    def _keep(self, key: Hashable, page: Page) -> None:
        old = self._pages.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)
        if len(page.body) > self.max_page_bytes:
            return
        self._pages[key] = page
        self._bytes += len(page.body)
        while self._bytes > self.max_bytes:
            _, evicted = self._pages.popitem(last=False)
            self._bytes -= len(evicted.body)
