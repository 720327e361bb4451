"""detectors.quality: every count and rate against an independent computation (a plain
Python loop over the values following the documented rules, and pandas), a hand-built
case for every check and verdict, the JSON round trip, and bad input."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.quality import (
    CHECKS,
    ColumnQuality,
    QualityProfile,
    QualityThresholds,
    data_quality,
)

# --- an independent oracle: one Python loop per column, straight from the documented rules


def _class(x: object) -> str:
    if x is None:
        return "none"
    if isinstance(x, bool | np.bool_):
        return "boolean"
    if isinstance(x, int | np.integer):
        return "integer"
    if isinstance(x, float | np.floating):
        return "float"
    if isinstance(x, str):
        return "string"
    return "other"


def _is_missing(x: object) -> bool:
    return x is None or bool(x != x)


def _to_float(x: Any) -> float:
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def oracle(values: Sequence[Any], kind: str, *, accepted: set[str] | None = None) -> dict[str, Any]:
    """Counts of one column by the module docstring's rules, value by value."""
    out: dict[str, Any] = Counter()
    finite: list[float] = []
    infs: list[float] = []
    labels: list[str] = []
    classes = set()
    for x in values:
        c = _class(x)
        if _is_missing(x):
            out["missing"] += 1
            out["nan"] += x is not None
            continue
        classes.add(c)
        if kind == "numerical":
            if c in ("integer", "float"):
                f = _to_float(x)
                (finite if math.isfinite(f) else infs).append(f)
            else:
                out["type_errors"] += 1
        elif c in (accepted or {"string", "integer", "float", "boolean"}):
            labels.append(str(x))
        else:
            out["type_errors"] += 1
    out["n"] = len(values)
    out["inf"] = len(infs)
    out["finite"] = finite
    out["labels"] = labels
    out["classes"] = classes
    present = finite + infs if kind == "numerical" else labels
    out["constant"] = len(present) >= 2 and len(set(present)) == 1
    return out


def _rate(count: int, total: int) -> float | None:
    return None if total == 0 else count / total


def check_against_oracle(
    ref: Sequence[Any], cur: Sequence[Any], kind: str, schema: tuple[Any, Any] | None = None
) -> ColumnQuality:
    ranges = None if schema is None else {"x": schema}
    profile = QualityProfile.from_reference({"x": ref}, kinds={"x": kind}, ranges=ranges)
    col = data_quality(profile, {"x": cur}).by_column("x")
    r = oracle(ref, kind)
    accepted = (r["classes"] & {"string", "integer", "float", "boolean"}) or None
    c = oracle(cur, kind, accepted=accepted)
    n = len(cur)
    assert col.n == n
    assert col.missing.count == c["missing"]
    assert col.missing.rate == _rate(c["missing"], n)
    assert col.missing.reference == _rate(r["missing"], len(ref))
    assert col.nan.count == c["nan"]
    assert col.type_errors.count == c["type_errors"]
    assert col.type_errors.reference == _rate(r["type_errors"], len(ref))
    assert col.constant == c["constant"]
    assert col.constant_reference == r["constant"]
    if kind == "numerical":
        assert col.inf is not None
        assert col.out_of_range is not None
        assert col.inf.count == c["inf"]
        if schema is None:
            lo, hi = (min(r["finite"]), max(r["finite"])) if r["finite"] else (None, None)
        else:
            lo, hi = schema
        outside = [
            f for f in c["finite"] if (lo is not None and f < lo) or (hi is not None and f > hi)
        ]
        assert (col.range_min, col.range_max) == (lo, hi)
        assert col.out_of_range.count == len(outside)
        assert col.out_of_range.total == len(c["finite"])
        assert col.unseen is None
    else:
        assert col.inf is None
        assert col.out_of_range is None
        assert col.unseen is not None
        known = set(r["labels"])
        unseen = [label for label in c["labels"] if label not in known]
        assert col.unseen.count == len(unseen)
        assert col.unseen.total == len(c["labels"])
        assert set(col.unseen_examples) <= set(unseen)
    return col


