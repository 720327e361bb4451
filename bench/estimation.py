"""Label-free performance estimation: CBPE's estimates against the truth, beside NannyML's.

Synthetic data where the truth is known. Five standard normal features x; the label is
y ~ Bernoulli(sigmoid(w . x + b)), w = (1.0, -0.8, 0.6, 0.4, 0.5), b = -0.5. The model is
imperfect and miscalibrated: its score is sigmoid(1.6 (v . x + c)), v = (0.9, -0.9, 0.6,
0.2, 0.1), c = -0.2 (wrong weights, the fifth feature nearly ignored, overconfident).
R references of N labelled rows each fit ``detectors.estimation.CBPE`` (defaults:
calibration "auto", 50 bootstrap calibrators); then, for each reference, W windows of n
rows per scenario:

  none            the reference's distribution
  score-shift d   x's mean moves d sd along the model's weights v (d = 0.5, 1, 1.5): a
                  covariate shift (P(y | x) unchanged) that also leaves P(y | score)
                  unchanged, as the label's logit given the score does not depend on x's
                  mean along v: CBPE's assumption holds
  feature-shift d x's mean moves d sd along (1, 1, 1, 1, 1) / sqrt(5): also covariate
                  shift, but the model misweights features, so P(y | score) changes:
                  CBPE's assumption fails although P(y | x) holds
  concept         P(y | x) changes: w = (0.2, -0.8, 0.6, 0.4, -0.5), b = 0 (concept drift)

For each window the realized accuracy, precision, recall, F1 and ROC AUC (scikit-learn,
labels known in the simulation) against CBPE's estimates: mean absolute error (MAE),
coverage (share of windows whose realized value lies in the estimate's 95% interval),
mean interval width, and the mean realized and estimated values (bias shows as their
gap). Several references, because the interval carries the calibration's uncertainty
from a finite reference: every window of one reference shares that reference's luck (a
reference of 20,000 rows misses the population's accuracy by 0.003 sd, and one seed's
was 2.4 sd off), so the coverage over one reference's windows is conditional on it; the
interval's 95% is over references and windows, and the spread of the per-reference
coverage is printed too. NannyML 0.13.1's CBPE runs on the same data when its venv
exists (.venv-nannyml, below), in a subprocess fed through a temporary .npz file: its
MAE, and the coverage of its band (value +- 3 standard errors, NannyML's confidence
band) beside ours. Timings (medians of repeats): our fit on a reference, our estimate
per window, and an estimate of windows of 20,000 (exact draws) and 200,000 rows (normal
approximation).

Targets ("pass" in the JSON line):
  - accuracy MAE <= 0.02 in every scenario with P(y | x) unchanged (none, score-shift,
    feature-shift)
  - the 95% interval's coverage of every metric within [0.85, 1.0] where CBPE's
    assumption holds (none, score-shift)
Not targets, printed to show CBPE's limits: coverage under feature-shift (P(y | score)
moves) and everything under concept drift (the estimate stays near the reference's
performance while the real one falls).

NannyML's venv (not in the Makefile): python3 -m venv .venv-nannyml &&
.venv-nannyml/bin/pip install nannyml==0.13.1 statsmodels (nannyml 0.13.1 imports
statsmodels without declaring it). Without it the bench says why and compares to the
truth only.

Cost: about 2 minutes for the full run (R = 8 references of N = 20,000 rows, W = 25
windows of n = 2,000 rows per reference and scenario) on 2 shared cores, a third of it
NannyML's; --quick (R = 3, N = 5,000, W = 8, n = 1,000) under a minute.

    python bench/estimation.py [--quick] [--references R] [--reference N] [--windows W]
                               [--window n] [--no-nannyml]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
W_TRUE = np.array([1.0, -0.8, 0.6, 0.4, 0.5])
B_TRUE = -0.5
W_CONCEPT = np.array([0.2, -0.8, 0.6, 0.4, -0.5])
B_CONCEPT = 0.0
V_MODEL = np.array([0.9, -0.9, 0.6, 0.2, 0.1])
C_MODEL = -0.2
SCALE = 1.6
THRESHOLD = 0.5
SHIFTS = (0.5, 1.0, 1.5)
CONFIDENCE = 0.95

FULL = {"references": 8, "reference": 20_000, "windows": 25, "window": 2_000}
QUICK = {"references": 3, "reference": 5_000, "windows": 8, "window": 1_000}

TARGET_ACCURACY_MAE = 0.02
TARGET_COVERAGE = (0.85, 1.0)
NANNYML_BAND = 3.0  # NannyML's SAMPLING_ERROR_RANGE: its band is value +- 3 SE

ROOT = Path(__file__).resolve().parents[1]
NANNYML_PYTHON = ROOT / ".venv-nannyml" / "bin" / "python"

Array = npt.NDArray[Any]


# --- data --------------------------------------------------------------------------------------


def _sigmoid(z: Array) -> Array:
    out: Array = 1.0 / (1.0 + np.exp(-z))
    return out


def scenarios() -> list[tuple[str, Array, bool]]:
    """(name, mean shift of x, concept drift) per scenario."""
    along_model = V_MODEL / np.linalg.norm(V_MODEL)
    along_all = np.ones(5) / math.sqrt(5)
    out: list[tuple[str, Array, bool]] = [("none", np.zeros(5), False)]
    out += [(f"score-shift {d:g}", d * along_model, False) for d in SHIFTS]
    out += [(f"feature-shift {d:g}", d * along_all, False) for d in SHIFTS]
    out.append(("concept", np.zeros(5), True))
    return out


def sample(rng: np.random.Generator, n: int, shift: Array, concept: bool) -> tuple[Array, Array]:
    """Scores and labels of n rows."""
    x = rng.normal(size=(n, 5)) + shift
    w, b = (W_CONCEPT, B_CONCEPT) if concept else (W_TRUE, B_TRUE)
    labels = rng.random(n) < _sigmoid(x @ w + b)
    scores = _sigmoid(SCALE * (x @ V_MODEL + C_MODEL))
    return scores, labels


def realized(scores: Array, labels: Array) -> list[float]:
    predicted = scores >= THRESHOLD
    return [
        float(accuracy_score(labels, predicted)),
        float(precision_score(labels, predicted, zero_division=np.nan)),
        float(recall_score(labels, predicted, zero_division=np.nan)),
        float(f1_score(labels, predicted, zero_division=np.nan)),
        float(roc_auc_score(labels, scores)),
    ]


# --- NannyML, in its own venv -----------------------------------------------------------------


def nannyml_worker(data_path: str, out_path: str) -> int:
    """Runs in .venv-nannyml: NannyML's CBPE fitted on each reference and run on that
    reference's windows of every scenario (one chunk per window); writes values and
    bands per scenario, metric and window (reference-major) as JSON."""
    warnings.filterwarnings("ignore")
    import nannyml as nml  # noqa: PLC0415  (only in .venv-nannyml)
    import pandas as pd  # noqa: PLC0415

    data = np.load(data_path)
    n = int(data["window"])
    names = [str(s) for s in data["names"]]
    windows = data["windows"]  # (scenarios, references, windows, n)
    keys = {"value": "value", "lower": "lower_confidence_boundary"}
    keys["upper"] = "upper_confidence_boundary"
    per: dict[str, dict[str, dict[str, list[float]]]] = {
        name: {m: {k: [] for k in keys} for m in METRICS} for name in names
    }
    fit_s, estimate_s = [], []
    for r, (ref_scores, ref_labels) in enumerate(
        zip(data["reference_scores"], data["reference_labels"], strict=True)
    ):
        reference = pd.DataFrame(
            {
                "score": ref_scores,
                "prediction": (ref_scores >= THRESHOLD).astype(int),
                "label": ref_labels.astype(int),
            }
        )
        start = time.perf_counter()
        estimator = nml.CBPE(
            problem_type="classification_binary",
            y_pred_proba="score",
            y_pred="prediction",
            y_true="label",
            metrics=list(METRICS),
            chunk_size=n,
        )
        estimator.fit(reference)
        fit_s.append(time.perf_counter() - start)
        for i, name in enumerate(names):
            scores = windows[i, r].ravel()
            analysis = pd.DataFrame(
                {"score": scores, "prediction": (scores >= THRESHOLD).astype(int)}
            )
            start = time.perf_counter()
            result = estimator.estimate(analysis).filter(period="analysis").to_df()
            estimate_s.append((time.perf_counter() - start) / windows.shape[2])
            for metric in METRICS:
                for key, column in keys.items():
                    per[name][metric][key] += result[(metric, column)].astype(float).tolist()
    out = {
        "version": nml.__version__,
        "fit_s": statistics.median(fit_s),
        "estimate_window_s": statistics.median(estimate_s),
        "scenarios": per,
    }
    Path(out_path).write_text(json.dumps(out))
    return 0


def run_nannyml(
    references: list[tuple[Array, Array]], windows: dict[str, Array], n: int
) -> dict[str, Any] | str:
    """NannyML's results, or why there are none. ``windows[name]`` is (references,
    windows, n)."""
    if not NANNYML_PYTHON.exists():
        return (
            f"not run: {NANNYML_PYTHON.relative_to(ROOT)} not found (python3 -m venv "
            ".venv-nannyml && .venv-nannyml/bin/pip install nannyml==0.13.1 statsmodels)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        data_path, out_path = os.path.join(tmp, "data.npz"), os.path.join(tmp, "out.json")
        np.savez(
            data_path,
            window=n,
            reference_scores=np.stack([r[0] for r in references]),
            reference_labels=np.stack([r[1] for r in references]),
            names=np.array(list(windows)),
            windows=np.stack(list(windows.values())),
        )
        cmd = [str(NANNYML_PYTHON), str(Path(__file__).resolve()), "--nannyml-worker"]
        proc = subprocess.run(
            [*cmd, data_path, out_path], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
            return f"not run: NannyML's worker failed (exit {proc.returncode}): {tail[0]}"
        result: dict[str, Any] = json.loads(Path(out_path).read_text())
        return result


# --- measurement ------------------------------------------------------------------------------


def summarize(
    estimates: Array, lower: Array, upper: Array, truth: Array, references: int
) -> dict[str, Any]:
    """Per metric: MAE, coverage (overall, and lowest and highest of one reference's
    windows), mean width and means. Arrays are (windows, metrics), reference-major with
    ``references`` equal groups. A window where the realized or the estimated metric is
    undefined (NaN) is left out."""
    out = {}
    for j, metric in enumerate(METRICS):
        ok = np.isfinite(estimates[:, j]) & np.isfinite(truth[:, j])
        e, lo, hi, t = estimates[:, j], lower[:, j], upper[:, j], truth[:, j]
        hit = (lo <= t) & (t <= hi)
        by_ref = [
            float(np.mean(h[k]))
            for h, k in zip(np.split(hit, references), np.split(ok, references), strict=True)
            if k.any()
        ]
        out[metric] = {
            "mae": float(np.mean(np.abs(e - t)[ok])) if ok.any() else math.nan,
            "coverage": float(np.mean(hit[ok])) if ok.any() else math.nan,
            "coverage_min_reference": min(by_ref, default=math.nan),
            "coverage_max_reference": max(by_ref, default=math.nan),
            "width": float(np.mean((hi - lo)[ok])) if ok.any() else math.nan,
            "realized_mean": float(np.mean(t[ok])) if ok.any() else math.nan,
            "estimated_mean": float(np.mean(e[ok])) if ok.any() else math.nan,
            "windows": int(ok.sum()),
        }
    return out


def timings(model: Any, ref: tuple[Array, Array], seed: int, repeat: int) -> dict[str, float]:
    from detectors.estimation import CBPE  # noqa: PLC0415

    fit = []
    for _ in range(repeat):
        start = time.perf_counter()
        CBPE.fit(*ref)
        fit.append(time.perf_counter() - start)
    rng = np.random.default_rng(seed + 1)
    out = {"fit_s": statistics.median(fit)}
    for rows, key in ((20_000, "estimate_20k_exact_s"), (200_000, "estimate_200k_normal_s")):
        scores, _ = sample(rng, rows, np.zeros(5), False)
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            result = model.estimate(scores)
            runs.append(time.perf_counter() - start)
        assert result.interval == ("exact" if rows == 20_000 else "normal")
        out[key] = statistics.median(runs)
    return out


def _fmt(v: float) -> str:
    return "   nan" if math.isnan(v) else f"{v:6.3f}"


def print_scenario(name: str, ours: dict[str, Any], theirs: dict[str, Any] | None) -> None:
    print(f"  {name}:")
    head = "    metric     realized estimated   MAE   cover (by reference)   width"
    print(head + ("  | NannyML: estimated  MAE  cover(+-3SE)" if theirs else ""))
    for metric in METRICS:
        o = ours[metric]
        line = (
            f"    {metric:9s}  {_fmt(o['realized_mean'])}  {_fmt(o['estimated_mean'])}   "
            f"{_fmt(o['mae'])} {_fmt(o['coverage'])} ({o['coverage_min_reference']:.2f}-"
            f"{o['coverage_max_reference']:.2f}) {_fmt(o['width'])}"
        )
        if theirs:
            t = theirs[metric]
            line += (
                f"  |          {_fmt(t['estimated_mean'])} {_fmt(t['mae'])} {_fmt(t['coverage'])}"
            )
        print(line, flush=True)


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return str(v) if math.isnan(v) or math.isinf(v) else float(f"{v:.4g}")
    if isinstance(v, dict):
        return {k: _round(x) for k, x in v.items()}
    return v


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--references", type=int, help="references R")
    parser.add_argument("--reference", type=int, help="rows N of each reference")
    parser.add_argument("--windows", type=int, help="windows W per reference and scenario")
    parser.add_argument("--window", type=int, help="rows n per window")
    parser.add_argument("--repeat", type=int, default=5, help="repeats of each timing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-nannyml", action="store_true")
    parser.add_argument("--nannyml-worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.nannyml_worker:
        return nannyml_worker(*args.nannyml_worker)

    # Here, not at the top: the NannyML worker runs this file in a venv without detectors.
    from detectors.estimation import CBPE  # noqa: PLC0415

    size = dict(QUICK if args.quick else FULL)
    for key in size:
        if getattr(args, key) is not None:
            size[key] = getattr(args, key)
    refs, big_n, w, n = size["references"], size["reference"], size["windows"], size["window"]
    rng = np.random.default_rng(args.seed)
    print(
        f"R={refs} references of N={big_n:,} rows, W={w} windows of n={n:,} rows per "
        f"reference and scenario, seed {args.seed}; load average "
        + " ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    names = [name for name, _, _ in scenarios()]
    references: list[tuple[Array, Array]] = []
    models = []
    windows: dict[str, list[Array]] = {name: [] for name in names}
    rows: dict[str, dict[str, list[Any]]] = {
        name: {k: [] for k in ("truth", "est", "lo", "hi", "out")} for name in names
    }
    estimate_s: list[float] = []
    for r in range(refs):
        reference = sample(rng, big_n, np.zeros(5), False)
        model = CBPE.fit(*reference, threshold=THRESHOLD, seed=r)
        references.append(reference)
        models.append(model)
        print(
            f"  reference {r}: positive rate {model.positive_rate:.3f}, calibration "
            f"{model.calibration} (asked {model.calibration_requested}; Brier raw "
            f"{model.brier_raw:.4f}, isotonic out of fold {model.brier_isotonic:.4f}), "
            + ", ".join(f"{m} {model.reference.value(m):.3f}" for m in METRICS),
            flush=True,
        )
        for name, shift, concept in scenarios():
            scores_w = []
            for i in range(w):
                scores, labels = sample(rng, n, shift, concept)
                begin = time.perf_counter()
                result = model.estimate(scores, confidence=CONFIDENCE, seed=i)
                estimate_s.append(time.perf_counter() - begin)
                scores_w.append(scores)
                row = rows[name]
                row["truth"].append(realized(scores, labels))
                row["est"].append([m.value for m in result.metrics])
                row["lo"].append([m.lower for m in result.metrics])
                row["hi"].append([m.upper for m in result.metrics])
                row["out"].append(result.outside_reference)
            windows[name].append(np.stack(scores_w))

    ours: dict[str, dict[str, Any]] = {}
    outside: dict[str, float] = {}
    for name in names:
        row = rows[name]
        arrays = [np.array(row[k]) for k in ("est", "lo", "hi", "truth")]
        ours[name] = summarize(*arrays, references=refs)
        outside[name] = float(np.mean(row["out"]))
        acc = ours[name]["accuracy"]
        print(
            f"  {name}: accuracy MAE {acc['mae']:.4f}, coverage {acc['coverage']:.2f} "
            f"(by reference {acc['coverage_min_reference']:.2f}-"
            f"{acc['coverage_max_reference']:.2f}); scores outside the reference's range "
            f"{outside[name]:.2%}",
            flush=True,
        )
    times = timings(models[0], references[0], args.seed, args.repeat)
    times["estimate_window_ms"] = statistics.median(estimate_s) * 1000
    print(
        f"timing (medians of {args.repeat}): fit {times['fit_s']:.3f} s at N={big_n:,}; "
        f"estimate {times['estimate_window_ms']:.1f} ms per window of {n:,} "
        f"(median of {len(estimate_s)}), {times['estimate_20k_exact_s']:.3f} s at 20,000 rows "
        f"(exact), {times['estimate_200k_normal_s']:.3f} s at 200,000 rows (normal)",
        flush=True,
    )

    nannyml: dict[str, Any] | str = "not run: --no-nannyml"
    theirs: dict[str, dict[str, Any]] = {}
    if not args.no_nannyml:
        print("running NannyML's CBPE on the same data ...", flush=True)
        stacked = {name: np.stack(windows[name]) for name in names}
        nannyml = run_nannyml(references, stacked, n)
    if isinstance(nannyml, str):
        print(f"NannyML: {nannyml}")
    else:
        for name, res in nannyml["scenarios"].items():
            theirs[name] = summarize(
                *(np.array([res[m][k] for m in METRICS]).T for k in ("value", "lower", "upper")),
                np.array(rows[name]["truth"]),
                references=refs,
            )
        times["nannyml_fit_s"] = nannyml["fit_s"]
        times["nannyml_estimate_window_ms"] = nannyml["estimate_window_s"] * 1000
        print(
            f"NannyML {nannyml['version']}: fit {nannyml['fit_s']:.2f} s, estimate "
            f"{times['nannyml_estimate_window_ms']:.1f} ms per window (one chunk per window; "
            "medians)"
        )

    print(
        f"\nper scenario, means over {refs * w} windows of {refs} references (cover: share "
        f"of windows whose realized value is inside the {CONFIDENCE:.0%} interval; by "
        "reference: the lowest and highest share among one reference's windows):"
    )
    for name, figures in ours.items():
        print_scenario(name, figures, theirs.get(name))

    shifted = [name for name, _, concept in scenarios() if not concept]
    valid = [name for name in shifted if not name.startswith("feature-shift")]
    checks = {
        "accuracy_mae": all(ours[s]["accuracy"]["mae"] <= TARGET_ACCURACY_MAE for s in shifted),
        "coverage": all(
            TARGET_COVERAGE[0] <= ours[s][m]["coverage"] <= TARGET_COVERAGE[1]
            for s in valid
            for m in METRICS
        ),
    }
    passed = all(checks.values())
    worst_cov = min((ours[s][m]["coverage"], s, m) for s in valid for m in METRICS)
    worst_mae = max((ours[s]["accuracy"]["mae"], s) for s in shifted)
    print(
        f"\ntargets: accuracy MAE <= {TARGET_ACCURACY_MAE} under no shift and covariate "
        f"shift: {'ok' if checks['accuracy_mae'] else 'MISSED'} (worst {worst_mae[0]:.4f}, "
        f"{worst_mae[1]}); coverage in {list(TARGET_COVERAGE)} where P(y | score) holds: "
        f"{'ok' if checks['coverage'] else 'MISSED'} (lowest {worst_cov[0]:.3f}, "
        f"{worst_cov[2]} in {worst_cov[1]}) -> {'pass' if passed else 'FAIL'}"
    )
    keep = ("realized_mean", "estimated_mean", "mae", "coverage")
    line = {
        "bench": "estimation",
        "quick": args.quick,
        "references": refs,
        "reference_rows": big_n,
        "windows_per_reference": w,
        "window_rows": n,
        "load_average_end": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "timing": _round(times),
        "nannyml": nannyml if isinstance(nannyml, str) else nannyml["version"],
        "scenarios": {
            name: _round(
                {
                    "outside_reference": outside[name],
                    **{
                        m: {
                            **{k.removesuffix("_mean"): ours[name][m][k] for k in keep},
                            **(
                                {
                                    "nannyml_mae": theirs[name][m]["mae"],
                                    "nannyml_coverage_3se": theirs[name][m]["coverage"],
                                }
                                if name in theirs
                                else {}
                            ),
                        }
                        for m in METRICS
                    },
                }
            )
            for name in ours
        },
        "targets": {
            "accuracy_mae": f"<={TARGET_ACCURACY_MAE} in none, score-shift, feature-shift",
            "coverage": f"{list(TARGET_COVERAGE)} for every metric in none, score-shift",
            "met": checks,
        },
        "pass": passed,
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
