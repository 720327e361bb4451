"""Multiple-testing correction of the per-column p-value threshold."""

from __future__ import annotations

CORRECTIONS: tuple[str, ...] = ("bonferroni", "none")


def p_threshold(alpha: float, *, n_tests: int, method: str) -> float:
    """The per-test p-value threshold for ``n_tests`` tests at family level ``alpha``.

    "bonferroni": alpha / n_tests (controls the family-wise error rate); "none": alpha.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if n_tests < 1:
        raise ValueError(f"n_tests must be >= 1, got {n_tests!r}")
    if method == "bonferroni":
        return alpha / n_tests
    if method == "none":
        return alpha
    raise ValueError(f"unknown correction {method!r}; known: {', '.join(CORRECTIONS)}")
