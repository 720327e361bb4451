"""Evaluate alert rules on new results and step alert instances, in one transaction.

The evaluator follows ``results`` with a cursor (:func:`monitor.detection.results.
read_results`): every committed row is seen exactly once, however late its transaction
commits, and a window re-run for late data arrives as new rows. An instance keeps a
record of the windows it stepped on (:class:`monitor.alerting.evaluate.Record`), so the
re-run window's new verdict replaces the old one and the instance is replayed: it can
fire, or resolve, because of it. The cursor, the states, and the aggregation groups the
changed instances belong to are written in the same transaction, so a crash anywhere
loses nothing and repeats nothing. One evaluator is active at a time (advisory lock).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from monitor.alerting.evaluate import InstanceState, Record, Transition, advance, resolve_now
from monitor.alerting.groups import ensure_groups
from monitor.alerting.result_samples import samples_of
from monitor.alerting.rules import AlertingConfig, RuleSpec
from monitor.alerting.sample import Evaluated, evaluate_sample, still_selected
from monitor.db.models import AlertCursor, AlertRule, AlertState, Result
from monitor.detection.results import Cursor, read_results

log = logging.getLogger(__name__)

EVALUATOR_LOCK = "driftwarden.alert-evaluator"
BATCH = 5_000


@dataclass(frozen=True)
class AlertEvent:
    """A firing or resolved transition of an alert instance."""

    rule: str
    status: Transition
    labels: dict[str, str]
    value: float | None
    at: datetime
    fingerprint: str


def _read_whole_runs(session: Session, cursor: Cursor) -> tuple[Sequence[Result], Cursor]:
    """New result rows, whole transactions only (a run's rows are one transaction): a
    page cut by the limit is completed with the rest of its last transaction."""
    rows, after = read_results(session, cursor, limit=BATCH)
    if after.upto is None:
        return rows, after
    rest = session.scalars(
        select(Result).where(Result.txid == after.txid, Result.id > after.id).order_by(Result.id)
    ).all()
    if rest:
        rows = [*rows, *rest]
        after = Cursor(after.snapshot, after.upto, after.txid, rest[-1].id)
    return rows, after


def _new_record() -> Record:
    return Record(checkpoint=InstanceState(), history=(), current=InstanceState())


def _write(row: AlertState, rec: Record, now: datetime) -> None:
    cur = rec.current
    row.record = rec.to_json()
    row.state = cur.state
    row.active_at = cur.active_at
    # The last episode's times stay until the next one fires: a resolved notification
    # (even of an alert a re-run took back) needs when it started and ended.
    row.fired_at = cur.fired_at or row.fired_at
    row.resolved_at = None if cur.state == "firing" else cur.resolved_at or row.resolved_at
    row.evaluated_until = rec.latest or row.evaluated_until
    row.updated_at = now


class _Pass:
    """One evaluation pass: the rules, the states it loaded, the transitions it made."""

    def __init__(self, session: Session, rules: Sequence[tuple[int, RuleSpec]], now: datetime):
        self.session = session
        self.rules = rules
        self.now = now
        self.states: dict[str, AlertState] = {}
        self.events: list[AlertEvent] = []
        self.changed: set[str] = set()

    def _load(self, fingerprints: set[str]) -> None:
        missing = [f for f in fingerprints if f not in self.states]
        for row in self.session.scalars(
            select(AlertState).where(AlertState.fingerprint.in_(missing))
        ):
            self.states[row.fingerprint] = row

    def feed(self, rows: Sequence[Result]) -> None:
        hits: list[tuple[int, RuleSpec, Evaluated]] = []
        for sample in samples_of(rows):
            for rule_id, rule in self.rules:
                evaluated = evaluate_sample(rule, sample)
                if evaluated is not None:
                    hits.append((rule_id, rule, evaluated))
        self._load({e.fingerprint for *_, e in hits})
        for rule_id, rule, e in hits:
            self._step(rule_id, rule, e)

    def _step(self, rule_id: int, rule: RuleSpec, e: Evaluated) -> None:
        row = self.states.get(e.fingerprint)
        if row is None:
            row = AlertState(
                fingerprint=e.fingerprint,
                rule_id=rule_id,
                labels=dict(e.labels),
                annotations={},
                evidence={},
                record={},
            )
            self.session.add(row)
            self.states[e.fingerprint] = row
        rec = Record.from_json(row.record) if row.record else _new_record()
        latest = row.evaluated_until is None or e.at >= row.evaluated_until
        rec, transition = advance(
            rec, at=e.at, breached=e.breached, value=e.value, hold=rule.hold, keep=rule.keep
        )
        if latest:  # a re-run older window does not replace the newest evidence
            row.value = e.value
            # An alert kept firing through a clear window (keep_firing_for) goes on
            # showing the evidence of the breach that fired it.
            if e.breached or rec.current.state != "firing":
                row.annotations = dict(e.annotations)
                row.evidence = dict(e.evidence)
        row.rule_id = rule_id
        _write(row, rec, self.now)
        if transition == "resolved" and rec.current.resolved_at is None:
            # A re-run window took back the breach that fired it: it never fired, but it
            # was notified as firing, so it ends now, at this window.
            row.resolved_at = e.at
        if transition is not None:
            # When it fired or resolved: after a replay, not necessarily this window.
            at = row.fired_at if transition == "firing" else row.resolved_at
            self._record(rule.alert, transition, row, e.value, at or e.at)

    def _record(
        self, rule: str, transition: Transition, row: AlertState, value: float | None, at: datetime
    ) -> None:
        self.changed.add(row.fingerprint)
        self.events.append(
            AlertEvent(rule, transition, dict(row.labels), value, at, row.fingerprint)
        )
        log.info(
            "alert %s %s model=%s fingerprint=%s",
            rule,
            transition,
            row.labels.get("model"),
            row.fingerprint,
        )

    def end_orphans(self, disabled: dict[int, str]) -> None:
        """End the firing and pending instances no rule evaluates any more: those of
        rules removed from the config, and those whose rule changed its labels or
        matchers (the rule now makes other instances). Firing ones resolve now."""
        enabled = dict(self.rules)
        for row in self.session.scalars(
            select(AlertState).where(AlertState.state.in_(("firing", "pending")))
        ):
            rule = enabled.get(row.rule_id)
            if rule is not None and still_selected(rule, row.labels):
                continue
            name = rule.alert if rule is not None else disabled.get(row.rule_id, "")
            rec, transition = resolve_now(Record.from_json(row.record), self.now)
            _write(row, rec, self.now)
            if transition is not None:
                self._record(name, transition, row, row.value, self.now)


def evaluate(session: Session, config: AlertingConfig | None, *, now: datetime) -> list[AlertEvent]:
    """Consume every new result, step the instances the rules select, resolve those of
    disabled rules, and make sure every firing or changed instance has its aggregation
    groups. Runs in the caller's transaction; returns the transitions."""
    if not session.scalar(
        text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"), {"k": EVALUATOR_LOCK}
    ):
        log.info("another evaluator is active; skipping")
        return []
    all_rules = session.scalars(select(AlertRule).order_by(AlertRule.id)).all()
    rules = [(r.id, RuleSpec.model_validate(r.spec)) for r in all_rules if r.enabled]
    work = _Pass(session, rules, now)
    cursor_row = session.get(AlertCursor, 1, with_for_update=True)
    if cursor_row is None:
        cursor_row = AlertCursor(id=1, snapshot=None)
        session.add(cursor_row)
    cursor = Cursor(cursor_row.snapshot)
    while True:
        rows, cursor = _read_whole_runs(session, cursor)
        work.feed(rows)
        if cursor.upto is None:  # the read is complete
            break
    cursor_row.snapshot = cursor.snapshot
    work.end_orphans({r.id: r.name for r in all_rules if not r.enabled})
    session.flush()
    if config is not None:
        ensure_groups(session, config, changed=work.changed, now=now)
    return work.events
