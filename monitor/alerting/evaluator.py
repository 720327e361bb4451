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
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from monitor.alerting.evaluate import Hold, Record, Transition, advance, resolve_now
from monitor.alerting.groups import ensure_groups
from monitor.alerting.result_samples import samples_of
from monitor.alerting.rules import AlertingConfig, RuleSpec
from monitor.alerting.sample import Evaluated, evaluate_sample, still_selected
from monitor.db.models import AlertCursor, AlertRule, AlertState, Result
from monitor.db.models import AlertingConfig as AlertingConfigRow
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


@dataclass
class _Instance:
    """An alert instance as the pass changes it (plain data: the pass writes all the
    instances it touched with two bulk statements, not through the ORM unit of work)."""

    fingerprint: str
    rule_id: int
    labels: dict[str, str]
    record: Record
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    evaluated_until: datetime | None = None
    value: float | None = None
    annotations: dict[str, str] | None = None  # None: unchanged (not loaded)
    evidence: dict[str, Any] | None = None
    new: bool = False

    def write(self, rec: Record) -> None:
        cur = rec.current
        self.record = rec
        # The last episode's times stay until the next one fires: a resolved
        # notification (even of an alert a re-run took back) needs when it started and
        # ended.
        self.fired_at = cur.fired_at or self.fired_at
        self.resolved_at = None if cur.state == "firing" else cur.resolved_at or self.resolved_at
        self.evaluated_until = rec.latest or self.evaluated_until

    def row(self, now: datetime) -> dict[str, Any]:
        cur = self.record.current
        out: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "rule_id": self.rule_id,
            "state": cur.state,
            "active_at": cur.active_at,
            "fired_at": self.fired_at,
            "resolved_at": self.resolved_at,
            "evaluated_until": self.evaluated_until,
            "value": self.value,
            "record": self.record.to_json(),
            "updated_at": now,
        }
        if self.annotations is not None:
            out["annotations"] = self.annotations
        if self.evidence is not None:
            out["evidence"] = self.evidence
        if self.new:
            out |= {"labels": self.labels}
            out.setdefault("annotations", {})
            out.setdefault("evidence", {})
        return out


_LOADED = (
    AlertState.fingerprint,
    AlertState.rule_id,
    AlertState.labels,
    AlertState.record,
    AlertState.fired_at,
    AlertState.resolved_at,
    AlertState.evaluated_until,
    AlertState.value,
)


