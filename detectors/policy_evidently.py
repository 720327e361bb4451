"""``policy="evidently"``: Evidently 0.7's automatic drift choice, reproduced exactly.

What Evidently 0.7's ``DataDriftPreset`` does with a column, step by step (docs/detectors.md
has it as a table; tests/detectors/test_evidently_parity.py runs Evidently on the same
data and compares every column):

1. Type, inferred from the *current* sample: float -> numerical; signed integer ->
   categorical with at most 10 distinct values, else numerical; bool -> categorical;
   strings -> categorical (Evidently calls a string column with more than half its values
   distinct "text" and runs a text classifier on it; here it stays categorical); unsigned
   integers, datetimes and objects that are neither strings nor numbers -> left out, as
   Evidently leaves them out. An object column of numbers and None is numerical, as the
   float column pandas would make of it.
2. NaN and +-inf dropped, per column. A column left empty on either side is an error
   (Evidently refuses the whole report).
3. The test, from the reference size after cleaning and the distinct values of both sides
   together: reference <= 1000 -> numerical: ``z`` (<= 2 values), ``chisquare`` (3-5),
   ``ks`` (6+); categorical: ``z`` (<= 2), ``chisquare`` (3+). Reference > 1000 ->
   numerical: ``jensenshannon`` (<= 5 values), else ``wasserstein``; categorical:
   ``jensenshannon``.
4. The verdict with Evidently's default threshold and comparison: ks p <= 0.05;
   chisquare and z p < 0.05; wasserstein and jensenshannon distance >= 0.1.
5. The dataset drifts when the share of drifted columns is >= ``share_threshold`` (0.5).

Evidently's ``chisquare`` is a goodness-of-fit test of the current counts against the
reference's proportions (a category the reference never saw gives p = 0), not the
homogeneity test of our registry's ``chisquare``; it is implemented here for this policy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from detectors.columns import looks_numerical, missing_labels
from detectors.proportions import two_proportion_z
from detectors.registry import stattest
from detectors.types import KINDS, ColumnData, ColumnDrift, DriftResult, Kind

SMALL_REFERENCE = 1000
INTEGER_CARDINALITY_LIMIT = 10
THRESHOLDS = {"ks": 0.05, "chisquare": 0.05, "z": 0.05, "wasserstein": 0.1, "jensenshannon": 0.1}


def evidently_kind(values: ColumnData) -> Kind | None:
    """The kind Evidently 0.7 infers for a column of the current sample; None when it
    leaves the column out."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        return "numerical"
    if arr.dtype.kind == "i":
        return "categorical" if np.unique(arr).size <= INTEGER_CARDINALITY_LIMIT else "numerical"
    if arr.dtype.kind in "bUS":
        return "categorical"
    if arr.dtype.kind != "O":
        return None  # unsigned, datetime, timedelta, ...: Evidently's "unknown"
    present = np.flatnonzero(~_missing_mask(arr))
    if present.size == 0:
        return None
    if looks_numerical(arr):
        return "numerical"
    # Evidently looks at the first and last present values only.
    first, last = arr[present[0]], arr[present[-1]]
    return "categorical" if isinstance(first, str) and isinstance(last, str) else None


_INFINITIES = np.array([math.inf, -math.inf], dtype=object)


def _missing_mask(arr: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    if arr.dtype.kind == "f":
        finite: npt.NDArray[np.bool_] = np.isfinite(arr)
        return ~finite
    if arr.dtype.kind != "O":
        return np.zeros(arr.shape, dtype=bool)
    # What pandas would drop: None, NaN and (Evidently replaces them first) +-inf.
    mask: npt.NDArray[np.bool_] = missing_labels(arr) | np.isin(arr, _INFINITIES)
    return mask


def _clean(col: str, side: str, values: ColumnData, kind: Kind) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"column {col!r} must be 1-d, got shape {arr.shape}")
    if kind == "numerical":
        arr = arr.astype(np.float64)
    kept = arr[~_missing_mask(arr)]
    if kept.size == 0:
        raise ValueError(
            f"column {col!r}: {side} has no values left after dropping NaN and inf "
            f"(policy='evidently' cannot test an empty column; Evidently refuses it too)"
        )
    return kept


def _counts(ref: npt.NDArray[Any], cur: npt.NDArray[Any]) -> tuple[list[Any], Any, Any]:
    """Categories of both sides (Python equality, as pandas counts them) and counts."""
    ref_counts, cur_counts = Counter(ref.tolist()), Counter(cur.tolist())
    keys = list(ref_counts.keys() | cur_counts.keys())
    return (
        keys,
        np.array([ref_counts[k] for k in keys], dtype=np.float64),
        np.array([cur_counts[k] for k in keys], dtype=np.float64),
    )


