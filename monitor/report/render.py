"""A report's values (``content.ReportData``) as one self-contained HTML page.

Pure: no database, no network. plotly.js is embedded once, inline, in the page's head, so
the file opens anywhere (a laptop on a plane, a ticket attachment) with nothing to fetch;
each figure is a ``<div class="plotly-graph-div">`` drawn by its own script. A section
with nothing to show says so instead of drawing an empty plot.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]
import plotly.offline  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from monitor.report.content import (
    AlertSpan,
    Coverage,
    Distribution,
    DriftCell,
    DriftShare,
    PerformancePoint,
    ReportData,
)

DRIFT_MARK = "\u00d7"  # the cell text of a window whose verdict was drift
DISTRIBUTION_COLUMNS = 3
# Plotly's defaults, except no logo and no "edit in Chart Studio" link (both go online).
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "showLink": False}
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@dataclass
class Section:
    """A titled part of the report: an introduction, figures, then HTML (tables); when it
    has neither figures nor HTML, ``empty`` says why there is nothing."""

    title: str
    intro: str
    empty: str
    figures: list[Any] = field(default_factory=list)
    extra_html: str = ""


@dataclass(frozen=True)
class RenderedReport:
    html: str
    figures: int  # plot divs in the page: what a browser must draw


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC) if when.tzinfo else when


def _t(when: datetime | None) -> str:
    return "-" if when is None else _utc(when).strftime("%Y-%m-%d %H:%M UTC")


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}g}"


def _iso(when: datetime) -> str:
    """A time for a plot axis: UTC without an offset (plotly.js dates have no zone)."""
    return _utc(when).strftime("%Y-%m-%d %H:%M:%S")


# --- summary -----------------------------------------------------------------------------


def summary(data: ReportData) -> list[str]:
    """The report's findings in a few sentences (plain text, for the header)."""
    lines: list[str] = []
    windows = sorted({(c.monitor, c.version, c.window_end) for c in data.drift})
    if windows:
        drifted: dict[str, list[datetime]] = {}
        for c in data.drift:
            if c.drifted:
                drifted.setdefault(c.feature, []).append(c.window_end)
        features = {c.feature for c in data.drift}
        if drifted:
            parts = [
                f"{f} in {len(ends)} (first in the window ending {_t(min(ends))})"
                for f, ends in sorted(drifted.items(), key=lambda kv: (min(kv[1]), kv[0]))
            ]
            lines.append(
                f"Data drift: {len(drifted)} of {len(features)} features drifted in "
                f"{len(windows)} checked windows: " + "; ".join(parts) + "."
            )
        else:
            lines.append(
                f"Data drift: no drift in {len(features)} features over "
                f"{len(windows)} checked windows."
            )
        dataset = sum(s.dataset_drift for s in data.shares)
        if dataset:
            lines.append(f"Dataset drift (drift share at or above its threshold) in {dataset}.")
    else:
        lines.append("Data drift: no window was checked in this range.")
    measured = [p for p in data.performance if p.value is not None]
    if measured:
        latest: dict[tuple[str, str, str], PerformancePoint] = {}
        for p in measured:
            latest[(p.signal, p.version, p.metric)] = p
        parts = []
        for (signal, version, metric), p in sorted(latest.items()):
            what = f"{metric}" + (" (estimated)" if signal != "performance" else "")
            worse = sum(
                q.alert
                for q in measured
                if (q.signal, q.version, q.metric) == (signal, version, metric)
            )
            parts.append(
                f"{what} v{version} {_num(p.value)} [{_num(p.lower)}, {_num(p.upper)}] in the "
                f"last window, worse than its bound in {worse} window{'s' * (worse != 1)}"
            )
        lines.append("Performance: " + "; ".join(parts) + ".")
    else:
        lines.append("Performance: no measured window in this range.")
    labelled = sum(c.n_labelled for c in data.coverage)
    predictions = sum(c.n_predictions for c in data.coverage)
    if predictions:
        lines.append(
            f"Label coverage: {labelled:,} of {predictions:,} predictions labelled "
            f"({labelled / predictions:.0%})."
        )
    if data.alerts:
        firing = sum(a.state == "firing" for a in data.alerts)
        resolved = sum(a.state == "resolved" for a in data.alerts)
        pending = sum(a.state == "pending" for a in data.alerts)
        fired = sum(a.fired_at is not None for a in data.alerts)
        delivered = sum(n.status == "delivered" for n in data.notifications)
        lines.append(
            f"Alerts: {len(data.alerts)} instance{'s' * (len(data.alerts) != 1)} active in "
            f"the range, {fired} fired ({firing} still firing, {resolved} resolved, "
            f"{pending} pending); {delivered} of {len(data.notifications)} notifications "
            "delivered."
        )
    else:
        lines.append("Alerts: none active in this range.")
    return lines


