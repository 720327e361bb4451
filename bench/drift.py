"""Drift check: Evidently 0.7's DataDriftPreset vs ``detect_drift(..., policy="evidently")``.

On the same data (25 features: 20 numerical, 5 categorical of 3, 10, 50, 200 and 1000
levels; mean shifts of 0.1-0.5 sd in 5 numerical columns and 10 points of probability mass
moved in one categorical), N rows in each of reference and current, measures in one run:

  evidently  detectors.backends.evidently.detect_drift (Evidently's DataDriftPreset itself)
  ours       detectors.detect_drift(reference, current, policy="evidently")
  sketch     the same 25 comparisons from stored per-column sketches (detectors.sketches):
             the sketches are built first (ingest's job), only the comparisons are timed

Each run of each one is a fresh worker process (``--worker IMPL``) that generates the
data from the seed, warms the check up on a small sample of the same shape, then reads
VmRSS and VmHWM from /proc/self/status, resets VmHWM (/proc/self/clear_refs) and runs the
check once: its peak RSS is VmHWM after the check (the data and imported libraries
included), the increase is that peak minus the RSS before the check. The worker sends its
figures and every column's method, score (p-value of a p-value test, distance of a
distance) and verdict to the parent as one JSON line on stdout.

Prints medians over --repeat runs, the speed and memory ratios, the largest difference in
any column's score between the two, and whether every column's method and verdict agree,
then one JSON line; ``pass`` checks the targets at the largest N measured.

    python bench/drift.py [--quick] [--n N ...] [--repeat K] [--seed S]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

N_NUM = 20
NUM = [f"n{i:02d}" for i in range(N_NUM)]
CARDINALITIES = {"c0": 3, "c1": 10, "c2": 50, "c3": 200, "c4": 1000}
CAT = list(CARDINALITIES)
# Current-side mean shifts, in standard deviations of the column's distribution.
SHIFTS = {"n00": 0.1, "n01": 0.2, "n02": 0.3, "n03": 0.4, "n04": 0.5}
# Current side of this column: this much probability moves from its most to its least
# frequent level (Jensen-Shannon distance about 0.14, so drift at Evidently's 0.1).
SHARE_CHANGE = ("c1", 0.10)
ZIPF = 1.1  # level k has weight 1 / (k + 1) ** ZIPF

FULL_NS = (10_000, 100_000, 1_000_000)
QUICK_NS = (10_000,)  # one Evidently run at 10^5 takes ~25 s of the minute --quick has
# Above Evidently's 1000-row cut, so the warm-up takes the same paths (and below half distinct
# values in the 1000-level column, which Evidently would call text).
WARMUP_ROWS = 2_000
SLOW_EVIDENTLY_S = 60.0  # a single Evidently run slower than this: run it once at that N
WORKER_TIMEOUT_S = 3600
# The sketch comparisons of every column (distances on the bins), and of numerical ones (the
# binned ks and wasserstein, with bounds on the exact value).
BINNED = ("jensenshannon", "psi")
EXACT_BOUNDED = ("ks", "wasserstein")
# Categorical sketch layouts keep every level here (the default keeps the top 50 and counts
# the rest as one "other" bin), so the categorical comparisons are the exact check's.
SKETCH_TOP_K = max(CARDINALITIES.values())

TARGET_SPEEDUP = 20.0
TARGET_MAX_DIFF = 1e-9
TARGET_RSS_RATIO = 1 / 3
TARGET_SKETCH_MS = 50.0

Columns = dict[str, npt.NDArray[Any]]
_LABELS = {
    col: np.array([f"{col}_{k:04d}" for k in range(card)], dtype=object)
    for col, card in CARDINALITIES.items()
}


T = TypeVar("T")


# --- data ----------------------------------------------------------------------------------


def _numerical(rng: np.random.Generator, i: int, n: int, shift_sd: float) -> npt.NDArray[Any]:
    """Column ``i``: normal, lognormal, exponential or normal rounded to 0.1 (ties), by
    ``i % 4``, shifted by ``shift_sd`` of the distribution's standard deviation."""
    scale = 1.0 + i / 4
    shape = i % 4
    if shape == 0:
        return rng.normal(10.0 * i + shift_sd * scale, scale, n)
    if shape == 1:
        sigma = 0.5
        sd = scale * math.sqrt((math.exp(sigma**2) - 1) * math.exp(sigma**2))
        x = rng.lognormal(0.0, sigma, n)
        x *= scale
        x += shift_sd * sd
        return x
    if shape == 2:
        x = rng.exponential(scale, n)
        x += shift_sd * scale
        return x
    return np.round(rng.normal(10.0 * i + shift_sd * scale, scale, n), 1)


