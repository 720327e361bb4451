"""Two-proportion z-test for categorical columns (first category vs the rest)."""

from __future__ import annotations

from typing import Any

import numpy.typing as npt

from detectors.proportions import two_proportion_z
from detectors.registry import register
from detectors.stattests.chisquare import category_counts
from detectors.types import StatResult


@register("z", kinds={"categorical"}, decision="p_value", threshold=0.05, default_min_effect=0.1)
def z(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """Two-proportion z-test of the share of "the rest" (every category but the first).

    Categories are the sorted union of both sides, compared as strings; None and NaN count
    as one category (``chisquare.MISSING``), so a jump in the null rate is drift, and the
    missing category is the first one whenever it sorts first. With ``p1``, ``p2`` the shares
    of the reference and current values not in the first category, ``P`` the pooled share
    and ``n1``, ``n2`` the sample sizes:
    ``z = (p1 - p2) / sqrt(P (1 - P) (1/n1 + 1/n2))`` and ``p = 2 * (1 - Phi(|z|))``.
    The statistic is the signed z: positive when the first category is rarer in the
    reference than in the current sample. Effect size is ``|p1 - p2|`` (0..1). Only the
    first category's share is tested: a shift among the other categories is invisible (use
    chisquare or g_test for that).

    A single category in the union (``P`` is 0 or 1, the standard error 0) or an empty side
    gives statistic 0, p-value 1, effect 0.

    The same test as Evidently 0.7's ``z``, including its ``1 - cdf`` form of the p-value
    (kept for parity: it rounds p to 0 for |z| above about 8.3, where ``sf`` would not),
    except for the order of categories: Evidently sorts the raw values, we sort their string
    forms. For string categories the first category is the same; for numbers used as
    categories it can differ (2 sorts before 10, "10" before "2"), which changes the result
    with three or more categories. Evidently also drops missing values instead of counting
    them as a category.
    """
    ref_counts, cur_counts = category_counts(reference, current)
    n1 = int(ref_counts.sum())
    n2 = int(cur_counts.sum())
    if ref_counts.size < 2 or n1 == 0 or n2 == 0:
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    p1 = (n1 - int(ref_counts[0])) / n1
    p2 = (n2 - int(cur_counts[0])) / n2
    tested = two_proportion_z(p1, n1, p2, n2)
    if tested is None:
        # Unreachable with two or more observed categories, but rounding must not divide by 0.
        return StatResult(statistic=0.0, p_value=1.0, effect_size=abs(p1 - p2))
    return StatResult(statistic=tested[0], p_value=tested[1], effect_size=abs(p1 - p2))
