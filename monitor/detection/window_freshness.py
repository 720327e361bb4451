"""Whether a stored window would come out the same if run again (late-data re-runs).

A refresh queues a changed hour bucket for every monitor of its model
(monitor.detection.runner). Most windows over it need not run again:

- :func:`reflects_refresh`: every run of the window read its data after the refresh
  that queued the bucket had committed (it is visible in the run's ``data_snapshot``).
- :func:`rows_unchanged`: no row the window reads (its events, with their joined
  features, and their labels; for a ``previous_window`` reference the window before too)
  was written after the run's snapshot. This is what keeps the end of an hour cheap:
  ingest changes the open hour's bucket all hour long, and the windows shorter than an
  hour, checked meanwhile from its rows, would otherwise all run again once the hour is
  refreshed.

The row check compares each row's ``xmin`` (the transaction that wrote this version of
it: an insert, or the update that joined its features) with the run's snapshot. ``xmin``
is a 32-bit id and snapshots hold 64-bit ones: the epoch is taken from the current
snapshot, which no row's writer can be newer than, so a recent writer is always placed
right; a frozen row older than 2^32 transactions could be placed in the current epoch,
which reads as "changed": one needless re-run, never a missed one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

# A 32-bit xid placed in the current epoch (see the module doc): the row's writer as xid8.
_XID8 = (
    "CAST(CAST(CASE WHEN (n.ref & -4294967296) + r.x > n.ref "
    "THEN (n.ref & -4294967296) + r.x - 4294967296 "
    "ELSE (n.ref & -4294967296) + r.x END AS text) AS xid8)"
)

_ROWS_UNCHANGED = text(
    "WITH snaps AS (SELECT DISTINCT data_snapshot FROM detector_runs "
    "  WHERE monitor_id = :m AND window_start = :lo AND window_end = :hi), "
    "n AS (SELECT CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text) AS bigint) AS ref), "
    "r AS ("
    "  SELECT CAST(CAST(p.xmin AS text) AS bigint) AS x FROM predictions p "
    "  WHERE p.model_id = :model AND p.ts >= :from_ AND p.ts < :hi "
    "  UNION ALL "
    "  SELECT CAST(CAST(l.xmin AS text) AS bigint) FROM predictions p "
    "  JOIN labels l ON l.event_id = p.event_id "
    "  WHERE p.model_id = :model AND p.ts >= :from_ AND p.ts < :hi) "
    "SELECT count(*) > 0 AND bool_and(data_snapshot IS NOT NULL) AND NOT EXISTS ("
    f"  SELECT 1 FROM r, n, snaps WHERE NOT pg_visible_in_snapshot({_XID8}, "
    "  CAST(snaps.data_snapshot AS pg_snapshot))) "
    "FROM snaps"
)


def reflects_refresh(
    session: Session, monitor_id: int, *, lo: datetime, hi: datetime, txid: int
) -> bool:
    """Whether the window has runs and every one read its data after the refresh
    ``txid`` had committed. A refresh queues the bucket it builds even when the window
    over it has not been evaluated yet, or is being evaluated, by another worker or a
    backfill; this keeps those from running twice."""
    return bool(
        session.scalar(
            text(
                "SELECT count(*) > 0 AND bool_and(coalesce(pg_visible_in_snapshot("
                "CAST(CAST(:t AS text) AS xid8), CAST(data_snapshot AS pg_snapshot)), false)) "
                "FROM detector_runs WHERE monitor_id = :m AND window_start = :lo "
                "AND window_end = :hi"
            ),
            {"t": txid, "m": monitor_id, "lo": lo, "hi": hi},
        )
    )


def rows_unchanged(
    session: Session,
    monitor_id: int,
    model_id: str,
    *,
    lo: datetime,
    hi: datetime,
    rows_from: datetime,
) -> bool:
    """Whether the window ``[lo, hi)`` has runs and none of the model's events in
    ``[rows_from, hi)`` nor their labels was written after the runs' data snapshot.

    Reads every such row's header: meant for windows read from rows (not whole hours of
    sketches), which are bounded by their rows anyway."""
    return bool(
        session.scalar(
            _ROWS_UNCHANGED,
            {"m": monitor_id, "model": model_id, "lo": lo, "hi": hi, "from_": rows_from},
        )
    )
