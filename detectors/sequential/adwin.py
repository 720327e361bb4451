"""ADWIN (adaptive windowing) on a stream of values, as River's ``drift.ADWIN`` computes it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from detectors.sequential.base import (
    JSON,
    SequentialDetector,
    check_value,
    count,
    decode_float,
    encode_float,
    field,
    open_state,
    real,
)


class ADWIN(SequentialDetector):
    """ADWIN: a change in the mean between an older and a newer part of a growing window.

    Watches a stream of real values, for example a per-window error rate or a 0/1 error
    indicator, for a change of its mean. The window holds every value since the last
    restart, summarised in an exponential histogram: row ``i`` holds up to
    ``max_buckets`` buckets of ``2**i`` values each (their sum and the sum of squared
    deviations from their mean), so the window takes O(max_buckets * log(width)) memory.
    Every ``clock`` values, once the window holds more than ``grace_period`` values, each
    bucket boundary splits it into an older part W0 (n0 values) and a newer part W1 (n1),
    and a drift is detected at the first split, oldest first, with both parts holding at
    least ``min_window_length`` values and::

        |mean(W0) - mean(W1)| > sqrt(2 m var d) + 2/3 d m,
        m = 1/(n0 - min_window_length + 1) + 1/(n1 - min_window_length + 1),
        d = ln(2 ln(width) / delta), var = the window's population variance

    (Bifet and Gavalda 2007, with River's Bernstein-type bound). ``delta`` is the
    confidence: smaller, fewer false detections and later true ones. After a detection
    the window restarts empty, as River 0.26's does (the paper's ADWIN keeps W1).

    Defaults are River's (``delta=0.002, clock=32, max_buckets=5, min_window_length=5,
    grace_period=10``), and detections are at the same values as River 0.26's
    ``drift.ADWIN`` on the same stream (tested): the same buckets, merged and scanned in
    the same order, in the same floating-point operations. ``max_buckets`` must be at
    least 2 (River's bucket code assumes it).

    Non-finite values are refused (ValueError), and the state is left unchanged.
    """

    __slots__ = (
        "_tick",
        "_total",
        "_totals",
        "_variance",
        "_variances",
        "_width",
        "clock",
        "delta",
        "grace_period",
        "max_buckets",
        "min_window_length",
    )
    KIND: ClassVar[str] = "adwin"
    VERSION: ClassVar[int] = 1

    def __init__(
        self,
        *,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        if not 0 < delta < 1:
            raise ValueError(f"delta must be in (0, 1), got {delta!r}")
        for name, value, least in (
            ("clock", clock, 1),
            ("max_buckets", max_buckets, 2),
            ("min_window_length", min_window_length, 1),
            ("grace_period", grace_period, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            if value < least:
                raise ValueError(f"{name} must be >= {least}, got {value!r}")
        super().__init__()
        self.delta = float(delta)
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        self._restart()

    def _restart(self) -> None:
        # Row i: the totals and variances of its buckets of 2**i values, oldest first.
        self._totals: list[list[float]] = [[]]
        self._variances: list[list[float]] = [[]]
        self._width = 0.0
        self._total = 0.0
        self._variance = 0.0
        self._tick = 0

    def reset(self) -> None:
        self._clear_counters()
        self._restart()

    @property
    def width(self) -> int:
        """Values in the window (since the last restart)."""
        return int(self._width)

    @property
    def mean(self) -> float:
        """Mean of the window (0.0 when empty)."""
        return self._total / self._width if self._width else 0.0

    @property
    def variance(self) -> float:
        """Population variance of the window (0.0 when empty)."""
        return self._variance / self._width if self._width else 0.0

    def update(self, value: float) -> bool:
        x = check_value(self.KIND, value)
        self._drift = False
        self._n += 1
        self._insert(x)
        self._tick += 1
        if self._tick % self.clock == 0 and self._width > self.grace_period:
            self._check()
        return self._drift

    def _insert(self, x: float) -> None:
        self._totals[0].append(x)
        self._variances[0].append(0.0)
        # The window's sum of squared deviations, updated in River's order of operations.
        self._width += 1.0
        if self._width > 1.0:
            d = x - self._total / (self._width - 1.0)
            self._variance += (self._width - 1.0) * d * d / self._width
        self._total += x
        # A row holding max_buckets + 1 buckets merges its two oldest into the next row.
        row = 0
        while len(self._totals[row]) == self.max_buckets + 1:
            size = float(1 << row)
            t0, t1 = self._totals[row][0], self._totals[row][1]
            v0, v1 = self._variances[row][0], self._variances[row][1]
            mu0, mu1 = t0 / size, t1 / size
            if row + 1 == len(self._totals):
                self._totals.append([])
                self._variances.append([])
            self._totals[row + 1].append(t0 + t1)
            self._variances[row + 1].append(v0 + v1 + size * 0.5 * (mu0 - mu1) * (mu0 - mu1))
            del self._totals[row][:2], self._variances[row][:2]
            row += 1

    def _check(self) -> None:
        """Test every split of the window, oldest first; at the first that passes, record
        the detection and restart."""
        n0, n1 = 0.0, self._width
        u0, u1 = 0.0, self._total
        least = float(self.min_window_length)
        for row in range(len(self._totals) - 1, -1, -1):
            size = float(1 << row)
            for total in self._totals[row]:
                n0 += size
                n1 -= size
                u0 += total
                u1 -= total
                if n1 == 0.0:  # the newest value is never a split
                    return
                if n0 < least or n1 < least:
                    continue
                change = u0 / n0 - u1 / n1
                bound = self._bound(n0, n1)
                if abs(change) > bound:
                    self._detected("up" if change < 0 else "down", abs(change), bound, self.width)
                    self._restart()
                    return

    def _bound(self, n0: float, n1: float) -> float:
        least = float(self.min_window_length)
        d = math.log(2.0 * math.log(self._width) / self.delta)
        m = 1.0 / (n0 - least + 1.0) + 1.0 / (n1 - least + 1.0)
        spread = 2.0 * m * (self._variance / self._width) * d
        # A variance a rounding error below 0 is a NaN bound in River: never a detection.
        if not spread >= 0.0:
            return math.inf
        return math.sqrt(spread) + 2.0 / 3.0 * d * m

    def to_state(self) -> dict[str, JSON]:
        rows: list[JSON] = [
            [[encode_float(t), encode_float(v)] for t, v in zip(ts, vs, strict=True)]
            for ts, vs in zip(self._totals, self._variances, strict=True)
        ]
        return self._state(
            {
                "delta": self.delta,
                "clock": self.clock,
                "max_buckets": self.max_buckets,
                "min_window_length": self.min_window_length,
                "grace_period": self.grace_period,
            },
            {
                "tick": self._tick,
                "total": encode_float(self._total),
                "variance": encode_float(self._variance),
                "rows": rows,
            },
        )

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        whole, params, stats = open_state(state, cls.KIND, cls.VERSION)
        detector = cls(
            delta=real(params, "delta"),
            clock=field(params, "clock", int),
            max_buckets=field(params, "max_buckets", int),
            min_window_length=field(params, "min_window_length", int),
            grace_period=field(params, "grace_period", int),
        )
        detector._load_counters(whole)
        detector._tick = count(stats, "tick")
        detector._total = real(stats, "total")
        detector._variance = real(stats, "variance")
        rows = field(stats, "rows", list)
        if not rows:
            raise ValueError("state key 'rows' must hold at least one row, got []")
        totals: list[list[float]] = []
        variances: list[list[float]] = []
        width = 0
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) > detector.max_buckets:
                raise ValueError(
                    f"state key 'rows': row {i} must be a list of at most "
                    f"{detector.max_buckets} buckets, got {row!r}"
                )
            pairs = [_bucket(i, b) for b in row]
            totals.append([t for t, _ in pairs])
            variances.append([v for _, v in pairs])
            width += len(row) << i
        detector._totals, detector._variances = totals, variances
        detector._width = float(width)
        return detector


def _bucket(row: int, bucket: object) -> tuple[float, float]:
    if not isinstance(bucket, list) or len(bucket) != 2:
        raise ValueError(
            f"state key 'rows': a bucket of row {row} must be [total, variance], got {bucket!r}"
        )
    return decode_float("rows", bucket[0]), decode_float("rows", bucket[1])
