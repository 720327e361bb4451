"""Reads what a report of one model over a time range shows, from the result tables.

Windows are those ending in ``(start, end]`` (as Grafana's ``$__timeFilter(window_end)``
does), all traffic only (segment ''): ``results`` rows of ``data_drift`` (per feature and
window the test, its threshold and verdict; per window the share of drifted features),
of ``performance`` / ``estimated_performance`` (each metric with its interval) and the
label coverage of the ``performance`` runs (``detector_runs``). Distributions are the
stored hour sketches of the range (``bucket_sketches``, merged as a window check merges
them) against the baseline's sketch of all its rows, on the baseline's bins. Alerts are
the ``alert_states`` of the model's instances that were active during the range, and
the outbox's notifications that carried them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from detectors.sketches import NumericLayout, Sketch
from monitor.db.models import (
    AlertRule,
    AlertState,
    DetectorRun,
    Model,
    ModelVersion,
    Monitor,
    Notification,
    Result,
)
from monitor.detection.baseline import load_baseline_sketches
from monitor.detection.bucket_reads import HOUR, window_sketches
from monitor.detection.results import DRIFT_SHARE, MISSING_SHARE
from monitor.epoch import floor_to
from monitor.report.content import (
    AlertSpan,
    Coverage,
    Distribution,
    DriftCell,
    DriftShare,
    NotificationRow,
    PerformancePoint,
    ReportData,
)

PERFORMANCE_SIGNALS = ("performance", "estimated_performance")
LABEL_COVERAGE = "label_coverage"  # monitor.detection.signal_performance.LABEL_COVERAGE
NUMERIC_MISSING = "missing/inf"


class ReportError(ValueError):
    """A report that cannot be made; ``option`` names the offending command-line option."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


def load_report(
    session: Session,
    *,
    model_id: str,
    start: datetime,
    end: datetime,
    baseline: str = "training",
    now: datetime | None = None,
) -> ReportData:
    """Everything the report of ``model_id`` over ``[start, end)`` shows. ReportError for
    an unknown model or an empty range."""
    if start >= end:
        raise ReportError(
            "--from",
            f"--from={start.isoformat()} must be before --to={end.isoformat()}",
        )
    task_type = session.scalar(select(Model.task_type).where(Model.model_id == model_id))
    if task_type is None:
        known = session.scalars(select(Model.model_id).order_by(Model.model_id)).all()
        raise ReportError(
            "--model",
            f"--model={model_id!r} is not a registered model"
            + (f" (known: {', '.join(known)})" if known else " (none is registered)"),
        )
    versions = tuple(
        session.scalars(
            select(ModelVersion.version)
            .where(ModelVersion.model_id == model_id)
            .order_by(ModelVersion.version)
        )
    )
    distributions, span = read_distributions(
        session, model_id=model_id, baseline=baseline, start=start, end=end
    )
    return ReportData(
        model_id=model_id,
        task_type=task_type,
        start=start,
        end=end,
        generated_at=now or datetime.now(UTC),
        baseline=baseline,
        versions=versions,
        drift=read_drift(session, model_id=model_id, start=start, end=end),
        shares=read_shares(session, model_id=model_id, start=start, end=end),
        distributions=distributions,
        distribution_span=span,
        performance=read_performance(session, model_id=model_id, start=start, end=end),
        coverage=read_coverage(session, model_id=model_id, start=start, end=end),
        alerts=read_alerts(session, model_id=model_id, start=start, end=end),
        notifications=read_notifications(session, model_id=model_id, start=start, end=end),
    )


def _in_range(model_id: str, start: datetime, end: datetime) -> Any:
    return and_(
        Result.model_id == model_id,
        Result.segment == "",
        Result.window_end > start,
        Result.window_end <= end,
    )


def read_drift(
    session: Session, *, model_id: str, start: datetime, end: datetime
) -> tuple[DriftCell, ...]:
    """Each feature's drift test per ``data_drift`` window (its null-rate row left out:
    the test row's verdict already includes it)."""
    rows = session.execute(
        select(Monitor.name, Result)
        .join(Monitor, Monitor.id == Result.monitor_id)
        .where(
            _in_range(model_id, start, end),
            Result.signal == "data_drift",
            Result.feature != "",
            Result.metric != MISSING_SHARE,
        )
        .order_by(Monitor.name, Result.model_version, Result.window_end, Result.feature)
    )
    return tuple(
        DriftCell(
            monitor=name,
            version=r.model_version,
            window_start=r.window_start,
            window_end=r.window_end,
            feature=r.feature,
            method=r.metric,
            statistic=r.value,
            p_value=r.p_value,
            effect_size=r.effect_size,
            threshold=r.threshold,
            drifted=r.alert,
        )
        for name, r in rows
    )


