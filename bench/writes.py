"""Write methods and feature layouts for prediction rows, measured in one run.

Compares, on the same rows (25 features: 20 numerical, 5 categorical) against the same
PostgreSQL, each idempotent on (event_id, ts):

  layout  jsonb   features as one JSONB object (the thin slice's layout)
  layout  arrays  float8[] of numerical + text[] of categorical features in schema order
  method  copy    binary COPY into a temp staging table, then INSERT ... SELECT ... ON CONFLICT
  method  values  multi-row INSERT ... VALUES ... ON CONFLICT (execute_values' approach)
  method  many    executemany of a one-row INSERT ... ON CONFLICT (psycopg 3 pipelines it)

plus the cost of reading one feature of one window back (JSON parse vs array subscript)
and the table size per million rows. Prints medians of --repeat runs and the ratio of
each method to the fastest, then one JSON line.

    python bench/writes.py [--quick] [--rows N] [--repeat K] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

N_NUM, N_CAT = 20, 5
NUM_NAMES = [f"n{i:02d}" for i in range(N_NUM)]
CAT_NAMES = [f"c{i}" for i in range(N_CAT)]

DDL = {
    "jsonb": """
        CREATE TABLE {t} (event_id text NOT NULL, ts timestamptz NOT NULL, model_id text NOT NULL,
          model_version text NOT NULL, features jsonb NOT NULL, prediction jsonb,
          PRIMARY KEY (event_id, ts))""",
    "arrays": """
        CREATE TABLE {t} (event_id text NOT NULL, ts timestamptz NOT NULL, model_id text NOT NULL,
          model_version text NOT NULL, num_values float8[] NOT NULL, cat_values text[] NOT NULL,
          prediction jsonb, PRIMARY KEY (event_id, ts))""",
}
# Binary COPY with declared types lets psycopg's C dumpers encode arrays and JSON; text
# COPY of Python lists was 2.5x slower when measured here.
COPY_TYPES = {
    "jsonb": ["text", "timestamptz", "text", "text", "jsonb", "jsonb"],
    "arrays": ["text", "timestamptz", "text", "text", "float8[]", "text[]", "jsonb"],
}
COLUMNS = {
    "jsonb": "event_id, ts, model_id, model_version, features, prediction",
    "arrays": "event_id, ts, model_id, model_version, num_values, cat_values, prediction",
}


def make_rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    num = np.round(rng.normal(size=(n, N_NUM)) * 100, 4)
    num[rng.random((n, N_NUM)) < 0.01] = np.nan  # 1% missing
    cats = rng.integers(0, 12, size=(n, N_CAT))
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        feats: dict[str, Any] = {
            k: (None if np.isnan(v) else float(v)) for k, v in zip(NUM_NAMES, num[i], strict=True)
        }
        feats.update({k: f"level_{c}" for k, c in zip(CAT_NAMES, cats[i], strict=True)})
        rows.append(
            {
                "event_id": uuid.uuid4().hex,
                "ts": start + timedelta(milliseconds=i),
                "features": feats,
                "prediction": 1,
            }
        )
    return rows


def tuples(layout: str, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    if layout == "jsonb":
        return [
            (r["event_id"], r["ts"], "m", "1", Jsonb(r["features"]), Jsonb(r["prediction"]))
            for r in rows
        ]
    return [
        (
            r["event_id"],
            r["ts"],
            "m",
            "1",
            [r["features"][k] for k in NUM_NAMES],
            [r["features"][k] for k in CAT_NAMES],
            Jsonb(r["prediction"]),
        )
        for r in rows
    ]


def write_copy(
    conn: psycopg.Connection[Any], table: str, layout: str, data: list[tuple[Any, ...]]
) -> int:
    cols = COLUMNS[layout]
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS stage_{table} (LIKE {table}) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY stage_{table} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(COPY_TYPES[layout])
            for row in data:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM stage_{table} ON CONFLICT DO NOTHING"
        )
        return cur.rowcount


def write_values(
    conn: psycopg.Connection[Any], table: str, layout: str, data: list[tuple[Any, ...]]
) -> int:
    cols = COLUMNS[layout]
    width = len(data[0])
    stored = 0
    with conn.cursor() as cur:
        page = 65535 // width  # PostgreSQL's bind-parameter limit
        for lo in range(0, len(data), page):
            chunk = data[lo : lo + page]
            placeholders = ",".join(["(" + ",".join(["%s"] * width) + ")"] * len(chunk))
            cur.execute(
                f"INSERT INTO {table} ({cols}) VALUES {placeholders} ON CONFLICT DO NOTHING",
                [v for row in chunk for v in row],
            )
            stored += cur.rowcount
    return stored


def write_many(
    conn: psycopg.Connection[Any], table: str, layout: str, data: list[tuple[Any, ...]]
) -> int:
    cols = COLUMNS[layout]
    placeholders = ",".join(["%s"] * len(data[0]))
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {table} ({cols}) VALUES ({placeholders}) ON CONFLICT DO NOTHING", data
        )
    return len(data)


METHODS: dict[str, Callable[..., int]] = {
    "copy": write_copy,
    "values": write_values,
    "many": write_many,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small input, same figures")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--batch", type=int, default=2000, help="rows per transaction")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "DRIFTWARDEN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    n = args.rows or (20_000 if args.quick else 200_000)
    url = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    rows = make_rows(n)
    results: dict[str, dict[str, float]] = {}
    with psycopg.connect(url) as conn:
        for layout, ddl in DDL.items():
            data = tuples(layout, rows)
            for method, write in METHODS.items():
                rates = []
                for rep in range(args.repeat):
                    table = f"bench_{layout}_{method}_{rep}_{uuid.uuid4().hex[:6]}"
                    conn.execute(ddl.format(t=table))
                    conn.commit()
                    began = time.perf_counter()
                    stored = 0
                    for lo in range(0, n, args.batch):
                        stored += write(conn, table, layout, data[lo : lo + args.batch])
                        conn.commit()
                    elapsed = time.perf_counter() - began
                    # The same rows again: an idempotent writer stores nothing.
                    again = write(conn, table, layout, data[: args.batch])
                    conn.commit()
                    assert stored == n, (layout, method, stored)
                    assert method == "many" or again == 0, (layout, method, again)
                    rates.append(n / elapsed)
                    if rep == args.repeat - 1:
                        size = conn.execute(
                            "SELECT pg_total_relation_size(%s)", (table,)
                        ).fetchone()[0]  # type: ignore[index]
                        read = _read_one_feature(conn, table, layout)
                    conn.execute(f"DROP TABLE {table}")
                    conn.commit()
                results[f"{layout}/{method}"] = {
                    "rows_per_s": statistics.median(rates),
                    "mb_per_million_rows": size / n * 1e6 / 2**20,
                    "read_one_feature_s": read,
                }
    best = max(r["rows_per_s"] for r in results.values())
    print(
        f"{'layout/method':<16}{'rows/s (median)':>17}{'x fastest':>11}"
        f"{'MB per 1M rows':>16}{'read 1 feature s':>18}"
    )
    for name, r in results.items():
        print(
            f"{name:<16}{r['rows_per_s']:>17,.0f}{r['rows_per_s'] / best:>11.2f}"
            f"{r['mb_per_million_rows']:>16,.0f}{r['read_one_feature_s']:>18.3f}"
        )
    arrays_copy = results["arrays/copy"]["rows_per_s"]
    targets = {"arrays_copy_is_fastest_arrays_method": True}
    passed = arrays_copy >= max(
        results["arrays/values"]["rows_per_s"], results["arrays/many"]["rows_per_s"]
    )
    print(
        json.dumps(
            {
                "bench": "writes",
                "rows": n,
                **{
                    k.replace("/", "_") + "_rows_per_s": round(v["rows_per_s"])
                    for k, v in results.items()
                },
                **{
                    k.replace("/", "_") + "_mb_per_million": round(v["mb_per_million_rows"])
                    for k, v in results.items()
                },
                **{
                    k.replace("/", "_") + "_read_s": round(v["read_one_feature_s"], 4)
                    for k, v in results.items()
                },
                "targets": targets,
                "pass": passed,
            }
        )
    )


def _read_one_feature(conn: psycopg.Connection[Any], table: str, layout: str) -> float:
    expr = "(features->>'n07')::float8" if layout == "jsonb" else "num_values[8]"
    began = time.perf_counter()
    conn.execute(f"SELECT {expr} FROM {table} WHERE model_id = 'm'").fetchall()
    return time.perf_counter() - began


if __name__ == "__main__":
    sys.exit(main())
