"""`driftwarden rules|silences|alerts|retraining ...`: alerting from the command line."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from monitor.cli_support import console, settings, when

rules_app = typer.Typer(help="Alerting config as code (rules.yaml).", no_args_is_help=True)
silences_app = typer.Typer(help="Mute notifications for a while.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alert instances and their state.", no_args_is_help=True)
retraining_app = typer.Typer(help="Retraining triggers and outcomes.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def _load(file: Path) -> Any:
    from monitor.alerting.rules import ConfigError, load_config  # noqa: PLC0415

    try:
        return load_config(file.read_text(encoding="utf-8"), str(file), os.environ)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _engine() -> Any:
    from monitor.db.engine import make_engine  # noqa: PLC0415

    return make_engine(settings())


@rules_app.command("check")
def rules_check(file: Annotated[Path, typer.Option("-f", "--file", exists=True)]) -> None:
    """Validate an alerting config file without applying it (no database needed)."""
    config = _load(file)
    n_rules = sum(len(g.rules) for g in config.groups)
    console.print(
        f"{file}: {len(config.receivers)} receivers, {n_rules} rules, "
        f"{len(config.inhibit_rules)} inhibit rules: valid",
        highlight=False,
    )


@rules_app.command("apply")
def rules_apply(
    file: Annotated[Path, typer.Option("-f", "--file", exists=True)],
    check_urls: Annotated[
        bool, typer.Option(help="Refuse receivers whose host:port does not accept connections.")
    ] = True,
) -> None:
    """Make FILE the alerting config: receivers, route tree, inhibit rules and rules.
    Rules not in FILE are disabled and their firing alerts resolved."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.alerting.config_store import apply_config  # noqa: PLC0415
    from monitor.alerting.reachability import reachability_problems  # noqa: PLC0415

    config = _load(file)
    if check_urls and (problems := reachability_problems(config)):
        raise _fail(f"{file}: " + "; ".join(problems) + " (nothing applied; --no-check-urls skips)")
    engine = _engine()
    try:
        with Session(engine) as session, session.begin():
            report = apply_config(session, config, now=datetime.now(UTC))
    finally:
        engine.dispose()
    for line in report.lines():
        console.print(f"applied {line}", highlight=False, markup=False)


@rules_app.command("backtest")
def rules_backtest(  # typer passes options by keyword
    *,
    file: Annotated[Path, typer.Option("-f", "--file", exists=True)],
    start: Annotated[str, typer.Option("--from", help="Windows ending after (ISO 8601)")],
    end: Annotated[str, typer.Option("--to", help="... and up to this time")],
    flap_within: Annotated[
        str, typer.Option(help="Re-firing this soon after resolving counts as a flap.")
    ] = "6h",
    episodes: Annotated[int, typer.Option(help="Episodes listed per rule.")] = 5,
    output: Annotated[str, typer.Option(help="table or json")] = "table",
) -> None:
    """Replay the stored results of [--from, --to] through FILE's rules; print per rule
    how many alerts would have fired, when, for how long, and how many flapped. Sends
    nothing and changes nothing."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.alerting.backtest import backtest  # noqa: PLC0415
    from monitor.alerting.durations import parse_duration  # noqa: PLC0415
    from monitor.alerting.stored_samples import stored_samples  # noqa: PLC0415

    config = _load(file)
    t1, t2 = when("--from", start), when("--to", end)
    if t2 <= t1:
        raise _fail(f"--to={end!r}: must be after --from={start!r}")
    try:
        flap = parse_duration(flap_within)
    except ValueError as exc:
        raise _fail(f"--flap-within: {exc}") from None
    rules = [r for g in config.groups for r in g.rules]
    engine = _engine()
    try:
        with Session(engine) as session:
            stats = backtest(rules, stored_samples(session, t1, t2), until=t2, flap_within=flap)
    finally:
        engine.dispose()
    if output == "json":
        console.print_json(json.dumps([s.to_json() for s in stats]))
        return
    table = Table("rule", "instances", "fired", "alerts", "flapped", "firing time", "median")
    for s in stats:
        table.add_row(
            s.rule,
            str(s.instances),
            str(s.fired),
            str(s.instances_fired),
            str(s.flapped),
            str(s.firing_time),
            str(s.median_episode) if s.median_episode is not None else "-",
        )
    console.print(table)
    for s in stats:
        for e in s.episodes[:episodes]:
            ended = e.resolved_at.isoformat() if e.resolved_at else "still firing"
            labels = ", ".join(f"{k}={v}" for k, v in sorted(e.labels.items()) if k != "alertname")
            console.print(
                f"  {s.rule}: {e.fired_at.isoformat()} -> {ended}  {labels}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )


@silences_app.command("add")
def silences_add(  # typer passes options by keyword
    *,
    matcher: Annotated[list[str], typer.Option("--matcher", "-m", help='e.g. model="churn"')],
    created_by: Annotated[str, typer.Option(help="Who silences.")],
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    duration: Annotated[str | None, typer.Option(help="e.g. 2h (from --starts-at)")] = None,
    starts_at: Annotated[str | None, typer.Option(help="ISO 8601; default now")] = None,
    ends_at: Annotated[str | None, typer.Option(help="ISO 8601; or --duration")] = None,
) -> None:
    """Create a silence: alerts matching every --matcher are not notified meanwhile."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.alerting.durations import parse_duration  # noqa: PLC0415
    from monitor.alerting.silences import SilenceError, create_silence  # noqa: PLC0415

    start = when("--starts-at", starts_at) if starts_at else datetime.now(UTC)
    if (duration is None) == (ends_at is None):
        raise _fail("give one of --duration or --ends-at")
    try:
        end = when("--ends-at", ends_at) if ends_at else start + parse_duration(duration or "")
    except ValueError as exc:
        raise _fail(f"--duration={duration!r}: {exc}") from None
    engine = _engine()
    try:
        with Session(engine) as session, session.begin():
            silence = create_silence(
                session,
                matchers=matcher,
                starts_at=start,
                ends_at=end,
                created_by=created_by,
                comment=comment,
            )
            silence_id = silence.id
    except SilenceError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    console.print(silence_id, highlight=False)


