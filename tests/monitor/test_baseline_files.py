"""CSV and Parquet files streamed into profiles (no services needed)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.detection.baseline import build_from_source, build_profile
from monitor.detection.baseline_files import SourceError, open_file

SCHEMA = [
    {"name": "income", "kind": "numerical"},
    {"name": "age", "kind": "numerical"},
    {"name": "region", "kind": "categorical"},
]
KINDS = {f["name"]: f["kind"] for f in SCHEMA}


def _columns(n: int, seed: int = 0) -> dict[str, list[Any]]:
    rng = np.random.default_rng(seed)
    income: list[Any] = np.round(rng.normal(3.0, 1.0, n), 3).tolist()
    region: list[Any] = rng.choice(["north", "south", "east"], size=n).tolist()
    for i in range(0, n, 17):
        income[i] = None
    for i in range(3, n, 29):
        region[i] = None
    return {"income": income, "age": rng.integers(18, 80, n).tolist(), "region": region}


def _write_csv(path: Path, columns: dict[str, list[Any]], extra: bool = True) -> Path:
    names = ["region", "unused", "income", "age"] if extra else list(columns)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for i in range(len(columns["income"])):
            row = {n: columns[n][i] if n in columns else f"x{i}" for n in names}
            w.writerow(["" if row[n] is None else row[n] for n in names])
    return path


def _profile(path: Path, **kw: Any) -> tuple[dict[str, Any], int]:
    return build_from_source(open_file(path, KINDS, **kw), SCHEMA, sample_size=500, seed=2)


def test_csv_and_parquet_give_the_in_memory_profile_whatever_the_batches(
    tmp_path: Path,
) -> None:
    columns = _columns(3000)
    expected = build_profile(columns, KINDS, max_sample=500, seed=2)
    csv_path = _write_csv(tmp_path / "train.csv", columns)
    assert _profile(csv_path) == expected
    # Tiny blocks and batches: many reads, the same profile (memory is bounded by them).
    assert _profile(csv_path, batch_rows=97, block_bytes=1 << 12) == expected

    table = pa.table({"unused": [1] * 3000, **columns})
    pq_path = tmp_path / "train.parquet"
    pq.write_table(table, pq_path, row_group_size=700)
    assert _profile(pq_path) == expected
    assert _profile(pq_path, batch_rows=123) == expected


def test_sources_say_what_they_ignore_and_how_far_they_got(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "train.csv", _columns(2000))
    source = open_file(path, KINDS, batch_rows=300, block_bytes=1 << 13)
    assert source.ignored == ("unused",)
    assert (source.unit, source.total) == ("bytes", path.stat().st_size)
    batches = list(source.batches())
    assert all(len(b["income"]) <= 300 for b, _ in batches)
    assert sum(len(b["age"]) for b, _ in batches) == 2000
    progress = [done for _, done in batches]
    assert progress == sorted(progress)
    assert progress[-1] == path.stat().st_size

    pq_path = tmp_path / "t.parquet"
    pq.write_table(pa.table(_columns(1000)), pq_path)
    source = open_file(pq_path, KINDS, batch_rows=400)
    assert (source.unit, source.total, source.ignored) == ("rows", 1000, ())
    assert [done for _, done in source.batches()] == [400, 800, 1000]


def test_a_bad_csv_cell_is_named_by_file_line_column_and_value(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    # A quoted line break and a blank line before the bad cell: line 6, not row 4 + 1.
    path.write_text(
        'income,age,region\n1.5, 40 ,"north\nwest"\n\n2,41,south\n,,\n3,lots,east\n4,43,west\n'
    )
    source = open_file(path, KINDS, block_bytes=1 << 12)
    with pytest.raises(SourceError) as err:
        list(source.batches())
    assert str(err.value) == f"{path}:7: age='lots' is not a number (numerical feature)"

    good = tmp_path / "good.csv"
    good.write_text('income,age,region\n1.5, 40 ,"north\nwest"\n\n,2e1,\n inf ,nan,x\n')
    (batch, _), *_ = open_file(good, KINDS).batches()
    assert batch["income"].tolist()[:1] == [1.5]
    assert np.isnan(batch["income"][1])
    assert batch["income"][2] == np.inf
    assert batch["age"].tolist()[:2] == [40.0, 20.0]
    assert batch["region"].tolist() == ["north\nwest", None, "x"]


def test_schema_features_missing_from_a_file_are_named(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text("income,zip\n1,2\n")
    with pytest.raises(SourceError, match=r"missing from the file: \['age', 'region'\]"):
        open_file(path, KINDS)
    pq_path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"age": [1], "region": ["a"]}), pq_path)
    with pytest.raises(SourceError, match=r"missing from the file: \['income'\]"):
        open_file(pq_path, KINDS)
    with pytest.raises(SourceError, match=r"unknown file type '.json'"):
        open_file(tmp_path / "train.json", KINDS)
    dupes = tmp_path / "dupes.csv"
    dupes.write_text("income,age,age,region\n")
    with pytest.raises(SourceError, match=r"twice in the header: \['age'\]"):
        open_file(dupes, KINDS)


def test_parquet_types_convert_as_ingest_stores_them(tmp_path: Path) -> None:
    path = tmp_path / "types.parquet"
    table = pa.table(
        {
            "income": pa.array([1, None, 3], pa.int32()),
            "age": pa.array(["4.5", " 5 ", ""]),
            "region": pa.array(["a", None, "a"]).dictionary_encode(),
            "code": pa.array([7, None, 9], pa.int64()),
            "flag": pa.array([True, False, None]),
            "zip": pa.array([75001.0, None, 13001.0]),
        }
    )
    pq.write_table(table, path)
    kinds = {**KINDS, "code": "categorical", "flag": "categorical", "zip": "categorical"}
    (batch, _), *_ = open_file(path, kinds).batches()
    assert batch["income"].tolist()[::2] == [1.0, 3.0]
    assert np.isnan(batch["age"][2])
    assert batch["age"].tolist()[:2] == [4.5, 5.0]
    assert batch["region"].tolist() == ["a", None, "a"]
    assert batch["code"].tolist() == ["7", None, "9"]
    assert batch["flag"].tolist() == ["true", "false", None]
    assert batch["zip"].tolist() == ["75001", None, "13001"]


@pytest.mark.parametrize(
    ("column", "kind", "message"),
    [
        (pa.array(["1", "2", "x"]), "numerical", "row 3: income='x' is not a number"),
        (pa.array([True, False, True]), "numerical", "column 'income' (bool): not a numerical"),
        (
            pa.array([1.0, 2.5, 3.0]),
            "categorical",
            "feature 'income': row 2: 2.5 is not a category",
        ),
        (pa.array([[1], [2], [3]]), "categorical", "not a categorical type"),
    ],
)
def test_parquet_values_of_the_wrong_kind_are_named(
    tmp_path: Path, column: Any, kind: str, message: str
) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"income": column}), path)
    with pytest.raises(SourceError) as err:
        list(open_file(path, {"income": kind}).batches())
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_empty_and_blank_csv_cells_are_missing_in_both_kinds(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("a,c\n1.0,x\n2.0,  \n, \n3.0, y \n")
    [(batch, _)] = list(open_file(path, {"a": "numerical", "c": "categorical"}).batches())
    np.testing.assert_array_equal(batch["a"], [1.0, 2.0, np.nan, 3.0])
    assert batch["c"].tolist() == ["x", None, None, " y "]  # a label keeps its spaces
