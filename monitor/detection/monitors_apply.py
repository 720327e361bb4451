"""Apply a parsed monitors file (monitor/detection/monitors_file.py) to the database.

Everything is checked before anything is written, and everything is written in the
caller's transaction, so a file applies whole or not at all. Monitors are matched by
name: new ones are created, different ones updated, equal ones left untouched (applying
a file twice writes nothing), and with ``prune`` the monitors the file no longer lists
are disabled (not deleted: their runs and alerts stay).

``checked_until`` is never changed by an apply: a new window, reference or policy applies
from the next unchecked window on, and the runs already stored keep the settings they
were computed with (re-running history would re-fire its alerts; see docs/monitors.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

import detectors
from monitor.db.models import Baseline, Model, ModelVersion, Monitor
from monitor.detection.bucket_reads import segment_keys
from monitor.detection.bucket_refresh import resketch
from monitor.detection.monitors_file import MonitorsFile, MonitorsFileError, ResolvedMonitor
from monitor.detection.spec import BASELINE_SIGNALS, MonitorSpec

APPLY_LOCK = "driftwarden.monitors-apply"
Action = Literal["created", "changed", "unchanged", "disabled", "kept"]


@dataclass(frozen=True)
class Change:
    """What an apply did (or, in a dry run, would do) to one monitor. ``kept``: a monitor
    the file does not list, left as it is (without ``prune``, or already disabled)."""

    name: str
    model_id: str
    action: Action
    details: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class ApplyReport:
    changes: tuple[Change, ...]
    # Not errors: things that will show in the runs, e.g. a baseline not created yet.
    notes: tuple[str, ...]

    def count(self, action: Action) -> int:
        return sum(c.action == action for c in self.changes)


@dataclass(frozen=True)
class _Version:
    version: str
    kinds: dict[str, str]


def _latest_versions(session: Session, model_ids: set[str]) -> dict[str, _Version]:
    """Each model's latest version (last registered; the version string breaks ties)."""
    rows = session.execute(
        select(ModelVersion.model_id, ModelVersion.version, ModelVersion.feature_schema)
        .where(ModelVersion.model_id.in_(model_ids))
        .order_by(ModelVersion.model_id, ModelVersion.created_at, ModelVersion.version)
    )
    return {
        model_id: _Version(version, {f["name"]: f["kind"] for f in schema})
        for model_id, version, schema in rows
    }


