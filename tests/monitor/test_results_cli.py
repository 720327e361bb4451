"""`driftwarden status`, `results` and `alerts history`: the API's read routes on the
command line, on the same queries, against real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from alert_support import FEATURE_DRIFT_RULES, HOUR, T0, apply_text, drift, write_window
from sqlalchemy import Engine

from monitor.alerting.alerter import run_cycle
from monitor.demo.receiver import RecordingReceiver

FEATURES = ("age", "income", "tenure")

Invoke = Callable[..., str]


@pytest.fixture
def run(run_cli: Invoke) -> Invoke:
    return run_cli


def _windows(db: Engine, n: int = 4) -> None:
    """credit: income drifts in odd windows."""
    for k in range(n):
        write_window(db, k, drift({f: f == "income" and k % 2 == 1 for f in FEATURES}))


def test_results_prints_rows_filtered(run: Invoke, db: Engine) -> None:
    _windows(db)
    rows = json.loads(run("results", "credit", "--output", "json"))["results"]
    assert len(rows) == 4 * 4
    income = json.loads(run("results", "credit", "--feature", "income", "--output", "json"))
    assert [r["alert"] for r in income["results"]] == [False, True, False, True]
    since = (T0 + 3 * HOUR).isoformat()
    alerting = json.loads(
        run("results", "credit", "--alerting", "--from", since, "--output", "json")
    )
    assert [(r["feature"], r["window_end"][11:16]) for r in alerting["results"]] == [
        ("income", "04:00")
    ]
    table = run("results", "credit", "--feature", "income")
    assert table.count("income") == 4
    assert "more than" in run("results", "credit", "--limit", "3")
    assert "must be before" in run("results", "credit", "--from", since, "--to", since, code=2)
    assert "not an ISO 8601" in run("results", "credit", "--from", "yesterday", code=2)


def test_status_shows_each_signal_s_newest_window(run: Invoke, db: Engine) -> None:
    _windows(db)
    doc = json.loads(run("status", "--output", "json"))
    [model] = doc["models"]
    assert (model["model_id"], model["verdict"]) == ("credit", "alert")
    [signal] = model["signals"]
    assert signal["signal"] == "data_drift"
    assert signal["window_end"][11:16] == "04:00"
    assert (signal["alerting"], signal["results"]) == (1, 4)
    assert "credit" in run("status", "credit")
    assert "no such model" in run("status", "nobody", code=2)


def test_alerts_history_lists_instances_and_their_notifications(run: Invoke, db: Engine) -> None:
    _windows(db, n=2)
    with RecordingReceiver() as hook, httpx.Client(timeout=5) as client:
        apply_text(db, FEATURE_DRIFT_RULES, {"URL": hook.url})
        run_cycle(db, client, now=T0 + 3 * HOUR)
    items = json.loads(run("alerts", "history", "--output", "json"))
    assert {i["labels"]["feature"] for i in items} == set(FEATURES)
    [item] = json.loads(run("alerts", "history", "--state", "firing", "--output", "json"))
    assert (item["state"], item["labels"]["feature"]) == ("firing", "income")
    assert len(item["notifications"]) == 1
    assert json.loads(run("alerts", "history", "--state", "resolved", "--output", "json")) == []
    assert "FeatureDrift" in run("alerts", "history", "--model", "credit")
