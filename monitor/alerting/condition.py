"""Rule conditions: ``drop > 0.05 and label_coverage >= 0.2``.

Grammar (no parentheses, no arithmetic, never ``eval``)::

    condition := conjunction ("or" conjunction)*
    conjunction := clause ("and" clause)*            # "and" binds tighter than "or"
    clause := operand OP operand                     # OP: > >= < <= == !=
    operand := number | name                         # name: [a-z_][a-z0-9_]*

A name is a sample field (``value``, ``p_value``, ``drop``...; see
``monitor.alerting.sample``) or a run-level metric of the same run (``drift_share``,
``label_coverage``...). A clause with a missing, ``None`` or NaN operand is false: a
sample that lacks a number never breaches because of it.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Operand = float | str  # a number, or a field name

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
KEYWORDS = frozenset({"and", "or"})
# Names that read like constants but would be looked up as (always missing) fields.
NOT_NAMES = frozenset({"nan", "inf", "infinity", "true", "false", "none", "null"})

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>>=|<=|==|!=|>|<)"
    r")"
)
NAME = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class Clause:
    left: Operand
    op: str
    right: Operand

    def holds(self, fields: Mapping[str, float | None]) -> bool:
        left, right = _value(self.left, fields), _value(self.right, fields)
        if left is None or right is None:
            return False
        return OPERATORS[self.op](left, right)

    def __str__(self) -> str:
        return f"{_text(self.left)} {self.op} {_text(self.right)}"


def _value(operand: Operand, fields: Mapping[str, float | None]) -> float | None:
    if isinstance(operand, float):
        return operand
    value = fields.get(operand)
    if value is None or math.isnan(value):
        return None
    return float(value)


def _text(operand: Operand) -> str:
    return operand if isinstance(operand, str) else repr(operand)


@dataclass(frozen=True)
class Condition:
    """A parsed condition: ``any_of`` conjunctions, each ``all`` of its clauses."""

    text: str
    any_of: tuple[tuple[Clause, ...], ...]

    @classmethod
    def parse(cls, text: str) -> Condition:
        tokens = _tokenize(text)
        conjunctions: list[tuple[Clause, ...]] = []
        clauses: list[Clause] = []
        pos = 0
        while True:
            if pos + 3 > len(tokens):
                raise ValueError(f"{text!r}: incomplete clause (expected: operand OP operand)")
            (lk, left), (ok, op), (rk, right) = tokens[pos : pos + 3]
            if lk not in ("number", "name") or ok != "op" or rk not in ("number", "name"):
                raise ValueError(
                    f"{text!r}: expected a clause like 'value >= 0.3', found '{left} {op} {right}'"
                )
            if lk == rk == "number":
                raise ValueError(f"{text!r}: {left} {op} {right} compares two numbers")
            clauses.append(Clause(_operand(lk, left, text), op, _operand(rk, right, text)))
            pos += 3
            if pos == len(tokens):
                conjunctions.append(tuple(clauses))
                return cls(text, tuple(conjunctions))
            kind, word = tokens[pos]
            if kind != "name" or word not in KEYWORDS:
                raise ValueError(f"{text!r}: expected 'and' or 'or' before {word!r}")
            if word == "or":
                conjunctions.append(tuple(clauses))
                clauses = []
            pos += 1

    @property
    def names(self) -> set[str]:
        """The field names the condition reads."""
        return {
            operand
            for clauses in self.any_of
            for clause in clauses
            for operand in (clause.left, clause.right)
            if isinstance(operand, str)
        }

    def holds(self, fields: Mapping[str, float | None]) -> bool:
        return any(all(c.holds(fields) for c in clauses) for clauses in self.any_of)

    def __str__(self) -> str:
        return " or ".join(" and ".join(str(c) for c in clauses) for clauses in self.any_of)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].isspace():
            break
        match = _TOKEN.match(text, pos)
        if not match or match.lastgroup is None:
            rest = text[pos:].strip()
            raise ValueError(f"{text!r}: unexpected {rest[:1]!r} in {rest!r}")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    if not tokens:
        raise ValueError(f"{text!r}: empty condition")
    return tokens


def _operand(kind: str, token: str, text: str) -> Operand:
    if kind == "number":
        number = float(token)
        if not math.isfinite(number):
            raise ValueError(f"{text!r}: {token} is not a finite number")
        return number
    if token in KEYWORDS:
        raise ValueError(f"{text!r}: {token!r} where an operand was expected")
    if token.lower() in NOT_NAMES:
        raise ValueError(f"{text!r}: {token!r} is neither a number nor a field name")
    if not NAME.fullmatch(token):
        raise ValueError(f"{text!r}: {token!r}: field names are lower case ([a-z_][a-z0-9_]*)")
    return token
