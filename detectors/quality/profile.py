"""The reference side of the data-quality checks: one profile per baseline, stored as JSON."""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from detectors.columns import infer_kind
from detectors.quality import values as v
from detectors.sketches import MAX_KNOWN, label_hash
from detectors.types import ColumnData, Kind

RangeSource = Literal["schema", "baseline"]
Bound = float | None
FORMAT = 1


def rate(count: int | None, total: int) -> float | None:
    """``count / total``; None when there is nothing to divide (or nothing counted)."""
    return None if count is None or total == 0 else count / total


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    """What the reference says about one column.

    Counts are of the reference's rows (``n``), by the rules of :mod:`detectors.quality`:
    ``missing`` (None or NaN) includes ``nan``; ``checked`` counts the values the range or
    category check looks at (finite numbers, or categories of an accepted type).

    Numerical: ``range_min``/``range_max`` is the range applied (None: unbounded on that
    side), from the schema when one was given, else the reference's finite
    ``observed_min``/``observed_max`` (None when it has no finite value);
    ``out_of_range_count`` is the reference's own count against it (0 for a baseline range).
    ``inf_count`` and the range fields are None for categorical columns.

    Categorical: ``value_types`` are the accepted type classes ("string", "integer",
    "float", "boolean"): those of the reference's present values, or all four when it has
    none. ``known`` are the sorted 64-bit BLAKE2b hashes of the reference's categories (as
    strings; the hash of :mod:`detectors.sketches` layouts), or None when it has more than
    the ``max_categories`` of :meth:`QualityProfile.from_reference`: the column is then
    high-cardinality and new categories are not counted. ``n_categories`` is the number of
    distinct categories either way.
    """

    column: str
    kind: Kind
    n: int
    missing_count: int
    nan_count: int
    inf_count: int | None
    type_error_count: int
    checked: int
    constant: bool
    range_source: RangeSource | None = None
    range_min: Bound = None
    range_max: Bound = None
    observed_min: Bound = None
    observed_max: Bound = None
    out_of_range_count: int | None = None
    value_types: tuple[str, ...] = ()
    known: tuple[int, ...] | None = None
    n_categories: int = 0

    @property
    def missing_rate(self) -> float | None:
        return rate(self.missing_count, self.n)

    @property
    def nan_rate(self) -> float | None:
        return rate(self.nan_count, self.n)

    @property
    def inf_rate(self) -> float | None:
        return rate(self.inf_count, self.n)

    @property
    def type_error_rate(self) -> float | None:
        return rate(self.type_error_count, self.n)

    @property
    def out_of_range_rate(self) -> float | None:
        """Share of the finite values outside the range."""
        return rate(self.out_of_range_count, self.checked)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["value_types"] = list(self.value_types)
        out["known"] = None if self.known is None else _encode_hashes(self.known)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        names = {f.name for f in fields(cls)}
        if set(data) != names:
            raise ValueError(
                f"column profile {data.get('column')!r}: expected keys {sorted(names)}, "
                f"got {sorted(data)}"
            )
        kw = dict(data)
        kw["value_types"] = tuple(data["value_types"])
        kw["known"] = None if data["known"] is None else _decode_hashes(data["known"])
        return cls(**kw)

    def __post_init__(self) -> None:
        # Checks what a stored profile could get wrong; from_reference never fails them.
        col = self.column
        if self.kind not in ("numerical", "categorical"):
            raise ValueError(f"column {col!r}: unknown kind {self.kind!r}")
        parts = (self.missing_count, self.inf_count or 0, self.type_error_count, self.checked)
        if min(parts) < 0 or sum(parts) != self.n or not 0 <= self.nan_count <= self.missing_count:
            raise ValueError(f"column {col!r}: inconsistent counts {parts} for n={self.n}")
        if self.kind == "numerical" and (self.inf_count is None or self.range_source is None):
            raise ValueError(f"column {col!r}: a numerical profile needs inf_count and a range")
        if not set(self.value_types) <= set(v.CLASS_CODES):
            raise ValueError(f"column {col!r}: unknown value types {self.value_types!r}")
        if self.known is not None and list(self.known) != sorted(set(self.known)):
            raise ValueError(f"column {col!r}: known must be sorted distinct hashes")


def _encode_hashes(hashes: Sequence[int]) -> str:
    return base64.b64encode(np.array(hashes, dtype="<u8").tobytes()).decode()


def _decode_hashes(text: str) -> tuple[int, ...]:
    return tuple(np.frombuffer(base64.b64decode(text), dtype="<u8").tolist())