def _categorical(rng: np.random.Generator, col: str, n: int, current: bool) -> npt.NDArray[Any]:
    """Object array of shared label strings, Zipf-like shares; the share change on the
    current side of ``SHARE_CHANGE``'s column."""
    card = CARDINALITIES[col]
    weights = 1.0 / np.arange(1, card + 1) ** ZIPF
    p = weights / weights.sum()
    if current and col == SHARE_CHANGE[0]:
        p[0] -= SHARE_CHANGE[1]
        p[-1] += SHARE_CHANGE[1]
    labels: npt.NDArray[Any] = _LABELS[col][rng.choice(card, n, p=p)]
    return labels


def make_data(n: int, seed: int) -> tuple[Columns, Columns]:
    """Reference and current, ``n`` rows each; every column has its own random stream, so
    the data depend only on (n, seed)."""
    sides: list[Columns] = []
    for side in (0, 1):
        data: Columns = {}
        for i, col in enumerate(NUM):
            rng = np.random.default_rng([seed, side, i])
            data[col] = _numerical(rng, i, n, SHIFTS.get(col, 0.0) if side else 0.0)
        for j, col in enumerate(CAT):
            rng = np.random.default_rng([seed, side, N_NUM + j])
            data[col] = _categorical(rng, col, n, current=bool(side))
        sides.append(data)
    return sides[0], sides[1]


# --- worker --------------------------------------------------------------------------------


def status_mb() -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of this process in MB, from /proc (NaN where absent)."""
    text = Path("/proc/self/status").read_text()
    out = {}
    for key in ("VmRSS", "VmHWM"):
        match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
        out[key] = int(match.group(1)) / 1024 if match else math.nan
    return out


def reset_hwm() -> bool:
    """Set VmHWM back to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _score(method_p_value: float | None, statistic: float) -> float:
    return statistic if method_p_value is None else method_p_value


def _drift_columns(result: Any) -> list[dict[str, Any]]:
    return [
        {
            "column": c.column,
            "kind": c.kind,
            "method": c.method,
            "score": _score(c.p_value, c.statistic),
            "drifted": c.drifted,
        }
        for c in result.columns
    ]


def _check_function(impl: str) -> Callable[[Columns, Columns], Any]:
    if impl == "evidently":
        # Imported before the measurement: the library's import is not the check's memory.
        import evidently.presets  # noqa: PLC0415, F401
        import pandas  # noqa: PLC0415, F401

        from detectors.backends.evidently import detect_drift as evidently_drift  # noqa: PLC0415

        return evidently_drift
    from detectors import detect_drift  # noqa: PLC0415

    return lambda ref, cur: detect_drift(ref, cur, policy="evidently")


def measure_call(call: Callable[[], T]) -> tuple[T, dict[str, Any]]:
    """``call()``'s result and its cost: wall seconds, the RSS before it, and the peak RSS
    during it (VmHWM reset first where Linux allows; else the process's peak so far)."""
    gc.collect()
    before = status_mb()
    reset = reset_hwm()
    began = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - began
    after = status_mb()
    peak = after["VmHWM"] if reset else max(after["VmHWM"], before["VmHWM"])
    return result, {
        "seconds": seconds,
        "rss_before_mb": before["VmRSS"],
        "hwm_before_mb": before["VmHWM"],
        "hwm_reset": reset,
        "peak_mb": peak,
    }


