"""What the `driftwarden` sub-command modules share: the console, settings, signals."""

from __future__ import annotations

import logging
import signal
import threading
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