# --- independent computations on realistic data ----------------------------------------


def test_numerical_rates_match_pandas() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=20_000)
    ref[rng.random(ref.size) < 0.03] = np.nan
    cur = rng.normal(1.5, 1.2, size=10_000)  # about 2% above the reference max
    cur[rng.random(cur.size) < 0.1] = np.nan
    cur[rng.random(cur.size) < 0.01] = np.inf
    cur[:3] = -np.inf
    profile = QualityProfile.from_reference({"x": ref})
    col = data_quality(profile, {"x": cur}).by_column("x")

    r, c = pd.Series(ref), pd.Series(cur)
    assert col.missing.rate == pytest.approx(c.isna().mean(), abs=1e-15)
    assert col.missing.reference == pytest.approx(r.isna().mean(), abs=1e-15)
    assert col.missing.change == pytest.approx(c.isna().mean() - r.isna().mean(), abs=1e-15)
    assert col.nan.count == int(c.isna().sum())  # float column: every missing value is a NaN
    assert col.inf is not None
    assert col.inf.count == int(np.isinf(c).sum())
    lo, hi = r.min(), r.max()  # pandas skips NaN
    assert (col.range_min, col.range_max) == (lo, hi)
    fin = c[np.isfinite(c)]
    assert col.out_of_range is not None
    assert col.out_of_range.rate == pytest.approx(((fin < lo) | (fin > hi)).mean(), abs=1e-15)
    assert col.type_errors.count == 0
    assert col.issues == ("missing_rate", "inf_rate", "out_of_range")


def test_categorical_rates_match_pandas() -> None:
    rng = np.random.default_rng(2)
    levels = np.array([f"v{i}" for i in range(40)], dtype=object)
    ref = levels[rng.integers(0, 30, 5000)]
    ref[rng.random(ref.size) < 0.05] = None
    cur = levels[rng.integers(0, 40, 4000)]  # v30..v39 are new
    cur[rng.random(cur.size) < 0.2] = None
    cur[:7] = 7  # an integer in a column of strings
    profile = QualityProfile.from_reference({"c": ref})
    col = data_quality(profile, {"c": cur}).by_column("c")

    r, c = pd.Series(ref), pd.Series(cur)
    assert col.missing.rate == pytest.approx(c.isna().mean(), abs=1e-15)
    assert col.missing.reference == pytest.approx(r.isna().mean(), abs=1e-15)
    assert col.type_errors.count == 7
    valid = c[c.notna() & c.map(lambda x: isinstance(x, str))]
    seen = set(r.dropna())
    assert col.unseen is not None
    assert col.unseen.rate == pytest.approx((~valid.isin(seen)).mean(), abs=1e-15)
    counts = valid[~valid.isin(seen)].value_counts()
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert col.unseen_examples == tuple(k for k, _ in top)
    assert col.issues == ("missing_rate", "type_errors", "unseen_categories")


MIXED = [
    1.0,
    None,
    2,
    "x",
    True,
    np.nan,
    np.inf,
    -np.inf,
    np.int64(3),
    np.float32(2.5),
    [1],
    10**400,
]


@pytest.mark.parametrize("kind", ["numerical", "categorical"])
def test_mixed_python_values_against_the_loop(kind: str) -> None:
    ref = MIXED * 3
    cur = [*MIXED[::-1], "y", False, 5, None]
    check_against_oracle(ref, cur, kind)


# --- hand-built cases: the type rule ----------------------------------------------------


def test_numerical_type_errors_are_strings_bools_and_other_objects() -> None:
    profile = QualityProfile.from_reference({"x": [1.0, 2.0, 3.0]})
    cur = [1.0, "1.5", True, np.bool_(False), {"a": 1}, None, 4, np.int8(2), np.float16(1)]
    col = data_quality(profile, {"x": cur}).by_column("x")
    assert (col.type_errors.count, col.missing.count) == (4, 1)
    # Arrays of strings or bools are all type errors too; numpy's numbers are not.
    assert data_quality(profile, {"x": np.array(["1", "2"])}).columns[0].type_errors.count == 2
    assert data_quality(profile, {"x": np.array([True, False])}).columns[0].type_errors.count == 2
    assert data_quality(profile, {"x": np.arange(5)}).columns[0].type_errors.count == 0


