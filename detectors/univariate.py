"""Per-column drift detection between a reference and a current sample."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from detectors.columns import convert, infer_kind
from detectors.correction import CORRECTIONS, p_threshold
from detectors.policy_evidently import detect_drift_evidently
from detectors.registry import StatTest, stattest
from detectors.types import ColumnData, ColumnDrift, DriftResult, Kind

AUTO_METHOD: Mapping[str, str] = {"numerical": "ks", "categorical": "chisquare"}
POLICIES = ("default", "evidently")


def detect_drift(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData],
    *,
    kinds: Mapping[str, str] | None = None,
    method: str | Mapping[str, str] = "auto",
    alpha: float = 0.05,
    min_effect: float | None = None,
    correction: str = "bonferroni",
    share_threshold: float = 0.5,
    policy: str = "default",
) -> DriftResult:
    """Test every column of ``reference`` against the same column of ``current``.

    A column drifts iff its p-value is at most the corrected threshold (``correction``:
    "bonferroni", "bh" or "none", over the columns decided by a p-value) AND its effect
    size is at least ``min_effect`` (None: each stat test's default, 0.025 for ks and
    0.03 for chisquare). A test without a p-value is decided on the
    effect size alone. ``kinds`` and ``method`` name columns of ``reference``; columns left
    out are inferred / "auto". Columns only in ``current`` are ignored. Inputs are never
    modified. Bad input raises ValueError naming the column.

    ``policy="evidently"`` reproduces Evidently 0.7's choice of test and verdict per
    column instead (:mod:`detectors.policy_evidently`); ``alpha``, ``min_effect`` and
    ``correction`` do not apply to it.
    """
    columns = list(reference)
    if not columns:
        raise ValueError("reference has no columns")
    kinds = kinds or {}
    default_method, methods = (method, {}) if isinstance(method, str) else ("auto", method)
    _check_keys("kinds", kinds, columns)
    _check_keys("method", methods, columns)
    for col in columns:
        if col not in current:
            raise ValueError(f"column {col!r} is in reference but not in current")
    if min_effect is not None and min_effect < 0:
        raise ValueError(f"min_effect must be >= 0, got {min_effect!r}")
    if not 0.0 <= share_threshold <= 1.0:
        raise ValueError(f"share_threshold must be in [0, 1], got {share_threshold!r}")
    if policy == "evidently":
        return detect_drift_evidently(
            reference,
            current,
            kinds=kinds,
            methods=methods,
            default_method=default_method,
            share_threshold=share_threshold,
        )
    if policy != "default":
        raise ValueError(f"unknown policy {policy!r}; known: {', '.join(POLICIES)}")
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; known: {', '.join(CORRECTIONS)}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")

    tested = []
    for col in columns:
        ref_raw, cur_raw = np.asarray(reference[col]), np.asarray(current[col])
        kind = infer_kind(col, ref_raw, cur_raw, given=kinds.get(col))
        test = _method(col, kind, methods.get(col, default_method))
        res = test.fn(convert(col, kind, ref_raw), convert(col, kind, cur_raw))
        if res.effect_size is None:
            raise ValueError(f"stat test {test.name!r} reports no effect size (column {col!r})")
        tested.append((col, kind, test, res, res.effect_size, ref_raw.size, cur_raw.size))
    # One threshold for the run, over the columns decided by a p-value.
    p_values = [t[3].p_value for t in tested if t[3].p_value is not None]
    threshold = p_threshold(alpha, p_values, method=correction)

    results = []
    for col, kind, test, res, effect, n_ref, n_cur in tested:
        floor = test.default_min_effect if min_effect is None else float(min_effect)
        significant = res.p_value is None or res.p_value <= threshold
        results.append(
            ColumnDrift(
                column=col,
                kind=kind,
                method=test.name,
                statistic=res.statistic,
                p_value=res.p_value,
                effect_size=effect,
                threshold=threshold,
                min_effect=floor,
                n_reference=int(n_ref),
                n_current=int(n_cur),
                drifted=bool(significant and effect >= floor),
            )
        )
    share = sum(c.drifted for c in results) / len(results)
    return DriftResult(
        columns=tuple(results),
        drift_share=share,
        dataset_drift=share >= share_threshold,
        share_threshold=share_threshold,
    )


def _check_keys(arg: str, mapping: Mapping[str, str], columns: list[str]) -> None:
    # A key that names no column is almost always a typo that would silently do nothing.
    unknown = [k for k in mapping if k not in columns]
    if unknown:
        raise ValueError(f"{arg} names columns not in reference: {', '.join(map(repr, unknown))}")


def _method(col: str, kind: Kind, name: str) -> StatTest:
    test = stattest(AUTO_METHOD[kind] if name == "auto" else name)
    if not test.supports(kind):
        raise ValueError(
            f"column {col!r}: method {test.name!r} does not support kind {kind!r} "
            f"(it supports {', '.join(sorted(test.kinds))})"
        )
    return test