def _flat(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Leaves of nested maps as ``("policy.alpha", 0.05)``; None leaves are left out, so
    ``schedule: None -> {every: 5m}`` reads ``schedule.every: null -> 5m``."""
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from _flat(item, f"{prefix}.{key}" if prefix else str(key))
    elif value is not None:
        yield prefix, value


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _differences(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    before, after = dict(_flat(old)), dict(_flat(new))
    return tuple(
        f"{key}: {_show(before.get(key))} -> {_show(after.get(key))}"
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    )


def _task_problems(monitor: ResolvedMonitor, task: str) -> list[str]:
    """Signals and metrics the model's task (models.task_type) does not have."""
    spec = monitor.spec
    problems = []
    if "estimated_performance" in spec.signals and task != "binary_classification":
        i = spec.signals.index("estimated_performance")
        problems.append(
            f"{monitor.where('signals', f'[{i}]')}: 'estimated_performance' estimates a "
            f"binary classifier's performance, but {spec.model_id} is a {task} model"
        )
    if "performance" in spec.signals or "estimated_performance" in spec.signals:
        for name in spec.performance.unsupported(task):
            problems.append(
                f"{monitor.where('performance')}: {name!r} is not a metric of a {task} "
                f"model like {spec.model_id}"
            )
    return problems


def _check_monitor(
    monitor: ResolvedMonitor,
    *,
    registered: dict[str, str],
    latest: dict[str, _Version],
    existing: dict[str, Monitor],
    baselines: set[tuple[str, str, str]],
) -> tuple[list[str], list[str]]:
    """(problems, notes) of one monitor against the database."""
    problems: list[str] = []
    notes: list[str] = []
    spec = monitor.spec
    model = spec.model_id
    if model not in registered:
        known = ", ".join(sorted(registered)) or "none yet: apply a kind: Model document"
        problems.append(
            f"{monitor.path}.model: {model!r} is not a registered model (registered: {known})"
        )
        return problems, notes
    problems += _task_problems(monitor, registered[model])
    current = existing.get(monitor.name)
    if current is not None and current.model_id != model:
        problems.append(
            f"{monitor.path}.model: {model!r}, but monitor {monitor.name!r} watches "
            f"{current.model_id!r}; a monitor cannot move to another model (its runs are "
            "that model's): give it a new name, and --prune disables the old one"
        )
    version = latest.get(model)
    if version is None:
        problems.append(f"{monitor.path}.model: {model!r} has no registered version")
        return problems, notes
    schema = version.kinds
    of = f"{model} v{version.version} (the latest version; features: {', '.join(schema)})"
    for i, name in enumerate(spec.features or []):
        sub = f".{name}" if monitor.kinds is not None else f"[{i}]"
        if name not in schema:
            problems.append(f"{monitor.where('features', sub)}: {name!r} is not a feature of {of}")
        elif monitor.kinds is not None and monitor.kinds[name] != schema[name]:
            problems.append(
                f"{monitor.where('features', sub)}: {monitor.kinds[name]!r}, but "
                f"{model} v{version.version} declares {name!r} {schema[name]}"
            )
    monitored = spec.features or list(schema)
    for name, method in spec.methods.items():
        where = monitor.where("methods", f".{name}")
        # A family's methods serve every monitor of the family that watches the feature;
        # a monitor's own must name one it watches, and a family's one of the schema.
        own = monitor.origins.get(f"methods.{name}") == monitor.path
        if own and name not in monitored:
            problems.append(
                f"{where}: {name!r} is not a monitored feature of {model} "
                f"v{version.version} (monitored: {', '.join(monitored)})"
            )
        elif name not in schema:
            problems.append(f"{where}: {name!r} is not a feature of {of}")
        elif method != "auto":
            test = detectors.stattest(method)
            if not test.supports(schema[name]):
                problems.append(
                    f"{where}: {method!r} does not test {schema[name]} features like "
                    f"{name!r} (it tests: {', '.join(sorted(test.kinds))})"
                )
    reads_baseline = spec.reference == "baseline" or any(
        s in BASELINE_SIGNALS for s in spec.signals
    )
    if reads_baseline and (model, version.version, spec.baseline) not in baselines:
        notes.append(
            f"{monitor.path} {monitor.name!r}: {model} v{version.version} has no baseline "
            f"named {spec.baseline!r} yet; its windows are recorded as errors until one is "
            f"created (driftwarden baseline create --model {model} --version {version.version}"
            f" --name {spec.baseline} ...)"
        )
    return problems, notes


def apply_monitors(
    session: Session, monitors_file: MonitorsFile, *, prune: bool = False, dry_run: bool = False
) -> ApplyReport:
    """Check ``monitors_file`` against the database and apply it in ``session``'s
    transaction (the caller commits). Raise MonitorsFileError naming every problem, with
    nothing written. ``dry_run``: check and report, write nothing."""
    # Two applies at once would each see the other's monitors as absent (and prune them).
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": APPLY_LOCK})
    existing = {m.name: m for m in session.scalars(select(Monitor).order_by(Monitor.name))}
    model_ids = {m.spec.model_id for m in monitors_file.monitors}
    registered = {
        model_id: task
        for model_id, task in session.execute(select(Model.model_id, Model.task_type))
    }
    latest = _latest_versions(session, model_ids)
    baselines = {
        (b.model_id, b.model_version, b.name)
        for b in session.execute(
            select(Baseline.model_id, Baseline.model_version, Baseline.name).where(
                Baseline.model_id.in_(model_ids)
            )
        )
    }
    problems: list[str] = []
    notes: list[str] = []
    for monitor in monitors_file.monitors:
        found, noted = _check_monitor(
            monitor,
            registered=registered,
            latest=latest,
            existing=existing,
            baselines=baselines,
        )
        problems += found
        notes += noted
    if problems:
        raise MonitorsFileError(monitors_file.source, problems)

    # The segment keys each model's enabled monitors declare, before the writes: a model
    # whose keys change has its bucket sketches rebuilt (one per declared key=value).
    touched = sorted(model_ids | {m.model_id for m in existing.values()})
    segments_before = {m: segment_keys(session, m) for m in touched}
    changes: list[Change] = []
    for monitor in monitors_file.monitors:
        new_spec = monitor.spec.model_dump(mode="json")
        current = existing.get(monitor.name)
        model = monitor.spec.model_id
        if current is None:
            changes.append(Change(monitor.name, model, "created", enabled=monitor.enabled))
            if not dry_run:
                session.add(
                    Monitor(
                        name=monitor.name, model_id=model, spec=new_spec, enabled=monitor.enabled
                    )
                )
            continue
        try:
            # Compared as specs, so a spec stored before a field existed equals the same
            # spec with that field at its default.
            same = MonitorSpec.model_validate(current.spec) == monitor.spec
            old_spec = MonitorSpec.model_validate(current.spec).model_dump(mode="json")
        except ValueError:
            same, old_spec = False, current.spec
        details = () if same else _differences(old_spec, new_spec)
        if current.enabled != monitor.enabled:
            details += (f"enabled: {_show(current.enabled)} -> {_show(monitor.enabled)}",)
        if not details:
            changes.append(Change(monitor.name, model, "unchanged", enabled=current.enabled))
            continue
        changes.append(Change(monitor.name, model, "changed", details, enabled=monitor.enabled))
        if not dry_run:
            if not same:
                current.spec = new_spec
            current.enabled = monitor.enabled
    listed = {m.name for m in monitors_file.monitors}
    for name, current in existing.items():
        if name in listed:
            continue
        if prune and current.enabled:
            changes.append(Change(name, current.model_id, "disabled", enabled=False))
            if not dry_run:
                current.enabled = False
        else:
            changes.append(Change(name, current.model_id, "kept", enabled=current.enabled))
    session.flush()
    if not dry_run:
        for model_id in touched:
            if segment_keys(session, model_id) != segments_before[model_id]:
                # Rebuilt by the next refresh without re-running checked windows: their
                # runs keep the segments they were computed with.
                resketch(session, model_id)
    return ApplyReport(tuple(changes), tuple(notes))


@dataclass(frozen=True)
class MonitorRow:
    """One monitor as ``driftwarden monitors list`` shows it."""

    name: str
    model_id: str
    window: str  # "1h", or "6h every 1h" (sliding)
    signals: str
    reference: str  # "baseline training", "previous_window" or "FROM .. TO"
    enabled: bool
    checked_until: datetime | None
    spec: dict[str, Any]


def _reference_text(spec: MonitorSpec) -> str:
    if spec.reference == "baseline":
        return f"baseline {spec.baseline}"
    if spec.reference_window is not None:
        window = spec.reference_window
        return f"{window.start.isoformat()} .. {window.end.isoformat()}"
    return spec.reference


def list_monitors(session: Session, *, model_id: str | None = None) -> list[MonitorRow]:
    """Every monitor (of ``model_id``), by name."""
    query = select(Monitor).order_by(Monitor.name)
    if model_id is not None:
        query = query.where(Monitor.model_id == model_id)
    rows = []
    for m in session.scalars(query):
        try:
            spec = MonitorSpec.model_validate(m.spec)
        except ValueError as exc:  # written by hand in the database: show, do not crash
            window = signals = reference = f"invalid spec: {exc}".splitlines()[0]
        else:
            window = spec.window + (f" every {spec.step}" if spec.step else "")
            signals, reference = ", ".join(spec.signals), _reference_text(spec)
        rows.append(
            MonitorRow(
                m.name, m.model_id, window, signals, reference, m.enabled, m.checked_until, m.spec
            )
        )
    return rows
