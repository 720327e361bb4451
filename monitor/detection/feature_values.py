"""Baseline feature values in the form production windows have once stored.

Ingest stores a numerical feature as float8 (missing: NULL) and a categorical one as text
(``str`` of an integer, ``"true"``/``"false"`` for a boolean, the string itself). A
baseline must hold its values in that same form, or a drift test would compare ``3`` with
``"3"``. These functions convert one batch of one feature and refuse what ingest would
refuse, naming the feature, the row and the value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]
ColumnInput = npt.NDArray[Any] | Sequence[Any]


class FeatureValueError(ValueError):
    """A value that is not of its feature's kind; the message names feature, row, value."""


def _is_number_type(t: type) -> bool:
    # bool subclasses int, but ingest refuses true as a number: so do we.
    return t is type(None) or (
        issubclass(t, int | float | np.integer | np.floating) and not issubclass(t, bool | np.bool_)
    )


def _items(name: str, values: ColumnInput) -> list[Any]:
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise FeatureValueError(f"feature {name!r}: values must be 1-d, got {values.shape}")
        return values.tolist()  # type: ignore[no-any-return]
    if isinstance(values, str | bytes):
        raise FeatureValueError(f"feature {name!r}: values must be a sequence, got {values!r:.80}")
    return list(values)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} chars)"


def numerical_values(name: str, values: ColumnInput, *, first_row: int = 0) -> FloatArray:
    """One batch of a numerical feature as float64, missing (None) as NaN. Numbers are
    int and float (Python or numpy), not bool; anything else is a FeatureValueError naming
    its row (``first_row`` + position). The input array itself is returned when it is
    already float64: never modify the result."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iuf":
        return values.astype(np.float64, copy=False)
    items = _items(name, values)
    if not all(map(_is_number_type, set(map(type, items)))):
        for i, value in enumerate(items):
            if not _is_number_type(type(value)):
                raise FeatureValueError(
                    f"feature {name!r}: row {first_row + i}: {_shown(value)} is not a number "
                    "(numerical feature)"
                )
    try:
        return np.array(items, dtype=np.float64)
    except OverflowError:
        # An integer beyond float64 is infinite, as a JSON literal like 1e400 parses.
        return np.array([_float(v) for v in items], dtype=np.float64)


def _float(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def category_label(value: Any) -> str | None:
    """The stored label of one categorical value; None for missing (None, NaN). Strings
    are themselves, integers their decimal string, booleans ``"true"``/``"false"`` (as
    ingest spells them), and a float only when it is a whole number (a Parquet integer
    column with nulls often arrives as floats): ``3.0`` -> ``"3"``. ValueError otherwise."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        if math.isfinite(value) and float(value).is_integer():
            return str(int(value))
    raise ValueError(_shown(value))


def categorical_values(name: str, values: ColumnInput, *, first_row: int = 0) -> ObjectArray:
    """One batch of a categorical feature as an object array of ``str`` labels and None
    (see :func:`category_label`); a value of another kind is a FeatureValueError naming
    its row (``first_row`` + position)."""
    items = _items(name, values)
    if set(map(type, items)) <= {str, type(None)}:
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out
    labels: list[str | None] = []
    for i, value in enumerate(items):
        try:
            labels.append(category_label(value))
        except ValueError:
            raise FeatureValueError(
                f"feature {name!r}: row {first_row + i}: {_shown(value)} is not a category "
                "(a string, integer or boolean; categorical feature)"
            ) from None
    out = np.empty(len(labels), dtype=object)
    out[:] = labels
    return out
