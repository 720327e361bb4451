"""Grafana dashboards of Driftwarden, built in Python (the one source of truth) and
written as the JSON files under ``dashboards/`` (``driftwarden dashboards generate``)."""
