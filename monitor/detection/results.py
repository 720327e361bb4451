"""Result rows of a run, and the cursor that follows new ones.

``results`` holds one row per run, feature ('' for the run as a whole) and metric, with
the run's labels copied (model, version, segment, signal, window) so that a Grafana
panel or an alert rule reads one table without a join.

New results are followed by a cursor, not by polling everything: each row carries the id
of the transaction that wrote it (``txid``). Ids are handed out at a transaction's first
write, not when it commits, so a reader that took every row above its last id could
skip one committed later with a smaller id. :func:`read_results` therefore returns only
rows of transactions older than every transaction still running (the snapshot's
``xmin``): those are all committed or gone, nothing can appear below the cursor later.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.orm import Session

import detectors
from monitor.db.models import DetectorRun, Result

# The metric of the null-rate check of a numerical feature: value = the window's share of
# missing values (None, NaN, +-inf), lower/upper unused.
MISSING_SHARE = "missing_share"
DRIFT_SHARE = "drift_share"
# Signals whose per-feature rows are one drift test each (plus the null-rate detail).
DRIFT_SIGNALS = frozenset({"data_drift", "skew", "prediction_drift", "target_drift"})


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


@dataclass(frozen=True, order=True)
class Cursor:
    """Where a reader of new results is: the (txid, id) of the last row it took."""

    txid: int = 0
    id: int = 0


def read_results(
    session: Session, after: Cursor = Cursor(), *, limit: int = 10_000
) -> tuple[Sequence[Result], Cursor]:
    """Results written after ``after`` by transactions that can no longer commit new rows
    below the cursor, oldest first, at most ``limit``; and the cursor to pass next time
    (``after`` itself when there is nothing new)."""
    horizon = session.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))
    rows = session.scalars(
        select(Result)
        .where(
            tuple_(Result.txid, Result.id) > tuple_(after.txid, after.id),
            Result.txid < func.coalesce(horizon, 0),
        )
        .order_by(Result.txid, Result.id)
        .limit(limit)
    ).all()
    if not rows:
        return rows, after
    return rows, Cursor(rows[-1].txid, rows[-1].id)
