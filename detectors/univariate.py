"""Per-column drift detection between a reference and a current sample."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.columns import convert, infer_kind
from detectors.correction import CORRECTIONS, p_threshold
from detectors.policy_evidently import detect_drift_evidently
from detectors.proportions import missing_rate_change
from detectors.registry import StatTest, stattest
from detectors.types import ColumnData, ColumnDrift, DriftResult, Kind, MissingRate, StatResult

AUTO_METHOD: Mapping[str, str] = {"numerical": "ks", "categorical": "chisquare"}
POLICIES = ("default", "evidently")


def detect_drift(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData],
    *,
    kinds: Mapping[str, str] | None = None,
    method: str | Mapping[str, str] = "auto",
    alpha: float = 0.05,
    min_effect: float | Mapping[str, float] | None = None,
    min_missing_change: float = 0.01,
    correction: str = "bonferroni",
    share_threshold: float = 0.5,
    policy: str = "default",
) -> DriftResult:
    """Test every column of ``reference`` against the same column of ``current``.

    A column drifts iff its p-value is at most the corrected threshold (``correction``:
    "bonferroni", "bh" or "none", over the columns decided by a p-value) AND its effect
    size is at least ``min_effect`` (None: each stat test's default, 0.025 for ks and
    0.03 for chisquare; a mapping gives per-column floors, e.g. from
    :func:`detectors.calibrate_min_effect`, and columns it leaves out get the default).
    A test without a p-value is decided on the effect size alone.

    A numerical column also drifts when its null rate (None, NaN, +-inf) changes: the
    change's p-value (:func:`detectors.proportions.missing_rate_change`) is at most the
    same corrected threshold, counted in the same family, and the change is at least
    ``min_missing_change`` (absolute). Categorical tests count missing values as a
    category already.

    ``kinds`` and ``method`` name columns of ``reference``; columns left
    out are inferred / "auto". Columns only in ``current`` are ignored. Inputs are never
    modified. Bad input raises ValueError naming the column.

    ``policy="evidently"`` reproduces Evidently 0.7's choice of test and verdict per
    column instead (:mod:`detectors.policy_evidently`); ``alpha``, ``min_effect`` and
    ``correction`` do not apply to it.
    """
    columns = list(reference)
    kinds = kinds or {}
    default_method, methods = (method, {}) if isinstance(method, str) else ("auto", method)
    floors = check_run(
        columns,
        current,
        {"kinds": kinds, "method": methods},
        min_effect=min_effect,
        min_missing_change=min_missing_change,
        share_threshold=share_threshold,
    )
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
    check_correction(correction, alpha)

    tested = []
    for col in columns:
        ref_raw, cur_raw = np.asarray(reference[col]), np.asarray(current[col])
        kind = infer_kind(col, ref_raw, cur_raw, given=kinds.get(col))
        test = column_test(col, kind, methods.get(col, default_method))
        ref, cur = convert(col, kind, ref_raw), convert(col, kind, cur_raw)
        res = test.fn(ref, cur)
        nulls = _null_rate(ref, cur) if kind == "numerical" else None
        tested.append(
            ColumnTested(col, kind, test, res, int(ref_raw.size), int(cur_raw.size), nulls)
        )
    return decide(
        tested,
        alpha=alpha,
        floors=floors,
        min_missing_change=min_missing_change,
        correction=correction,
        share_threshold=share_threshold,
    )


NullRate = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class ColumnTested:
    """One column's test before the run's verdict: what :func:`decide` needs, from raw
    arrays (:func:`detect_drift`) or from sketches (:mod:`detectors.sketch_drift`).
    ``nulls`` is :func:`null_rate_change` of a numerical column (None for categorical)."""

    column: str
    kind: Kind
    test: StatTest
    result: StatResult
    n_reference: int
    n_current: int
    nulls: NullRate | None

    def __post_init__(self) -> None:
        if self.result.effect_size is None:
            raise ValueError(
                f"stat test {self.test.name!r} reports no effect size (column {self.column!r})"
            )


def check_run(
    columns: list[str],
    current: Mapping[str, object],
    keyed: Mapping[str, Mapping[str, object]],
    *,
    min_effect: float | Mapping[str, float] | None,
    min_missing_change: float,
    share_threshold: float,
) -> dict[str, float]:
    """Check the arguments of a default-policy run that need no data: ``keyed`` holds the
    per-column arguments by name, whose keys must be columns. Returns the explicit effect
    floors (:func:`effect_floors`)."""
    if not columns:
        raise ValueError("reference has no columns")
    for arg, mapping in keyed.items():
        _check_keys(arg, mapping, columns)
    for col in columns:
        if col not in current:
            raise ValueError(f"column {col!r} is in reference but not in current")
    floors = effect_floors(min_effect, columns)
    if not 0.0 <= min_missing_change <= 1.0:
        raise ValueError(f"min_missing_change must be in [0, 1], got {min_missing_change!r}")
    if not 0.0 <= share_threshold <= 1.0:
        raise ValueError(f"share_threshold must be in [0, 1], got {share_threshold!r}")
    return floors


def check_correction(correction: str, alpha: float) -> None:
    """Refuse an unknown correction or an alpha outside (0, 1) before any test runs."""
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; known: {', '.join(CORRECTIONS)}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def decide(
    tested: Sequence[ColumnTested],
    *,
    alpha: float,
    floors: Mapping[str, float],
    min_missing_change: float,
    correction: str,
    share_threshold: float,
) -> DriftResult:
    """The default policy's verdicts on tested columns: one corrected p-value threshold
    over every p-value decided on, each column's effect floor (``floors``, else its test's
    default), and dataset drift by the share of drifted columns."""
    # One threshold for the run, over every p-value decided on: the columns' tests and
    # the null-rate checks.
    p_values = [t.result.p_value for t in tested if t.result.p_value is not None]
    p_values += [t.nulls[2] for t in tested if t.nulls is not None]
    threshold = p_threshold(alpha, p_values, method=correction)

    results = []
    for t in tested:
        res = t.result
        effect = res.effect_size
        assert effect is not None  # ColumnTested refuses None
        floor = floors.get(t.column, t.test.default_min_effect)
        significant = res.p_value is None or res.p_value <= threshold
        missing = None
        if t.nulls is not None:
            share_ref, share_cur, p_missing = t.nulls
            missing = MissingRate(
                reference=share_ref,
                current=share_cur,
                p_value=p_missing,
                min_change=min_missing_change,
                drifted=p_missing <= threshold and abs(share_cur - share_ref) >= min_missing_change,
            )
        results.append(
            ColumnDrift(
                column=t.column,
                kind=t.kind,
                method=t.test.name,
                statistic=res.statistic,
                p_value=res.p_value,
                effect_size=effect,
                threshold=threshold,
                min_effect=floor,
                n_reference=t.n_reference,
                n_current=t.n_current,
                drifted=bool(significant and effect >= floor) or bool(missing and missing.drifted),
                missing=missing,
            )
        )
    share = sum(c.drifted for c in results) / len(results)
    return DriftResult(
        columns=tuple(results),
        drift_share=share,
        dataset_drift=share >= share_threshold,
        share_threshold=share_threshold,
    )


def effect_floors(
    min_effect: float | Mapping[str, float] | None, columns: list[str]
) -> dict[str, float]:
    """Per-column effect floors given explicitly; the rest get their test's default."""
    if min_effect is None:
        return {}
    given = min_effect if isinstance(min_effect, Mapping) else dict.fromkeys(columns, min_effect)
    _check_keys("min_effect", given, columns)
    for col, floor in given.items():
        if not floor >= 0:  # also refuses NaN
            raise ValueError(f"min_effect for column {col!r} must be >= 0, got {floor!r}")
    return {col: float(floor) for col, floor in given.items()}


