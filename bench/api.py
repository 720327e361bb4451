"""The read API under load: results and status endpoints at increasing concurrency.

In a scratch database: M models x F features with D days of hourly data_drift runs
ending at the current hour (20 x 25 x 30 by default): per window one ``detector_runs``
row and F + 1 ``results`` rows (a ks row per feature and the run's drift_share), written
with COPY as the detect worker would have stored them, then ANALYZE. Then
``driftwarden api`` (one uvicorn process) is started as a subprocess, a read key is
created, and a SECOND process (this script with --load-child: one keep-alive connection
per concurrent client on one asyncio loop, closed loop; ``drive`` says why not httpx)
drives, at each concurrency level for a fixed duration:

  series    GET /v1/results/series?model=M&from=<now - 7 days>: the 7-day time series of
            one model (the model drawn at random per call), every feature and metric, as
            series (window end, value, threshold, verdict): the target's query
  results   GET /v1/results?model=M&from=<now - 7 days>&limit=10000: the same rows as one
            page of whole rows (every column, ~1.7 MB)
  status    GET /v1/status: every model's latest status

and prints p50 / p95 / p99 latency and throughput per level. Both results routes answer
from the API's page cache while a model's results are unchanged (as here, after the
first call per model and route): the figures are the cached path. Also measured:

  direct    the results page's SQL (monitor.api.results_queries.results_sql) run with
            psycopg from the load process, one at a time: what a call would cost without
            the cache. Printed as the ratio API p50 / direct p50 at concurrency 1
  healthz   GET /healthz (no key, no query) at 1 client and at the top concurrency: the
            framework's own floor, the anchor of the latency figures
  rss       peak RSS of the API process (started by a small wrapper interpreter:
            bench/support.py says why), read when it exits at the end
  plan      EXPLAIN of the 7-day query: which index serves it

Targets (issue 9): p99 under 100 ms at 50 concurrent clients for the 7-day one-model
time series query (series); API peak RSS under 300 MB. Ends with one JSON line.

    python bench/api.py [--quick] [--models M] [--features F] [--days D] [--duration S]

The API inherits this environment: with MALLOC_ARENA_MAX=2 its peak RSS measured ~110 MB
lower at 50 clients (glibc otherwise keeps a malloc arena per busy threadpool thread).

Uses DRIFTWARDEN_DATABASE_URL when set (a scratch database is created there and dropped),
else starts PostgreSQL itself. --quick: 4 models x 25 features x 10 days, 2 s a level
(15 s by default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.orm import Session
from support import RSS_WRAPPER, scratch_postgres

from monitor.api.results_queries import ResultsFilter, results_sql
from monitor.apikeys import create_key
from monitor.config import libpq_url, load_settings
from monitor.db.engine import make_engine
from monitor.detection.spec import MonitorSpec
from monitor.epoch import floor_to
from monitor.resources import FeatureSchema, ModelDoc, MonitorDoc, register_model, upsert_monitor

CLI = str(Path(sys.executable).parent / "driftwarden")
HOUR = timedelta(hours=1)
SERIES_DAYS = 7

TARGET_P99_MS = 100.0
TARGET_RSS_MB = 300.0


def model_ids(n: int) -> list[str]:
    return [f"model-{i:02d}" for i in range(n)]


def store(url: str, *, n_models: int, n_features: int, days: int, end: datetime) -> int:
    """Models, monitors and D days of hourly runs and results ending at ``end``; returns
    the number of result rows."""
    features = [f"f{i:02d}" for i in range(n_features)]
    engine = make_engine(load_settings(database_url=url))
    schema = [FeatureSchema(name=f, kind="numerical") for f in features]
    with Session(engine) as session, session.begin():
        for model in model_ids(n_models):
            doc = ModelDoc(
                model_id=model, task_type="binary_classification", version="1", features=schema
            )
            register_model(session, doc)
            spec = MonitorSpec(model_id=model)
            upsert_monitor(session, MonitorDoc(name=f"{model}-drift", spec=spec))
    engine.dispose()
    hours = days * 24
    rng = random.Random(9)
    n_results = 0
    with psycopg.connect(libpq_url(url)) as conn, conn.cursor() as cur:
        monitors: dict[str, int] = dict(cur.execute("SELECT model_id, id FROM monitors").fetchall())
        runs = []
        run_id = 0
        for model in model_ids(n_models):
            for h in range(hours):
                run_id += 1
                hi = end - (hours - 1 - h) * HOUR
                runs.append((run_id, monitors[model], model, hi - HOUR, hi))
        with cur.copy(
            "COPY detector_runs (id, monitor_id, model_id, model_version, segment, signal, "
            "window_start, window_end, status, n_reference, n_current, drift_share, "
            "dataset_drift, started_at, finished_at) FROM STDIN"
        ) as copy:
            for rid, mid, model, lo, hi in runs:
                labels = (rid, mid, model, "1", "", "data_drift", lo, hi)
                copy.write_row((*labels, "ok", 20000, 5000, 0.0, False, hi, hi))
        with cur.copy(
            "COPY results (run_id, monitor_id, model_id, model_version, segment, signal, "
            "window_start, window_end, feature, metric, kind, value, p_value, effect_size, "
            "threshold, alert, n_reference, n_current) FROM STDIN"
        ) as copy:
            for rid, mid, model, lo, hi in runs:
                labels = (rid, mid, model, "1", "", "data_drift", lo, hi)
                drifted = 0
                for f in features:
                    stat = rng.random() * 0.1
                    alert = stat > 0.095
                    drifted += alert
                    p = 1e-4 if alert else 0.5
                    copy.write_row(
                        (*labels, f, "ks", "numerical", stat, p, stat * 3, 0.05, alert, 20000, 5000)
                    )
                share = drifted / n_features
                verdict = (share, None, None, 0.5, share >= 0.5, None, None)
                copy.write_row((*labels, "", "drift_share", None, *verdict))
                n_results += n_features + 1
        cur.execute("SELECT setval('detector_runs_id_seq', %s)", (run_id,))
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE detector_runs")
        cur.execute("VACUUM ANALYZE results")
    return n_results


def series_filter(model: str, start: datetime) -> ResultsFilter:
    return ResultsFilter(model=model, start=start)


def explain(url: str, model: str, start: datetime) -> list[str]:
    sql, params = results_sql(series_filter(model, start), after=None)
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS) " + sql, {**params, "limit": 10_001}
        ).fetchall()
    return [r[0] for r in rows]


# --- the load process ------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def _call(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, int]:
    """One HTTP/1.1 keep-alive exchange: (status, body bytes). The API always answers
    with a Content-Length."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return status, length


