"""Retraining governance: whether a ``retrain`` receiver may start a retraining now.

A retrain receiver's notification is a trigger for one model version. Before it is
written to the outbox, the receiver's policy is checked against what is stored:

- ``require_signals``: the firing alerts of the trigger include each of these signals;
- ``cooldown``: no trigger for the model by this receiver within it;
- ``max_triggers`` per ``per``: at most that many triggers in the period;
- ``min_labelled_rows``: at least that many labels stored for the model within
  ``labelled_within`` (a retraining needs ground truth).

Every decision is recorded in ``retraining_triggers``, one row per episode: ``triggered``
with the idempotency key the receiver gets, or ``blocked`` with the reason. The key is a
hash of the receiver, model version and the firing alerts' episodes (fingerprint and
firing time), so a re-sent or repeated notification of the same episode carries the same
key and the trainer can ignore duplicates:

- a triggered episode is sent again as the same trigger (same id and key) while its
  outcome is pending, and not at all once the trainer reported one;
- a blocked episode is decided again at its next notification (a repeat): the policy's
  checks depend on time (cooldown, the period, labels arriving), so an episode that
  persists is triggered once they pass. Its row then holds the latest decision.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitor.alerting.rules import RetrainReceiver
from monitor.db.models import AlertState, Label, RetrainingTrigger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    idempotency_key: str


def idempotency_key(receiver: str, model: str, version: str, alerts: Sequence[AlertState]) -> str:
    episodes = sorted(
        f"{a.fingerprint}@{a.fired_at.isoformat() if a.fired_at else ''}" for a in alerts
    )
    text = "\n".join([receiver, model, version, *episodes])
    return hashlib.sha256(text.encode()).hexdigest()


def decide(
    session: Session,
    receiver: RetrainReceiver,
    alerts: Sequence[AlertState],
    *,
    model: str,
    version: str,
    now: datetime,
) -> Decision:
    policy = receiver.policy
    key = idempotency_key(receiver.name, model, version, alerts)
    firing_signals = {a.labels.get("signal", "") for a in alerts}
    missing = [s for s in policy.require_signals if s not in firing_signals]
    if missing:
        return Decision(False, f"require_signals: no firing alert of signal {missing}", key)
    earlier = select(RetrainingTrigger.created_at).where(
        RetrainingTrigger.receiver == receiver.name,
        RetrainingTrigger.model_id == model,
        RetrainingTrigger.status != "blocked",
    )
    last = session.scalar(earlier.order_by(RetrainingTrigger.created_at.desc()).limit(1))
    if last is not None and now - last < policy.cooldown_delta:
        return Decision(
            False, f"cooldown={policy.cooldown}: last trigger at {last.isoformat()}", key
        )
    in_period = session.scalar(
        select(func.count()).select_from(
            earlier.where(RetrainingTrigger.created_at > now - policy.per_delta).subquery()
        )
    )
    if policy.max_triggers is not None and (in_period or 0) >= policy.max_triggers:
        return Decision(
            False,
            f"max_triggers={policy.max_triggers} per {policy.per}: {in_period} already",
            key,
        )
    if policy.min_labelled_rows:
        labelled = session.scalar(
            select(func.count())
            .select_from(Label)
            .where(Label.model_id == model, Label.ts > now - policy.labelled_within_delta)
        )
        if (labelled or 0) < policy.min_labelled_rows:
            return Decision(
                False,
                f"min_labelled_rows={policy.min_labelled_rows}: {labelled} labels of {model} "
                f"within {policy.labelled_within}",
                key,
            )
    return Decision(True, "", key)


def record_trigger(
    session: Session,
    receiver: RetrainReceiver,
    alerts: Sequence[AlertState],
    decision: Decision,
    *,
    model: str,
    version: str,
    now: datetime,
) -> int | None:
    """Store the decision of an episode that has no row or a blocked one; the trigger's
    id, or None if a concurrent flush stored a non-blocked decision for the key first."""
    values = {
        "receiver": receiver.name,
        "model_id": model,
        "model_version": version,
        "idempotency_key": decision.idempotency_key,
        "status": "triggered" if decision.allowed else "blocked",
        "reason": decision.reason,
        "alerts": [{"fingerprint": a.fingerprint, "labels": a.labels} for a in alerts],
        "created_at": now,  # the time of the decision: cooldown and period count from it
    }
    stmt = insert(RetrainingTrigger).values(**values)
    upsert = stmt.on_conflict_do_update(
        index_elements=[RetrainingTrigger.idempotency_key],
        set_={k: stmt.excluded[k] for k in ("status", "reason", "alerts", "created_at")},
        # Only a blocked decision is taken again; a triggered one stands.
        where=RetrainingTrigger.status == "blocked",
    )
    trigger_id: int | None = session.scalar(upsert.returning(RetrainingTrigger.id))
    if trigger_id is not None:
        log.info(
            "retraining %s for %s v%s via %s%s",
            "triggered" if decision.allowed else "blocked",
            model,
            version,
            receiver.name,
            f": {decision.reason}" if decision.reason else "",
        )
    return trigger_id


def _payload(
    trigger_id: int, key: str, model: str, version: str, external_url: str
) -> dict[str, Any]:
    base = external_url.rstrip("/")
    return {
        "trigger_id": trigger_id,
        "idempotency_key": key,
        "model_id": model,
        "model_version": version,
        "callback_url": f"{base}/v1/retraining/{trigger_id}/outcome" if base else "",
    }


def retraining_payload(
    session: Session,
    receiver: RetrainReceiver,
    alerts: Sequence[AlertState],
    *,
    model: str,
    version: str,
    now: datetime,
    external_url: str,
) -> dict[str, Any] | None:
    """The ``retraining`` object of a trigger notification, or None when the policy
    blocks it or the episode's trigger already has its outcome."""
    key = idempotency_key(receiver.name, model, version, alerts)
    # Columns, not the ORM object: record_trigger updates the row behind the session.
    earlier = session.execute(
        select(RetrainingTrigger.id, RetrainingTrigger.status).where(
            RetrainingTrigger.idempotency_key == key
        )
    ).first()
    if earlier is not None and earlier.status != "blocked":
        if earlier.status != "triggered":
            return None  # the trainer reported what it did: nothing to remind it of
        # The same episode again (a repeat): the same trigger, which the key deduplicates.
        return _payload(earlier.id, key, model, version, external_url)
    # Two alerters flushing at once must not both pass a cooldown or max_triggers check.
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
        {"k": f"driftwarden.retrain:{receiver.name}:{model}"},
    )
    decision = decide(session, receiver, alerts, model=model, version=version, now=now)
    trigger_id = record_trigger(
        session, receiver, alerts, decision, model=model, version=version, now=now
    )
    if trigger_id is None or not decision.allowed:
        return None
    return _payload(trigger_id, key, model, version, external_url)
