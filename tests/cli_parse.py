"""Parse a `driftwarden ...` command line as the CLI would, without running it: for the
commands written in docker-compose.yml and in the docs."""

from __future__ import annotations

from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

from monitor.cli import app


def leaf_context(args: list[str]) -> Any:
    """Resolve `driftwarden ARGS` to its sub-command and parse its options."""
    # Typer vendors click (typer._click): the real `click` package's classes do not apply.
    cmd: Any = typer.main.get_command(app)
    ctx, name, rest = None, "driftwarden", list(args)
    while isinstance(cmd, TyperGroup):
        ctx = typer.Context(cmd, info_name=name, parent=ctx)
        if not rest:
            raise typer.BadParameter(f"{args}: {name!r} needs a sub-command")
        name, rest = rest[0], rest[1:]
        cmd = cmd.get_command(ctx, name)
        if cmd is None:
            raise typer.BadParameter(f"{args}: no sub-command {name!r}")
    return cmd.make_context(name, rest, parent=ctx)
