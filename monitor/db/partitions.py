"""Monthly range partitions of ``predictions``, created on demand before a write."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

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


class PartitionManager:
    """Remembers which month partitions exist so the hot path asks PostgreSQL only for
    months it has not seen. Runs in its own committed transaction so that a failed batch
    write cannot leave the cache claiming a partition that was rolled back."""

    def __init__(self) -> None:
        self._known: set[datetime] = set()

    def ensure(self, conn: Connection, timestamps: Iterable[datetime]) -> None:
        missing = {month_start(ts) for ts in timestamps} - self._known
        if not missing:
            return
        with conn.begin():
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


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic ``include_name`` hook: partitions (and their indexes) are made at run time
    by :class:`PartitionManager`, not by migrations, so autogenerate must ignore them."""
    return not (name or "").startswith("predictions_y")
