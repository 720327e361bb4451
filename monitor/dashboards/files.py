"""The dashboards as files: ``dashboards/<name>.json``, which Grafana's file provider
(``dashboards/provisioning/dashboards/driftwarden.yaml``) loads. Generated, never edited
by hand: ``driftwarden dashboards generate`` writes them from ``catalog.py``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from monitor.dashboards.builder import Dashboard
from monitor.dashboards.catalog import DASHBOARDS

UID_PREFIX = "driftwarden-"


def file_name(dashboard: Dashboard) -> str:
    return f"{dashboard.uid.removeprefix(UID_PREFIX)}.json"


def render(model: dict[str, Any]) -> str:
    """Stable text of a dashboard model: sorted keys, so a change in Python is a small diff."""
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name -> content of every dashboard."""
    return {file_name(d): render(d.to_json()) for d in DASHBOARDS}


def stale(directory: Path) -> list[str]:
    """The dashboard files in ``directory`` that are missing or differ from the generator's."""
    out = []
    for name, text in rendered().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            out.append(name)
    return out