async def _drive(
    base: str, token: str, make_path: Any, clients: int, duration: float
) -> dict[str, Any]:
    host, port = base.removeprefix("http://").split(":")
    calls: list[tuple[float, float]] = []  # (start, end)
    sizes: list[int] = []
    errors: list[str] = []
    ready = 0
    go = asyncio.Event()
    stop_at: list[float] = []

    def request(rng: random.Random) -> bytes:
        return (
            f"GET {make_path(rng)} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()

    async def client(i: int) -> None:
        nonlocal ready
        rng = random.Random(i)
        reader, writer = await asyncio.open_connection(host, int(port), limit=1 << 22)
        try:
            status, _ = await _call(reader, writer, request(rng))  # set-up: not counted
            if status != 200:
                errors.append(f"{status} on the first call")
            ready += 1
            if ready == clients:
                stop_at.append(time.perf_counter() + duration)
                go.set()
            await go.wait()
            while not errors and (began := time.perf_counter()) < stop_at[0]:
                status, size = await _call(reader, writer, request(rng))
                if status != 200:
                    errors.append(f"{status} from {make_path(rng)}")
                    return
                calls.append((began, time.perf_counter()))
                sizes.append(size)
        finally:
            writer.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    if errors:
        raise RuntimeError(f"{len(errors)} failed calls, e.g. {errors[0]}")
    span = max(e for _, e in calls) - min(b for b, _ in calls)
    latencies = [e - b for b, e in calls]
    return {
        "clients": clients,
        "calls": len(calls),
        "per_s": round(len(calls) / span, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "kb": round(sum(sizes) / len(calls) / 1024, 1),
    }


def drive(base: str, token: str, make_path: Any, clients: int, duration: float) -> dict[str, Any]:
    """``clients`` connections, each calling back to back (closed loop), on one asyncio
    event loop. Each makes a first call (connection set-up, not counted); then all start
    together and call for ``duration`` seconds, calls in flight at the end counted.
    Throughput is the counted calls over the span they cover.

    A minimal HTTP/1.1 client, not httpx: on this 2-core machine, against a bare FastAPI
    route at 50 clients, httpx.AsyncClient reached 291 calls/s and a thread per client
    with httpx.Client spent its time in GIL hand-offs (p99 209 ms on /healthz), while
    this client drove the same route at 3,606 calls/s. The load process must not be
    the bottleneck it measures."""
    try:
        import uvloop  # noqa: PLC0415  (uvicorn's loop, when installed: the faster client)
    except ImportError:
        return asyncio.run(_drive(base, token, make_path, clients, duration))
    return uvloop.run(_drive(base, token, make_path, clients, duration))


def direct_p50(url: str, models: list[str], start: datetime, repeat: int) -> tuple[float, int]:
    """The anchor: the page query with psycopg, rows fetched as the API fetches them
    (binary protocol), not encoded."""
    times = []
    n = 0
    with psycopg.connect(libpq_url(url), options="-c TimeZone=UTC") as conn:
        for k in range(repeat):
            sql, params = results_sql(series_filter(models[k % len(models)], start), after=None)
            began = time.perf_counter()
            with conn.cursor(binary=True) as cur:
                rows = cur.execute(sql, {**params, "limit": 10_001}).fetchall()
            times.append(time.perf_counter() - began)
            n = len(rows)
    return statistics.median(times), n


def load_child(config: dict[str, Any], out: Path) -> None:
    base, token, models = config["base"], config["token"], config["models"]
    start = datetime.fromisoformat(config["from"])
    since = httpx.QueryParams({"from": config["from"]})

    def results_path(rng: random.Random) -> str:
        return f"/v1/results?model={rng.choice(models)}&{since}&limit=10000"

    def series_path(rng: random.Random) -> str:
        return f"/v1/results/series?model={rng.choice(models)}&{since}"

    def status_path(_rng: random.Random) -> str:
        return "/v1/status"

    figures: dict[str, Any] = {"series": [], "results": [], "status": []}
    direct_s, direct_rows = direct_p50(config["url"], models, start, config["direct_repeat"])
    figures["direct_p50_ms"] = round(direct_s * 1000, 2)
    figures["direct_rows"] = direct_rows
    # The floors of a call, one client: the framework alone (/healthz: no key, no query)
    # and the key check with a one-row query (/v1/alerts?limit=1).
    floors = {"healthz": "/healthz", "auth": "/v1/alerts?limit=1"}
    for name, fixed in floors.items():
        figures[name] = drive(base, token, lambda _rng, p=fixed: p, 1, min(config["duration"], 2))
    # The framework's floor at the highest concurrency: a route that does nothing.
    top = max(config["levels"])
    figures["healthz_top"] = drive(base, token, lambda _rng: "/healthz", top, config["duration"])
    for level in config["levels"]:
        for name, path in (
            ("series", series_path),
            ("results", results_path),
            ("status", status_path),
        ):
            figures[name].append(drive(base, token, path, level, config["duration"]))
    out.write_text(json.dumps(figures))


# --- the bench --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def wait_ready(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API at {base} was not ready in {timeout:.0f} s")


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def vm_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    n_models = args.models or (4 if args.quick else 20)
    days = args.days or (10 if args.quick else 30)
    duration = args.duration or (2.0 if args.quick else 15.0)
    end = floor_to(datetime.now(UTC), HOUR)
    start = end - timedelta(days=SERIES_DAYS)
    with ExitStack() as stack:
        url = scratch_postgres(stack, prefix="bench_api")
        began = time.perf_counter()
        n_results = store(url, n_models=n_models, n_features=args.features, days=days, end=end)
        stored_s = time.perf_counter() - began
        print(
            f"stored {n_models} models x {args.features} features x {days} days of hourly "
            f"runs: {n_results:,} results rows in {stored_s:.1f} s"
        )
        plan = explain(url, model_ids(n_models)[0], start)
        print("the 7-day query's plan:\n  " + "\n  ".join(plan))
        engine = make_engine(load_settings(database_url=url))
        with Session(engine) as session, session.begin():
            _, token = create_key(session, name=f"bench-{uuid.uuid4().hex[:6]}", scope="read")
        engine.dispose()

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DRIFTWARDEN_DATABASE_URL": url}
        api_cmd = [CLI, "api", "--host", "127.0.0.1", "--port", str(port)]
        # The API's log (one access line a call) goes to a file: shown if the API fails.
        log = stack.enter_context(tempfile.TemporaryFile("w+"))
        wrapper = subprocess.Popen(
            [sys.executable, "-c", RSS_WRAPPER, *api_cmd],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            wait_ready(base)
            [api_pid] = children(wrapper.pid)
            idle_mb = vm_rss_mb(api_pid)
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "figures.json"
                config = {
                    "base": base,
                    "token": token,
                    "url": url,
                    "models": model_ids(n_models),
                    "from": start.isoformat(),
                    "levels": [int(n) for n in args.levels.split(",")],
                    "duration": duration,
                    "direct_repeat": 20 if args.quick else 100,
                }
                (Path(tmp) / "config.json").write_text(json.dumps(config))
                child = [sys.executable, __file__, "--load-child", str(Path(tmp) / "config.json")]
                subprocess.run([*child, "--out", str(out)], check=True)
                figures = json.loads(out.read_text())
        except Exception:
            log.seek(0)
            print("the API's log ends:\n" + log.read()[-3000:], file=sys.stderr)
            raise
        finally:
            for pid in children(wrapper.pid):
                os.kill(pid, signal.SIGTERM)  # uvicorn shuts down; the wrapper then prints
            stdout, _ = wrapper.communicate(timeout=30)
        rss_mb = int(stdout.split()[-1]) / 1024
    return {
        "n_models": n_models,
        "n_features": args.features,
        "days": days,
        "results_rows": n_results,
        "store_s": round(stored_s, 1),
        "plan_uses_series_index": any("ix_results_series" in line for line in plan),
        "duration_s": duration,
        **figures,
        "api_peak_rss_mb": round(rss_mb),
        "api_idle_rss_mb": round(idle_mb),
    }


def report(f: dict[str, Any]) -> None:
    print(
        f"7-day series of one model: {f['direct_rows'] - 1:,} rows a call (the page reads "
        f"one more); direct SQL (psycopg, the anchor) p50 {f['direct_p50_ms']:.1f} ms"
    )
    for name in ("series", "results", "status"):
        print(f"GET /v1/{name}:")
        for level in f[name]:
            print(
                f"  {level['clients']:>3} clients: {level['per_s']:>7.1f} calls/s, p50 "
                f"{level['p50_ms']:>7.1f} ms, p95 {level['p95_ms']:>7.1f} ms, p99 "
                f"{level['p99_ms']:>7.1f} ms ({level['calls']} calls, {level['kb']:.0f} KB each)"
            )
    print(
        f"floors at 1 client: GET /healthz p50 {f['healthz']['p50_ms']:.1f} ms (no key, no "
        f"query); GET /v1/alerts?limit=1 p50 {f['auth']['p50_ms']:.1f} ms (key check + a "
        "one-row query)"
    )
    top = f["healthz_top"]
    at_top = f["series"][-1]
    print(
        f"the framework's floor at {top['clients']} clients: GET /healthz {top['per_s']:.0f} "
        f"calls/s, p99 {top['p99_ms']:.1f} ms; the 7-day series p99 is "
        f"{at_top['p99_ms'] / top['p99_ms']:.2f}x that"
    )
    one = f["results"][0]
    print(
        f"API p50 at {one['clients']} client(s) / direct SQL p50: "
        f"{one['p50_ms'] / f['direct_p50_ms']:.2f}x; "
        f"API peak RSS {f['api_peak_rss_mb']} MB (idle, once ready: {f['api_idle_rss_mb']} MB)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--models", type=int, help="default 20, quick 4")
    parser.add_argument("--features", type=int, default=25)
    parser.add_argument("--days", type=int, help="default 30, quick 10")
    parser.add_argument("--duration", type=float, help="seconds a level (default 10, quick 3)")
    parser.add_argument("--levels", default="1,10,50", help="concurrent clients per level")
    parser.add_argument("--load-child", metavar="CONFIG", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_child:
        load_child(json.loads(Path(args.load_child).read_text()), args.out)
        return 0
    figures = run(args)
    report(figures)
    at_50 = next((lv for lv in figures["series"] if lv["clients"] == 50), {"p99_ms": math.inf})
    targets = {"series_p99_ms_at_50_max": TARGET_P99_MS, "api_peak_rss_mb_max": TARGET_RSS_MB}
    passed = (
        at_50["p99_ms"] < TARGET_P99_MS
        and figures["api_peak_rss_mb"] < TARGET_RSS_MB
        and figures["plan_uses_series_index"]
    )
    summary = {
        "bench": "api",
        **{k: v for k, v in figures.items() if k not in ("series", "results", "status")},
        "series": figures["series"],
        "results": figures["results"],
        "status": figures["status"],
        "api_vs_direct_p50": round(figures["results"][0]["p50_ms"] / figures["direct_p50_ms"], 2),
        "series_p99_vs_healthz_p99_at_top": round(
            figures["series"][-1]["p99_ms"] / figures["healthz_top"]["p99_ms"], 2
        ),
        "targets": targets,
        "pass": passed,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
