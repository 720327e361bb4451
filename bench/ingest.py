"""End-to-end ingest throughput: Kafka -> `driftwarden ingest` -> PostgreSQL.

Streams N prediction events (25 features: 20 numerical, 5 categorical; ~600 bytes) into
a topic of the real broker, then measures, in the same run:

  raw_consume   a bare kafka-python consumer reading the same messages (the anchor)
  raw_copy      binary COPY of the same rows into an unindexed table (the database anchor)
  one           one `driftwarden ingest` process, sustained rate (10% -> 90% of N stored)
  two           two processes in one consumer group on the same backlog, the same way

and the peak RSS of a consumer process (VmHWM). Medians over --repeat runs.

It also prints where the CPU goes: CPU microseconds per event (user + system, from
/proc) of the consumer processes, of PostgreSQL (every local ``postgres`` process) and of
the broker (a local ``tansu``) over the same 10% -> 90% span, and the same for the two
anchors and for ``keyed_copy``, the same rows into a logged table keyed by event id
(PostgreSQL's floor for a durable store of one row per event, idempotent by event id).
CPU time is steadier than wall time on a shared machine, and the sum over the roles
bounds the rate: N cores cannot store more than N / (CPU seconds per event). From these
it prints how much PostgreSQL and the broker may cost per event for both ratio targets
to hold (``storage_budget``).

    python bench/ingest.py [--quick] [--events N] [--repeat K]

Uses DRIFTWARDEN_DATABASE_URL / DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS when set (a scratch
database is created there and dropped), else starts PostgreSQL and a broker itself.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from kafka import KafkaConsumer, KafkaProducer
from sqlalchemy.orm import Session
from support import kafka_broker, scratch_postgres

from monitor.config import libpq_url, load_settings
from monitor.db.engine import make_engine
from monitor.ingest.topics import ensure_topics
from monitor.resources import FeatureSchema, ModelDoc, register_model

N_NUM, N_CAT = 20, 5
NUM = [f"n{i:02d}" for i in range(N_NUM)]
CAT = [f"c{i}" for i in range(N_CAT)]
PARTITIONS = 4
CLI = str(Path(sys.executable).parent / "driftwarden")
SAMPLE_S = 0.05  # how often the consumer runs read the stored count and the CPU


def make_messages(n: int, seed: int = 0) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs, keyed by event id as monitor.sdk.PredictionLogger keys them:
    the events spread over every partition, so a second consumer has a share to take."""
    rng = np.random.default_rng(seed)
    num = np.round(rng.normal(size=(n, N_NUM)) * 100, 4)
    cats = rng.integers(0, 12, size=(n, N_CAT))
    start = datetime.now(UTC) - timedelta(hours=2)
    out = []
    for i in range(n):
        features: dict[str, Any] = dict(zip(NUM, num[i].tolist(), strict=True))
        features.update({k: f"level_{c}" for k, c in zip(CAT, cats[i].tolist(), strict=True)})
        event_id = uuid.uuid4().hex
        event = {
            "event_id": event_id,
            "model_id": "bench",
            "model_version": "1",
            "timestamp": (start + timedelta(milliseconds=i)).isoformat(),
            "features": features,
            "prediction": int(i % 2),
            "scores": {"0": 0.4, "1": 0.6},
        }
        out.append((event_id.encode(), json.dumps(event).encode()))
    return out


def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> float:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        batch_size=256 * 1024,
        acks=1,
        compression_type=None,
    )
    began = time.perf_counter()
    for key, value in messages:
        producer.send(topic, value=value, key=key)
    producer.flush()
    elapsed = time.perf_counter() - began
    producer.close()
    return len(messages) / elapsed


def raw_consume(bootstrap: str, topic: str, n: int) -> tuple[float, dict[str, float]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        max_poll_records=2000,
    )
    seen, began = 0, None
    cpu_before: CpuReading = {}
    deadline = time.monotonic() + 300
    while seen < n and time.monotonic() < deadline:
        batch = consumer.poll(timeout_ms=500)
        got = sum(len(v) for v in batch.values())
        if got and began is None:
            began = time.perf_counter()  # from the first record: group join excluded
            cpu_before = cpu_reading([os.getpid()])
        seen += got
    elapsed = time.perf_counter() - (began or time.perf_counter())
    cpu = cpu_used(cpu_before, cpu_reading([os.getpid()]))
    consumer.close()
    return (seen / elapsed if elapsed else 0.0), per_event_us(cpu, seen)


def per_event_us(cpu: dict[str, float], events: int) -> dict[str, float]:
    return {role: seconds / max(events, 1) * 1e6 for role, seconds in cpu.items()}


