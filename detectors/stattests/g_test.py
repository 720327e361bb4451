"""Two-sample G-test (log-likelihood ratio) of homogeneity for categorical columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from detectors.registry import register
from detectors.stattests.chisquare import category_counts
from detectors.stattests.tvd import total_variation
from detectors.types import StatResult


@register(
    "g_test", kinds={"categorical"}, decision="p_value", threshold=0.1, default_min_effect=0.1
)
def g_test(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """G-test of homogeneity on the 2 x k table of reference vs current counts.

    ``G = 2 * sum O * ln(O / E)`` over the table, with ``E`` the counts expected if both
    sides share one distribution (row total * column total / grand total), and ``k - 1``
    degrees of freedom: ``scipy.stats.chi2_contingency(table, correction=False,
    lambda_="log-likelihood")``. The statistic is G. Categories are the union of both sides,
    compared as strings; None and NaN count as one category (``chisquare.MISSING``), so a
    jump in the null rate is drift. Effect size is the total variation distance between the
    two category distributions (0..1). A single category in the union, or an empty side,
    gives statistic 0, p-value 1, effect 0.

    Differs from Evidently 0.7's ``g_test``: Evidently runs a goodness-of-fit test of the
    current counts against the raw reference counts (``power_divergence(cur, ref,
    lambda_="log-likelihood")``), which treats the reference as exact, raises a ValueError
    whenever the two samples differ in size, and gives p = 0 for a category absent from the
    reference. Ours is the two-sample test, where both samples carry sampling noise; it is
    valid at any sizes. On equal sizes and a small shift our G is about half of Evidently's
    (the noise of both samples is counted), so it calls drift less readily.
    """
    return g_test_from_counts(*category_counts(reference, current))


def g_test_from_counts(
    ref_counts: npt.NDArray[np.int64], cur_counts: npt.NDArray[np.int64]
) -> StatResult:
    """The two-sample G-test on two count vectors over the same categories, each category
    counted on at least one side (a column of zeros has no expected frequency)."""
    if ref_counts.size < 2 or ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    table = np.vstack([ref_counts, cur_counts])
    res = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    return StatResult(
        statistic=float(res.statistic),
        p_value=float(res.pvalue),
        effect_size=total_variation(ref_counts, cur_counts),
    )
