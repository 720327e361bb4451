"""Alertmanager label matchers: ``name="value"``, ``!=``, ``=~`` and ``!~``.

Semantics follow Alertmanager (and Prometheus label selectors):

- a regex is fully anchored: ``model=~"churn"`` matches ``churn`` only, not ``churn-v2``;
- a missing label equals the empty string: ``segment=""`` selects samples without a
  segment, and ``segment!="eu"`` selects samples without one as well.

Accepted forms: one matcher (``model="churn"``), a comma-separated list, optionally in
braces (``{model="churn", signal=~"data_drift|skew"}``), values quoted with ``"`` (``\\"``,
``\\\\`` and ``\\n`` escapes) or unquoted (``model=churn``, no spaces, commas or braces).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

Op = Literal["=", "!=", "=~", "!~"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OP = re.compile(r"=~|!~|!=|=")
_UNQUOTED = re.compile(r"[^\s,{}\"=!~]*")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}


@dataclass(frozen=True)
class Matcher:
    name: str
    op: Op
    value: str
    # The compiled anchored pattern of a regex matcher (not part of equality).
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"{self.name!r} is not a label name")
        if self.op in ("=~", "!~"):
            try:
                pattern = re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"{self.value!r} is not a regular expression: {exc}") from None
            object.__setattr__(self, "_pattern", pattern)

    def matches(self, value: str) -> bool:
        """Whether a label's value (``""`` when the label is missing) satisfies this."""
        if self._pattern is not None:
            return (self._pattern.fullmatch(value) is not None) == (self.op == "=~")
        return (value == self.value) == (self.op == "=")

    @cached_property
    def text(self) -> str:
        """Canonical text, parseable again: ``name="value"``."""
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'

    def __str__(self) -> str:
        return self.text


class _Scanner:
    """A cursor over matcher text; errors name the whole text and the position."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> ValueError:
        return ValueError(f"{self.text!r}: {what} at position {self.pos}")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self, pattern: re.Pattern[str], what: str) -> str:
        match = pattern.match(self.text, self.pos)
        if not match or (not match.group(0) and what != "a value"):
            raise self.fail(f"expected {what}")
        self.pos = match.end()
        return match.group(0)

    def quoted(self) -> str:
        self.pos += 1  # the opening quote
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\":
                escaped = self.text[self.pos : self.pos + 1]
                if escaped not in _ESCAPES:
                    raise self.fail(f"unknown escape \\{escaped}")
                out.append(_ESCAPES[escaped])
                self.pos += 1
            else:
                out.append(char)
        raise self.fail("unterminated quoted value")

    def matcher(self) -> Matcher:
        self.skip_space()
        name = self.take(_NAME, "a label name")
        self.skip_space()
        op = self.take(_OP, "one of = != =~ !~")
        self.skip_space()
        value = self.quoted() if self.peek() == '"' else self.take(_UNQUOTED, "a value")
        try:
            return Matcher(name, op, value)  # type: ignore[arg-type]  # _OP only yields Op
        except ValueError as exc:
            raise ValueError(f"{self.text!r}: {exc}") from None


def parse_matcher(text: str) -> Matcher:
    """Exactly one matcher: ``parse_matcher('model="churn"')``."""
    scanner = _Scanner(text)
    matcher = scanner.matcher()
    scanner.skip_space()
    if scanner.pos != len(text):
        raise scanner.fail("unexpected text after the matcher")
    return matcher


def _parse_set(text: str) -> list[Matcher]:
    scanner = _Scanner(text)
    scanner.skip_space()
    braced = scanner.peek() == "{"
    if braced:
        scanner.pos += 1
        scanner.skip_space()
    out: list[Matcher] = []
    while scanner.pos < len(text) and scanner.peek() != "}":
        out.append(scanner.matcher())
        scanner.skip_space()
        if scanner.peek() != ",":
            break
        scanner.pos += 1
        scanner.skip_space()
    if braced:
        if scanner.peek() != "}":
            raise scanner.fail("expected , or }")
        scanner.pos += 1
        scanner.skip_space()
    if scanner.pos != len(text):
        raise scanner.fail("unexpected text")
    if not out and not braced:
        raise ValueError(f"{text!r}: no matcher (write {{}} for none)")
    return out


def parse_matchers(matchers: Iterable[str] | str) -> list[Matcher]:
    """A list of matcher strings, or one string with one or more (``{a="x", b=~"y.*"}``)."""
    texts = [matchers] if isinstance(matchers, str) else list(matchers)
    return [m for text in texts for m in _parse_set(text)]


def matches(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """All matchers hold on ``labels`` (missing labels read as ``""``)."""
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


def format_matchers(matchers: Iterable[Matcher]) -> str:
    """``{a="x",b=~"y.*"}``, the form Alertmanager prints in route and group keys."""
    return "{" + ",".join(m.text for m in matchers) + "}"
