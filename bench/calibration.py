"""Calibration of the drift policies: false alarms with no drift, detection rates by N.

25 columns, 20 numerical (6 normal, 4 lognormal, 4 exponential, 6 integer-valued Poisson)
and 5 categorical (strings; 3, 10, 50, 200 and 1,000 levels with Zipf-skewed shares),
N rows per side. Each trial draws a fresh reference and a fresh current sample from the
same distribution (the "no drift" dataset) and a shifted current, and runs on both:

  default     detect_drift(ref, cur): ks / chisquare, Bonferroni over the 25 columns,
              effect floors 0.025 (KS D) and 0.03 (TVD)
  evidently   detect_drift(ref, cur, policy="evidently"): Evidently 0.7's choice
  bonferroni  TabularDrift's default rule, reimplemented with our registry's tests (NOT
              Alibi Detect): a column drifts iff its ks / chisquare p-value < 0.05 / 25,
              the dataset iff any column does. The p-values are the default policy's own
              (the same registry ks / chisquare on the same data), so it costs nothing.
  alibi       Alibi Detect's TabularDrift(p_val=0.05, correction="bonferroni"), only when
              alibi_detect is importable (it pins numpy<2; not installed here)

Printed: the false alarm rate with no drift, as the share of trials with the dataset
declared drifted (``dataset_drift``: share of drifted columns >= 0.5, for default and
evidently; any column for TabularDrift's rule) and with ANY column flagged (the
family-wise rate, what a per-feature alert sees); and the detection rate, the share of
trials whose shifted column is flagged, for mean shifts of 0.01, 0.05, 0.1 and 0.25 sd
in a normal column and a 5-point share change (most frequent level -> second) in the
10-level categorical. Rates come with 95% Wilson intervals.

The shifted current is the no-drift current with FIVE columns changed at once, one per
shift scenario (n00 +0.01 sd, n01 +0.05 sd, n02 +0.1 sd, n03 +0.25 sd, c1 5 points): all
25 columns are still tested, and every policy here decides a column from that column's
data alone (Bonferroni's threshold 0.05 / 25 does not depend on the other p-values), so
each shifted column's verdict is distributed exactly as in a dataset where it alone is
shifted. It saves four 25-column runs per trial. The reference is NOT reused across
trials: generating data is cheap next to testing it, and independent trials are what
the Wilson intervals assume.

Targets (all of them make the final JSON's "pass"; a target whose N was not run is listed
as unchecked and left out):
  - default, any column flagged with no drift, at every N: at most 5%, up to binomial
    noise (fails only if the lower end of the 95% Wilson interval exceeds 5%)
  - default detects the 0.1 sd shift at every N >= 10^4 in at least 95% of trials
  - default flags the 0.01 sd shift at N = 10^6 in at most 5% of trials

Cost on this machine (2 cores, 2 workers, otherwise idle): one trial (generating 3 x 25
columns, then 4 detect_drift calls) takes about 0.04 s of a worker at 10^3 rows per side,
0.16 s at 10^4, 1.4 s at 10^5 and 13 s at 10^6. So the full default run (200 trials at
each of the four N) takes about 25 minutes, 22 of them at 10^6; `--trials 200,200,200,40`
took 7 minutes, `--trials 200,200,200,100` 14 minutes and --quick 6 seconds. With another
CPU-bound job on the machine every figure doubles (50 minutes for the full run). Each
run prints its own measured times and, from them, an estimate of the full run.

    python bench/calibration.py [--quick] [--trials T | T1,T2,..] [--sizes N1,N2,..]
                                [--workers 2] [--seed 0] [--markdown PATH]

--quick: N = 10^3 and 10^4, 50 trials (under a minute). Trials are seeded from
(--seed, N, trial index), so a run is reproducible whatever the worker count.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import shlex
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors import detect_drift

Array = npt.NDArray[Any]
Dataset = dict[str, Array]

ALPHA = 0.05
Z95 = 1.959963984540054
DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000)
DEFAULT_TRIALS = 200
QUICK_SIZES = (1_000, 10_000)
QUICK_TRIALS = 50
# Worker seconds per trial by N, measured on this machine (2 cores, 2 workers, see above):
# only to extrapolate the full run's time from a run that left out some sizes.
PROFILE = {1_000: 0.04, 10_000: 0.16, 100_000: 1.39, 1_000_000: 13.3}


@dataclass(frozen=True)
class Numerical:
    name: str
    shape: str  # normal (loc, scale), lognormal (0, sigma), exponential (scale), poisson (lam)
    a: float
    b: float = 0.0

    def draw(self, rng: np.random.Generator, n: int) -> Array:
        if self.shape == "normal":
            return rng.normal(self.a, self.b, n)
        if self.shape == "lognormal":
            return rng.lognormal(0.0, self.a, n)
        if self.shape == "exponential":
            return rng.exponential(self.a, n)
        return rng.poisson(self.a, n)  # int64: integer-valued


@dataclass(frozen=True)
class Categorical:
    name: str
    levels: int

    @property
    def shares(self) -> npt.NDArray[np.float64]:
        weights = 1.0 / np.arange(1, self.levels + 1)  # Zipf, s = 1: skewed
        shares: npt.NDArray[np.float64] = weights / weights.sum()
        return shares

    @property
    def labels(self) -> Array:
        # An object array of str, as a pandas column of strings is; indexing it by codes
        # shares the str objects (no per-row allocation).
        return np.array([f"{self.name}_{k:04d}" for k in range(self.levels)], dtype=object)

    def draw(self, rng: np.random.Generator, n: int, shares: Array | None = None) -> Array:
        p = self.shares if shares is None else shares
        codes = np.searchsorted(np.cumsum(p), rng.random(n), side="right")
        return self.labels[np.minimum(codes, self.levels - 1)]


NUMERICAL = (
    Numerical("n00", "normal", 0.0, 1.0),
    Numerical("n01", "normal", 50.0, 10.0),
    Numerical("n02", "normal", -3.0, 0.2),
    Numerical("n03", "normal", 1000.0, 100.0),
    Numerical("n04", "normal", 0.0, 1.0),
    Numerical("n05", "normal", 5.0, 3.0),
    Numerical("n06", "lognormal", 0.25),
    Numerical("n07", "lognormal", 0.5),
    Numerical("n08", "lognormal", 1.0),
    Numerical("n09", "lognormal", 2.0),
    Numerical("n10", "exponential", 1.0),
    Numerical("n11", "exponential", 0.1),
    Numerical("n12", "exponential", 10.0),
    Numerical("n13", "exponential", 1000.0),
    Numerical("n14", "poisson", 0.5),
    Numerical("n15", "poisson", 2.0),
    Numerical("n16", "poisson", 5.0),
    Numerical("n17", "poisson", 20.0),
    Numerical("n18", "poisson", 100.0),
    Numerical("n19", "poisson", 1000.0),
)
CATEGORICAL = tuple(Categorical(f"c{i}", levels) for i, levels in enumerate((3, 10, 50, 200, 1000)))
N_COLUMNS = len(NUMERICAL) + len(CATEGORICAL)
BONFERRONI = ALPHA / N_COLUMNS

# Shift scenarios: (label, column, size). Mean shifts in sd of a normal column; the
# categorical one moves `size` of probability mass from the most frequent level to the
# second most frequent (total variation distance = size).
MEAN_SHIFTS = (
    ("mean +0.01 sd", "n00", 0.01),
    ("mean +0.05 sd", "n01", 0.05),
    ("mean +0.1 sd", "n02", 0.1),
    ("mean +0.25 sd", "n03", 0.25),
)
CATEGORY_SHIFT = ("share 5 points", "c1", 0.05)
SCENARIOS = tuple(label for label, _, _ in (*MEAN_SHIFTS, CATEGORY_SHIFT))
SHIFTED_COLUMN = {label: col for label, col, _ in (*MEAN_SHIFTS, CATEGORY_SHIFT)}

POLICIES = ("default", "evidently", "bonferroni", "alibi")
# TabularDrift's dataset verdict IS "any column below 0.05 / 25": one column in the table.
ANY_IS_DATASET = frozenset({"bonferroni", "alibi"})
POLICY_TITLES = {
    "default": "default",
    "evidently": "evidently",
    "bonferroni": "bonferroni KS/chi2 (TabularDrift's rule, ours)",
    "alibi": "alibi TabularDrift",
}


def alibi_status() -> str | None:
    """None when Alibi Detect's TabularDrift is importable, else why not."""
    try:
        from alibi_detect.cd import TabularDrift  # type: ignore[import-not-found, unused-ignore]  # noqa: F401, PLC0415
    except Exception as exc:  # ImportError, or a broken install (numpy<2 pin)
        return f"{type(exc).__name__}: {exc}"
    return None


