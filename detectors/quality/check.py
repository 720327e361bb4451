"""The window side of the data-quality checks: each column's facts against its profile."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy.typing as npt

from detectors.quality import values as v
from detectors.quality.profile import (
    Bound,
    ColumnProfile,
    QualityProfile,
    RangeSource,
    out_of_range,
    rate,
)
from detectors.sketches import label_hash
from detectors.types import ColumnData, Kind

# Names of the checks, as they appear in ColumnQuality.issues.
ABSENT = "absent"
MISSING_RATE = "missing_rate"
INF_RATE = "inf_rate"
TYPE_ERRORS = "type_errors"
OUT_OF_RANGE = "out_of_range"
UNSEEN_CATEGORIES = "unseen_categories"
CONSTANT = "constant"
CHECKS = (ABSENT, MISSING_RATE, INF_RATE, TYPE_ERRORS, OUT_OF_RANGE, UNSEEN_CATEGORIES, CONSTANT)
MAX_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """When each check fails (all comparisons strict; rates and changes are shares, 0..1).

    - ``missing_rate``: ``|missing rate - reference's| > missing_change`` (both ways: a
      drop is as much a pipeline change as a rise, e.g. an upstream imputation);
    - ``inf_rate``: ``|inf rate - reference's| > inf_change`` (numerical);
    - ``type_errors``: ``type-error rate > type_error_rate`` (0: any type error);
    - ``out_of_range``: ``out-of-range rate > out_of_range_rate`` (numerical);
    - ``unseen_categories``: ``unseen rate > unseen_rate`` (categorical);
    - ``constant``: the window is constant and the reference is not (when ``constant``).

    A check whose rate is undefined (None) does not fail.
    """

    missing_change: float = 0.05
    inf_change: float = 0.01
    type_error_rate: float = 0.0
    out_of_range_rate: float = 0.01
    unseen_rate: float = 0.01
    constant: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "constant" and not 0.0 <= value <= 1.0:  # also refuses NaN
                raise ValueError(f"threshold {f.name} must be in [0, 1], got {value!r}")


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` of ``total`` rows or values, its ``rate`` (None when ``total`` is 0), the
    profile's rate of the same fact (``reference``, None when undefined there) and
    ``change = rate - reference`` (None when either is None)."""

    count: int
    total: int
    rate: float | None
    reference: float | None
    change: float | None

    @classmethod
    def of(cls, count: int, total: int, reference: float | None) -> Rate:
        r = rate(count, total)
        change = None if r is None or reference is None else r - reference
        return cls(count, total, r, reference, change)


@dataclass(frozen=True, slots=True)
class ColumnQuality:
    """The data-quality facts of one column in one window, and the checks that failed.

    ``n`` is the window's row count. Over ``n`` rows: ``missing`` (None or NaN),
    ``nan`` (the NaNs among the missing: in a float column every missing value is one),
    ``inf`` (+-inf; numerical only, else None) and ``type_errors``. Over the checked
    values (finite numbers, or categories of an accepted type): ``out_of_range``
    (numerical, else None) against ``[range_min, range_max]`` (None: no bound on that
    side) taken from ``range_source``; ``unseen`` (categorical; None for a
    high-cardinality profile that keeps no categories), with up to 5 of the unseen
    categories, most frequent first, in ``unseen_examples``. ``constant`` /
    ``constant_reference``: at least 2 checked-or-infinite values, all equal. ``present``
    is False for a profile column absent from the window (then every row is missing).
    ``issues`` names the failed checks, in the order of ``CHECKS``.
    """

    column: str
    kind: Kind
    n: int
    present: bool
    missing: Rate
    nan: Rate
    inf: Rate | None
    type_errors: Rate
    out_of_range: Rate | None
    range_source: RangeSource | None
    range_min: Bound
    range_max: Bound
    unseen: Rate | None
    unseen_examples: tuple[str, ...]
    constant: bool
    constant_reference: bool
    issues: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.issues


@dataclass(frozen=True, slots=True)
class QualityResult:
    """Every profile column's :class:`ColumnQuality`, in profile order, for a window of
    ``n`` rows; ``unexpected`` names the window's columns that the profile lacks."""

    columns: tuple[ColumnQuality, ...]
    unexpected: tuple[str, ...]
    n: int
    thresholds: QualityThresholds

    @property
    def issues(self) -> dict[str, tuple[str, ...]]:
        """Failed checks by column, for the columns with any."""
        return {c.column: c.issues for c in self.columns if c.issues}

    def by_column(self, name: str) -> ColumnQuality:
        """The result of column ``name``; KeyError naming it and the known columns."""
        for c in self.columns:
            if c.column == name:
                return c
        known = ", ".join(repr(c.column) for c in self.columns)
        raise KeyError(f"no column {name!r} in this result; columns: {known}")


