"""`driftwarden baseline create` from a CSV of training data."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from factories import CLI, MODEL, cli, register, settings_env
from sqlalchemy import Engine, text

from monitor.config import Settings


def test_a_csv_becomes_the_versions_baseline_and_a_bad_value_is_named(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    register(db)  # creates a baseline too; this replaces it
    good = tmp_path / "train.csv"
    good.write_text("income,age,region,unused\n3.5,40,north,x\n,31,south,y\n2.25,52,,z\n")
    out = cli(
        settings, "baseline", "create", "--model", MODEL, "--version", "1", "--file", str(good)
    )
    assert "3 rows" in out
    with db.connect() as conn:
        n_rows, profile = conn.execute(text("SELECT n_rows, profile FROM baselines")).one()
    assert n_rows == 3
    assert sorted(profile["features"]["income"]["sample"], key=str) == [2.25, 3.5, None]
    assert profile["features"]["region"]["kind"] == "categorical"

    bad = tmp_path / "bad.csv"
    bad.write_text("income,age,region\n3.5,40,north\nlots,41,south\n")
    done = subprocess.run(
        [CLI, "baseline", "create", "--model", MODEL, "--version", "1", "--file", str(bad)],
        env={**os.environ, **settings_env(settings)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"{bad}:3: income='lots' is not a number" in " ".join(done.stdout.split())
    with db.connect() as conn:
        assert conn.scalar(text("SELECT n_rows FROM baselines")) == 3  # unchanged