def copy_rows(messages: list[tuple[bytes, bytes]]) -> list[tuple[Any, ...]]:
    """The messages as the predictions table's typed columns, decoded up front."""
    rows = []
    for _, value in messages:
        e = json.loads(value)
        f = e["features"]
        rows.append(
            (
                e["event_id"],
                datetime.fromisoformat(e["timestamp"]),
                e["model_id"],
                "1",
                [f[k] for k in NUM],
                [f[k] for k in CAT],
            )
        )
    return rows


COPY_COLUMNS = (
    "(event_id text, ts timestamptz, model_id text, model_version text, num float8[], cat text[]"
)


def timed_copy(
    url: str, rows: list[tuple[Any, ...]], create: str
) -> tuple[float, dict[str, float]]:
    """Binary COPY of ``rows`` into the table ``create`` makes (named ``copied``), in one
    transaction: rows/s and CPU microseconds per row by role."""
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(create)
        began, cpu_before = time.perf_counter(), cpu_reading([os.getpid()])
        with conn.cursor() as cur, cur.copy("COPY copied FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "timestamptz", "text", "text", "float8[]", "text[]"])
            for r in rows:
                copy.write_row(r)
        conn.commit()
        rate = len(rows) / (time.perf_counter() - began)
        cpu = cpu_used(cpu_before, cpu_reading([os.getpid()]))
        conn.execute("DROP TABLE IF EXISTS copied")
        conn.commit()
        return rate, per_event_us(cpu, len(rows))


def raw_copy(url: str, rows: list[tuple[Any, ...]]) -> tuple[float, dict[str, float]]:
    """The database anchor: the rows into an unindexed temporary table (no WAL)."""
    return timed_copy(url, rows, f"CREATE TEMP TABLE copied {COPY_COLUMNS})")


def keyed_copy(url: str, rows: list[tuple[Any, ...]]) -> tuple[float, dict[str, float]]:
    """PostgreSQL's floor for a durable store of one row per event, idempotent by event
    id: the rows into a logged table whose only index is the event id key."""
    return timed_copy(url, rows, f"CREATE TABLE copied {COPY_COLUMNS}, PRIMARY KEY (event_id))")


def stored(conn: psycopg.Connection[Any]) -> int:
    """Predictions stored so far: the writer's per-hour tallies, committed with the rows,
    are far cheaper to sum twenty times a second than counting the table."""
    row = conn.execute("SELECT coalesce(sum(events), 0) FROM event_buckets").fetchone()
    return int(row[0])  # type: ignore[index]


def crossing(samples: Sequence[tuple[float, int, Any]], level: float) -> float:
    """When the stored count reached ``level``, interpolated between the two samples
    around it: at ~70,000 events/s a sample interval holds ~3,500 events, so the first
    sample past the level alone would err by up to a whole interval."""
    before = (samples[0][0], 0)
    for t, count, _ in samples:
        if count >= level:
            t0, c0 = before
            return t0 + (t - t0) * (level - c0) / max(count - c0, 1)
        before = (t, count)
    raise ValueError(f"the stored count never reached {level}")


CpuReading = dict[tuple[str, int], float]
ROLES = ("consumer", "postgres", "broker")
_TICK = os.sysconf("SC_CLK_TCK")
_COMM_ROLE = {"postgres": "postgres", "tansu": "broker"}


def cpu_reading(consumers: Sequence[int] = ()) -> CpuReading:
    """CPU seconds (user + system) used so far by each consumer process, each local
    PostgreSQL process and the local broker, keyed by (role, pid)."""
    out: CpuReading = {}
    wanted = set(consumers)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        comm, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat.rsplit(")", 1)[1].split()
        role = "consumer" if pid in wanted else _COMM_ROLE.get(comm)
        if role is not None:
            out[(role, pid)] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


def cpu_used(before: CpuReading, after: CpuReading) -> dict[str, float]:
    """CPU seconds by role between two readings (a process started since counts whole)."""
    used = dict.fromkeys(ROLES, 0.0)
    for (role, pid), seconds in after.items():
        used[role] += seconds - before.get((role, pid), 0.0)
    return used


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_consumers(
    url: str, bootstrap: str, topic: str, n: int, processes: int
) -> tuple[float, float, dict[str, float]]:
    """Start ``processes`` ingest processes in a fresh group; events/s, peak RSS (MB) and
    CPU microseconds per event by role, all over the 10% -> 90% span."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("TRUNCATE predictions, event_buckets")
    group = f"bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DRIFTWARDEN_DATABASE_URL": url,
        "DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DRIFTWARDEN_PREDICTIONS_TOPIC": topic,
        "DRIFTWARDEN_CONSUMER_GROUP": group,
        "DRIFTWARDEN_SESSION_TIMEOUT_MS": "6000",
        "DRIFTWARDEN_LOG_LEVEL": "WARNING",
        "DRIFTWARDEN_METRICS_PORT": "0",  # several roles on one host: no /metrics
    }
    procs = [
        subprocess.Popen([CLI, "ingest"], env=env, stdout=subprocess.DEVNULL)
        for _ in range(processes)
    ]
    pids = [p.pid for p in procs]
    peak = 0.0
    samples: list[tuple[float, int, CpuReading]] = []
    try:
        deadline = time.monotonic() + 600
        count = 0
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            while count < n and time.monotonic() < deadline:
                time.sleep(SAMPLE_S)
                peak = max([peak, *(peak_rss_mb(pid) for pid in pids)])
                count = stored(conn)
                samples.append((time.perf_counter(), count, cpu_reading(pids)))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    if count < n:
        raise RuntimeError(f"only {count} of {n} events stored")
    # The sustained rate: from 10% to 90% stored, leaving out the group join at the start
    # (about half the session timeout on this broker) and the last partial batches. CPU
    # is read at the samples, so it is counted over the samples just past 10% and 90%.
    rate = 0.8 * n / (crossing(samples, 0.9 * n) - crossing(samples, 0.1 * n))
    _, c10, cpu10 = next(s for s in samples if s[1] >= n * 0.1)
    _, c90, cpu90 = next(s for s in samples if s[1] >= n * 0.9)
    return rate, peak, per_event_us(cpu_used(cpu10, cpu90), c90 - c10)


MEASURED = ("raw_consume", "raw_copy", "keyed_copy", "one", "two")


def storage_budget(
    med: dict[str, float], cpu: dict[str, dict[str, float]], cores: int
) -> dict[str, float]:
    """How much CPU per event PostgreSQL and the broker together may cost for both ratio
    targets to hold, against what they cost at their floor and in the two-consumer run.

    One consumer process runs on one core at a time (the GIL); say it keeps a share ``u``
    of it busy (measured), at consumer CPU ``c`` per event: it stores u / c per second.
    0.6x raw consume then needs c <= u / (0.6 x raw consume rate). Two processes share
    the cores with PostgreSQL and the broker (``s`` per event together), so they store at
    most cores / (c + s) per second, and 1.6x one needs s <= c x (cores - 1.6 u) / (1.6 u).
    That bound grows with c, so the budget is its value at the largest c the first target
    allows. The floor is a keyed COPY of the same rows (the least a durable store of one
    row per event, idempotent by event id, costs PostgreSQL) plus the broker's share of
    the raw consume."""
    u = cpu["one"]["consumer"] * med["one"] / 1e6
    consumer_max = u * 1e6 / (0.6 * med["raw_consume"])
    spare = cores - 1.6 * u
    return {
        "one_consumer_cores": u,
        "consumer_max_us": consumer_max,
        "budget_us": consumer_max * spare / (1.6 * u) if spare > 0 else 0.0,
        "floor_us": cpu["keyed_copy"]["postgres"] + cpu["raw_consume"]["broker"],
        "two_us": cpu["two"]["postgres"] + cpu["two"]["broker"],
    }


def cpu_line(name: str, us: dict[str, float]) -> str:
    parts = " + ".join(f"{role} {us[role]:.1f}" for role in ROLES)
    return f"  {name:<14} {parts} = {sum(us.values()):.1f} us CPU/event"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int)
    parser.add_argument("--repeat", type=int)
    args = parser.parse_args()
    # --quick: 100,000 events still take two consumers more than a second to store.
    n = args.events or (100_000 if args.quick else 200_000)
    repeat = args.repeat or (1 if args.quick else 3)
    with ExitStack() as stack:
        db_url = scratch_postgres(stack, prefix="bench_ingest")
        bootstrap = kafka_broker(stack)
        engine = make_engine(load_settings(database_url=db_url))
        with Session(engine) as session, session.begin():
            features = [FeatureSchema(name=k, kind="numerical") for k in NUM]
            features += [FeatureSchema(name=k, kind="categorical") for k in CAT]
            register_model(
                session,
                ModelDoc(
                    model_id="bench",
                    task_type="binary_classification",
                    version="1",
                    features=features,
                ),
            )
        engine.dispose()
        topic = f"bench-{uuid.uuid4().hex[:8]}.predictions"
        ensure_topics(bootstrap, [topic], partitions=PARTITIONS)
        messages = make_messages(n)
        rows = copy_rows(messages)
        produce_rate = produce(bootstrap, topic, messages)
        size = sum(len(value) for _, value in messages) // n
        print(f"{n} events of ~{size} bytes; produced at {produce_rate:,.0f}/s")

        figures: dict[str, list[float]] = {
            "raw_consume": [],
            "raw_copy": [],
            "one": [],
            "two": [],
            "rss": [],
        }
        # CPU microseconds per event by role, per measurement and run.
        cpu: dict[str, list[dict[str, float]]] = {k: [] for k in MEASURED}
        for i in range(repeat):
            rate, us = raw_consume(bootstrap, topic, n)
            figures["raw_consume"].append(rate)
            cpu["raw_consume"].append(us)
            rate, us = raw_copy(db_url, rows)
            figures["raw_copy"].append(rate)
            cpu["raw_copy"].append(us)
            cpu["keyed_copy"].append(keyed_copy(db_url, rows)[1])
            for name, processes in (("one", 1), ("two", 2)):
                rate, rss, us = run_consumers(db_url, bootstrap, topic, n, processes)
                figures[name].append(rate)
                figures["rss"].append(rss)
                cpu[name].append(us)
            print(
                f"run {i + 1}: raw consume {figures['raw_consume'][-1]:,.0f}/s, raw COPY "
                f"{figures['raw_copy'][-1]:,.0f}/s, one consumer {figures['one'][-1]:,.0f}/s, "
                f"two {figures['two'][-1]:,.0f}/s, peak RSS {max(figures['rss'][-2:]):.0f} MB"
            )
    med = {k: statistics.median(v) for k, v in figures.items()}
    peak = max(figures["rss"])
    ratios = {
        "one_vs_raw_consume": med["one"] / med["raw_consume"],
        "two_vs_one": med["two"] / med["one"],
        "one_vs_raw_copy": med["one"] / med["raw_copy"],
    }
    targets = {
        "one_vs_raw_consume": ">=0.6",
        "events_per_s_one": ">=25000",
        "two_vs_one": ">=1.6",
        "peak_rss_mb": "<300",
    }
    passed = (
        ratios["one_vs_raw_consume"] >= 0.6
        and med["one"] >= 25_000
        and ratios["two_vs_one"] >= 1.6
        and peak < 300
    )
    print(
        f"medians: raw consume {med['raw_consume']:,.0f}/s | raw COPY {med['raw_copy']:,.0f}/s | "
        f"one consumer {med['one']:,.0f}/s ({ratios['one_vs_raw_consume']:.2f}x raw consume) | "
        f"two consumers {med['two']:,.0f}/s ({ratios['two_vs_one']:.2f}x one) | "
        f"peak RSS {peak:.0f} MB"
    )
    cpu_med = {
        name: {role: statistics.median(run[role] for run in runs) for role in ROLES}
        for name, runs in cpu.items()
    }
    print("where the CPU goes (medians; consumer = the measured client process):")
    for name in MEASURED:
        print(cpu_line(name, cpu_med[name]))
    cores = os.cpu_count() or 1
    ceiling = cores * 1e6 / sum(cpu_med["one"].values())
    print(
        f"  at that CPU cost {cores} cores hold at most {ceiling:,.0f} events/s, "
        f"however many consumers run"
    )
    budget = storage_budget(med, cpu_med, cores)
    print(
        "both ratio targets can hold only if PostgreSQL + broker cost at most "
        f"{budget['budget_us']:.1f} us/event: one consumer process used "
        f"{budget['one_consumer_cores']:.2f} of a core, so 0.6x raw consume caps its CPU at "
        f"{budget['consumer_max_us']:.1f} us/event, and two consumers sharing {cores} cores with "
        f"them must store 1.6x as fast (see storage_budget)\n"
        f"  a bare keyed COPY of the same rows + the broker costs {budget['floor_us']:.1f}; "
        f"`driftwarden ingest` with two consumers costs {budget['two_us']:.1f}"
    )
    print(
        json.dumps(
            {
                "bench": "ingest",
                "events": n,
                "repeat": repeat,
                "raw_consume_per_s": round(med["raw_consume"]),
                "raw_copy_per_s": round(med["raw_copy"]),
                "events_per_s_one": round(med["one"]),
                "events_per_s_two": round(med["two"]),
                **{k: round(v, 3) for k, v in ratios.items()},
                "peak_rss_mb": round(peak),
                "cpu_us_per_event": {
                    name: {role: round(v, 1) for role, v in cpu_med[name].items()}
                    for name in MEASURED
                },
                "cpu_bound_events_per_s": round(ceiling),
                "ratio_targets_storage": {k: round(v, 2) for k, v in budget.items()},
                "targets": targets,
                "pass": passed,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
