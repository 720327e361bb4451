"""The catch-up step of the detect worker: rebuild the sketches of changed hour buckets.

Ingest counts, per model version and hour of event time, its stored events and every later
change (``event_buckets.changes``: a prediction stored, its features joined, a label
stored). A bucket whose ``changes`` differs from ``sketched`` is dirty. For each dirty
bucket, :func:`refresh_buckets`:

1. locks its ``event_buckets`` row and reads ``changes`` (c). A bucket another worker is
   refreshing is waited for, not skipped: when the call returns, every bucket dirty at
   its start has been refreshed and committed, by this worker or another, so the windows
   the worker evaluates next read current sketches (skipping would let it evaluate a
   window over a bucket still being rebuilt, and run it again once that commits);
2. reads the bucket's predictions whose features have arrived, with a 64-bit key per
   event (``bucket_reads.EVENT_KEY``, a hash of the event id computed in SQL) and the
   values of the model's segment keys;
3. sketches, per segment ('' = all rows; ``key=value`` for each value of each segment key
   the model's enabled monitors declare, at most ``MAX_SEGMENT_VALUES`` per key: the most
   frequent, ties by value) and per feature of each distinct layout of the version's
   baselines, the feature's values (``window_data.Window.columns`` of the stored arrays),
   and keeps the values of its events with a key below ``SAMPLE_KEY_BELOW`` (a sample
   of one event in ``SAMPLE_EVERY`` by hash);
4. replaces the bucket's rows of ``bucket_sketches`` (``span_hours`` 1), sets
   ``sketched = c`` and queues a ``window_reruns`` row per enabled monitor of the model.

Then the day rollup (``span_hours`` 24) of the buckets' day is rebuilt from its stored
hour rows (merge is exact; the samples merge by keeping the K_DAY smallest keys), under an
advisory lock per model version and day, so two workers refreshing hours of one day
cannot both rebuild it at once (the second waits, then sees the first's committed hours).

A transaction covers the dirty buckets of one model version and one day (at most 24):
the rollup is rebuilt once per day, not once per hour, and a crash loses at most one day's
work. Ingest waits on a locked bucket row until that commit: about 1 s for a day of
100,000 events caught up at once (measured, 2 cores), about 1/24 of that for one hour.

Events written while a bucket is refreshed raise ``changes`` past c: the bucket stays
dirty and the next refresh rebuilds it. A row read that already includes them is only
redundant. One call passes over the selection once, in key order, so it ends even while
ingest keeps dirtying the current hour.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import Engine, delete, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from detectors.sketches import Layout as SketchLayout
from detectors.sketches import Sketch, layout_from_dict, merge, sketch
from monitor.db.models import BucketSketch, ModelVersion
from monitor.detection.bucket_reads import (
    DAY,
    DAY_HOURS,
    EVENT_KEY,
    HOUR,
    K_DAY,
    SAMPLE_KEY_BELOW,
    bottom_k,
    segment_keys,
)
from monitor.detection.window_data import Window, segment_name
from monitor.epoch import floor_to
from monitor.layout import Layout

log = logging.getLogger(__name__)

# ``sketched`` of a bucket whose sketches must be rebuilt though its data did not change
# (a baseline, so a layout, was created, replaced or deleted; the segment keys changed):
# rebuilt without queueing the windows over it, whose results do not depend on it.
RESKETCH = -1

# Values of one segment key run per window (window_segments), and sketched per hour: the
# most frequent. A key with more values (a user id used as a segment) would otherwise
# multiply the rows without bound; its rarer values are still in segment ''. An hour keeps
# four times as many, so that a value among a window's top 50 is cut from one of its hours
# only when that hour has over 200 values of the key (a value cut so is missing that
# hour's events in the window's check from sketches: logged by the refresh).
MAX_SEGMENT_VALUES = 50
BUCKET_SEGMENT_VALUES = 4 * MAX_SEGMENT_VALUES
# ``key=value`` is stored in this many characters (bucket_sketches, detector_runs and
# results ``segment``); a longer one gets no sketch (and no run), not a failed refresh.
SEGMENT_NAME_MAX = 200


@dataclass
class RefreshCounts:
    """What one :func:`refresh_buckets` call did: hour buckets refreshed, hour sketches
    written, events read (features present), day rollups rebuilt."""

    buckets: int = 0
    sketches: int = 0
    events: int = 0
    days: int = 0


@dataclass(frozen=True)
class _Version:
    """What a model version's buckets are sketched with."""

    schema: Layout
    # (feature, layout) pairs, distinct by feature and fingerprint over the baselines.
    layouts: tuple[tuple[str, SketchLayout], ...]
    by_fingerprint: dict[str, SketchLayout]
    segment_keys: tuple[str, ...]


