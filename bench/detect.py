"""Detection at scale: stored sketches, the detect worker's cycle, database size.

Builds, in a scratch database on the configured (or local) PostgreSQL: M models of 25
features (20 numerical, 5 categorical of 3 to 200 levels), each with a version 1, a
"training" baseline and a monitor of 1-hour tumbling windows against it; then N
prediction events spread evenly over the last 30 days, written with binary COPY (half of
the numerical features of odd models shift by 0.5 sd in the last 3 days, so some
windows drift). ``event_buckets`` is filled as ingest fills it. Then measures:

  refresh        the catch-up step that builds every bucket's sketches (events/s)
  check_sketch   one drift check of one model over the last 30 days from stored sketches:
                 read, merge, decide (monitor.detection.bucket_reads +
                 detectors.detect_drift_sketches); median of --repeat
  check_raw      the same check from raw rows (window_data.load_windows + detect_drift),
                 the way a worker without sketches does it; one run (seconds)
  cycle_1 / 2    one detection cycle of every monitor with one and with two
                 ``driftwarden detect --once`` processes: each monitor evaluates its last
                 CYCLE_WINDOWS closed hourly windows (set by moving checked_until back)
  rss            the largest peak RSS of a worker process in those cycles
  db_size        predictions (table, partitions, indexes) and bucket_sketches per million
                 events

Targets (issue 6): check_sketch at least 100x faster than check_raw and under 100 ms per
model; worker peak RSS under 1 GB. Ends with one JSON line.

    python bench/detect.py [--quick] [--events N] [--models M] [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support import RSS_WRAPPER, scratch_postgres

import detectors
from detectors.sketch_drift import detect_drift_sketches
from monitor.config import load_settings
from monitor.db.engine import make_engine
from monitor.db.models import BUCKET_SECONDS
from monitor.db.partitions import PartitionManager
from monitor.detection.baseline import build_profile, load_baseline_sketches, save_baseline
from monitor.detection.bucket_reads import window_sketches
from monitor.detection.bucket_refresh import refresh_buckets
from monitor.detection.spec import MonitorSpec
from monitor.detection.window_data import load_windows
from monitor.layout import Layout
from monitor.resources import FeatureSchema, ModelDoc, MonitorDoc, register_model, upsert_monitor

N_NUM = 20
NUM = [f"n{i:02d}" for i in range(N_NUM)]
CARDINALITIES = {"c0": 3, "c1": 10, "c2": 30, "c3": 100, "c4": 200}
CAT = list(CARDINALITIES)
KINDS = {**dict.fromkeys(NUM, "numerical"), **dict.fromkeys(CAT, "categorical")}
DAYS = 30
SHIFT_DAYS = 3
CYCLE_WINDOWS = 24  # per monitor and cycle: a day of hourly windows
BASELINE_ROWS = 5_000
COPY_CHUNK = 50_000

TARGET_SPEEDUP = 100.0
TARGET_SKETCH_MS = 100.0
TARGET_RSS_MB = 1024.0

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def draw(rng: np.random.Generator, n: int, shift: float) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUM):
        loc = (i % 5) + (shift if i % 2 == 0 else 0.0)
        cols[name] = rng.normal(loc, 1.0 + (i % 3), n)
    for name, k in CARDINALITIES.items():
        weights = 1.0 / np.arange(1, k + 1) ** 1.1
        levels = np.array([f"{name}_{j}" for j in range(k)], dtype=object)
        cols[name] = levels[rng.choice(k, n, p=weights / weights.sum())]
    return cols


def setup_models(engine: Engine, models: list[str], end: datetime) -> None:
    rng = np.random.default_rng(7)
    features = [FeatureSchema(name=f, kind=k) for f, k in KINDS.items()]
    with Session(engine) as session, session.begin():
        for model in models:
            register_model(
                session,
                ModelDoc(
                    model_id=model,
                    task_type="binary_classification",
                    version="1",
                    features=features,
                ),
            )
            profile, n = build_profile(draw(rng, BASELINE_ROWS, 0.0), KINDS)
            save_baseline(session, model_id=model, model_version="1", profile=profile, n_rows=n)
            upsert_monitor(
                session,
                MonitorDoc(
                    name=f"{model}-drift",
                    spec=MonitorSpec(model_id=model, window="1h", delay="0s", min_rows=10),
                ),
            )
        # Monitors start at the end of the data: the cycles below move them back.
        session.execute(text("UPDATE monitors SET checked_until = :end"), {"end": end})


def copy_events(url: str, models: list[str], n_events: int, start: datetime) -> None:
    """N events over [start, start + DAYS), spread evenly over the models and the time."""
    rng = np.random.default_rng(11)
    span = DAYS * 86_400
    shift_from = span - SHIFT_DAYS * 86_400
    per_model = n_events // len(models)
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            for m, model in enumerate(models):
                done = 0
                while done < per_model:
                    n = min(COPY_CHUNK, per_model - done)
                    offsets = np.linspace(0, span, per_model, endpoint=False)[done : done + n]
                    cols = draw(rng, n, 0.0)
                    shifted = draw(rng, n, 0.5 if m % 2 else 0.0)
                    late = offsets >= shift_from
                    num = np.column_stack([np.where(late, shifted[f], cols[f]) for f in NUM])
                    cat = np.column_stack([cols[f] for f in CAT])
                    with cur.copy(
                        "COPY predictions (event_id, ts, model_id, model_version, num_values, "
                        "cat_values) FROM STDIN (FORMAT BINARY)"
                    ) as copy:
                        copy.set_types(
                            ["text", "timestamptz", "text", "text", "float8[]", "text[]"]
                        )
                        for i in range(n):
                            copy.write_row(
                                (
                                    f"{model}-{done + i}",
                                    start + timedelta(seconds=float(offsets[i])),
                                    model,
                                    "1",
                                    num[i].tolist(),
                                    cat[i].tolist(),
                                )
                            )
                    done += n
            # What ingest counts per batch (monitor/ingest/sink.py), for all of them at once.
            cur.execute(
                "INSERT INTO event_buckets (model_id, model_version, bucket, events, changes) "
                f"SELECT model_id, model_version, date_bin('{BUCKET_SECONDS} seconds', ts, "
                "TIMESTAMPTZ '1970-01-01 00:00:00+00'), count(*), count(*) FROM predictions "
                "GROUP BY 1, 2, 3"
            )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def size_mb(url: str, n_events: int) -> dict[str, float]:
    with psycopg.connect(url) as conn:
        predictions = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "WHERE c.relname = 'predictions' OR c.oid IN "
            "(SELECT inhrelid FROM pg_inherits WHERE inhparent = 'predictions'::regclass)"
        ).fetchone()
        sketches = conn.execute(
            "SELECT pg_total_relation_size('bucket_sketches'), count(*) FROM bucket_sketches"
        ).fetchone()
    assert predictions is not None
    assert sketches is not None
    per_million = 1e6 / max(n_events, 1) / 2**20
    return {
        "predictions_mb_per_million": round(float(predictions[0]) * per_million, 1),
        "sketches_mb_per_million": round(float(sketches[0]) * per_million, 1),
        "sketch_rows": int(sketches[1]),
    }


def check_sketch(engine: Engine, model: str, lo: datetime, hi: datetime) -> detectors.DriftResult:
    """As the worker does it (evaluate._sketch_drift): the baseline's sketches (not its
    row sample), the window's merged bucket sketches, the default policy."""
    with Session(engine) as session:
        reference = load_baseline_sketches(session, model, "training")["1"].sketches
        current = window_sketches(
            session,
            model_id=model,
            version="1",
            segment="",
            lo=lo,
            hi=hi,
            layouts={f: s.layout for f, s in reference.items()},
        )
    return detect_drift_sketches(reference, current)