def run_check_worker(impl: str, n: int, seed: int) -> dict[str, Any]:
    check = _check_function(impl)
    check(*make_data(WARMUP_ROWS, seed + 1))  # lazy imports and first-call costs
    ref, cur = make_data(n, seed)
    result, cost = measure_call(lambda: check(ref, cur))
    return {
        "impl": impl,
        "n": n,
        "seconds": cost["seconds"],
        "rss_before_mb": cost["rss_before_mb"],
        "hwm_before_mb": cost["hwm_before_mb"],
        "hwm_reset": cost["hwm_reset"],
        "peak_rss_mb": cost["peak_mb"],
        "check_rss_mb": cost["peak_mb"] - cost["rss_before_mb"],
        "columns": _drift_columns(result),
        "drift_share": result.drift_share,
        "dataset_drift": result.dataset_drift,
    }


def _sketch_plan(ref: Columns) -> dict[str, str]:
    """The method per column the sketch check uses: the policy's at N > 1000 (wasserstein
    on numbers, binned; jensenshannon on categories)."""
    return {col: ("wasserstein" if col in NUM else "jensenshannon") for col in ref}


def run_sketch_worker(n: int, seed: int) -> dict[str, Any]:
    from detectors import sketches as sk  # noqa: PLC0415
    from detectors import stattest  # noqa: PLC0415

    def build(ref: Columns, cur: Columns) -> tuple[dict[str, Any], dict[str, Any]]:
        ref_sketches, cur_sketches = {}, {}
        for col in ref:
            layout: Any = (
                sk.NumericLayout.from_reference(ref[col])
                if col in NUM
                else sk.CategoricalLayout.from_reference(ref[col], top_k=SKETCH_TOP_K)
            )
            ref_sketches[col] = sk.sketch(ref[col], layout)
            cur_sketches[col] = sk.sketch(cur[col], layout)
        return ref_sketches, cur_sketches

    def compare_all(
        ref_s: Mapping[str, Any], cur_s: Mapping[str, Any], plan: Mapping[str, str]
    ) -> dict[str, Any]:
        return {col: sk.compare(ref_s[col], cur_s[col], plan[col]) for col in plan}

    small_ref, small_cur = make_data(WARMUP_ROWS, seed + 1)
    compare_all(*build(small_ref, small_cur), _sketch_plan(small_ref))
    ref, cur = make_data(n, seed)
    plan = _sketch_plan(ref)
    ref_sketches, cur_sketches = build(ref, cur)
    del ref, cur
    gc.collect()
    began = time.perf_counter()
    results = compare_all(ref_sketches, cur_sketches, plan)
    seconds = time.perf_counter() - began
    # Every method the sketches offer on each column's kind, timed the same way.
    every = {col: (*BINNED, *(EXACT_BOUNDED if col in NUM else ())) for col in plan}
    began = time.perf_counter()
    n_every = 0
    for col, methods in every.items():
        for m in methods:
            sk.compare(ref_sketches[col], cur_sketches[col], m)
            n_every += 1
    seconds_every = time.perf_counter() - began
    columns = []
    for col, res in results.items():
        method = plan[col]
        columns.append(
            {
                "column": col,
                "kind": "numerical" if col in NUM else "categorical",
                "method": method,
                "score": _score(res.p_value, res.statistic),
                "drifted": bool(stattest(method).drifted(res)),
                "bounds": list(res.bounds) if res.bounds is not None else None,
            }
        )
    return {
        "impl": "sketch",
        "n": n,
        "seconds": seconds,
        "comparisons": len(results),
        "seconds_every": seconds_every,
        "comparisons_every": n_every,
        "columns": columns,
    }


def sketches_available() -> str | None:
    """None when detectors.sketches offers what the sketch check needs, else why not."""
    try:
        from detectors import sketches as sk  # noqa: PLC0415
    except ImportError as exc:
        return f"detectors.sketches does not import ({exc})"
    missing = [
        name
        for name in ("NumericLayout", "CategoricalLayout", "sketch", "compare")
        if not hasattr(sk, name)
    ]
    return f"detectors.sketches has no {', '.join(missing)}" if missing else None


def worker_main(impl: str, n: int, seed: int) -> int:
    out = run_sketch_worker(n, seed) if impl == "sketch" else run_check_worker(impl, n, seed)
    print("RESULT " + json.dumps(out), flush=True)
    return 0


# --- parent --------------------------------------------------------------------------------


