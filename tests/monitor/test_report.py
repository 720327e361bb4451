"""`driftwarden report` on data seeded the real way (the demo's synthetic models through
Kafka, ingest, hour by hour detection and alert cycles), opened in headless Chromium:
it loads without a console message and every figure is drawn.

Chromium is Debian's ``chromium``; `make test` installs it (`make chromium`). Missing, the
browser tests fail: a report nobody checked in a browser is not tested.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from factories import CLI, cli, settings_env
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitor.alerting.alerter import run_cycle
from monitor.alerting.config_store import apply_config
from monitor.alerting.rules import load_config
from monitor.config import Settings, load_settings
from monitor.db import migrate
from monitor.db.engine import make_engine
from monitor.demo.receiver import RecordingReceiver
from monitor.demo.runner import configure_model
from monitor.demo.send import log_rows
from monitor.demo.traffic import ETA, FRAUD, SyntheticModel
from monitor.detection.monitors_apply import apply_monitors
from monitor.detection.monitors_file import parse_monitors
from monitor.detection.runner import run_due
from monitor.epoch import floor_to
from monitor.ingest.consumer import IngestLoop
from monitor.ingest.topics import ensure_topics
from monitor.report.content import Distribution, DriftCell, ReportData
from monitor.report.data import load_report
from monitor.report.render import render
from monitor.sdk import PredictionLogger

HOUR = timedelta(hours=1)
# The demo's monitors (monitor/demo/monitors.yaml), plus performance for the fraud model:
# accuracy against a fixed floor, so that the report has intervals and label coverage.
MONITORS = """
version: 1
defaults:
  window: 1h
  delay: 0s
  reference: training
  signals: [data_drift]
  policy: {min_effect: 0.1}
monitors:
  - name: fraud-detector-drift
    model: fraud-detector
    signals: [data_drift, performance]
    min_labels: 50
    performance: {metrics: [accuracy], min: {accuracy: 0.9}}
  - name: eta-regressor-drift
    model: eta-regressor
"""
SECRET = "report-test-secret"


@dataclass(frozen=True)
class Seeded:
    start: datetime
    end: datetime
    drift_from: datetime  # first drifted hour
    drift_until: datetime  # first hour back to normal


def _label(model: SyntheticModel, prediction: Any, drift: bool, rng: np.random.Generator) -> Any:
    """Ground truth: the fraud model is wrong on 3% of events, 15% while drifted; the ETA
    model is off by a few minutes."""
    if model.task_type == "regression":
        return round(float(prediction) + float(rng.normal(0, 3)), 1)
    return 1 - prediction if rng.random() < (0.15 if drift else 0.03) else prediction


def seed_demo(
    settings: Settings,
    engine: Engine,
    receiver_url: str,
    *,
    hours: int = 8,
    per_hour: int = 500,
    drift_hours: tuple[int, int] = (3, 6),
    seed: int = 7,
) -> Seeded:
    """The demo's two models and rules, ``hours`` of their traffic (drift injected into
    the fraud model's amount and merchant_category in ``drift_hours``) produced to Kafka
    and ingested, then detection and one alert cycle at the end of each hour, as running
    workers would have done."""
    now = datetime.now(UTC)
    start = floor_to(now, HOUR) - hours * HOUR
    rules = resources.files("monitor.demo").joinpath("rules.yaml").read_text(encoding="utf-8")
    env = {"DEMO_WEBHOOK_URL": receiver_url, "DEMO_WEBHOOK_SECRET": SECRET}
    with Session(engine) as session, session.begin():
        for model in (FRAUD, ETA):
            configure_model(session, model, seed)
        apply_monitors(session, parse_monitors(MONITORS, source="test_report.MONITORS"))
        apply_config(session, load_config(rules, "monitor/demo/rules.yaml", env), now=start)
    ensure_topics(settings.bootstrap_servers, [settings.predictions_topic, settings.labels_topic])

    rng = np.random.default_rng(seed)
    logger = PredictionLogger(
        bootstrap_servers=settings.bootstrap_servers,
        predictions_topic=settings.predictions_topic,
        labels_topic=settings.labels_topic,
    )
    assert logger.wait_connected(timeout=30)
    try:
        for hour in range(hours):
            for model in (FRAUD, ETA):
                drift = bool(model.drifted_features) and drift_hours[0] <= hour < drift_hours[1]
                cols = model.generate(rng, per_hour, drift)
                offsets = np.sort(rng.uniform(0, 3600, size=per_hour))
                log_rows(
                    logger,
                    model,
                    cols,
                    rng,
                    timestamps=[start + timedelta(hours=hour, seconds=float(o)) for o in offsets],
                    id_prefix=f"{model.model_id}-{hour}",
                    label_delay=timedelta(minutes=30),
                    label_of=partial(_label, model, drift=drift, rng=rng),
                )
        logger.flush()
    finally:
        logger.close()
    stats = IngestLoop(settings, engine).run(threading.Event(), idle_exit_s=3)
    assert stats.stored == 2 * hours * per_hour
    with httpx.Client(timeout=10) as client:
        for hour in range(1, hours + 1):
            at = start + hour * HOUR
            run_due(engine, now=at)
            run_cycle(engine, client, now=at)
    return Seeded(
        start, start + hours * HOUR, start + drift_hours[0] * HOUR, start + drift_hours[1] * HOUR
    )


# --- the browser -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    dom: str
    console: list[str]  # the page's console messages and uncaught errors


def open_in_chromium(page: Path, profile: Path) -> Loaded:
    """Load ``page`` in headless Chromium; the DOM after its scripts ran, and what the
    page wrote to its console (Chromium logs every console message, whatever its level,
    as an ``INFO:CONSOLE`` line on stderr; an uncaught error is one too)."""
    chromium = shutil.which("chromium")
    assert chromium is not None, (
        "Debian's chromium is not installed: run `make chromium` (`make test` does), "
        "or `apt-get install chromium`"
    )
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    console = [
        line for line in done.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line
    ]
    return Loaded(done.stdout, console)


def drawn_figures(dom: str) -> dict[str, int]:
    """Per figure div (``id="figure-N"``), the ``main-svg`` elements plotly drew inside it:
    the DOM between one figure's div and the next (plotly.js itself is in the head)."""
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'<div id="(figure-\d+)"', dom)]
    out: dict[str, int] = {}
    for n, (at, name) in enumerate(starts):
        stop = starts[n + 1][0] if n + 1 < len(starts) else len(dom)
        out[name] = len(re.findall(r'<svg[^>]*class="main-svg"', dom[at:stop]))
    return out


