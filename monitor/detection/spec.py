"""Monitor specification (stored as JSON in ``monitors.spec``).

A spec is the resolved form of one monitor: ``driftwarden monitors apply`` builds it from a
monitors.yaml (monitor/detection/monitors_file.py) and ``kind: Monitor`` documents give it
directly. Every field is honoured by the detect worker (monitor/detection/runner.py); a
value it cannot honour yet is refused here rather than stored and ignored. Specs stored
before a field existed still validate: every field added since has a default that means
what the worker did before it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

import detectors

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# What the worker computes today; docs/monitors.md lists the signals planned next.
Signal = Literal["data_drift"]
Reference = Literal["baseline", "previous_window", "fixed_window"]


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


class Schedule(BaseModel):
    """When the worker evaluates a monitor's closed windows: at the epoch-aligned ticks
    of ``every`` (plus the monitor's ``delay``), several windows at a time if ``every``
    is longer than the window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every: str

    @field_validator("every")
    @classmethod
    def _every(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def every_size(self) -> timedelta:
        return parse_duration(self.every)


class TimeRange(BaseModel):
    """``[start, end)``, both with a time zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError(
                f"end={self.end.isoformat()} is not after start={self.start.isoformat()}"
            )
        return self


class MonitorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str = Field(min_length=1)
    signal: Signal = "data_drift"
    # None: every feature of the version's schema.
    features: list[str] | None = None
    window: str = "1h"
    # Sliding windows: a window of ``window`` ends every ``step``. None: tumbling windows
    # (the step is the window).
    step: str | None = None
    # Allowed lateness: a window is checked once it has been closed this long.
    delay: str = "5m"
    # Windows with fewer rows are recorded as insufficient_data, not tested.
    min_rows: int = Field(default=100, ge=1)
    # What each window is compared with: the version's baseline named ``baseline``, the
    # window of the same size just before it, or the version's events in a fixed range.
    reference: Reference = "baseline"
    baseline: str = Field(default="training", min_length=1)
    reference_window: TimeRange | None = None
    methods: dict[str, str] = Field(default_factory=dict)
    policy: DriftPolicy = DriftPolicy()
    # None: every pass of the worker looks for closed windows.
    schedule: Schedule | None = None

    @field_validator("window", "step")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("delay")
    @classmethod
    def _delay(cls, value: str) -> str:
        parse_duration(value, allow_zero=True)
        return value

    @field_validator("features")
    @classmethod
    def _unique_features(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            seen: set[str] = set()
            for name in value:
                if name in seen:
                    raise ValueError(f"{name!r} is listed twice")
                seen.add(name)
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

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.step is not None and self.step_size > self.window_size:
            raise ValueError(
                f"step={self.step!r} is longer than window={self.window!r}: "
                "events between two windows would never be checked"
            )
        if (self.reference == "fixed_window") != (self.reference_window is not None):
            raise ValueError(
                "reference_window is required with reference='fixed_window' and "
                f"meaningless otherwise (reference={self.reference!r})"
            )
        # A stored spec carries every field, so only a non-default name is a contradiction.
        if self.reference != "baseline" and self.baseline != "training":
            raise ValueError(
                f"baseline={self.baseline!r} is only used with reference='baseline' "
                f"(reference={self.reference!r})"
            )
        return self

    @property
    def window_size(self) -> timedelta:
        return parse_duration(self.window)

    @property
    def step_size(self) -> timedelta:
        """How far apart consecutive windows end (the window itself when tumbling)."""
        return parse_duration(self.step) if self.step is not None else self.window_size

    @property
    def delay_size(self) -> timedelta:
        return parse_duration(self.delay, allow_zero=True)
