"""The `driftwarden` command. Each long-running role is a sub-command."""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from monitor.cli_alerting import alerts_app, retraining_app, rules_app, silences_app
from monitor.cli_apikeys import apikey_app
from monitor.cli_dashboards import dashboards_app
from monitor.cli_docs import docs_app
from monitor.cli_report import report
from monitor.cli_resources import models_app, monitors_delete, monitors_show, rules_show
from monitor.cli_results import alerts_history, results, status
from monitor.cli_support import console
from monitor.cli_support import settings as _settings
from monitor.cli_support import stop_on_signals as _stop_on_signals
from monitor.cli_support import when as _when

app = typer.Typer(help="Driftwarden: model monitoring and drift detection.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
baseline_app = typer.Typer(help="Reference profiles of model versions.", no_args_is_help=True)
monitors_app = typer.Typer(help="Monitors as code (monitors.yaml).", no_args_is_help=True)
services_app = typer.Typer(help="Local PostgreSQL and broker for tests.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
dead_letters_app = typer.Typer(
    help="Messages ingest refused, with the reason.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(baseline_app, name="baseline")
app.add_typer(monitors_app, name="monitors")
app.add_typer(services_app, name="services")
app.add_typer(topics_app, name="topics")
app.add_typer(dead_letters_app, name="dead-letters")
app.add_typer(rules_app, name="rules")
app.add_typer(silences_app, name="silences")
app.add_typer(alerts_app, name="alerts")
app.add_typer(retraining_app, name="retraining")
app.command("report")(report)
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(apikey_app, name="apikey")
app.add_typer(models_app, name="models")
monitors_app.command("show")(monitors_show)
monitors_app.command("delete")(monitors_delete)
rules_app.command("show")(rules_show)
app.command("status")(status)
app.command("results")(results)
alerts_app.command("history")(alerts_history)
app.add_typer(docs_app, name="docs")

# ingest, detect and alert serve Prometheus /metrics on this port (docs/architecture.md).
_METRICS_PORT = typer.Option(
    "--metrics-port",
    min=0,
    max=65535,
    help="Serve /metrics on this port (0: off); default DRIFTWARDEN_METRICS_PORT (9464).",
)


@app.callback()
def _main(
    log_level: Annotated[str, typer.Option(envvar="DRIFTWARDEN_LOG_LEVEL")] = "INFO",
) -> None:
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION."""
    from monitor.db import migrate  # noqa: PLC0415 - heavy imports only for this command

    migrate.upgrade(_settings().sqlalchemy_url, revision)


@db_app.command("downgrade")
def db_downgrade(revision: str = "base") -> None:
    """Revert migrations down to REVISION."""
    from monitor.db import migrate  # noqa: PLC0415

    migrate.downgrade(_settings().sqlalchemy_url, revision)


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the code's head."""
    from monitor.db import migrate  # noqa: PLC0415

    url = _settings().sqlalchemy_url
    console.print(f"database: {migrate.current_revision(url)}  head: {migrate.head_revision()}")


@app.command("apply")
def apply(file: Annotated[Path, typer.Option("-f", "--file", exists=True)]) -> None:
    """Apply Model / Monitor / Receiver / Rule documents from a YAML file."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.resources import ResourceError, apply_document  # noqa: PLC0415

    engine = make_engine(_settings())
    try:
        with Session(engine) as session, session.begin():
            for i, doc in enumerate(yaml.safe_load_all(file.read_text())):
                if doc is None:
                    continue
                console.print("applied " + apply_document(session, doc, where=f"{file}#{i + 1}"))
    except ResourceError as exc:
        console.print(f"[red]error:[/red] {exc} (nothing applied)")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


class _BaselineProgress:
    """Progress bars of ``baseline create``: one per pass over the source."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[int, TaskID] = {}
        self._total = 0

    def opened(self, source: Any) -> None:
        self._total = source.total
        if source.ignored:
            console.print(
                f"ignored columns not in the schema: {', '.join(source.ignored)}",
                highlight=False,
                markup=False,
            )
        unit = "" if source.unit == "bytes" else " rows"
        for number, what in ((1, "sampling"), (2, "sketching")):
            self._tasks[number] = self._progress.add_task(
                f"pass {number}/2 {what}{unit}", total=self._total or None
            )

    def progress(self, number: int, done: int) -> None:
        self._progress.update(self._tasks[number], completed=done)


@baseline_app.command("create")
def baseline_create(  # typer passes options by keyword
    *,
    model: Annotated[str, typer.Option()],
    version: Annotated[str, typer.Option()],
    file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Training data: .csv, .parquet, .pq"),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Stored predictions from this time (ISO 8601)")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="... up to this time (excluded)")] = None,
    copy_from_version: Annotated[
        str | None,
        typer.Option(help="Reuse this version's baseline (same feature schema only)."),
    ] = None,
    name: str = "training",
    sample_size: Annotated[int, typer.Option(min=1, help="Rows kept for exact tests.")] = 20_000,
    batch_rows: Annotated[int, typer.Option(min=1, help="Rows read at a time.")] = 50_000,
) -> None:
    """Store the reference profile of MODEL VERSION: from a file of its training data
    (--file), from its stored predictions (--from/--to), or another version's baseline
    (--copy-from-version). Replaces a baseline of the same name. docs/baselines.md."""
    from rich.markup import escape  # noqa: PLC0415
    from rich.progress import DownloadColumn, TimeRemainingColumn  # noqa: PLC0415
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.detection import baseline_builds as builds  # noqa: PLC0415
    from monitor.detection.baseline import BaselineCopyError, copy_baseline  # noqa: PLC0415

    chosen = [file is not None, start is not None or end is not None, bool(copy_from_version)]
    if sum(chosen) != 1 or (chosen[1] and (start is None or end is None)):
        console.print(
            "[red]error:[/red] give one source: --file F, --from T1 --to T2, "
            "or --copy-from-version V"
        )
        raise typer.Exit(2)
    window = (_when("--from", start), _when("--to", end)) if start and end else None
    engine = make_engine(_settings())
    try:
        if copy_from_version:
            with Session(engine) as session, session.begin():
                n_rows = copy_baseline(
                    session,
                    model_id=model,
                    from_version=copy_from_version,
                    to_version=version,
                    name=name,
                )
            console.print(
                f"baseline {name!r} of {model} v{version}: {n_rows} rows "
                f"(copied from v{copy_from_version})",
                highlight=False,
            )
            return
        count = DownloadColumn() if file is not None else MofNCompleteColumn()
        columns = [TextColumn("{task.description}"), BarColumn(), count, TimeRemainingColumn()]
        with Progress(*columns, console=console, disable=not console.is_terminal) as bars:
            reporter = _BaselineProgress(bars)
            if file is not None:
                created = builds.create_from_file(
                    engine,
                    model_id=model,
                    version=version,
                    path=file,
                    name=name,
                    sample_size=sample_size,
                    batch_rows=batch_rows,
                    reporter=reporter,
                )
                origin = str(file)
            else:
                assert window is not None
                created, pending = builds.create_from_predictions(
                    engine,
                    model_id=model,
                    version=version,
                    start=window[0],
                    end=window[1],
                    name=name,
                    sample_size=sample_size,
                    batch_rows=batch_rows,
                    reporter=reporter,
                )
                origin = f"stored predictions {start} .. {end}"
                if pending:
                    console.print(f"skipped {pending} predictions still waiting for features")
    except (builds.BaselineError, BaselineCopyError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}; nothing stored", soft_wrap=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    console.print(
        f"baseline {name!r} of {model} v{version}: {created.n_rows} rows, "
        f"{len(created.features)} features, sample of {created.sample_size} (from {origin})",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@baseline_app.command("list")
