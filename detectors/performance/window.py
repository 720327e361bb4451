"""What every performance result shares: the interval settings and their checks, the
window's label coverage, and building a MetricValue from a value and its interval."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.performance.intervals import Counts, percentile, resample_counts
from detectors.performance.types import MetricValue

Floats = npt.NDArray[np.float64]
Statistics = Callable[[Counts], dict[str, Floats]]

NO_LABELS = "no labelled row in the window"


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Settings:
    """Interval settings: level, bootstrap resamples, seed (checked on creation)."""

    confidence: float
    n_bootstrap: int
    seed: int

    def __post_init__(self) -> None:
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence!r}")
        if not _is_int(self.n_bootstrap) or self.n_bootstrap < 1:
            raise ValueError(f"n_bootstrap must be an integer >= 1, got {self.n_bootstrap!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")

    def method(self, *, basic: bool = False) -> str:
        return f"bootstrap-{'basic' if basic else 'percentile'}({self.n_bootstrap})"

    def rng(self, stream: int) -> np.random.Generator:
        """The generator of one bootstrap ``stream`` (0: confusion-matrix cells, 1: rows),
        so that neither depends on whether the other ran."""
        return np.random.default_rng([self.seed, stream])

    def resample_rows(
        self, n: int, statistics: Statistics
    ) -> tuple[dict[str, float], dict[str, Floats]]:
        """Point values and bootstrap replicates of ``statistics`` over ``n`` rows.

        ``statistics`` maps a chunk of count matrices (resamples x rows, int64, each row
        summing to ``n``) to each statistic's values on those resamples; a single row of
        ones gives the point values.
        """
        point = {
            name: float(v[0]) for name, v in statistics(np.ones((1, n), dtype=np.int64)).items()
        }
        out = {name: np.empty(self.n_bootstrap) for name in point}
        if not point:
            return point, out
        start = 0
        for chunk in resample_counts(n, self.n_bootstrap, self.rng(1)):
            stop = start + chunk.shape[0]
            for name, values in statistics(chunk).items():
                out[name][start:stop] = values
            start = stop
        return point, out

    def bootstrapped(
        self,
        name: str,
        value: float,
        replicates: Floats,
        n: int,
        *,
        basic: bool = False,
        floor: float = -math.inf,
    ) -> MetricValue:
        """A metric with its bootstrap interval (:func:`intervals.percentile`), the lower
        bound no lower than ``floor`` (the basic interval can leave a metric's range)."""
        lower, upper, reason = percentile(replicates, value, self.confidence, basic=basic)
        bounds = (max(lower, floor), upper)
        return metric(name, value, bounds, n, self.method(basic=basic), reason=reason)


def coverage(n_labelled: int, n_rows: int, n_predictions: int | None) -> tuple[int, float]:
    """``(n_predictions, n_labelled / n_predictions)``; ``n_predictions`` defaults to the
    rows given and may not be below the labelled rows (NaN coverage when it is 0)."""
    total = n_rows if n_predictions is None else n_predictions
    if not _is_int(total):
        raise ValueError(f"n_predictions must be an integer, got {n_predictions!r}")
    if total < n_labelled:
        raise ValueError(
            f"n_predictions ({total}) is below the number of labelled rows ({n_labelled})"
        )
    return int(total), (n_labelled / total if total > 0 else math.nan)


def metric(
    name: str,
    value: float,
    bounds: tuple[float, float],
    n: int,
    method: str,
    *,
    reason: str | None = None,
) -> MetricValue:
    lower, upper = bounds
    if not math.isfinite(value):
        lower = upper = math.nan
    return MetricValue(name, float(value), float(lower), float(upper), int(n), method, reason)


def undefined(name: str, n: int, method: str, reason: str) -> MetricValue:
    return MetricValue(name, math.nan, math.nan, math.nan, n, method, reason)
