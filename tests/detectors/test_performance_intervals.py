"""detectors.performance: the interval machinery against independent oracles (scipy's
Wilson interval, DeLong's variance computed pair by pair, sklearn's metrics with
``sample_weight`` for every bootstrap statistic) and against known truths by simulation;
the ECE against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm

from detectors.performance import classification_performance, counts, intervals, ranking
from detectors.performance.probabilistic import row_losses

TOL = 1e-12


# --- Wilson ----------------------------------------------------------------------------------


@given(n=st.integers(1, 500), data=st.data(), confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
@settings(max_examples=200, deadline=None)
def test_wilson_equals_scipy(n: int, data: st.DataObject, confidence: float) -> None:
    k = data.draw(st.integers(0, n))
    expected = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    low, high = intervals.wilson(k, n, confidence)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)
    assert low <= k / n <= high


def test_wilson_of_no_rows_is_undefined() -> None:
    assert all(math.isnan(b) for b in intervals.wilson(0, 0, 0.95))


# --- DeLong ----------------------------------------------------------------------------------


def _delong_pairwise(scores: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """DeLong et al. (1988) straight from the definition, all pairs: psi(x, y) = 1, 1/2, 0
    as the positive scores above, level with, below the negative."""
    x, y = scores[positive], scores[~positive]
    psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
    auc = psi.mean()
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    var = v10.var(ddof=1) / x.size + v01.var(ddof=1) / y.size
    return float(auc), float(var)


@pytest.mark.parametrize("seed", range(4))
def test_delong_variance_equals_the_pairwise_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    positive = rng.random(n) < 0.3
    scores = np.round(rng.normal(size=n) + positive, 1)  # ties
    p = ranking.placements(scores, positive)
    assert p is not None
    auc, var = _delong_pairwise(scores, positive)
    assert p.auc == pytest.approx(auc, abs=TOL)
    assert ranking.delong_variance(p) == pytest.approx(var, rel=1e-10)


def test_delong_interval_covers_the_true_auc() -> None:
    # Scores N(0, 1) for negatives and N(1, 1) for positives: AUC = Phi(1 / sqrt(2)).
    truth = stats.norm.cdf(1.0 / math.sqrt(2.0))
    rng = np.random.default_rng(20)
    covered = 0
    for _ in range(300):
        y = rng.integers(0, 2, 200)
        scores = rng.normal(size=200) + y
        auc = classification_performance(y, y, scores=scores, n_bootstrap=10).metric("roc_auc")
        covered += auc.lower <= truth <= auc.upper
    assert 0.90 <= covered / 300 <= 0.99


def test_multiclass_delong_variance_matches_the_spread_across_windows() -> None:
    # The delta-method variance of the one-vs-rest macro AUC against the variance of the
    # AUC over independent windows of the same process.
    rng = np.random.default_rng(21)
    aucs, variances = [], []
    for _ in range(400):
        y = rng.integers(0, 3, 300)
        logits = rng.normal(size=(300, 3))
        logits[np.arange(300), y] += 1.0
        prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        result = ranking.macro_ovr(prob, y)
        assert result is not None
        assert result[0] == pytest.approx(skm.roc_auc_score(y, prob, multi_class="ovr"), abs=TOL)
        aucs.append(result[0])
        variances.append(result[1])
    assert math.sqrt(np.mean(variances)) == pytest.approx(np.std(aucs), rel=0.12)


# --- bootstrap statistics: each resample is a weighted metric --------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_weighted_average_precision_equals_sklearn_with_sample_weight(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    positive = rng.random(n) < 0.35
    scores = np.round(rng.random(n) + 0.3 * positive, 2)
    layout = ranking.pr_layout(scores, positive)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=3)  # three resamples
    got = ranking.average_precision(weights[:, layout.order], layout)
    for row, value in zip(weights, got, strict=True):
        expected = skm.average_precision_score(positive, scores, sample_weight=row)
        assert value == pytest.approx(expected, abs=TOL)


def test_weighted_losses_equal_sklearn_with_sample_weight() -> None:
    rng = np.random.default_rng(4)
    n, k = 500, 4
    y = rng.integers(0, k, n)
    prob = rng.dirichlet(np.ones(k), n)
    losses = row_losses(prob, y, bins=10, binary=False)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=3)
    got = losses.weighted(weights)
    for r, row in enumerate(weights):
        assert got["log_loss"][r] == pytest.approx(
            skm.log_loss(y, y_proba=prob, sample_weight=row), abs=TOL
        )
        assert got["brier"][r] == pytest.approx(
            skm.brier_score_loss(y, prob, sample_weight=row, scale_by_half=False), abs=TOL
        )
        # ECE of the resample = ECE of the rows repeated by their counts.
        repeated = row_losses(
            np.repeat(prob, row, axis=0), np.repeat(y, row), bins=10, binary=False
        )
        ones = np.ones((1, n), dtype=np.int64)
        assert got["ece"][r] == pytest.approx(repeated.weighted(ones)["ece"][0], abs=TOL)


def test_cell_resampling_gives_tables_of_n_rows() -> None:
    table = np.array([[50, 10], [5, 35]])
    tables = counts.resample_tables(table, 2000, np.random.default_rng(0))
    assert tables.shape == (2000, 2, 2)
    assert np.all(tables.sum(axis=(1, 2)) == 100)
    # Each cell's count is Binomial(100, cell share): mean and variance.
    np.testing.assert_allclose(tables.mean(axis=0), table, rtol=0.05)
    np.testing.assert_allclose(tables[:, 0, 0].var(), 100 * 0.5 * 0.5, rtol=0.1)


@pytest.mark.parametrize("n", [1, 7, 5000, 150_000])
def test_resample_counts_are_multinomial_counts_of_n_rows(n: int) -> None:
    chunks = list(intervals.resample_counts(n, 37, np.random.default_rng(1)))
    allc = np.concatenate(chunks)
    assert allc.shape == (37, n)
    assert np.all(allc.sum(axis=1) == n)
    assert allc.min() >= 0


# --- percentile and basic intervals ----------------------------------------------------------


def test_percentile_and_basic_intervals() -> None:
    reps = np.arange(1001, dtype=float) / 1000.0  # 0.000 .. 1.000
    low, high, reason = intervals.percentile(reps, 0.5, 0.95)
    assert (low, high, reason) == (pytest.approx(0.025), pytest.approx(0.975), None)
    # The basic interval reflects the replicates around the estimate.
    # Replicates 0.2 above the estimate on average: [2 * 0.5 - 1.175, 2 * 0.5 - 0.225].
    low, high, _ = intervals.percentile(reps + 0.2, 0.5, 0.95, basic=True)
    assert (low, high) == (pytest.approx(-0.175), pytest.approx(0.775))
    # Widened to include the estimate when every replicate lies on one side.
    low, high, _ = intervals.percentile(reps + 2.0, 0.5, 0.95)
    assert low == 0.5
    # Undefined when fewer than half of the resamples define the metric.
    half = np.where(np.arange(1001) % 3 == 0, reps, np.nan)
    low, high, reason = intervals.percentile(half, 0.5, 0.95)
    assert math.isnan(low)
    assert math.isnan(high)
    assert (
        reason
        == "interval undefined: the metric is defined in only 334 of 1001 bootstrap resamples"
    )


# --- order-statistic quantile interval -------------------------------------------------------


def test_quantile_interval_covers_the_true_quantile() -> None:
    # |N(0, 1)| errors: the q quantile is Phi^-1((1 + q) / 2).
    rng = np.random.default_rng(22)
    for q in (0.5, 0.9):
        truth = stats.norm.ppf((1.0 + q) / 2.0)
        covered = 0
        for _ in range(300):
            errors = np.sort(np.abs(rng.normal(size=200)))
            low, high = intervals.quantile_bounds(errors, q, 0.95, floor=0.0)
            covered += low <= truth <= high
        # Distribution-free: at least the nominal level (discreteness makes it a bit more).
        assert 0.93 <= covered / 300 <= 1.0, q


def test_quantile_interval_uses_the_textbook_ranks() -> None:
    # The 95% interval of the median of 20 values is [x(6), x(15)] (coverage 95.9%).
    errors = np.arange(1.0, 21.0)
    assert intervals.quantile_bounds(errors, 0.5, 0.95, floor=0.0) == (6.0, 15.0)
    # Of 5 values, even [min, max] covers the median only 1 - 2/32 = 93.75% of the time:
    # no 95% interval exists, so it is [floor, inf).
    few = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    assert intervals.quantile_bounds(few, 0.5, 0.95, floor=0.0) == (0.0, math.inf)
    low, high = intervals.quantile_bounds(few, 0.99, 0.95, floor=0.0)
    assert (low, high) == (0.4, math.inf)


# --- ECE, by hand ----------------------------------------------------------------------------


def test_binary_ece_by_hand() -> None:
    # score, label -> confidence, predicted, correct, bin (0.1 wide, right-closed)
    # 0.95, 1 -> 0.95, 1, 1, bin 9
    # 0.92, 0 -> 0.92, 1, 0, bin 9
    # 0.65, 1 -> 0.65, 1, 1, bin 6
    # 0.25, 0 -> 0.75, 0, 1, bin 7
    # 0.50, 1 -> 0.50, 0 (tie: first class), 0, bin 4
    # 0.55, 0 -> 0.55, 1, 0, bin 5
    # bins: 9: n=2 acc 1/2 conf 0.935; 6: acc 1 conf 0.65; 7: acc 1 conf 0.75;
    #       4: acc 0 conf 0.5; 5: acc 0 conf 0.55
    expected = (2 * 0.435 + 0.35 + 0.25 + 0.5 + 0.55) / 6
    y = [1, 0, 1, 0, 1, 0]
    s = [0.95, 0.92, 0.65, 0.25, 0.50, 0.55]
    pred = [1, 1, 1, 0, 0, 1]
    ece = classification_performance(y, pred, scores=s, n_bootstrap=50).metric("ece")
    assert ece.value == pytest.approx(expected, abs=TOL)
    # One bin: |accuracy - mean confidence| = |3/6 - 4.32/6| (argmax accuracy and confidence).
    one = classification_performance(y, pred, scores=s, ece_bins=1, n_bootstrap=50)
    assert one.metric("ece").value == pytest.approx(abs(3 / 6 - 4.32 / 6), abs=TOL)


def test_multiclass_ece_by_hand() -> None:
    prob = np.array(
        [
            [0.6, 0.3, 0.1],  # y 0: conf 0.6, right, bin 5: gap +0.4
            [0.2, 0.7, 0.1],  # y 2: conf 0.7, wrong, bin 6: gap -0.7
            [0.25, 0.25, 0.5],  # y 1: conf 0.5, wrong, bin 4: gap -0.5
            [0.1, 0.1, 0.8],  # y 2: conf 0.8, right, bin 7: gap +0.2
            [0.55, 0.4, 0.05],  # y 1: conf 0.55, wrong, bin 5: gap -0.55
        ]
    )
    y = [0, 2, 1, 2, 1]
    result = classification_performance(y, prob.argmax(axis=1), scores=prob, n_bootstrap=50)
    # bin 5: |0.4 - 0.55| = 0.15; bins 6, 4, 7: 0.7, 0.5, 0.2
    assert result.metric("ece").value == pytest.approx((0.15 + 0.7 + 0.5 + 0.2) / 5, abs=TOL)


def test_ece_interval_of_a_calibrated_model_reaches_down_to_zero() -> None:
    # Calibrated scores: the true ECE is ~0. The percentile interval of ECE sits above the
    # estimate; the basic one reaches down to it.
    rng = np.random.default_rng(23)
    covered = 0
    for _ in range(40):
        s = rng.random(2000)
        y = (rng.random(2000) < s).astype(int)
        ece = classification_performance(y, y, scores=s, n_bootstrap=200).metric("ece")
        assert ece.lower >= 0.0
        covered += ece.lower <= 0.002
    assert covered >= 28
