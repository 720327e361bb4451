"""One encoder, fitted on the reference, turning mixed columns into a float matrix.

Numerical column -> two encoded columns: the value standardised with the reference's
median and interquartile range, ``(x - median) / (IQR / 1.349)`` (1.349 is a normal
distribution's IQR in standard deviations, so a normal column gets unit scale; robust,
so that a few extreme reference values do not squash the bulk of the column), then
missing values (None, NaN, +-inf) set to 0, the median; and a missing indicator (0/1).
When the IQR is 0 (more than half the values tie) the scale is the standard deviation,
and 1 when that is 0 too.

Categorical column -> one-hot over the reference's ``top_k`` most frequent categories
(ties by their string form), then an "other" column (a category outside the top k,
unseen in the reference included) and a "missing" column (None, NaN). Categories are
compared as strings, as the univariate categorical tests do.

Each method reports contributions per original column, summing over the encoded
columns of a column (:meth:`Encoder.per_column`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors.columns import convert, missing_labels
from detectors.multivariate.inputs import resolve_columns
from detectors.stattests.chisquare import MISSING, label_counts
from detectors.types import ColumnData, Kind

TOP_K = 20
IQR_PER_SD = 1.3489795003921634  # 2 * Phi^-1(0.75)


@dataclass(frozen=True, slots=True)
class NumericalEncoding:
    """A numerical column: ``(x - center) / scale``, missing -> 0, plus an indicator."""

    column: str
    center: float
    scale: float
    kind: Kind = "numerical"

    @property
    def names(self) -> tuple[str, ...]:
        return (self.column, f"{self.column}[missing]")

    def fill(self, values: ColumnData, out: npt.NDArray[np.float64]) -> None:
        x = convert(self.column, "numerical", values)
        missing = ~np.isfinite(x)
        out[:, 0] = np.where(missing, self.center, x)
        out[:, 0] -= self.center
        out[:, 0] /= self.scale
        out[:, 1] = missing

    def code(self, values: ColumnData) -> npt.NDArray[np.float64]:
        """Standardised values with NaN for missing (for models that handle NaN)."""
        x = convert(self.column, "numerical", values)
        missing = ~np.isfinite(x)
        out = (np.where(missing, self.center, x) - self.center) / self.scale
        out[missing] = np.nan
        return out


@dataclass(frozen=True, slots=True)
class CategoricalEncoding:
    """A categorical column: one-hot over ``categories``, then "other", then "missing"."""

    column: str
    categories: tuple[str, ...]
    kind: Kind = "categorical"

    @property
    def names(self) -> tuple[str, ...]:
        return (
            *(f"{self.column}={c}" for c in self.categories),
            f"{self.column}[other]",
            f"{self.column}[missing]",
        )

    def fill(self, values: ColumnData, out: npt.NDArray[np.float64]) -> None:
        out[np.arange(out.shape[0]), self.codes(values)] = 1.0

    def code(self, values: ColumnData) -> npt.NDArray[np.float64]:
        """Category codes: ``0..k-1`` the categories, ``k`` other, ``k + 1`` missing."""
        return self.codes(values).astype(np.float64)

    def codes(self, values: ColumnData) -> npt.NDArray[np.intp]:
        arr = convert(self.column, "categorical", values)
        k = len(self.categories)
        lookup = {c: i for i, c in enumerate(self.categories)}
        missing = missing_labels(arr)
        out = np.full(arr.size, k + 1, dtype=np.intp)
        present = arr[~missing]
        out[~missing] = [lookup.get(s, k) for s in map(str, present.tolist())]
        return out


ColumnEncoding = NumericalEncoding | CategoricalEncoding
# Which rows to encode: an index array, a slice, or None for all.
Rows = npt.NDArray[np.intp] | slice | None


@dataclass(frozen=True, slots=True)
class Encoder:
    """The encodings of the columns, in order; encoded columns follow the same order."""

    encodings: tuple[ColumnEncoding, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(e.column for e in self.encodings)

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return tuple(e.kind for e in self.encodings)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the encoded columns, e.g. ``"x"``, ``"x[missing]"``, ``"c=red"``."""
        return tuple(n for e in self.encodings for n in e.names)

    @property
    def groups(self) -> npt.NDArray[np.intp]:
        """For each encoded column, the index of its original column."""
        return np.repeat(np.arange(len(self.encodings)), [len(e.names) for e in self.encodings])

    def transform(
        self, data: Mapping[str, ColumnData], rows: Rows = None
    ) -> npt.NDArray[np.float64]:
        """The encoded matrix of ``rows`` (all rows when None) of ``data``."""
        blocks = []
        for e in self.encodings:
            values = _rows(data[e.column], rows)
            block = np.zeros((values.shape[0], len(e.names)))
            e.fill(values, block)
            blocks.append(block)
        return np.hstack(blocks)

    def codes(self, data: Mapping[str, ColumnData], rows: Rows = None) -> npt.NDArray[np.float64]:
        """One column per original column: numerical standardised with NaN for missing,
        categorical as category codes (see :meth:`CategoricalEncoding.code`)."""
        return np.column_stack([e.code(_rows(data[e.column], rows)) for e in self.encodings])

    def per_column(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Per-encoded-column values summed per original column."""
        sums = np.bincount(self.groups, weights=values, minlength=len(self.encodings))
        return sums.astype(np.float64, copy=False)


def fit_encoder(
    reference: Mapping[str, ColumnData],
    *,
    kinds: Mapping[str, str] | None = None,
    top_k: int = TOP_K,
) -> Encoder:
    """The encoder of ``reference`` (kinds inferred from it where not given).

    ValueError naming the column for a column with no value in the reference (all
    missing), and for ``top_k < 1``.
    """
    columns, resolved = resolve_columns(reference, None, kinds)
    return encoder_for(reference, columns, resolved, top_k=top_k)


def encoder_for(
    reference: Mapping[str, ColumnData],
    columns: tuple[str, ...],
    kinds: tuple[Kind, ...],
    *,
    top_k: int,
) -> Encoder:
    """:func:`fit_encoder` with the columns and kinds already resolved."""
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k!r}")
    encodings: list[ColumnEncoding] = []
    for col, kind in zip(columns, kinds, strict=True):
        if kind == "numerical":
            encodings.append(_fit_numerical(col, reference[col]))
        else:
            encodings.append(_fit_categorical(col, reference[col], top_k))
    return Encoder(tuple(encodings))


def _fit_numerical(col: str, values: ColumnData) -> NumericalEncoding:
    x = convert(col, "numerical", values)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError(f"column {col!r}: every reference value is missing (None, NaN or inf)")
    q1, center, q3 = (float(q) for q in np.percentile(x, [25, 50, 75]))
    scale = (q3 - q1) / IQR_PER_SD
    if not scale > 0.0:
        scale = float(np.std(x))
    if not (scale > 0.0 and np.isfinite(scale)):
        scale = 1.0
    return NumericalEncoding(column=col, center=center, scale=scale)


def _fit_categorical(col: str, values: ColumnData, top_k: int) -> CategoricalEncoding:
    counts = label_counts(convert(col, "categorical", values))
    counts.pop(MISSING, None)
    if not counts:
        raise ValueError(f"column {col!r}: every reference value is missing (None or NaN)")
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
    return CategoricalEncoding(column=col, categories=tuple(label for label, _ in top))


def _rows(values: ColumnData, rows: Rows) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    return arr if rows is None else arr[rows]