@dataclass(frozen=True, slots=True)
class QualityProfile:
    """Per-column reference facts for :func:`detectors.quality.data_quality`, in column
    order. ``to_dict()`` is plain JSON (no NaN; hashes in base64) and ``from_dict`` reads
    it back to an equal profile."""

    columns: tuple[ColumnProfile, ...]

    @classmethod
    def from_reference(
        cls,
        columns: Mapping[str, ColumnData],
        *,
        kinds: Mapping[str, str] | None = None,
        ranges: Mapping[str, tuple[Bound, Bound]] | None = None,
        max_categories: int = MAX_KNOWN,
    ) -> QualityProfile:
        """Profile the baseline's ``columns`` (each 1-d and non-empty).

        ``kinds`` gives "numerical" or "categorical" per column; a column left out is
        inferred as :func:`detectors.columns.infer_kind` does (numbers and None:
        numerical). ``ranges`` gives a numerical column's schema range ``(min, max)``,
        either None for no bound on that side; it replaces the baseline's observed range.
        ValueError naming the column for an unknown kind, a non-1-d or empty column, or a
        ``kinds``/``ranges`` key that names no column.
        """
        kinds, ranges = kinds or {}, ranges or {}
        for arg, given in (("kinds", kinds), ("ranges", ranges)):
            unknown = [k for k in given if k not in columns]
            if unknown:
                raise ValueError(f"{arg} names columns not in the reference: {unknown!r}")
        if max_categories < 0:
            raise ValueError(f"max_categories must be >= 0, got {max_categories!r}")
        profiles = []
        for col, raw in columns.items():
            arr = v.as_column(col, raw)
            if arr.size == 0:
                raise ValueError(f"column {col!r}: the reference is empty")
            kind = infer_kind(col, arr, arr, given=kinds.get(col))
            if kind == "numerical":
                profiles.append(_numerical(col, arr, ranges.get(col)))
            elif col in ranges:
                raise ValueError(f"column {col!r}: a range was given, but it is categorical")
            else:
                profiles.append(_categorical(col, arr, max_categories))
        return cls(tuple(profiles))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns)

    def by_column(self, name: str) -> ColumnProfile:
        """The profile of column ``name``; KeyError naming it and the known columns."""
        for c in self.columns:
            if c.column == name:
                return c
        raise KeyError(f"no column {name!r} in this profile; columns: {list(self.names)}")

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityProfile:
        """The profile of :meth:`to_dict`; ValueError for another format or bad content."""
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown quality profile format {data.get('format')!r}")
        try:
            return cls(tuple(ColumnProfile.from_dict(c) for c in data["columns"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed quality profile: {exc!r}") from exc


def _numerical(col: str, arr: npt.NDArray[Any], schema: Sequence[Bound] | None) -> ColumnProfile:
    counts, finite = v.numerical(arr)
    observed: tuple[Bound, Bound] = (None, None)
    if finite.size:
        observed = (float(finite.min()), float(finite.max()))
    if schema is None:
        source: RangeSource = "baseline"
        lo, hi = observed
        out = 0
    else:
        source = "schema"
        lo, hi = _schema_range(col, schema)
        out = out_of_range(finite, lo, hi)
    return ColumnProfile(
        column=col,
        kind="numerical",
        n=counts.n,
        missing_count=counts.missing,
        nan_count=counts.nan,
        inf_count=counts.inf,
        type_error_count=counts.type_errors,
        checked=counts.checked,
        constant=counts.constant,
        range_source=source,
        range_min=lo,
        range_max=hi,
        observed_min=observed[0],
        observed_max=observed[1],
        out_of_range_count=out,
    )


def _categorical(col: str, arr: npt.NDArray[Any], max_categories: int) -> ColumnProfile:
    # Accepting every category class leaves only values of no such class (a list, a
    # dict, ...) as type errors: the reference's present classes are then its own rule.
    counts, labels, seen = v.categorical(arr, v.CATEGORY_CLASSES)
    accepted = (seen & v.CATEGORY_CLASSES) or v.CATEGORY_CLASSES
    known = None
    if len(labels) <= max_categories:
        known = tuple(sorted({label_hash(label) for label in labels}))
    return ColumnProfile(
        column=col,
        kind="categorical",
        n=counts.n,
        missing_count=counts.missing,
        nan_count=counts.nan,
        inf_count=None,
        type_error_count=counts.type_errors,
        checked=counts.checked,
        constant=counts.constant,
        value_types=tuple(v.CLASS_NAMES[c] for c in sorted(accepted)),
        known=known,
        n_categories=len(labels),
    )


def _schema_range(col: str, bounds: Sequence[Bound]) -> tuple[Bound, Bound]:
    if isinstance(bounds, str | bytes) or len(bounds) != 2:
        raise ValueError(f"column {col!r}: a range is (min, max), got {bounds!r}")
    lo, hi = (None if b is None else _bound(col, b) for b in bounds)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"column {col!r}: range min {lo!r} is above max {hi!r}")
    return lo, hi


def _bound(col: str, b: object) -> float:
    if isinstance(b, bool) or not isinstance(b, int | float | np.integer | np.floating):
        raise ValueError(f"column {col!r}: a range bound must be a number or None, got {b!r}")
    if not math.isfinite(b):
        raise ValueError(
            f"column {col!r}: a range bound must be finite (None: no bound), got {b!r}"
        )
    return float(b)


def out_of_range(finite: v.FloatArray, lo: Bound, hi: Bound) -> int:
    """How many of the ``finite`` values lie outside ``[lo, hi]`` (None: no bound)."""
    below = 0 if lo is None else int(np.count_nonzero(finite < lo))
    above = 0 if hi is None else int(np.count_nonzero(finite > hi))
    return below + above
