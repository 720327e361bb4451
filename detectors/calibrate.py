"""Effect-size floors calibrated to the window size by resampling the reference."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from detectors.columns import convert, infer_kind
from detectors.types import ColumnData
from detectors.univariate import column_test


def calibrate_min_effect(
    reference: Mapping[str, ColumnData],
    window_size: int,
    *,
    kinds: Mapping[str, str] | None = None,
    method: str | Mapping[str, str] = "auto",
    trials: int = 200,
    quantile: float = 0.95,
    max_reference: int = 100_000,
    seed: int = 0,
) -> dict[str, float]:
    """Per-column ``min_effect`` for :func:`detectors.detect_drift` on windows of
    ``window_size`` rows against this ``reference``.

    What effect size does a column show when nothing drifted? It depends on the window
    size (a KS D of 0.05 is noise at 500 rows and a real shift at 50,000) and on the column
    (ties, categories). So each trial draws a pseudo-reference and a pseudo-window of the
    real sizes, both with replacement from the reference (the bootstrap null: same
    distribution, no drift), and runs each column's test; a column's floor is the
    ``quantile`` of its effect sizes over the trials, and never less than its test's
    default floor. With the floor so set, a column drifts only when its effect is larger
    than ``quantile`` of the no-drift windows of that size *and* its p-value is
    significant.

    The pseudo-reference has ``min(len(reference), max_reference)`` rows: a smaller one
    only adds noise, so the floor errs high, and it bounds the cost (about
    ``trials x columns`` tests at that size). ``kinds`` and ``method`` are as for
    ``detect_drift``; ``seed`` makes the result reproducible.
    """
    columns = list(reference)
    if not columns:
        raise ValueError("reference has no columns")
    if window_size < 1:
        raise ValueError(f"window_size must be >= 1, got {window_size!r}")
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials!r}")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    if max_reference < 1:
        raise ValueError(f"max_reference must be >= 1, got {max_reference!r}")
    kinds = kinds or {}
    rng = np.random.default_rng(seed)
    floors = {}
    for col in columns:
        values = np.asarray(reference[col])
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"column {col!r}: the reference must be 1-d and non-empty")
        kind = infer_kind(col, values, values, given=kinds.get(col))
        name = method if isinstance(method, str) else method.get(col, "auto")
        test = column_test(col, kind, name)
        values = convert(col, kind, values)
        n_ref = min(values.size, max_reference)
        effects = np.empty(trials)
        for i in range(trials):
            ref = values[rng.integers(0, values.size, n_ref)]
            cur = values[rng.integers(0, values.size, window_size)]
            effect = test.fn(ref, cur).effect_size
            if effect is None:
                raise ValueError(f"stat test {test.name!r} reports no effect size (column {col!r})")
            effects[i] = effect
        floors[col] = max(float(np.quantile(effects, quantile)), test.default_min_effect)
    return floors
