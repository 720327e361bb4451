"""Fisher's exact test for binary categorical columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from detectors.registry import register
from detectors.stattests.chisquare import category_counts
from detectors.types import StatResult


@register(
    "fisher_exact",
    kinds={"categorical"},
    decision="p_value",
    threshold=0.1,
    default_min_effect=0.1,
)
def fisher_exact(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """Two-sided Fisher's exact test on the 2x2 table of reference vs current counts.

    For a binary column: categories are the sorted union of both sides, compared as strings;
    None and NaN count as one category (``chisquare.MISSING``), so a column of one value
    plus nulls is binary, and a jump in the null rate is drift. More than two categories in
    the union is a ValueError (naming the count; use chisquare or z). The table is
    ``[[ref_a, ref_b], [cur_a, cur_b]]`` for the categories ``a < b``, and the p-value is
    ``scipy.stats.fisher_exact(table, alternative="two-sided")``'s. The statistic is the
    sample odds ratio ``(ref_a * cur_b) / (ref_b * cur_a)``: ``inf`` or ``0`` when a
    category is absent from one side. Effect size is ``|p1 - p2|``, the difference between
    the two sides' shares of ``a`` (0..1).

    An empty side gives statistic 0, p-value 1, effect 0 (checked before the category
    count, so an empty window never raises). A single category in the union gives odds ratio
    1 (the two distributions are equal; scipy would return NaN), p-value 1, effect 0.

    Differs from Evidently 0.7's ``fisher_exact``, which raises a ValueError when the
    samples differ in size (nothing in the test needs equal sizes) and on any missing value.
    On equal-size data without missing values the p-value is the same.
    """
    ref_counts, cur_counts = category_counts(reference, current)
    n1 = int(ref_counts.sum())
    n2 = int(cur_counts.sum())
    if n1 == 0 or n2 == 0:
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    k = ref_counts.size
    if k > 2:
        raise ValueError(
            "stat test 'fisher_exact' needs at most 2 categories (missing values count as one), "
            f"got {k}; use 'chisquare' or 'z' for more"
        )
    if k == 1:
        return StatResult(statistic=1.0, p_value=1.0, effect_size=0.0)
    table = np.vstack([ref_counts, cur_counts])
    res = stats.fisher_exact(table, alternative="two-sided")
    effect = abs(int(ref_counts[0]) / n1 - int(cur_counts[0]) / n2)
    return StatResult(statistic=float(res.statistic), p_value=float(res.pvalue), effect_size=effect)
