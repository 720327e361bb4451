"""Monitor specification (stored as JSON in ``monitors.spec``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import detectors

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str, *, allow_zero: bool = False) -> timedelta:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"1d"``, ``"1w"`` -> timedelta."""
    match = _DURATION.match(value.strip())
    if not match or (int(match.group(1)) == 0 and not allow_zero):
        raise ValueError(f"{value!r} is not a duration like 15m, 1h or 1d")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


class DriftPolicy(BaseModel):
    """How a feature's statistic becomes a verdict; see docs/detectors.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(default=0.05, gt=0, lt=1)
    min_effect: float | None = Field(default=None, ge=0)
    min_missing_change: float = Field(default=0.01, ge=0, le=1)
    correction: Literal["bonferroni", "bh", "none"] = "bonferroni"
    share_threshold: float = Field(default=0.5, gt=0, le=1)


class MonitorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str = Field(min_length=1)
    signal: Literal["data_drift"] = "data_drift"
    # None: every feature of the version's schema.
    features: list[str] | None = None
    window: str = "1h"
    # Allowed lateness: a window is checked once it has been closed this long.
    delay: str = "5m"
    # Windows with fewer rows are recorded as insufficient_data, not tested.
    min_rows: int = Field(default=100, ge=1)
    baseline: str = "training"
    methods: dict[str, str] = Field(default_factory=dict)
    policy: DriftPolicy = DriftPolicy()

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("delay")
    @classmethod
    def _delay(cls, value: str) -> str:
        parse_duration(value, allow_zero=True)
        return value

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, value: dict[str, str]) -> dict[str, str]:
        known = detectors.available()
        for feature, method in value.items():
            if method != "auto" and method not in known:
                raise ValueError(
                    f"methods.{feature}={method!r} is not a known test; known: {', '.join(known)}"
                )
        return value

    @property
    def window_size(self) -> timedelta:
        return parse_duration(self.window)

    @property
    def delay_size(self) -> timedelta:
        return parse_duration(self.delay, allow_zero=True)
