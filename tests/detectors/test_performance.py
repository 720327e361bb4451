"""detectors.performance, classification: every value against sklearn.metrics on the same
labelled rows, missing labels, label orders, degenerate windows, and the intervals'
behaviour (they contain the value, widen with fewer labels, are seeded)."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm

from detectors.performance import PerformanceResult, classification_performance

TOL = 1e-12
AVERAGES = ("macro", "weighted")


def _binary(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    scores = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.2 * (y - 0.5))))
    pred = (scores > 0.45).astype(int)
    # A few predictions flipped, so that y_pred is not a threshold of the scores.
    flip = rng.random(n) < 0.05
    pred[flip] = 1 - pred[flip]
    return y, pred, scores


def _multiclass(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.0
    prob = np.exp(logits)
    prob /= prob.sum(axis=1, keepdims=True)
    pred = prob.argmax(axis=1)
    flip = rng.random(n) < 0.05
    pred[flip] = rng.integers(0, k, int(flip.sum()))
    return y, pred, prob


def _value(result: PerformanceResult, name: str) -> float:
    return result.metric(name).value


def _check_counts_against_sklearn(result: PerformanceResult, y: Any, pred: Any) -> None:
    assert _value(result, "accuracy") == pytest.approx(skm.accuracy_score(y, pred), abs=TOL)
    for avg in AVERAGES:
        kw: dict[str, Any] = {"average": avg, "zero_division": np.nan, "labels": result.labels}
        assert _value(result, f"precision_{avg}") == pytest.approx(
            skm.precision_score(y, pred, **kw), abs=TOL, nan_ok=True
        )
        assert _value(result, f"recall_{avg}") == pytest.approx(
            skm.recall_score(y, pred, **kw), abs=TOL, nan_ok=True
        )
        assert _value(result, f"f1_{avg}") == pytest.approx(
            skm.f1_score(y, pred, **kw), abs=TOL, nan_ok=True
        )
    assert result.confusion is not None
    np.testing.assert_array_equal(
        result.confusion.as_array(), skm.confusion_matrix(y, pred, labels=list(result.labels or ()))
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_equal_sklearn(seed: int) -> None:
    y, pred, scores = _binary(1500, seed)
    result = classification_performance(y, pred, scores=scores, n_bootstrap=200)
    assert result.task == "binary"
    assert result.labels == (0, 1)
    assert result.positive == 1
    _check_counts_against_sklearn(result, y, pred)
    assert _value(result, "precision") == pytest.approx(skm.precision_score(y, pred), abs=TOL)
    assert _value(result, "recall") == pytest.approx(skm.recall_score(y, pred), abs=TOL)
    assert _value(result, "f1") == pytest.approx(skm.f1_score(y, pred), abs=TOL)
    assert _value(result, "roc_auc") == pytest.approx(skm.roc_auc_score(y, scores), abs=TOL)
    assert _value(result, "pr_auc") == pytest.approx(
        skm.average_precision_score(y, scores), abs=TOL
    )
    assert _value(result, "log_loss") == pytest.approx(skm.log_loss(y, y_proba=scores), abs=TOL)
    assert _value(result, "brier") == pytest.approx(skm.brier_score_loss(y, scores), abs=TOL)


def test_binary_with_string_labels_and_the_lower_class_positive() -> None:
    y01, pred01, scores = _binary(800, 5)
    names = np.array(["churn", "stay"], dtype=object)
    y, pred = names[y01], names[pred01]
    # Positive is "churn" (the first class in sorted order); scores are P(churn).
    p_churn = 1.0 - scores
    result = classification_performance(y, pred, scores=p_churn, positive="churn", n_bootstrap=100)
    assert result.positive == "churn"
    assert result.labels == ("churn", "stay")
    assert _value(result, "precision") == pytest.approx(
        skm.precision_score(y, pred, pos_label="churn"), abs=TOL
    )
    assert _value(result, "recall") == pytest.approx(
        skm.recall_score(y, pred, pos_label="churn"), abs=TOL
    )
    assert _value(result, "f1") == pytest.approx(skm.f1_score(y, pred, pos_label="churn"), abs=TOL)
    is_churn = y == "churn"
    assert _value(result, "roc_auc") == pytest.approx(skm.roc_auc_score(is_churn, p_churn), abs=TOL)
    assert _value(result, "pr_auc") == pytest.approx(
        skm.average_precision_score(is_churn, p_churn), abs=TOL
    )
    # sklearn's 1-d log loss is P(the greater label, "stay").
    assert _value(result, "log_loss") == pytest.approx(skm.log_loss(y, y_proba=scores), abs=TOL)
    assert _value(result, "brier") == pytest.approx(
        skm.brier_score_loss(y, p_churn, pos_label="churn"), abs=TOL
    )


def test_binary_scores_as_a_two_column_matrix_in_label_order() -> None:
    y, pred, scores = _binary(600, 6)
    one = classification_performance(y, pred, scores=scores, n_bootstrap=50)
    two = classification_performance(
        y, pred, scores=np.column_stack([1.0 - scores, scores]), n_bootstrap=50
    )
    assert one.metrics == two.metrics


@pytest.mark.parametrize(("k", "seed"), [(3, 0), (3, 1), (5, 2), (5, 3)])
def test_multiclass_metrics_equal_sklearn(k: int, seed: int) -> None:
    y, pred, prob = _multiclass(1200, k, seed)
    result = classification_performance(y, pred, scores=prob, n_bootstrap=100)
    assert result.task == "multiclass"
    assert result.positive is None
    assert "precision" not in result.names
    _check_counts_against_sklearn(result, y, pred)
    assert _value(result, "roc_auc") == pytest.approx(
        skm.roc_auc_score(y, prob, multi_class="ovr"), abs=TOL
    )
    assert _value(result, "pr_auc") == pytest.approx(skm.average_precision_score(y, prob), abs=TOL)
    assert _value(result, "log_loss") == pytest.approx(skm.log_loss(y, y_proba=prob), abs=TOL)
    assert _value(result, "brier") == pytest.approx(
        skm.brier_score_loss(y, prob, scale_by_half=False), abs=TOL
    )


def test_labels_set_the_class_order_of_matrix_and_score_columns() -> None:
    y, pred, prob = _multiclass(900, 3, 7)
    names = np.array(["b", "c", "a"], dtype=object)  # code 0 -> "b", 1 -> "c", 2 -> "a"
    order = ["b", "c", "a"]
    result = classification_performance(
        names[y], names[pred], scores=prob, labels=order, n_bootstrap=50
    )
    assert result.labels == tuple(order)
    assert result.confusion is not None
    assert result.confusion.labels == tuple(order)
    np.testing.assert_array_equal(
        result.confusion.as_array(), skm.confusion_matrix(names[y], names[pred], labels=order)
    )
    assert _value(result, "roc_auc") == pytest.approx(
        skm.roc_auc_score(y, prob, multi_class="ovr"), abs=TOL
    )
    assert _value(result, "log_loss") == pytest.approx(skm.log_loss(y, y_proba=prob), abs=TOL)


def test_tied_scores_match_sklearn() -> None:
    y, pred, scores = _binary(2000, 8)
    coarse = np.round(scores, 1)  # heavy ties
    result = classification_performance(y, pred, scores=coarse, n_bootstrap=50)
    assert _value(result, "roc_auc") == pytest.approx(skm.roc_auc_score(y, coarse), abs=TOL)
    assert _value(result, "pr_auc") == pytest.approx(
        skm.average_precision_score(y, coarse), abs=TOL
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    k=st.integers(2, 4),
    data=st.data(),
)
def test_count_metrics_equal_sklearn_on_any_small_window(k: int, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 25))
    y = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    pred = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    labels = list(range(k))
    result = classification_performance(y, pred, labels=labels, n_bootstrap=20)
    _check_counts_against_sklearn(result, y, pred)
    if k == 2:
        for name, fn in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            assert _value(result, name) == pytest.approx(
                fn(y, pred, labels=labels, zero_division=np.nan), abs=TOL, nan_ok=True
            )


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_ranking_metrics_equal_sklearn_on_any_scores(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 30))
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    # Few distinct values, so that ties are common.
    scores = np.array(
        data.draw(st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0]), min_size=n, max_size=n))
    )
    if y.min() == y.max():
        y[0] = 1 - y[0]
    result = classification_performance(y, y, scores=scores, labels=[0, 1], n_bootstrap=20)
    assert _value(result, "roc_auc") == pytest.approx(skm.roc_auc_score(y, scores), abs=TOL)
    assert _value(result, "pr_auc") == pytest.approx(
        skm.average_precision_score(y, scores), abs=TOL
    )
    assert _value(result, "log_loss") == pytest.approx(skm.log_loss(y, y_proba=scores), abs=TOL)


# --- missing labels and coverage -------------------------------------------------------------


def test_missing_labels_are_excluded_and_counted() -> None:
    y, pred, scores = _binary(1000, 9)
    rng = np.random.default_rng(9)
    hidden = rng.random(1000) < 0.4
    y_obj = y.astype(object)
    y_obj[hidden] = None
    y_obj[np.flatnonzero(hidden)[:10]] = np.nan  # NaN is missing too
    result = classification_performance(
        y_obj, pred, scores=scores, n_predictions=2500, n_bootstrap=50
    )
    keep = ~hidden
    assert result.n_rows == 1000
    assert result.n_labelled == int(keep.sum())
    assert result.n_predictions == 2500
    assert result.coverage == pytest.approx(keep.sum() / 2500)
    assert result.metric("accuracy").n == keep.sum()
    assert _value(result, "accuracy") == pytest.approx(
        skm.accuracy_score(y[keep], pred[keep]), abs=TOL
    )
    assert _value(result, "roc_auc") == pytest.approx(
        skm.roc_auc_score(y[keep], scores[keep]), abs=TOL
    )
    # Float labels with NaN for missing: the same rows.
    as_float = np.where(hidden, np.nan, y.astype(float))
    same = classification_performance(as_float, pred, scores=scores, n_bootstrap=50)
    assert same.n_labelled == result.n_labelled
    assert _value(same, "f1_macro") == _value(result, "f1_macro")
    assert same.coverage == pytest.approx(keep.sum() / 1000)  # n_predictions defaults to rows
    # Unlabelled rows may miss their prediction and scores: they are not used.
    pred_obj = pred.astype(object)
    pred_obj[hidden] = None
    scores_nan = np.where(hidden, np.nan, scores)
    again = classification_performance(y_obj, pred_obj, scores=scores_nan, n_bootstrap=50)
    assert (
        again.metrics
        == classification_performance(y_obj, pred, scores=scores, n_bootstrap=50).metrics
    )


def test_the_metrics_say_how_many_rows_they_rest_on() -> None:
    y, pred, _ = _binary(700, 10)
    result = classification_performance(y, pred, n_bootstrap=50)
    assert result.metric("precision").n == int((pred == 1).sum())
    assert result.metric("recall").n == int((y == 1).sum())
    assert result.metric("f1").n == 700
    assert "roc_auc" not in result.names  # needs scores


# --- intervals -------------------------------------------------------------------------------


def _all_intervals(result: PerformanceResult) -> list[tuple[str, float, float, float]]:
    return [(m.name, m.lower, m.value, m.upper) for m in result.metrics]


def test_every_interval_contains_its_value() -> None:
    for seed in range(4):
        y, pred, scores = _binary(300, seed)
        yb, predb, prob = _multiclass(300, 4, seed)
        for result in (
            classification_performance(y, pred, scores=scores, n_bootstrap=200, seed=seed),
            classification_performance(yb, predb, scores=prob, n_bootstrap=200, seed=seed),
        ):
            for name, lower, value, upper in _all_intervals(result):
                assert lower <= value <= upper, name


def test_three_percent_labels_give_much_wider_intervals_than_all() -> None:
    y, pred, scores = _binary(20_000, 11)
    rng = np.random.default_rng(11)
    y_few = y.astype(float)
    y_few[rng.random(y.size) >= 0.03] = np.nan
    full = classification_performance(y, pred, scores=scores, n_bootstrap=300)
    few = classification_performance(y_few, pred, scores=scores, n_bootstrap=300)
    assert few.coverage == pytest.approx(0.03, abs=0.005)
    for m in full.metrics:
        narrow, wide = m.width, few.metric(m.name).width
        assert few.metric(m.name).n < m.n
        # sqrt(1 / 0.03) = 5.8: the width goes as 1 / sqrt(n).
        assert wide > 3.0 * narrow, m.name


def test_wilson_interval_covers_the_true_accuracy_at_the_stated_rate() -> None:
    # 200 windows of 150 rows, each row right with probability 0.8.
    rng = np.random.default_rng(12)
    covered = 0
    for _ in range(200):
        y = rng.integers(0, 2, 150)
        right = rng.random(150) < 0.8
        pred = np.where(right, y, 1 - y)
        acc = classification_performance(y, pred, labels=[0, 1], n_bootstrap=10).metric("accuracy")
        assert acc.interval_method == "wilson"
        covered += acc.lower <= 0.8 <= acc.upper
    assert 0.90 <= covered / 200 <= 0.99


def test_bootstrap_f1_interval_covers_the_truth_at_about_the_stated_rate() -> None:
    # Balanced classes, each prediction right with probability 0.8 whatever the class:
    # precision = recall = F1 = 0.8 for the positive class.
    rng = np.random.default_rng(13)
    covered = 0
    for _ in range(150):
        y = rng.integers(0, 2, 400)
        pred = np.where(rng.random(400) < 0.8, y, 1 - y)
        f1 = classification_performance(y, pred, n_bootstrap=300, seed=1).metric("f1")
        covered += f1.lower <= 0.8 <= f1.upper
    assert 0.88 <= covered / 150 <= 0.99


def test_intervals_are_seeded() -> None:
    y, pred, scores = _binary(500, 14)
    a = classification_performance(y, pred, scores=scores, n_bootstrap=100, seed=3)
    b = classification_performance(y, pred, scores=scores, n_bootstrap=100, seed=3)
    c = classification_performance(y, pred, scores=scores, n_bootstrap=100, seed=4)
    assert a == b
    assert [m.value for m in a.metrics] == [m.value for m in c.metrics]
    assert a.metric("pr_auc").lower != c.metric("pr_auc").lower


def test_interval_methods_are_stated() -> None:
    y, pred, scores = _binary(400, 15)
    result = classification_performance(y, pred, scores=scores, n_bootstrap=100)
    methods = {m.name: m.interval_method for m in result.metrics}
    assert methods["accuracy"] == methods["precision"] == methods["recall"] == "wilson"
    assert methods["roc_auc"] == "delong"
    assert methods["f1"] == methods["pr_auc"] == methods["brier"] == "bootstrap-percentile(100)"
    assert methods["ece"] == "bootstrap-basic(100)"
    yb, predb, prob = _multiclass(400, 3, 15)
    multi = classification_performance(yb, predb, scores=prob, n_bootstrap=100)
    assert multi.metric("roc_auc").interval_method == "delong-ovr"


# --- degenerate windows ----------------------------------------------------------------------


def test_a_window_without_labels_gives_nan_metrics_with_a_reason() -> None:
    result = classification_performance(
        [None, None, np.nan], [0, 1, 1], scores=[0.1, 0.8, 0.6], n_predictions=10
    )
    assert result.n_labelled == 0
    assert result.coverage == 0.0
    assert result.reason == "no labelled row in the window"
    assert result.confusion is None
    assert "roc_auc" in result.names
    for m in result.metrics:
        assert math.isnan(m.value)
        assert m.n == 0
        assert m.reason == result.reason
    empty = classification_performance([], [], labels=["a", "b", "c"])
    assert empty.task == "multiclass"
    assert empty.n_rows == 0
    assert math.isnan(empty.coverage)


def test_one_class_among_the_labels_leaves_roc_auc_undefined_without_warning() -> None:
    # pytest turns warnings into errors: sklearn would warn here.
    y = np.array([1, 1, 1, 1, None, None], dtype=object)
    pred = [1, 0, 1, 1, 0, 0]
    result = classification_performance(
        y, pred, scores=[0.9, 0.4, 0.8, 0.7, 0.1, 0.2], labels=[0, 1], n_bootstrap=50
    )
    auc = result.metric("roc_auc")
    assert math.isnan(auc.value)
    assert auc.reason == "the labelled rows hold one class only"
    assert _value(result, "recall") == 0.75
    assert _value(result, "pr_auc") == 1.0  # every labelled row positive: precision 1
    assert result.metric("log_loss").value == pytest.approx(
        -np.mean(np.log([0.9, 0.4, 0.8, 0.7])), abs=TOL
    )


def test_no_positive_prediction_leaves_precision_undefined() -> None:
    result = classification_performance([0, 1, 0, 1], [0, 0, 0, 0], labels=[0, 1], n_bootstrap=50)
    precision = result.metric("precision")
    assert math.isnan(precision.value)
    assert precision.n == 0
    assert precision.reason == "no labelled row is predicted positive"
    assert _value(result, "recall") == 0.0
    assert _value(result, "f1") == 0.0


@pytest.mark.parametrize(
    ("y", "scores", "smaller"),
    [
        ([0, 1, 0, 1], [0.2, 0.9, 0.4, 0.7], 2),  # perfectly separated: DeLong's variance is 0
        ([0, 1, 0], [0.2, 0.9, 0.4], 1),  # one positive row: DeLong's variance is undefined
    ],
)
def test_degenerate_delong_falls_back_to_the_max_variance_bound(
    y: list[int], scores: list[float], smaller: int
) -> None:
    auc = classification_performance(y, y, scores=scores, n_bootstrap=20).metric("roc_auc")
    assert auc.value == 1.0
    assert auc.interval_method == "max-variance"
    # Var(AUC) <= AUC (1 - AUC) / min(m, k), inverted: Wilson's interval of min(m, k) trials.
    expected = stats.binomtest(smaller, smaller).proportion_ci(method="wilson")
    assert (auc.lower, auc.upper) == (pytest.approx(expected.low), pytest.approx(expected.high))
    assert auc.lower < 0.5


def test_scores_that_are_not_probabilities_still_rank() -> None:
    y, pred, scores = _binary(300, 16)
    margin = np.log(scores / (1.0 - scores))  # a decision function, outside [0, 1]
    result = classification_performance(y, pred, scores=margin, n_bootstrap=50)
    assert _value(result, "roc_auc") == pytest.approx(skm.roc_auc_score(y, margin), abs=TOL)
    assert _value(result, "pr_auc") == pytest.approx(
        skm.average_precision_score(y, margin), abs=TOL
    )
    for name in ("log_loss", "brier", "ece"):
        m = result.metric(name)
        assert math.isnan(m.value)
        assert m.reason == "scores are not probabilities (outside [0, 1])"


def test_a_class_absent_from_the_labels_leaves_multiclass_auc_undefined() -> None:
    y, pred, prob = _multiclass(300, 3, 17)
    y = np.where(y == 2, 0, y)
    result = classification_performance(y, pred, scores=prob, labels=[0, 1, 2], n_bootstrap=50)
    for name in ("roc_auc", "pr_auc"):
        m = result.metric(name)
        assert math.isnan(m.value)
        assert m.reason is not None
        assert "[2]" in m.reason
    assert math.isfinite(_value(result, "log_loss"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_true": [0, 1, 1], "y_pred": [0, 1]}, "y_true has 3 rows but y_pred has 2"),
        (
            {"y_true": [0, 1], "y_pred": [0, 1], "scores": [0.5]},
            "y_true has 2 rows but scores has 1",
        ),
        ({"y_true": [1, 1], "y_pred": [1, 1]}, "labels: only one class is known (1)"),
        ({"y_true": [0, 1], "y_pred": [0, None]}, "y_pred is missing (None/NaN) at labelled row 1"),
        ({"y_true": [0, 1], "y_pred": [0, 2], "labels": [0, 1]}, "y_pred holds 2, which is not in"),
        (
            {"y_true": np.array([0, "a"], dtype=object), "y_pred": [0, 0]},
            "y_true: labels must all be strings or all numbers, got int, str",
        ),
        ({"y_true": ["a", "b"], "y_pred": [0, 1]}, "classes must all be strings or all numbers"),
        (
            {"y_true": [0, 1], "y_pred": [0, 1], "positive": 3},
            "positive applies to binary tasks; with positive=3 there are 3 classes [0, 1, 3]",
        ),
        (
            {"y_true": [0, 1], "y_pred": [0, 1], "positive": 3, "labels": [0, 1]},
            "positive holds 3, which is not in labels [0, 1]",
        ),
        ({"y_true": [0, 1, 2], "y_pred": [0, 1, 2], "positive": 1}, "positive applies to binary"),
        (
            {"y_true": [0, 1], "y_pred": [0, 1], "scores": [0.5, np.nan]},
            "scores is not finite at labelled row 1",
        ),
        (
            {"y_true": [0, 1, 2], "y_pred": [0, 1, 2], "scores": [[0.5, 0.5]] * 3},
            "scores has 2 columns but there are 3 classes",
        ),
        (
            {
                "y_true": [None, 1, 2],
                "y_pred": [0, 1, 2],
                "scores": [[0.5, 0.3, 0.3]] * 3,
                "labels": [0, 1, 2],
            },
            "scores: the probabilities of labelled row 1 sum to 1.1",
        ),
        ({"y_true": [0, 1], "y_pred": [0, 1], "confidence": 1.0}, "confidence must be in (0, 1)"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "n_bootstrap": 0}, "n_bootstrap must be an integer"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "n_predictions": 1}, "n_predictions (1) is below"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "ece_bins": 0}, "ece_bins must be an integer"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "labels": [0, 1, 0]}, "labels holds a class twice"),
    ],
)
def test_bad_input_is_a_value_error_naming_it(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        classification_performance(**kwargs)


def test_result_lookup_names_the_known_metrics() -> None:
    result = classification_performance([0, 1, 1, 0], [0, 1, 0, 0], n_bootstrap=20)
    assert result["accuracy"] is result.metric("accuracy")
    with pytest.raises(KeyError, match="roc_auc"):
        result.metric("roc_auc")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(k=st.integers(2, 3), data=st.data())
def test_any_small_window_gives_defined_or_explained_metrics(k: int, data: st.DataObject) -> None:
    # Any mix of missing labels, classes and probabilities: no warning (pytest makes them
    # errors), no crash; every metric is a value inside its interval, or NaN with a reason.
    n = data.draw(st.integers(0, 12))
    y = data.draw(st.lists(st.one_of(st.none(), st.integers(0, k - 1)), min_size=n, max_size=n))
    pred = data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    raw = np.array(
        data.draw(
            st.lists(st.lists(st.floats(0.01, 1.0), min_size=k, max_size=k), min_size=n, max_size=n)
        )
    ).reshape(n, k)
    prob = raw / raw.sum(axis=1, keepdims=True) if n else raw
    scores = prob[:, 1] if k == 2 else prob
    result = classification_performance(
        np.array(y, dtype=object), pred, scores=scores, labels=list(range(k)), n_bootstrap=30
    )
    assert result.n_labelled == sum(v is not None for v in y)
    for m in result.metrics:
        if math.isnan(m.value):
            assert m.reason is not None, m.name
        elif not math.isnan(m.lower):
            assert m.lower <= m.value <= m.upper, m.name
        else:
            assert m.reason is not None, m.name
