"""Store and load the applied alerting config (``driftwarden rules apply -f rules.yaml``).

Applying is declarative, like reloading Prometheus and Alertmanager: the file is the
whole truth. Rules absent from it are disabled (the evaluator resolves their firing
instances, so nothing is left firing forever); receivers absent from it stay stored
until their pending notifications are delivered, and are listed as unused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitor.alerting.rules import AlertingConfig
from monitor.db.models import AlertingConfig as AlertingConfigRow
from monitor.db.models import AlertRule, Receiver


@dataclass
class ApplyReport:
    receivers: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    disabled_rules: list[str] = field(default_factory=list)
    unused_receivers: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"receiver {r}" for r in self.receivers] + [f"rule {r}" for r in self.rules]
        out += [f"rule {r} disabled (not in the file)" for r in self.disabled_rules]
        out += [f"receiver {r} unused (not in the file)" for r in self.unused_receivers]
        return out


def apply_config(session: Session, config: AlertingConfig, *, now: datetime) -> ApplyReport:
    """Make ``config`` the applied alerting config, in the caller's transaction."""
    report = ApplyReport()
    for receiver in config.receivers:
        settings = receiver.model_dump(mode="json", by_alias=True, exclude={"name", "type"})
        stmt = insert(Receiver).values(name=receiver.name, kind=receiver.type, config=settings)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[Receiver.name],
                set_={"kind": stmt.excluded.kind, "config": stmt.excluded.config},
            )
        )
        report.receivers.append(receiver.name)
    names = []
    for group in config.groups:
        for rule in group.rules:
            stmt = insert(AlertRule).values(
                name=rule.alert,
                group_name=group.name,
                spec=rule.model_dump(mode="json", by_alias=True),
                enabled=True,
            )
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[AlertRule.name],
                    set_={
                        "spec": stmt.excluded.spec,
                        "group_name": stmt.excluded.group_name,
                        "enabled": True,
                    },
                )
            )
            names.append(rule.alert)
    report.rules = names
    report.disabled_rules = list(
        session.scalars(
            update(AlertRule)
            .where(AlertRule.name.not_in(names), AlertRule.enabled)
            .values(enabled=False)
            .returning(AlertRule.name)
        )
    )
    known = {r.name for r in config.receivers}
    report.unused_receivers = [
        n for n in session.scalars(select(Receiver.name).order_by(Receiver.name)) if n not in known
    ]
    stmt = insert(AlertingConfigRow).values(
        id=1, config=config.model_dump(mode="json", by_alias=True), applied_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[AlertingConfigRow.id],
            set_={"config": stmt.excluded.config, "applied_at": stmt.excluded.applied_at},
        )
    )
    return report


def load_applied(session: Session) -> AlertingConfig | None:
    """The applied config, or None before the first ``rules apply``."""
    stored = session.get(AlertingConfigRow, 1)
    return None if stored is None else AlertingConfig.model_validate(stored.config)
