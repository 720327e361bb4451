"""Alertmanager matchers: forms, anchored regexes, missing labels read as ""."""

from __future__ import annotations

import pytest

from monitor.alerting.matchers import (
    Matcher,
    format_matchers,
    matches,
    parse_matcher,
    parse_matchers,
)

LABELS = {"model": "churn", "version": "v2", "signal": "data_drift", "feature": "age"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('model="churn"', Matcher("model", "=", "churn")),
        ("model=churn", Matcher("model", "=", "churn")),
        ('  model != "churn" ', Matcher("model", "!=", "churn")),
        ('signal=~"data_drift|skew"', Matcher("signal", "=~", "data_drift|skew")),
        ('signal!~"skew.*"', Matcher("signal", "!~", "skew.*")),
        ('segment=""', Matcher("segment", "=", "")),
        (r'note="say \"hi\"\\n"', Matcher("note", "=", 'say "hi"\\n')),
        (r'note="a\nb"', Matcher("note", "=", "a\nb")),
        ('x="a,b}{"', Matcher("x", "=", "a,b}{")),
    ],
)
def test_parse_matcher(text: str, expected: Matcher) -> None:
    assert parse_matcher(text) == expected
    assert parse_matcher(str(expected)) == expected  # the canonical text parses back


def test_parse_matchers_forms() -> None:
    braces = parse_matchers('{model="churn", signal=~"data_drift|skew"}')
    listed = parse_matchers(['model="churn"', 'signal=~"data_drift|skew"'])
    commas = parse_matchers('model="churn",signal=~"data_drift|skew"')
    assert braces == listed == commas
    assert parse_matchers("{}") == []
    assert parse_matchers([]) == []
    assert format_matchers(braces) == '{model="churn",signal=~"data_drift|skew"}'


@pytest.mark.parametrize(
    ("text", "selected"),
    [
        ('model="churn"', True),
        ('model="chur"', False),
        ('model!="churn"', False),
        ('model=~"chu"', False),  # anchored: the whole value must match
        ('model=~"chu.*"', True),
        ('model=~"CHURN"', False),
        ('model!~"chu"', True),
        ('segment=""', True),  # a missing label equals ""
        ('segment!="eu"', True),
        ('segment=~".*"', True),
        ('segment=~".+"', False),
        ('segment!=""', False),
        ('{model="churn", feature=~"age|income"}', True),
        ('{model="churn", feature="income"}', False),
    ],
)
def test_matches(text: str, selected: bool) -> None:
    assert matches(parse_matchers(text), LABELS) is selected


def test_no_matchers_select_everything() -> None:
    assert matches([], LABELS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model", "expected one of = != =~ !~"),
        ('model="churn', "unterminated quoted value"),
        ('model=~"("', "not a regular expression"),
        ('1model="x"', "expected a label name"),
        ('a="x" b="y"', "unexpected text"),
        ('{a="x"', "expected , or }"),
        (r'a="\t"', "unknown escape"),
        ("", "no matcher"),
        ('a=="x"', "unexpected text"),
    ],
)
def test_errors_name_the_text(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        parse_matchers(text)
    assert repr(text) in str(err.value)


def test_parse_matcher_takes_exactly_one() -> None:
    with pytest.raises(ValueError, match="unexpected text after the matcher"):
        parse_matcher('a="x", b="y"')
