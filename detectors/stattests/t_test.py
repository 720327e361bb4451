"""Welch's two-sample t-test for numerical columns."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from detectors.columns import finite
from detectors.registry import register
from detectors.types import StatResult


@register("t_test", kinds={"numerical"}, decision="p_value", threshold=0.05, default_min_effect=0.1)
def t_test(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """Welch's t-test (unequal variances) on the finite values of each side.

    ``scipy.stats.ttest_ind(ref, cur, equal_var=False)``: statistic t (positive when the
    reference mean is higher) and its two-sided p-value. Effect size is Cohen's d with the
    average of the two sample variances (ddof=1):
    ``|mean_ref - mean_cur| / sqrt((var_ref + var_cur) / 2)``.

    NaN and +-inf are dropped. Fewer than 2 finite values on a side (no variance): statistic
    0, p-value 1, effect 0. Both sides constant: the same value on both sides gives
    statistic 0, p-value 1, effect 0; two different constants give scipy's answer for
    that case, statistic +-inf and p-value 0, with effect size inf.

    Deliberately differs from Evidently 0.7's ``t_test``, which is Student's t-test
    (``equal_var=True``): with unequal sample sizes and variances, the pooled variance
    gives a wrong false-positive rate, and production and reference windows rarely have
    equal sizes.
    """
    ref = finite(reference)
    cur = finite(current)
    if ref.size < 2 or cur.size < 2:
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    ref_constant = ref.min() == ref.max()
    cur_constant = cur.min() == cur.max()
    if ref_constant and cur_constant:
        # Decided on the values themselves: the mean of n copies of v need not be v in
        # floating point, so two equal constants could show a tiny "difference".
        if ref[0] == cur[0]:
            return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
        return StatResult(
            statistic=math.copysign(math.inf, ref[0] - cur[0]), p_value=0.0, effect_size=math.inf
        )
    with warnings.catch_warnings():
        # scipy warns of "precision loss" for a side whose values are all one nonzero
        # value; for an exactly constant side a zero variance is right, so it is noise.
        if ref_constant or cur_constant:
            warnings.filterwarnings("ignore", message="Precision loss", category=RuntimeWarning)
        res = stats.ttest_ind(ref, cur, equal_var=False)
    mean_diff = float(np.mean(ref) - np.mean(cur))
    var_sum = float(np.var(ref, ddof=1) + np.var(cur, ddof=1))
    effect = abs(mean_diff) / math.sqrt(var_sum / 2.0)
    return StatResult(statistic=float(res.statistic), p_value=float(res.pvalue), effect_size=effect)