def _distinct(ref: npt.NDArray[Any], cur: npt.NDArray[Any], *, cap: int) -> int:
    """Distinct values of both sides together, or any number above ``cap`` once it is
    known to exceed it (a thousand values usually tell, without a pass over 10^6)."""
    for sample in (ref[:1000], None):
        both = [ref, cur] if sample is None else [sample]
        if all(a.dtype.kind in "fiub" for a in both):
            n = int(np.unique(np.concatenate(both)).size)
        else:
            n = len(set().union(*(a.tolist() for a in both)))
        if n > cap:
            return n
    return n


def _choose(kind: Kind, ref: npt.NDArray[Any], cur: npt.NDArray[Any]) -> str:
    n_values = _distinct(ref, cur, cap=5)
    if ref.size <= SMALL_REFERENCE:
        if kind == "numerical" and n_values > 5:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == "numerical" and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


def _chisquare(ref: npt.NDArray[Any], cur: npt.NDArray[Any]) -> tuple[float, float, float]:
    """(statistic, p-value, total variation distance) of Evidently's chi-squared test."""
    _, ref_n, cur_n = _counts(ref, cur)
    tvd = 0.5 * float(np.abs(ref_n / ref_n.sum() - cur_n / cur_n.sum()).sum())
    expected = ref_n * (cur_n.sum() / ref_n.sum())
    if np.any((expected == 0) & (cur_n > 0)):
        return math.inf, 0.0, tvd  # a category new in current: certain drift
    res = stats.chisquare(cur_n, expected)
    return float(res.statistic), float(res.pvalue), tvd


def _z(ref: npt.NDArray[Any], cur: npt.NDArray[Any]) -> tuple[float, float, float]:
    """(z, p-value, |difference of proportions|) of Evidently's two-proportion z-test:
    the first category (in sort order) against all the others."""
    ref_keys, cur_keys = set(ref.tolist()), set(cur.tolist())
    if len(ref_keys) == 1 and ref_keys == cur_keys:
        return 0.0, 1.0, 0.0
    try:
        first = min(ref_keys | cur_keys)
    except TypeError:  # mixed types that do not order
        first = min(ref_keys | cur_keys, key=str)
    p1 = float(np.mean(np.asarray(ref != first, dtype=bool)))
    p2 = float(np.mean(np.asarray(cur != first, dtype=bool)))
    tested = two_proportion_z(p1, ref.size, p2, cur.size)
    if tested is None:
        return 0.0, 1.0, abs(p1 - p2)
    return tested[0], tested[1], abs(p1 - p2)


def _column(
    col: str, kind: Kind, ref_raw: ColumnData, cur_raw: ColumnData, method: str
) -> ColumnDrift:
    ref, cur = _clean(col, "reference", ref_raw, kind), _clean(col, "current", cur_raw, kind)
    name = _choose(kind, ref, cur) if method == "auto" else method
    threshold = THRESHOLDS.get(name, stattest(name).default_threshold)
    p_value: float | None
    if name == "chisquare":
        statistic, p_value, effect = _chisquare(ref, cur)
        drifted = p_value < threshold
    elif name == "z":
        statistic, p_value, effect = _z(ref, cur)
        drifted = p_value < threshold
    else:
        test = stattest(name)
        test_kind: Kind = kind if test.supports(kind) else "categorical"
        res = test(ref, cur, kind=test_kind)
        statistic, p_value = res.statistic, res.p_value
        effect = res.statistic if res.effect_size is None else res.effect_size
        # Evidently's ks and cramer_von_mises decide with p <= threshold.
        inclusive = name in {"ks", "cramer_von_mises"}
        drifted = (
            test.drifted(res, threshold)
            if not inclusive
            else (p_value is not None and p_value <= threshold)
        )
    return ColumnDrift(
        column=col,
        kind=kind,
        method=name,
        statistic=float(statistic),
        p_value=p_value,
        effect_size=float(effect),
        threshold=float(threshold),
        min_effect=0.0,
        n_reference=int(np.asarray(ref_raw).size),
        n_current=int(np.asarray(cur_raw).size),
        drifted=bool(drifted),
    )


def detect_drift_evidently(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData],
    *,
    kinds: Mapping[str, str],
    methods: Mapping[str, str],
    default_method: str,
    share_threshold: float,
) -> DriftResult:
    """Evidently's per-column choice and verdicts (see the module docstring)."""
    results = []
    for col in reference:
        given = kinds.get(col)
        if given is not None and given not in KINDS:
            raise ValueError(f"column {col!r}: unknown kind {given!r}; known: {sorted(KINDS)}")
        kind = evidently_kind(current[col]) if given is None else given
        if kind is None:
            continue  # a column Evidently leaves out
        method = methods.get(col, default_method)
        results.append(_column(col, kind, reference[col], current[col], method))  # type: ignore[arg-type]
    share = sum(c.drifted for c in results) / len(results) if results else 0.0
    return DriftResult(
        columns=tuple(results),
        drift_share=share,
        dataset_drift=bool(results) and share >= share_threshold,
        share_threshold=share_threshold,
    )
