"""Two-sample Cramer-von Mises test for numerical columns."""

from __future__ import annotations

from typing import Any

import numpy.typing as npt
from scipy import stats

from detectors.columns import finite
from detectors.effect import ks_distance
from detectors.registry import register
from detectors.types import StatResult


@register(
    "cramer_von_mises",
    kinds={"numerical"},
    decision="p_value",
    threshold=0.1,
    default_min_effect=0.1,
)
def cramer_von_mises(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """Two-sample Cramer-von Mises test on the finite values of each side.

    ``scipy.stats.cramervonmises_2samp(ref, cur)`` (``method="auto"``: exact p-value when
    both sides have at most 20 values, asymptotic otherwise): statistic T and its p-value.
    Effect size is the two-sample KS distance D of the same finite values
    (:func:`detectors.effect.ks_distance`). Default threshold 0.1, Evidently's.

    scipy's rank formula assumes continuous data (no ties); with ties the p-value is
    approximate. In the extreme case, one constant value on both sides, scipy reports
    strong drift when the sizes differ (p about 2e-8 for 10 vs 100 copies of one value), so
    that case is handled before scipy.

    NaN and +-inf are dropped. No finite value on a side, fewer than 2 on a side (the
    statistic is undefined; scipy returns NaN), or a single distinct value in the pooled
    data: statistic 0, p-value 1, effect 0.

    Evidently 0.7's ``cramer_von_mises`` runs its own copy of this scipy function: the
    p-value is identical above 20 values per side and agrees to about 1e-10 in the exact
    branch. Evidently calls drift when ``p <= threshold``; here, like every p-value test
    of this registry, when ``p < threshold``.
    """
    ref = finite(reference)
    cur = finite(current)
    if ref.size < 2 or cur.size < 2:
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    value = ref[0]
    if ref.min() == value == ref.max() and cur.min() == value == cur.max():
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    res = stats.cramervonmises_2samp(ref, cur)
    return StatResult(
        statistic=float(res.statistic),
        p_value=float(res.pvalue),
        effect_size=ks_distance(ref, cur),
    )
