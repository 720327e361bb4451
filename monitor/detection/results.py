"""Result rows of a run, and the cursor that follows new ones.

``results`` holds one row per run, feature ('' for the run as a whole) and metric, with
the run's labels copied (model, version, segment, signal, window) so that a Grafana
panel or an alert rule reads one table without a join.

New results are followed by a cursor, not by polling everything: each row carries the id
of the transaction that wrote it (``txid``). Ids are handed out at a transaction's first
write, not when it commits, so "every row above the last id read" would skip a row
committed later with a smaller id. The cursor is therefore a PostgreSQL snapshot
(``pg_current_snapshot()``): a reader has consumed exactly the rows of the transactions
that snapshot saw as committed. The next read takes the rows visible in a new snapshot
and not in the old one, so a transaction still running at the last read is picked up
when it commits, and a long transaction elsewhere on the server delays nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

import detectors
from monitor.db.models import DetectorRun, Result

# The metric of the null-rate check of a numerical feature: value = the window's share of
# missing values (None, NaN, +-inf), lower/upper unused.
MISSING_SHARE = "missing_share"
DRIFT_SHARE = "drift_share"


def _finite(value: object) -> object:
    """None for NaN and +-inf: result rows hold numbers or nothing (JSON has no NaN)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def result_row(run: DetectorRun, **values: object) -> Result:
    """A result row of ``run``, with the run's labels (model, version, segment, signal,
    window); non-finite numbers are stored as NULL."""
    return Result(
        monitor_id=run.monitor_id,
        model_id=run.model_id,
        model_version=run.model_version,
        segment=run.segment,
        signal=run.signal,
        window_start=run.window_start,
        window_end=run.window_end,
        **{k: _finite(v) for k, v in values.items()},
    )


def drift_results(
    run: DetectorRun, result: detectors.DriftResult, *, share_threshold: float
) -> list[Result]:
    """A drift check as rows: per feature its test (value = the statistic, threshold = the
    p-value threshold applied, alert = the feature's verdict), its null-rate check when
    there is one, and the run's share of drifted features."""
    rows = []
    for c in result.columns:
        rows.append(
            result_row(
                run,
                feature=c.column,
                metric=c.method,
                kind=c.kind,
                value=c.statistic,
                p_value=c.p_value,
                effect_size=c.effect_size,
                threshold=c.threshold,
                alert=c.drifted,
                n_reference=c.n_reference,
                n_current=c.n_current,
            )
        )
        if c.missing is not None:
            rows.append(
                result_row(
                    run,
                    feature=c.column,
                    metric=MISSING_SHARE,
                    kind=c.kind,
                    value=c.missing.current,
                    p_value=c.missing.p_value,
                    effect_size=abs(c.missing.current - c.missing.reference),
                    threshold=c.missing.min_change,
                    alert=c.missing.drifted,
                    n_reference=c.n_reference,
                    n_current=c.n_current,
                )
            )
    rows.append(
        result_row(
            run,
            metric=DRIFT_SHARE,
            value=result.drift_share,
            threshold=share_threshold,
            alert=result.dataset_drift,
            n_reference=run.n_reference,
            n_current=run.n_current,
        )
    )
    return rows


@dataclass(frozen=True)
class Cursor:
    """What a reader of new results has consumed: every row of the transactions that
    ``snapshot`` (``pg_snapshot`` text, ``xmin:xmax:xip,...``) saw as committed; None
    before the first read. While a read is paged by ``limit``, ``upto`` is the snapshot
    being read up to and ``txid``/``id`` the last row handed out."""

    snapshot: str | None = None
    upto: str | None = None
    txid: int = 0
    id: int = 0


_VISIBLE = "pg_visible_in_snapshot(results.txid::text::xid8, CAST(:{name} AS pg_snapshot))"


def read_results(
    session: Session, after: Cursor = Cursor(), *, limit: int = 10_000
) -> tuple[Sequence[Result], Cursor]:
    """Results committed since ``after``, in (txid, id) order, at most ``limit``; and the
    cursor to pass next time. A full page returns a cursor that continues the same read;
    the read ends (the cursor moves to its snapshot) with a page shorter than ``limit``."""
    upto = after.upto or session.scalar(text("SELECT pg_current_snapshot()::text"))
    query = select(Result).where(text(_VISIBLE.format(name="upto")).bindparams(upto=upto))
    if after.snapshot is not None:
        # Rows of transactions older than the old snapshot's xmin were all visible to
        # it: the bound lets the (txid, id) index skip them.
        query = query.where(
            Result.txid
            >= text("pg_snapshot_xmin(CAST(:old AS pg_snapshot))::text::bigint").bindparams(
                old=after.snapshot
            ),
            text("NOT " + _VISIBLE.format(name="old2")).bindparams(old2=after.snapshot),
        )
    if after.upto is not None:
        query = query.where(tuple_(Result.txid, Result.id) > tuple_(after.txid, after.id))
    rows = session.scalars(query.order_by(Result.txid, Result.id).limit(limit)).all()
    if len(rows) == limit:
        return rows, Cursor(after.snapshot, upto, rows[-1].txid, rows[-1].id)
    return rows, Cursor(upto)
