"""Energy distance for numerical columns."""

from __future__ import annotations

from typing import Any

import numpy.typing as npt
from scipy import stats

from detectors.columns import finite
from detectors.registry import register
from detectors.types import StatResult


@register("energy", kinds={"numerical"}, decision="distance", threshold=0.1)
def energy(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """Energy distance ``scipy.stats.energy_distance(ref, cur)`` on the finite values.

    sqrt(2) times the L2 distance between the two empirical CDFs; it is in the column's
    units (not normed), so its threshold depends on the column's scale. Effect size is the
    statistic. NaN and +-inf are dropped; if either side has no finite value: statistic 0,
    effect 0.

    Evidently 0.7 calls this test ``ed`` and calls drift when the distance is strictly
    greater than the threshold; here drift is ``statistic >= threshold``, like every other
    distance in the registry, so one rule reads all of them. The statistic is the same.
    """
    ref = finite(reference)
    cur = finite(current)
    if ref.size == 0 or cur.size == 0:
        return StatResult(statistic=0.0, p_value=None, effect_size=0.0)
    d = float(stats.energy_distance(ref, cur))
    return StatResult(statistic=d, p_value=None, effect_size=d)