def _load_version(session: Session, model_id: str, version: str) -> _Version:
    schema = session.scalar(
        select(ModelVersion.feature_schema).where(
            ModelVersion.model_id == model_id, ModelVersion.version == version
        )
    )
    layout = Layout.from_schema(schema or [])
    # From baselines.sketches (kilobytes), not the profiles (megabytes of samples).
    rows = session.execute(
        text(
            "SELECT f.key, f.value -> 'layout' FROM baselines b "
            "CROSS JOIN LATERAL jsonb_each(b.sketches) AS f(key, value) "
            "WHERE b.model_id = :m AND b.model_version = :v ORDER BY b.name, f.key"
        ),
        {"m": model_id, "v": version},
    )
    pairs: dict[tuple[str, str], SketchLayout] = {}
    for feature, data in rows:
        sketch_layout = layout_from_dict(data)
        # A baseline feature the schema no longer has (or of another kind) has no values.
        if layout.kind(feature) == sketch_layout.kind:
            pairs.setdefault((feature, sketch_layout.fingerprint), sketch_layout)
    return _Version(
        schema=layout,
        layouts=tuple((f, lay) for (f, _), lay in pairs.items()),
        by_fingerprint={lay.fingerprint: lay for lay in pairs.values()},
        segment_keys=tuple(segment_keys(session, model_id)),
    )


def resketch(session: Session, model_id: str, model_version: str | None = None) -> None:
    """Have the next refresh rebuild the sketches of a model's (or one version's) buckets,
    in the caller's transaction: their layouts or segments changed."""
    # Every bucket of the version, locked in ingest's order (no deadlock with it); one a
    # refresh is rebuilding on the old layouts is waited for, then marked. A dirty bucket
    # keeps its value: rebuilt anyway, and the windows over it still run again.
    where = "model_id = :m" + (" AND model_version = :v" if model_version is not None else "")
    params: dict[str, Any] = {"r": RESKETCH, "m": model_id, "v": model_version}
    session.execute(
        text(
            "UPDATE event_buckets SET sketched = CASE WHEN changes = sketched THEN :r "
            "ELSE sketched END WHERE (model_id, model_version, bucket) IN (SELECT model_id, "
            f"model_version, bucket FROM event_buckets WHERE {where} "
            "ORDER BY model_version, bucket FOR UPDATE)"
        ),
        params,
    )


def refresh_buckets(
    engine: Engine,
    *,
    model_id: str | None = None,
    lo: datetime | None = None,
    hi: datetime | None = None,
    max_buckets: int | None = None,
) -> RefreshCounts:
    """Refresh the dirty hour buckets (of ``model_id``, with ``lo <= bucket < hi``, when
    given), at most ``max_buckets``, one transaction per model version and day. Returns
    when none is left in the selection that no other worker holds."""
    counts = RefreshCounts()
    after: tuple[str, str, datetime] | None = None
    while max_buckets is None or counts.buckets < max_buckets:
        try:
            with Session(engine) as session, session.begin():
                first = _next_dirty(session, model_id=model_id, lo=lo, hi=hi, after=after)
                if first is None:
                    break
                m, v, start = first
                end = floor_to(start, DAY) + DAY
                if hi is not None:
                    end = min(end, hi)
                limit = None if max_buckets is None else max_buckets - counts.buckets
                claimed = _claim(session, m, v, start=start, end=end, limit=limit)
                after = (m, v, claimed[-1][0] if claimed else start)
                if not claimed:
                    continue  # another worker refreshed them while this one waited
                _refresh_day(session, m, v, claimed, counts)
        except (SQLAlchemyError, psycopg.Error):
            raise
        except Exception:
            # One version's odd data or layout must not stop the other sketches: its
            # buckets stay dirty, so its windows read their rows, and the log says why.
            log.exception("sketches of %s not refreshed (the day's transaction rolled back)", after)
    return counts