def check_self_contained(page: str) -> None:
    """No external script, stylesheet or image: the file opens with no network."""
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=", page)
    assert not re.search(r"<img[^>]+src=['\"]?https?:", page)
    # plotly.js once, in the head.
    assert page.count("Plotly.newPlot") >= 1
    assert len(re.findall(r"plotly\.js v\d+\.\d+\.\d+", page)) >= 1
    assert page.index("</head>") > page.index("plotly.js v")


# --- tests -----------------------------------------------------------------------------------


@pytest.fixture
def seeded(
    create_database: Callable[[], str], settings: Settings
) -> Iterator[tuple[Settings, Engine, Seeded]]:
    """A database of its own with the demo's models and rules, seeded."""
    url = create_database()
    migrate.upgrade(url)
    own = load_settings(**{**settings.model_dump(), "database_url": url})
    engine = make_engine(own)
    try:
        with RecordingReceiver() as receiver:
            seeded = seed_demo(own, engine, receiver.url)
            assert len(receiver.requests) == 2  # firing, then resolved
        yield own, engine, seeded
    finally:
        engine.dispose()


def test_report_of_demo_data_loads_in_chromium_with_every_plot_drawn(
    seeded: tuple[Settings, Engine, Seeded], tmp_path: Path
) -> None:
    settings, engine, s = seeded
    out = tmp_path / "report.html"
    printed = cli(
        settings,
        "report",
        "--model",
        "fraud-detector",
        "--from",
        s.start.isoformat(),
        "--to",
        s.end.isoformat(),
        "--out",
        str(out),
    )
    page = out.read_text(encoding="utf-8")
    check_self_contained(page)

    # What the page was made from: the findings the demo's traffic implies.
    with Session(engine) as session:
        data = load_report(session, model_id="fraud-detector", start=s.start, end=s.end)
    drifted = {c.feature for c in data.drift if c.drifted}
    assert drifted == {"amount", "merchant_category"}
    assert all(s.drift_from < c.window_end <= s.drift_until for c in data.drift if c.drifted)
    assert len({c.window_end for c in data.drift}) == 8
    assert {d.feature for d in data.distributions} == set(FRAUD.kinds)
    amount = next(d for d in data.distributions if d.feature == "amount")
    assert sum(amount.reference) == pytest.approx(1)
    assert sum(amount.current) == pytest.approx(1)
    # Amounts were 1.8x for 3 of 8 hours: more of the range's rows in the top bin.
    assert amount.current[-1] > amount.reference[-1] + 0.025
    accuracy = [p for p in data.performance if p.metric == "accuracy"]
    assert len(accuracy) == 8
    assert all(p.lower is not None and p.lower <= p.value <= p.upper for p in accuracy)  # type: ignore[operator]
    assert {p.window_end for p in accuracy if p.alert} <= {
        s.drift_from + k * HOUR for k in (1, 2, 3)
    }
    assert all(0.2 < c.coverage < 0.3 for c in data.coverage)  # type: ignore[operator]
    assert {(a.labels["feature"], a.state) for a in data.alerts} == {
        ("amount", "resolved"),
        ("merchant_category", "resolved"),
    }
    assert all(a.fired_at == s.drift_from + 2 * HOUR for a in data.alerts)
    assert all(a.resolved_at == s.drift_until + HOUR for a in data.alerts)
    assert [n.status for n in data.notifications] == ["delivered", "delivered"]
    rendered = render(data)
    # heatmap, drift share, distributions, accuracy, coverage, alerts
    assert rendered.figures == 6
    assert f"{rendered.figures} figures" in printed
    assert "No data" not in page
    for text in ("fraud-detector", "amount in 3", "merchant_category in 3", "resolved"):
        assert text in page

    loaded = open_in_chromium(out, tmp_path / "chromium")
    assert loaded.console == []
    drawn = drawn_figures(loaded.dom)
    assert len(drawn) == rendered.figures
    assert all(n >= 1 for n in drawn.values()), drawn
    # The heatmap drew its cells' marks, the distributions their bars.
    assert loaded.dom.count("\u00d7") >= 6
    assert re.search(r'class="point"', loaded.dom)