def read_shares(
    session: Session, *, model_id: str, start: datetime, end: datetime
) -> tuple[DriftShare, ...]:
    rows = session.execute(
        select(Monitor.name, Result)
        .join(Monitor, Monitor.id == Result.monitor_id)
        .where(
            _in_range(model_id, start, end),
            Result.signal == "data_drift",
            Result.feature == "",
            Result.metric == DRIFT_SHARE,
        )
        .order_by(Monitor.name, Result.model_version, Result.window_end)
    )
    return tuple(
        DriftShare(name, r.model_version, r.window_end, r.value, r.threshold, r.alert)
        for name, r in rows
    )


def read_performance(
    session: Session, *, model_id: str, start: datetime, end: datetime
) -> tuple[PerformancePoint, ...]:
    rows = session.scalars(
        select(Result)
        .where(
            _in_range(model_id, start, end),
            Result.signal.in_(PERFORMANCE_SIGNALS),
            Result.feature == "",
            Result.metric != LABEL_COVERAGE,
        )
        .order_by(Result.signal, Result.model_version, Result.metric, Result.window_end)
    )
    return tuple(
        PerformancePoint(
            signal=r.signal,
            version=r.model_version,
            metric=r.metric,
            window_end=r.window_end,
            value=r.value,
            lower=r.lower,
            upper=r.upper,
            threshold=r.threshold,
            alert=r.alert,
        )
        for r in rows
    )


def read_coverage(
    session: Session, *, model_id: str, start: datetime, end: datetime
) -> tuple[Coverage, ...]:
    """Labelled rows / predictions of every ``performance`` run, also those with too few
    labels to measure (``insufficient_data``), which is when coverage matters most."""
    rows = session.execute(
        select(
            DetectorRun.model_version,
            DetectorRun.window_end,
            func.sum(DetectorRun.n_labelled),
            func.sum(DetectorRun.n_current),
        )
        .where(
            DetectorRun.model_id == model_id,
            DetectorRun.segment == "",
            DetectorRun.signal == "performance",
            DetectorRun.status.in_(("ok", "insufficient_data")),
            DetectorRun.window_end > start,
            DetectorRun.window_end <= end,
        )
        .group_by(DetectorRun.model_version, DetectorRun.window_end)
        .order_by(DetectorRun.model_version, DetectorRun.window_end)
    )
    return tuple(
        Coverage(
            version=version,
            window_end=window_end,
            coverage=int(labelled) / int(n) if n else None,
            n_labelled=int(labelled),
            n_predictions=int(n),
        )
        for version, window_end, labelled, n in rows
    )


def _ceil_hour(t: datetime) -> datetime:
    floor = floor_to(t, HOUR)
    return floor if floor == t else floor + HOUR


def read_distributions(
    session: Session, *, model_id: str, baseline: str, start: datetime, end: datetime
) -> tuple[tuple[Distribution, ...], tuple[datetime, datetime] | None]:
    """Per version with a baseline named ``baseline`` and per feature (schema order), the
    merged hour sketches of the whole hours in the range against the baseline's sketch;
    and those hours' span (None when the range holds no whole hour)."""
    lo, hi = _ceil_hour(start), floor_to(end, HOUR)
    if lo >= hi:
        return (), None
    out: list[Distribution] = []
    for version, ref in sorted(load_baseline_sketches(session, model_id, baseline).items()):
        layouts = {f: s.layout for f, s in ref.sketches.items()}
        current = window_sketches(
            session, model_id=model_id, version=version, segment="", lo=lo, hi=hi, layouts=layouts
        )
        schema = session.scalar(
            select(ModelVersion.feature_schema).where(
                ModelVersion.model_id == model_id, ModelVersion.version == version
            )
        )
        order = [f["name"] for f in schema or [] if f.get("name") in current]
        order += sorted(set(current) - set(order))
        for feature in order:
            cur = current[feature]
            if cur.n == 0:
                continue
            labels, ref_shares, cur_shares = compare_bins(ref.sketches[feature], cur)
            out.append(
                Distribution(
                    version=version,
                    feature=feature,
                    kind=cur.kind,
                    labels=labels,
                    reference=ref_shares,
                    current=cur_shares,
                    n_reference=ref.sketches[feature].n,
                    n_current=cur.n,
                )
            )
    return tuple(out), (lo, hi)


