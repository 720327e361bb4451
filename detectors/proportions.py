"""Two-sample tests of one proportion: the pooled z-test and the null-rate change."""

from __future__ import annotations

import math

from scipy import stats

from detectors.types import StatResult


def two_proportion_z(p1: float, n1: int, p2: float, n2: int) -> tuple[float, float] | None:
    """``(z, p)`` of the pooled two-proportion z-test of shares ``p1`` of ``n1`` and ``p2``
    of ``n2``; None when the pooled standard error is 0 (both shares 0 or both 1).

    ``z = (p1 - p2) / sqrt(P (1 - P) (1/n1 + 1/n2))`` with ``P`` the pooled share, and
    ``p = 2 * (1 - Phi(|z|))``: Evidently 0.7's exact form (it rounds p to 0 for |z| above
    about 8.3, where ``sf`` would not), kept so that its ``z`` is reproduced to the last bit.
    """
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if variance <= 0.0:
        return None
    z = (p1 - p2) / math.sqrt(variance)
    return z, 2.0 * (1.0 - float(stats.norm.cdf(abs(z))))


# Below this expected count in any cell of the 2x2 table the normal approximation is poor
# (the usual rule for chi-square tests), and Fisher's exact test is used instead.
_MIN_EXPECTED = 5.0


def missing_rate_change(n1_missing: int, n1: int, n2_missing: int, n2: int) -> StatResult:
    """Did the share of missing values change from sample 1 (reference) to 2 (current)?

    Statistic: the signed change of the missing share, current minus reference. p-value:
    the two-proportion z-test (the 2x2 chi-square test without continuity correction), or
    Fisher's exact test, two-sided, when an expected cell count is below 5. Effect size:
    the absolute change (0..1). An empty side gives statistic 0, p-value 1, effect 0.
    """
    if n1 == 0 or n2 == 0:
        return StatResult(statistic=0.0, p_value=1.0, effect_size=0.0)
    s1, s2 = n1_missing / n1, n2_missing / n2
    change = s2 - s1
    missing, total = n1_missing + n2_missing, n1 + n2
    expected = min(missing, total - missing) * min(n1, n2) / total
    if expected < _MIN_EXPECTED:
        table = [[n1_missing, n1 - n1_missing], [n2_missing, n2 - n2_missing]]
        p_value = float(stats.fisher_exact(table).pvalue)
    else:
        z = two_proportion_z(s1, n1, s2, n2)
        p_value = 1.0 if z is None else z[1]
    return StatResult(statistic=change, p_value=p_value, effect_size=abs(change))
