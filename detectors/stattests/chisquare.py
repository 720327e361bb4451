"""Two-sample chi-squared test of homogeneity for categorical columns."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from detectors.columns import missing_labels
from detectors.registry import register
from detectors.types import StatResult

MISSING = "__missing__"


@register("chisquare", kinds={"categorical"}, decision="p_value", default_min_effect=0.03)
def chisquare(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """Chi-squared homogeneity test on the 2 x k table of reference vs current counts.

    Categories are the union of both sides, compared as strings; None and NaN count as one
    category, ``MISSING``, so a jump in the null rate is drift. Unlike a goodness-of-fit
    test against reference frequencies, both samples carry sampling noise here, and a
    category seen on one side only is fine. No Yates correction. Effect size is the total
    variation distance between the two category distributions (0..1). A single category
    in the union, or an empty side, gives statistic 0, p-value 1, effect 0.
    """
    return chisquare_from_counts(*category_counts(reference, current))


def chisquare_from_counts(
    ref_counts: npt.NDArray[np.int64], cur_counts: npt.NDArray[np.int64]
) -> StatResult:
    """The chi-squared homogeneity test on two count vectors over the same categories, each
    category counted on at least one side (a column of zeros has no expected frequency)."""
    if ref_counts.size < 2 or ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    table = np.vstack([ref_counts, cur_counts])
    res = stats.chi2_contingency(table, correction=False)
    tvd = 0.5 * float(np.abs(ref_counts / ref_counts.sum() - cur_counts / cur_counts.sum()).sum())
    return StatResult(statistic=float(res.statistic), p_value=float(res.pvalue), effect_size=tvd)


def category_counts(
    reference: npt.NDArray[Any], current: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Counts of each side over the sorted union of categories (as strings, missing mapped).

    Counted by hashing (``Counter`` over ``str`` of each value, both in C): 0.15 s for two
    sides of 10^6 rows with 1,000 categories, against 1.15 s for ``np.unique`` on the
    string array, which sorts every row.
    """
    ref, cur = label_counts(reference), label_counts(current)
    labels = sorted(ref.keys() | cur.keys())
    return (
        np.array([ref[label] for label in labels], dtype=np.int64),
        np.array([cur[label] for label in labels], dtype=np.int64),
    )


def label_counts(values: npt.NDArray[Any]) -> Counter[str]:
    """Count of each category of one column: ``str`` of the value, None/NaN as ``MISSING``."""
    arr = np.asarray(values, dtype=object).ravel()
    missing = missing_labels(arr)
    n_missing = int(missing.sum())
    counts = Counter(map(str, (arr[~missing] if n_missing else arr).tolist()))
    if n_missing:
        counts[MISSING] += n_missing
    return counts
