"""`driftwarden models ...`, `monitors show / delete`, `rules show`: the CLI side of the
API's resource routes (monitor/api/routers/), for operators on the box."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from monitor.cli_support import console, settings

models_app = typer.Typer(help="Models, their versions and feature schemas.", no_args_is_help=True)

Output = Annotated[str, typer.Option(help="table or json")]


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(2)


def _check_output(output: str) -> None:
    if output not in ("table", "json"):
        raise _fail(f"--output={output!r}: one of table, json")


def _engine() -> Any:
    from monitor.db.engine import make_engine  # noqa: PLC0415

    return make_engine(settings())


@models_app.command("list")
def models_list(output: Output = "table") -> None:
    """Registered models: task type, versions and their numbers of features."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.model_registry import count_features, list_models  # noqa: PLC0415

    _check_output(output)
    engine = _engine()
    try:
        with Session(engine) as session:
            models, n_features = list_models(session), count_features(session)
    finally:
        engine.dispose()
    if output == "json":
        rows = [m.to_json(n_features) for m in models]
        console.print_json(json.dumps(rows))
        return
    table = Table("model", "task", "versions", "features (latest)", "description")
    for m in models:
        latest = m.versions[-1].version if m.versions else None
        table.add_row(
            m.model_id,
            m.task_type,
            ", ".join(v.version for v in m.versions),
            str(n_features.get((m.model_id, latest), 0)) if latest else "-",
            m.description,
        )
    console.print(table)


@models_app.command("show")
def models_show(model_id: str, output: Output = "table") -> None:
    """One model: each version with its feature schema."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.model_registry import list_models  # noqa: PLC0415

    _check_output(output)
    engine = _engine()
    try:
        with Session(engine) as session:
            found = list_models(session, model_id)
    finally:
        engine.dispose()
    if not found:
        raise _fail(f"MODEL_ID={model_id!r}: no such model")
    m = found[0]
    if output == "json":
        doc = m.to_json()
        console.print_json(json.dumps(doc))
        return
    console.print(f"{m.model_id} ({m.task_type}) {m.description}", highlight=False, markup=False)
    table = Table("version", "registered", "feature", "kind", "range / categories")
    for v in m.versions:
        for i, f in enumerate(v.features):
            domain = f.get("range") or f.get("categories") or ""
            table.add_row(
                v.version if i == 0 else "",
                f"{v.created_at:%Y-%m-%d %H:%M}" if i == 0 else "",
                str(f["name"]),
                str(f["kind"]),
                str(domain),
            )
    console.print(table)


@models_app.command("register")
def models_register(
    file: Annotated[Path, typer.Option("-f", "--file", exists=True, dir_okay=False)],
) -> None:
    """Register a model version from a YAML or JSON file: model_id, task_type, version,
    description, features [{name, kind, range?, categories?}] (the body of POST
    /v1/models). The same schema again changes nothing; another one under the same
    version is refused: register it as a new version."""
    import yaml  # noqa: PLC0415
    from pydantic import ValidationError  # noqa: PLC0415
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.model_registry import SchemaConflictError, register_version  # noqa: PLC0415
    from monitor.resources import ModelDoc  # noqa: PLC0415

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise _fail(f"{file}: not valid YAML: {exc}") from None
    if isinstance(data, dict):
        data.pop("kind", None)  # a `kind: Model` document of `driftwarden apply` works too
    try:
        doc = ModelDoc.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'document'}={e.get('input')!r:.80}: {e['msg']}"
            for e in exc.errors()
        )
        raise _fail(f"{file}: {problems}") from None
    names = [f.name for f in doc.features]
    if len(set(names)) != len(names):
        raise _fail(f"{file}: features: a name is listed twice in {names}")
    engine = _engine()
    try:
        with Session(engine) as session, session.begin():
            outcome = register_version(session, doc)
    except SchemaConflictError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    what = "registered" if outcome == "created" else "already registered (same schema)"
    console.print(
        f"{what}: {doc.model_id} version {doc.version}, {len(doc.features)} features",
        highlight=False,
        markup=False,
    )


def monitors_show(name: str, output: Output = "table") -> None:
    """One monitor: model, window, signals, reference, state and its full spec."""
    from sqlalchemy import select  # noqa: PLC0415
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.db.models import Monitor  # noqa: PLC0415
    from monitor.detection.monitors_apply import list_monitors  # noqa: PLC0415

    _check_output(output)
    engine = _engine()
    try:
        with Session(engine) as session:
            model_id = session.scalar(select(Monitor.model_id).where(Monitor.name == name))
            rows = [] if model_id is None else list_monitors(session, model_id=model_id)
    finally:
        engine.dispose()
    row = next((r for r in rows if r.name == name), None)
    if row is None:
        raise _fail(f"NAME={name!r}: no such monitor")
    doc = {
        "name": row.name,
        "model": row.model_id,
        "window": row.window,
        "signals": row.signals,
        "reference": row.reference,
        "enabled": row.enabled,
        "checked_until": row.checked_until.isoformat() if row.checked_until else None,
        "spec": row.spec,
    }
    if output == "json":
        console.print_json(json.dumps(doc))
        return
    table = Table("setting", "value", show_header=False)
    for key, value in doc.items():
        if key != "spec":
            table.add_row(key, "-" if value is None else str(value))
    for key, value in sorted(row.spec.items()):
        table.add_row(f"spec.{key}", json.dumps(value))
    console.print(table)


def monitors_delete(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete a monitor with its runs and results. To keep them, disable it instead
    (`monitors apply --prune` with the monitor left out of the file)."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.model_registry import delete_monitor  # noqa: PLC0415

    if not yes and not typer.confirm(f"delete monitor {name!r} with its runs and results?"):
        raise typer.Exit(1)
    engine = _engine()
    try:
        with Session(engine) as session, session.begin():
            model_id = delete_monitor(session, name)
    finally:
        engine.dispose()
    if model_id is None:
        raise _fail(f"NAME={name!r}: no such monitor")
    console.print(f"deleted monitor {name} (model {model_id})", highlight=False, markup=False)


def rules_show(output: Output = "table") -> None:
    """The applied alerting config: receivers (secrets shown as <redacted>), routes and
    rules."""
    import yaml  # noqa: PLC0415
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.alerting.redaction import redact_config  # noqa: PLC0415
    from monitor.db.models import AlertingConfig  # noqa: PLC0415

    _check_output(output)
    engine = _engine()
    try:
        with Session(engine) as session:
            row = session.get(AlertingConfig, 1)
            stored = None if row is None else (row.applied_at, row.config)
    finally:
        engine.dispose()
    if stored is None:
        raise _fail("no alerting config applied yet (driftwarden rules apply -f rules.yaml)")
    applied_at, config = stored
    shown = redact_config(config)
    if output == "json":
        console.print_json(json.dumps({"applied_at": applied_at.isoformat(), "config": shown}))
        return
    console.print(f"applied at {applied_at.isoformat()}", highlight=False)
    table = Table("receiver", "type", "target")
    for r in shown.get("receivers", []):
        table.add_row(str(r.get("name")), str(r.get("type")), str(r.get("url", "")))
    console.print(table)
    rules = Table("group", "rule", "matchers", "condition", "for")
    for group in shown.get("groups", []):
        for rule in group.get("rules", []):
            rules.add_row(
                str(group.get("name")),
                str(rule.get("alert")),
                ", ".join(rule.get("matchers", [])),
                str(rule.get("condition")),
                str(rule.get("for", 0)),
            )
    console.print(rules)
    route = yaml.safe_dump({"route": shown.get("route")}, sort_keys=False)
    console.print(route, highlight=False, markup=False)
