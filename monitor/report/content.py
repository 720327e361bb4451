"""What a report shows, as plain values: ``data.py`` fills them from the database,
``render.py`` turns them into HTML. Kept apart so rendering needs no database and can be
exercised on any values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class DriftCell:
    """One feature's drift test in one window (a ``results`` row of ``data_drift``):
    ``statistic`` is the test's value (KS D, chi-square, ...), ``effect_size`` the
    distance the policy's ``min_effect`` gate compares, ``threshold`` the p-value threshold
    applied, ``drifted`` the verdict."""

    monitor: str
    version: str
    window_start: datetime
    window_end: datetime
    feature: str
    method: str
    statistic: float | None
    p_value: float | None
    effect_size: float | None
    threshold: float | None
    drifted: bool


@dataclass(frozen=True)
class DriftShare:
    """A ``data_drift`` run's share of drifted features, against the monitor's
    ``share_threshold`` (dataset drift when reached)."""

    monitor: str
    version: str
    window_end: datetime
    share: float | None
    threshold: float | None
    dataset_drift: bool


@dataclass(frozen=True)
class Distribution:
    """One feature over the report's range against the baseline, on the baseline's bins:
    ``labels`` name the bins (value ranges for numbers, categories otherwise) and
    ``reference`` / ``current`` are the share of rows in each."""

    version: str
    feature: str
    kind: str
    labels: tuple[str, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]
    n_reference: int
    n_current: int


@dataclass(frozen=True)
class PerformancePoint:
    """A performance metric of one window with its 95% interval and the bound it was
    judged by (``performance`` realized from labels, ``estimated_performance`` by CBPE)."""

    signal: str
    version: str
    metric: str
    window_end: datetime
    value: float | None
    lower: float | None
    upper: float | None
    threshold: float | None
    alert: bool


@dataclass(frozen=True)
class Coverage:
    """Label coverage of one ``performance`` window: labelled rows / predictions."""

    version: str
    window_end: datetime
    coverage: float | None
    n_labelled: int
    n_predictions: int


@dataclass(frozen=True)
class AlertSpan:
    """One alert instance of the model: pending from ``active_at``, firing from
    ``fired_at``, until ``resolved_at`` (None: still pending or firing)."""

    rule: str
    labels: dict[str, str]
    state: str
    active_at: datetime | None
    fired_at: datetime | None
    resolved_at: datetime | None
    summary: str

    @property
    def name(self) -> str:
        """Rule and the labels that tell its instances apart (feature, metric, ...)."""
        shown = [
            f"{k}={v}"
            for k, v in sorted(self.labels.items())
            if k not in {"alertname", "model", "severity"} and v
        ]
        return f"{self.rule} " + ", ".join(shown) if shown else self.rule


@dataclass(frozen=True)
class NotificationRow:
    """A notification of the model's alerts from the outbox."""

    created_at: datetime
    receiver: str
    status: str
    attempts: int
    delivered_at: datetime | None
    alerts: tuple[tuple[str, str], ...]  # (status, instance name) of each alert it carried
    last_error: str | None


@dataclass(frozen=True)
class ReportData:
    """Everything a report of one model over ``[start, end)`` shows. Windows are those
    ending in ``(start, end]``; distributions cover the whole hours inside the range."""

    model_id: str
    task_type: str
    start: datetime
    end: datetime
    generated_at: datetime
    baseline: str
    versions: tuple[str, ...] = ()
    drift: tuple[DriftCell, ...] = ()
    shares: tuple[DriftShare, ...] = ()
    distributions: tuple[Distribution, ...] = ()
    distribution_span: tuple[datetime, datetime] | None = None
    performance: tuple[PerformancePoint, ...] = ()
    coverage: tuple[Coverage, ...] = ()
    alerts: tuple[AlertSpan, ...] = ()
    notifications: tuple[NotificationRow, ...] = ()
