"""Two-sample Kolmogorov-Smirnov test for numerical columns."""

from __future__ import annotations

import warnings
from typing import Any

import numpy.typing as npt
from scipy import stats

from detectors.columns import finite
from detectors.registry import register
from detectors.types import StatResult


@register("ks", kinds={"numerical"}, decision="p_value", default_min_effect=0.025)
def ks(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """KS test on the finite values of each side; effect size is the D statistic itself.

    NaN and +-inf are dropped (detect_drift tests the null rate beside it). If either
    side has no finite value there is nothing to compare: statistic 0, p-value 1.
    """
    ref = finite(reference)
    cur = finite(current)
    if ref.size == 0 or cur.size == 0:
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    with warnings.catch_warnings():
        # With many ties (e.g. Poisson counts at 1,000 rows) scipy's exact p-value can fail;
        # scipy then returns the asymptotic one, as documented, and warns on every such
        # call. The result is scipy's either way; the warnings would only flood the logs.
        warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful")
        res = stats.ks_2samp(ref, cur, alternative="two-sided", method="auto")
    d = float(res.statistic)
    return StatResult(statistic=d, p_value=float(res.pvalue), effect_size=d)