# --- figures -------------------------------------------------------------------------------


def _groups(cells: Iterable[Any]) -> dict[tuple[str, str], list[Any]]:
    """Rows by (monitor, version), in first-seen order."""
    out: dict[tuple[str, str], list[Any]] = {}
    for c in cells:
        out.setdefault((c.monitor, c.version), []).append(c)
    return out


def drift_heatmap(cells: Sequence[DriftCell], title: str) -> Any:
    """Feature x window, coloured by the test's effect size (the distance the policy's
    ``min_effect`` gate compares), a mark on each drift verdict; the hover gives the
    statistic, p-value, threshold and verdict."""
    features = list(dict.fromkeys(c.feature for c in cells))
    ends = sorted({c.window_end for c in cells})
    col = {e: i for i, e in enumerate(ends)}
    row = {f: i for i, f in enumerate(features)}
    z: list[list[float | None]] = [[None] * len(ends) for _ in features]
    marks: list[list[str]] = [[""] * len(ends) for _ in features]
    hover: list[list[str]] = [[""] * len(ends) for _ in features]
    for c in cells:
        i, j = row[c.feature], col[c.window_end]
        z[i][j] = c.effect_size
        marks[i][j] = DRIFT_MARK if c.drifted else ""
        hover[i][j] = (
            f"{html.escape(c.feature)}, window {_t(c.window_start)} - {_t(c.window_end)}<br>"
            f"{c.method} = {_num(c.statistic)}, p = {_num(c.p_value)} "
            f"(threshold {_num(c.threshold)})<br>effect size {_num(c.effect_size)}<br>"
            f"verdict: {'drift' if c.drifted else 'no drift'}"
        )
    fig = go.Figure(
        go.Heatmap(
            x=[_iso(e) for e in ends],
            y=features,
            z=z,
            text=marks,
            texttemplate="%{text}",
            textfont={"size": 16, "color": "white"},
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            colorscale="YlOrRd",
            zmin=0,
            colorbar={"title": {"text": "effect size"}},
            xgap=1,
            ygap=1,
        )
    )
    fig.update_layout(
        title={"text": title},
        height=max(260, 90 + 32 * len(features)),
        xaxis={"title": {"text": "window end (UTC)"}},
        yaxis={"autorange": "reversed"},
        margin={"l": 150, "r": 30, "t": 50, "b": 50},
    )
    return fig


def drift_share_figure(shares: Sequence[DriftShare]) -> Any:
    """Each monitor's share of drifted features per window, with its threshold."""
    fig = go.Figure()
    for n, ((monitor, version), rows) in enumerate(_groups(shares).items()):
        color = COLORS[n % len(COLORS)]
        name = f"{monitor} v{version}"
        fig.add_trace(
            go.Scatter(
                x=[_iso(s.window_end) for s in rows],
                y=[s.share for s in rows],
                mode="lines+markers",
                name=name,
                line={"color": color},
                marker={
                    "size": [11 if s.dataset_drift else 6 for s in rows],
                    "symbol": ["x" if s.dataset_drift else "circle" for s in rows],
                },
            )
        )
        thresholds = [s.threshold for s in rows]
        if any(t is not None for t in thresholds):
            fig.add_trace(
                go.Scatter(
                    x=[_iso(s.window_end) for s in rows],
                    y=thresholds,
                    mode="lines",
                    name=f"{name} threshold",
                    line={"color": color, "dash": "dash", "width": 1},
                )
            )
    fig.update_layout(
        title={"text": "Share of drifted features per window"},
        height=260,
        yaxis={"title": {"text": "drift share"}, "range": [0, 1.05]},
        xaxis={"title": {"text": "window end (UTC)"}},
        margin={"l": 60, "r": 30, "t": 50, "b": 50},
    )
    return fig


