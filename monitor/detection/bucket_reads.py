"""A window's features from the stored bucket sketches (``bucket_sketches``), not raw rows.

``monitor/detection/bucket_refresh.py`` keeps, per model version, segment, feature and
baseline layout, one sketch and one bottom-k sample per hour bucket (``span_hours`` 1) and
their merge per UTC day (``span_hours`` 24). A window made of whole hours reads the day
rows of the whole days inside it and the hour rows of its ragged ends: a 30-day window
decodes about 30 sketches per feature instead of 720 (decoding, about 20 us a sketch, is
what costs; merging is exact and associative, so both give the same sketch).

Samples, for the exact tests that have no binned form: an hour row keeps the values of
its events whose key (a 64-bit hash of the event id, ``EVENT_KEY``) is below
``SAMPLE_KEY_BELOW``, one event in ``SAMPLE_EVERY`` (a Bernoulli sample by hash); a day row
keeps the ``K_DAY`` smallest keys of its hours' samples. For k <= K_DAY, the k smallest
keys of a window's stored parts are the k smallest of its whole hash sample (each of them
ranks at most k within its day, so its day row has it): a uniform sample of the window
without replacement, the same whatever the bucketing, of min(k, about n / SAMPLE_EVERY)
events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from detectors.sketches import Layout, Sketch, merge
from monitor.db.models import BUCKET_SECONDS, BucketSketch, EventBucket, Monitor
from monitor.epoch import floor_to

HOUR = timedelta(seconds=BUCKET_SECONDS)
DAY_HOURS = 24
DAY = HOUR * DAY_HOURS
# Hour rows keep one event in SAMPLE_EVERY (keys are uniform over the signed 64 bits);
# day rows the K_DAY smallest keys of those: window_sample returns at most K_DAY values.
SAMPLE_EVERY = 16
SAMPLE_KEY_BELOW = -(2**63) + 2**64 // SAMPLE_EVERY
K_DAY = 2_000
# The 64-bit key of an event: the first 16 hex digits of md5(event_id) as a signed bigint.
# Samples are ordered by it (signed order), in SQL and in numpy alike.
EVENT_KEY = "('x' || left(md5(event_id), 16))::bit(64)::bigint"

KeyArray = npt.NDArray[np.int64]


def is_bucketed(lo: datetime, hi: datetime) -> bool:
    """Whether both bounds are on hour-bucket boundaries (so stored sketches cover the
    window exactly)."""
    return floor_to(lo, HOUR) == lo and floor_to(hi, HOUR) == hi


def _ceil_to(t: datetime, step: timedelta) -> datetime:
    start = floor_to(t, step)
    return start if start == t else start + step


def _span_filter(lo: datetime, hi: datetime) -> Any:
    """Rows covering ``[lo, hi)`` exactly once: days wholly inside, hours elsewhere."""
    if not is_bucketed(lo, hi):
        raise ValueError(f"window [{lo.isoformat()}, {hi.isoformat()}) is not on hour buckets")
    d0, d1 = _ceil_to(lo, DAY), floor_to(hi, DAY)
    col, span = BucketSketch.bucket, BucketSketch.span_hours
    if d0 >= d1:
        return and_(span == 1, col >= lo, col < hi)
    return or_(
        and_(span == DAY_HOURS, col >= d0, col < d1),
        and_(span == 1, or_(and_(col >= lo, col < d0), and_(col >= d1, col < hi))),
    )


def _rows(
    session: Session,
    columns: Sequence[Any],
    *,
    model_id: str,
    version: str,
    segment: str,
    lo: datetime,
    hi: datetime,
    layouts: Mapping[str, Layout],
) -> Iterable[Any]:
    """``(feature, *columns)`` of the window's stored rows for the features of ``layouts``,
    each on its own layout (a feature can also have rows on other baselines' layouts)."""
    if not layouts:
        return []
    query = select(BucketSketch.feature, BucketSketch.layout, *columns).where(
        BucketSketch.model_id == model_id,
        BucketSketch.model_version == version,
        BucketSketch.segment == segment,
        BucketSketch.feature.in_(list(layouts)),
        BucketSketch.layout.in_(sorted({lay.fingerprint for lay in layouts.values()})),
        _span_filter(lo, hi),
    )
    return (
        (r[0], *r[2:])
        for r in session.execute(query)
        if r[0] in layouts and layouts[r[0]].fingerprint == r[1]
    )


def window_sketches(
    session: Session,
    *,
    model_id: str,
    version: str,
    segment: str,
    lo: datetime,
    hi: datetime,
    layouts: Mapping[str, Layout],
) -> dict[str, Sketch]:
    """Per feature of ``layouts``, the merge of its stored sketches on that layout over the
    hour buckets in ``[lo, hi)`` (bounds on bucket boundaries, else ValueError). A feature
    with no stored sketch in the window is absent. ``segment`` is '' (all traffic) or
    ``key=value``."""
    parts: dict[str, list[Sketch]] = {}
    for feature, data in _rows(
        session,
        (BucketSketch.sketch,),
        model_id=model_id,
        version=version,
        segment=segment,
        lo=lo,
        hi=hi,
        layouts=layouts,
    ):
        parts.setdefault(feature, []).append(Sketch.from_bytes(data, layouts[feature]))
    return {f: merge(*sketches) for f, sketches in parts.items()}


def bottom_k(
    parts: Iterable[tuple[Sequence[int], Sequence[Any]]], k: int
) -> tuple[KeyArray, list[Any]]:
    """The ``k`` smallest keys of the union of ``(keys, values)`` parts, ascending, with
    their values. A stable sort, so equal keys (the same event id stored twice) keep the
    order of the parts."""
    keys: list[int] = []
    values: list[Any] = []
    for part_keys, part_values in parts:
        keys.extend(part_keys)
        values.extend(part_values)
    order = np.argsort(np.array(keys, dtype=np.int64), kind="stable")[:k]
    return np.array(keys, dtype=np.int64)[order], [values[i] for i in order.tolist()]


def window_sample(
    session: Session,
    *,
    model_id: str,
    version: str,
    segment: str,
    lo: datetime,
    hi: datetime,
    features: Sequence[str],
    layouts: Mapping[str, Layout],
    k: int,
) -> dict[str, np.ndarray[Any, Any]]:
    """Per feature, the values of the window's hash-sampled events of the ``k`` smallest
    keys (k at most ``K_DAY``; fewer when the window has fewer than about k *
    SAMPLE_EVERY events): numerical as float64 with NaN for missing, categorical as an
    object array with None for missing. Features are read on their layout in ``layouts``
    (the sample is the same on every layout; the row must exist); absent when nothing is
    stored."""
    if not 0 < k <= K_DAY:
        raise ValueError(f"k must be in 1..{K_DAY} (the day rows' sample size), got {k}")
    wanted = {f: layouts[f] for f in features}
    parts: dict[str, list[tuple[Sequence[int], Sequence[Any]]]] = {}
    for feature, keys, num, cat in _rows(
        session,
        (BucketSketch.sample_keys, BucketSketch.sample_num, BucketSketch.sample_cat),
        model_id=model_id,
        version=version,
        segment=segment,
        lo=lo,
        hi=hi,
        layouts=wanted,
    ):
        parts.setdefault(feature, []).append((keys, num if num is not None else cat))
    out: dict[str, np.ndarray[Any, Any]] = {}
    for feature, feature_parts in parts.items():
        _, values = bottom_k(feature_parts, k)
        if wanted[feature].kind == "numerical":
            out[feature] = np.array([np.nan if v is None else v for v in values], dtype=float)
        else:
            out[feature] = np.array(values, dtype=object)
    return out


def window_segment_events(
    session: Session, *, model_id: str, version: str, lo: datetime, hi: datetime
) -> dict[str, int]:
    """Per segment stored for the version's hour buckets in ``[lo, hi)`` ('' and each
    ``key=value`` the refresh kept), its events with features: a sketch counts every row
    of its segment, missing values included, so any feature's total is it. Empty when
    nothing is stored (a version without a baseline has no sketches)."""
    rows = session.execute(
        select(BucketSketch.segment, func.sum(BucketSketch.n))
        .where(
            BucketSketch.model_id == model_id,
            BucketSketch.model_version == version,
            _span_filter(lo, hi),
        )
        .group_by(BucketSketch.segment, BucketSketch.feature, BucketSketch.layout)
    )
    out: dict[str, int] = {}
    for segment, n in rows:
        out[segment] = max(out.get(segment, 0), int(n))
    return out


def segment_keys(session: Session, model_id: str) -> list[str]:
    """The segment keys declared by the model's enabled monitors (``segments`` of their
    stored spec JSON), sorted."""
    specs = session.scalars(
        select(Monitor.spec).where(Monitor.model_id == model_id, Monitor.enabled)
    )
    keys: set[str] = set()
    for spec in specs:
        keys.update(str(k) for k in spec.get("segments") or [])
    return sorted(keys)


def window_versions(
    session: Session, model_id: str, *, lo: datetime, hi: datetime
) -> dict[str, tuple[int, bool]]:
    """Per model version with events in the hour buckets of ``[lo, hi)``: the events
    stored (ingest's count, features pending included) and whether every one of its
    buckets there is refreshed (its stored sketches are current)."""
    rows = session.execute(
        select(
            EventBucket.model_version,
            func.sum(EventBucket.events),
            func.bool_and(EventBucket.changes == EventBucket.sketched),
        )
        .where(EventBucket.model_id == model_id, EventBucket.bucket >= lo, EventBucket.bucket < hi)
        .group_by(EventBucket.model_version)
        .having(func.sum(EventBucket.events) > 0)
    )
    return {version: (int(events), bool(clean)) for version, events, clean in rows}
