"""Baselines from stored predictions (`--from/--to`), and the runner on a file-built one."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from factories import (
    CLI,
    KINDS,
    MODEL,
    cli,
    columns,
    events,
    recent_start,
    register,
    settings_env,
    store,
)
from sqlalchemy import Engine, text

from monitor.config import Settings
from monitor.detection.baseline import build_profile
from monitor.detection.runner import run_due

START = recent_start().replace(hour=0)
HOUR = timedelta(hours=1)


def _profile(db: Engine, name: str) -> tuple[int, dict[str, Any]]:
    with db.connect() as conn:
        row = conn.execute(
            text("SELECT n_rows, profile FROM baselines WHERE name = :name"), {"name": name}
        ).one()
    return int(row.n_rows), row.profile


def test_a_time_range_of_stored_predictions_becomes_a_baseline(
    db: Engine, settings: Settings
) -> None:
    register(db)
    rng = np.random.default_rng(21)
    inside = events(START, 400, rng=rng, prefix="in")
    pending = {**inside[5], "event_id": "waiting"}  # features still to come from a log
    del pending["features"]
    store(db, [*inside, pending])
    store(db, events(START + HOUR, 100, rng=rng, prefix="after", shift=True))
    store(db, events(START - HOUR, 100, rng=rng, prefix="before", shift=True))

    out = " ".join(
        cli(
            settings,
            *("baseline", "create", "--model", MODEL, "--version", "1", "--name", "prod"),
            *("--from", START.isoformat(), "--to", (START + HOUR).isoformat()),
            *("--sample-size", "150", "--batch-rows", "64"),
        ).split()
    )
    assert "400 rows" in out
    assert "skipped 1 predictions still waiting for features" in out

    # The rows in time order, as ingest stored them: the same profile as in memory.
    data = {name: [e["features"][name] for e in inside] for name in KINDS}
    expected, _ = build_profile(data, KINDS, max_sample=150)
    n_rows, profile = _profile(db, "prod")
    assert n_rows == 400
    assert {k: v for k, v in profile.items() if k != "source"} == expected
    assert profile["source"] == {
        "type": "predictions",
        "from": START.isoformat(),
        "to": (START + HOUR).isoformat(),
        "skipped_pending": 1,
    }


def test_an_empty_time_range_stores_nothing(db: Engine, settings: Settings) -> None:
    register(db)
    done = subprocess.run(
        [
            CLI,
            *("baseline", "create", "--model", MODEL, "--version", "1", "--name", "prod"),
            *("--from", "2020-01-01", "--to", "2020-01-02"),
        ],
        env={**os.environ, **settings_env(settings)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "no stored predictions of credit v1" in " ".join(done.stdout.split())
    with db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM baselines WHERE name = 'prod'")) == 0


def test_the_runner_detects_drift_against_a_file_built_baseline(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    register(db)
    training = columns(np.random.default_rng(5), 4000)
    path = tmp_path / "train.csv"
    path.write_text(
        "income,age,region\n"
        + "".join(
            f"{i},{a},{r}\n"
            for i, a, r in zip(training["income"], training["age"], training["region"], strict=True)
        )
    )
    cli(settings, "baseline", "create", "--model", MODEL, "--version", "1", "--file", str(path))
    rng = np.random.default_rng(6)
    store(db, events(START, 400, rng=rng, prefix="w0"))
    store(db, events(START + HOUR, 400, rng=rng, prefix="w1", shift=True))

    runs = run_due(db, now=START + 3 * HOUR)
    assert [(r.window_start, r.status) for r in runs] == [(START, "ok"), (START + HOUR, "ok")]
    assert runs[0].drifted_features == ()
    assert set(runs[1].drifted_features) == {"income", "region"}
    with db.connect() as conn:
        assert set(conn.scalars(text("SELECT n_reference FROM detector_runs"))) == {4000}
