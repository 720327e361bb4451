"""Registry of stat tests by name.

A stat test is a callable ``(reference, current) -> StatResult`` registered with its
metadata: the column kinds it supports and the default minimum effect size that
``detect_drift`` requires before it calls a column drifted. Callables receive 1-d arrays
already converted for their kind (float64 for numerical, object for categorical) and must
not modify them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt

from detectors.types import KINDS, StatResult

StatTestFn = Callable[[npt.NDArray[Any], npt.NDArray[Any]], StatResult]


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
    default_min_effect: float
    fn: StatTestFn

    def __call__(self, reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> StatResult:
        return self.fn(reference, current)

    def supports(self, kind: str) -> bool:
        return kind in self.kinds


_REGISTRY: dict[str, StatTest] = {}


def register(
    name: str, *, kinds: Iterable[str], default_min_effect: float
) -> Callable[[StatTestFn], StatTestFn]:
    """Decorator registering a stat test under ``name``; returns the function unchanged.

    Registering a name twice is a ValueError, so two modules cannot silently shadow each
    other.
    """
    kind_set = frozenset(kinds)
    if not kind_set or not kind_set <= KINDS:
        raise ValueError(f"stat test {name!r}: kinds must be a non-empty subset of {sorted(KINDS)}")

    def decorate(fn: StatTestFn) -> StatTestFn:
        if name in _REGISTRY:
            raise ValueError(f"stat test {name!r} is already registered")
        _REGISTRY[name] = StatTest(name, kind_set, float(default_min_effect), fn)
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