def baseline_list(
    model: Annotated[str | None, typer.Option()] = None,
    output: Annotated[str, typer.Option(help="table or json")] = "table",
) -> None:
    """List stored baselines: model, version, name, rows, created, features."""
    import json  # noqa: PLC0415

    from rich.table import Table  # noqa: PLC0415
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.detection.baseline import list_baselines  # noqa: PLC0415

    engine = make_engine(_settings())
    try:
        with Session(engine) as session:
            infos = list_baselines(session, model_id=model)
    finally:
        engine.dispose()
    if output == "json":
        rows = [
            {
                "model": b.model_id,
                "version": b.model_version,
                "name": b.name,
                "rows": b.n_rows,
                "created_at": b.created_at.isoformat(),
                "features": list(b.features),
                "format": b.format,
                "source": b.source,
            }
            for b in infos
        ]
        console.print_json(json.dumps(rows))
        return
    table = Table("model", "version", "name", "rows", "created", "features")
    for b in infos:
        shown = ", ".join(b.features)
        table.add_row(
            b.model_id,
            b.model_version,
            b.name,
            str(b.n_rows),
            f"{b.created_at:%Y-%m-%d %H:%M:%S%z}",
            f"{len(b.features)}: {shown if len(shown) <= 60 else shown[:57] + '...'}",
        )
    console.print(table)


