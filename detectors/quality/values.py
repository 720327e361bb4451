"""The quality facts of one column's values: type classes, missing, NaN, inf, categories.

Shared by the reference profile and the window check, so that both count by one rule.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors.columns import missing_labels
from detectors.stattests.chisquare import label_counts
from detectors.types import ColumnData

FloatArray = npt.NDArray[np.float64]

# Type class of a value; numpy scalars are in the class of the Python type they stand for.
NONE, FLOAT, INT, BOOL, STR, OTHER = range(6)
CLASS_NAMES: dict[int, str] = {STR: "string", INT: "integer", FLOAT: "float", BOOL: "boolean"}
CLASS_CODES: dict[str, int] = {name: code for code, name in CLASS_NAMES.items()}
CATEGORY_CLASSES = frozenset(CLASS_NAMES)


def _class_of(t: type) -> int:
    if t is type(None):
        return NONE
    # bool before int: bool subclasses int, but true is no number here (as at ingest).
    if issubclass(t, bool | np.bool_):
        return BOOL
    if issubclass(t, int | np.integer):
        return INT
    if issubclass(t, float | np.floating):
        return FLOAT
    if issubclass(t, str):
        return STR
    return OTHER


class _Classes(dict[type, int]):
    """type -> class, filled on first sight: a column holds few distinct types, so mapping
    each row costs one dict lookup in C rather than a Python call."""

    def __missing__(self, t: type) -> int:
        self[t] = code = _class_of(t)
        return code


def _codes(values: npt.NDArray[Any]) -> npt.NDArray[np.int8]:
    classes = _Classes()
    return np.fromiter(map(classes.__getitem__, map(type, values.tolist())), np.int8, values.size)


def as_column(col: str, values: ColumnData) -> npt.NDArray[Any]:
    """``values`` as a 1-d array: an array as it is, any other iterable as an object array
    of its elements, one per row (a list among them is a value, of no valid type).

    Never ``np.asarray`` on a sequence: ``[1.0, True]`` would become ``[1.0, 1.0]`` and
    ``[1, "a"]`` ``["1", "a"]``, hiding the very type errors counted here."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(f"column {col!r} must be 1-d, got shape {values.shape}")
        return values
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValueError(f"column {col!r} must be 1-d, got {values!r:.80}")
    return np.fromiter(values, dtype=object)


@dataclass(frozen=True, slots=True)
class Counts:
    """Row counts of one column. ``missing`` (None or NaN) includes ``nan`` (the NaNs);
    ``inf`` (+-inf numbers) is 0 for categorical columns; ``checked`` are the values the
    range or category checks look at: finite numbers, or categories neither missing nor
    of a wrong type. ``n = missing + inf + type_errors + checked``."""

    n: int
    missing: int
    nan: int
    inf: int
    type_errors: int
    checked: int
    constant: bool


def _floats(values: npt.NDArray[Any]) -> FloatArray:
    """Python or numpy numbers as float64; an int beyond float64 becomes +-inf (as a JSON
    literal like 1e400 parses to inf)."""
    try:
        return values.astype(np.float64)
    except OverflowError:
        return np.array([_float(v) for v in values.tolist()], dtype=np.float64)


def _float(v: Any) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def numerical(arr: npt.NDArray[Any]) -> tuple[Counts, FloatArray]:
    """Counts of a numerical column and its finite values. Numbers are int and float
    (Python or numpy, not bool); None and NaN are missing; anything else (a bool, a
    string, any other object) is a type error."""
    n = arr.size
    if arr.dtype.kind in "iuf":
        x = arr.astype(np.float64, copy=False)
        nones = 0
    else:
        obj = arr.astype(object, copy=False)
        codes = _codes(obj)
        is_number = (codes == FLOAT) | (codes == INT)
        nones = int(np.count_nonzero(codes == NONE))
        x = _floats(obj[is_number])
    is_finite = np.isfinite(x)
    n_finite = int(np.count_nonzero(is_finite))
    nan = int(np.count_nonzero(np.isnan(x)))
    inf = x.size - n_finite - nan
    values = x if n_finite == x.size else x[is_finite]
    if inf == 0:
        constant = values.size >= 2 and bool(values.min() == values.max())
    else:  # only +inf, or only -inf, and nothing else
        positive = int(np.count_nonzero(x == math.inf))
        constant = n_finite == 0 and inf >= 2 and positive in (0, inf)
    counts = Counts(
        n=n,
        missing=nones + nan,
        nan=nan,
        inf=inf,
        type_errors=n - nones - x.size,
        checked=n_finite,
        constant=constant,
    )
    return counts, values


def categorical(
    arr: npt.NDArray[Any], accepted: frozenset[int]
) -> tuple[Counts, Counter[str], frozenset[int]]:
    """Counts of a categorical column, the count of each valid category (as its string,
    the way the categorical stat tests compare them), and the type classes of its present
    values. None and NaN are missing; a present value is a type error unless its class is
    in ``accepted``."""
    obj = arr.astype(object, copy=False)
    missing = missing_labels(obj)
    codes = _codes(obj)
    present_codes = codes[~missing]
    seen = frozenset(np.unique(present_codes).tolist())
    valid = ~missing
    valid[valid] = np.isin(present_codes, list(accepted))
    labels = label_counts(obj[valid])
    n_missing = int(np.count_nonzero(missing))
    n_valid = int(np.count_nonzero(valid))
    counts = Counts(
        n=obj.size,
        missing=n_missing,
        nan=n_missing - int(np.count_nonzero(codes == NONE)),
        inf=0,
        type_errors=obj.size - n_missing - n_valid,
        checked=n_valid,
        constant=n_valid >= 2 and len(labels) == 1,
    )
    return counts, labels, seen
