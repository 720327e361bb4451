"""Binning of a column into shares, as Evidently 0.7 bins for psi, kl_div and jensenshannon.

The pieces are separate so that a histogram sketch can reuse them: choose the bins once
(:func:`evidently_bins`), count any batch of values into them (:meth:`Bins.counts`), turn
counts into shares (:func:`shares`), and fill empty bins (:func:`fill_zero_shares`).
:func:`binned_counts` chains the first two for a pair of columns of either kind.

Numerical functions here expect finite float64 values (callers drop NaN and inf first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from detectors.columns import finite
from detectors.stattests.chisquare import category_counts

FloatArray = npt.NDArray[np.float64]
CountArray = npt.NDArray[np.int64]

# Evidently histograms a numerical column only above this many distinct reference values;
# at or below it, every distinct value is its own bin.
MAX_VALUE_BINS = 20
# Evidently's stand-in for an empty bin's share (before the min_nonzero / 1e6 rule).
ZERO_FILL = 0.0001


@dataclass(frozen=True, slots=True)
class Bins:
    """Bins of a numerical column: histogram ``edges`` or distinct ``values``.

    ``kind="edges"``: ``points`` are k+1 increasing edges; bin i is [e_i, e_i+1), the last
    one closed (np.histogram's rule). ``kind="values"``: ``points`` are k sorted distinct
    values, one bin each. Values outside every bin are not counted.
    """

    kind: Literal["edges", "values"]
    points: FloatArray

    @property
    def size(self) -> int:
        """Number of bins."""
        return self.points.size - 1 if self.kind == "edges" else self.points.size

    def counts(self, values: FloatArray) -> CountArray:
        """How many of the finite ``values`` fall in each bin."""
        if self.kind == "edges":
            return np.histogram(values, self.points)[0].astype(np.int64)
        return value_bin_counts(values, self.points)


def sturges_edges(values: FloatArray) -> FloatArray:
    """Equal-width edges over [min, max] of ``values``, Sturges' bin count (numpy's rule)."""
    return np.histogram_bin_edges(values, bins="sturges").astype(np.float64)


def value_bin_counts(values: FloatArray, bin_values: FloatArray) -> CountArray:
    """Count of each of the sorted distinct ``bin_values`` among ``values``.

    Counting the distinct values of the column first and then placing those keeps the
    per-row work to one sort, whatever the number of bins.
    """
    out = np.zeros(bin_values.size, dtype=np.int64)
    if bin_values.size == 0 or values.size == 0:
        return out
    keys, counts = np.unique(values, return_counts=True)
    pos = np.minimum(np.searchsorted(bin_values, keys), bin_values.size - 1)
    hit = bin_values[pos] == keys
    out[pos[hit]] = counts[hit]
    return out


def evidently_bins(reference: FloatArray, current: FloatArray) -> Bins:
    """The bins Evidently's ``get_binned_data`` uses for finite numerical columns.

    More than ``MAX_VALUE_BINS`` distinct reference values: Sturges edges over reference and
    current combined. Otherwise one bin per distinct value of either side.
    """
    ref_values = np.unique(reference)
    if ref_values.size > MAX_VALUE_BINS:
        return Bins("edges", sturges_edges(np.concatenate([reference, current])))
    return Bins("values", np.union1d(ref_values, np.unique(current)).astype(np.float64))


def binned_counts(
    reference: npt.NDArray[Any], current: npt.NDArray[Any]
) -> tuple[CountArray, CountArray]:
    """Counts of each side over Evidently-style bins of a column of either kind.

    Object arrays are categorical: one bin per category of either side, compared as strings,
    with None/NaN as one missing category (``chisquare.category_counts``). Otherwise the
    finite values are binned by :func:`evidently_bins`. A side without values has all-zero
    counts (empty arrays when neither side has a finite value).
    """
    if reference.dtype == object:
        return category_counts(reference, current)
    ref = finite(reference)
    cur = finite(current)
    if ref.size == 0 and cur.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    bins = evidently_bins(ref, cur)
    return bins.counts(ref), bins.counts(cur)


def shares(counts: npt.NDArray[np.integer[Any]] | FloatArray) -> FloatArray:
    """``counts`` as fractions of their total (all zeros when the total is 0)."""
    arr = np.asarray(counts, dtype=np.float64)
    total = float(arr.sum())
    if total == 0:
        return np.zeros_like(arr)
    return arr / total


def fill_zero_shares(values: FloatArray) -> FloatArray:
    """A copy of ``values`` with zero shares replaced as Evidently does before a log ratio.

    The fill is 0.0001, or the smallest non-zero share / 1e6 when that share is itself at
    most 0.0001, so a filled bin never outweighs a real one. The result is not renormalised
    (Evidently's psi sums these shares as they are). All-zero input is returned unchanged.
    """
    out = np.array(values, dtype=np.float64, copy=True)
    zero = out == 0
    if not zero.any() or zero.all():
        return out
    smallest = float(out[~zero].min())
    out[zero] = smallest / 1e6 if smallest <= ZERO_FILL else ZERO_FILL
    return out
