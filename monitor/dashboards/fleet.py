"""The fleet overview: every model at a glance.

See monitor/dashboards/catalog.py for the rules every query follows.
"""

from __future__ import annotations

from monitor.dashboards.builder import Dashboard, Panel, Row, SqlTarget
from monitor.dashboards.shared import MODELS_IN, MODELS_VAR, VERDICT_COLOURS, verdict_cell

FLEET = Dashboard(
    uid="driftwarden-fleet",
    title="Driftwarden / Fleet overview",
    description="Every model at a glance: latest verdicts, firing alerts, traffic, labels, lag.",
    variables=(MODELS_VAR,),
    rows=(
        Row(
            "Status",
            (
                Panel(
                    "Model status (latest window in range, all traffic)",
                    "table",
                    (
                        SqlTarget(
                            f"""
WITH latest AS (
  SELECT DISTINCT ON (model_id, signal)
    model_id, signal, window_end,
    CASE status
      WHEN 'error' THEN 'error'
      WHEN 'insufficient_data' THEN 'insufficient data'
      ELSE CASE WHEN dataset_drift THEN 'alert' ELSE 'ok' END
    END AS verdict
  FROM detector_runs
  WHERE segment = '' AND $__timeFilter(window_end) AND model_id {MODELS_IN}
  ORDER BY model_id, signal, window_end DESC
), firing AS (
  SELECT labels ->> 'model' AS model_id, count(*) AS n
  FROM alert_states
  WHERE state = 'firing'
  GROUP BY 1
)
SELECT
  m.model_id AS model,
  {verdict_cell("data_drift")} AS drift,
  {verdict_cell("prediction_drift")} AS prediction_drift,
  {verdict_cell("skew")} AS skew,
  {verdict_cell("data_quality")} AS quality,
  coalesce(
    max(CASE WHEN l.signal = 'performance' THEN l.verdict END),
    max(CASE WHEN l.signal = 'estimated_performance' THEN l.verdict END),
    'no run'
  ) AS performance,
  coalesce(max(f.n), 0) AS firing_alerts,
  max(l.window_end) AS last_window
FROM models m
LEFT JOIN latest l ON l.model_id = m.model_id
LEFT JOIN firing f ON f.model_id = m.model_id
WHERE m.model_id {MODELS_IN}
GROUP BY m.model_id
ORDER BY m.model_id
""",
                            "table",
                        ),
                    ),
                    width=16,
                    defaults=VERDICT_COLOURS,
                    description="Per signal the verdict of the newest window checked in the "
                    "time range: alert (drift found or a check failed), ok, insufficient data, "
                    "error, or no run (the model has no monitor with that signal).",
                ),
                Panel(
                    "Firing alerts",
                    "stat",
                    (
                        SqlTarget(
                            f"""
SELECT count(*) AS firing
FROM alert_states
WHERE state = 'firing' AND labels ->> 'model' {MODELS_IN}
""",
                            "table",
                        ),
                    ),
                    width=8,
                    defaults={
                        "thresholds": {
                            "mode": "absolute",
                            "steps": [
                                {"color": "green", "value": None},
                                {"color": "red", "value": 1},
                            ],
                        }
                    },
                ),
            ),
        ),
        Row(
            "Traffic and labels",
            (
                Panel(
                    "Event rate by model (events/s, by event time)",
                    "timeseries",
                    (
                        SqlTarget(
                            f"""
SELECT bucket AS time, model_id AS metric, sum(events) / 3600.0 AS events_per_second
FROM event_buckets
WHERE $__timeFilter(bucket) AND model_id {MODELS_IN}
GROUP BY 1, 2
ORDER BY 1
"""
                        ),
                    ),
                    unit="reqps",
                    description="Stored predictions per hour of event time "
                    "(event_buckets), divided by 3600.",
                ),
                Panel(
                    "Label coverage (predictions with ground truth)",
                    "bargauge",
                    (
                        SqlTarget(
                            f"""
SELECT p.model_id AS model, count(l.event_id)::float8 / count(*) AS coverage
FROM predictions p
LEFT JOIN labels l ON l.event_id = p.event_id
WHERE $__timeFilter(p.ts) AND p.model_id {MODELS_IN}
GROUP BY 1
ORDER BY 1
""",
                            "table",
                        ),
                    ),
                    unit="percentunit",
                    defaults={"min": 0, "max": 1},
                    options={"orientation": "horizontal", "reduceOptions": {"values": True}},
                ),
            ),
        ),
        Row(
            "Ingestion lag",
            (
                Panel(
                    "Time since the latest event (per model)",
                    "table",
                    (
                        SqlTarget(
                            f"""
SELECT mv.model_id AS model,
  extract(epoch FROM now() - max(latest.ts)) AS seconds_since_event,
  max(latest.ts) AS latest_event
FROM model_versions mv
CROSS JOIN LATERAL (
  SELECT max(ts) AS ts FROM predictions p
  WHERE p.model_id = mv.model_id AND p.model_version = mv.version
) latest
WHERE mv.model_id {MODELS_IN}
GROUP BY 1
ORDER BY 1
""",
                            "table",
                        ),
                    ),
                    unit="s",
                    description="now() minus the event time of the newest stored prediction: "
                    "a model whose traffic stopped, or an ingest that fell behind, grows here.",
                ),
                Panel(
                    "Consumer lag (messages behind, all partitions)",
                    "stat",
                    (
                        SqlTarget(
                            """
SELECT consumer_group || ' ' || topic AS topic, sum(lag) AS lag
FROM consumer_lag
GROUP BY 1
ORDER BY 1
""",
                            "table",
                        ),
                    ),
                    options={"reduceOptions": {"values": True}},
                    description="Fetch high watermark minus committed offset, as the ingest "
                    "consumers last wrote it (consumer_lag).",
                ),
            ),
        ),
    ),
)
