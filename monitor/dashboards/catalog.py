"""The four Driftwarden dashboards (one module each) and the SQL rules they follow.

Every query reads the schema of ``monitor/db/models.py`` through Grafana's PostgreSQL
data source and its macros. Two rules the macros impose: a macro's arguments may not
contain ``)`` (Grafana's pattern stops at the first one, so ``$__timeFilter(coalesce(a, b))``
breaks), and template variables are quoted with ``${var:sqlstring}`` so a single value
and a multi-value selection (``IN (...)``) are both valid SQL. ``tests/monitor/
test_dashboards.py`` runs every query, expanded as Grafana expands it, on the demo's data.
"""

from __future__ import annotations

from monitor.dashboards.builder import Dashboard
from monitor.dashboards.feature_detail import FEATURE_DETAIL
from monitor.dashboards.fleet import FLEET
from monitor.dashboards.model_detail import MODEL_DETAIL
from monitor.dashboards.service_health import SERVICE_HEALTH

DASHBOARDS: tuple[Dashboard, ...] = (FLEET, MODEL_DETAIL, FEATURE_DETAIL, SERVICE_HEALTH)
