"""Evaluate alert rules on new detector runs; write state and outbox in one transaction.

Only one evaluator is active at a time (PostgreSQL advisory lock); each rule marks the
runs it consumed (``alert_evaluations``), so evaluation is idempotent, survives restarts,
and sees a run however late its transaction commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, selectinload

from monitor.alerting.evaluate import InstanceState, Transition, fingerprint, step
from monitor.alerting.payload import alertmanager_v4, render
from monitor.alerting.rules import RuleSpec
from monitor.db.engine import make_sessionmaker
from monitor.db.models import AlertEvaluation, AlertRule, AlertState, DetectorRun, Notification
from monitor.detection.results import DRIFT_SIGNALS, MISSING_SHARE

log = logging.getLogger(__name__)

EVALUATOR_LOCK = "driftwarden.alert-evaluator"


@dataclass(frozen=True)
class AlertEvent:
    """A firing or resolved transition, as written to the outbox."""

    rule: str
    status: Transition
    labels: dict[str, str]
    value: float | None
    at: datetime
    receiver: str
    fingerprint: str


def _samples(spec: RuleSpec, run: DetectorRun) -> list[tuple[dict[str, str], float | None]]:
    base = {"model": run.model_id, "version": run.model_version, "signal": run.signal}
    if run.segment:  # only then: whole-traffic instances keep their fingerprints
        base["segment"] = run.segment
    if spec.scope == "run":
        value: float | None
        if spec.condition.value == "drift_share":
            value = run.drift_share
        else:
            value = None if run.dataset_drift is None else float(run.dataset_drift)
        return [(base, value)]
    out: list[tuple[dict[str, str], float | None]] = []
    for r in run.results:
        if not r.feature or r.metric == MISSING_SHARE:
            continue  # the run's drift share, a feature's null-rate detail
        v = spec.condition.value
        named = {"drifted": float(r.alert), "statistic": r.value}
        value = named[v] if v in named else getattr(r, v)
        labels = {**base, "feature": r.feature}
        if run.signal not in DRIFT_SIGNALS:
            # Several checks per feature (data quality: missing, range, unseen, ...): one
            # alert instance each. Drift signals have one test per feature.
            labels["metric"] = r.metric
        out.append((labels, value))
    return out


def _matches(matchers: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in matchers.items())


def _load(state: AlertState | None) -> InstanceState:
    if state is None:
        return InstanceState()
    return InstanceState(
        state.state,  # type: ignore[arg-type]
        state.breaches,
        state.clears,
        state.active_at,
        state.fired_at,
        state.resolved_at,
    )


def _evaluate_rule(session: Session, rule: AlertRule, now: datetime) -> list[AlertEvent]:
    spec = RuleSpec.model_validate(rule.spec)
    seen = select(AlertEvaluation.run_id).where(AlertEvaluation.rule_id == rule.id)
    runs = session.scalars(
        select(DetectorRun)
        .where(DetectorRun.status == "ok", DetectorRun.id.not_in(seen))
        .options(selectinload(DetectorRun.results))
        .order_by(DetectorRun.window_end, DetectorRun.id)
    ).all()
    events: list[AlertEvent] = []
    for run in runs:
        for sample_labels, value in _samples(spec, run):
            if not _matches(spec.matchers, sample_labels):
                continue
            labels = {"alertname": spec.name, **sample_labels, **spec.labels}
            fp = fingerprint(labels)
            row = session.get(AlertState, fp)
            if (
                row is not None
                and row.evaluated_until is not None
                and run.window_end <= row.evaluated_until
            ):
                # A window run again (late events or labels) after later ones were
                # stepped on: the state has moved past it, and counting it again would
                # count one window twice. (Issue 7 is to take its new verdict into account.)
                continue
            new, transition = step(
                _load(row),
                breached=spec.condition.holds(value),
                at=run.window_end,
                for_windows=spec.for_windows,
                keep_firing_for_windows=spec.keep_firing_for_windows,
            )
            values = {**labels, "value": "" if value is None else f"{value:.4g}"}
            annotations = {k: render(t, values) for k, t in spec.annotations.items()}
            if row is None:
                row = AlertState(fingerprint=fp, rule_id=rule.id, labels=labels)
                session.add(row)
            row.state, row.breaches, row.clears = new.state, new.breaches, new.clears
            row.active_at, row.fired_at, row.resolved_at = (
                new.active_at,
                new.fired_at,
                new.resolved_at,
            )
            row.annotations, row.value, row.updated_at = annotations, value, now
            row.evaluated_until = run.window_end
            if transition is None:
                continue
            session.add(
                Notification(
                    receiver=spec.receiver,
                    fingerprint=fp,
                    next_attempt_at=now,
                    payload=alertmanager_v4(
                        receiver=spec.receiver,
                        status=transition,
                        labels=labels,
                        annotations=annotations,
                        fingerprint=fp,
                        starts_at=new.fired_at,
                        ends_at=new.resolved_at,
                    ),
                )
            )
            events.append(
                AlertEvent(spec.name, transition, labels, value, run.window_end, spec.receiver, fp)
            )
            log.info(
                "alert %s %s model=%s fingerprint=%s", spec.name, transition, labels["model"], fp
            )
        session.add(AlertEvaluation(rule_id=rule.id, run_id=run.id))
    return events


def evaluate_rules(engine: Engine, *, now: datetime | None = None) -> list[AlertEvent]:
    """Evaluate every enabled rule on the runs it has not seen yet."""
    now = now or datetime.now(UTC)
    with make_sessionmaker(engine).begin() as session:
        if not session.scalar(
            text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"), {"k": EVALUATOR_LOCK}
        ):
            log.info("another evaluator is active; skipping")
            return []
        events: list[AlertEvent] = []
        for rule in session.scalars(
            select(AlertRule).where(AlertRule.enabled).order_by(AlertRule.id)
        ):
            events.extend(_evaluate_rule(session, rule, now))
        return events
