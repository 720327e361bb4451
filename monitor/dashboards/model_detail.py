"""The model detail dashboard: one model version and segment over time.

See monitor/dashboards/catalog.py for the rules every query follows.
"""

from __future__ import annotations

from monitor.dashboards.builder import Annotation, Dashboard, Panel, Row, SqlTarget
from monitor.dashboards.shared import (
    DRIFT_TESTS,
    MODEL_VAR,
    ONE_MODEL,
    ONE_SEGMENT,
    RATIO_COLOURS,
    SEGMENT_VAR,
    VERSION_VAR,
)

MODEL_DETAIL = Dashboard(
    uid="driftwarden-model",
    title="Driftwarden / Model detail",
    description="One model version and segment: drift per feature, predictions, performance, "
    "data quality and its alerts.",
    variables=(MODEL_VAR, VERSION_VAR, SEGMENT_VAR),
    annotations=(
        Annotation(
            "Alerts",
            """
SELECT time, timeend, text, tags FROM (
  SELECT
    extract(epoch FROM coalesce(fired_at, active_at)) * 1000 AS time,
    extract(epoch FROM resolved_at) * 1000 AS timeend,
    coalesce(annotations ->> 'summary', labels ->> 'alertname') AS text,
    concat_ws(',', state, labels ->> 'alertname', labels ->> 'feature') AS tags,
    coalesce(fired_at, active_at) AS at
  FROM alert_states
  WHERE labels ->> 'model' = ${model:sqlstring} AND state <> 'inactive'
) a
WHERE $__timeFilter(at)
ORDER BY 1
""",
        ),
    ),
    rows=(
        Row(
            "Feature drift",
            (
                Panel(
                    "Feature drift heatmap (statistic / threshold)",
                    "status-history",
                    (
                        SqlTarget(
                            f"""
SELECT window_end AS time, feature AS metric, max(value / NULLIF(threshold, 0)) AS ratio
FROM results
WHERE {ONE_MODEL} AND {ONE_SEGMENT}
  AND signal = 'data_drift' AND {DRIFT_TESTS} AND $__timeFilter(window_end)
GROUP BY 1, 2
ORDER BY 1
"""
                        ),
                    ),
                    width=24,
                    height=10,
                    defaults=RATIO_COLOURS,
                    options={"showValue": "never", "rowHeight": 0.9},
                    description="One row per feature, one cell per window, coloured by the "
                    "test's statistic over the threshold it was judged by (1 = at the bar).",
                ),
                Panel(
                    "Top drifting features",
                    "table",
                    (
                        SqlTarget(
                            f"""
SELECT feature, metric AS test,
  count(*) FILTER (WHERE alert) AS drifted_windows,
  count(*) AS windows,
  max(value / NULLIF(threshold, 0)) AS max_ratio,
  min(p_value) AS min_p_value
FROM results
WHERE {ONE_MODEL} AND {ONE_SEGMENT}
  AND signal = 'data_drift' AND {DRIFT_TESTS} AND $__timeFilter(window_end)
GROUP BY 1, 2
ORDER BY drifted_windows DESC, max_ratio DESC NULLS LAST
LIMIT 15
""",
                            "table",
                        ),
                    ),
                ),
                Panel(
                    "Prediction drift (statistic per output)",
                    "timeseries",
                    (
                        SqlTarget(
                            f"""
SELECT window_end AS time, feature || ' ' || metric AS metric, value
FROM results
WHERE {ONE_MODEL} AND {ONE_SEGMENT}
  AND signal = 'prediction_drift' AND {DRIFT_TESTS} AND $__timeFilter(window_end)
ORDER BY 1
"""
                        ),
                    ),
                ),
            ),
        ),
        Row(
            "Performance",
            (
                Panel(
                    "Realized performance with its 95% interval",
                    "timeseries",
                    (
                        SqlTarget(
                            f"""
SELECT window_end AS time, metric, value, lower, upper
FROM results
WHERE {ONE_MODEL} AND {ONE_SEGMENT}
  AND signal = 'performance' AND metric <> 'label_coverage' AND $__timeFilter(window_end)
ORDER BY 1
"""
                        ),
                    ),
                    width=8,
                ),
                Panel(
                    "Label-free estimate beside realized performance",
                    "timeseries",
                    (
                        SqlTarget(
                            f"""
SELECT window_end AS time,
  CASE signal WHEN 'performance' THEN 'realized ' ELSE 'estimated ' END || metric AS metric,
  value
FROM results
WHERE {ONE_MODEL} AND {ONE_SEGMENT}
  AND signal IN ('performance', 'estimated_performance')
  AND metric IN (
    SELECT metric FROM results
    WHERE {ONE_MODEL} AND signal = 'estimated_performance' AND $__timeFilter(window_end)
  )
  AND $__timeFilter(window_end)
ORDER BY 1
"""
                        ),
                    ),
                    width=8,
                    description="CBPE's estimate from scores alone next to the value measured "
                    "from labels, for the metrics both report.",
                ),
                Panel(
                    "Label coverage",
                    "timeseries",
                    (
                        SqlTarget(
                            f"""
SELECT window_end AS time, value AS label_coverage
FROM results
WHERE {ONE_MODEL} AND {ONE_SEGMENT}
  AND signal = 'performance' AND metric = 'label_coverage' AND $__timeFilter(window_end)
ORDER BY 1
"""
                        ),
                    ),
                    width=8,
                    unit="percentunit",
                    defaults={"min": 0, "max": 1},
                ),
            ),
        ),
        Row(
            "Data quality",
            (
                Panel(
                    "Data quality rates per feature",
                    "timeseries",
                    (
                        SqlTarget(
                            f"""
SELECT window_end AS time, feature || ' ' || metric AS metric, value
FROM results
WHERE {ONE_MODEL} AND {ONE_SEGMENT}
  AND signal = 'data_quality' AND metric LIKE '%\\_rate' AND $__timeFilter(window_end)
ORDER BY 1
"""
                        ),
                    ),
                    width=24,
                    unit="percentunit",
                ),
            ),
        ),
    ),
)