def test_a_sequence_keeps_its_types() -> None:
    # np.asarray([1.0, True]) would be [1.0, 1.0]: the bool would vanish.
    profile = QualityProfile.from_reference({"x": [1.0, 2.0]})
    assert data_quality(profile, {"x": [1.0, True]}).columns[0].type_errors.count == 1


def test_categorical_type_errors_follow_the_reference_types() -> None:
    strings = QualityProfile.from_reference({"c": ["a", "b", None]})
    assert strings.by_column("c").value_types == ("string",)
    col = data_quality(strings, {"c": ["a", 3, 2.5, True, np.str_("b"), ("t",)]}).columns[0]
    assert col.type_errors.count == 4
    integers = QualityProfile.from_reference({"c": [1, 2, 3]}, kinds={"c": "categorical"})
    assert integers.by_column("c").value_types == ("integer",)
    col = data_quality(integers, {"c": [1, "1", np.int64(2), 2.0]}).columns[0]
    assert col.type_errors.count == 2
    mixed = QualityProfile.from_reference({"c": ["a", 1]})
    col = data_quality(mixed, {"c": ["1", 1, "a"]}).columns[0]
    assert col.type_errors.count == 0
    assert col.unseen is not None
    assert col.unseen.count == 0  # 1 and "1" are one category, as in the stat tests


def test_reference_type_errors_are_counted_and_fail_absolutely() -> None:
    ref = [1.0, "oops", 2.0, 3.0]
    profile = QualityProfile.from_reference({"x": ref}, kinds={"x": "numerical"})
    assert profile.by_column("x").type_error_rate == 0.25
    col = data_quality(profile, {"x": ref}).columns[0]
    assert col.type_errors.change == 0.0
    assert col.issues == ("type_errors",)  # any type error, whatever the reference had
    # Lists are never categories, even in the reference.
    cat = QualityProfile.from_reference({"c": ["a", ["b"]]}).by_column("c")
    assert (cat.type_error_count, cat.value_types) == (1, ("string",))


def test_an_all_missing_reference_accepts_every_category_type() -> None:
    profile = QualityProfile.from_reference({"c": [None, None]}, kinds={"c": "categorical"})
    assert set(profile.by_column("c").value_types) == {"string", "integer", "float", "boolean"}
    col = data_quality(profile, {"c": ["a", 1, 2.5, True, {}]}).columns[0]
    assert col.type_errors.count == 1
    assert col.unseen is not None
    assert col.unseen.count == 4
    assert col.unseen.reference is None  # nothing was checked in the reference


def test_huge_integers_are_infinite_and_nan_in_objects_is_missing() -> None:
    profile = QualityProfile.from_reference({"x": [0.0, 1.0]})
    col = data_quality(profile, {"x": [10**400, -(10**400), float("nan"), None, 0.5]}).columns[0]
    assert col.inf is not None
    assert (col.inf.count, col.missing.count, col.nan.count) == (2, 2, 1)


# --- hand-built cases: each check and its verdict -------------------------------------


def _numbers(n_missing: int, n_inf: int = 0, *, n: int = 100) -> np.ndarray:
    x = np.linspace(0.0, 10.0, n)
    x[:n_missing] = np.nan
    x[n_missing : n_missing + n_inf] = np.inf
    return x


def _issues(ref: Any, cur: Any, **kw: Any) -> tuple[str, ...]:
    thresholds = kw.pop("thresholds", None)
    profile = QualityProfile.from_reference({"x": ref}, **kw)
    return data_quality(profile, {"x": cur}, thresholds=thresholds).columns[0].issues


