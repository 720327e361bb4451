"""Per-column drift detection between a reference and a current sample."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from detectors.columns import convert, infer_kind
from detectors.correction import p_threshold
from detectors.registry import StatTest, stattest
from detectors.types import ColumnData, ColumnDrift, DriftResult, Kind

AUTO_METHOD: Mapping[str, str] = {"numerical": "ks", "categorical": "chisquare"}


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
) -> DriftResult:
    """Test every column of ``reference`` against the same column of ``current``.

    A column drifts iff its p-value is below the corrected threshold (``correction`` over
    the number of columns) AND its effect size is at least ``min_effect`` (None: each stat
    test's default, 0.1 for ks and chisquare). A test without a p-value is decided on the
    effect size alone. ``kinds`` and ``method`` name columns of ``reference``; columns left
    out are inferred / "auto". Columns only in ``current`` are ignored. Inputs are never
    modified. Bad input raises ValueError naming the column.
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
    threshold = p_threshold(alpha, n_tests=len(columns), method=correction)

    results = []
    for col in columns:
        ref_raw, cur_raw = np.asarray(reference[col]), np.asarray(current[col])
        kind = infer_kind(col, ref_raw, cur_raw, given=kinds.get(col))
        test = _method(col, kind, methods.get(col, default_method))
        ref, cur = convert(col, kind, ref_raw), convert(col, kind, cur_raw)
        res = test.fn(ref, cur)
        if res.effect_size is None:
            raise ValueError(f"stat test {test.name!r} reports no effect size (column {col!r})")
        floor = test.default_min_effect if min_effect is None else float(min_effect)
        significant = res.p_value is None or res.p_value < threshold
        results.append(
            ColumnDrift(
                column=col,
                kind=kind,
                method=test.name,
                statistic=res.statistic,
                p_value=res.p_value,
                effect_size=res.effect_size,
                threshold=threshold,
                min_effect=floor,
                n_reference=int(ref.size),
                n_current=int(cur.size),
                drifted=bool(significant and res.effect_size >= floor),
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
