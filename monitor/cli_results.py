"""`driftwarden status`, `driftwarden results`, `driftwarden alerts history`: the CLI side
of the API's read routes (GET /v1/status, /v1/results, /v1/alerts/history), on the same
queries (monitor/api/results_queries.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from monitor.cli_resources import Output, _check_output, _engine, _fail
from monitor.cli_support import console, when

Since = Annotated[str | None, typer.Option("--from", help="Window end at or after (ISO 8601).")]
Until = Annotated[str | None, typer.Option("--to", help="Window end before (ISO 8601).")]


def _range(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    lo = when("--from", start) if start else None
    hi = when("--to", end) if end else None
    if lo is not None and hi is not None and lo >= hi:
        raise _fail(f"--from={start}: must be before --to={end}")
    return lo, hi


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def status(
    model: Annotated[str | None, typer.Argument(help="One model (default: every model).")] = None,
    output: Output = "table",
) -> None:
    """Each model's newest window of each signal its monitors compute, its verdict and
    its firing alerts (GET /v1/status)."""
    from monitor.api.results_queries import model_ids, model_verdict, signal_statuses  # noqa: PLC0415

    _check_output(output)
    engine = _engine()
    try:
        with engine.connect() as conn:
            models = model_ids(conn, model)
            if model is not None and not models:
                raise _fail(f"model_id={model!r}: no such model")
            by_model, firing = signal_statuses(conn, model)
    finally:
        engine.dispose()
    verdicts = {m: model_verdict(by_model.get(m, [])) for m in models}
    if output == "json":
        doc = [
            {
                "model_id": m,
                "verdict": verdicts[m],
                "firing_alerts": firing.get(m, 0),
                "signals": [
                    {
                        **vars(s),
                        "window_start": s.window_start.isoformat(),
                        "window_end": s.window_end.isoformat(),
                    }
                    for s in by_model.get(m, [])
                ],
            }
            for m in models
        ]
        console.print_json(json.dumps({"models": doc}))
        return
    table = Table("model", "verdict", "signal", "version", "window end", "alerting rows", "firing")
    for m in models:
        first = True
        for s in by_model.get(m, []):
            alerting = f"{s.alerting}/{s.results}"
            end = s.window_end.isoformat()
            shown = (m, verdicts[m]) if first else ("", "")
            table.add_row(*shown, s.signal, s.model_version, end, alerting, str(s.firing_alerts))
            first = False
        if first:  # no window yet
            table.add_row(m, verdicts[m], "", "", "", "", str(firing.get(m, 0)))
    console.print(table)


def results(
    model: Annotated[str, typer.Argument(help="The model's id.")],
    *,
    signal: Annotated[str | None, typer.Option(help="data_drift, performance, ...")] = None,
    feature: Annotated[str | None, typer.Option(help="'' for run-level rows.")] = None,
    metric: Annotated[str | None, typer.Option()] = None,
    version: Annotated[str | None, typer.Option(help="A model version.")] = None,
    segment: Annotated[str, typer.Option(help="'' (default) = all traffic.")] = "",
    start: Since = None,
    end: Until = None,
    alerting: Annotated[bool, typer.Option(help="Only rows that breached.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
    output: Output = "table",
) -> None:
    """A model's results in window-end order, filtered (GET /v1/results, first page)."""
    from monitor.api.results_queries import ResultsFilter, results_page  # noqa: PLC0415

    _check_output(output)
    lo, hi = _range(start, end)
    selected = ResultsFilter(
        model=model,
        segment=segment,
        version=version,
        signal=signal,
        feature=feature,
        metric=metric,
        start=lo,
        end=hi,
        alert=True if alerting else None,
    )
    engine = _engine()
    try:
        with engine.connect() as conn:
            body = results_page(conn, selected, limit=limit, after=None)
    finally:
        engine.dispose()
    page: dict[str, Any] = json.loads(body)
    if output == "json":
        console.print_json(body.decode())
        return
    table = Table("window end", "version", "signal", "feature", "metric", "value", "threshold")
    table.add_column("alert")
    for r in page["results"]:
        table.add_row(
            r["window_end"],
            r["model_version"],
            r["signal"],
            r["feature"],
            r["metric"],
            _number(r["value"]),
            _number(r["threshold"]),
            "yes" if r["alert"] else "",
        )
    console.print(table)
    if page["next_cursor"] is not None:
        console.print(f"more than {limit} rows: narrow --from/--to or raise --limit")


def alerts_history(
    *,
    model: Annotated[str | None, typer.Option()] = None,
    signal: Annotated[str | None, typer.Option()] = None,
    state: Annotated[str | None, typer.Option(help="pending, firing, resolved, inactive")] = None,
    start: Since = None,
    end: Until = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    output: Output = "table",
) -> None:
    """Alert instances over time, most recently updated first, with the notifications
    that carried them (GET /v1/alerts/history)."""
    from monitor.api.results_queries import HistoryFilter, alert_history  # noqa: PLC0415

    _check_output(output)
    lo, hi = _range(start, end)
    selected = HistoryFilter(model=model, signal=signal, state=state, start=lo, end=hi)
    engine = _engine()
    try:
        with engine.connect() as conn:
            items, _ = alert_history(conn, selected, limit=limit, after=None)
    finally:
        engine.dispose()
    if output == "json":
        console.print_json(json.dumps(items, default=str))
        return
    table = Table("state", "alert", "labels", "active at", "resolved at", "notifications")
    for item in items:
        labels = item["labels"]
        shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
        table.add_row(
            item["state"],
            str(labels.get("alertname", "")),
            shown,
            item["active_at"].isoformat() if item["active_at"] else "",
            item["resolved_at"].isoformat() if item["resolved_at"] else "",
            str(len(item["notifications"])),
        )
    console.print(table)
