"""Per-column drift verdicts from sketches: the default policy of ``detect_drift`` on
merged window sketches instead of raw rows.

The detection service keeps one :class:`~detectors.sketches.Sketch` per feature and time
bucket and merges a window's buckets; this module decides drift from such sketches with
the same rules as :func:`detectors.detect_drift` (one corrected p-value threshold over the
run, effect floors per test or per column, the null-rate check of numerical columns in the
same family, dataset drift by share). The verdict itself is
:func:`detectors.univariate.decide`, shared with ``detect_drift``: only how each column's
statistic is computed differs (:func:`detectors.sketches.compare` on the bins).
"""

from __future__ import annotations

from collections.abc import Mapping

from detectors.registry import StatTest
from detectors.sketches import METHODS, Sketch, compare
from detectors.types import DriftResult, Kind
from detectors.univariate import (
    ColumnTested,
    check_correction,
    check_run,
    column_test,
    decide,
    null_rate_change,
)


def detect_drift_sketches(
    reference: Mapping[str, Sketch],
    current: Mapping[str, Sketch],
    *,
    method: str | Mapping[str, str] = "auto",
    alpha: float = 0.05,
    min_effect: float | Mapping[str, float] | None = None,
    min_missing_change: float = 0.01,
    correction: str = "bonferroni",
    share_threshold: float = 0.5,
) -> DriftResult:
    """Test every column's ``reference`` sketch against its ``current`` sketch.

    The arguments mean what they mean in :func:`detectors.detect_drift` (default policy);
    the kind of a column is its sketches' layout kind. ``method`` "auto" is "ks" for
    numerical sketches (:func:`detectors.sketches.binned_ks`: the binned D is at most the
    raw one, so its p-value errs high) and "chisquare" for categorical ones; any method
    must be one of :data:`detectors.sketches.METHODS` and support the column's kind.

    The null-rate check of a numerical column counts the sketches' None/NaN and +-inf
    rows (``n_missing + n_infinite`` of ``n``), as ``detect_drift`` counts non-finite
    values. ``n_reference`` / ``n_current`` are the sketches' ``n`` (all rows, missing
    included), as ``detect_drift`` reports the column sizes.

    ValueError naming the column for a column missing from ``current``, sketches of two
    layouts (or kinds), or a method that sketches cannot compute.
    """
    columns = list(reference)
    default_method, methods = (method, {}) if isinstance(method, str) else ("auto", method)
    floors = check_run(
        columns,
        current,
        {"method": methods},
        min_effect=min_effect,
        min_missing_change=min_missing_change,
        share_threshold=share_threshold,
    )
    check_correction(correction, alpha)

    tested = []
    for col in columns:
        ref, cur = reference[col], current[col]
        if ref.fingerprint != cur.fingerprint:
            raise ValueError(
                f"column {col!r}: reference and current sketches have different layouts "
                f"({ref.kind} {ref.fingerprint}, {cur.kind} {cur.fingerprint})"
            )
        test = _sketch_test(col, ref.kind, methods.get(col, default_method))
        res = compare(ref, cur, test.name)
        nulls = None
        if ref.kind == "numerical":
            nulls = null_rate_change(
                ref.n_missing + ref.n_infinite, ref.n, cur.n_missing + cur.n_infinite, cur.n
            )
        tested.append(ColumnTested(col, ref.kind, test, res, ref.n, cur.n, nulls))
    return decide(
        tested,
        alpha=alpha,
        floors=floors,
        min_missing_change=min_missing_change,
        correction=correction,
        share_threshold=share_threshold,
    )


def _sketch_test(col: str, kind: Kind, name: str) -> StatTest:
    """The registered test ``name`` ("auto": by kind) for a column's sketches, refused
    unless sketches can compute it; its registry entry gives the default effect floor."""
    if name != "auto" and name not in METHODS:
        raise ValueError(
            f"column {col!r}: method {name!r} cannot be computed from sketches; "
            f"sketch methods: {', '.join(METHODS)}"
        )
    return column_test(col, kind, name)
