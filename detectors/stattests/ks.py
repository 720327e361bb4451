"""Two-sample Kolmogorov-Smirnov test for numerical columns."""

from __future__ import annotations

from typing import Any

import numpy.typing as npt
from scipy import stats

from detectors.columns import finite
from detectors.registry import register
from detectors.types import StatResult


@register("ks", kinds={"numerical"}, decision="p_value", default_min_effect=0.025)
def ks(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """KS test on the finite values of each side; effect size is the D statistic itself.

    NaN and +-inf are dropped (null-rate drift is the data-quality signal's job). If either
    side has no finite value there is nothing to compare: statistic 0, p-value 1.
    """
    ref = finite(reference)
    cur = finite(current)
    if ref.size == 0 or cur.size == 0:
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    res = stats.ks_2samp(ref, cur, alternative="two-sided", method="auto")
    d = float(res.statistic)
    return StatResult(statistic=d, p_value=float(res.pvalue), effect_size=d)
