"""A small typed builder of Grafana 11 dashboard JSON (schema version 39).

Why our own and not grafana-foundation-sdk: the dashboards need a handful of panel kinds,
all reading one PostgreSQL data source with raw SQL; a few dataclasses say that in less
code than the SDK's generated builders, and keep the JSON stable (sorted keys, ids in
layout order), so the committed files diff cleanly when the Python changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = 39
GRID_COLUMNS = 24
DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE_UID = "driftwarden-pg"
DATASOURCE: dict[str, str] = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}

Format = Literal["time_series", "table"]
PanelType = Literal["timeseries", "status-history", "stat", "table", "barchart", "bargauge"]


@dataclass(frozen=True)
class SqlTarget:
    """One raw SQL query of a panel. ``format`` is how Grafana reads the rows: a time
    series needs a ``time`` column (and optionally ``metric``, the series name)."""

    sql: str
    format: Format = "time_series"

    def to_json(self, ref_id: str) -> dict[str, Any]:
        return {
            "datasource": dict(DATASOURCE),
            "editorMode": "code",
            "format": self.format,
            "rawQuery": True,
            "rawSql": self.sql.strip(),
            "refId": ref_id,
        }


@dataclass(frozen=True)
class Panel:
    title: str
    type: PanelType
    targets: tuple[SqlTarget, ...]
    width: int = 12
    height: int = 8
    description: str = ""
    unit: str | None = None
    # Extra field defaults (min, max, thresholds, ...) and panel options, as Grafana names them.
    defaults: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.width <= GRID_COLUMNS:
            raise ValueError(f"panel {self.title!r}: width {self.width} is not in 1..24")
        if self.height < 1:
            raise ValueError(f"panel {self.title!r}: height {self.height} must be positive")
        if not self.targets:
            raise ValueError(f"panel {self.title!r} has no query")


@dataclass(frozen=True)
class Row:
    """A row header and the panels under it, laid out left to right, wrapping at 24."""

    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Variable:
    """A query template variable. Its SQL may use the variables defined before it."""

    name: str
    label: str
    sql: str
    multi: bool = False
    include_all: bool = False

    def to_json(self) -> dict[str, Any]:
        sql = self.sql.strip()
        return {
            "current": {},
            "datasource": dict(DATASOURCE),
            "definition": sql,
            "hide": 0,
            "includeAll": self.include_all,
            "label": self.label,
            "multi": self.multi,
            "name": self.name,
            "options": [],
            "query": sql,
            # 2: on time range change, so a model that started logging shows up.
            "refresh": 2,
            "skipUrlSync": False,
            "sort": 1,
            "type": "query",
        }


@dataclass(frozen=True)
class Annotation:
    """Events on the time axis from SQL returning ``time``, ``timeend``, ``text``, ``tags``."""

    name: str
    sql: str
    color: str = "red"

    def to_json(self) -> dict[str, Any]:
        return {
            "datasource": dict(DATASOURCE),
            "enable": True,
            "iconColor": self.color,
            "name": self.name,
            "target": SqlTarget(self.sql, "table").to_json("Anno"),
        }


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[Variable, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    tags: tuple[str, ...] = ("driftwarden",)
    time_from: str = "now-24h"
    refresh: str = "1m"

    def to_json(self) -> dict[str, Any]:
        """The dashboard model Grafana stores (no ``id``: Grafana assigns it)."""
        panels: list[dict[str, Any]] = []
        next_id = 1
        y = 0
        for row in self.rows:
            panels.append(
                {
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": GRID_COLUMNS, "x": 0, "y": y},
                    "id": next_id,
                    "panels": [],
                    "title": row.title,
                    "type": "row",
                }
            )
            next_id += 1
            y += 1
            x, line_height = 0, 0
            for panel in row.panels:
                if x + panel.width > GRID_COLUMNS:
                    y, x, line_height = y + line_height, 0, 0
                grid = {"h": panel.height, "w": panel.width, "x": x, "y": y}
                panels.append(_panel_json(panel, next_id, grid))
                next_id += 1
                x += panel.width
                line_height = max(line_height, panel.height)
            y += line_height
        return {
            "annotations": {"list": [a.to_json() for a in self.annotations]},
            "description": self.description,
            "editable": True,
            "fiscalYearStartMonth": 0,
            "graphTooltip": 1,
            "links": [],
            "panels": panels,
            "refresh": self.refresh,
            "schemaVersion": SCHEMA_VERSION,
            "tags": list(self.tags),
            "templating": {"list": [v.to_json() for v in self.variables]},
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "timezone": "utc",
            "title": self.title,
            "uid": self.uid,
            "version": 1,
        }


def _panel_json(panel: Panel, panel_id: int, grid: dict[str, int]) -> dict[str, Any]:
    defaults: dict[str, Any] = {**panel.defaults}
    if panel.unit is not None:
        defaults["unit"] = panel.unit
    return {
        "datasource": dict(DATASOURCE),
        "description": panel.description,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "gridPos": grid,
        "id": panel_id,
        "options": panel.options,
        "targets": [t.to_json(chr(ord("A") + i)) for i, t in enumerate(panel.targets)],
        "title": panel.title,
        "type": panel.type,
    }
