"""Rule conditions: clauses joined by and/or (and binds tighter), no eval."""

from __future__ import annotations

import math

import pytest

from monitor.alerting.condition import Condition

FIELDS = {"value": 0.4, "drop": 0.06, "label_coverage": 0.1, "p_value": None, "n": 500.0}


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("value >= 0.3", True),
        ("value > 0.4", False),
        ("value >= 0.4", True),
        ("0.3 <= value", True),
        ("value == 0.4", True),
        ("value != 0.4", False),
        ("drop > 0.05 and label_coverage >= 0.2", False),
        ("drop > 0.05 and label_coverage >= 0.05", True),
        ("drop > 0.05 or label_coverage >= 0.2", True),
        # "and" binds tighter: false or (true and true)
        ("value > 1 or drop > 0.05 and n >= 100", True),
        # (true and false) or false
        ("value > 0 and drop > 1 or n < 100", False),
        ("value > drop", True),
        ("n >= 1e2 and value < .5", True),
        ("value > -1", True),
        # a missing or None operand makes its clause false, whatever the operator
        ("p_value < 0.05", False),
        ("p_value >= 0.05", False),
        ("p_value != 1", False),
        ("missing_share > 0.1", False),
        ("missing_share > 0.1 or value > 0.3", True),
    ],
)
def test_holds(text: str, holds: bool) -> None:
    assert Condition.parse(text).holds(FIELDS) is holds


def test_nan_is_missing() -> None:
    assert not Condition.parse("value != 1").holds({"value": math.nan})


def test_names_and_text() -> None:
    cond = Condition.parse("drop>0.05  and label_coverage>=0.2 or value >= 1e-3")
    assert cond.names == {"drop", "label_coverage", "value"}
    assert str(cond) == "drop > 0.05 and label_coverage >= 0.2 or value >= 0.001"
    assert cond.text == "drop>0.05  and label_coverage>=0.2 or value >= 1e-3"
    assert Condition.parse(str(cond)) == Condition.parse(str(cond))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("value >> 3", "expected a clause"),
        ("value => 3", "unexpected '='"),
        ("value", "incomplete clause"),
        ("value > 1 and", "incomplete clause"),
        ("", "empty condition"),
        ("1 > 0", "compares two numbers"),
        ("value > 1 xor drop > 2", "expected 'and' or 'or'"),
        ("value > 1 drop > 2", "expected 'and' or 'or'"),
        ("Value > 1", "lower case"),
        ("value > 'x'", "unexpected"),
        ("(value > 1)", "unexpected"),
        ("value > nan", "neither a number nor a field name"),
        ("and > 1", "where an operand was expected"),
        ("__import__('os').system('true') > 1", "unexpected"),
        ("value > 1e999", "not a finite number"),
    ],
)
def test_errors_name_the_text(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        Condition.parse(text)
    assert repr(text) in str(err.value)