@pytest.mark.parametrize(
    ("ref_missing", "cur_missing", "fails"),
    [(10, 15, False), (10, 16, True), (10, 4, True), (10, 5, False), (35, 40, False), (0, 6, True)],
)
def test_missing_rate_check_is_a_change_of_more_than_5_points_either_way(
    ref_missing: int, cur_missing: int, fails: bool
) -> None:
    # 0.40 - 0.35 is 0.05000000000000004 in floats: still a change of 5 points, no issue.
    issues = _issues(_numbers(ref_missing), _numbers(cur_missing))
    assert ("missing_rate" in issues) == fails


@pytest.mark.parametrize(("cur_inf", "fails"), [(0, False), (1, False), (2, True)])
def test_inf_rate_check(cur_inf: int, fails: bool) -> None:
    assert ("inf_rate" in _issues(_numbers(0), _numbers(0, cur_inf))) == fails


def test_type_error_check_fails_on_any_by_default() -> None:
    ref = np.arange(100.0)
    cur: list[object] = [*range(99), "x"]
    assert _issues(ref, cur) == ("type_errors",)
    assert _issues(ref, list(range(100))) == ()
    assert _issues(ref, cur, thresholds=QualityThresholds(type_error_rate=0.01)) == ()


@pytest.mark.parametrize(("outside", "fails"), [(0, False), (1, False), (2, True)])
def test_out_of_range_check_against_the_baseline_range(outside: int, fails: bool) -> None:
    cur = _numbers(0)
    cur[:outside] = -0.5
    cur[-1] = 10.0  # on the bound: inside
    assert ("out_of_range" in _issues(_numbers(0), cur)) == fails


def test_out_of_range_rate_is_over_the_finite_values() -> None:
    cur = _numbers(50, 10)  # 40 finite values
    cur[-1] = 11.0
    col = data_quality(QualityProfile.from_reference({"x": _numbers(0)}), {"x": cur}).columns[0]
    assert col.out_of_range is not None
    assert (col.out_of_range.count, col.out_of_range.total) == (1, 40)
    assert col.out_of_range.rate == 1 / 40
    assert "out_of_range" in col.issues


def test_a_schema_range_replaces_the_baseline_range_one_bound_at_a_time() -> None:
    ref = np.array([-3.0, 0.0, 5.0, 20.0])
    profile = QualityProfile.from_reference({"x": ref}, ranges={"x": (0, None)})
    p = profile.by_column("x")
    assert (p.range_source, p.range_min, p.range_max) == ("schema", 0.0, None)
    assert (p.observed_min, p.observed_max) == (-3.0, 20.0)
    assert p.out_of_range_rate == 0.25  # the reference's own -3
    col = data_quality(profile, {"x": np.array([1e9, 0.0, -1e-9, 3.0])}).columns[0]
    assert col.range_source == "schema"
    assert col.out_of_range is not None
    assert (col.out_of_range.count, col.out_of_range.reference) == (1, 0.25)


def test_a_reference_without_finite_values_bounds_nothing() -> None:
    profile = QualityProfile.from_reference({"x": [None, np.nan]}, kinds={"x": "numerical"})
    col = data_quality(profile, {"x": [1e300, -1e300]}).columns[0]
    assert (col.range_min, col.range_max, col.range_source) == (None, None, "baseline")
    assert col.out_of_range is not None
    assert col.out_of_range.count == 0
    assert col.out_of_range.reference is None
    assert col.missing.change == -1.0


@pytest.mark.parametrize(("new", "fails"), [(0, False), (1, False), (2, True)])
def test_unseen_category_check(new: int, fails: bool) -> None:
    ref = np.array(["a", "b"] * 50, dtype=object)
    cur = ref.copy()
    cur[:new] = "zzz"
    assert ("unseen_categories" in _issues(ref, cur)) == fails