def spawn(impl: str, n: int, seed: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", impl]
    cmd += ["--n", str(n), "--seed", str(seed)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, check=False
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr[-4000:])
        raise RuntimeError(f"worker {impl} at N={n} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return result


def _diff(a: float, b: float) -> float:
    if a == b:  # equal infinities too
        return 0.0
    if math.isnan(a) and math.isnan(b):
        return 0.0
    d = abs(a - b)
    return math.inf if math.isnan(d) else d


def compare_columns(
    theirs: list[dict[str, Any]],
    ours: list[dict[str, Any]],
    names: tuple[str, str] = ("evidently", "ours"),
) -> dict[str, Any]:
    """Largest score difference, and the columns whose method, kind or verdict differ."""
    t_by, o_by = {c["column"]: c for c in theirs}, {c["column"]: c for c in ours}
    disagree: list[dict[str, Any]] = []
    for col in sorted(t_by.keys() ^ o_by.keys()):
        disagree.append({"column": col, "only_in": names[0] if col in t_by else names[1]})
    worst, worst_col = 0.0, None
    for col in [c["column"] for c in theirs if c["column"] in o_by]:
        t, o = t_by[col], o_by[col]
        d = _diff(float(t["score"]), float(o["score"]))
        if worst_col is None or d > worst:
            worst, worst_col = d, col
        if (t["method"], t["kind"], t["drifted"]) != (o["method"], o["kind"], o["drifted"]):
            disagree.append(
                {
                    "column": col,
                    names[0]: {k: t[k] for k in ("kind", "method", "score", "drifted")},
                    names[1]: {k: o[k] for k in ("kind", "method", "score", "drifted")},
                }
            )
    shared = t_by.keys() & o_by.keys()
    return {
        "max_score_diff": worst,
        "max_score_diff_column": worst_col,
        "columns": len(shared),
        "methods_agree": sum(t_by[c]["method"] == o_by[c]["method"] for c in shared),
        "verdicts_agree": sum(t_by[c]["drifted"] == o_by[c]["drifted"] for c in shared),
        "all_agree": not disagree and len(shared) == len(theirs) == len(ours),
        "disagreements": disagree,
    }


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def fmt_n(n: int) -> str:
    exp = math.log10(n)
    return f"10^{exp:.0f}" if exp.is_integer() else f"{n:,}"


def measure(n: int, repeat: int, repeat_given: bool, seed: int, sketch_ok: bool) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"evidently": [], "ours": [], "sketch": []}
    ev_repeat = repeat
    note = None
    for i in range(repeat):
        if i < ev_repeat:
            runs["evidently"].append(spawn("evidently", n, seed))
            first = runs["evidently"][0]["seconds"]
            if i == 0 and not repeat_given and repeat > 1 and first > SLOW_EVIDENTLY_S:
                ev_repeat = 1
                note = (
                    f"a single Evidently run took {first:.0f} s (> {SLOW_EVIDENTLY_S:.0f} s): "
                    f"Evidently run once at N={fmt_n(n)}, ours {repeat} times"
                )
                print(f"  note: {note}")
        runs["ours"].append(spawn("ours", n, seed))
        if sketch_ok:
            runs["sketch"].append(spawn("sketch", n, seed))
        parts = []
        if i < len(runs["evidently"]):
            e = runs["evidently"][i]
            parts.append(
                f"Evidently {e['seconds']:.3f} s (peak RSS {e['peak_rss_mb']:.0f} MB, "
                f"+{e['check_rss_mb']:.0f} MB)"
            )
        o = runs["ours"][i]
        parts.append(
            f"ours {o['seconds']:.3f} s (peak RSS {o['peak_rss_mb']:.0f} MB, "
            f"+{o['check_rss_mb']:.0f} MB)"
        )
        if sketch_ok:
            parts.append(f"sketches {runs['sketch'][i]['seconds'] * 1000:.2f} ms")
        print(f"  N={fmt_n(n)} run {i + 1}: " + ", ".join(parts), flush=True)

    def med(impl: str, key: str) -> float:
        return float(statistics.median(r[key] for r in runs[impl]))

    ev, ours = runs["evidently"], runs["ours"]
    # Every run of one implementation must give the same methods and verdicts (the data are
    # the same); scores may differ in the last bits, as categories are summed in the order
    # of a set of strings, which changes with each process's string hashing.
    spread = 0.0
    for impl in ("evidently", "ours"):
        for r in runs[impl][1:]:
            same = compare_columns(runs[impl][0]["columns"], r["columns"], (impl, impl))
            spread = max(spread, same["max_score_diff"])
            if not same["all_agree"]:
                print(f"  WARNING: {impl}'s verdicts differ across runs at N={n}: {same}")
    agreement = compare_columns(ev[0]["columns"], ours[0]["columns"])
    fig: dict[str, Any] = {
        "n": n,
        "runs_evidently": len(ev),
        "runs_ours": len(ours),
        "evidently_s": med("evidently", "seconds"),
        "ours_s": med("ours", "seconds"),
        "evidently_peak_rss_mb": med("evidently", "peak_rss_mb"),
        "ours_peak_rss_mb": med("ours", "peak_rss_mb"),
        "evidently_check_rss_mb": med("evidently", "check_rss_mb"),
        "ours_check_rss_mb": med("ours", "check_rss_mb"),
        "data_rss_mb": med("ours", "rss_before_mb"),
        "hwm_reset": all(r["hwm_reset"] for r in ev + ours),
        "drifted_evidently": sum(c["drifted"] for c in ev[0]["columns"]),
        "drifted_ours": sum(c["drifted"] for c in ours[0]["columns"]),
        "dataset_drift_agree": ev[0]["dataset_drift"] == ours[0]["dataset_drift"],
        "score_spread_across_runs": spread,
        **agreement,
    }
    fig["speedup"] = fig["evidently_s"] / fig["ours_s"]
    fig["peak_rss_ratio"] = fig["ours_peak_rss_mb"] / fig["evidently_peak_rss_mb"]
    fig["check_rss_ratio"] = (
        fig["ours_check_rss_mb"] / fig["evidently_check_rss_mb"]
        if fig["evidently_check_rss_mb"] > 0
        else math.nan
    )
    if note:
        fig["note"] = note
    if sketch_ok:
        sk = runs["sketch"]
        fig["sketch_ms"] = med("sketch", "seconds") * 1000
        fig["sketch_comparisons"] = sk[0]["comparisons"]
        fig["sketch_every_ms"] = med("sketch", "seconds_every") * 1000
        fig["sketch_every_comparisons"] = sk[0]["comparisons_every"]
        vs_exact = compare_columns(ours[0]["columns"], sk[0]["columns"], ("exact", "sketch"))
        fig["sketch_vs_exact_max_diff"] = vs_exact["max_score_diff"]
        fig["sketch_vs_exact_max_diff_column"] = vs_exact["max_score_diff_column"]
        fig["sketch_verdicts_agree"] = vs_exact["verdicts_agree"]
        fig["sketch_disagreements"] = vs_exact["disagreements"]
    return fig


def report(fig: dict[str, Any], sketch_ok: bool) -> None:
    n = fig["n"]
    print(
        f"N={fmt_n(n)} rows per side, medians of {fig['runs_evidently']} Evidently and "
        f"{fig['runs_ours']} of our runs (data alone: {fig['data_rss_mb']:.0f} MB RSS):"
    )
    print(
        f"  Evidently DataDriftPreset        {fig['evidently_s']:9.3f} s   peak RSS "
        f"{fig['evidently_peak_rss_mb']:6.0f} MB (check +{fig['evidently_check_rss_mb']:.0f} MB)"
    )
    print(
        f"  detect_drift(policy='evidently') {fig['ours_s']:9.3f} s   peak RSS "
        f"{fig['ours_peak_rss_mb']:6.0f} MB (check +{fig['ours_check_rss_mb']:.0f} MB)"
    )
    print(
        f"  speed ratio {fig['speedup']:.1f}x; peak RSS ours/Evidently "
        f"{fig['peak_rss_ratio']:.2f} (check increase {fig['check_rss_ratio']:.2f})"
    )
    print(
        f"  largest score difference {fig['max_score_diff']:.3g} "
        f"(column {fig['max_score_diff_column']}); methods agree {fig['methods_agree']}/"
        f"{fig['columns']}, verdicts agree {fig['verdicts_agree']}/{fig['columns']} "
        f"(drifted: Evidently {fig['drifted_evidently']}, ours {fig['drifted_ours']}; "
        f"dataset verdict {'agrees' if fig['dataset_drift_agree'] else 'DIFFERS'})"
    )
    for d in fig["disagreements"]:
        print(f"  DISAGREEMENT {json.dumps(d)}")
    if sketch_ok:
        print(
            f"  sketch check: {fig['sketch_ms']:.2f} ms for {fig['sketch_comparisons']} "
            f"comparisons (every method: {fig['sketch_every_ms']:.2f} ms for "
            f"{fig['sketch_every_comparisons']}); vs the exact check: largest score "
            f"difference {fig['sketch_vs_exact_max_diff']:.3g} "
            f"(column {fig['sketch_vs_exact_max_diff_column']}), verdicts agree "
            f"{fig['sketch_verdicts_agree']}/{fig['columns']}"
        )
        for d in fig["sketch_disagreements"]:
            print(f"  sketch verdict differs from the exact one: {json.dumps(d)}")
    else:
        print("  sketch check: not available")


def _round(v: Any) -> Any:
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return float(f"{v:.4g}")
    return v


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, nargs="+", help="rows per side (default 10^4..10^6)")
    parser.add_argument("--repeat", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=("evidently", "ours", "sketch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker_main(args.worker, args.n[0], args.seed)

    ns = sorted(args.n or (QUICK_NS if args.quick else FULL_NS))
    repeat = args.repeat or 3
    why_not = sketches_available()
    if why_not:
        print(f"sketch check: not available ({why_not})")
    print(
        f"{N_NUM} numerical + {len(CAT)} categorical columns (levels "
        f"{', '.join(map(str, CARDINALITIES.values()))}); shifts: "
        f"{', '.join(f'{c} +{s} sd' for c, s in SHIFTS.items())}, {SHARE_CHANGE[0]} "
        f"{SHARE_CHANGE[1]:.0%} of mass moved; seed {args.seed}; N = "
        f"{', '.join(fmt_n(n) for n in ns)} per side; load average {load_average()}"
    )
    figures: list[dict[str, Any]] = []
    for n in ns:
        figures.append(measure(n, repeat, args.repeat is not None, args.seed, why_not is None))
    load_end = load_average()
    print(f"\nload average at the end {load_end} ({os.cpu_count()} CPUs)")
    for fig in figures:
        report(fig, why_not is None)

    last = figures[-1]
    checks = {
        "speedup": last["speedup"] >= TARGET_SPEEDUP,
        "verdicts_identical": bool(last["all_agree"] and last["dataset_drift_agree"]),
        "max_score_diff": last["max_score_diff"] <= TARGET_MAX_DIFF,
        "peak_rss_ratio": last["peak_rss_ratio"] <= TARGET_RSS_RATIO,
    }
    targets: dict[str, Any] = {
        "checked_at_n": last["n"],
        "speedup": f">={TARGET_SPEEDUP:g}",
        "verdicts_identical": "every column's method and verdict, and the dataset verdict",
        "max_score_diff": f"<={TARGET_MAX_DIFF:g}",
        "peak_rss_ratio": "<=1/3 (ours / Evidently peak RSS)",
    }
    if why_not is None:
        checks["sketch_ms"] = last["sketch_ms"] < TARGET_SKETCH_MS
        targets["sketch_ms"] = f"<{TARGET_SKETCH_MS:g}"
    else:
        targets["sketch_ms"] = "not available: not checked"
    targets["met"] = checks
    passed = all(checks.values())
    scope = (
        "the largest N run (--quick; the targets are meant for N=10^6)"
        if args.quick or last["n"] < FULL_NS[-1]
        else "the largest N"
    )
    print(
        f"targets at N={fmt_n(last['n'])}, {scope}: "
        + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in checks.items())
        + f" -> {'pass' if passed else 'FAIL'}"
    )
    per_n = {
        f"n_{f['n']}": {k: _round(v) for k, v in f.items() if k not in ("n",)} for f in figures
    }
    print(
        json.dumps(
            {
                "bench": "drift",
                "repeat": repeat,
                "quick": args.quick,
                "load_average_end": load_end,
                **per_n,
                "targets": targets,
                "pass": passed,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
