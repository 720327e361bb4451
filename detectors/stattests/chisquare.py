"""Two-sample chi-squared test of homogeneity for categorical columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from detectors.registry import register
from detectors.types import StatResult

MISSING = "__missing__"
_NONE = np.array(None, dtype=object)


@register("chisquare", kinds={"categorical"}, decision="p_value", default_min_effect=0.1)
def chisquare(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """Chi-squared homogeneity test on the 2 x k table of reference vs current counts.

    Categories are the union of both sides, compared as strings; None and NaN count as one
    category, ``MISSING``, so a jump in the null rate is drift. Unlike a goodness-of-fit
    test against reference frequencies, both samples carry sampling noise here, and a
    category seen on one side only is fine. No Yates correction. Effect size is the total
    variation distance between the two category distributions (0..1). A single category
    in the union, or an empty side, gives statistic 0, p-value 1, effect 0.
    """
    ref_counts, cur_counts = category_counts(reference, current)
    if ref_counts.size < 2 or ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    table = np.vstack([ref_counts, cur_counts])
    res = stats.chi2_contingency(table, correction=False)
    tvd = 0.5 * float(np.abs(ref_counts / ref_counts.sum() - cur_counts / cur_counts.sum()).sum())
    return StatResult(statistic=float(res.statistic), p_value=float(res.pvalue), effect_size=tvd)


def category_counts(
    reference: npt.NDArray[Any], current: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Counts of each side over the sorted union of categories (as strings, missing mapped)."""
    ref = _as_labels(reference)
    cur = _as_labels(current)
    labels, inverse = np.unique(np.concatenate([ref, cur]), return_inverse=True)
    k = labels.size
    ref_counts = np.bincount(inverse[: ref.size], minlength=k).astype(np.int64)
    cur_counts = np.bincount(inverse[ref.size :], minlength=k).astype(np.int64)
    return ref_counts, cur_counts


def _as_labels(values: npt.NDArray[Any]) -> npt.NDArray[np.str_]:
    arr = np.asarray(values, dtype=object).ravel()
    # x != x is True only for NaN (float or numpy float), the one value unequal to itself.
    missing = np.equal(arr, _NONE) | np.not_equal(arr, arr)
    labels = arr.astype(str)
    if missing.any():
        # astype(str) sized the dtype to the longest label; widen it so MISSING fits.
        labels = labels.astype(np.result_type(labels.dtype, np.array(MISSING).dtype))
        labels[missing] = MISSING
    return labels