def test_a_high_cardinality_profile_keeps_no_categories() -> None:
    ref = [f"id{i}" for i in range(50)]
    open_profile = QualityProfile.from_reference({"c": ref}, max_categories=49)
    p = open_profile.by_column("c")
    assert (p.known, p.n_categories) == (None, 50)
    col = data_quality(open_profile, {"c": ["new"] * 10}).columns[0]
    assert col.unseen is None
    assert col.issues == ("constant",)
    closed = QualityProfile.from_reference({"c": ref}, max_categories=50)
    known = closed.by_column("c").known
    assert known is not None
    assert len(known) == 50


@pytest.mark.parametrize(
    ("ref", "cur", "constant", "fails"),
    [
        ([1.0, 2.0], [3.0, 3.0, None], True, True),
        ([1.0, 1.0], [3.0, 3.0], True, False),  # constant in the reference too
        ([1.0, 2.0], [3.0], False, False),  # one value is no evidence
        ([1.0, 2.0], [None, None], False, False),  # all missing: the missing check's job
        ([1.0, 2.0], [3.0, 3.0, np.inf], False, False),
        ([1.0, 2.0], [np.inf, np.inf], True, True),
        (["a", "b"], ["a", "a", None, 5], True, True),  # the type error is not a value
    ],
)
def test_constant_check(ref: list[Any], cur: list[Any], constant: bool, fails: bool) -> None:
    profile = QualityProfile.from_reference({"x": ref})
    col = data_quality(profile, {"x": cur}).columns[0]
    assert col.constant == constant
    assert ("constant" in col.issues) == fails
    off = data_quality(profile, {"x": cur}, thresholds=QualityThresholds(constant=False))
    assert "constant" not in off.columns[0].issues


def test_absent_and_unexpected_columns() -> None:
    profile = QualityProfile.from_reference({"x": [1.0, 2.0], "c": ["a", "b"]})
    result = data_quality(profile, {"c": ["a", "b", "a"], "new": [1, 2, 3]})
    x = result.by_column("x")
    assert not x.present
    assert (x.n, x.missing.count, x.missing.rate) == (3, 3, 1.0)
    assert x.issues == ("absent", "missing_rate")
    assert result.unexpected == ("new",)
    assert result.issues == {"x": ("absent", "missing_rate")}
    assert [c.column for c in result.columns] == ["x", "c"]
    with pytest.raises(KeyError, match="'new'"):
        result.by_column("new")


def test_an_empty_window_gives_none_rates_and_no_issue() -> None:
    profile = QualityProfile.from_reference({"x": [1.0, np.nan], "c": ["a", None]})
    result = data_quality(profile, {"x": np.array([]), "c": np.array([], dtype=object)})
    assert result.n == 0
    for col in result.columns:
        assert col.issues == ()
        assert (col.missing.count, col.missing.rate, col.missing.change) == (0, None, None)
        assert col.missing.reference == 0.5
        assert col.type_errors.rate is None
        assert not col.constant
    # No column at all: every profile column absent, with n = 0.
    none = data_quality(profile, {})
    assert [c.issues for c in none.columns] == [("absent",), ("absent",)]


def test_thresholds_are_applied_as_given() -> None:
    ref, cur = _numbers(0), _numbers(8)
    assert _issues(ref, cur) == ("missing_rate",)
    assert _issues(ref, cur, thresholds=QualityThresholds(missing_change=0.08)) == ()
    assert _issues(ref, cur, thresholds=QualityThresholds(missing_change=0.07)) == ("missing_rate",)
    profile = QualityProfile.from_reference({"x": ref})
    result = data_quality(profile, {"x": cur}, thresholds=QualityThresholds(missing_change=0.5))
    assert result.thresholds.missing_change == 0.5


def test_inputs_are_not_modified() -> None:
    ref = np.array([1.0, np.nan, 3.0])
    cur = np.array(["a", None, 2.0], dtype=object)
    ref_before, cur_before = ref.copy(), list(cur)
    profile = QualityProfile.from_reference({"x": ref})
    data_quality(profile, {"x": cur})
    np.testing.assert_array_equal(ref, ref_before)
    assert list(cur) == cur_before