# --- one trial -----------------------------------------------------------------------------


def draw_dataset(rng: np.random.Generator, n: int) -> Dataset:
    data: Dataset = {c.name: c.draw(rng, n) for c in NUMERICAL}
    data.update({c.name: c.draw(rng, n) for c in CATEGORICAL})
    return data


def shifted(rng: np.random.Generator, current: Dataset, n: int) -> Dataset:
    """``current`` with the five scenario columns shifted (the others are shared)."""
    out = dict(current)
    spec = {c.name: c for c in NUMERICAL}
    for _, col, size in MEAN_SHIFTS:
        out[col] = current[col] + size * spec[col].b
    _, col, size = CATEGORY_SHIFT
    cat = next(c for c in CATEGORICAL if c.name == col)
    shares = cat.shares.copy()
    shares[0] -= size
    shares[1] += size
    out[col] = cat.draw(rng, n, shares)
    return out


@dataclass
class Verdicts:
    """One policy on one dataset: the dataset verdict and the flagged columns."""

    dataset: bool
    flagged: tuple[str, ...]


def run_default(ref: Dataset, cur: Dataset) -> tuple[Verdicts, Verdicts]:
    """The default policy, and TabularDrift's rule on the same registry p-values."""
    res = detect_drift(ref, cur)
    assert len(res.columns) == N_COLUMNS
    assert all(math.isclose(c.threshold, BONFERRONI) for c in res.columns)
    bonf = tuple(c.column for c in res.columns if c.p_value is not None and c.p_value < BONFERRONI)
    return Verdicts(res.dataset_drift, res.drifted_columns), Verdicts(bool(bonf), bonf)


