"""Where each feature of a model version lives in the stored feature arrays."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from operator import itemgetter
from typing import Any, Self

Picker = Callable[[Mapping[str, Any]], tuple[Any, ...]]


def _picker(names: tuple[str, ...]) -> Picker:
    """The values of ``names`` in a mapping, as a tuple in that order (KeyError if one is
    absent). ``itemgetter`` does the lookups in C; it returns a bare value for one name."""
    if len(names) > 1:
        return itemgetter(*names)
    return lambda mapping: tuple(mapping[name] for name in names)


@dataclass(frozen=True)
class Layout:
    """Where each feature of a model version lives in the stored arrays."""

    numerical: tuple[str, ...]
    categorical: tuple[str, ...]
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    categories: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_schema(cls, schema: list[dict[str, Any]]) -> Self:
        return cls(
            numerical=tuple(f["name"] for f in schema if f["kind"] == "numerical"),
            categorical=tuple(f["name"] for f in schema if f["kind"] == "categorical"),
            ranges={
                f["name"]: (float(f["range"][0]), float(f["range"][1]))
                for f in schema
                if f.get("range")
            },
            categories={
                f["name"]: frozenset(map(str, f["categories"]))
                for f in schema
                if f.get("categories")
            },
        )

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Every feature, numerical then categorical (the order of positional inputs)."""
        return self.numerical + self.categorical

    @cached_property
    def kinds(self) -> dict[str, str]:
        out = dict.fromkeys(self.numerical, "numerical")
        out.update(dict.fromkeys(self.categorical, "categorical"))
        return out

    @cached_property
    def unconstrained(self) -> bool:
        """No ranges or category lists to check: the schema contract's fast paths apply."""
        return not self.ranges and not self.categories

    @cached_property
    def pick_numerical(self) -> Picker:
        return _picker(self.numerical)

    @cached_property
    def pick_categorical(self) -> Picker:
        return _picker(self.categorical)

    def kind(self, name: str) -> str | None:
        return self.kinds.get(name)
