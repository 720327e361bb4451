"""What the `driftwarden` sub-command modules share: the console, settings, signals."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from monitor.config import ConfigError, Settings, load_settings

console = Console()


def settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def stop_on_signals() -> threading.Event:
    """SIGTERM/SIGINT set the event; loops finish their current batch and exit."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        logging.getLogger("driftwarden").info("signal %d: stopping after this batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def when(option: str, value: str) -> Any:
    """An ISO 8601 time (UTC when it has no offset); exit 2 naming the option otherwise."""
    from datetime import UTC, datetime  # noqa: PLC0415

    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        console.print(
            f"[red]error:[/red] {option}={value!r} is not an ISO 8601 time "
            "(e.g. 2026-11-01 or 2026-11-01T00:00:00+00:00)"
        )
        raise typer.Exit(2) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def sync_generated(
    files: Mapping[str, str], out: Path, *, check: bool, command: str, what: str
) -> None:
    """Write generated ``files`` (name -> text) into ``out``, each only when it differs;
    with ``check``, write nothing and exit 1 naming the stale ones (CI's guard that the
    committed files are the generator's)."""
    stale = [
        name
        for name, text in files.items()
        if not (out / name).exists() or (out / name).read_text(encoding="utf-8") != text
    ]
    if check:
        for name in stale:
            console.print(f"stale: {out / name}")
        if stale:
            console.print(f"run `driftwarden {command}` and commit the {what}")
            raise typer.Exit(1)
        console.print(f"{out}: every {what.removesuffix('s')} is current")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if name in stale:
            (out / name).write_text(text, encoding="utf-8")
        console.print(f"{'written' if name in stale else 'unchanged'}: {out / name}")
