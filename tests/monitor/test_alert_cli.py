"""`driftwarden rules|silences|alerts ...` as a user runs them: real subprocesses against
the real test database (tests/factories.cli), real local receivers for the URL checks."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from alert_support import HOUR, T0, drift, free_port, write_window
from factories import CLI, cli, settings_env
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.db.models import AlertRule, Receiver
from monitor.demo.receiver import RecordingReceiver

CONFIG = """
version: 1
receivers:
  - {name: hook, type: webhook, url: "URL", secret: s3cret}
route:
  receiver: hook
  group_by: [alertname, model]
groups:
  - name: drift
    rules:
      - alert: FeatureDrift
        matchers: ['signal="data_drift"', 'feature!=""', 'metric!="drift_share"']
        condition: alert == 1
        labels: {severity: warning}
      - alert: DatasetDrift
        matchers: ['signal="data_drift"', 'metric="drift_share"']
        condition: value >= 0.5
        for: 1
"""


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich sizes tables to COLUMNS when not on a terminal: wide enough for a uuid."""
    monkeypatch.setenv("COLUMNS", "250")


@pytest.fixture
def hook() -> Iterator[RecordingReceiver]:
    with RecordingReceiver() as receiver:
        yield receiver


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def failing(settings: Settings, *args: str) -> str:
    """Run ``driftwarden ARGS``, expecting exit code 2; its output (stdout and stderr)."""
    env = {**os.environ, **settings_env(settings)}
    done = subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    return " ".join((done.stdout + done.stderr).split())  # Rich may wrap a long message


def table_rows(out: str) -> list[list[str]]:
    """The cells of each row of a Rich table (box drawing or ASCII borders)."""
    rows = []
    for line in out.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line)]
        if len(cells) > 2 and cells[0] == "" and cells[-1] == "":
            rows.append(cells[1:-1])
    return rows


def receivers(db: Engine) -> list[str]:
    with Session(db) as session:
        return list(session.scalars(select(Receiver.name).order_by(Receiver.name)))


def test_rules_check_accepts_a_valid_file_and_names_path_and_value_of_a_bad_one(
    settings: Settings, tmp_path: Path
) -> None:
    good = write(tmp_path, CONFIG.replace("URL", "https://hooks.example.org/x"))
    out = cli(settings, "rules", "check", "-f", str(good))
    assert f"{good}: 1 receivers, 2 rules, 0 inhibit rules: valid" in out

    bad = write(tmp_path, CONFIG.replace("value >= 0.5", "value >> 0.5"), "bad.yaml")
    message = failing(settings, "rules", "check", "-f", str(bad))
    assert f"{bad}: groups.0.rules.1.condition='value >> 0.5'" in message


