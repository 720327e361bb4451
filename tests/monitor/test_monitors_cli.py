"""`driftwarden monitors apply / list` against the real database: checks against the
registered models, all-or-nothing, idempotent, --dry-run, --prune."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from factories import CLI, LEGACY_SPEC, MODEL, cli, register, settings_env
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.detection.monitors_apply import apply_monitors
from monitor.detection.monitors_file import MonitorsFileError, parse_monitors

ROOT = Path(__file__).parents[2]

FILE = """
version: 1
families:
  credit:
    methods: {income: wasserstein}
    policy: {min_effect: 0.1}
monitors:
  - name: credit-hourly
    model: credit
    family: credit
  - name: credit-daily
    model: credit
    window: 1d
    features: {income: numerical, region: categorical}
    reference: previous_window
"""


def write(tmp_path: Path, body: str, name: str = "monitors.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        env={**os.environ, **settings_env(settings), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def rows(db: Engine) -> list[tuple[Any, ...]]:
    """Every monitor row, with xmin: it changes on any UPDATE, even to the same values."""
    with db.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT name, model_id, spec, enabled, checked_until, xmin::text "
                    "FROM monitors ORDER BY name"
                )
            )
        ]


def test_apply_creates_and_applying_again_writes_nothing(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    register(db)  # the credit model, its training baseline and the monitor credit-drift
    path = write(tmp_path, FILE)
    out = cli(settings, "monitors", "apply", "-f", str(path))
    assert out.splitlines() == [
        "created   credit-hourly: model credit",
        "created   credit-daily: model credit",
        "kept      credit-drift: not in monitors.yaml (still enabled; --prune disables it)",
        "applied: 2 created, 1 kept",
    ]
    before = rows(db)
    spec = {r[0]: r[2] for r in before}
    assert spec["credit-hourly"]["methods"] == {"income": "wasserstein"}
    assert spec["credit-hourly"]["policy"]["min_effect"] == 0.1
    assert spec["credit-daily"]["features"] == ["income", "region"]
    assert spec["credit-daily"]["reference"] == "previous_window"

    again = cli(settings, "monitors", "apply", "-f", str(path))
    assert again.splitlines() == [
        "unchanged credit-hourly: model credit",
        "unchanged credit-daily: model credit",
        "kept      credit-drift: not in monitors.yaml (still enabled; --prune disables it)",
        "applied: 2 unchanged, 1 kept",
    ]
    assert rows(db) == before  # xmin included: not even rewritten with the same values

    listed = json.loads(cli(settings, "monitors", "list", "--output", "json"))
    assert [(m["name"], m["model"], m["enabled"]) for m in listed] == [
        ("credit-daily", MODEL, True),
        ("credit-drift", MODEL, True),
        ("credit-hourly", MODEL, True),
    ]
    table = run(settings, "monitors", "list", "--model", MODEL).stdout  # 200 columns wide
    line = next(x for x in table.splitlines() if "credit-daily" in x)
    cells = [c.strip() for c in line.split("│")[1:-1]]
    assert cells == ["credit-daily", "credit", "1d", "data_drift", "previous_window", "yes", "-"]


def test_dry_run_reports_the_changes_and_writes_nothing(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    register(db)
    before = rows(db)
    out = cli(settings, "monitors", "apply", "-f", str(write(tmp_path, FILE)), "--dry-run")
    assert out.splitlines()[-1] == "dry run, nothing written: 2 created, 1 kept"
    assert "created   credit-hourly: model credit" in out
    assert rows(db) == before
    out = cli(
        settings, "monitors", "apply", "-f", str(write(tmp_path, FILE)), "--prune", "--dry-run"
    )
    assert "disabled  credit-drift: not in monitors.yaml" in out.splitlines()
    assert rows(db) == before


def test_a_change_keeps_checked_until_and_prune_disables_what_the_file_left_out(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    register(db)
    cli(settings, "monitors", "apply", "-f", str(write(tmp_path, FILE)))
    checked = datetime(2026, 1, 1, 5, tzinfo=UTC)
    with db.begin() as conn:
        conn.execute(text("UPDATE monitors SET checked_until = :t"), {"t": checked})
    changed = FILE.replace("    family: credit\n", "    family: credit\n    window: 2h\n")
    changed = changed.replace("{min_effect: 0.1}", "{min_effect: 0.2, correction: bh}")
    out = cli(settings, "monitors", "apply", "-f", str(write(tmp_path, changed)), "--prune")
    assert out.splitlines() == [
        "changed   credit-hourly: policy.correction: bonferroni -> bh; "
        "policy.min_effect: 0.1 -> 0.2; window: 1h -> 2h",
        "unchanged credit-daily: model credit",
        "disabled  credit-drift: not in monitors.yaml",
        "applied: 1 changed, 1 unchanged, 1 disabled",
    ]
    state = {r[0]: (r[2]["window"], r[3], r[4]) for r in rows(db)}
    assert state == {
        "credit-daily": ("1d", True, checked),
        "credit-drift": ("1h", False, checked),  # kept, with its history; not deleted
        "credit-hourly": ("2h", True, checked),  # new settings from the next window on
    }
    # Listed again (with the spec register() gave it), it is enabled again.
    back = changed + "  - {name: credit-drift, model: credit, min_rows: 50}\n"
    out = cli(settings, "monitors", "apply", "-f", str(write(tmp_path, back)), "--prune")
    assert "changed   credit-drift: enabled: false -> true" in out.splitlines()
    assert out.splitlines()[-1] == "applied: 1 changed, 2 unchanged"


def test_a_spec_stored_before_the_new_keys_equals_the_same_spec_from_a_file(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    register(db)
    with db.begin() as conn:
        conn.execute(text("UPDATE monitors SET spec = :s"), {"s": json.dumps(LEGACY_SPEC)})
    before = rows(db)
    path = write(
        tmp_path, "version: 1\nmonitors: [{name: credit-drift, model: credit, min_rows: 50}]\n"
    )
    out = cli(settings, "monitors", "apply", "-f", str(path))
    assert out.splitlines() == ["unchanged credit-drift: model credit", "applied: 1 unchanged"]
    assert rows(db) == before


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (  # the file's own problem: found before the database is asked anything
            "version: 1\nmonitors:\n  - {name: a, model: credit, window: '-1h'}\n",
            ["monitors[0].window: '-1h' is not a duration like 15m, 1h or 1d"],
        ),
        (  # a good monitor is not written when another one is refused
            "version: 1\nmonitors:\n  - {name: a, model: credit}\n  - {name: b, model: fraud}\n",
            ["monitors[1].model: 'fraud' is not a registered model (registered: credit)"],
        ),
    ],
)
def test_an_invalid_file_exits_2_naming_the_problem_and_writes_nothing(
    db: Engine, settings: Settings, tmp_path: Path, body: str, errors: list[str]
) -> None:
    register(db)
    before = rows(db)
    path = write(tmp_path, body)
    done = run(settings, "monitors", "apply", "-f", str(path), "--prune")
    assert done.returncode == 2, done.stderr
    assert done.stdout.splitlines() == [
        *(f"error: {path}: {e}" for e in errors),
        "nothing applied",
    ]
    assert rows(db) == before


def check(db: Engine, body: str) -> list[str]:
    """The problems apply_monitors finds in ``body`` against the database."""
    with Session(db) as session, pytest.raises(MonitorsFileError) as err:
        apply_monitors(session, parse_monitors(textwrap.dedent(body)))
    return list(err.value.problems)


SCHEMA = "credit v1 (the latest version; features: income, age, region)"


def test_features_and_methods_are_checked_against_the_latest_schema(db: Engine) -> None:
    register(db)
    assert check(
        db,
        """
        version: 1
        families:
          f: {features: [income, incme], methods: {agee: ks, region: ks}}
        monitors:
          - {name: a, model: credit, family: f}
          - name: b
            model: credit
            features: {income: categorical, region: categorical}
            methods: {age: ks}
          - {name: c, model: credit, methods: {region: psi, income: ks}}
        """,
    ) == [
        "families.f.features[1] (inherited by monitors[0] 'a'): 'incme' is not a feature "
        f"of {SCHEMA}",
        "families.f.methods.agee (inherited by monitors[0] 'a'): 'agee' is not a feature "
        f"of {SCHEMA}",
        "families.f.methods.region (inherited by monitors[0] 'a'): 'ks' does not test "
        "categorical features like 'region' (it tests: numerical)",
        "monitors[1].features.income: 'categorical', but credit v1 declares 'income' numerical",
        "monitors[1].methods.age: 'age' is not a monitored feature of credit v1 "
        "(monitored: income, region)",
    ]


def test_a_monitor_cannot_move_to_another_model(db: Engine) -> None:
    register(db)
    with Session(db) as session, session.begin():
        session.execute(
            text("INSERT INTO models (model_id, task_type) VALUES ('other', 'regression')")
        )
        session.execute(
            text("INSERT INTO model_versions (model_id, version) VALUES ('other', '1')")
        )
    assert check(db, "version: 1\nmonitors: [{name: credit-drift, model: other}]\n") == [
        "monitors[0].model: 'other', but monitor 'credit-drift' watches 'credit'; a monitor "
        "cannot move to another model (its runs are that model's): give it a new name, and "
        "--prune disables the old one"
    ]


def test_a_missing_baseline_is_a_note_not_an_error(db: Engine) -> None:
    register(db)
    body = "version: 1\nmonitors: [{name: a, model: credit, reference: {baseline: golden}}]\n"
    with Session(db) as session, session.begin():
        report = apply_monitors(session, parse_monitors(body))
    assert [c.action for c in report.changes] == ["created", "kept"]
    assert report.notes == (
        "monitors[0] 'a': credit v1 has no baseline named 'golden' yet; its windows are "
        "recorded as errors until one is created (driftwarden baseline create --model "
        "credit --version 1 --name golden ...)",
    )


def test_the_root_example_applies_to_the_quickstart_model(db: Engine, settings: Settings) -> None:
    cli(settings, "apply", "-f", str(ROOT / "examples" / "quickstart.yaml"))
    out = cli(settings, "monitors", "apply", "-f", str(ROOT / "monitors.yaml"))
    assert out.splitlines() == [
        "created   churn-hourly: model churn",
        "created   churn-day-over-day: model churn",
        "kept      churn-drift: not in monitors.yaml (still enabled; --prune disables it)",
        "note: monitors[0] 'churn-hourly': churn v1 has no baseline named 'training' yet; its "
        "windows are recorded as errors until one is created (driftwarden baseline create "
        "--model churn --version 1 --name training ...)",
        "applied: 2 created, 1 kept",
    ]
