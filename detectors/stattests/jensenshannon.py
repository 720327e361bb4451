"""Jensen-Shannon distance for numerical and categorical columns."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial import distance

from detectors.binning import CountArray, binned_counts, shares
from detectors.registry import register
from detectors.types import StatResult


@register("jensenshannon", kinds={"numerical", "categorical"}, decision="distance", threshold=0.1)
def jensenshannon(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """Jensen-Shannon distance ``scipy.spatial.distance.jensenshannon(r, c)`` (natural log).

    The square root of the JS divergence between the two sides' shares per bin, 0..sqrt(ln 2).
    Bins are psi's, i.e. Evidently 0.7's (``detectors.binning``), without any zero fill (the
    divergence is finite with empty bins). Effect size is the statistic. For near-identical
    shares scipy can take the square root of a rounding-noise negative and return NaN (so
    does Evidently, which then never calls drift); that is reported as 0.

    Numerical: NaN and +-inf are dropped; no finite value on a side gives statistic 0,
    effect 0. Categorical: None/NaN is one more category, so a jump in the null rate is
    drift; this is where it differs from Evidently's ``jensenshannon``, which drops missing
    values (on data without them the two agree). An empty side gives statistic 0, effect 0.
    """
    value = jensenshannon_from_counts(*binned_counts(reference, current))
    return StatResult(statistic=value, p_value=None, effect_size=value)


def jensenshannon_from_counts(ref_counts: CountArray, cur_counts: CountArray) -> float:
    """Jensen-Shannon distance of two count vectors over the same bins (no zero fill); 0 when
    either side is empty, and scipy's NaN from rounding noise reported as 0."""
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return 0.0
    with np.errstate(invalid="ignore"):
        value = float(distance.jensenshannon(shares(ref_counts), shares(cur_counts)))
    return 0.0 if math.isnan(value) else value