@silences_app.command("list")
def silences_list(
    expired: Annotated[bool, typer.Option(help="Include expired silences.")] = False,
    output: Annotated[str, typer.Option(help="table or json")] = "table",
) -> None:
    """Active and pending silences."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.alerting.silences import list_silences, silence_state  # noqa: PLC0415

    now = datetime.now(UTC)
    engine = _engine()
    try:
        with Session(engine) as session:
            found = list_silences(session, now=now, expired=expired)
            rows = [
                {
                    "id": s.id,
                    "state": silence_state(s, now),
                    "matchers": list(s.matchers),
                    "starts_at": s.starts_at.isoformat(),
                    "ends_at": s.ends_at.isoformat(),
                    "created_by": s.created_by,
                    "comment": s.comment,
                }
                for s in found
            ]
            table = Table("id", "state", "matchers", "starts", "ends", "by", "comment")
            for s in found:
                table.add_row(
                    s.id,
                    silence_state(s, now),
                    ", ".join(s.matchers),
                    s.starts_at.isoformat(timespec="seconds"),
                    s.ends_at.isoformat(timespec="seconds"),
                    s.created_by,
                    s.comment,
                )
    finally:
        engine.dispose()
    if output == "json":
        console.print_json(json.dumps(rows))
        return
    console.print(table)


@silences_app.command("expire")
def silences_expire(silence_id: str) -> None:
    """End a silence now."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.alerting.silences import SilenceError, expire_silence  # noqa: PLC0415

    engine = _engine()
    try:
        with Session(engine) as session, session.begin():
            expire_silence(session, silence_id, now=datetime.now(UTC))
    except SilenceError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    console.print(f"expired {silence_id}", highlight=False)


