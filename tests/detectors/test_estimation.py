"""CBPE (detectors.estimation): label-free performance estimation of binary classifiers.

Oracles: scikit-learn (the metrics, IsotonicRegression), brute force over pairs (the
expected ROC AUC), hand-computed sums (the expected confusion matrix), and simulations
whose truth is known (labels drawn from known probabilities)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from detectors.estimation import CBPE, METRICS, EstimationResult
from detectors.estimation.metrics import expected, midranks


def _sklearn_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> list[float]:
    predicted = scores >= threshold
    return [
        accuracy_score(labels, predicted),
        precision_score(labels, predicted),
        recall_score(labels, predicted),
        f1_score(labels, predicted),
        roc_auc_score(labels, scores),
    ]


def _values(result: EstimationResult) -> list[float]:
    return [m.value for m in result.metrics]


# --- point estimates --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_with_certain_probabilities_the_estimates_are_the_realized_metrics(seed: int) -> None:
    # When every p_i is 0 or 1 the expected labels are the labels: each estimate must be
    # the metric sklearn computes from them (scores rounded so that there are ties).
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(400), 2)
    labels = (rng.random(400) < scores).astype(np.float64)
    predicted = (scores >= 0.4).astype(np.float64)
    confusion, metrics = expected(labels, predicted, midranks(scores))
    tn, fp, fn, tp = confusion_matrix(labels, predicted).ravel()
    assert (confusion.tp, confusion.fp, confusion.tn, confusion.fn) == (tp, fp, tn, fn)
    got = [metrics.value(m) for m in METRICS]
    assert got == pytest.approx(_sklearn_metrics(labels, scores, 0.4), abs=1e-12)


def test_expected_confusion_matrix_by_hand() -> None:
    scores = np.array([0.9, 0.6, 0.4, 0.1])
    model = CBPE.fit([0.0, 1.0], [0, 1], calibration="none")
    result = model.estimate(scores, draws=100)
    # p = scores; predictions 1, 1, 0, 0.
    c = result.confusion
    assert c.tp == pytest.approx(0.9 + 0.6)
    assert c.fp == pytest.approx(0.1 + 0.4)
    assert c.fn == pytest.approx(0.4 + 0.1)
    assert c.tn == pytest.approx(0.6 + 0.9)
    assert result.accuracy.value == pytest.approx((1.5 + 1.5) / 4)
    assert result.precision.value == pytest.approx(1.5 / 2)
    assert result.recall.value == pytest.approx(1.5 / 2.0)
    assert result.f1.value == pytest.approx(3.0 / (3.0 + 0.5 + 0.5))


def test_expected_roc_auc_is_the_ratio_of_expected_pair_counts() -> None:
    # Brute force over ordered pairs i != j: E[U] = sum p_i (1 - p_j) H(s_i - s_j), H(0)=1/2,
    # E[positives * negatives] = sum p_i (1 - p_j).
    rng = np.random.default_rng(7)
    scores = np.round(rng.random(60), 1)  # many ties
    p = rng.random(60)
    num = den = 0.0
    for i, j in itertools.permutations(range(60), 2):
        w = p[i] * (1 - p[j])
        den += w
        num += w * (1.0 if scores[i] > scores[j] else 0.5 if scores[i] == scores[j] else 0.0)
    predicted = (scores >= 0.5).astype(np.float64)
    _, metrics = expected(p, predicted, midranks(scores))
    assert metrics.roc_auc == pytest.approx(num / den, rel=1e-12)


def test_reference_metrics_are_sklearns() -> None:
    rng = np.random.default_rng(1)
    scores = np.round(rng.random(3000), 3)
    labels = rng.random(3000) < scores**2
    model = CBPE.fit(scores, labels, threshold=0.3, resamples=0)
    got = [model.reference.value(m) for m in METRICS]
    assert got == pytest.approx(_sklearn_metrics(labels, scores, 0.3), abs=1e-12)
    result = model.estimate(scores[:500])
    assert [m.reference for m in result.metrics] == got
    assert result.accuracy.change == result.accuracy.value - result.accuracy.reference


def test_calibration_is_sklearns_isotonic_regression_clipped() -> None:
    rng = np.random.default_rng(2)
    scores = rng.normal(size=2000)  # not probabilities: isotonic maps them
    labels = rng.random(2000) < 1 / (1 + np.exp(-2 * scores))
    model = CBPE.fit(scores, labels, calibration="isotonic", resamples=0)
    # The definition: sklearn's fit plus a 1 at the lowest and a 0 at the highest score,
    # each of weight 1/2.
    oracle = IsotonicRegression(out_of_bounds="clip").fit(
        np.r_[scores, scores.min(), scores.max()],
        np.r_[labels, 1.0, 0.0],
        sample_weight=np.r_[np.ones(scores.size), 0.5, 0.5],
    )
    new = np.concatenate([rng.normal(size=500) * 2, [-10.0, 10.0]])
    assert model.calibrate(new) == pytest.approx(oracle.predict(new), abs=1e-12)
    # Away from the two end blocks that is sklearn's plain fit.
    plain = IsotonicRegression(out_of_bounds="clip").fit(scores, labels).predict(new)
    inner = (plain > 0.0) & (plain < 1.0)
    assert inner.sum() > 250
    assert model.calibrate(new)[inner] == pytest.approx(plain[inner], abs=1e-12)


def test_calibration_never_claims_certainty_at_the_ends() -> None:
    # Plain isotonic regression fits 0 to the lowest five and 1 to the highest five; the
    # half pseudo-label at each end makes those blocks 0.5/5.5 and 5/5.5.
    scores = np.arange(10.0)
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    model = CBPE.fit(scores, labels, calibration="isotonic", threshold=4.5)
    probabilities = model.calibrate([-1.0, 0.0, 4.0, 5.0, 9.0, 20.0])
    assert probabilities == pytest.approx([0.5 / 5.5] * 3 + [5 / 5.5] * 3)
    result = model.estimate(scores, draws=200)
    assert result.accuracy.value == pytest.approx(5 / 5.5)
    assert result.accuracy.lower < result.accuracy.upper


def test_isotonic_calibration_recovers_the_true_performance_of_miscalibrated_scores() -> None:
    # Truth known: P(y=1 | s) = s**2, so raw scores overstate the positive class. The
    # expected accuracy of the window is computable from the truth, and CBPE must find it;
    # taking the raw scores as probabilities must not.
    rng = np.random.default_rng(3)
    ref = rng.random(20_000)
    model = CBPE.fit(ref, rng.random(ref.size) < ref**2)
    assert model.calibration == "isotonic"
    assert model.brier_raw is not None
    assert model.brier_isotonic < model.brier_raw
    window = rng.random(5000) ** 0.7  # covariate shift towards high scores
    q = window**2
    predicted = window >= 0.5
    truth = float(np.mean(np.where(predicted, q, 1 - q)))
    error = abs(model.estimate(window).accuracy.value - truth)
    assert error < 0.01
    raw = CBPE.fit(ref, rng.random(ref.size) < ref**2, calibration="none")
    # Raw scores: E[accuracy] = mean(max(s, 1 - s)), 0.03 above the truth here.
    assert abs(raw.estimate(window).accuracy.value - truth) > max(0.02, 3 * error)


def test_auto_keeps_scores_that_are_calibrated_already() -> None:
    rng = np.random.default_rng(4)
    scores = rng.random(20_000)
    model = CBPE.fit(scores, rng.random(scores.size) < scores)
    assert model.calibration_requested == "auto"
    assert model.calibration == "none"
    assert model.brier_raw is not None
    assert model.brier_raw <= model.brier_isotonic
    assert model.resampled == ()


def test_auto_calibrates_scores_that_are_not_probabilities() -> None:
    rng = np.random.default_rng(5)
    margins = rng.normal(size=1000) * 3
    model = CBPE.fit(margins, rng.random(1000) < 1 / (1 + np.exp(-margins)), threshold=0.0)
    assert model.calibration == "isotonic"
    assert model.brier_raw is None


# --- intervals --------------------------------------------------------------------------------


def test_intervals_cover_the_realized_metrics_when_the_calibration_holds() -> None:
    # Labels drawn from the scores themselves: the scores are the truth, so the realized
    # metric of each window should fall in its 95% interval about 95% of the time
    # (200 windows: a binomial sd of 1.5 points; an interval half as wide would cover ~68%).
    rng = np.random.default_rng(6)
    ref = rng.beta(2, 3, 5000)
    model = CBPE.fit(ref, rng.random(ref.size) < ref, calibration="none")
    hits = np.zeros(len(METRICS))
    errors = np.zeros(len(METRICS))
    windows = 200
    for w in range(windows):
        scores = rng.beta(2, 3, 300)
        labels = rng.random(300) < scores
        result = model.estimate(scores, draws=400, seed=w)
        real = _sklearn_metrics(labels, scores, 0.5)
        for i, m in enumerate(result.metrics):
            hits[i] += m.lower <= real[i] <= m.upper
            errors[i] += m.value - real[i]
    coverage = hits / windows
    assert np.all(coverage >= 0.90), dict(zip(METRICS, coverage, strict=True))
    assert np.all(coverage <= 0.99), dict(zip(METRICS, coverage, strict=True))
    # No bias either: the mean error is within noise (per-window sd is ~0.03 at most).
    assert np.all(np.abs(errors / windows) < 0.01), dict(zip(METRICS, errors, strict=True))


def test_normal_approximation_matches_exact_draws_on_a_large_window() -> None:
    rng = np.random.default_rng(8)
    ref = rng.random(4000)
    model = CBPE.fit(ref, rng.random(ref.size) < ref**1.5, resamples=10)
    window = rng.random(20_000)
    exact = model.estimate(window, draws=400, interval="exact")
    normal = model.estimate(window, draws=400, interval="normal")
    assert (exact.interval, normal.interval) == ("exact", "normal")
    assert _values(exact) == _values(normal)
    for e, n in zip(exact.metrics, normal.metrics, strict=True):
        width = e.upper - e.lower
        assert n.lower == pytest.approx(e.lower, abs=0.15 * width)
        assert n.upper == pytest.approx(e.upper, abs=0.15 * width)
    assert model.estimate(window, draws=1001).interval == "normal"  # 2e7 cells exceeded
    assert model.estimate(window, draws=1000).interval == "exact"


def test_bootstrap_calibrators_widen_the_interval_for_a_small_reference() -> None:
    # A 300-row reference leaves the calibration uncertain; on a window of 5,000 rows that
    # uncertainty is larger than the labels' own noise, and the interval must show it.
    rng = np.random.default_rng(9)
    ref = rng.random(300)
    labels = rng.random(ref.size) < ref**2
    window = rng.random(5000)
    plain = CBPE.fit(ref, labels, calibration="isotonic", resamples=0).estimate(window)
    boot = CBPE.fit(ref, labels, calibration="isotonic", resamples=50).estimate(window)
    assert (plain.resamples, boot.resamples) == (0, 50)
    assert _values(plain) == _values(boot)  # the point estimates use the full reference
    width = boot.accuracy.upper - boot.accuracy.lower
    assert width > 1.5 * (plain.accuracy.upper - plain.accuracy.lower)


def test_seeded_and_reproducible() -> None:
    rng = np.random.default_rng(10)
    ref = rng.random(2000)
    labels = rng.random(ref.size) < ref
    window = rng.random(500)
    a = CBPE.fit(ref, labels, calibration="isotonic").estimate(window, seed=3)
    b = CBPE.fit(ref, labels, calibration="isotonic").estimate(window, seed=3)
    c = CBPE.fit(ref, labels, calibration="isotonic").estimate(window, seed=4)
    assert a == b
    assert _values(a) == _values(c)
    assert a.accuracy.lower != c.accuracy.lower or a.accuracy.upper != c.accuracy.upper


# --- edges ------------------------------------------------------------------------------------


def test_undefined_metrics_are_nan_without_warnings() -> None:
    rng = np.random.default_rng(11)
    ref = rng.random(1000)
    model = CBPE.fit(ref, rng.random(ref.size) < ref, calibration="none")
    result = model.estimate(np.full(50, 0.2))  # nothing predicted positive
    assert np.isnan(result.precision.value)
    assert np.isnan(result.precision.lower)
    assert np.isnan(result.precision.upper)
    assert result.f1.value == 0.0  # defined: there are expected positives, none found
    assert result.roc_auc.value == pytest.approx(0.5)  # all scores tied
    assert result.confusion.tp == 0.0
    assert result.confusion.fn == pytest.approx(50 * 0.2)


@pytest.mark.parametrize("interval", ["exact", "normal"])
def test_roc_auc_of_tied_scores_is_one_half_and_of_one_row_undefined(interval: str) -> None:
    # Any labelling of tied scores has ROC AUC 0.5; one row has no pair at all. The normal
    # approximation must respect both (whole counts, the positives' mean rank kept).
    model = CBPE.fit([0.1, 0.4, 0.6, 0.9], [0, 1, 0, 1], calibration="none")
    tied = model.estimate([0.7] * 30, draws=200, interval=interval).roc_auc
    assert (tied.value, tied.lower, tied.upper) == pytest.approx((0.5, 0.5, 0.5))
    single = model.estimate([0.7], draws=200, interval=interval).roc_auc
    assert np.isnan([single.value, single.lower, single.upper]).all()


def test_share_of_window_scores_outside_the_reference_range() -> None:
    model = CBPE.fit([0.2, 0.4, 0.6, 0.8], [0, 0, 1, 1], calibration="isotonic")
    assert model.score_range == (0.2, 0.8)
    result = model.estimate([0.1, 0.2, 0.5, 0.8, 0.9], draws=50)
    assert result.outside_reference == pytest.approx(2 / 5)


def test_inputs_are_not_modified_and_the_estimator_is_frozen() -> None:
    rng = np.random.default_rng(12)
    scores = rng.random(500)
    labels = rng.random(500) < scores
    window = rng.random(100)
    copies = scores.copy(), labels.copy(), window.copy()
    model = CBPE.fit(scores, labels, calibration="isotonic")
    model.estimate(window)
    assert np.array_equal(scores, copies[0])
    assert np.array_equal(labels, copies[1])
    assert np.array_equal(window, copies[2])
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.threshold = 0.3  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        model.calibrator.knots_y[0] = 1.0


def test_labels_may_be_booleans_ints_floats_or_python_objects() -> None:
    scores = [0.1, 0.4, 0.6, 0.9]
    fits = [
        CBPE.fit(scores, labels, calibration="none")
        for labels in ([False, False, True, True], [0, 0, 1, 1], [0.0, 0.0, 1.0, 1.0])
    ]
    objects = np.array([False, 0, 1, True], dtype=object)
    fits.append(CBPE.fit([0.1, 0.4, 0.6, 0.9], objects, calibration="none"))
    assert len({f.reference for f in fits}) == 1


def test_result_lookup() -> None:
    model = CBPE.fit([0.1, 0.4, 0.6, 0.9], [0, 1, 0, 1], calibration="none")
    result = model.estimate([0.3, 0.7], draws=20)
    assert [m.metric for m in result.metrics] == list(METRICS)
    assert result.by_metric("f1") is result.f1
    with pytest.raises(KeyError, match="no metric 'auc'"):
        result.by_metric("auc")


@pytest.mark.parametrize(
    ("scores", "labels", "kwargs", "message"),
    [
        ([0.1, 0.2], [1, 1], {}, r"reference_labels: one class only \(all 1\)"),
        ([0.1, 0.2, 0.3], [0, 1], {}, "differ in length: 3 vs 2"),
        ([0.1, np.nan, 0.3, np.nan], [0, 1, 0, 1], {}, r"2 of 4 values are NaN .*index 1"),
        ([0.1, np.inf], [0, 1], {}, r"reference_scores: 1 of 2 .*index 1: inf"),
        ([0.1, 0.5], [0, 2], {}, r"0/1 or booleans: 1 of 2 are not .*index 1: 2"),
        ([0.1, 0.5], ["no", "yes"], {}, r"index 0: 'no'"),
        ([0.1, 0.5], [0, np.nan], {}, r"index 1: nan"),
        ([-0.5, 1.5], [0, 1], {"calibration": "none"}, r"outside \[0, 1\] \(min -0.5, max 1.5\)"),
        ([0.1, 0.5], [0, 1], {"calibration": "platt"}, "unknown calibration 'platt'"),
        ([0.1, 0.5], [0, 1], {"threshold": float("nan")}, "threshold must be a finite"),
        ([0.1, 0.5], [0, 1], {"resamples": -1}, "resamples must be >= 0, got -1"),
        ([[0.1, 0.5]], [0, 1], {}, r"reference_scores must be 1-d, got shape \(1, 2\)"),
        ([], [], {}, "reference_scores is empty"),
        (["a", "b"], [0, 1], {}, "reference_scores must be numbers"),
    ],
)
def test_fit_errors_name_the_argument_and_the_bad_value(
    scores: list[object], labels: list[object], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CBPE.fit(scores, labels, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scores", "kwargs", "message"),
    [
        ([0.2, np.nan, np.nan], {}, r"scores: 2 of 3 values are NaN .*index 1: nan"),
        ([0.2, 1.2], {}, r"scores: values outside \[0, 1\] \(min 0.2, max 1.2\)"),
        ([], {}, "scores is empty"),
        ([0.2], {"confidence": 1.0}, r"confidence must be in \(0, 1\), got 1.0"),
        ([0.2], {"draws": 5}, "draws must be >= 10, got 5"),
        ([0.2], {"interval": "bootstrap"}, "unknown interval 'bootstrap'"),
    ],
)
def test_estimate_errors_name_the_argument_and_the_bad_value(
    scores: list[float], kwargs: dict[str, object], message: str
) -> None:
    model = CBPE.fit([0.1, 0.4, 0.6, 0.9], [0, 1, 0, 1], calibration="none")
    with pytest.raises(ValueError, match=message):
        model.estimate(scores, **kwargs)  # type: ignore[arg-type]