def _refresh_day(
    session: Session,
    model_id: str,
    version: str,
    claimed: list[tuple[datetime, int, int]],
    counts: RefreshCounts,
) -> None:
    # Read after the bucket locks, in this transaction: a baseline saved since the last
    # one (resketch waits for these locks) is built on.
    ctx = _load_version(session, model_id, version)
    for bucket, changes, sketched in claimed:
        _refresh_one(
            session,
            ctx,
            model_id,
            version,
            bucket=bucket,
            changes=changes,
            rerun=sketched != RESKETCH,
            counts=counts,
        )
    _rebuild_day(session, ctx, model_id, version, floor_to(claimed[0][0], DAY))
    counts.days += 1


def _next_dirty(
    session: Session,
    *,
    model_id: str | None,
    lo: datetime | None,
    hi: datetime | None,
    after: tuple[str, str, datetime] | None,
) -> tuple[str, str, datetime] | None:
    """The first dirty bucket of the selection after ``after`` (not locked here)."""
    where = ["changes <> sketched"]
    params: dict[str, Any] = {}
    if model_id is not None:
        where.append("model_id = :m")
        params["m"] = model_id
    if lo is not None:
        where.append("bucket >= :lo")
        params["lo"] = lo
    if hi is not None:
        where.append("bucket < :hi")
        params["hi"] = hi
    if after is not None:
        where.append("(model_id, model_version, bucket) > (:am, :av, :ab)")
        params.update(am=after[0], av=after[1], ab=after[2])
    row = session.execute(
        text(
            "SELECT model_id, model_version, bucket FROM event_buckets "
            f"WHERE {' AND '.join(where)} ORDER BY model_id, model_version, bucket LIMIT 1"
        ),
        params,
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def _claim(
    session: Session,
    model_id: str,
    version: str,
    *,
    start: datetime,
    end: datetime,
    limit: int | None,
) -> list[tuple[datetime, int, int]]:
    """Lock the version's dirty buckets in ``[start, end)``, waiting for a refresh of them
    in progress (those it cleaned no longer match); their ``changes`` and ``sketched`` as
    of the lock."""
    rows = session.execute(
        text(
            "SELECT bucket, changes, sketched FROM event_buckets "
            "WHERE model_id = :m AND model_version = :v AND bucket >= :start AND bucket < :end "
            "AND changes <> sketched ORDER BY bucket LIMIT :limit FOR UPDATE"
        ),
        {"m": model_id, "v": version, "start": start, "end": end, "limit": limit},
    )
    return [(b, int(c), int(s)) for b, c, s in rows]


def _refresh_one(
    session: Session,
    ctx: _Version,
    model_id: str,
    version: str,
    *,
    bucket: datetime,
    changes: int,
    rerun: bool,
    counts: RefreshCounts,
) -> None:
    session.execute(
        delete(BucketSketch).where(
            BucketSketch.model_id == model_id,
            BucketSketch.model_version == version,
            BucketSketch.span_hours == 1,
            BucketSketch.bucket == bucket,
        )
    )
    if ctx.layouts:
        rows = _bucket_rows(session, ctx, model_id, version, bucket)
        counts.events += len(rows)
        built = _sketch_rows(ctx, rows)
        if built:
            base = {"model_id": model_id, "model_version": version, "bucket": bucket}
            _copy_sketches(session, [{**base, "span_hours": 1, **r} for r in built])
            counts.sketches += len(built)
    session.execute(
        text(
            "UPDATE event_buckets SET sketched = :c "
            "WHERE model_id = :m AND model_version = :v AND bucket = :b"
        ),
        {"c": changes, "m": model_id, "v": version, "b": bucket},
    )
    if rerun:
        # The monitors as of now, not as cached: one deleted meanwhile would break the
        # insert.
        session.execute(
            text(
                "INSERT INTO window_reruns (monitor_id, bucket) "
                "SELECT id, :b FROM monitors WHERE model_id = :m AND enabled"
            ),
            {"b": bucket, "m": model_id},
        )
    counts.buckets += 1


def _bucket_rows(
    session: Session, ctx: _Version, model_id: str, version: str, bucket: datetime
) -> list[Any]:
    """``(key, num_values, cat_values, *segment values)`` of the bucket's events whose
    features have arrived. Segment values are the JSON values' text (``->>``): for the
    strings the wire schema allows, ``str()`` of the value; JSON null or absent: NULL."""
    params: dict[str, Any] = {"m": model_id, "v": version, "lo": bucket, "hi": bucket + HOUR}
    segments = ""
    for i, key in enumerate(ctx.segment_keys):
        segments += f", segment ->> :s{i}"
        params[f"s{i}"] = key
    return list(
        session.execute(
            text(
                f"SELECT {EVENT_KEY}, num_values, cat_values{segments} FROM predictions "
                "WHERE model_id = :m AND model_version = :v AND ts >= :lo AND ts < :hi "
                "AND (num_values IS NOT NULL OR cat_values IS NOT NULL)"
            ),
            params,
        )
    )


def _segments(ctx: _Version, rows: Sequence[Any]) -> list[tuple[str, np.ndarray[Any, Any] | None]]:
    """('' and every ``key=value`` with its row mask (None: all rows)."""
    out: list[tuple[str, np.ndarray[Any, Any] | None]] = [("", None)]
    for i, key in enumerate(ctx.segment_keys):
        values = np.array([r[3 + i] for r in rows], dtype=object)
        tally = Counter(v for v in values.tolist() if v is not None)
        if len(tally) > BUCKET_SEGMENT_VALUES:
            log.warning(
                "segment key %r has %d values in one hour: only the %d most frequent get "
                "sketches (a high-cardinality key is not a segment)",
                key,
                len(tally),
                BUCKET_SEGMENT_VALUES,
            )
        out.extend(
            (segment_name((key, value)), values == value)
            for value, _ in top_values(tally, BUCKET_SEGMENT_VALUES)
            if len(segment_name((key, value))) <= SEGMENT_NAME_MAX
        )
    return out


def top_values(tally: Mapping[str, int], limit: int) -> list[tuple[str, int]]:
    """The ``limit`` most frequent values of a segment key, ties by value."""
    return sorted(tally.items(), key=lambda item: (-item[1], item[0]))[:limit]


def _sketch_rows(ctx: _Version, rows: list[Any]) -> list[dict[str, Any]]:
    """The ``bucket_sketches`` columns of one bucket (segment, feature, layout, n, sketch
    and the hash sample), for rows of ``_bucket_rows``."""
    if not rows:
        return []
    # Rows in key order: any segment's hash sample is then a prefix of its rows.
    keys = np.array([r[0] for r in rows], dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    rows = [rows[i] for i in order.tolist()]
    columns = Window([r[1] or [] for r in rows], [r[2] or [] for r in rows]).columns(ctx.schema)
    out: list[dict[str, Any]] = []
    for segment, mask in _segments(ctx, rows):
        chosen = np.flatnonzero(mask) if mask is not None else None
        rank = chosen if chosen is not None else np.arange(len(rows))
        first = rank[: int(np.searchsorted(keys[rank], SAMPLE_KEY_BELOW))]
        for feature, layout in ctx.layouts:
            values = columns[feature] if chosen is None else columns[feature][chosen]
            s = sketch(values, layout)
            out.append(
                {
                    "segment": segment,
                    "feature": feature,
                    "layout": layout.fingerprint,
                    "n": s.n,
                    "sketch": s.to_bytes(),
                    "sample_keys": keys[first].tolist(),
                    **_sample_columns(layout, columns[feature][first]),
                }
            )
    return out


def _sample_columns(layout: SketchLayout, values: np.ndarray[Any, Any]) -> dict[str, Any]:
    if layout.kind == "numerical":
        return {
            "sample_num": [None if np.isnan(x) else x for x in values.tolist()],
            "sample_cat": None,
        }
    return {"sample_num": None, "sample_cat": values.tolist()}


# Binary COPY: a bucket writes a row per segment and feature, each with three arrays;
# executemany spent most of a refresh quoting them (measured: 2.3 of 6.4 s).
_COPY_COLUMNS = (
    ("model_id", "text"),
    ("model_version", "text"),
    ("segment", "text"),
    ("bucket", "timestamptz"),
    ("span_hours", "int4"),
    ("feature", "text"),
    ("layout", "text"),
    ("n", "int8"),
    ("sketch", "bytea"),
    ("sample_keys", "int8[]"),
    ("sample_num", "float8[]"),
    ("sample_cat", "text[]"),
)
_COPY = (
    f"COPY bucket_sketches ({', '.join(c for c, _ in _COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
)


def _copy_sketches(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert ``bucket_sketches`` rows in the session's transaction."""
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cur, cur.copy(_COPY) as copy:  # type: ignore[union-attr]
        copy.set_types([t for _, t in _COPY_COLUMNS])
        for row in rows:
            copy.write_row(tuple(row[c] for c, _ in _COPY_COLUMNS))


def _rebuild_day(
    session: Session, ctx: _Version, model_id: str, version: str, day: datetime
) -> None:
    """Replace the day's rollup rows by the merge of its stored hour rows."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"driftwarden.bucket-day {model_id} {version} {day.isoformat()}"},
    )
    where = (
        BucketSketch.model_id == model_id,
        BucketSketch.model_version == version,
    )
    session.execute(
        delete(BucketSketch).where(
            *where, BucketSketch.span_hours == DAY_HOURS, BucketSketch.bucket == day
        )
    )
    hours = session.execute(
        select(
            BucketSketch.segment,
            BucketSketch.feature,
            BucketSketch.layout,
            BucketSketch.sketch,
            BucketSketch.sample_keys,
            BucketSketch.sample_num,
            BucketSketch.sample_cat,
        )
        .where(
            *where,
            BucketSketch.span_hours == 1,
            BucketSketch.bucket >= day,
            BucketSketch.bucket < day + DAY,
        )
        .order_by(BucketSketch.bucket)
    )
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for row in hours:
        # Rows on a layout no baseline has any more cannot be read: not rolled up.
        if row.layout in ctx.by_fingerprint:
            groups.setdefault((row.segment, row.feature, row.layout), []).append(row)
    out = []
    for (segment, feature, fingerprint), parts in groups.items():
        layout = ctx.by_fingerprint[fingerprint]
        merged: Sketch = merge(*(Sketch.from_bytes(p.sketch, layout) for p in parts))
        keys, values = bottom_k(
            (
                (p.sample_keys, p.sample_num if p.sample_num is not None else p.sample_cat)
                for p in parts
            ),
            K_DAY,
        )
        numerical = layout.kind == "numerical"
        out.append(
            {
                "model_id": model_id,
                "model_version": version,
                "segment": segment,
                "bucket": day,
                "span_hours": DAY_HOURS,
                "feature": feature,
                "layout": fingerprint,
                "n": merged.n,
                "sketch": merged.to_bytes(),
                "sample_keys": keys.tolist(),
                "sample_num": values if numerical else None,
                "sample_cat": None if numerical else values,
            }
        )
    if out:
        _copy_sketches(session, out)