# --- JSON round trip ------------------------------------------------------------------


def test_profile_round_trips_through_json_exactly() -> None:
    rng = np.random.default_rng(5)
    columns = {
        "x": np.r_[rng.normal(size=100), np.nan, np.inf, -0.0],
        "r": [1, 2, None, "bad", 7.25],
        "c": ["a", "b", None, float("nan"), 3],
        "wide": [f"id{i}" for i in range(30)],
        "empty": [None, None],
        "k": [True, False, True],
    }
    profile = QualityProfile.from_reference(
        columns,
        kinds={"r": "numerical", "empty": "categorical"},
        ranges={"r": (None, 5.5)},
        max_categories=20,
    )
    text = json.dumps(profile.to_dict(), allow_nan=False)
    back = QualityProfile.from_dict(json.loads(text))
    assert back == profile
    assert back.to_dict() == profile.to_dict()
    current = {k: list(v)[:2] for k, v in columns.items()}
    assert data_quality(back, current) == data_quality(profile, current)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.update(format=2), "format"),
        (lambda d: d["columns"][0].pop("n"), "keys"),
        (lambda d: d["columns"][0].update(n=5), "inconsistent counts"),
        (lambda d: d["columns"][0].update(kind="text"), "unknown kind"),
        (lambda d: d["columns"][0].update(value_types=["decimal"]), "value types"),
        (lambda d: d["columns"][0].update(missing_count="1"), "malformed"),
        (lambda d: d.pop("columns"), "malformed"),
    ],
)
def test_a_malformed_profile_dict_is_a_value_error(mutate: Any, match: str) -> None:
    data = QualityProfile.from_reference({"c": ["a", "b", None]}).to_dict()
    mutate(data)
    with pytest.raises(ValueError, match=match):
        QualityProfile.from_dict(data)


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"kinds": {"x": "text"}}, "column 'x': unknown kind 'text'"),
        ({"kinds": {"y": "numerical"}}, "kinds names columns not in the reference: \\['y'\\]"),
        ({"ranges": {"y": (0, 1)}}, "ranges names columns not in the reference: \\['y'\\]"),
        ({"ranges": {"c": (0, 1)}}, "column 'c': a range was given, but it is categorical"),
        ({"ranges": {"x": (2, 1)}}, "column 'x': range min 2.0 is above max 1.0"),
        ({"ranges": {"x": (0, math.nan)}}, "column 'x': a range bound must be finite"),
        (
            {"ranges": {"x": ("0", 1)}},
            "column 'x': a range bound must be a number or None, got '0'",
        ),
        ({"ranges": {"x": (0,)}}, "column 'x': a range is \\(min, max\\)"),
        ({"max_categories": -1}, "max_categories must be >= 0, got -1"),
    ],
)
def test_bad_profile_arguments_are_value_errors_naming_them(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        QualityProfile.from_reference({"x": [1.0, 2.0], "c": ["a", "b"]}, **kw)


def test_bad_columns_are_value_errors_naming_them() -> None:
    with pytest.raises(ValueError, match=r"column 'x' must be 1-d, got shape \(2, 2\)"):
        QualityProfile.from_reference({"x": np.ones((2, 2))})
    with pytest.raises(ValueError, match="column 'x': the reference is empty"):
        QualityProfile.from_reference({"x": []})
    with pytest.raises(ValueError, match="column 'x' must be 1-d, got 'abc'"):
        QualityProfile.from_reference({"x": "abc"})
    profile = QualityProfile.from_reference({"x": [1.0], "y": [2.0]})
    with pytest.raises(ValueError, match=r"column 'x' must be 1-d, got np.float64\(1.0\)"):
        data_quality(profile, {"x": np.float64(1.0)})
    # In a sequence, each element is one row's value: a list there is a type error.
    assert data_quality(profile, {"x": [[1.0]], "y": [2.0]}).columns[0].type_errors.count == 1
    with pytest.raises(ValueError, match=r"one length .*'x': 2, 'y': 3"):
        data_quality(profile, {"x": [1.0, 2.0], "y": [1.0, 2.0, 3.0]})


@pytest.mark.parametrize("field", ["missing_change", "unseen_rate", "type_error_rate"])
@pytest.mark.parametrize("value", [-0.1, 1.5, math.nan])
def test_thresholds_outside_0_1_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"threshold {field} must be in"):
        QualityThresholds(**{field: value})


