"""`driftwarden dashboards`: write the Grafana dashboard files, push them to a Grafana."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli_support import console, sync_generated
from monitor.cli_support import settings as _settings

dashboards_app = typer.Typer(help="Grafana dashboards (docs/dashboards.md).", no_args_is_help=True)


@dashboards_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option(help="Directory of the dashboard JSON files.")] = Path(
        "dashboards"
    ),
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if a file is stale.")
    ] = False,
) -> None:
    """Write dashboards/*.json from the Python definitions (monitor/dashboards)."""
    from monitor.dashboards import files  # noqa: PLC0415 - only this command needs them

    sync_generated(
        files.rendered(), out, check=check, command="dashboards generate", what="dashboard files"
    )


@dashboards_app.command("push")
def push(
    grafana_url: Annotated[
        str, typer.Option(help="Grafana's base URL, e.g. http://localhost:3000.")
    ],
    token: Annotated[
        str,
        typer.Option(envvar="GRAFANA_TOKEN", help="A service account token (Editor or Admin)."),
    ],
    folder: Annotated[str, typer.Option(help="Title of the folder (uid driftwarden).")] = (
        "Driftwarden"
    ),
    datasource_url: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL URL as Grafana reaches it (default: DRIFTWARDEN_DATABASE_URL)."
        ),
    ] = None,
) -> None:
    """Create or update the folder, the PostgreSQL data source and the dashboards in a
    Grafana; a second push writes nothing."""
    from monitor.dashboards.catalog import DASHBOARDS  # noqa: PLC0415
    from monitor.dashboards.push import PushError, connect, datasource_spec  # noqa: PLC0415
    from monitor.dashboards.push import push as push_all  # noqa: PLC0415

    try:
        spec = datasource_spec(datasource_url or _settings().database_url)
        api = connect(grafana_url, token)
        actions = push_all(api, grafana_url, DASHBOARDS, spec, folder_title=folder)
    except PushError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for action in actions:
        console.print(f"{action.outcome:9} {action.kind:10} {action.name}")
    changed = sum(a.outcome != "unchanged" for a in actions)
    console.print(f"{changed} written, {len(actions) - changed} unchanged")
