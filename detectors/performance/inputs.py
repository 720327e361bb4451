"""Checking and encoding the inputs of the performance metrics.

Only ``y_true`` may be missing (None or NaN): such a row is unlabelled, and excluded.
Everything else a labelled row needs (its prediction, its scores) must be there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors.columns import missing_labels
from detectors.types import ColumnData

_NUMBER_TYPES = (int, float, np.integer, np.floating)
_BOOL_TYPES = (bool, np.bool_)


def as_1d(name: str, values: ColumnData) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {arr.shape}")
    return arr


def check_length(name: str, arr: npt.NDArray[Any], n: int) -> None:
    if arr.shape[0] != n:
        raise ValueError(f"y_true has {n} rows but {name} has {arr.shape[0]}")


def missing(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """None or NaN, for any dtype."""
    if values.dtype.kind == "f":
        nan: npt.NDArray[np.bool_] = np.isnan(values)
        return nan
    if values.dtype.kind == "O":
        return missing_labels(values)
    return np.zeros(values.shape, dtype=np.bool_)


def first_row(mask: npt.ArrayLike) -> int:
    """Index of the first true entry of ``mask`` (which has one)."""
    return int(np.flatnonzero(mask)[0])


def _typed(name: str, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Labels as one numpy type that sorts in C: str, bool, int64 or float64. Strings and
    numbers mixed are a ValueError (1 and "1" would be one class or two by accident)."""
    if values.dtype.kind in "US":
        return values.astype(str)
    if values.dtype.kind in "biuf":
        return values
    if values.dtype.kind != "O":
        raise ValueError(f"{name}: labels must be strings, numbers or booleans, got {values.dtype}")
    types = set(map(type, values))
    if all(issubclass(t, str) for t in types):
        return values.astype(str)
    if all(issubclass(t, _BOOL_TYPES) for t in types):
        return values.astype(bool)
    if all(issubclass(t, _NUMBER_TYPES) for t in types):
        floats = any(issubclass(t, float | np.floating) for t in types)
        return values.astype(np.float64 if floats else np.int64)
    names = ", ".join(sorted(t.__name__ for t in types))
    raise ValueError(f"{name}: labels must all be strings or all numbers, got {names}")


def _family(arr: npt.NDArray[Any]) -> str:
    return "strings" if arr.dtype.kind == "U" else "numbers"


@dataclass(frozen=True, slots=True)
class Encoded:
    """Labelled rows as class codes (indexes into ``classes``); ``positive`` is the code
    of the ``positive`` argument (None when it was not given)."""

    classes: tuple[object, ...]
    labelled: npt.NDArray[np.bool_]
    true: npt.NDArray[np.intp]
    pred: npt.NDArray[np.intp]
    positive: int | None


def encode(
    y_true: ColumnData,
    y_pred: ColumnData,
    labels: Sequence[object] | None,
    positive: object | None,
) -> Encoded:
    """Check ``y_true`` and ``y_pred`` and encode their labelled rows.

    Classes are ``labels`` in the order given, or else the sorted union of the classes in
    the labelled rows of both and ``positive``. A value outside ``labels`` is a ValueError.
    """
    true_raw = as_1d("y_true", y_true)
    pred_raw = as_1d("y_pred", y_pred)
    check_length("y_pred", pred_raw, true_raw.shape[0])
    labelled = ~missing(true_raw)
    pred_missing = labelled & missing(pred_raw)
    if pred_missing.any():
        raise ValueError(f"y_pred is missing (None/NaN) at labelled row {first_row(pred_missing)}")
    named = [
        ("y_true", _typed("y_true", true_raw[labelled])),
        ("y_pred", _typed("y_pred", pred_raw[labelled])),
    ]
    if positive is not None:
        named.append(("positive", _typed("positive", np.array([positive], dtype=object))))
    present = [(name, arr) for name, arr in named if arr.size]
    if labels is not None:
        given = _typed("labels", np.array(list(labels), dtype=object))
        if given.size == 0:
            raise ValueError("labels is empty")
        if np.unique(given).size != given.size:
            raise ValueError(f"labels holds a class twice: {list(labels)!r}")
        classes: tuple[object, ...] = tuple(labels)
    else:
        families = {_family(arr) for _, arr in present}
        if len(families) > 1:
            what = ", ".join(f"{name}: {_family(arr)}" for name, arr in present)
            raise ValueError(f"classes must all be strings or all numbers, got {what}")
        if not present:
            empty = np.zeros(0, dtype=np.intp)
            return Encoded((), labelled, empty, empty, None)
        given = np.unique(np.concatenate([arr for _, arr in present]))
        classes = tuple(given.tolist())
    order = np.argsort(given, kind="stable")
    ranked = given[order]
    codes: dict[str, npt.NDArray[np.intp]] = {}
    for name, arr in named:
        if arr.size and _family(arr) != _family(ranked):
            raise ValueError(f"{name} holds {_family(arr)} but the classes are {_family(ranked)}")
        at = np.minimum(np.searchsorted(ranked, arr), ranked.size - 1)
        unknown = ranked[at] != arr
        if unknown.any():
            value = arr[unknown][:1].tolist()[0]
            raise ValueError(f"{name} holds {value!r}, which is not in labels {list(classes)!r}")
        codes[name] = order[at].astype(np.intp)
    pos = int(codes["positive"][0]) if "positive" in codes else None
    return Encoded(classes, labelled, codes["y_true"], codes["y_pred"], pos)
