"""Epps-Singleton two-sample test for numerical columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from detectors.columns import finite
from detectors.effect import ks_distance
from detectors.registry import register
from detectors.types import StatResult

# scipy's small-sample correction is defined from 5 values per side; it refuses fewer.
_MIN_PER_SIDE = 5


@register(
    "epps_singleton",
    kinds={"numerical"},
    decision="p_value",
    threshold=0.05,
    default_min_effect=0.1,
)
def epps_singleton(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
    """Epps-Singleton test, based on the empirical characteristic functions, on the finite
    values of each side.

    ``scipy.stats.epps_singleton_2samp(ref, cur)`` with its default ``t=(0.4, 0.8)``
    (scaled by the semi-interquartile range of the pooled data): statistic W and its
    asymptotic chi-squared p-value (with scipy's small-sample correction below 25 values
    per side). Effect size is the two-sample KS distance D of the same finite values
    (:func:`detectors.effect.ks_distance`).

    NaN and +-inf are dropped. No finite value on a side, or both sides holding one and
    the same value: statistic 0, p-value 1, effect 0. Otherwise the test is undefined,
    and ValueError is raised, when a side has fewer than 5 finite values, or when the
    pooled data has a zero interquartile range (its middle half is one value); use
    ``ks`` for such columns.

    Same value as Evidently 0.7's ``es`` wherever that is defined (Evidently raises on a
    zero interquartile range even for two identical constant columns).
    """
    ref = finite(reference)
    cur = finite(current)
    if ref.size == 0 or cur.size == 0:
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    value = ref[0]
    if ref.min() == value == ref.max() and cur.min() == value == cur.max():
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    if ref.size < _MIN_PER_SIDE or cur.size < _MIN_PER_SIDE:
        raise ValueError(
            f"epps_singleton needs at least {_MIN_PER_SIDE} finite values on each side, got "
            f"{ref.size} (reference) and {cur.size} (current); use 'ks' for small samples"
        )
    pooled = np.concatenate([ref, cur])
    if stats.iqr(pooled) == 0:
        raise ValueError(
            "epps_singleton is undefined when the pooled data has a zero interquartile "
            "range (the middle half of the values is one value): its frequencies are scaled "
            "by the IQR; use 'ks' for this column"
        )
    res = stats.epps_singleton_2samp(ref, cur)
    return StatResult(
        statistic=float(res.statistic),
        p_value=float(res.pvalue),
        effect_size=ks_distance(ref, cur),
    )
