"""Column kinds: inferring them and converting a column for its kind."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors.types import KINDS, ColumnData, Kind

# Python and numpy number types that make an object column numerical (bool is excluded
# below: it subclasses int but is a category).
_NUMBER_TYPES = (int, float, np.integer, np.floating)


def looks_numerical(values: ColumnData) -> bool:
    """Numeric dtype (not bool), or an object array of numbers and None (e.g. JSON nulls)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iuf":
        return True
    if arr.dtype.kind != "O":
        return False
    # Distinct element types are few, so checking them costs one pass in C, not per row.
    types = set(map(type, arr.ravel()))
    types.discard(type(None))
    return all(issubclass(t, _NUMBER_TYPES) and not issubclass(t, bool | np.bool_) for t in types)


def infer_kind(
    col: str,
    reference: ColumnData,
    current: ColumnData,
    *,
    given: str | None = None,
    supported: Collection[str] = KINDS,
) -> Kind:
    """``given`` checked, or numerical when both sides look numerical and that kind is
    ``supported``, else categorical (if supported). ValueError naming ``col`` otherwise."""
    if given is not None:
        if given not in KINDS:
            raise ValueError(f"column {col!r}: unknown kind {given!r}; known: {sorted(KINDS)}")
        return "numerical" if given == "numerical" else "categorical"
    numeric = looks_numerical(reference) and looks_numerical(current)
    if numeric and "numerical" in supported:
        return "numerical"
    if "categorical" in supported:
        return "categorical"
    raise ValueError(
        f"{col!r}: the data is not numerical, and only {', '.join(sorted(supported))} is supported"
    )


def convert(col: str, kind: Kind, values: ColumnData) -> npt.NDArray[Any]:
    """A 1-d array typed for ``kind``: float64 (None -> NaN) or object. It is the input
    itself when that already has the type (no copy of a million rows): never modify it."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"column {col!r} must be 1-d, got shape {arr.shape}")
    if kind == "categorical":
        return arr.astype(object, copy=False)
    try:
        return arr.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"column {col!r} is numerical but holds a non-number: {exc}") from exc


def finite(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """The finite values of a numerical column (NaN and +-inf dropped)."""
    arr = np.asarray(values, dtype=np.float64)
    return arr[np.isfinite(arr)]


_NONE = np.array(None, dtype=object)


def missing_labels(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Which entries of an object (categorical) array are missing: None or NaN. Element-wise
    comparisons in C; ``x != x`` holds only for NaN, the one value unequal to itself."""
    mask: npt.NDArray[np.bool_] = np.equal(values, _NONE) | np.not_equal(values, values)
    return mask
