"""What every sequential detector shares: the base class that is its protocol, the record
of a detection, the check of an input value, and the pieces of its JSON state."""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self, TypeAlias, TypeVar

JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"
Direction = Literal["up", "down"]
_T = TypeVar("_T")
_TYPE_NAMES = {int: "an integer", str: "a string", bool: "a boolean", list: "a list"}

# PostgreSQL's jsonb (like strict JSON) has no Infinity or NaN: a non-finite float in a
# state is written as one of these strings.
_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


@dataclass(frozen=True, slots=True)
class Detection:
    """One detection, with the numbers it was decided on.

    ``index`` is the 0-based position of the triggering value among all the values the
    detector has taken (since it was created or :meth:`reset`); ``direction`` says whether
    the stream's level went up or down; ``statistic`` is the detector's statistic that
    exceeded ``threshold`` (the threshold actually applied, in the same units); ``n_window``
    counts the values the statistic was computed over (since the detector last restarted).
    """

    method: str
    index: int
    direction: Direction
    statistic: float
    threshold: float
    n_window: int

    def to_state(self) -> dict[str, JSON]:
        return {
            "method": self.method,
            "index": self.index,
            "direction": self.direction,
            "statistic": encode_float(self.statistic),
            "threshold": encode_float(self.threshold),
            "n_window": self.n_window,
        }

    @classmethod
    def from_state(cls, state: JSON) -> Detection:
        d = mapping("last_detection", state)
        direction = field(d, "direction", str)
        if direction not in ("up", "down"):
            raise ValueError(f"state key 'direction' must be 'up' or 'down', got {direction!r}")
        return cls(
            method=field(d, "method", str),
            index=count(d, "index"),
            direction="up" if direction == "up" else "down",
            statistic=real(d, "statistic"),
            threshold=real(d, "threshold"),
            n_window=count(d, "n_window"),
        )


class SequentialDetector(ABC):
    """A detector fed one value at a time, whose whole state is a JSON document.

    ``update(value)`` takes the next value and returns True when a drift is detected at
    it; ``drift_detected`` repeats that answer until the next update. ``n`` counts the
    values taken, ``detections`` the drifts detected, and ``last_detection`` describes the
    latest one, all since creation or :meth:`reset`. ``to_state()`` is a JSON-compatible
    dict (finite floats as numbers, non-finite ones as "inf", "-inf", "nan"), which
    ``from_state`` (or :func:`detectors.sequential.load`) turns back into a detector that
    continues exactly where this one stopped.
    """

    __slots__ = ("_detections", "_drift", "_last", "_n")
    KIND: ClassVar[str]
    VERSION: ClassVar[int]

    def __init__(self) -> None:
        self._n = 0
        self._detections = 0
        self._drift = False
        self._last: Detection | None = None

    @abstractmethod
    def update(self, value: float) -> bool:
        """Take the next value; True when a drift is detected at it."""

    @abstractmethod
    def reset(self) -> None:
        """Forget every value taken: the detector is as new, with the same parameters."""

    @abstractmethod
    def to_state(self) -> dict[str, JSON]:
        """The whole state as JSON-compatible data (see the class docstring)."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        """The detector ``to_state`` described; ValueError naming a bad key."""

    @property
    def drift_detected(self) -> bool:
        """Whether the last update detected a drift."""
        return self._drift

    @property
    def n(self) -> int:
        return self._n

    @property
    def detections(self) -> int:
        return self._detections

    @property
    def last_detection(self) -> Detection | None:
        return self._last

    def _clear_counters(self) -> None:
        self._n = 0
        self._detections = 0
        self._drift = False
        self._last = None

    def _detected(
        self, direction: Direction, statistic: float, threshold: float, n_window: int
    ) -> None:
        """Record a drift at the value just taken (``_n`` already counts it)."""
        self._drift = True
        self._detections += 1
        self._last = Detection(self.KIND, self._n - 1, direction, statistic, threshold, n_window)

    def _state(self, params: Mapping[str, JSON], stats: Mapping[str, JSON]) -> dict[str, JSON]:
        return {
            "kind": self.KIND,
            "version": self.VERSION,
            "params": dict(params),
            "n": self._n,
            "detections": self._detections,
            "drift_detected": self._drift,
            "last_detection": None if self._last is None else self._last.to_state(),
            "stats": dict(stats),
        }

    def _load_counters(self, state: Mapping[str, Any]) -> None:
        self._n = count(state, "n")
        self._detections = count(state, "detections")
        self._drift = field(state, "drift_detected", bool)
        raw = state.get("last_detection")
        self._last = None if raw is None else Detection.from_state(raw)


def check_value(method: str, value: object) -> float:
    """``value`` as a float; ValueError naming it unless it is a finite real number.

    A missing window (NaN) is refused rather than skipped: what it means (no traffic, a
    broken pipeline) is the caller's to decide, and a detector that silently skipped it
    would hide it.
    """
    if isinstance(value, numbers.Real):
        x = float(value)
        if math.isfinite(x):
            return x
        raise ValueError(f"{method}: values must be finite, got {value!r}")
    raise ValueError(f"{method}: values must be real numbers, got {value!r}")


def encode_float(x: float) -> float | str:
    """A float as strict JSON: itself when finite (repr round-trips it exactly), else a
    string."""
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def open_state(
    state: object, kind: str, version: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(whole state, its params, its stats) after checking ``kind`` and ``version``."""
    s = mapping("state", state)
    if s.get("kind") != kind:
        raise ValueError(f"state key 'kind' must be {kind!r}, got {s.get('kind')!r}")
    if s.get("version") != version:
        raise ValueError(
            f"{kind} state version {s.get('version')!r} is not supported (this code reads "
            f"version {version})"
        )
    return s, mapping("params", s.get("params")), mapping("stats", s.get("stats"))


def mapping(key: str, value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"state key {key!r} must be an object, got {value!r}")
    return dict(value)


def field(state: Mapping[str, Any], key: str, kind: type[_T]) -> _T:
    if key not in state:
        raise ValueError(f"state has no key {key!r}")
    value = state[key]
    # bool is an int in Python, not in the state's schema.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        name = _TYPE_NAMES.get(kind, kind.__name__)
        raise ValueError(f"state key {key!r} must be {name}, got {value!r}")
    return value


def count(state: Mapping[str, Any], key: str) -> int:
    value = field(state, key, int)
    if value < 0:
        raise ValueError(f"state key {key!r} must be >= 0, got {value!r}")
    return value


def real(state: Mapping[str, Any], key: str) -> float:
    """A float field; a JSON integer is read exactly (a float printed without a fraction
    may come back as one, e.g. from jsonb)."""
    if key not in state:
        raise ValueError(f"state has no key {key!r}")
    return decode_float(key, state[key])


def decode_float(key: str, value: object) -> float:
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"state key {key!r} must be a number, 'inf', '-inf' or 'nan', got {value!r}")
