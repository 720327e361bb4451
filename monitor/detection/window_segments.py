"""Which segments of a window get runs of their own, beside the whole traffic.

For each key of a monitor's ``segments`` and each model version, the values with events
in the window, at most ``MAX_SEGMENT_VALUES`` per key: the most frequent, ties by value
(the rule the bucket refresh sketches by, so a value a bucket kept is one a window keeps
unless it is rare in the window as a whole). The rarer values of a key with more are
still in the whole-traffic runs.

The values come from the stored bucket sketches when the version's sketches of the
window are current and were built with the key (no row is read); otherwise from the
window's rows (a window not on hour buckets, a refresh due, a key the refresh does not
sketch yet, a version without a baseline and so without sketches). Events whose features
are still pending count on the row path only.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from monitor.detection.bucket_reads import segment_keys, window_segment_events
from monitor.detection.bucket_refresh import MAX_SEGMENT_VALUES, SEGMENT_NAME_MAX, top_values
from monitor.detection.spec import MonitorSpec
from monitor.detection.window_data import Segment, segment_name

log = logging.getLogger(__name__)

# Per segment, per version: its events in the window, and whether its drift checks can
# read the stored sketches (SignalInputs.versions).
SegmentVersions = dict[Segment, dict[str, tuple[int, bool]]]


def _row_counts(
    session: Session,
    model_id: str,
    versions: list[str],
    keys: list[str],
    *,
    lo: datetime,
    hi: datetime,
) -> dict[tuple[str, str], dict[str, int]]:
    """Per (version, key), the events of the window by value, read from its rows."""
    rows = session.execute(
        text(
            "SELECT p.model_version, s.key, s.value, count(*) FROM predictions p "
            "CROSS JOIN LATERAL jsonb_each_text(p.segment) AS s(key, value) "
            "WHERE p.model_id = :m AND p.ts >= :lo AND p.ts < :hi "
            "AND p.model_version = ANY(:versions) AND s.key = ANY(:keys) "
            "GROUP BY 1, 2, 3"
        ),
        {"m": model_id, "lo": lo, "hi": hi, "versions": versions, "keys": keys},
    )
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for version, key, value, n in rows:
        out[version, key][value] = int(n)
    return out


def window_segments(
    session: Session,
    spec: MonitorSpec,
    *,
    lo: datetime,
    hi: datetime,
    versions: dict[str, tuple[int, bool | None]],
) -> SegmentVersions:
    """The segments of ``[lo, hi)`` to run, in the order of the spec's keys then by value,
    each with its versions (``versions``: the window's, with whether their sketches are
    current)."""
    if not spec.segments or not versions:
        return {}
    sketched = set(segment_keys(session, spec.model_id))
    counts: dict[tuple[str, str], dict[str, int]] = {}
    from_rows: list[str] = []
    for version, (_, current) in sorted(versions.items()):
        stored: dict[str, int] = {}
        if current and all(k in sketched for k in spec.segments):
            stored = window_segment_events(
                session, model_id=spec.model_id, version=version, lo=lo, hi=hi
            )
        if "" not in stored:  # no sketches to read: the rows say
            from_rows.append(version)
            continue
        for name, n in stored.items():
            key, sep, value = name.partition("=")
            if sep and key in spec.segments:
                counts.setdefault((version, key), {})[value] = n
    if from_rows:
        counts.update(_row_counts(session, spec.model_id, from_rows, spec.segments, lo=lo, hi=hi))
    out: SegmentVersions = {}
    for key in spec.segments:
        chosen: dict[str, dict[str, tuple[int, bool]]] = {}
        for version in sorted(versions):
            tally = counts.get((version, key), {})
            for value, n in top_values(tally, MAX_SEGMENT_VALUES):
                if len(segment_name((key, value))) > SEGMENT_NAME_MAX:
                    log.warning(
                        "model=%s segment %s=%.40s... is longer than %d characters: not run",
                        spec.model_id,
                        key,
                        value,
                        SEGMENT_NAME_MAX,
                    )
                    continue
                chosen.setdefault(value, {})[version] = (n, version not in from_rows)
        for value in sorted(chosen):
            out[key, value] = chosen[value]
    return out
