"""The two sides' columns checked, their kinds resolved, and the rows a method uses."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from detectors.columns import infer_kind
from detectors.types import ColumnData, Kind


def resolve_columns(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData] | None,
    kinds: Mapping[str, str] | None,
) -> tuple[tuple[str, ...], tuple[Kind, ...]]:
    """The columns (the keys of ``reference``, each required in ``current``) and their
    kinds (``kinds`` checked, or inferred from both sides; from the reference alone when
    ``current`` is None). ValueError naming the offending column otherwise."""
    columns = tuple(reference)
    if not columns:
        raise ValueError("reference has no columns")
    kinds = kinds or {}
    unknown = [k for k in kinds if k not in reference]
    if unknown:
        raise ValueError(f"kinds names columns not in reference: {', '.join(map(repr, unknown))}")
    if current is not None:
        absent = [c for c in columns if c not in current]
        if len(absent) == len(columns):
            raise ValueError(
                "reference and current have no columns in common (reference: "
                f"{', '.join(map(repr, columns))}; current: {', '.join(map(repr, current))})"
            )
        if absent:
            raise ValueError(
                f"columns in reference but not in current: {', '.join(map(repr, absent))}"
            )
    resolved = []
    for col in columns:
        ref = np.asarray(reference[col])
        cur = ref if current is None else np.asarray(current[col])
        resolved.append(infer_kind(col, ref, cur, given=kinds.get(col)))
    return columns, tuple(resolved)


def n_rows(side: str, data: Mapping[str, ColumnData], columns: tuple[str, ...]) -> int:
    """The number of rows of ``side``: every column 1-d and of one length, at least 1."""
    first: tuple[str, int] | None = None
    for col in columns:
        shape: tuple[int, ...] = np.asarray(data[col]).shape
        if len(shape) != 1:
            raise ValueError(f"{side} column {col!r} must be 1-d, got shape {shape}")
        if first is None:
            first = (col, shape[0])
        elif shape[0] != first[1]:
            raise ValueError(
                f"{side} column {col!r} has {shape[0]} rows, {first[0]!r} has {first[1]}"
            )
    assert first is not None  # resolve_columns refuses an empty reference
    if first[1] == 0:
        raise ValueError(f"{side} is empty (0 rows)")
    return first[1]


def sample_rows(n: int, budget: int, rng: np.random.Generator) -> npt.NDArray[np.intp]:
    """All ``n`` row indices when ``n <= budget``, else ``budget`` of them drawn uniformly
    without replacement, in increasing order."""
    if n <= budget:
        return np.arange(n)
    return np.sort(rng.choice(n, size=budget, replace=False))