def _hand_made(start: datetime) -> ReportData:
    """A report's values with names that would break a page that did not escape them."""
    evil = "</script><img src=x onerror=console.error(1)>%{x}"
    return ReportData(
        model_id=evil,
        task_type="binary_classification",
        start=start,
        end=start + 2 * HOUR,
        generated_at=start,
        baseline="training",
        versions=("1",),
        drift=tuple(
            DriftCell(
                "m",
                "1",
                start + k * HOUR,
                start + (k + 1) * HOUR,
                evil,
                "ks",
                0.3,
                1e-9,
                0.3,
                0.01,
                True,
            )
            for k in range(2)
        ),
        distributions=(
            Distribution("1", evil, "categorical", (evil, "b"), (0.5, 0.5), (0.9, 0.1), 10, 10),
        ),
        distribution_span=(start, start + 2 * HOUR),
    )


def test_empty_sections_say_no_data_and_names_are_escaped(tmp_path: Path) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    empty = ReportData(
        model_id="m",
        task_type="regression",
        start=start,
        end=start + HOUR,
        generated_at=start,
        baseline="training",
    )
    page = render(empty)
    assert page.figures == 0
    assert page.html.count("No data:") == 4
    (tmp_path / "empty.html").write_text(page.html, encoding="utf-8")
    loaded = open_in_chromium(tmp_path / "empty.html", tmp_path / "chromium")
    assert loaded.console == []
    assert drawn_figures(loaded.dom) == {}

    odd = render(_hand_made(start))
    assert odd.figures == 2  # the heatmap and the distributions
    check_self_contained(odd.html)
    (tmp_path / "odd.html").write_text(odd.html, encoding="utf-8")
    loaded = open_in_chromium(tmp_path / "odd.html", tmp_path / "chromium")
    assert loaded.console == []  # the name's onerror never ran, no script broke
    assert "<img" not in loaded.dom.split("<body", 1)[1]
    assert all(n >= 1 for n in drawn_figures(loaded.dom).values())


def test_the_console_check_sees_errors(tmp_path: Path) -> None:
    """The browser check can fail: a page that logs an error and throws is caught."""
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<html><body><div id='figure-0'></div><script>console.error('bad');"
        "no_such_function();</script></body></html>",
        encoding="utf-8",
    )
    loaded = open_in_chromium(broken, tmp_path / "chromium")
    assert any('"bad"' in line for line in loaded.console)
    assert any("Uncaught ReferenceError" in line for line in loaded.console)
    assert drawn_figures(loaded.dom) == {"figure-0": 0}


def _run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "report", *args],
        env={**os.environ, **settings_env(settings)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_refuses_an_unknown_model_and_an_empty_range(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    out = str(tmp_path / "r.html")
    done = _run_cli(
        settings, "--model", "nope", "--from", "2026-11-01", "--to", "2026-11-02", "--out", out
    )
    assert done.returncode == 2
    assert "--model='nope' is not a registered model" in done.stdout
    done = _run_cli(
        settings, "--model", "nope", "--from", "2026-11-02", "--to", "2026-11-01", "--out", out
    )
    assert done.returncode == 2
    assert "--from=2026-11-02T00:00:00+00:00 must be before --to=2026-11-01T00:00:00+00:00" in (
        done.stdout
    )
    done = _run_cli(
        settings, "--model", "nope", "--from", "yesterday", "--to", "2026-11-01", "--out", out
    )
    assert done.returncode == 2
    assert "--from='yesterday' is not an ISO 8601 time" in done.stdout
    assert not Path(out).exists()


def test_rendering_needs_no_database_or_network_library() -> None:
    """render and content are pure: a page is drawn from values alone (data.py reads)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, monitor.report.render, monitor.report.content; "
            "print(sorted(m for m in ('sqlalchemy', 'psycopg', 'httpx', 'kafka', 'monitor.db') "
            "if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]"