@baseline_app.command("delete")
def baseline_delete(
    model: Annotated[str, typer.Option()],
    version: Annotated[str, typer.Option()],
    name: str = "training",
) -> None:
    """Delete one baseline. Monitors of that version then record "no baseline" errors."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.detection.baseline import delete_baseline  # noqa: PLC0415

    engine = make_engine(_settings())
    try:
        with Session(engine) as session, session.begin():
            deleted = delete_baseline(session, model_id=model, model_version=version, name=name)
    finally:
        engine.dispose()
    if not deleted:
        console.print(
            f"[red]error:[/red] --model={model!r} --version={version!r} --name={name!r}: "
            "no such baseline"
        )
        raise typer.Exit(2)
    console.print(f"deleted baseline {name!r} of {model} v{version}", highlight=False)


@topics_app.command("create")
def topics_create(partitions: int = 3, replication_factor: int = -1) -> None:
    """Create the prediction, feature-log and label topics if missing (replication
    factor -1: the broker's default)."""
    from monitor.ingest.topics import ensure_topics  # noqa: PLC0415

    s = _settings()
    created = ensure_topics(
        s.bootstrap_servers,
        [s.predictions_topic, s.features_topic, s.labels_topic],
        partitions=partitions,
        replication=replication_factor,
    )
    console.print(f"created: {created or 'nothing (all exist)'}")


@dead_letters_app.command("list")
def dead_letters_list(  # typer passes options by keyword
    *,
    error_class: Annotated[str | None, typer.Option(help="e.g. unknown_model")] = None,
    model: Annotated[str | None, typer.Option()] = None,
    topic: Annotated[str | None, typer.Option(help="Source topic.")] = None,
    since: Annotated[str | None, typer.Option(help="Received at or after (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Received before (ISO 8601).")] = None,
    replayed: Annotated[bool, typer.Option(help="Include replayed ones.")] = False,
    after: Annotated[int, typer.Option(min=0, help="Only ids above this (the next page).")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    output: Annotated[str, typer.Option(help="table or json")] = "table",
) -> None:
    """List dead letters, oldest first (a page: --after the last id shown for the next)."""
    import json  # noqa: PLC0415

    from rich.table import Table  # noqa: PLC0415
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.ingest.deadletter_pages import DeadLetterFilter, page_dead_letters  # noqa: PLC0415

    where = DeadLetterFilter(
        topic=topic,
        error_class=error_class,
        model_id=model,
        since=_when("--since", since) if since else None,
        until=_when("--until", until) if until else None,
        include_replayed=replayed,
    )
    engine = make_engine(_settings())
    with Session(engine) as session:
        letters = page_dead_letters(session, where, after=after, limit=limit)
    engine.dispose()
    rows = [
        {
            "id": d.id,
            "source": f"{d.topic}[{d.partition}]@{d.offset}",
            "model": d.model_id,
            "error_class": d.error_class,
            "error_message": d.error_message,
            "received_at": d.received_at.isoformat(),
            "bytes": d.raw_size,
            "replayed_at": d.replayed_at.isoformat() if d.replayed_at else None,
        }
        for d in letters
    ]
    if output == "json":
        console.print_json(json.dumps(rows))
        return
    table = Table("id", "source", "model", "error", "message", "received")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["source"]),
            str(r["model"] or ""),
            str(r["error_class"]),
            str(r["error_message"])[:80],
            str(r["received_at"]),
        )
    console.print(table)