def distribution_figure(version: str, items: Sequence[Distribution]) -> Any:
    """Per feature, the share of rows per baseline bin: reference against the range."""
    cols = min(DISTRIBUTION_COLUMNS, len(items))
    rows = math.ceil(len(items) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[
            f"{d.feature} ({d.kind}; {d.n_current:,} rows vs {d.n_reference:,})" for d in items
        ],
        vertical_spacing=0.5 / (rows + 1),
        horizontal_spacing=0.06,
    )
    for i, d in enumerate(items):
        r, c = i // cols + 1, i % cols + 1
        for name, shares, color in (
            ("baseline", d.reference, "#9e9e9e"),
            ("this range", d.current, "#d62728"),
        ):
            fig.add_trace(
                go.Bar(
                    x=list(d.labels),
                    y=list(shares),
                    name=name,
                    marker={"color": color},
                    showlegend=False,
                    hovertemplate="%{x}: %{y:.1%}<extra>" + name + "</extra>",
                ),
                row=r,
                col=c,
            )
        fig.update_yaxes(tickformat=".0%", row=r, col=c)
        # About 8 tick labels a panel (every bin is still named on hover).
        fig.update_xaxes(
            tickangle=45 if d.kind == "numerical" else 0,
            dtick=max(1, math.ceil(len(d.labels) / 8)),
            tickfont={"size": 10},
            row=r,
            col=c,
        )
    fig.update_layout(
        title={
            "text": f"v{version}: share of rows per bin, <span style='color:#9e9e9e'>"
            "baseline (grey)</span> vs <span style='color:#d62728'>this range (red)</span>"
        },
        barmode="group",
        bargap=0.15,
        height=100 + 250 * rows,
        margin={"l": 50, "r": 20, "t": 80, "b": 40},
    )
    return fig


def performance_figure(points: Sequence[PerformancePoint]) -> Any:
    """One panel per metric: each series' value with its 95% interval as a band, its
    bound dashed, windows worse than the bound marked."""
    metrics = list(dict.fromkeys(p.metric for p in points))
    fig = make_subplots(
        rows=len(metrics), cols=1, shared_xaxes=True, subplot_titles=metrics, vertical_spacing=0.12
    )
    series: dict[tuple[str, str, str], list[PerformancePoint]] = {}
    for p in points:
        series.setdefault((p.metric, p.signal, p.version), []).append(p)
    for n, ((metric, signal, version), rows) in enumerate(series.items()):
        r = metrics.index(metric) + 1
        color = COLORS[n % len(COLORS)]
        name = f"{metric} v{version}" + (" (estimated)" if signal != "performance" else "")
        x = [_iso(p.window_end) for p in rows]
        if any(p.lower is not None and p.upper is not None for p in rows):
            fig.add_trace(
                go.Scatter(
                    x=x + x[::-1],
                    y=[p.upper for p in rows] + [p.lower for p in rows][::-1],
                    fill="toself",
                    fillcolor=color,
                    opacity=0.2,
                    line={"width": 0},
                    hoverinfo="skip",
                    name=f"{name} 95% interval",
                ),
                row=r,
                col=1,
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[p.value for p in rows],
                mode="lines+markers",
                name=name,
                line={"color": color, "dash": "dot" if signal != "performance" else "solid"},
                marker={
                    "color": ["#d62728" if p.alert else color for p in rows],
                    "size": [11 if p.alert else 6 for p in rows],
                },
                customdata=[[_num(p.lower), _num(p.upper), _num(p.threshold)] for p in rows],
                hovertemplate="%{y:.3g} [%{customdata[0]}, %{customdata[1]}], "
                "bound %{customdata[2]}<extra>" + name + "</extra>",
            ),
            row=r,
            col=1,
        )
        if any(p.threshold is not None for p in rows):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[p.threshold for p in rows],
                    mode="lines",
                    name=f"{name} bound",
                    line={"color": color, "dash": "dash", "width": 1},
                ),
                row=r,
                col=1,
            )
    fig.update_layout(
        title={"text": "Performance per window, with its 95% interval and bound"},
        height=100 + 220 * len(metrics),
        margin={"l": 60, "r": 30, "t": 70, "b": 50},
    )
    return fig


