"""Consumer lag rows (``consumer_lag``) for the dashboards, which read PostgreSQL only.

The ingest loop reports each offset commit here; the rows of the partitions it owns
are upserted at most every ``LAG_WRITE_INTERVAL_S``, in their own short transaction,
beside (never inside) the batch writes. Losing a write costs a dashboard a few seconds
of freshness, so a failure is logged and ingest goes on; it is retried an interval
later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError

from monitor.db.models import ConsumerLag

log = logging.getLogger(__name__)

# A dashboard refreshes every 5-30 s; one upsert of a handful of rows every 5 s keeps it
# current at no measurable cost to a loop that commits offsets every batch (up to
# several times a second).
LAG_WRITE_INTERVAL_S = 5.0


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed_offset: int
    high_watermark: int

    @property
    def lag(self) -> int:
        return max(0, self.high_watermark - self.committed_offset)


def write_lag(engine: Engine, group: str, rows: Iterable[PartitionLag]) -> None:
    """Upsert one row per partition in one transaction."""
    now = datetime.now(UTC)
    values = [
        {
            "consumer_group": group,
            "topic": r.topic,
            "partition": r.partition,
            "committed_offset": r.committed_offset,
            "high_watermark": r.high_watermark,
            "lag": r.lag,
            "updated_at": now,
        }
        # Sorted: two consumers of a group after a rebalance lock rows in one order.
        for r in sorted(rows, key=lambda r: (r.topic, r.partition))
    ]
    if not values:
        return
    stmt = insert(ConsumerLag)
    with engine.begin() as conn:
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["consumer_group", "topic", "partition"],
                set_={
                    c: stmt.excluded[c]
                    for c in ("committed_offset", "high_watermark", "lag", "updated_at")
                },
            ),
            values,
        )


class LagRecorder:
    """Throttles ``write_lag``: ``committed`` after each offset commit, ``flush`` as
    often as the loop likes; a write happens when there is a new commit to show and
    the interval has passed (or ``force``)."""

    def __init__(
        self,
        engine: Engine,
        group: str,
        *,
        interval_s: float = LAG_WRITE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._group = group
        self._interval_s = interval_s
        self._clock = clock
        self._written_at = float("-inf")
        self._dirty = False
        self.writes = 0  # successful writes (tests, logs)
        self.failures = 0

    def committed(self) -> None:
        self._dirty = True

    def due(self) -> bool:
        return self._dirty and self._clock() - self._written_at >= self._interval_s

    def flush(self, rows: Callable[[], list[PartitionLag]], *, force: bool = False) -> None:
        """Write ``rows()`` if due (or forced with a commit to show). Never raises a
        database error: it is logged, and tried again an interval later."""
        if not (self.due() or (force and self._dirty)):
            return
        self._written_at = self._clock()  # a failing database is tried once an interval
        try:
            write_lag(self._engine, self._group, rows())
        except (SQLAlchemyError, psycopg.Error) as exc:
            self.failures += 1
            log.warning(
                "could not write consumer_lag rows (ingest goes on): %s",
                str(exc).splitlines()[0],
            )
            return
        self._dirty = False
        self.writes += 1
