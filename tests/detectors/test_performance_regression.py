"""detectors.performance, regression: values against sklearn.metrics (and numpy's
quantile), each resample's weighted metric against sklearn with ``sample_weight``,
missing labels, degenerate windows, and the intervals' behaviour."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn import metrics as skm

from detectors.performance import PerformanceResult, regression_performance
from detectors.performance.regression import weighted_metrics

TOL = 1e-12


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.lognormal(1.0, 0.6, n)
    pred = y * rng.normal(1.0, 0.15, n) + rng.normal(0.0, 0.3, n)
    return y, pred


def _value(result: PerformanceResult, name: str) -> float:
    return result.metric(name).value


def _check_against_sklearn(result: PerformanceResult, y: Any, pred: Any) -> None:
    assert _value(result, "mae") == pytest.approx(skm.mean_absolute_error(y, pred), abs=TOL)
    assert _value(result, "rmse") == pytest.approx(skm.root_mean_squared_error(y, pred), abs=TOL)
    if np.sum((y - np.mean(y)) ** 2) > 0:
        assert _value(result, "r2") == pytest.approx(skm.r2_score(y, pred), abs=TOL)
    else:  # sklearn reports 1.0 or 0.0 for a constant y_true; R^2 is undefined there
        assert math.isnan(_value(result, "r2"))
    assert _value(result, "abs_error_p50") == pytest.approx(
        skm.median_absolute_error(y, pred), abs=TOL
    )
    nonzero = np.asarray(y) != 0
    if nonzero.any():
        assert _value(result, "mape") == pytest.approx(
            skm.mean_absolute_percentage_error(y[nonzero], pred[nonzero]), rel=TOL
        )


@pytest.mark.parametrize("seed", range(3))
def test_regression_metrics_equal_sklearn(seed: int) -> None:
    y, pred = _data(2000, seed)
    result = regression_performance(y, pred, n_bootstrap=200)
    assert result.task == "regression"
    assert result.labels is None
    assert result.confusion is None
    _check_against_sklearn(result, y, pred)
    assert _value(result, "mape") == pytest.approx(
        skm.mean_absolute_percentage_error(y, pred), abs=TOL
    )
    errors = np.abs(y - pred)
    for q in (0.5, 0.9, 0.95, 0.99):
        m = result.metric(f"abs_error_p{q * 100:g}")
        assert m.value == pytest.approx(np.quantile(errors, q), abs=TOL)
        assert m.interval_method == "order-statistics"


# Values of magnitude 0 or 1e-6 to 1e3: at 1e-150 squares underflow and sklearn's own
# R^2 overflows (a RuntimeWarning), so there is nothing to compare with.
_Y = st.one_of(st.just(0.0), st.floats(1e-6, 1e3), st.floats(-1e3, -1e-6))


@settings(max_examples=80, deadline=None)
@given(hnp.arrays(np.float64, st.integers(2, 40), elements=_Y), st.integers(0, 2**16))
def test_regression_values_equal_sklearn_on_any_data(y: np.ndarray, seed: int) -> None:
    pred = y + np.random.default_rng(seed).normal(0.0, 1.0, y.size)
    result = regression_performance(y, pred, n_bootstrap=20)
    _check_against_sklearn(result, y, pred)


def test_each_resample_is_the_metric_weighted_by_its_counts() -> None:
    # A bootstrap resample with counts c is sklearn's metric with sample_weight=c.
    y, pred = _data(300, 3)
    y[:3] = 0.0  # MAPE leaves these out, as a weight of 0 would
    statistics = weighted_metrics(y, pred)
    rng = np.random.default_rng(3)
    counts = rng.multinomial(300, np.full(300, 1 / 300), size=4)
    got = statistics(counts)
    nonzero = y != 0
    for r, w in enumerate(counts):
        assert got["mae"][r] == pytest.approx(
            skm.mean_absolute_error(y, pred, sample_weight=w), abs=TOL
        )
        assert got["rmse"][r] == pytest.approx(
            skm.root_mean_squared_error(y, pred, sample_weight=w), abs=TOL
        )
        assert got["r2"][r] == pytest.approx(skm.r2_score(y, pred, sample_weight=w), abs=1e-10)
        assert got["mape"][r] == pytest.approx(
            skm.mean_absolute_percentage_error(y[nonzero], pred[nonzero], sample_weight=w[nonzero]),
            abs=TOL,
        )


def test_mape_leaves_out_rows_whose_truth_is_zero() -> None:
    y, pred = _data(500, 4)
    y[:7] = 0.0
    result = regression_performance(y, pred, n_bootstrap=100)
    mape = result.metric("mape")
    nonzero = y != 0
    assert mape.n == 493
    assert mape.value == pytest.approx(
        skm.mean_absolute_percentage_error(y[nonzero], pred[nonzero]), abs=TOL
    )
    assert mape.reason == "7 labelled rows with y_true == 0 left out"
    # sklearn's own value divides by eps instead: astronomically large.
    assert skm.mean_absolute_percentage_error(y, pred) > 1e12
    assert result.metric("mae").n == 500
    only_zeros = regression_performance([0.0, 0.0], [1.0, 2.0], n_bootstrap=20).metric("mape")
    assert math.isnan(only_zeros.value)
    assert only_zeros.reason == "every labelled y_true is 0"


def test_missing_labels_are_excluded_and_counted() -> None:
    y, pred = _data(1000, 5)
    hidden = np.random.default_rng(5).random(1000) < 0.5
    y_obj = y.astype(object)
    y_obj[hidden] = None
    result = regression_performance(y_obj, pred, n_predictions=4000, n_bootstrap=100)
    assert (result.n_rows, result.n_labelled, result.n_predictions) == (1000, (~hidden).sum(), 4000)
    assert result.coverage == pytest.approx((~hidden).sum() / 4000)
    _check_against_sklearn(result, y[~hidden], pred[~hidden])
    # Unlabelled rows may lack a prediction.
    pred_nan = np.where(hidden, np.nan, pred)
    same = regression_performance(np.where(hidden, np.nan, y), pred_nan, n_bootstrap=100)
    assert same.metrics == result.metrics


def test_intervals_contain_the_value_and_widen_with_fewer_labels() -> None:
    y, pred = _data(30_000, 6)
    rng = np.random.default_rng(6)
    y_few = np.where(rng.random(y.size) < 0.03, y, np.nan)
    full = regression_performance(y, pred, n_bootstrap=300)
    few = regression_performance(y_few, pred, n_bootstrap=300)
    for m in full.metrics:
        f = few.metric(m.name)
        assert m.lower <= m.value <= m.upper, m.name
        assert f.lower <= f.value <= f.upper, m.name
        assert f.n < m.n
        assert f.width > 3.0 * m.width, m.name


def test_mae_bootstrap_interval_covers_the_truth() -> None:
    # Errors N(0, 2): E|e| = 2 sqrt(2 / pi).
    truth = 2.0 * math.sqrt(2.0 / math.pi)
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(150):
        y = rng.normal(size=300)
        mae = regression_performance(y, y + rng.normal(0.0, 2.0, 300), n_bootstrap=300)
        m = mae.metric("mae")
        covered += m.lower <= truth <= m.upper
    assert 0.88 <= covered / 150 <= 0.99


def test_few_rows_leave_high_quantiles_unbounded_above() -> None:
    result = regression_performance(
        [1.0, 2.0, 3.0, 4.0, 5.0], [1.5, 2.0, 2.0, 4.5, 6.0], n_bootstrap=50
    )
    p99 = result.metric("abs_error_p99")
    assert p99.upper == math.inf
    assert p99.lower <= p99.value


def test_a_window_without_labels_gives_nan_metrics_with_a_reason() -> None:
    result = regression_performance([None, np.nan], [1.0, 2.0])
    assert result.n_labelled == 0
    assert result.reason == "no labelled row in the window"
    assert all(math.isnan(m.value) and m.n == 0 for m in result.metrics)
    assert "abs_error_p95" in result.names


def test_constant_truth_leaves_r2_undefined() -> None:
    result = regression_performance([3.0, 3.0, 3.0], [2.0, 3.0, 4.0], n_bootstrap=50)
    r2 = result.metric("r2")
    assert math.isnan(r2.value)
    assert r2.reason == "y_true is constant (or a single row): R^2 undefined"
    assert _value(result, "mae") == pytest.approx(2.0 / 3.0)


def test_custom_quantiles() -> None:
    y, pred = _data(400, 8)
    result = regression_performance(y, pred, quantiles=[0.25, 0.999], n_bootstrap=20)
    assert result.names[-2:] == ("abs_error_p25", "abs_error_p99.9")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_true": [1.0, 2.0], "y_pred": [1.0]}, "y_true has 2 rows but y_pred has 1"),
        ({"y_true": [1.0, np.inf], "y_pred": [1.0, 2.0]}, "y_true is inf at labelled row 1"),
        ({"y_true": [1.0, 2.0], "y_pred": [1.0, None]}, "y_pred is nan at labelled row 1"),
        ({"y_true": ["a", 2.0], "y_pred": [1.0, 2.0]}, "y_true must hold numbers"),
        ({"y_true": [[1.0]], "y_pred": [1.0]}, "y_true must be 1-d"),
        ({"y_true": [1.0], "y_pred": [1.0], "quantiles": [1.5]}, "quantiles must be in [0, 1]"),
        ({"y_true": [1.0], "y_pred": [1.0], "seed": -1}, "seed must be an integer >= 0"),
    ],
)
def test_bad_input_is_a_value_error_naming_it(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        regression_performance(**kwargs)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.floats(-100, 100)), max_size=12),
    st.integers(0, 2**16),
)
def test_any_small_window_gives_defined_or_explained_metrics(
    y: list[float | None], seed: int
) -> None:
    pred = np.random.default_rng(seed).normal(0.0, 5.0, len(y))
    result = regression_performance(np.array(y, dtype=object), pred, n_bootstrap=30)
    assert result.n_labelled == sum(v is not None for v in y)
    for m in result.metrics:
        if math.isnan(m.value) or math.isnan(m.lower):
            assert m.reason is not None, m.name
        else:
            assert m.lower <= m.value <= m.upper, m.name


def test_a_spread_near_the_smallest_floats_gives_no_warning() -> None:
    # Found by hypothesis: the bootstrap's SSE / SST overflowed with a RuntimeWarning.
    y = np.array([1.07633071e-155, 0.0])
    result = regression_performance(y, y + np.array([0.3, -0.2]), n_bootstrap=20)
    assert _value(result, "r2") < -1e300
