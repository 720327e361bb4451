"""Multiple-testing correction: the p-value threshold applied to every column of a run."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CORRECTIONS: tuple[str, ...] = ("bonferroni", "bh", "none")


def p_threshold(alpha: float, p_values: Sequence[float], *, method: str) -> float:
    """The threshold ``t`` such that a column is significant iff ``p <= t``.

    - "bonferroni": ``alpha / m`` (m = number of p-values): the family-wise error rate,
      the chance of any false alarm in a run, stays at most ``alpha``.
    - "bh": Benjamini-Hochberg, ``k / m * alpha`` for the largest k with
      ``p_(k) <= k / m * alpha`` (``alpha / m`` when there is none): the expected share
      of false alarms among the columns flagged stays at most ``alpha``. More power than
      Bonferroni when several columns drift.
    - "none": ``alpha``.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; known: {', '.join(CORRECTIONS)}")
    m = len(p_values)
    if method == "none" or m == 0:
        return alpha
    if method == "bonferroni":
        return alpha / m
    ranked = np.sort(np.asarray(p_values, dtype=np.float64))
    critical = np.arange(1, m + 1) / m * alpha
    passed = np.nonzero(ranked <= critical)[0]
    return float(critical[passed[-1]]) if passed.size else alpha / m