class _Pass:
    """One evaluation pass: the rules, the instances it loaded, the transitions it made."""

    def __init__(self, session: Session, rules: Sequence[tuple[int, RuleSpec]], now: datetime):
        self.session = session
        # for/keep_firing_for read once per rule, not per sample.
        self.rules = [(rule_id, rule, rule.hold, rule.keep) for rule_id, rule in rules]
        self.now = now
        self.instances: dict[str, _Instance] = {}
        self.events: list[AlertEvent] = []
        self.changed: set[str] = set()

    def _load(self, fingerprints: set[str]) -> None:
        missing = [f for f in fingerprints if f not in self.instances]
        if not missing:
            return
        for fp, rule_id, labels, record, fired, resolved, until, value in self.session.execute(
            select(*_LOADED).where(AlertState.fingerprint.in_(missing))
        ):
            self.instances[fp] = _Instance(
                fp, rule_id, labels, Record.from_json(record), fired, resolved, until, value
            )

    def feed(self, rows: Sequence[Result]) -> None:
        hits: list[tuple[int, RuleSpec, Hold, Hold, Evaluated]] = []
        for sample in samples_of(rows):
            for rule_id, rule, hold, keep in self.rules:
                evaluated = evaluate_sample(rule, sample)
                if evaluated is not None:
                    hits.append((rule_id, rule, hold, keep, evaluated))
        self._load({e.fingerprint for *_, e in hits})
        for rule_id, rule, hold, keep, e in hits:
            self._step(rule_id, rule.alert, hold, keep, e)

    def _step(self, rule_id: int, alert: str, hold: Hold, keep: Hold, e: Evaluated) -> None:
        inst = self.instances.get(e.fingerprint)
        if inst is None:
            inst = _Instance(e.fingerprint, rule_id, dict(e.labels), Record(), new=True)
            self.instances[e.fingerprint] = inst
        latest = inst.evaluated_until is None or e.at >= inst.evaluated_until
        rec, transition = advance(
            inst.record, at=e.at, breached=e.breached, value=e.value, hold=hold, keep=keep
        )
        if latest:  # a re-run older window does not replace the newest evidence
            inst.value = e.value
            # An alert kept firing through a clear window (keep_firing_for) goes on
            # showing the evidence of the breach that fired it.
            if e.breached or rec.current.state != "firing":
                inst.annotations = dict(e.annotations)
                inst.evidence = dict(e.evidence)
        inst.rule_id = rule_id
        inst.write(rec)
        if transition == "resolved" and rec.current.resolved_at is None:
            # A re-run window took back the breach that fired it: it never fired, but it
            # was notified as firing, so it ends now, at this window.
            inst.resolved_at = e.at
        if transition is not None:
            # When it fired or resolved: after a replay, not necessarily this window.
            at = inst.fired_at if transition == "firing" else inst.resolved_at
            self._record(alert, transition, inst, e.value, at or e.at)

    def _record(
        self, rule: str, transition: Transition, inst: _Instance, value: float | None, at: datetime
    ) -> None:
        self.changed.add(inst.fingerprint)
        self.events.append(
            AlertEvent(rule, transition, dict(inst.labels), value, at, inst.fingerprint)
        )
        log.info(
            "alert %s %s model=%s fingerprint=%s",
            rule,
            transition,
            inst.labels.get("model"),
            inst.fingerprint,
        )

    def end_orphans(self, disabled: dict[int, str]) -> None:
        """End the firing and pending instances no rule evaluates any more: those of
        rules removed from the config, and those whose rule changed its labels or
        matchers (the rule now makes other instances). Firing ones resolve now."""
        enabled = {rule_id: rule for rule_id, rule, *_ in self.rules}
        live = self.session.execute(
            select(AlertState.fingerprint, AlertState.rule_id, AlertState.labels).where(
                AlertState.state.in_(("firing", "pending"))
            )
        )
        # An instance stepped in this pass was made by its rule as it is now: it fits.
        orphans = {
            fp
            for fp, rule_id, labels in live
            if fp not in self.instances
            and ((rule := enabled.get(rule_id)) is None or not still_selected(rule, labels))
        }
        self._load(orphans)
        for fp in sorted(orphans):
            inst = self.instances[fp]
            rule = enabled.get(inst.rule_id)
            name = rule.alert if rule is not None else disabled.get(inst.rule_id, "")
            rec, transition = resolve_now(inst.record, self.now)
            inst.write(rec)
            if transition is not None:
                self._record(name, transition, inst, inst.value, self.now)

    def save(self) -> None:
        """Write every instance the pass touched: one INSERT of the new, one UPDATE (by
        primary key, executemany) of the others."""
        new = [i.row(self.now) for i in self.instances.values() if i.new]
        old = [i.row(self.now) for i in self.instances.values() if not i.new]
        if new:
            self.session.execute(insert(AlertState), new)
        if old:
            self.session.execute(update(AlertState), old)


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
    # The enabled rules are the applied config's (rules apply disables the others), and
    # load_applied has parsed them already: only their ids come from alert_rules.
    ids = {r.name: r.id for r in all_rules}
    rules = [(ids[rule.alert], rule) for _, rule in config.rules()] if config else []
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
    work.save()
    if config is not None:
        # After a config change, every firing alert is routed again (its new groups);
        # else only the instances that changed.
        applied_at = session.scalar(select(AlertingConfigRow.applied_at))
        routed_all = cursor_row.routed_at is None or (
            applied_at is not None and applied_at > cursor_row.routed_at
        )
        ensure_groups(
            session,
            config,
            changed=[work.instances[fp].labels for fp in sorted(work.changed)],
            all_firing=routed_all,
            now=now,
        )
        cursor_row.routed_at = applied_at
    return work.events