def _edge_labels(edges: Iterable[float]) -> list[str]:
    """Value bins of a numerical layout as ``< e0``, ``e0 - e1``, ..., ``>= em``, with as
    many significant digits as it takes for the labels to stay distinct (a plot's
    category axis would merge equal ones)."""
    e = list(edges)
    labels: list[str] = []
    for digits in (4, 6, 8, 12, 17):
        fmt = [f"{x:.{digits}g}" for x in e]
        if not fmt:
            return ["all values"]
        labels = [f"< {fmt[0]}"]
        labels += [f"{a} - {b}" for a, b in itertools.pairwise(fmt)]
        labels.append(f">= {fmt[-1]}")
        if len(set(labels)) == len(labels):
            break
    return labels


def compare_bins(
    reference: Sketch, current: Sketch
) -> tuple[tuple[str, ...], tuple[float, ...], tuple[float, ...]]:
    """Bin labels and each side's share of rows per bin, over one layout. Numbers: the
    value bins, then one bin of missing and infinite values if either side has any;
    categories: every bin, the other/unseen/missing bins only when either side has rows
    there."""
    if reference.layout != current.layout:
        raise ValueError("sketches on different layouts cannot be compared bin by bin")
    ref, cur = reference.counts.tolist(), current.counts.tolist()
    layout = reference.layout
    if isinstance(layout, NumericLayout):
        k = layout.n_value_bins
        labels = _edge_labels(layout.edges.tolist())
        ref_c, cur_c = ref[:k], cur[:k]
        if sum(ref[k:]) or sum(cur[k:]):
            labels.append(NUMERIC_MISSING)
            ref_c.append(sum(ref[k:]))
            cur_c.append(sum(cur[k:]))
    else:
        n_top = len(layout.categories)
        keep = [i for i, _ in enumerate(layout.labels) if i < n_top or ref[i] or cur[i]]
        labels = [layout.labels[i] for i in keep]
        ref_c, cur_c = [ref[i] for i in keep], [cur[i] for i in keep]
    ref_n, cur_n = max(sum(ref), 1), max(sum(cur), 1)
    return (
        tuple(labels),
        tuple(c / ref_n for c in ref_c),
        tuple(c / cur_n for c in cur_c),
    )


def read_alerts(
    session: Session, *, model_id: str, start: datetime, end: datetime
) -> tuple[AlertSpan, ...]:
    """The model's alert instances active at some time in the range (pending or firing
    before ``end``, not resolved before ``start``), by when they became active."""
    rows = session.execute(
        select(AlertRule.name, AlertState)
        .join(AlertRule, AlertRule.id == AlertState.rule_id)
        .where(
            AlertState.labels["model"].astext == model_id,
            AlertState.state != "inactive",
            AlertState.active_at.is_not(None),
            AlertState.active_at < end,
            or_(AlertState.resolved_at.is_(None), AlertState.resolved_at >= start),
        )
        .order_by(AlertState.active_at, AlertRule.name, AlertState.fingerprint)
    )
    return tuple(
        AlertSpan(
            rule=rule,
            labels={str(k): str(v) for k, v in (s.labels or {}).items()},
            state=s.state,
            active_at=s.active_at,
            fired_at=s.fired_at,
            resolved_at=s.resolved_at if s.state == "resolved" else None,
            summary=str((s.annotations or {}).get("summary", "")),
        )
        for rule, s in rows
    )


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or value.startswith("0001-"):
        return None
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def read_notifications(
    session: Session, *, model_id: str, start: datetime, end: datetime
) -> tuple[NotificationRow, ...]:
    """Outbox rows carrying an alert of the model that was active in the range (by the
    alert's ``startsAt`` / ``endsAt`` in the webhook payload), oldest first."""
    rows = session.scalars(
        select(Notification)
        .where(
            # JSONB containment: some alert of the payload has labels.model = model_id.
            Notification.payload.contains({"alerts": [{"labels": {"model": model_id}}]})
        )
        .order_by(Notification.created_at, Notification.id)
    )
    out: list[NotificationRow] = []
    for n in rows:
        carried: list[tuple[str, str]] = []
        in_range = False
        for alert in n.payload.get("alerts", []):
            labels = {str(k): str(v) for k, v in alert.get("labels", {}).items()}
            if labels.get("model") != model_id:
                continue
            began, ended = _when(alert.get("startsAt")), _when(alert.get("endsAt"))
            if began is not None and began < end and (ended is None or ended >= start):
                in_range = True
            span = AlertSpan(labels.get("alertname", ""), labels, "", None, None, None, "")
            carried.append((str(alert.get("status", "")), span.name))
        if in_range:
            out.append(
                NotificationRow(
                    created_at=n.created_at,
                    receiver=n.receiver,
                    status=n.status,
                    attempts=n.attempts,
                    delivered_at=n.delivered_at,
                    alerts=tuple(carried),
                    last_error=n.last_error,
                )
            )
    return tuple(out)
