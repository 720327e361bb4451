"""Population stability index for numerical and categorical columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from detectors.binning import CountArray, binned_counts, fill_zero_shares, shares
from detectors.registry import register
from detectors.types import StatResult


@register("psi", kinds={"numerical", "categorical"}, decision="distance", threshold=0.1)
def psi(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """PSI = sum over bins of (r - c) * ln(r / c), r and c the two sides' shares per bin.

    Bins are Evidently 0.7's (``detectors.binning.binned_counts``): a numerical column with
    more than 20 distinct finite reference values gets Sturges equal-width bins over both
    sides combined, otherwise one bin per distinct value of either side; a categorical
    column gets one bin per category of either side. Empty bins get Evidently's share
    (``binning.fill_zero_shares``: 0.0001, or the smallest share / 1e6), per side and not
    renormalised. Effect size is the statistic.

    Numerical: NaN and +-inf are dropped; no finite value on a side gives statistic 0,
    effect 0. Categorical: None/NaN is one more category, so a jump in the null rate is
    drift; this is where it differs from Evidently's ``psi``, which drops missing values
    (on data without them the two agree). An empty side gives statistic 0, effect 0.
    """
    value = psi_from_counts(*binned_counts(reference, current))
    return StatResult(statistic=value, p_value=None, effect_size=value)


def psi_from_counts(ref_counts: CountArray, cur_counts: CountArray) -> float:
    """PSI of two count vectors over the same bins, empty bins filled as Evidently does;
    0 when either side is empty."""
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return 0.0
    r = fill_zero_shares(shares(ref_counts))
    c = fill_zero_shares(shares(cur_counts))
    return float(np.sum((r - c) * np.log(r / c)))