def _null_rate(
    reference: npt.NDArray[np.float64], current: npt.NDArray[np.float64]
) -> NullRate | None:
    """:func:`null_rate_change` of the non-finite values (None, NaN, +-inf) of two columns."""
    n_ref = reference.size - int(np.count_nonzero(np.isfinite(reference)))
    n_cur = current.size - int(np.count_nonzero(np.isfinite(current)))
    return null_rate_change(n_ref, reference.size, n_cur, current.size)


def null_rate_change(ref_missing: int, n_ref: int, cur_missing: int, n_cur: int) -> NullRate | None:
    """(reference share, current share, p-value of the change) for ``ref_missing`` of
    ``n_ref`` and ``cur_missing`` of ``n_cur`` rows missing; None when neither side has a
    missing row (there is nothing to test, and a p-value of 1 would only dilute the
    correction) or a side is empty."""
    if (ref_missing == 0 and cur_missing == 0) or n_ref == 0 or n_cur == 0:
        return None
    change = missing_rate_change(ref_missing, n_ref, cur_missing, n_cur)
    assert change.p_value is not None  # it always has one
    return ref_missing / n_ref, cur_missing / n_cur, change.p_value


def _check_keys(arg: str, mapping: Mapping[str, object], columns: list[str]) -> None:
    # A key that names no column is almost always a typo that would silently do nothing.
    unknown = [k for k in mapping if k not in columns]
    if unknown:
        raise ValueError(f"{arg} names columns not in reference: {', '.join(map(repr, unknown))}")


def column_test(col: str, kind: Kind, name: str) -> StatTest:
    """The stat test ``name`` ("auto": ks / chisquare by kind) for column ``col``, checked
    to support ``kind``."""
    test = stattest(AUTO_METHOD[kind] if name == "auto" else name)
    if not test.supports(kind):
        raise ValueError(
            f"column {col!r}: method {test.name!r} does not support kind {kind!r} "
            f"(it supports {', '.join(sorted(test.kinds))})"
        )
    return test
