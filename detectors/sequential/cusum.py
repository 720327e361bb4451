"""Tabular two-sided CUSUM (Page 1954, in Montgomery's form) on a stream of values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from detectors.sequential.base import (
    JSON,
    SequentialDetector,
    check_value,
    count,
    encode_float,
    open_state,
    real,
)


class CUSUM(SequentialDetector):
    """Tabular two-sided CUSUM for a shift of the mean away from a target.

    Watches a stream of real values, for example a per-window error rate or missing rate,
    whose in-control mean is ``target`` and standard deviation ``sigma``. With ``K = k *
    sigma`` (the allowance: half the shift to detect, default 0.5 sigma) it accumulates::

        C+ = max(0, x - (target + K) + C+)      C- = max(0, (target - K) - x + C-)

    from 0, and detects a drift when ``C+ > H`` (the mean went up) or ``C- > H`` (it went
    down), ``H = h * sigma`` (the decision interval, default 5 sigma). With k = 0.5 and
    h = 5 the in-control average run length (values between false detections) is about
    465 and a shift of 1 sigma is detected after about 10 values (Montgomery, Introduction
    to Statistical Quality Control, table 9.3; tested by simulation).

    ``target`` and ``sigma`` are given, or either is estimated from the first ``warmup``
    values (their mean; their sample standard deviation, ddof=1, at least ``min_sigma``),
    which are not monitored. An estimated sigma of 0 (a constant warm-up) makes any
    value off the target a detection; ``min_sigma`` guards against that.

    After a detection both sums restart at 0. A target or sigma that was estimated is
    estimated again from the next ``warmup`` values (the new level becomes the reference,
    as Page-Hinkley and ADWIN restart); a given one is kept, so a shift that persists is
    detected again about every ``h / (shift - k)`` values (shift in sigmas).

    Non-finite values are refused (ValueError), and the state is left unchanged.
    """

    __slots__ = (
        "_down",
        "_sigma",
        "_target",
        "_up",
        "_warm_count",
        "_warm_m2",
        "_warm_mean",
        "_watched",
        "h",
        "k",
        "min_sigma",
        "sigma",
        "target",
        "warmup",
    )
    KIND: ClassVar[str] = "cusum"
    VERSION: ClassVar[int] = 1

    def __init__(
        self,
        *,
        target: float | None = None,
        sigma: float | None = None,
        k: float = 0.5,
        h: float = 5.0,
        warmup: int = 30,
        min_sigma: float = 0.0,
    ) -> None:
        if target is not None and not math.isfinite(target):
            raise ValueError(f"target must be finite, got {target!r}")
        if sigma is not None and not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be finite and > 0, got {sigma!r}")
        if not (math.isfinite(k) and k >= 0):
            raise ValueError(f"k must be finite and >= 0, got {k!r}")
        if not (math.isfinite(h) and h > 0):
            raise ValueError(f"h must be finite and > 0, got {h!r}")
        if not (math.isfinite(min_sigma) and min_sigma >= 0):
            raise ValueError(f"min_sigma must be finite and >= 0, got {min_sigma!r}")
        if isinstance(warmup, bool) or not isinstance(warmup, int):
            raise ValueError(f"warmup must be an integer, got {warmup!r}")
        if sigma is None and warmup < 2:
            raise ValueError(f"warmup must be >= 2 to estimate sigma, got {warmup!r}")
        if target is None and warmup < 1:
            raise ValueError(f"warmup must be >= 1 to estimate the target, got {warmup!r}")
        if warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {warmup!r}")
        super().__init__()
        self.target = None if target is None else float(target)
        self.sigma = None if sigma is None else float(sigma)
        self.k = float(k)
        self.h = float(h)
        self.warmup = warmup
        self.min_sigma = float(min_sigma)
        self._restart()

    def _restart(self) -> None:
        self._up = 0.0
        self._down = 0.0
        self._watched = 0
        self._warm_count = 0
        self._warm_mean = 0.0
        self._warm_m2 = 0.0
        self._target = self.target
        self._sigma = self.sigma

    def reset(self) -> None:
        self._clear_counters()
        self._restart()

    @property
    def warming_up(self) -> bool:
        """Whether the values taken now estimate the target or sigma (not monitored)."""
        return self._target is None or self._sigma is None

    @property
    def target_in_use(self) -> float | None:
        """The target the sums are measured from (None while warming up)."""
        return None if self.warming_up else self._target

    @property
    def sigma_in_use(self) -> float | None:
        """The sigma that scales K and H (None while warming up)."""
        return None if self.warming_up else self._sigma

    @property
    def sums(self) -> tuple[float, float]:
        """(C+, C-) after the last value (both 0 while warming up and after a restart)."""
        return self._up, self._down

    def update(self, value: float) -> bool:
        x = check_value(self.KIND, value)
        self._drift = False
        self._n += 1
        if self._target is None or self._sigma is None:
            self._warm(x)
            return False
        self._watched += 1
        allowance = self.k * self._sigma
        interval = self.h * self._sigma
        self._up = max(0.0, x - (self._target + allowance) + self._up)
        self._down = max(0.0, (self._target - allowance) - x + self._down)
        if self._up > interval or self._down > interval:
            upward = self._up >= self._down
            self._detected(
                "up" if upward else "down",
                self._up if upward else self._down,
                interval,
                self._watched,
            )
            self._restart()
        return self._drift

    def _warm(self, x: float) -> None:
        # Welford's update: one pass, and no cancellation for values far from 0.
        self._warm_count += 1
        d = x - self._warm_mean
        self._warm_mean += d / self._warm_count
        self._warm_m2 += d * (x - self._warm_mean)
        if self._warm_count < self.warmup:
            return
        if self._target is None:
            self._target = self._warm_mean
        if self._sigma is None:
            var = self._warm_m2 / (self._warm_count - 1)
            # var is >= 0 unless the warm-up overflowed (values near 1e308); then NaN, and
            # sums that stay 0: no detection rather than an exception mid-stream.
            sd = math.sqrt(var) if var >= 0 else math.nan
            self._sigma = max(sd, self.min_sigma)
        self._warm_count, self._warm_mean, self._warm_m2 = 0, 0.0, 0.0

    def to_state(self) -> dict[str, JSON]:
        return self._state(
            {
                "target": self.target,
                "sigma": self.sigma,
                "k": self.k,
                "h": self.h,
                "warmup": self.warmup,
                "min_sigma": self.min_sigma,
            },
            {
                "target": None if self._target is None else encode_float(self._target),
                "sigma": None if self._sigma is None else encode_float(self._sigma),
                "up": encode_float(self._up),
                "down": encode_float(self._down),
                "watched": self._watched,
                "warm_count": self._warm_count,
                "warm_mean": encode_float(self._warm_mean),
                "warm_m2": encode_float(self._warm_m2),
            },
        )

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        whole, params, stats = open_state(state, cls.KIND, cls.VERSION)
        detector = cls(
            target=_optional(params, "target"),
            sigma=_optional(params, "sigma"),
            k=real(params, "k"),
            h=real(params, "h"),
            warmup=count(params, "warmup"),
            min_sigma=real(params, "min_sigma"),
        )
        detector._load_counters(whole)
        detector._target = _optional(stats, "target")
        detector._sigma = _optional(stats, "sigma")
        detector._up = real(stats, "up")
        detector._down = real(stats, "down")
        detector._watched = count(stats, "watched")
        detector._warm_count = count(stats, "warm_count")
        detector._warm_mean = real(stats, "warm_mean")
        detector._warm_m2 = real(stats, "warm_m2")
        return detector


def _optional(state: Mapping[str, Any], key: str) -> float | None:
    if key not in state:
        raise ValueError(f"state has no key {key!r}")
    return None if state[key] is None else real(state, key)
