"""Two-sided Mann-Whitney U test for numerical columns."""

from __future__ import annotations

from typing import Any

import numpy.typing as npt
from scipy import stats

from detectors.columns import finite
from detectors.registry import register
from detectors.types import StatResult


@register("mannw", kinds={"numerical"}, decision="p_value", threshold=0.05, default_min_effect=0.05)
def mannw(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """Mann-Whitney U rank test, two-sided, on the finite values of each side.

    ``scipy.stats.mannwhitneyu(ref, cur, alternative="two-sided")`` with its defaults
    (continuity correction, ``method="auto"``: exact for small samples without ties,
    asymptotic with the tie correction otherwise). Statistic is U of the reference
    sample. Effect size is the absolute rank-biserial correlation
    ``|1 - 2U / (n_ref * n_cur)|`` (0..1): 0 when a random reference value is as likely
    to be above a random current value as below, 1 when the samples do not overlap.

    NaN and +-inf are dropped. No finite value on a side: statistic 0, p-value 1,
    effect 0.

    Deliberately differs from Evidently 0.7's ``mannw``, which is one-sided
    (``alternative="less"``): it only sees the current values moving up, and a column
    whose values drop is never drifted there. Drift in either direction counts here.
    """
    ref = finite(reference)
    cur = finite(current)
    if ref.size == 0 or cur.size == 0:
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    res = stats.mannwhitneyu(ref, cur, alternative="two-sided")
    u = float(res.statistic)
    effect = abs(1.0 - 2.0 * u / (ref.size * cur.size))
    return StatResult(statistic=u, p_value=float(res.pvalue), effect_size=effect)
