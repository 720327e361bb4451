"""`driftwarden report`: a self-contained HTML report of one model over a time range."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli_support import console, settings, when


def report(  # typer passes options by keyword
    model: Annotated[str, typer.Option(help="The model to report on.")],
    from_: Annotated[str, typer.Option("--from", help="Range start (ISO 8601, UTC if no offset).")],
    to: Annotated[str, typer.Option(help="Range end (excluded; windows ending at it are in).")],
    out: Annotated[
        Path, typer.Option(dir_okay=False, writable=True, help="The HTML file to write.")
    ] = Path("report.html"),
    baseline: Annotated[
        str, typer.Option(help="The baseline distributions are compared with.")
    ] = "training",
) -> None:
    """Write one model's feature drift, distributions now vs reference, performance and
    alerts over [--from, --to) as one HTML file that needs no network (docs/report.md)."""
    from sqlalchemy.orm import Session  # noqa: PLC0415 - heavy imports only for this command

    from monitor.db.engine import make_engine  # noqa: PLC0415
    from monitor.report.data import ReportError, load_report  # noqa: PLC0415
    from monitor.report.render import render  # noqa: PLC0415

    start, end = when("--from", from_), when("--to", to)
    engine = make_engine(settings())
    try:
        with Session(engine) as session:
            data = load_report(session, model_id=model, start=start, end=end, baseline=baseline)
    except ReportError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    page = render(data)
    out.write_text(page.html, encoding="utf-8")
    console.print(
        f"wrote {out} ({len(page.html.encode()) / 1e6:.1f} MB, {page.figures} figures)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
