"""A window's rows and its references, loaded for the detectors.

The events of a window by model version (``Window``, as arrays in the version's layout),
the reference rows of a ``previous_window`` or ``fixed_window`` monitor (a fixed range is
loaded once per pass, through a ``RangeCache``), and a baseline profile's sample as
columns. Given a ``Segment`` (key, value), each loads only the events whose segment map
has that value for that key.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, func, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from monitor.db.models import Prediction
from monitor.detection.spec import MonitorSpec
from monitor.layout import Layout

# Rows of a fixed reference range kept per version: the same bound as a baseline's sample.
MAX_REFERENCE_ROWS = 20_000

# A slice of the traffic: the events whose ``segment`` map has ``key: value``.
Segment = tuple[str, str]


def segment_name(segment: Segment | None) -> str:
    """How runs and sketches name a segment: '' (all traffic) or ``key=value``."""
    return "" if segment is None else f"{segment[0]}={segment[1]}"


def in_segment(segment: Segment) -> ColumnElement[bool]:
    """The predictions of ``segment``; the value compared as the JSON value's text
    (``->>``), as the bucket refresh reads it."""
    key, value = segment
    condition: ColumnElement[bool] = Prediction.segment[key].astext == value
    return condition


def _column(values: list[Any], kind: str) -> np.ndarray:
    if kind == "numerical":
        return np.array([np.nan if v is None else v for v in values], dtype=float)
    return np.array(values, dtype=object)


@dataclass
class Window:
    """One version's rows of a window, as arrays in the version's layout."""

    num: list[list[float | None]]
    cat: list[list[str | None]]
    pending: int = 0

    def columns(self, layout: Layout) -> dict[str, np.ndarray]:
        n = len(self.num)
        # None -> NaN in the float matrix; short arrays (schema grew later) are padded.
        num = np.full((n, len(layout.numerical)), np.nan)
        for i, row in enumerate(self.num):
            num[i, : len(row)] = np.array(row, dtype=float)
        cat = np.full((n, len(layout.categorical)), None, dtype=object)
        for i, crow in enumerate(self.cat):
            cat[i, : len(crow)] = crow
        out = {name: num[:, j] for j, name in enumerate(layout.numerical)}
        out.update({name: cat[:, j] for j, name in enumerate(layout.categorical)})
        return out


def profile_reference(profile: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """A baseline profile's sample as columns, and their kinds."""
    features = profile["features"]
    kinds = {f: str(p["kind"]) for f, p in features.items()}
    return {f: _column(p["sample"], kinds[f]) for f, p in features.items()}, kinds


def load_windows(
    session: Session,
    model_id: str,
    *,
    lo: datetime,
    hi: datetime,
    limit: int | None = None,
    segment: Segment | None = None,
) -> dict[str, Window]:
    """The model's events in ``[lo, hi)`` (of ``segment``) by version; with ``limit``, at
    most that many rows per version, a fixed pseudo-random subset (by a hash of the event
    id)."""
    windows: dict[str, Window] = defaultdict(lambda: Window([], []))
    query = select(Prediction.model_version, Prediction.num_values, Prediction.cat_values).where(
        Prediction.model_id == model_id, Prediction.ts >= lo, Prediction.ts < hi
    )
    if segment is not None:
        query = query.where(in_segment(segment))
    if limit is not None:
        # Rows still waiting for their features would take a place in the sample.
        ranked = (
            query.where((Prediction.num_values.is_not(None)) | (Prediction.cat_values.is_not(None)))
            .add_columns(
                func.row_number()
                .over(partition_by=Prediction.model_version, order_by=func.md5(Prediction.event_id))
                .label("rank")
            )
            .subquery()
        )
        query = select(ranked.c.model_version, ranked.c.num_values, ranked.c.cat_values).where(
            ranked.c.rank <= limit
        )
    # psycopg already returns float8[] and text[] as lists; SQLAlchemy's ARRAY type would
    # then walk every item again (most of a small window's load time, profiled): read the
    # arrays untyped.
    arrays = query.subquery()
    query = select(
        arrays.c.model_version,
        type_coerce(arrays.c.num_values, NullType()),
        type_coerce(arrays.c.cat_values, NullType()),
    )
    for version, num, cat in session.execute(query):
        w = windows[version]
        if num is None and cat is None:
            w.pending += 1  # features still expected from a feature log
        else:
            w.num.append(num or [])
            w.cat.append(cat or [])
    return dict(windows)


# Reference rows of fixed ranges, by (model, start, end, segment): loaded once per run_due
# call, not once per window.
RangeCache = dict[tuple[str, datetime, datetime, Segment | None], dict[str, Window]]


def window_references(
    session: Session,
    spec: MonitorSpec,
    *,
    lo: datetime,
    cache: RangeCache,
    segment: Segment | None = None,
) -> tuple[dict[str, Window], str]:
    """The reference rows by version for a window starting at ``lo`` (reference
    ``previous_window`` or ``fixed_window``), of the same ``segment`` as the window, and
    how to name that range in an error."""
    if spec.reference == "previous_window":
        start, end = lo - spec.window_size, lo
        rows = load_windows(session, spec.model_id, lo=start, hi=end, segment=segment)
        return rows, "previous window"
    assert spec.reference_window is not None  # the spec's validator ensures it
    start, end = spec.reference_window.start, spec.reference_window.end
    key = (spec.model_id, start, end, segment)
    if key not in cache:
        cache[key] = load_windows(
            session, spec.model_id, lo=start, hi=end, limit=MAX_REFERENCE_ROWS, segment=segment
        )
    return cache[key], f"reference window [{start.isoformat()}, {end.isoformat()})"