def test_checks_are_named_in_one_place() -> None:
    assert CHECKS == (
        "absent",
        "missing_rate",
        "inf_rate",
        "type_errors",
        "out_of_range",
        "unseen_categories",
        "constant",
    )


# --- properties -----------------------------------------------------------------------

any_value = st.one_of(
    st.none(),
    st.floats(),  # NaN and +-inf included
    st.integers(-5, 5),
    st.just(10**400),
    st.booleans(),
    st.sampled_from(["a", "b", "c", "1"]),
    st.text(max_size=2),
    st.just([1]),
)
numberish = st.one_of(st.none(), st.floats(), st.integers(-5, 5), st.sampled_from([0.5, 1.5]))
categoryish = st.one_of(st.none(), st.just(math.nan), st.sampled_from(["a", "b", "c"]), any_value)
schemas = st.one_of(
    st.none(),
    st.tuples(st.one_of(st.none(), st.integers(-3, 0)), st.one_of(st.none(), st.integers(1, 4))),
)


def _rates(col: ColumnQuality) -> list[Any]:
    return [
        r
        for r in (col.missing, col.nan, col.inf, col.type_errors, col.out_of_range, col.unseen)
        if r
    ]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["numerical", "categorical"]),
    st.lists(any_value, min_size=1, max_size=30),
    st.lists(any_value, max_size=30),
    schemas,
)
def test_counts_and_rates_match_the_loop_on_any_values(
    kind: str, ref: list[Any], cur: list[Any], schema: tuple[Any, Any] | None
) -> None:
    col = check_against_oracle(ref, cur, kind, schema if kind == "numerical" else None)
    parts = col.missing.count + (col.inf.count if col.inf else 0) + col.type_errors.count
    checked = col.out_of_range.total if col.out_of_range else col.unseen.total  # type: ignore[union-attr]
    assert parts + checked == col.n
    assert col.nan.count <= col.missing.count
    for r in _rates(col):
        assert 0 <= r.count <= r.total
        if r.rate is not None:
            assert 0.0 <= r.rate <= 1.0
        if r.change is not None:
            assert -1.0 <= r.change <= 1.0


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.tuples(st.just("numerical"), st.lists(numberish, min_size=1, max_size=40)),
        st.tuples(st.just("categorical"), st.lists(categoryish, min_size=1, max_size=40)),
        st.tuples(
            st.just("numerical"),
            st.lists(st.floats(), min_size=1, max_size=40).map(np.array),
        ),
    ),
    schemas,
)
def test_a_window_equal_to_the_reference_changes_nothing(
    case: tuple[str, Any], schema: tuple[Any, Any] | None
) -> None:
    kind, values = case
    ranges = {"x": schema} if kind == "numerical" and schema is not None else None
    profile = QualityProfile.from_reference({"x": values}, kinds={"x": kind}, ranges=ranges)
    col = data_quality(profile, {"x": values}).columns[0]
    for r in _rates(col):
        assert r.change in (0.0, None)
        assert (r.change is None) == (r.rate is None)
    assert col.constant == col.constant_reference
    # Only the absolute checks can fail: type errors at any rate, out-of-range against a
    # schema range the reference itself breaks.
    absolute = set()
    if col.type_errors.count:
        absolute.add("type_errors")
    if col.out_of_range is not None and (col.out_of_range.rate or 0) > 0.01:
        absolute.add("out_of_range")
    assert set(col.issues) == absolute
    assert col.unseen is None or col.unseen.count == 0
    assert col.out_of_range is None or schema is not None or col.out_of_range.count == 0