def test_rules_apply_refuses_unreachable_and_invalid_urls_unless_told(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    closed = write(tmp_path, CONFIG.replace("URL", f"http://127.0.0.1:{port}/hook"))
    message = failing(settings, "rules", "apply", "-f", str(closed))
    assert f"receivers.0.url=http://127.0.0.1:{port}: connection refused" in message
    assert "nothing applied" in message
    assert receivers(db) == []

    invalid = write(tmp_path, CONFIG.replace("URL", "ftp://hooks.example.org/x"), "ftp.yaml")
    message = failing(settings, "rules", "apply", "-f", str(invalid), "--no-check-urls")
    assert f"{invalid}: receivers.0.url='ftp://hooks.example.org/x'" in message
    assert "http:// or https://" in message
    assert receivers(db) == []

    out = cli(settings, "rules", "apply", "-f", str(closed), "--no-check-urls")
    assert "applied receiver hook" in out
    assert "applied rule FeatureDrift" in out
    assert receivers(db) == ["hook"]


def test_rules_removed_from_the_file_are_reported_disabled(
    db: Engine, settings: Settings, tmp_path: Path, hook: RecordingReceiver
) -> None:
    both = write(tmp_path, CONFIG.replace("URL", hook.url))
    out = cli(settings, "rules", "apply", "-f", str(both))
    assert "disabled" not in out
    one = CONFIG.replace("URL", hook.url)
    one = one[: one.index("      - alert: DatasetDrift")]
    out = cli(settings, "rules", "apply", "-f", str(write(tmp_path, one, "one.yaml")))
    assert "applied rule FeatureDrift" in out
    assert "applied rule DatasetDrift disabled (not in the file)" in out
    with Session(db) as session:
        enabled = {n: e for n, e in session.execute(select(AlertRule.name, AlertRule.enabled))}
    assert enabled == {"FeatureDrift": True, "DatasetDrift": False}


def test_silences_add_list_expire_round_trip(db: Engine, settings: Settings) -> None:
    added = cli(
        settings,
        "silences",
        "add",
        "--matcher",
        'model="credit"',
        "-m",
        'feature=~"inc.*"',
        "--created-by",
        "alice",
        "--comment",
        "retraining",
        "--duration",
        "2h",
    ).strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", added), added
    listed = cli(settings, "silences", "list")
    row = next(line for line in listed.splitlines() if added in line)
    assert "active" in row
    assert 'model="credit"' in row
    assert "alice" in row
    assert "retraining" in row

    assert cli(settings, "silences", "expire", added).strip() == f"expired {added}"
    assert added not in cli(settings, "silences", "list")
    row = next(
        line
        for line in cli(settings, "silences", "list", "--expired").splitlines()
        if added in line
    )
    assert "expired" in row

    message = failing(
        settings, "silences", "add", "-m", "model", "--created-by", "a", "--duration", "1h"
    )
    assert "matchers[0]='model'" in message


def test_alerts_list_shows_firing_alerts_first(
    db: Engine, settings: Settings, tmp_path: Path, hook: RecordingReceiver
) -> None:
    cli(settings, "rules", "apply", "-f", str(write(tmp_path, CONFIG.replace("URL", hook.url))))
    write_window(db, 0, drift({"income": True, "age": False}))
    out = cli(settings, "alert", "--once")
    assert "FeatureDrift firing" in out

    rows = [r for r in table_rows(cli(settings, "alerts", "list")) if r[1].endswith("Drift")]
    # state, alert, labels, value, since, fingerprint. FeatureDrift on income fires
    # (for: 0); DatasetDrift waits a window (for: 1); FeatureDrift on age is inactive.
    assert [(r[0], r[1]) for r in rows] == [
        ("firing", "FeatureDrift"),
        ("pending", "DatasetDrift"),
        ("inactive", "FeatureDrift"),
    ]
    assert "feature=income" in rows[0][2]
    assert rows[0][3] == "0.3"
    assert rows[0][4] == (T0 + HOUR).isoformat()  # fired at the window's end
    assert "feature=age" in rows[2][2]
    firing = table_rows(cli(settings, "alerts", "list", "--state", "firing"))
    assert [(r[0], r[1]) for r in firing[1:]] == [("firing", "FeatureDrift")]


def test_rules_backtest_counts_fired_and_flapped_per_rule(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    # income drifts in windows 0, 2, 5 and 6 (of 0-7); age never. FeatureDrift (for: 0)
    # fires at the ends of windows 0, 2 and 5 and resolves after each; re-firing 1 h
    # after resolving (window 2) is a flap within 2h, 2 h after (window 5) is not.
    # DatasetDrift (share >= 0.5, for: 1) needs two drifting windows in a row: 5 and 6.
    for window in range(8):
        write_window(db, window, drift({"income": window in (0, 2, 5, 6), "age": False}))
    rules = write(tmp_path, CONFIG.replace("URL", "https://hooks.example.org/x"))
    span = ["--from", T0.isoformat(), "--to", (T0 + 8 * HOUR).isoformat(), "--flap-within", "2h"]

    stats = {
        s["rule"]: s
        for s in json.loads(
            cli(settings, "rules", "backtest", "-f", str(rules), *span, "--output", "json")
        )
    }
    feature, dataset = stats["FeatureDrift"], stats["DatasetDrift"]
    assert (feature["samples"], feature["instances"], feature["breaches"]) == (16, 2, 4)
    assert (feature["fired"], feature["resolved"], feature["flapped"]) == (3, 3, 1)
    assert feature["instances_fired"] == 1
    assert [e["fired_at"] for e in feature["episodes"]] == [
        (T0 + h * HOUR).isoformat() for h in (1, 3, 6)
    ]
    assert (dataset["fired"], dataset["resolved"], dataset["flapped"]) == (1, 1, 0)
    assert dataset["episodes"][0]["fired_at"] == (T0 + 7 * HOUR).isoformat()

    table = cli(settings, "rules", "backtest", "-f", str(rules), *span)
    # rule, instances, fired, alerts (instances that fired), flapped, firing time, median
    cells = {r[0]: r[1:5] for r in table_rows(table)}
    assert cells["FeatureDrift"] == ["2", "3", "1", "1"]
    assert cells["DatasetDrift"] == ["1", "1", "1", "0"]
    assert f"FeatureDrift: {(T0 + HOUR).isoformat()} -> {(T0 + 2 * HOUR).isoformat()}" in table
