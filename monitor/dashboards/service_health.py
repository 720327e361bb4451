"""The ingestion and service health dashboard.

See monitor/dashboards/catalog.py for the rules every query follows.
"""

from __future__ import annotations

from monitor.dashboards.builder import Dashboard, Panel, Row, SqlTarget

SERVICE_HEALTH = Dashboard(
    uid="driftwarden-service",
    title="Driftwarden / Ingestion and service health",
    description="Ingest throughput and lag, dead letters, detector runs, notifications.",
    rows=(
        Row(
            "Ingest",
            (
                Panel(
                    "Events stored per second (by arrival)",
                    "timeseries",
                    (
                        SqlTarget(
                            """
SELECT $__timeGroupAlias(received_at, $__interval), model_id AS metric,
  count(*) * 1000.0 / $__interval_ms AS events_per_second
FROM predictions
WHERE $__timeFilter(received_at)
  -- Prunes the monthly partitions: an event is stored at most 30 days after its time.
  AND ts >= $__timeFrom()::timestamptz - interval '30 days'
GROUP BY 1, 2
ORDER BY 1
"""
                        ),
                    ),
                    unit="reqps",
                ),
                Panel(
                    "Consumer lag per partition",
                    "table",
                    (
                        SqlTarget(
                            """
SELECT consumer_group, topic, partition, lag, committed_offset, high_watermark,
  updated_at, extract(epoch FROM now() - updated_at) AS seconds_since_update
FROM consumer_lag
ORDER BY consumer_group, topic, partition
""",
                            "table",
                        ),
                    ),
                ),
                Panel(
                    "Dead letters by reason",
                    "timeseries",
                    (
                        SqlTarget(
                            """
SELECT $__timeGroupAlias(received_at, $__interval), error_class AS metric, count(*) AS messages
FROM dead_letters
WHERE $__timeFilter(received_at)
GROUP BY 1, 2
ORDER BY 1
"""
                        ),
                    ),
                    defaults={"custom": {"drawStyle": "bars"}},
                ),
                Panel(
                    "Dead letters in range",
                    "table",
                    (
                        SqlTarget(
                            """
SELECT error_class AS reason, count(*) AS messages,
  count(*) FILTER (WHERE replayed_at IS NOT NULL) AS replayed,
  max(received_at) AS latest, (array_agg(error_message ORDER BY id DESC))[1] AS latest_message
FROM dead_letters
WHERE $__timeFilter(received_at)
GROUP BY 1
ORDER BY 2 DESC
""",
                            "table",
                        ),
                    ),
                ),
            ),
        ),
        Row(
            "Detection",
            (
                Panel(
                    "Detector run duration (mean, by signal)",
                    "timeseries",
                    (
                        SqlTarget(
                            """
SELECT $__timeGroupAlias(finished_at, $__interval), signal AS metric,
  avg(extract(epoch FROM finished_at - started_at)) AS seconds
FROM detector_runs
WHERE $__timeFilter(finished_at)
GROUP BY 1, 2
ORDER BY 1
"""
                        ),
                    ),
                    unit="s",
                ),
                Panel(
                    "Detector runs by status",
                    "timeseries",
                    (
                        SqlTarget(
                            """
SELECT $__timeGroupAlias(finished_at, $__interval), status AS metric, count(*) AS runs
FROM detector_runs
WHERE $__timeFilter(finished_at)
GROUP BY 1, 2
ORDER BY 1
"""
                        ),
                    ),
                    defaults={"custom": {"drawStyle": "bars", "stacking": {"mode": "normal"}}},
                    description="ok, insufficient_data, or error (a failed run: its error "
                    "is in detector_runs.error and in the worker's log).",
                ),
            ),
        ),
        Row(
            "Notifications",
            (
                Panel(
                    "Notifications by receiver and outcome",
                    "timeseries",
                    (
                        SqlTarget(
                            """
SELECT $__timeGroupAlias(created_at, $__interval), receiver || ' ' || status AS metric,
  count(*) AS notifications
FROM notification_outbox
WHERE $__timeFilter(created_at)
GROUP BY 1, 2
ORDER BY 1
"""
                        ),
                    ),
                    defaults={"custom": {"drawStyle": "bars", "stacking": {"mode": "normal"}}},
                ),
                Panel(
                    "Deliveries and failures per receiver",
                    "table",
                    (
                        SqlTarget(
                            """
SELECT receiver,
  count(*) FILTER (WHERE status = 'delivered') AS delivered,
  count(*) FILTER (WHERE status = 'failed') AS failed,
  count(*) FILTER (WHERE status = 'pending') AS pending,
  sum(attempts) AS attempts,
  (array_agg(last_error ORDER BY id DESC) FILTER (WHERE last_error IS NOT NULL))[1]
    AS latest_error
FROM notification_outbox
WHERE $__timeFilter(created_at)
GROUP BY 1
ORDER BY 1
""",
                            "table",
                        ),
                    ),
                ),
            ),
        ),
    ),
)
