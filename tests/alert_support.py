"""Alerting test helpers: write detector results as the worker would, apply a config."""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from monitor.alerting.config_store import apply_config
from monitor.alerting.rules import load_config
from monitor.db.models import DetectorRun, Model, Monitor
from monitor.detection.results import result_row
from monitor.detection.spec import MonitorSpec
from monitor.resources import MonitorDoc, upsert_monitor

T0 = datetime(2026, 11, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Row:
    """One result row: feature '' is run-level."""

    metric: str
    value: float | None
    feature: str = ""
    alert: bool = False
    threshold: float | None = None
    p_value: float | None = None
    effect_size: float | None = None


# One rule on data drift per feature, its notifications to one webhook (${URL}) at once.
FEATURE_DRIFT_RULES = """
version: 1
receivers:
  - {name: hook, type: webhook, url: "${URL}"}
route: {receiver: hook, group_by: [alertname, model], group_wait: 0s}
groups:
  - name: g
    rules:
      - alert: FeatureDrift
        matchers: ['signal="data_drift"', 'feature!=""']
        condition: alert == 1
        annotations: {summary: "{feature} drifted"}
"""


def monitor_id(engine: Engine, model: str = "credit") -> int:
    """A monitor row to hang runs on (results need one; its spec is not used here)."""
    with Session(engine) as session, session.begin():
        found = session.scalar(select(Monitor.id).where(Monitor.model_id == model))
        if found is not None:
            return found
        session.add(Model(model_id=model, task_type="binary_classification"))
        session.flush()
        upsert_monitor(session, MonitorDoc(name=f"{model}-m", spec=MonitorSpec(model_id=model)))
        return session.scalars(select(Monitor.id).where(Monitor.model_id == model)).one()


def write_window(
    engine: Engine,
    window: int,
    rows: Sequence[Row],
    *,
    model: str = "credit",
    version: str = "1",
    signal: str = "data_drift",
    segment: str = "",
) -> int:
    """Store the run of hourly window number ``window`` (from T0) with ``rows``, in its own
    transaction, replacing a stored run of the same window (a re-run for late data)."""
    mid = monitor_id(engine, model)
    start = T0 + window * HOUR
    with Session(engine) as session, session.begin():
        session.execute(
            delete(DetectorRun).where(
                DetectorRun.monitor_id == mid,
                DetectorRun.model_version == version,
                DetectorRun.segment == segment,
                DetectorRun.signal == signal,
                DetectorRun.window_start == start,
            )
        )
        run = DetectorRun(
            monitor_id=mid,
            model_id=model,
            model_version=version,
            segment=segment,
            signal=signal,
            window_start=start,
            window_end=start + HOUR,
            status="ok",
            started_at=start,
            finished_at=start,
        )
        run.results = [
            result_row(
                run,
                feature=r.feature,
                metric=r.metric,
                value=r.value,
                alert=r.alert,
                threshold=r.threshold,
                p_value=r.p_value,
                effect_size=r.effect_size,
            )
            for r in rows
        ]
        session.add(run)
        session.flush()
        return run.id


def drift(features: Mapping[str, bool], share_threshold: float = 0.5) -> list[Row]:
    """A data-drift run: per feature a ks row (value 0.3 when drifted, else 0.02) and
    the run's drift share."""
    rows = [
        Row(
            "ks", 0.3 if d else 0.02, feature=f, alert=d, threshold=0.05, p_value=1e-6 if d else 0.5
        )
        for f, d in features.items()
    ]
    share = sum(features.values()) / max(len(features), 1)
    rows.append(
        Row("drift_share", share, alert=share >= share_threshold, threshold=share_threshold)
    )
    return rows


def free_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def apply_text(engine: Engine, text: str, env: Mapping[str, str] | None = None) -> None:
    config = load_config(text, "test-rules.yaml", env or {})
    with Session(engine) as session, session.begin():
        apply_config(session, config, now=datetime.now(UTC))
