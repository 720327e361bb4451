"""Stored results as samples, window by window: what ``rules backtest`` replays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerting.result_samples import samples_of
from monitor.alerting.sample import Sample
from monitor.db.models import Result

CHUNK = 5_000


def stored_samples(session: Session, start: datetime, end: datetime) -> Iterator[Sample]:
    """Samples of the results of windows ending in (start, end], ordered by window end.
    Streams: rows are read in chunks and turned into samples a run at a time (a run's
    rows share its window, so they are adjacent in this order)."""
    query = (
        select(Result)
        .where(Result.window_end > start, Result.window_end <= end)
        .order_by(Result.window_end, Result.run_id, Result.id)
        .execution_options(yield_per=CHUNK)
    )
    run: list[Result] = []
    for row in session.scalars(query):
        if run and row.run_id != run[0].run_id:
            yield from samples_of(run)
            run = []
        run.append(row)
    if run:
        yield from samples_of(run)