def check_raw(engine: Engine, model: str, lo: datetime, hi: datetime) -> detectors.DriftResult:
    """As the worker does it without sketches: the window's rows and the baseline's row
    sample, the exact tests."""
    with Session(engine) as session:
        profile = session.execute(
            text("SELECT profile FROM baselines WHERE model_id = :m AND name = 'training'"),
            {"m": model},
        ).scalar_one()
        schema = session.execute(
            text("SELECT feature_schema FROM model_versions WHERE model_id = :m"), {"m": model}
        ).scalar_one()
        window = load_windows(session, model, lo=lo, hi=hi)["1"]
    current = window.columns(Layout.from_schema(schema))
    reference = {f: p["sample"] for f, p in profile["features"].items()}
    return detectors.detect_drift(reference, current, kinds=KINDS)


def cycle(url: str, engine: Engine, end: datetime, workers: int) -> tuple[float, float, int]:
    """Wall time of ``workers`` processes of ``driftwarden detect --once`` over the last
    CYCLE_WINDOWS windows of every monitor, the largest peak RSS (MB) of one, and the runs
    stored."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM detector_runs"))
        conn.execute(
            text("UPDATE monitors SET checked_until = :t"),
            {"t": end - timedelta(hours=CYCLE_WINDOWS)},
        )
    cli = str(Path(sys.executable).parent / "driftwarden")
    env = {
        **os.environ,
        "DRIFTWARDEN_DATABASE_URL": url,
        "DRIFTWARDEN_LOG_LEVEL": "WARNING",
        "DRIFTWARDEN_METRICS_PORT": "0",  # several workers on one host: no /metrics
    }
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RSS_WRAPPER, cli, "detect", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    peak_kb = 0
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"detect --once exited {p.returncode}")
        peak_kb = max(peak_kb, int(out.split()[-1]))
    wall = time.perf_counter() - t0
    with engine.connect() as conn:
        runs = int(conn.scalar(text("SELECT count(*) FROM detector_runs")) or 0)
    return wall, peak_kb / 1024, runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int)
    parser.add_argument("--models", type=int)
    parser.add_argument("--repeat", type=int)
    args = parser.parse_args()
    # --quick: fewer models, but each with enough rows that reading them shows (the full
    # run has 500,000 events per model).
    n_models = args.models or (2 if args.quick else 20)
    n_events = args.events or (500_000 if args.quick else 10_000_000)
    repeat = args.repeat or (5 if args.quick else 7)
    raw_repeat = 1  # the slow anchor: seconds a run; the sketch check is the one repeated
    models = [f"m{i:02d}" for i in range(n_models)]
    # The data ends at 12:00 UTC yesterday, whatever the time now: a 30-day window then has
    # ragged ends (12 hours on each side, read as hour rows), the slow case; ending on a
    # day boundary it would read day rows only (30 a feature instead of 53).
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=12)
    start = end - timedelta(days=DAYS)
    with ExitStack() as stack:
        url = scratch_postgres(stack, prefix="bench_detect")
        engine = make_engine(load_settings(database_url=url))
        stack.callback(engine.dispose)
        libpq = url.replace("postgresql+psycopg://", "postgresql://")
        with engine.connect() as conn:
            PartitionManager().ensure(conn, [start, end])
        setup_models(engine, models, end)
        t_copy, _ = timed(lambda: copy_events(libpq, models, n_events, start))
        print(f"{n_events:,} events of {n_models} models x 25 features over {DAYS} days")
        print(f"  generated and copied in {t_copy:.1f} s ({n_events / t_copy:,.0f} events/s)")

        t_refresh, counts = timed(lambda: refresh_buckets(engine))
        # The events were loaded as history, not as late data: nothing to run again.
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM window_reruns"))
        print(f"  refresh: {t_refresh:.1f} s ({n_events / t_refresh:,.0f} events/s) {counts}")
        sizes = size_mb(libpq, n_events)
        print(f"  database: {sizes}")

        model = models[1]  # an odd model: its last days drift
        sketch_times = [timed(lambda: check_sketch(engine, model, start, end))[0]]
        sketch_times += [
            timed(lambda: check_sketch(engine, model, start, end))[0] for _ in range(repeat)
        ]
        sketch_times = sketch_times[1:]  # the first warmed the caches and imports
        raw_times, raw_result = [], None
        for _ in range(raw_repeat):
            t, raw_result = timed(lambda: check_raw(engine, model, start, end))
            raw_times.append(t)
        sketch_result = check_sketch(engine, model, start, end)
        sketch_ms = statistics.median(sketch_times) * 1000
        raw_ms = statistics.median(raw_times) * 1000
        speedup = raw_ms / sketch_ms
        assert raw_result is not None
        print(
            f"  30-day drift check of one model: sketches {sketch_ms:.1f} ms (median of "
            f"{len(sketch_times)}), raw rows {raw_ms:.0f} ms (median of {len(raw_times)}): "
            f"{speedup:.0f}x"
        )
        print(
            f"    drifted (sketches): {sorted(sketch_result.drifted_columns)}\n"
            f"    drifted (raw rows): {sorted(raw_result.drifted_columns)}"
        )

        cycles: dict[int, tuple[float, float, int]] = {}
        for workers in (1, 2):
            cycles[workers] = cycle(url, engine, end, workers)
            wall, rss, runs = cycles[workers]
            print(
                f"  cycle with {workers} worker(s): {wall:.1f} s for {runs} windows "
                f"({CYCLE_WINDOWS} per monitor), peak RSS {rss:.0f} MB"
            )
        rss_mb = max(c[1] for c in cycles.values())
        passed = (
            speedup >= TARGET_SPEEDUP and sketch_ms <= TARGET_SKETCH_MS and rss_mb <= TARGET_RSS_MB
        )
        print(
            json.dumps(
                {
                    "bench": "detect",
                    "events": n_events,
                    "models": n_models,
                    "features": len(KINDS),
                    "refresh_events_per_s": round(n_events / t_refresh),
                    "check_sketch_ms": round(sketch_ms, 1),
                    "check_raw_ms": round(raw_ms, 1),
                    "sketch_speedup": round(speedup, 1),
                    "cycle_1_worker_s": round(cycles[1][0], 2),
                    "cycle_2_workers_s": round(cycles[2][0], 2),
                    "cycle_windows": cycles[1][2],
                    "worker_peak_rss_mb": round(rss_mb),
                    **sizes,
                    "targets": {
                        "sketch_speedup_min": TARGET_SPEEDUP,
                        "check_sketch_ms_max": TARGET_SKETCH_MS,
                        "worker_peak_rss_mb_max": TARGET_RSS_MB,
                    },
                    "pass": passed,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
