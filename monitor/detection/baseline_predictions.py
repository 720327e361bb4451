"""Stored production predictions of one model version, read as column batches.

The rows of ``[start, end)`` are read in ``(ts, event_id)`` order through a server-side
cursor (``yield_per``), ``batch_rows`` at a time, on one connection in a REPEATABLE READ
transaction: every pass of the profile builder sees the same rows even while ingest
writes more. Predictions whose features are still expected from a feature log (both
arrays NULL) are skipped and counted in ``pending``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
from sqlalchemy import Connection, func, select

from monitor.db.models import Prediction
from monitor.layout import Layout

Batch = tuple[dict[str, np.ndarray[Any, Any]], int]


@dataclass
class PredictionSource:
    """Predictions of ``model_id`` version ``version`` with ``start <= ts < end``, as
    batches of the version's features (numbers float64 with NaN for missing, categories
    as strings or None). Open it with :func:`open_predictions`."""

    conn: Connection
    model_id: str
    version: str
    start: datetime
    end: datetime
    layout: Layout
    batch_rows: int
    total: int
    pending: int
    unit: Literal["rows"] = "rows"
    ignored: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        return (
            f"predictions of {self.model_id} v{self.version} from {self.start.isoformat()} "
            f"to {self.end.isoformat()}"
        )

    def _where(self) -> Any:
        return (
            (Prediction.model_id == self.model_id)
            & (Prediction.model_version == self.version)
            & (Prediction.ts >= self.start)
            & (Prediction.ts < self.end)
        )

    def batches(self) -> Iterator[Batch]:
        query = (
            select(Prediction.num_values, Prediction.cat_values)
            .where(self._where())
            .where(Prediction.num_values.is_not(None) | Prediction.cat_values.is_not(None))
            .order_by(Prediction.ts, Prediction.event_id)
            .execution_options(yield_per=self.batch_rows)
        )
        done = 0
        for rows in self.conn.execute(query).partitions():
            done += len(rows)
            yield self._columns(rows), done

    def _columns(self, rows: Any) -> dict[str, np.ndarray[Any, Any]]:
        n, numerical, categorical = len(rows), self.layout.numerical, self.layout.categorical
        # Arrays shorter than the layout (written before the schema grew) are padded.
        num = np.full((n, len(numerical)), np.nan)
        cat = np.full((n, len(categorical)), None, dtype=object)
        for i, (num_values, cat_values) in enumerate(rows):
            if num_values:
                num[i, : len(num_values)] = np.array(num_values, dtype=np.float64)
            if cat_values:
                cat[i, : len(cat_values)] = cat_values
        out = {name: num[:, j].copy() for j, name in enumerate(numerical)}
        out.update({name: cat[:, j].copy() for j, name in enumerate(categorical)})
        return out


def open_predictions(
    conn: Connection,
    *,
    model_id: str,
    version: str,
    start: datetime,
    end: datetime,
    layout: Layout,
    batch_rows: int = 50_000,
) -> PredictionSource:
    """A source over ``conn``, which must be in a REPEATABLE READ (or SERIALIZABLE)
    transaction for the passes to agree. Counts the rows to read and the pending ones."""
    source = PredictionSource(conn, model_id, version, start, end, layout, batch_rows, 0, 0)
    has_features = Prediction.num_values.is_not(None) | Prediction.cat_values.is_not(None)
    total, pending = conn.execute(
        select(func.count().filter(has_features), func.count().filter(~has_features)).where(
            source._where()
        )
    ).one()
    source.total, source.pending = int(total), int(pending)
    return source
