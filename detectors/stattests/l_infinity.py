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
    ref_counts, cur_counts = category_counts(reference, current)
    ref_total = ref_counts.sum()
    cur_total = cur_counts.sum()
    if ref_total == 0 or cur_total == 0:
        return StatResult(statistic=0.0, p_value=None, effect_size=0.0)
    d = float(np.abs(ref_counts / ref_total - cur_counts / cur_total).max())
    return StatResult(statistic=d, p_value=None, effect_size=d)
