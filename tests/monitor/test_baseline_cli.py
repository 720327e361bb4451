"""`driftwarden baseline create / list / delete` against the real database."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from factories import CLI, KINDS, MODEL, cli, columns, register, settings_env
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.detection.baseline import build_profile
from monitor.resources import FeatureSchema, ModelDoc, register_model


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        env={**os.environ, **settings_env(settings)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _words(text: str) -> str:
    return " ".join(text.split())


def _baselines(db: Engine) -> dict[tuple[str, str], tuple[int, dict[str, Any]]]:
    with db.connect() as conn:
        rows = conn.execute(text("SELECT model_version, name, n_rows, profile FROM baselines"))
        return {(v, n): (rows_, profile) for v, n, rows_, profile in rows}


def _register_version(db: Engine, version: str, features: dict[str, str]) -> None:
    with Session(db) as session, session.begin():
        register_model(
            session,
            ModelDoc(
                model_id=MODEL,
                task_type="binary_classification",
                version=version,
                features=[FeatureSchema(name=n, kind=k) for n, k in features.items()],  # type: ignore[arg-type]
            ),
        )


def test_a_csv_becomes_the_versions_baseline_and_a_bad_value_is_named(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    register(db)  # creates a baseline too; this replaces it
    good = tmp_path / "train.csv"
    good.write_text("income,age,region,unused\n3.5,40,north,x\n,31,south,y\n2.25,52,,z\n")
    out = _words(
        cli(settings, "baseline", "create", "--model", MODEL, "--version", "1", "--file", str(good))
    )
    assert "ignored columns not in the schema: unused" in out
    assert "3 rows, 3 features, sample of 3" in out
    (n_rows, profile), *_ = _baselines(db).values()
    assert n_rows == 3
    assert profile["format"] == 2
    assert sorted(profile["features"]["income"]["sample"], key=str) == [2.25, 3.5, None]
    assert profile["features"]["region"]["kind"] == "categorical"
    assert profile["source"] == {"type": "file", "path": str(good), "format": "csv"}

    bad = tmp_path / "bad.csv"
    bad.write_text("income,age,region\n3.5,40,north\nlots,41,south\n")
    done = _run(
        settings, "baseline", "create", "--model", MODEL, "--version", "1", "--file", str(bad)
    )
    assert done.returncode == 2
    assert f"{bad}:3: income='lots' is not a number" in _words(done.stdout)
    assert "nothing stored" in done.stdout
    assert [n for n, _ in _baselines(db).values()] == [3]  # unchanged


def test_a_parquet_file_gives_the_profile_of_its_rows_and_missing_features_are_named(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    register(db)
    data = columns(np.random.default_rng(3), 5000)
    path = tmp_path / "train.parquet"
    pq.write_table(pa.table(data), path, row_group_size=1000)
    cli(
        settings,
        *("baseline", "create", "--model", MODEL, "--version", "1", "--file", str(path)),
        *("--sample-size", "800", "--batch-rows", "777"),
    )
    (n_rows, profile), *_ = _baselines(db).values()
    expected, _ = build_profile(data, KINDS, max_sample=800)
    assert n_rows == 5000
    assert {k: v for k, v in profile.items() if k != "source"} == expected

    partial = tmp_path / "partial.csv"
    partial.write_text("income,zip\n1.5,75001\n")
    done = _run(
        settings, "baseline", "create", "--model", MODEL, "--version", "1", "--file", str(partial)
    )
    assert done.returncode == 2
    assert "features of the schema missing from the file: ['age', 'region']" in _words(done.stdout)
    assert [n for n, _ in _baselines(db).values()] == [5000]  # unchanged


def test_one_source_must_be_given(db: Engine, settings: Settings, tmp_path: Path) -> None:
    register(db)
    base = ("baseline", "create", "--model", MODEL, "--version", "1")
    for extra in ((), ("--from", "2026-01-01"), ("--file", str(tmp_path), "--to", "x")):
        done = _run(settings, *base, *extra)
        assert done.returncode == 2, extra
    done = _run(settings, *base, "--from", "yesterday", "--to", "2026-01-01")
    assert done.returncode == 2
    assert "--from='yesterday' is not an ISO 8601 time" in _words(done.stdout)
    done = _run(
        settings,
        "baseline",
        "create",
        "--model",
        MODEL,
        "--version",
        "9",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-02",
    )
    assert done.returncode == 2
    assert "--model='credit' --version='9': not registered" in _words(done.stdout)


def test_baselines_are_listed_and_deleted(db: Engine, settings: Settings, tmp_path: Path) -> None:
    register(db)  # baseline "training" of v1
    path = tmp_path / "train.csv"
    path.write_text("income,age,region\n1,20,north\n2,30,south\n")
    cli(
        settings,
        *("baseline", "create", "--model", MODEL, "--version", "1", "--file", str(path)),
        *("--name", "holdout"),
    )
    listed = json.loads(cli(settings, "baseline", "list", "--model", MODEL, "--output", "json"))
    assert [(b["version"], b["name"], b["rows"]) for b in listed] == [
        ("1", "holdout", 2),
        ("1", "training", 3000),
    ]
    assert listed[0]["features"] == ["income", "age", "region"]
    assert listed[0]["format"] == 2
    assert listed[0]["source"]["type"] == "file"
    table = _words(cli(settings, "baseline", "list"))
    assert "holdout" in table
    assert "training" in table
    assert (
        json.loads(cli(settings, "baseline", "list", "--model", "other", "--output", "json")) == []
    )

    out = cli(
        settings, "baseline", "delete", "--model", MODEL, "--version", "1", "--name", "holdout"
    )
    assert "deleted baseline 'holdout' of credit v1" in out
    assert list(_baselines(db)) == [("1", "training")]
    done = _run(
        settings, "baseline", "delete", "--model", MODEL, "--version", "1", "--name", "holdout"
    )
    assert done.returncode == 2
    assert "no such baseline" in done.stdout


def test_a_new_version_with_the_same_schema_can_reuse_a_baseline(
    db: Engine, settings: Settings
) -> None:
    register(db)
    _register_version(db, "2", KINDS)
    _register_version(db, "3", {**KINDS, "tenure": "numerical"})
    out = cli(
        settings,
        "baseline",
        "create",
        "--model",
        MODEL,
        "--version",
        "2",
        "--copy-from-version",
        "1",
    )
    assert "3000 rows (copied from v1)" in _words(out)
    stored = _baselines(db)
    assert stored[("2", "training")][0] == 3000
    copied = stored[("2", "training")][1]
    assert copied["features"] == stored[("1", "training")][1]["features"]
    assert copied["source"]["type"] == "copy"
    assert copied["source"]["model_version"] == "1"

    done = _run(
        settings,
        "baseline",
        "create",
        "--model",
        MODEL,
        "--version",
        "3",
        "--copy-from-version",
        "1",
    )
    assert done.returncode == 2
    assert "differ in features ['tenure']" in _words(done.stdout)
    assert ("3", "training") not in _baselines(db)