def coverage_figure(coverage: Sequence[Coverage]) -> Any:
    fig = go.Figure()
    by_version: dict[str, list[Coverage]] = {}
    for c in coverage:
        by_version.setdefault(c.version, []).append(c)
    for n, (version, rows) in enumerate(by_version.items()):
        fig.add_trace(
            go.Bar(
                x=[_iso(c.window_end) for c in rows],
                y=[c.coverage for c in rows],
                name=f"v{version}",
                marker={"color": COLORS[n % len(COLORS)]},
                customdata=[[c.n_labelled, c.n_predictions] for c in rows],
                hovertemplate="%{y:.1%}: %{customdata[0]} of %{customdata[1]} labelled"
                f"<extra>v{version}</extra>",
            )
        )
    fig.update_layout(
        title={"text": "Label coverage per window (labelled / predictions)"},
        height=250,
        yaxis={"tickformat": ".0%", "rangemode": "tozero"},
        xaxis={"title": {"text": "window end (UTC)"}},
        margin={"l": 60, "r": 30, "t": 50, "b": 50},
    )
    return fig


def alert_names(alerts: Sequence[AlertSpan]) -> list[str]:
    """Each instance's rule and feature (and segment), or, where two would read the same,
    the rule and every label that tells instances apart."""
    short = [
        " ".join(x for x in (a.rule, a.labels.get("feature", ""), a.labels.get("segment", "")) if x)
        for a in alerts
    ]
    return short if len(set(short)) == len(short) else [a.name for a in alerts]


def alerts_figure(alerts: Sequence[AlertSpan], start: datetime, end: datetime) -> Any:
    """One row per alert instance: pending (light) from when it became active, firing
    (red) from when it fired, until it resolved or the end of the range."""
    fig = go.Figure()
    names = alert_names(alerts)
    for a, name in zip(alerts, names, strict=True):
        stop = a.resolved_at or end
        fired = a.fired_at if a.fired_at is not None and a.fired_at < stop else None
        segments = [("pending", a.active_at, fired or stop, "#f2c14e")]
        if fired is not None:
            segments.append(("firing", fired, stop, "#d62728"))
        for state, began, hi, color in segments:
            if began is None:
                continue
            lo = max(began, start)
            if hi <= lo:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[_iso(lo), _iso(hi)],
                    y=[name, name],
                    mode="lines",
                    line={"color": color, "width": 14},
                    name=state,
                    legendgroup=state,
                    showlegend=False,
                    text=[f"{html.escape(name)}: {state} {_t(lo)} - {_t(hi)}"] * 2,
                    hovertemplate="%{text}<extra></extra>",
                )
            )
        if a.resolved_at is not None:
            fig.add_trace(
                go.Scatter(
                    x=[_iso(a.resolved_at)],
                    y=[name],
                    mode="markers",
                    marker={"symbol": "diamond", "size": 11, "color": "#2ca02c"},
                    name="resolved",
                    legendgroup="resolved",
                    showlegend=False,
                    hovertemplate=f"resolved {_t(a.resolved_at)}<extra></extra>",
                )
            )
    for state, color in (("pending", "#f2c14e"), ("firing", "#d62728"), ("resolved", "#2ca02c")):
        fig.add_trace(  # legend entries only
            go.Scatter(x=[None], y=[None], mode="lines", line={"color": color}, name=state)
        )
    fig.update_layout(
        title={"text": "Alert instances over the range"},
        height=max(220, 120 + 36 * len(set(names))),
        xaxis={"range": [_iso(start), _iso(end)], "title": {"text": "time (UTC)"}},
        yaxis={"autorange": "reversed", "categoryorder": "array", "categoryarray": names},
        margin={"l": 30 + 7 * max(len(n) for n in names), "r": 30, "t": 50, "b": 50},
    )
    return fig


# --- tables --------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def alerts_table(alerts: Sequence[AlertSpan]) -> str:
    return _table(
        ("alert", "state", "active", "fired", "resolved", "summary"),
        (
            (a.name, a.state, _t(a.active_at), _t(a.fired_at), _t(a.resolved_at), a.summary)
            for a in alerts
        ),
    )


def notifications_table(data: ReportData) -> str:
    return _table(
        ("created", "receiver", "status", "attempts", "delivered", "alerts", "last error"),
        (
            (
                _t(n.created_at),
                n.receiver,
                n.status,
                str(n.attempts),
                _t(n.delivered_at),
                "; ".join(f"{name} ({status})" for status, name in n.alerts),
                n.last_error or "",
            )
            for n in data.notifications
        ),
    )


# --- page ----------------------------------------------------------------------------------


