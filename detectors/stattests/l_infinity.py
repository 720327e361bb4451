"""L-infinity distance between the category distributions of two samples."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from detectors.registry import register
from detectors.stattests.chisquare import category_counts
from detectors.types import StatResult


@register("l_infinity", kinds={"categorical"}, decision="distance", threshold=0.1)
def l_infinity(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """L-infinity distance ``max_k |p_ref(k) - p_cur(k)|`` (0..1); no p-value.

    ``p(k)`` is the share of category ``k`` in each side, over the union of categories
    compared as strings; None and NaN count as one category (``chisquare.MISSING``), so a
    jump in the null rate is drift. It is the largest change in any single category's
    share, the categorical drift distance NannyML uses; unlike the total variation distance
    it does not grow with the number of categories that each move a little. The effect size
    is the distance itself. An empty side gives distance 0 (no evidence). Evidently 0.7 has
    no test of this name.
    """
    d = l_infinity_distance(*category_counts(reference, current))
    return StatResult(statistic=d, p_value=None, effect_size=d)


def l_infinity_distance(
    ref_counts: npt.NDArray[np.int64], cur_counts: npt.NDArray[np.int64]
) -> float:
    """Largest share difference of two count vectors over the same categories; 0 when either
    side is empty."""
    ref_total = ref_counts.sum()
    cur_total = cur_counts.sum()
    if ref_total == 0 or cur_total == 0:
        return 0.0
    return float(np.abs(ref_counts / ref_total - cur_counts / cur_total).max())
