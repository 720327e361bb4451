"""The long-running detect loop: a pass over the due windows every interval, until
stopped; database outages are waited out, not fatal."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from monitor.detection.evaluate import RunSummary
from monitor.detection.runner import run_due

log = logging.getLogger(__name__)


def run_forever(
    engine: Engine,
    *,
    stop: threading.Event,
    interval_s: float,
    backoff_initial_s: float,
    backoff_max_s: float,
    on_run: Callable[[RunSummary], None] | None = None,
) -> int:
    """Run passes of :func:`run_due` every ``interval_s`` seconds until ``stop`` is set
    (the window in progress is finished and committed first). A database error ends the
    pass (its window rolled back, so redone by the next pass or another worker); the
    next pass starts after an exponential back-off from ``backoff_initial_s`` to
    ``backoff_max_s``. Returns the number of database errors met."""
    failures = 0
    backoff = backoff_initial_s
    while not stop.is_set():
        try:
            run_due(engine, on_run=on_run, stop=stop)
        except (SQLAlchemyError, psycopg.Error) as exc:
            failures += 1
            log.warning("database error, next pass in %.1fs: %s", backoff, str(exc).splitlines()[0])
            stop.wait(backoff)
            backoff = min(backoff * 2, backoff_max_s)
            continue
        backoff = backoff_initial_s
        stop.wait(interval_s)
    return failures