def data_quality(
    profile: QualityProfile,
    current: Mapping[str, ColumnData],
    *,
    thresholds: QualityThresholds | None = None,
) -> QualityResult:
    """Check each column of ``profile`` in the window ``current`` (columns of equal
    length: the window's rows). An absent column is all missing and fails ``absent``; a
    column only in ``current`` is listed in ``unexpected``; an empty window gives n = 0
    and None rates. ``thresholds``: :class:`QualityThresholds` (None: the defaults).
    ValueError naming the column for a non-1-d column or unequal lengths."""
    limits = thresholds or QualityThresholds()
    arrays = {col: v.as_column(col, raw) for col, raw in current.items()}
    lengths = {col: arr.size for col, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"current columns must have one length (the window's), got {lengths}")
    n = next(iter(lengths.values()), 0)
    results = tuple(_column(p, arrays.get(p.column), n, limits) for p in profile.columns)
    names = set(profile.names)
    return QualityResult(results, tuple(c for c in arrays if c not in names), n, limits)


def _column(
    p: ColumnProfile, arr: npt.NDArray[Any] | None, n: int, limits: QualityThresholds
) -> ColumnQuality:
    present = arr is not None
    unseen: Rate | None = None
    examples: tuple[str, ...] = ()
    out: Rate | None = None
    if arr is None:
        counts = v.Counts(n, n, 0, 0, 0, 0, constant=False)
        if p.kind == "numerical":
            out = Rate.of(0, 0, p.out_of_range_rate)
        elif p.known is not None:
            unseen = Rate.of(0, 0, 0.0 if p.checked else None)
    elif p.kind == "numerical":
        counts, finite = v.numerical(arr)
        out = Rate.of(
            out_of_range(finite, p.range_min, p.range_max), counts.checked, p.out_of_range_rate
        )
    else:
        accepted = frozenset(v.CLASS_CODES[t] for t in p.value_types)
        counts, labels, _ = v.categorical(arr, accepted)
        if p.known is not None:
            known = frozenset(p.known)
            new = {x: k for x, k in labels.items() if label_hash(x) not in known}
            examples = tuple(sorted(new, key=lambda x: (-new[x], x))[:MAX_EXAMPLES])
            # The reference's own unseen rate is 0 by definition; None if it had no value.
            unseen = Rate.of(sum(new.values()), counts.checked, 0.0 if p.checked else None)
    numerical = p.kind == "numerical"
    result = ColumnQuality(
        column=p.column,
        kind=p.kind,
        n=n,
        present=present,
        missing=Rate.of(counts.missing, n, p.missing_rate),
        nan=Rate.of(counts.nan, n, p.nan_rate),
        inf=Rate.of(counts.inf, n, p.inf_rate) if numerical else None,
        type_errors=Rate.of(counts.type_errors, n, p.type_error_rate),
        out_of_range=out,
        range_source=p.range_source,
        range_min=p.range_min,
        range_max=p.range_max,
        unseen=unseen,
        unseen_examples=examples,
        constant=counts.constant,
        constant_reference=p.constant,
    )
    return _with_issues(result, limits)


def _with_issues(c: ColumnQuality, limits: QualityThresholds) -> ColumnQuality:
    failed = {
        ABSENT: not c.present,
        MISSING_RATE: _above(c.missing.change, limits.missing_change, both_ways=True),
        INF_RATE: c.inf is not None and _above(c.inf.change, limits.inf_change, both_ways=True),
        TYPE_ERRORS: _above(c.type_errors.rate, limits.type_error_rate),
        OUT_OF_RANGE: c.out_of_range is not None
        and _above(c.out_of_range.rate, limits.out_of_range_rate),
        UNSEEN_CATEGORIES: c.unseen is not None and _above(c.unseen.rate, limits.unseen_rate),
        CONSTANT: limits.constant and c.constant and not c.constant_reference,
    }
    return replace(c, issues=tuple(name for name in CHECKS if failed[name]))


def _above(value: float | None, threshold: float, *, both_ways: bool = False) -> bool:
    if value is None:
        return False
    # Rounding must not fail a check: 0.15 - 0.1 is 0.04999... or 0.0500...01 in floats.
    margin = abs(value) if both_ways else value
    return margin > threshold and not math.isclose(margin, threshold, rel_tol=1e-12, abs_tol=1e-15)