def run_evidently(ref: Dataset, cur: Dataset) -> Verdicts:
    res = detect_drift(ref, cur, policy="evidently")
    assert len(res.columns) == N_COLUMNS
    return Verdicts(res.dataset_drift, res.drifted_columns)


def run_alibi(ref: Dataset, cur: Dataset) -> Verdicts:
    """Alibi Detect's TabularDrift, default p_val 0.05 and Bonferroni, batch verdict.

    Categorical columns go in as integer codes (the level's index), as TabularDrift needs.
    Not exercised in our environment (alibi_detect is not installed there).
    """
    from alibi_detect.cd import TabularDrift  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415

    names = [c.name for c in NUMERICAL] + [c.name for c in CATEGORICAL]
    codes = {c.name: {label: k for k, label in enumerate(c.labels)} for c in CATEGORICAL}

    def matrix(data: Dataset) -> npt.NDArray[np.float64]:
        cols = [np.asarray(data[c.name], dtype=np.float64) for c in NUMERICAL]
        cols += [
            np.fromiter(map(codes[c.name].__getitem__, data[c.name]), np.float64)
            for c in CATEGORICAL
        ]
        return np.column_stack(cols)

    first_cat = len(NUMERICAL)
    detector = TabularDrift(
        matrix(ref),
        p_val=ALPHA,
        categories_per_feature={first_cat + i: None for i in range(len(CATEGORICAL))},
        correction="bonferroni",
    )
    pred = detector.predict(matrix(cur), drift_type="batch", return_p_val=True)
    p_val = np.asarray(pred["data"]["p_val"], dtype=np.float64)
    flagged = tuple(name for name, p in zip(names, p_val, strict=True) if p < BONFERRONI)
    return Verdicts(bool(pred["data"]["is_drift"]), flagged)


