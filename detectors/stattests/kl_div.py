"""Kullback-Leibler divergence of current from reference, numerical and categorical."""

from __future__ import annotations

from typing import Any

import numpy.typing as npt
from scipy import stats

from detectors.binning import CountArray, binned_counts, fill_zero_shares, shares
from detectors.registry import register
from detectors.types import StatResult


@register("kl_div", kinds={"numerical", "categorical"}, decision="distance", threshold=0.1)
def kl_div(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """KL(reference || current) = ``scipy.stats.entropy(r, c)`` in nats over binned shares.

    Bins and the zero fill are psi's, i.e. Evidently 0.7's (``detectors.binning``); scipy
    renormalises the filled shares. Not symmetric: reference first, as in Evidently. Effect
    size is the statistic. Rounding noise below zero (near-identical shares) is reported
    as 0.

    Numerical: NaN and +-inf are dropped; no finite value on a side gives statistic 0,
    effect 0. Categorical: None/NaN is one more category, so a jump in the null rate is
    drift; this is where it differs from Evidently's ``kl_div``, which drops missing values
    (on data without them the two agree). An empty side gives statistic 0, effect 0.
    """
    value = kl_div_from_counts(*binned_counts(reference, current))
    return StatResult(statistic=value, p_value=None, effect_size=value)


def kl_div_from_counts(ref_counts: CountArray, cur_counts: CountArray) -> float:
    """KL(reference || current) of two count vectors over the same bins, empty bins filled
    as psi's; 0 when either side is empty, and rounding noise below zero reported as 0."""
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return 0.0
    r = fill_zero_shares(shares(ref_counts))
    c = fill_zero_shares(shares(cur_counts))
    return max(float(stats.entropy(r, c)), 0.0)
