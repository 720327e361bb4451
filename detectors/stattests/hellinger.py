"""Hellinger distance for numerical and categorical columns."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors.binning import Bins, CountArray, FloatArray, shares, sturges_edges
from detectors.columns import finite
from detectors.registry import register
from detectors.stattests.chisquare import category_counts
from detectors.types import StatResult


@register("hellinger", kinds={"numerical", "categorical"}, decision="distance", threshold=0.1)
def hellinger(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """Hellinger distance sqrt(1 - BC), BC the Bhattacharyya coefficient clipped to [0, 1].

    Categorical: BC = sum over the categories of either side of sqrt(p_ref * p_cur), the
    shares of each category. Numerical: Sturges equal-width edges over the *distinct* finite
    values of both sides (so the bin count follows the number of distinct values, not of
    rows), density histograms h_ref and h_cur on them, BC = sum(sqrt(h_ref * h_cur)) * bin
    width. Both as Evidently 0.7's ``hellinger``. 0 for identical distributions, 1 for
    disjoint ones. Effect size is the statistic.

    Numerical: NaN and +-inf are dropped; no finite value on a side gives statistic 0,
    effect 0. Categorical: None/NaN is one more category, so a jump in the null rate is
    drift; this is where it differs from Evidently, which drops missing values (on data
    without them the two agree). An empty side gives statistic 0, effect 0.
    """
    if reference.dtype == object:
        d = hellinger_from_counts(*category_counts(reference, current))
        return StatResult(statistic=d, p_value=None, effect_size=d)
    ref = finite(reference)
    cur = finite(current)
    if ref.size == 0 or cur.size == 0:
        return StatResult(statistic=0.0, p_value=None, effect_size=0.0)
    edges = sturges_edges(np.union1d(ref, cur))
    width = (edges[-1] - edges[0]) / (edges.size - 1)
    terms = np.sqrt(_density(ref, edges) * _density(cur, edges)) * width
    # Summed left to right as Evidently does: sqrt(1 - BC) turns the last bit of BC near 1
    # into ~1e-8 of distance, and the same order keeps the two equal there too.
    d = _from_coefficient(float(np.cumsum(terms)[-1]))
    return StatResult(statistic=d, p_value=None, effect_size=d)


def hellinger_from_counts(ref_counts: CountArray, cur_counts: CountArray) -> float:
    """Hellinger distance of two count vectors over the same bins: BC = sum sqrt(p_ref *
    p_cur) of their shares. Equal to the density form sum sqrt(h_ref * h_cur) * width for
    bins of any widths. 0 when either side is empty."""
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return 0.0
    return _from_coefficient(float(np.sum(np.sqrt(shares(ref_counts) * shares(cur_counts)))))


def _from_coefficient(bc: float) -> float:
    # Rounding can put the Bhattacharyya coefficient a hair outside [0, 1].
    return math.sqrt(1.0 - min(max(bc, 0.0), 1.0))


def _density(values: FloatArray, edges: FloatArray) -> FloatArray:
    # np.histogram(density=True)'s arithmetic, in its order, so the result is bit-identical.
    counts = Bins("edges", edges).counts(values)
    per_width: FloatArray = counts / np.diff(edges)
    return per_width / float(counts.sum())