@dataclass
class TrialResult:
    n: int
    trial: int
    null: dict[str, Verdicts] = field(default_factory=dict)
    shift: dict[str, Verdicts] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: Counter[str] = field(default_factory=Counter)


def run_trial(task: tuple[int, int, int, bool]) -> TrialResult:
    n, trial, seed, with_alibi = task
    rng = np.random.default_rng(np.random.SeedSequence([seed, n, trial]))
    out = TrialResult(n=n, trial=trial)
    began = time.perf_counter()
    ref = draw_dataset(rng, n)
    cur = draw_dataset(rng, n)
    cur_shifted = shifted(rng, cur, n)
    out.seconds["generate"] = time.perf_counter() - began
    runners: list[tuple[str, Callable[[Dataset, Dataset], Any]]] = [
        ("default", run_default),
        ("evidently", run_evidently),
    ]
    if with_alibi:
        runners.append(("alibi", run_alibi))
    for name, runner in runners:
        began = time.perf_counter()
        for verdicts, data in ((out.null, cur), (out.shift, cur_shifted)):
            # Counted and reported once per size instead of printed by every worker.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                got = runner(ref, data)
            out.warnings.update(f"{name}: {w.category.__name__}: {w.message}" for w in caught)
            if name == "default":
                verdicts["default"], verdicts["bonferroni"] = got
            else:
                verdicts[name] = got
        out.seconds[name] = time.perf_counter() - began
    return out


# --- figures ---------------------------------------------------------------------------------