def sections(data: ReportData) -> list[Section]:
    drift = Section(
        "Feature drift",
        f"data_drift results against the baseline, per feature and window. Colour: the "
        f"test's effect size; {DRIFT_MARK}: a drift verdict. Hover a cell for the statistic, "
        "p-value and threshold.",
        "No data: no data_drift results for windows ending in this range.",
    )
    for (monitor, version), cells in _groups(data.drift).items():
        drift.figures.append(drift_heatmap(cells, f"{monitor} (v{version}): effect size"))
    if data.shares:
        drift.figures.append(drift_share_figure(data.shares))

    span = data.distribution_span
    span_text = f"{_t(span[0])} - {_t(span[1])}" if span else "-"
    dist = Section(
        "Distributions now vs reference",
        f"Each feature's share of rows per bin of the baseline {data.baseline!r} (its "
        "quantile bins for numbers, its top categories otherwise): the baseline's rows "
        f"against the stored hour sketches of {span_text} (all traffic).",
        "No data: no stored sketches in the range's whole hours (or no baseline "
        f"{data.baseline!r} with sketches).",
    )
    by_version: dict[str, list[Distribution]] = {}
    for d in data.distributions:
        by_version.setdefault(d.version, []).append(d)
    for version, items in by_version.items():
        dist.figures.append(distribution_figure(version, items))

    perf = Section(
        "Performance",
        "performance (from labels) and estimated_performance (CBPE, no labels needed) per "
        "window, with the 95% interval and the bound each is judged by; larger red markers: "
        "worse than the bound. Then the label coverage of each performance window.",
        "No data: no performance results for windows ending in this range.",
    )
    measured = [p for p in data.performance if p.value is not None]
    if measured:
        perf.figures.append(performance_figure(measured))
    if data.coverage:
        perf.figures.append(coverage_figure(data.coverage))

    alerts = Section(
        "Alerts",
        "The model's alert instances that were pending or firing during the range "
        "(alert_states), and the notifications that carried them (notification_outbox).",
        "No data: no alert of this model was active in this range.",
    )
    if data.alerts:
        alerts.figures.append(alerts_figure(data.alerts, data.start, data.end))
        alerts.extra_html = alerts_table(data.alerts)
        if data.notifications:
            alerts.extra_html += "<h3>Notifications</h3>" + notifications_table(data)
        else:
            alerts.extra_html += "<p class='empty'>No notification carried them.</p>"
    return [drift, dist, perf, alerts]


STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif;
       margin: 0 auto; max-width: 1240px; padding: 16px 24px; color: #222; }
header { border-bottom: 2px solid #d62728; margin-bottom: 12px; }
h1 { margin: 4px 0; font-size: 26px; }
.meta { color: #555; margin: 4px 0 10px; }
.summary { background: #f6f6f6; border-left: 4px solid #1f77b4; padding: 8px 16px; }
.summary li { margin: 4px 0; }
section { margin: 28px 0; }
h2 { font-size: 20px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.intro { color: #444; }
.empty { color: #777; font-style: italic; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; width: 100%; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
"""


def render(data: ReportData) -> RenderedReport:
    """The whole page: header (model, range, generation time, summary), then the
    sections; plotly.js inline in the head, each figure's script after its div."""
    parts: list[str] = []
    count = 0
    for section in sections(data):
        body: list[str] = []
        for fig in section.figures:
            body.append(
                fig.to_html(
                    full_html=False,
                    include_plotlyjs=False,
                    div_id=f"figure-{count}",
                    config=PLOT_CONFIG,
                )
            )
            count += 1
        body.append(section.extra_html)
        if not section.figures and not section.extra_html:
            body.append(f"<p class='empty'>{html.escape(section.empty)}</p>")
        parts.append(
            f"<section><h2>{html.escape(section.title)}</h2>"
            f"<p class='intro'>{html.escape(section.intro)}</p>{''.join(body)}</section>"
        )
    versions = ", ".join(f"v{v}" for v in data.versions) or "none"
    findings = "".join(f"<li>{html.escape(line)}</li>" for line in summary(data))
    title = f"Driftwarden report: {data.model_id}"
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p class='meta'>"
        f"Model <b>{html.escape(data.model_id)}</b> ({html.escape(data.task_type)}; "
        f"versions {html.escape(versions)}), from <b>{_t(data.start)}</b> to "
        f"<b>{_t(data.end)}</b>; baseline {html.escape(repr(data.baseline))}. "
        f"Generated {_t(data.generated_at)}.</p>"
        f"<ul class='summary'>{findings}</ul></header>{''.join(parts)}</body></html>\n"
    )
    return RenderedReport(page, count)
