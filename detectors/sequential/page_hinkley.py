"""Page-Hinkley test on a stream of values, as River's ``drift.PageHinkley`` computes it."""

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
    field,
    open_state,
    real,
)

MODES = ("up", "down", "both")


class PageHinkley(SequentialDetector):
    """Page-Hinkley test for a change in the mean of a stream of values.

    Watches a stream of real values, for example a per-window error rate or missing rate,
    for a change of its mean. Each value's deviation from the running mean of the values
    since the last restart is accumulated, less a tolerance ``delta``, into
    ``sum_up = alpha * sum_up + (x - mean) - delta`` and, plus the tolerance, into
    ``sum_down = alpha * sum_down + (x - mean) + delta`` (``alpha`` < 1 fades old
    deviations). A drift is detected when, with at least ``min_instances`` values since the
    last restart, ``sum_up - min(sum_up)`` exceeds ``threshold`` (mode "up": the mean went
    up), ``max(sum_down) - sum_down`` does (mode "down": it went down), or either does
    (mode "both"). After a detection the test restarts: the next value is the first of a
    new mean.

    Defaults are River's (``min_instances=30, delta=0.005, threshold=50.0,
    alpha=0.9999, mode="both"``), and detections are at the same values as River 0.26's
    ``drift.PageHinkley`` on the same stream (tested). ``delta`` and ``threshold`` are in the
    stream's units: a mean shift of ``s`` grows the statistic by at most ``s - delta`` per
    value, less as the running mean catches up. With the default threshold a constant
    rate stepping from 0.1 to 0.2 is detected 740 values later after 1,000 values at 0.1,
    560 later after 5,000, and never after only 100; scale ``threshold`` to the stream
    (e.g. 1-5 for rates in [0, 1]).

    Non-finite values are refused (ValueError), and the state is left unchanged.
    """

    __slots__ = (
        "_count",
        "_max_down",
        "_mean",
        "_min_up",
        "_sum_down",
        "_sum_up",
        "alpha",
        "delta",
        "min_instances",
        "mode",
        "threshold",
    )
    KIND: ClassVar[str] = "page_hinkley"
    VERSION: ClassVar[int] = 1

    def __init__(
        self,
        *,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        if isinstance(min_instances, bool) or not isinstance(min_instances, int):
            raise ValueError(f"min_instances must be an integer, got {min_instances!r}")
        if min_instances < 1:
            raise ValueError(f"min_instances must be >= 1, got {min_instances!r}")
        # delta >= 0 also makes the first sum_down (= delta) the first maximum, as River's
        # initial maximum of -1 does.
        if not (math.isfinite(delta) and delta >= 0):
            raise ValueError(f"delta must be finite and >= 0, got {delta!r}")
        if not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(f"threshold must be finite and > 0, got {threshold!r}")
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        super().__init__()
        self.min_instances = min_instances
        self.delta = float(delta)
        self.threshold = float(threshold)
        self.alpha = float(alpha)
        self.mode = mode
        self._restart()

    def _restart(self) -> None:
        self._count = 0
        self._mean = 0.0
        self._sum_up = 0.0
        self._sum_down = 0.0
        self._min_up = math.inf
        self._max_down = -math.inf

    def reset(self) -> None:
        self._clear_counters()
        self._restart()

    def update(self, value: float) -> bool:
        x = check_value(self.KIND, value)
        self._drift = False
        self._n += 1
        self._count += 1
        # River's running mean, in its order of operations, so the sums match to the bit.
        self._mean += (1.0 / self._count) * (x - self._mean)
        deviation = x - self._mean
        self._sum_up = self.alpha * self._sum_up + deviation - self.delta
        self._sum_down = self.alpha * self._sum_down + deviation + self.delta
        # min(a, b) is b only when b < a, as River's comparisons.
        self._min_up = min(self._min_up, self._sum_up)
        self._max_down = max(self._max_down, self._sum_down)
        if self._count < self.min_instances:
            return False
        up = self._sum_up - self._min_up
        down = self._max_down - self._sum_down
        up_hit = self.mode != "down" and up > self.threshold
        down_hit = self.mode != "up" and down > self.threshold
        if up_hit or down_hit:
            upward = up_hit and (not down_hit or up >= down)
            self._detected(
                "up" if upward else "down",
                up if upward else down,
                self.threshold,
                self._count,
            )
            self._restart()
        return self._drift

    @property
    def mean(self) -> float:
        """Mean of the values since the last restart (0.0 before the first)."""
        return self._mean

    def to_state(self) -> dict[str, JSON]:
        return self._state(
            {
                "min_instances": self.min_instances,
                "delta": self.delta,
                "threshold": self.threshold,
                "alpha": self.alpha,
                "mode": self.mode,
            },
            {
                "count": self._count,
                "mean": encode_float(self._mean),
                "sum_up": encode_float(self._sum_up),
                "sum_down": encode_float(self._sum_down),
                "min_up": encode_float(self._min_up),
                "max_down": encode_float(self._max_down),
            },
        )

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        whole, params, stats = open_state(state, cls.KIND, cls.VERSION)
        detector = cls(
            min_instances=field(params, "min_instances", int),
            delta=real(params, "delta"),
            threshold=real(params, "threshold"),
            alpha=real(params, "alpha"),
            mode=field(params, "mode", str),
        )
        detector._load_counters(whole)
        detector._count = count(stats, "count")
        detector._mean = real(stats, "mean")
        detector._sum_up = real(stats, "sum_up")
        detector._sum_down = real(stats, "sum_down")
        detector._min_up = real(stats, "min_up")
        detector._max_down = real(stats, "max_down")
        return detector