@alerts_app.command("list")
def alerts_list(
    state: Annotated[str | None, typer.Option(help="pending, firing, resolved, inactive")] = None,
    limit: int = 100,
    output: Annotated[str, typer.Option(help="table or json")] = "table",
) -> None:
    """Alert instances, firing first."""
    from sqlalchemy import case, select  # noqa: PLC0415
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.db.models import AlertState  # noqa: PLC0415

    order = case({"firing": 0, "pending": 1, "resolved": 2}, value=AlertState.state, else_=3)
    query = select(AlertState).order_by(order, AlertState.updated_at.desc()).limit(limit)
    if state:
        query = query.where(AlertState.state == state)
    engine = _engine()
    try:
        with Session(engine) as session:
            table = Table("state", "alert", "labels", "value", "since", "fingerprint")
            rows: list[dict[str, Any]] = []
            for a in session.scalars(query):
                rows.append(
                    {
                        "fingerprint": a.fingerprint,
                        "state": a.state,
                        "labels": a.labels,
                        "annotations": a.annotations,
                        "value": a.value,
                        "active_at": a.active_at.isoformat() if a.active_at else None,
                        "fired_at": a.fired_at.isoformat() if a.fired_at else None,
                        "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
                    }
                )
                labels = ", ".join(
                    f"{k}={v}" for k, v in sorted(a.labels.items()) if k != "alertname"
                )
                since = a.fired_at if a.state == "firing" else a.resolved_at or a.active_at
                table.add_row(
                    a.state,
                    str(a.labels.get("alertname", "")),
                    labels,
                    "" if a.value is None else f"{a.value:.4g}",
                    since.isoformat() if since else "",
                    a.fingerprint,
                )
    finally:
        engine.dispose()
    if output == "json":
        console.print_json(json.dumps(rows))
        return
    console.print(table)


@retraining_app.command("list")
def retraining_list(
    model: Annotated[str | None, typer.Option()] = None,
    limit: int = 50,
    output: Annotated[str, typer.Option(help="table or json")] = "table",
) -> None:
    """Retraining triggers, newest first, with their outcome or why they were blocked."""
    from sqlalchemy import select  # noqa: PLC0415
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.db.models import RetrainingTrigger  # noqa: PLC0415

    query = select(RetrainingTrigger).order_by(RetrainingTrigger.id.desc()).limit(limit)
    if model:
        query = query.where(RetrainingTrigger.model_id == model)
    engine = _engine()
    try:
        with Session(engine) as session:
            table = Table("id", "model", "version", "status", "receiver", "at", "reason / detail")
            rows: list[dict[str, Any]] = []
            for t in session.scalars(query):
                rows.append(
                    {
                        "id": t.id,
                        "model": t.model_id,
                        "version": t.model_version,
                        "new_version": t.new_version,
                        "status": t.status,
                        "receiver": t.receiver,
                        "created_at": t.created_at.isoformat(),
                        "reason": t.reason,
                        "detail": t.detail,
                    }
                )
                table.add_row(
                    str(t.id),
                    t.model_id,
                    t.model_version + (f" -> {t.new_version}" if t.new_version else ""),
                    t.status,
                    t.receiver,
                    t.created_at.isoformat(timespec="seconds"),
                    t.reason or t.detail,
                )
    finally:
        engine.dispose()
    if output == "json":
        console.print_json(json.dumps(rows))
        return
    console.print(table)


@retraining_app.command("outcome")
def retraining_outcome(  # typer passes options by keyword
    trigger_id: int,
    *,
    status: Annotated[str, typer.Option(help="succeeded or failed")],
    new_version: Annotated[str | None, typer.Option(help="The version it produced.")] = None,
    copy_baseline: Annotated[
        str | None, typer.Option(help="Copy the old version's baseline of this name.")
    ] = None,
    baseline_file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Training data of the new version."),
    ] = None,
    detail: str = "",
) -> None:
    """Record what a retraining produced; register its new version and baseline."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.alerting.retraining import RetrainingError, record_outcome  # noqa: PLC0415
    from monitor.detection import baseline_builds as builds  # noqa: PLC0415
    from monitor.detection.baseline import BaselineCopyError  # noqa: PLC0415

    if status not in ("succeeded", "failed"):
        raise _fail(f"--status={status!r}: one of succeeded, failed")
    if (copy_baseline or baseline_file) and not new_version:
        raise _fail("a baseline is for a --new-version")
    if copy_baseline and baseline_file:
        raise _fail("give one of --copy-baseline or --baseline-file")
    engine = _engine()
    try:
        with Session(engine) as session, session.begin():
            trigger = record_outcome(
                session,
                trigger_id,
                status=status,  # type: ignore[arg-type]
                now=datetime.now(UTC),
                new_version=new_version,
                copy_baseline_name=copy_baseline,
                detail=detail,
            )
            model = trigger.model_id
        if baseline_file is not None and new_version is not None:
            builds.create_from_file(
                engine, model_id=model, version=new_version, path=baseline_file, name="training"
            )
    except (RetrainingError, BaselineCopyError, builds.BaselineError) as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    console.print(
        f"trigger {trigger_id}: {status}"
        + (f", model {model} version {new_version} registered" if new_version else ""),
        highlight=False,
    )
