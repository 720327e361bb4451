"""Effect sizes shared by several stat tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from detectors import ecdf


def ks_distance(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> float:
    """Two-sample Kolmogorov-Smirnov distance D = max |F_ref(x) - F_cur(x)| (0..1).

    Expects finite values (callers drop NaN/inf first); 0.0 when either side is empty.
    Equal to ``scipy.stats.ks_2samp(reference, current).statistic`` without computing a
    p-value (:mod:`detectors.ecdf`).
    """
    return ecdf.ks_distance(
        np.asarray(reference, dtype=np.float64).ravel(),
        np.asarray(current, dtype=np.float64).ravel(),
    )
