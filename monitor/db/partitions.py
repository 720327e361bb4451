"""Monthly range partitions of ``predictions``, created on demand before a write."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text


def month_start(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def partition_name(start: datetime) -> str:
    return f"predictions_y{start.year:04d}m{start.month:02d}"


def parse_partition_name(name: str) -> datetime | None:
    match = re.fullmatch(r"predictions_y(\d{4})m(\d{2})", name)
    if match is None:
        return None
    return datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)


class PartitionManager:
    """Remembers which month partitions exist so the hot path asks PostgreSQL only for
    months it has not seen. Runs in its own committed transaction so that a failed batch
    write cannot leave the cache claiming a partition that was rolled back."""

    def __init__(self) -> None:
        self._known: set[datetime] = set()

    def unknown_months(self, timestamps: Sequence[datetime]) -> set[datetime]:
        """The months of ``timestamps`` not known to have a partition (no database call).
        A batch's timestamps are nearly always in one month: two C-level passes (min and
        max) show that, and a month per timestamp is worked out only when they differ."""
        if not timestamps:
            return set()
        first, last = month_start(min(timestamps)), month_start(max(timestamps))
        months = {first} if first == last else {month_start(ts) for ts in timestamps}
        return months - self._known

    def ensure(self, conn: Connection, timestamps: Sequence[datetime]) -> None:
        self.create(conn, self.unknown_months(timestamps))

    def create(self, conn: Connection, missing: set[datetime]) -> None:
        """Create the partitions of these months (month starts), if they do not exist."""
        if not missing:
            return
        with conn.begin():
            # CREATE ... PARTITION OF takes an exclusive lock on predictions: wait at most
            # a little for readers, rather than queue every reader and writer behind it.
            # A timeout fails the batch, which backs off and retries.
            conn.execute(text("SET LOCAL lock_timeout = '5s'"))
            # Serialise concurrent creators (several ingest consumers) on one lock key.
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('driftwarden.partitions'))"))
            for start in sorted(missing):
                # DDL takes no bind parameters; the bounds are our own ISO timestamps.
                conn.execute(
                    text(
                        f"CREATE TABLE IF NOT EXISTS {partition_name(start)} "
                        f"PARTITION OF predictions FOR VALUES FROM ('{start.isoformat()}') "
                        f"TO ('{next_month(start).isoformat()}')"
                    )
                )
        self._known |= missing

    def ensure_ahead(self, conn: Connection, now: datetime, months: int = 2) -> None:
        """Create this month's and the next ``months`` partitions, so that writes at a
        month boundary never wait for DDL (ingest calls this at start and hourly)."""
        starts = [month_start(now)]
        for _ in range(months):
            starts.append(next_month(starts[-1]))
        self.ensure(conn, starts)

    def drop_expired(self, conn: Connection, *, now: datetime, retention: timedelta) -> list[str]:
        """Drop the month partitions that end before ``now - retention``, with the event
        buckets and stored sketches of those months."""
        cutoff = now - retention
        with conn.begin():
            names = conn.scalars(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'predictions'::regclass"
                )
            ).all()
            dropped = []
            for name in sorted(names):
                start = parse_partition_name(name)
                if start is not None and next_month(start) <= cutoff:
                    conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                    conn.execute(text(f'DROP TABLE "{name}"'))
                    # Their buckets and sketches go with them, in the same transaction:
                    # a window over gone events must find none (no run from leftovers).
                    for table in ("event_buckets", "bucket_sketches"):
                        conn.execute(
                            text(f"DELETE FROM {table} WHERE bucket >= :lo AND bucket < :hi"),
                            {"lo": start, "hi": next_month(start)},
                        )
                    dropped.append(name)
                    self._known.discard(start)
        return dropped


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic ``include_name`` hook: partitions (and their indexes) are made at run time
    by :class:`PartitionManager`, not by migrations, so autogenerate must ignore them."""
    return not (name or "").startswith("predictions_y")