def wilson(k: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion k / n."""
    if n == 0:
        return 0.0, 1.0
    p, z2 = k / n, Z95 * Z95
    denom = 1.0 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, center - half), min(1.0, center + half)


@dataclass(frozen=True)
class Rate:
    k: int
    n: int

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.k, self.n)

    def cell(self) -> str:
        lo, hi = self.interval
        return f"{100 * self.rate:5.1f}% [{100 * lo:4.1f}, {100 * hi:5.1f}]"

    def as_json(self) -> dict[str, Any]:
        lo, hi = self.interval
        return {
            "k": self.k,
            "n": self.n,
            "rate": round(self.rate, 4),
            "wilson95": [round(lo, 4), round(hi, 4)],
        }


@dataclass
class SizeSummary:
    n: int
    trials: int
    policies: tuple[str, ...]
    null_dataset: dict[str, Rate]
    null_any: dict[str, Rate]
    null_columns: dict[str, Counter[str]]
    detection: dict[str, dict[str, Rate]]  # policy -> scenario -> rate
    seconds: dict[str, float]  # mean worker seconds per trial, by step
    wall: float
    warnings: Counter[str]  # warning -> how many times, over the run's detect_drift calls


def summarise(
    n: int, results: Sequence[TrialResult], policies: tuple[str, ...], wall: float
) -> SizeSummary:
    t = len(results)
    null_columns = {p: Counter(c for r in results for c in r.null[p].flagged) for p in policies}
    return SizeSummary(
        n=n,
        trials=t,
        policies=policies,
        null_dataset={p: Rate(sum(r.null[p].dataset for r in results), t) for p in policies},
        null_any={p: Rate(sum(bool(r.null[p].flagged) for r in results), t) for p in policies},
        null_columns=null_columns,
        detection={
            p: {
                s: Rate(sum(SHIFTED_COLUMN[s] in r.shift[p].flagged for r in results), t)
                for s in SCENARIOS
            }
            for p in policies
        },
        seconds={
            k: sum(r.seconds.get(k, 0.0) for r in results) / t
            for k in ("generate", "default", "evidently", "alibi")
            if any(k in r.seconds for r in results)
        },
        wall=wall,
        warnings=sum((r.warnings for r in results), Counter()),
    )


def false_alarm_rows(summaries: Sequence[SizeSummary]) -> list[list[str]]:
    rows = []
    for s in summaries:
        row = [f"{s.n:,}", str(s.trials)]
        for p in s.policies:
            if p in ANY_IS_DATASET:
                assert s.null_dataset[p] == s.null_any[p]
                row.append(s.null_any[p].cell())
            else:
                row += [s.null_dataset[p].cell(), s.null_any[p].cell()]
        rows.append(row)
    return rows


def false_alarm_header(policies: tuple[str, ...]) -> list[str]:
    header = ["N per side", "trials"]
    for p in policies:
        if p in ANY_IS_DATASET:
            header.append(f"{POLICY_TITLES[p]}: dataset = any column")
        else:
            header += [f"{p}: dataset_drift", f"{p}: any column"]
    return header


def detection_rows(summaries: Sequence[SizeSummary]) -> list[list[str]]:
    return [
        [f"{s.n:,}", f"{label} ({SHIFTED_COLUMN[label]})", str(s.trials)]
        + [s.detection[p][label].cell() for p in s.policies]
        for s in summaries
        for label in SCENARIOS
    ]


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def compact(text: str) -> str:
    """The fixed-width padding of a cell taken out: "  4.0% [ 2.0,   7.7]" -> "4.0% [2.0, 7.7]"."""
    return " ".join(text.split()).replace("[ ", "[")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(compact(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


@dataclass
class Target:
    name: str
    rule: str
    checked: bool
    passed: bool
    detail: str


def check_targets(summaries: Sequence[SizeSummary]) -> list[Target]:
    by_n = {s.n: s for s in summaries}
    targets = []

    fa = [(s.n, s.null_any["default"]) for s in summaries]
    targets.append(
        Target(
            "default_false_alarm_any_column",
            "default, any column flagged with no drift, every N: <= 5% "
            "(fails only if the 95% Wilson lower bound > 5%)",
            bool(fa),
            all(r.interval[0] <= ALPHA for _, r in fa),
            "; ".join(f"N={n:,}: {r.cell().strip()}" for n, r in fa),
        )
    )
    det = [(s.n, s.detection["default"]["mean +0.1 sd"]) for s in summaries if s.n >= 10_000]
    targets.append(
        Target(
            "default_detects_0.1sd_from_1e4",
            "default flags the 0.1 sd shift at every N >= 10^4 in >= 95% of trials",
            bool(det),
            all(r.rate >= 0.95 for _, r in det),
            "; ".join(f"N={n:,}: {r.cell().strip()}" for n, r in det) or "no N >= 10^4 run",
        )
    )
    big = by_n.get(1_000_000)
    trivial = big.detection["default"]["mean +0.01 sd"] if big else None
    targets.append(
        Target(
            "default_ignores_0.01sd_at_1e6",
            "default flags the 0.01 sd shift at N = 10^6 in <= 5% of trials",
            trivial is not None,
            trivial is not None and trivial.rate <= ALPHA,
            f"N=1,000,000: {trivial.cell().strip()}" if trivial else "N = 10^6 not run",
        )
    )
    return targets


def full_run_estimate(summaries: Sequence[SizeSummary], workers: int) -> tuple[float, str]:
    """Minutes for the default run (200 trials at each default N) from this run's worker
    time per trial. A size not run is extrapolated from the largest size run: by the ratio
    of the two in PROFILE (times measured on this machine) when both are there, else in
    proportion to N (which overestimates from small N, where fixed costs dominate)."""
    per_trial = {s.n: sum(s.seconds.values()) for s in summaries}
    largest = max(per_trial)
    total, parts = 0.0, []
    for n in DEFAULT_SIZES:
        measured = n in per_trial
        if measured:
            sec = per_trial[n]
        elif n in PROFILE and largest in PROFILE:
            sec = per_trial[largest] * PROFILE[n] / PROFILE[largest]
        else:
            sec = per_trial[largest] * n / largest
        total += DEFAULT_TRIALS * sec / workers
        parts.append(f"{n:,}: {sec:.2f} s/trial ({'measured' if measured else 'extrapolated'})")
    return total / 60, "; ".join(parts)


# --- main ------------------------------------------------------------------------------------


def parse_ints(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 10^3, 10^4; 50 trials")
    parser.add_argument("--sizes", help="rows per side, comma-separated (default 1e3,1e4,1e5,1e6)")
    parser.add_argument("--trials", help="trials: one number, or one per size (comma-separated)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path, help="also write the tables there (Markdown)")
    args = parser.parse_args()

    sizes = (
        parse_ints(args.sizes) if args.sizes else list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    )
    trials = (
        parse_ints(args.trials) if args.trials else [QUICK_TRIALS if args.quick else DEFAULT_TRIALS]
    )
    if len(trials) == 1:
        trials = trials * len(sizes)
    if len(trials) != len(sizes) or min(trials) < 1 or min(sizes) < 2:
        parser.error("--trials takes one number or one per size; sizes >= 2, trials >= 1")

    alibi_missing = alibi_status()
    policies = tuple(p for p in POLICIES if p != "alibi" or alibi_missing is None)
    command = "python bench/calibration.py " + shlex.join(sys.argv[1:])
    print(f"$ {command}".rstrip())
    print(
        f"{N_COLUMNS} columns: 20 numerical (6 normal, 4 lognormal, 4 exponential, "
        f"6 integer Poisson), 5 categorical strings with "
        f"{', '.join(str(c.levels) for c in CATEGORICAL)} Zipf-skewed levels; "
        f"sizes {', '.join(f'{n:,}' for n in sizes)} rows per side; trials "
        f"{', '.join(map(str, trials))}; {args.workers} workers; seed {args.seed}"
    )
    if alibi_missing is None:
        print("alibi: TabularDrift importable, run as its own column")
    else:
        print(f"alibi: not installed ({alibi_missing})")
    print(
        'column "bonferroni KS/chi2 (TabularDrift\'s rule, ours)": our reimplementation of '
        "TabularDrift's default decision with our registry's ks / chisquare p-values "
        f"(a column drifts iff p < {ALPHA} / {N_COLUMNS}; the dataset iff any column does); "
        "not Alibi Detect"
    )
    print(
        "no-drift trials: fresh reference and current per trial; detection trials: the "
        "no-drift current with five columns shifted at once (one per scenario, all 25 "
        "columns tested; each column's verdict depends on that column alone)",
        flush=True,
    )

    summaries: list[SizeSummary] = []
    began = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(args.workers) as pool:
        for n, t in zip(sizes, trials, strict=True):
            start = time.perf_counter()
            tasks = [(n, i, args.seed, alibi_missing is None) for i in range(t)]
            results = sorted(pool.imap_unordered(run_trial, tasks), key=lambda r: r.trial)
            s = summarise(n, results, policies, time.perf_counter() - start)
            summaries.append(s)
            steps = ", ".join(f"{k} {v:.2f}" for k, v in s.seconds.items())
            print(
                f"N={n:,}: {t} trials in {s.wall:.0f} s wall; worker s/trial: {steps}",
                flush=True,
            )
            for message, count in s.warnings.most_common():
                print(f"  warned {count} times (2 calls per policy per trial): {message}")
    elapsed = time.perf_counter() - began

    fa_header, fa_rows = false_alarm_header(policies), false_alarm_rows(summaries)
    det_header = ["N per side", "scenario (column)", "trials"] + [
        POLICY_TITLES[p] for p in policies
    ]
    det_rows = detection_rows(summaries)
    print()
    print("False alarm rate with no drift: share of trials [95% Wilson interval]")
    print(text_table(fa_header, fa_rows))
    print()
    print("Columns flagged most often with no drift (flagged trials / trials):")
    for s in summaries:
        for p in policies:
            top = s.null_columns[p].most_common(4)
            if top:
                cols = ", ".join(f"{c} {k}/{s.trials}" for c, k in top)
                print(f"  N={s.n:,} {p}: {cols}")
    print()
    print("Detection rate: share of trials whose shifted column is flagged [95% Wilson interval]")
    print(text_table(det_header, det_rows))
    print()
    targets = check_targets(summaries)
    for tg in targets:
        status = ("PASS" if tg.passed else "FAIL") if tg.checked else "UNCHECKED"
        print(f"target {status}: {tg.rule} | {tg.detail}")
    estimate, how = full_run_estimate(summaries, args.workers)
    print(
        f"time: this run {elapsed / 60:.1f} min; the full default run (200 trials at "
        f"1e3..1e6) would take about {estimate:.0f} min on {args.workers} workers "
        f"({how})"
    )
    passed = all(tg.passed for tg in targets if tg.checked)

    if args.markdown:
        md = [
            "## Drift calibration (bench/calibration.py)",
            "",
            f"Command: `{command}`",
            "",
            f"{N_COLUMNS} columns (20 numerical: 6 normal, 4 lognormal, 4 exponential, 6 "
            "integer Poisson; 5 categorical with 3, 10, 50, 200, 1000 Zipf-skewed levels), "
            "N rows per side. Rates are shares of trials with the 95% Wilson interval in "
            "brackets. *bonferroni KS/chi2* is our reimplementation of Alibi Detect's "
            f"TabularDrift default rule (a column drifts iff its ks / chisquare p < {ALPHA} / "
            f"{N_COLUMNS}, the dataset iff any column does) with our registry's tests, not "
            "Alibi itself"
            + (
                f" (alibi_detect not installed: {alibi_missing})."
                if alibi_missing
                else "; Alibi's TabularDrift has its own column."
            ),
            "",
            "### False alarms with no drift",
            "",
            markdown_table(fa_header, fa_rows),
            "",
            "### Detection rate (the shifted column is flagged)",
            "",
            "The five shifted columns share one current sample per trial; every policy here "
            "decides a column from that column alone, so each verdict is as if only it were "
            "shifted.",
            "",
            markdown_table(det_header, det_rows),
            "",
            "### Targets",
            "",
            *[
                f"- {('PASS' if tg.passed else 'FAIL') if tg.checked else 'UNCHECKED'}: "
                f"{tg.rule} ({compact(tg.detail)})"
                for tg in targets
            ],
            "",
            f"Run time: {elapsed / 60:.1f} min on {args.workers} workers; the full default "
            f"run (200 trials at 1e3..1e6) is estimated at {estimate:.0f} min ({how}).",
            "",
        ]
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(md))

    false_alarm: dict[str, Any] = {}
    detection: dict[str, Any] = {}
    for p in policies:
        false_alarm[p] = {
            "dataset": {str(s.n): s.null_dataset[p].as_json() for s in summaries},
            "any_column": {str(s.n): s.null_any[p].as_json() for s in summaries},
        }
        detection[p] = {
            label: {str(s.n): s.detection[p][label].as_json() for s in summaries}
            for label in SCENARIOS
        }
    print(
        json.dumps(
            {
                "bench": "calibration",
                "sizes": sizes,
                "trials": trials,
                "workers": args.workers,
                "seed": args.seed,
                "alibi": alibi_missing is None,
                "false_alarm": false_alarm,
                "detection": detection,
                "targets": {tg.name: tg.rule for tg in targets},
                "target_results": {
                    tg.name: (tg.passed if tg.checked else "unchecked") for tg in targets
                },
                "elapsed_s": round(elapsed, 1),
                "full_run_estimate_min": round(estimate, 1),
                "pass": passed,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
