"""What the dashboards share: template variables, filters on them, colour schemes.

Template variables are quoted with ``${var:sqlstring}`` so that a single value and a
multi-value selection (``IN (...)``) are both valid SQL.
"""

from __future__ import annotations

from monitor.dashboards.builder import Variable

MODELS_IN = "IN (${model:sqlstring})"
ONE_MODEL = "model_id = ${model:sqlstring} AND model_version = ${version:sqlstring}"
# '' is all traffic in the schema; a Grafana variable shows it as '(all)'.
ALL_TRAFFIC = "(all)"
ONE_SEGMENT = (
    f"segment = CASE ${{segment:sqlstring}} WHEN '{ALL_TRAFFIC}' THEN '' "
    "ELSE ${segment:sqlstring} END"
)
# The rows of a drift test (one per feature and test), not its null-rate or run-level rows.
DRIFT_TESTS = "feature <> '' AND metric NOT IN ('missing_share', 'drift_share')"

MODEL_VAR = Variable("model", "Model", "SELECT model_id FROM models ORDER BY 1")
MODELS_VAR = Variable(
    "model", "Model", "SELECT model_id FROM models ORDER BY 1", multi=True, include_all=True
)
VERSION_VAR = Variable(
    "version",
    "Version",
    "SELECT version FROM model_versions WHERE model_id = ${model:sqlstring} ORDER BY 1",
)
SEGMENT_VAR = Variable(
    "segment",
    "Segment",
    f"""
SELECT DISTINCT CASE WHEN segment = '' THEN '{ALL_TRAFFIC}' ELSE segment END
FROM detector_runs
WHERE {ONE_MODEL}
ORDER BY 1
""",
)
FEATURE_VAR = Variable(
    "feature",
    "Feature",
    """
SELECT f ->> 'name'
FROM model_versions, jsonb_array_elements(feature_schema) AS f
WHERE model_id = ${model:sqlstring} AND version = ${version:sqlstring}
ORDER BY 1
""",
)

RATIO_COLOURS = {
    "color": {"mode": "continuous-GrYlRd"},
    "min": 0,
    "max": 2,
}
VERDICT_COLOURS = {
    "mappings": [
        {
            "type": "value",
            "options": {
                "alert": {"color": "red", "index": 0},
                "ok": {"color": "green", "index": 1},
                "insufficient data": {"color": "yellow", "index": 2},
                "error": {"color": "purple", "index": 3},
                "no run": {"color": "text", "index": 4},
            },
        }
    ],
    "custom": {"cellOptions": {"type": "color-background"}},
}


def verdict_cell(signal: str) -> str:
    """The latest run's verdict of one signal, as a table cell."""
    return f"""coalesce(max(CASE WHEN l.signal = '{signal}' THEN l.verdict END), 'no run')"""