@dead_letters_app.command("replay")
def dead_letters_replay(  # typer passes options by keyword
    *,
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="Dead letter id (repeatable).")
    ] = None,
    error_class: Annotated[str | None, typer.Option()] = None,
    model: Annotated[str | None, typer.Option()] = None,
    topic: Annotated[str | None, typer.Option(help="Source topic.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every dead letter not yet replayed.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1)] = 1000,
) -> None:
    """Decode dead letters again (after registering a model, fixing a schema...); store
    those that now pass. Those that still fail stay, with their new reason."""
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.ingest.deadletter_pages import (  # noqa: PLC0415
        MAX_PAGE,
        DeadLetterFilter,
        page_dead_letters,
    )
    from monitor.ingest.deadletters import ReplayOutcome, replay  # noqa: PLC0415

    where = DeadLetterFilter(topic=topic, error_class=error_class, model_id=model)
    if not (ids or not where.empty or all_):
        console.print(
            "[red]error:[/red] choose dead letters: --id N, --error-class X, --model M, "
            "--topic T or --all"
        )
        raise typer.Exit(2)
    settings = _settings()
    engine = make_engine(settings)
    outcomes: list[ReplayOutcome] = []
    try:
        # The ids first (a page at a time), then replayed in chunks under a progress bar.
        chosen: list[int] = sorted(set(ids or []))[:limit]
        with Session(engine) as session:
            while not ids and len(chosen) < limit:
                page = page_dead_letters(
                    session,
                    where,
                    after=chosen[-1] if chosen else 0,
                    limit=min(MAX_PAGE, limit - len(chosen)),
                )
                chosen += [d.id for d in page]
                if len(page) < MAX_PAGE:
                    break
        columns = [TextColumn("replay"), BarColumn(), MofNCompleteColumn()]
        with Progress(*columns, console=console, disable=not console.is_terminal) as bars:
            task = bars.add_task("replay", total=len(chosen))
            for start in range(0, len(chosen), 100):
                chunk = chosen[start : start + 100]
                outcomes += replay(engine, settings, ids=chunk, limit=len(chunk))
                bars.update(task, advance=len(chunk))
    finally:
        engine.dispose()
    for o in outcomes:
        console.print(
            f"{o.dead_letter_id} {o.source}: "
            + ("stored" if o.stored else f"still refused: {o.error}"),
            markup=False,
            highlight=False,
        )
    stored = sum(o.stored for o in outcomes)
    console.print(
        f"replayed {len(outcomes)}: {stored} stored, {len(outcomes) - stored} still refused"
    )


@monitors_app.command("apply")
def monitors_apply(
    file: Annotated[Path, typer.Option("-f", "--file", exists=True, dir_okay=False)],
    dry_run: Annotated[
        bool, typer.Option(help="Check everything and show the changes; write nothing.")
    ] = False,
    prune: Annotated[
        bool, typer.Option(help="Disable the monitors the file does not list.")
    ] = False,
) -> None:
    """Create or update the monitors a monitors.yaml declares (docs/monitors.md): every
    problem is reported first, then all is applied in one transaction, or nothing."""
    from rich.markup import escape  # noqa: PLC0415
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.detection.monitors_apply import apply_monitors  # noqa: PLC0415
    from monitor.detection.monitors_file import (  # noqa: PLC0415
        MonitorsFileError,
        load_monitors_file,
    )

    try:
        parsed = load_monitors_file(file)  # the file's own problems need no database
        engine = make_engine(_settings())
        try:
            with Session(engine) as session:
                report = apply_monitors(session, parsed, prune=prune, dry_run=dry_run)
                if dry_run:
                    session.rollback()
                else:
                    session.commit()
        finally:
            engine.dispose()
    except MonitorsFileError as exc:
        for line in str(exc).splitlines():
            console.print(f"[red]error:[/red] {escape(line)}", soft_wrap=True, highlight=False)
        console.print("nothing applied")
        raise typer.Exit(2) from None
    for c in report.changes:
        if c.action == "kept":
            why = "disabled" if not c.enabled else "still enabled; --prune disables it"
            detail = f"not in {file.name} ({why})"
        elif c.action == "disabled":
            detail = f"not in {file.name}"
        else:
            detail = "; ".join(c.details) or f"model {c.model_id}"
        line = f"{c.action:<9} {c.name}: {detail}"
        console.print(escape(line), soft_wrap=True, highlight=False)
    for note in report.notes:
        console.print(f"note: {escape(note)}", soft_wrap=True, highlight=False)
    counts = ", ".join(
        f"{report.count(a)} {a}"
        for a in ("created", "changed", "unchanged", "disabled", "kept")
        if report.count(a)
    )
    prefix = "dry run, nothing written" if dry_run else "applied"
    console.print(f"{prefix}: {counts or 'no monitors'}", highlight=False)


@monitors_app.command("list")
def monitors_list(
    model: Annotated[str | None, typer.Option(help="Only this model's monitors.")] = None,
    output: Annotated[str, typer.Option(help="table or json")] = "table",
) -> None:
    """List monitors: model, window, signals, reference, enabled, checked until."""
    import json  # noqa: PLC0415

    from rich.table import Table  # noqa: PLC0415
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.detection.monitors_apply import list_monitors  # noqa: PLC0415

    engine = make_engine(_settings())
    with Session(engine) as session:
        rows = list_monitors(session, model_id=model)
    engine.dispose()
    if output == "json":
        console.print_json(
            json.dumps(
                [
                    {
                        "name": r.name,
                        "model": r.model_id,
                        "enabled": r.enabled,
                        "checked_until": r.checked_until.isoformat() if r.checked_until else None,
                        "spec": r.spec,
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table("name", "model", "window", "signals", "reference", "enabled", "checked until")
    for r in rows:
        table.add_row(
            r.name,
            r.model_id,
            r.window,
            r.signals,
            r.reference,
            "yes" if r.enabled else "no",
            r.checked_until.isoformat() if r.checked_until else "-",
        )
    console.print(table)


@app.command("api")
def api(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the HTTP API (FastAPI, uvicorn): POST /v1/events, /healthz, /docs."""
    import uvicorn  # noqa: PLC0415

    from monitor.api.app import create_app  # noqa: PLC0415

    _limit_malloc_arenas()
    served = create_app(_settings())
    # What startup built (modules, the app, its OpenAPI models) lives as long as the
    # process: a full collection then rescans ~1M objects, which bench/api.py saw as a
    # p99 of 227 ms against 102 ms frozen (50 clients, a cached 4 KB page).
    gc.collect()
    gc.freeze()
    uvicorn.run(served, host=host, port=port)


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each busy thread its own malloc arena, and the API runs its routes on
    a pool of up to 40 threads: under load that held ~100 MB more than two arenas do
    (bench/api.py: 341 -> 232 MB peak). mallopt(M_ARENA_MAX) is what MALLOC_ARENA_MAX
    sets; elsewhere than glibc it is left alone."""
    import ctypes  # noqa: PLC0415
    import ctypes.util  # noqa: PLC0415

    name = ctypes.util.find_library("c")
    if name is None:
        return
    libc = ctypes.CDLL(name)
    m_arena_max = -8  # glibc's malloc.h
    if hasattr(libc, "mallopt"):
        libc.mallopt(m_arena_max, arenas)


@app.command("ingest")
def ingest(
    idle_exit: Annotated[
        float | None, typer.Option(help="Exit after this many seconds without a message.")
    ] = None,
    metrics_port: Annotated[int | None, _METRICS_PORT] = None,
) -> None:
    """Consume prediction and label topics into PostgreSQL until SIGTERM."""
    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.ingest.consumer import IngestLoop  # noqa: PLC0415
    from monitor.metrics import serve_metrics  # noqa: PLC0415

    settings = _settings()
    serve_metrics(settings.metrics_port if metrics_port is None else metrics_port)
    engine = make_engine(settings)
    stop = _stop_on_signals()
    loop = IngestLoop(settings, engine)
    # Each event allocates a few dicts and lists that refcounting frees (they hold no
    # cycles); with the default thresholds the cyclic collector still runs every few
    # hundred events and took about a third of the per-event Python time (measured in
    # bench/ingest.py's decode path: 18.8 -> 12.5 us with it off). Collect rarely, and
    # never rescan what startup built.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    stats = loop.run(stop, idle_exit_s=idle_exit)
    engine.dispose()
    console.print(
        f"consumed={stats.consumed} stored={stats.stored} duplicates={stats.duplicates} "
        f"labels={stats.labels} dead_letters={stats.dead_letters} db_failures={stats.db_failures}"
    )


def _print_run(r: Any) -> None:
    console.print(
        f"{r.monitor} {r.signal} {r.model_id} v{r.model_version}"
        + (f" [{r.segment}]" if r.segment else "")
        + f" {r.window_start:%Y-%m-%d %H:%M}: {r.status}"
        + (f" drifted={list(r.drifted_features)}" if r.drifted_features else "")
        + (f": {r.error}" if r.error else ""),
        markup=False,
        highlight=False,
        soft_wrap=True,  # one line per run, whatever the terminal width
    )


def _on_run(r: Any) -> None:
    """A committed run (runner.run_due calls this after the window's commit): counted
    in the metrics, then printed."""
    from monitor.metrics import record_detector_run  # noqa: PLC0415

    record_detector_run(
        signal=r.signal,
        status=r.status,
        seconds=r.seconds,
        alerts=r.n_alert_results,
        oks=r.n_ok_results,
    )
    _print_run(r)


@app.command("detect")
def detect(
    once: Annotated[
        bool, typer.Option(help="One pass over the due windows, then exit (1 on a database error).")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes.")] = 60.0,
    metrics_port: Annotated[int | None, _METRICS_PORT] = None,
) -> None:
    """Run due monitor windows until SIGTERM (or once). Any number of workers can run
    side by side: each window is claimed by one. A failing monitor is stored as an error
    run and the others go on; database outages are retried with back-off."""
    import psycopg  # noqa: PLC0415
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.detection.runner import run_due  # noqa: PLC0415
    from monitor.detection.worker import run_forever  # noqa: PLC0415
    from monitor.metrics import serve_metrics  # noqa: PLC0415

    settings = _settings()
    if not once:  # a one-shot pass is gone before a scrape could reach it
        serve_metrics(settings.metrics_port if metrics_port is None else metrics_port)
    engine = make_engine(settings)
    stop = _stop_on_signals()
    try:
        if once:
            try:
                run_due(engine, on_run=_on_run, stop=stop)
            except (SQLAlchemyError, psycopg.Error) as exc:
                console.print(f"database error: {exc}", markup=False, highlight=False)
                raise typer.Exit(1) from None
        else:
            run_forever(
                engine,
                stop=stop,
                interval_s=interval,
                backoff_initial_s=settings.retry_backoff_initial_s,
                backoff_max_s=settings.retry_backoff_max_s,
                on_run=_on_run,
            )
    finally:
        engine.dispose()


@app.command("backfill")
def backfill(  # typer passes options by keyword
    model: Annotated[str, typer.Option(help="The model whose monitors to run.")],
    from_: Annotated[str, typer.Option("--from", help="Range start (ISO 8601, UTC if no offset).")],
    to: Annotated[str, typer.Option(help="Range end: windows ending after it are not run.")],
    monitor: Annotated[
        str | None, typer.Option(help="Only this monitor (enabled or not); default: all enabled.")
    ] = None,
    replace: Annotated[
        bool, typer.Option(help="Evaluate windows already stored again (their runs are replaced).")
    ] = False,
) -> None:
    """Evaluate every closed window in [--from, --to) of a model's monitors, skipping
    windows already stored. Safe beside running detect workers (same claim)."""
    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.detection.backfill import (  # noqa: PLC0415
        BackfillError,
        BackfillStep,
        plan_backfill,
        run_backfill,
    )

    start, end = _when("--from", from_), _when("--to", to)
    engine = make_engine(_settings())
    stop = _stop_on_signals()
    try:
        try:
            jobs = plan_backfill(engine, model_id=model, start=start, end=end, monitor=monitor)
        except BackfillError as exc:
            console.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(2) from None
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
        ) as progress:
            task = progress.add_task("backfill", total=len(jobs))

            def step(s: BackfillStep) -> None:
                progress.update(
                    task,
                    advance=1,
                    description=f"{s.job.monitor} {s.job.window_start:%Y-%m-%d %H:%M} {s.outcome}",
                )

            report = run_backfill(engine, jobs, replace=replace, on_step=step, stop=stop)
    finally:
        engine.dispose()
    errors = sum(r.status == "error" for r in report.runs)
    console.print(
        f"windows={len(jobs)} run={report.count('run')} replaced={report.count('replaced')} "
        f"already_stored={report.count('stored')} empty={report.count('empty')} "
        f"runs={len(report.runs)} error_runs={errors}"
        + (f" spec_changed={changed}" if (changed := report.count("changed")) else "")
        + (" (stopped early)" if stop.is_set() else ""),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@app.command("alert")
def alert(
    once: Annotated[bool, typer.Option(help="One cycle, then exit.")] = False,
    interval: Annotated[
        float | None, typer.Option(help="Seconds between cycles (default: settings)")
    ] = None,
    metrics_port: Annotated[int | None, _METRICS_PORT] = None,
) -> None:
    """Evaluate rules on new results, flush alert groups, deliver notifications."""
    import httpx  # noqa: PLC0415

    from monitor.alerting.alerter import run_cycle  # noqa: PLC0415
    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.metrics import serve_metrics  # noqa: PLC0415

    settings = _settings()
    if not once:  # one cycle is gone before a scrape could reach it
        serve_metrics(settings.metrics_port if metrics_port is None else metrics_port)
    engine = make_engine(settings)
    stop = _stop_on_signals()
    with httpx.Client(timeout=10) as client:
        while True:
            report = run_cycle(
                engine,
                client,
                external_url=settings.external_url,
                dashboard_url=settings.dashboard_url,
            )
            for a in report.events:
                console.print(f"{a.rule} {a.status} {a.labels}", highlight=False, markup=False)
            for d in report.deliveries:
                console.print(f"notification {d.notification_id} -> {d.receiver}: {d.status}")
            if once or stop.wait(interval or settings.alert_interval_s):
                break
    engine.dispose()


class _RichReporter:
    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def step(self, text: str) -> None:
        self._progress.console.print(f"[bold]>[/bold] {text}")

    def progress(self, task: str, done: int, total: int) -> None:
        if task not in self._tasks:
            self._tasks[task] = self._progress.add_task(task, total=total or None)
        self._progress.update(self._tasks[task], completed=done, total=total or None)


@app.command("demo")
def demo() -> None:
    """Run the whole path on embedded services with two synthetic models (~1 minute)."""
    if "DRIFTWARDEN_LOG_LEVEL" not in os.environ:
        # The timeline is the demo's output; per-window logs would bury it
        # (dead letters are listed in the timeline, so their warnings are not needed here).
        # Before the imports: Alembic logs its plugins as it is imported.
        logging.getLogger().setLevel(logging.ERROR)
        logging.getLogger("kafka").setLevel(logging.ERROR)
    from monitor.demo.runner import run_demo, timeline  # noqa: PLC0415

    # Unwind (stop the services we started) on SIGTERM as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        outcome = run_demo(_RichReporter(progress))
    console.rule("Driftwarden demo: timeline")
    for line in timeline(outcome):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"\nFinished in {time.monotonic() - started:.0f} s; services stopped.")


@app.command("traffic")
def traffic(
    rate: float = typer.Option(20.0, min=0.1, help="Predictions per second per model."),
    drift_after: str = typer.Option(
        "15m", help="When the drifting features shift, after the start (e.g. 15m, 1h)."
    ),
    seed: int = typer.Option(7, help="Random seed of the synthetic traffic."),
) -> None:
    """Live synthetic traffic of the demo's two models to the configured broker until
    SIGTERM, for trying a deployed stack (registers the models, baselines and 5-minute
    monitors first, once)."""
    from datetime import timedelta  # noqa: PLC0415

    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.demo.live import LiveCounts, produce_live, register_live_models  # noqa: PLC0415
    from monitor.durations import duration_seconds  # noqa: PLC0415
    from monitor.ingest.topics import ensure_topics  # noqa: PLC0415

    seconds = duration_seconds(drift_after)
    if seconds is None:
        console.print(
            f"[red]error:[/red] --drift-after={drift_after!r} is not a duration "
            "(a number and s, m, h, d or w: 15m)"
        )
        raise typer.Exit(2)
    after = timedelta(seconds=seconds)
    stop = _stop_on_signals()  # before the set-up: a SIGTERM then stops it cleanly too
    s = _settings()
    engine = make_engine(s)
    added = register_live_models(engine, seed=seed)
    engine.dispose()
    ensure_topics(s.bootstrap_servers, [s.predictions_topic, s.labels_topic, s.features_topic])
    console.print(
        f"registered: {', '.join(added) or 'nothing new'}; producing {rate:g} events/s per "
        f"model to {s.predictions_topic}, drift after {drift_after}"
    )

    def minute(counts: LiveCounts, drifting: bool) -> None:
        console.print(
            f"{counts.predictions:,} predictions, {counts.labels:,} labels, "
            f"{counts.dropped} dropped{' (drifting)' if drifting else ''}"
        )

    if stop.is_set():
        return
    try:
        counts = produce_live(s, stop, rate=rate, drift_after=after, seed=seed, on_minute=minute)
    except RuntimeError as exc:  # the broker never accepted the producer
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    minute(counts, False)


@services_app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def services_run(ctx: typer.Context) -> None:
    """Run a command with PostgreSQL and a Kafka-protocol broker available.

    Uses DRIFTWARDEN_DATABASE_URL / DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS when set; else the
    machine's PostgreSQL on 127.0.0.1:5432 (started if installed but down) or an embedded
    one, and a Tansu broker. Stops only what it started; exits with the command's code.
    """
    from monitor.services.broker import resolve_broker  # noqa: PLC0415
    from monitor.services.postgres import resolve_postgres  # noqa: PLC0415

    if not ctx.args:
        console.print("usage: driftwarden services run -- COMMAND [ARGS...]")
        raise typer.Exit(2)
    env = dict(os.environ)
    with ExitStack() as stack:
        pg = resolve_postgres(env.get("DRIFTWARDEN_DATABASE_URL"))
        stack.callback(pg.stop)
        broker = resolve_broker(env.get("DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS"))
        stack.callback(broker.stop)
        console.print(f"postgresql: {pg.detail} | kafka: {broker.address} ({broker.detail})")
        env["DRIFTWARDEN_DATABASE_URL"] = pg.address
        env["DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS"] = broker.address
        child = subprocess.Popen(ctx.args, env=env)

        # A cancelled CI job sends SIGTERM: pass it on, wait for the child, and only
        # then leave the block, which stops the services we started.
        def forward(signum: int, _frame: object) -> None:
            child.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        code = child.wait()
    raise typer.Exit(code)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
