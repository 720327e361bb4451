"""The feature detail dashboard: one feature now vs its reference, and over time.

See monitor/dashboards/catalog.py for the rules every query follows.
"""

from __future__ import annotations

from monitor.dashboards.builder import Dashboard, Panel, Row, SqlTarget
from monitor.dashboards.shared import DRIFT_TESTS, FEATURE_VAR, MODEL_VAR, ONE_MODEL, VERSION_VAR

# The bytes of a bucket_sketches.sketch (detectors.sketches.Sketch.to_bytes): a 19-byte
# header (magic 4, format 1, kind 1, fingerprint 8, count width 1 at byte 14, bin count
# uint32 LE at 15..18), then the counts, little-endian unsigned of that width.
_SKETCH_COUNTS = """
SELECT i AS bin, sum(c.n) AS n
FROM cur_rows r
CROSS JOIN LATERAL (
  SELECT get_byte(r.sketch, 14) AS w,
    get_byte(r.sketch, 15) + (get_byte(r.sketch, 16) << 8)
      + (get_byte(r.sketch, 17) << 16) + (get_byte(r.sketch, 18) << 24) AS k
) h
CROSS JOIN LATERAL generate_series(0, h.k - 1) AS i
CROSS JOIN LATERAL (
  SELECT sum(get_byte(r.sketch, 19 + i * h.w + j)::bigint << (8 * j)) AS n
  FROM generate_series(0, h.w - 1) AS j
) c
GROUP BY i
"""


FEATURE_DETAIL = Dashboard(
    uid="driftwarden-feature",
    title="Driftwarden / Feature detail",
    description="One feature of one model version: its distribution now against the "
    "reference, and its drift statistic over time.",
    variables=(MODEL_VAR, VERSION_VAR, FEATURE_VAR),
    rows=(
        Row(
            "Distribution",
            (
                Panel(
                    "Distribution in range vs training baseline (share per bin)",
                    "barchart",
                    (
                        SqlTarget(
                            f"""
WITH base AS (
  SELECT sketches -> ${{feature:sqlstring}} AS s
  FROM baselines
  WHERE {ONE_MODEL} AND name = 'training'
), layout AS (
  SELECT s -> 'layout' AS l, s -> 'layout' ->> 'fingerprint' AS fp,
    s -> 'layout' ->> 'kind' AS kind,
    coalesce(jsonb_array_length(s -> 'layout' -> 'edges'), 0) AS m,
    s -> 'sketch' -> 'counts' AS counts
  FROM base
  WHERE s IS NOT NULL
), ref AS (
  SELECT (c.ord - 1)::int AS bin, c.n::numeric AS n
  FROM layout, jsonb_array_elements_text(layout.counts) WITH ORDINALITY AS c(n, ord)
), cur_rows AS (
  SELECT bs.sketch
  FROM bucket_sketches bs, layout
  WHERE bs.model_id = ${{model:sqlstring}} AND bs.model_version = ${{version:sqlstring}}
    AND bs.segment = '' AND bs.span_hours = 1 AND bs.feature = ${{feature:sqlstring}}
    AND bs.layout = layout.fp AND $__timeFilter(bs.bucket)
), cur AS ({_SKETCH_COUNTS})
SELECT
  CASE
    WHEN layout.kind = 'categorical' THEN coalesce(
      layout.l -> 'categories' ->> ref.bin,
      (ARRAY['__other__', '__unseen__', '__missing__'])[
        ref.bin - jsonb_array_length(layout.l -> 'categories') + 1])
    WHEN ref.bin = layout.m + 1 THEN '±inf'
    WHEN ref.bin = layout.m + 2 THEN 'missing'
    WHEN layout.m = 0 THEN 'all values'
    WHEN ref.bin = 0 THEN '< ' || (layout.l -> 'edges' ->> 0)
    WHEN ref.bin = layout.m THEN '>= ' || (layout.l -> 'edges' ->> (layout.m - 1))
    ELSE (layout.l -> 'edges' ->> (ref.bin - 1)) || ' .. ' || (layout.l -> 'edges' ->> ref.bin)
  END AS bin,
  ref.n / NULLIF(sum(ref.n) OVER (), 0) AS reference,
  coalesce(cur.n, 0) / NULLIF(sum(coalesce(cur.n, 0)) OVER (), 0) AS current
FROM layout
CROSS JOIN ref
LEFT JOIN cur ON cur.bin = ref.bin
ORDER BY ref.bin
""",
                            "table",
                        ),
                    ),
                    width=24,
                    height=10,
                    unit="percentunit",
                    options={"xField": "bin", "xTickLabelRotation": -45},
                    description="Counts per bin of the baseline's layout: the training "
                    "baseline's sketch against the merge of the hour sketches "
                    "(bucket_sketches, all traffic) whose hour starts in the time range. "
                    "Sketches are built when an hour closes (docs/sketches.md).",
                ),
            ),
        ),
        Row(
            "Drift over time",
            (
                Panel(
                    "Drift statistic with its threshold",
                    "timeseries",
                    (
                        SqlTarget(
                            f"""
SELECT window_end AS time, metric, value AS statistic, threshold
FROM results
WHERE {ONE_MODEL} AND segment = '' AND signal = 'data_drift'
  AND feature = ${{feature:sqlstring}} AND {DRIFT_TESTS} AND $__timeFilter(window_end)
ORDER BY 1
"""
                        ),
                    ),
                    defaults={"custom": {"lineWidth": 2}},
                ),
                Panel(
                    "Missing values",
                    "timeseries",
                    (
                        SqlTarget(
                            f"""
SELECT window_end AS time, signal || ' ' || metric AS metric, value
FROM results
WHERE {ONE_MODEL} AND segment = '' AND feature = ${{feature:sqlstring}}
  AND ((signal = 'data_quality' AND metric = 'missing_rate')
    OR (signal = 'data_drift' AND metric = 'missing_share'))
  AND $__timeFilter(window_end)
ORDER BY 1
"""
                        ),
                    ),
                    description="The window's share of missing values: data_quality's "
                    "missing_rate, and data_drift's null-rate check (missing_share) when "
                    "the window was read from rows.",
                    unit="percentunit",
                ),
            ),
        ),
    ),
)
