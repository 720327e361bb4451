"""Registry of stat tests by name.

A stat test is a function ``(reference, current) -> StatResult`` registered with its
metadata: the column kinds it supports, how its result is decided (``decision``), its
default threshold, and the minimum effect size the default policy requires before it
calls a column drifted. docs/detectors.md has them all in one table.

- ``decision="p_value"``: a hypothesis test; drift when ``p_value < threshold``
  (default 0.05), and, in the default policy, ``effect_size >= min_effect``.
- ``decision="distance"``: a distance without a null distribution (``p_value`` None);
  drift when ``statistic >= threshold``. Its effect size is the statistic, and its
  default minimum effect is its threshold.

Calling a registered :class:`StatTest` converts the inputs for their kind first
(:mod:`detectors.columns`): float64 with NaN for missing (numerical) or an object array
(categorical); the kind is inferred when not given. A test function receives arrays so
converted, so a test of both kinds can tell which it got from ``reference.dtype``, and
must not modify them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy.typing as npt

from detectors.columns import convert, infer_kind
from detectors.types import KINDS, ColumnData, Kind, StatResult

StatTestFn = Callable[[npt.NDArray[Any], npt.NDArray[Any]], StatResult]
Decision = Literal["p_value", "distance"]
DECISIONS: frozenset[str] = frozenset({"p_value", "distance"})


class UnknownStatTestError(KeyError, ValueError):
    """An unknown stat test name; the message names it and lists the known ones.

    A KeyError because it is a failed lookup, a ValueError because it is bad input.
    """

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = tuple(known)
        super().__init__(name)

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message; a readable sentence is the point here.
        return f"unknown stat test {self.name!r}; known: {', '.join(self.known)}"


@dataclass(frozen=True, slots=True)
class StatTest:
    """A registered stat test: call it like the function it wraps."""

    name: str
    kinds: frozenset[str]
    decision: Decision
    default_threshold: float
    default_min_effect: float
    fn: StatTestFn

    def __call__(
        self, reference: ColumnData, current: ColumnData, *, kind: Kind | None = None
    ) -> StatResult:
        """Run the test on two 1-d samples of one column (``kind`` inferred if None)."""
        if kind is None:
            kind = infer_kind(self.name, reference, current, supported=self.kinds)
        elif not self.supports(kind):
            raise ValueError(
                f"stat test {self.name!r} does not support kind {kind!r} "
                f"(it supports {', '.join(sorted(self.kinds))})"
            )
        return self.fn(convert(self.name, kind, reference), convert(self.name, kind, current))

    def supports(self, kind: str) -> bool:
        return kind in self.kinds

    def drifted(self, result: StatResult, threshold: float | None = None) -> bool:
        """The test's own verdict at ``threshold`` (None: its default), effect aside."""
        t = self.default_threshold if threshold is None else threshold
        if self.decision == "distance":
            return result.statistic >= t
        return result.p_value is not None and result.p_value < t


_REGISTRY: dict[str, StatTest] = {}


def register(
    name: str,
    *,
    kinds: Iterable[str],
    decision: Decision = "p_value",
    threshold: float | None = None,
    default_min_effect: float | None = None,
) -> Callable[[StatTestFn], StatTestFn]:
    """Decorator registering a stat test under ``name``; returns the function unchanged.

    ``threshold`` defaults to 0.05 for p-value tests and must be given for distances;
    ``default_min_effect`` must be given for p-value tests and defaults to the threshold
    for distances. Registering a name twice is a ValueError, so two modules cannot
    silently shadow each other.
    """
    kind_set = frozenset(kinds)
    if not kind_set or not kind_set <= KINDS:
        raise ValueError(f"stat test {name!r}: kinds must be a non-empty subset of {sorted(KINDS)}")
    if decision not in DECISIONS:
        raise ValueError(f"stat test {name!r}: decision must be one of {sorted(DECISIONS)}")
    if decision == "distance":
        if threshold is None:
            raise ValueError(f"stat test {name!r}: a distance needs a threshold")
        min_effect = threshold if default_min_effect is None else default_min_effect
    else:
        threshold = 0.05 if threshold is None else threshold
        if default_min_effect is None:
            raise ValueError(f"stat test {name!r}: a p-value test needs default_min_effect")
        min_effect = default_min_effect

    def decorate(fn: StatTestFn) -> StatTestFn:
        if name in _REGISTRY:
            raise ValueError(f"stat test {name!r} is already registered")
        _REGISTRY[name] = StatTest(
            name, kind_set, decision, float(threshold), float(min_effect), fn
        )
        return fn

    return decorate


def available() -> list[str]:
    """Registered stat test names, sorted."""
    return sorted(_REGISTRY)


def stattest(name: str) -> StatTest:
    """The stat test registered as ``name``; UnknownStatTestError otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownStatTestError(name, available()) from None
