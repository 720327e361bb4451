"""classifier_drift: its AUC test against scikit-learn and scipy, its verdicts on known truths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from detectors.multivariate import classifier_drift
from detectors.multivariate.classifier import auc_test
from detectors.types import ColumnData

Columns = dict[str, ColumnData]


def normal_columns(rng: np.random.Generator, n: int, k: int = 4) -> Columns:
    return {f"f{i}": rng.normal(size=n) for i in range(k)}


def test_auc_and_p_value_equal_roc_auc_score_and_mannwhitneyu() -> None:
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(300), np.ones(200)]
    # Rounded scores: many ties, which both the AUC and the variance must handle.
    scores = np.round(rng.normal(size=500) + 0.15 * labels, 1)
    auc, p = auc_test(scores, labels)
    assert auc == pytest.approx(roc_auc_score(labels, scores), rel=1e-12)
    expected = stats.mannwhitneyu(
        scores[labels == 1],
        scores[labels == 0],
        alternative="greater",
        use_continuity=False,
        method="asymptotic",
    )
    assert auc == pytest.approx(expected.statistic / (300 * 200), rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)
    # A classifier worse than chance is not drift: one-sided.
    worse, p_worse = auc_test(-scores, labels)
    assert worse == pytest.approx(1 - auc)
    assert p_worse > 0.5
    assert auc_test(np.zeros(10), np.r_[np.zeros(5), np.ones(5)]) == (0.5, 1.0)


def test_no_drift_gives_an_auc_near_one_half() -> None:
    rng = np.random.default_rng(2)
    result = classifier_drift(normal_columns(rng, 1500), normal_columns(rng, 1500))
    assert 0.45 <= result.auc <= 0.55
    assert not result.drifted
    assert result.p_value > 0.01
    assert (result.n_reference_used, result.n_current_used, result.folds) == (1500, 1500, 5)


def test_the_p_value_holds_its_level_with_no_drift() -> None:
    # The held-out half's p-value is exact under the null: about 5% of runs below 0.05
    # (40 runs: 2 expected, 6 allowed for binomial noise).
    p_values = []
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        reference, current = normal_columns(rng, 100, k=3), normal_columns(rng, 100, k=3)
        p_values.append(classifier_drift(reference, current, seed=seed).p_value)
    p = np.array(p_values)
    assert np.mean(p <= 0.05) <= 0.15
    assert 0.3 <= np.median(p) <= 0.7


def test_separable_data_gives_an_auc_near_one_and_names_the_column() -> None:
    rng = np.random.default_rng(3)
    reference, current = normal_columns(rng, 800), normal_columns(rng, 600)
    current["f2"] = current["f2"] + 8.0
    result = classifier_drift(reference, current)
    assert result.auc > 0.99
    assert result.p_value < 1e-30
    assert result.holdout_auc > 0.99
    assert result.drifted
    assert result.top_columns[0] == "f2"
    assert result.contributions[0].value > 0.4  # shuffling f2 leaves chance
    assert result.contributions[0].share > 0.9


def test_a_moderate_shift_among_mixed_columns_is_found_and_named() -> None:
    rng = np.random.default_rng(4)
    levels = np.array(["red", "green", "blue", None], dtype=object)

    def side(n: int, shifted: bool) -> Columns:
        cols = normal_columns(rng, n, k=5)
        cols["colour"] = rng.choice(levels, size=n, p=[0.4, 0.3, 0.2, 0.1])
        if shifted:
            cols["f1"] = cols["f1"] + 0.5
        return cols

    result = classifier_drift(side(2000, False), side(2000, True))
    assert result.drifted
    assert 0.55 < result.auc < 0.75
    assert result.top_columns[0] == "f1"


def test_a_categorical_share_change_is_found_and_named() -> None:
    rng = np.random.default_rng(5)
    levels = np.array(["a", "b", "c"], dtype=object)
    reference = normal_columns(rng, 2000, k=3)
    current = normal_columns(rng, 2000, k=3)
    reference["cat"] = rng.choice(levels, size=2000, p=[0.6, 0.3, 0.1])
    current["cat"] = rng.choice(levels, size=2000, p=[0.3, 0.3, 0.4])
    result = classifier_drift(reference, current)
    assert result.drifted
    assert result.top_columns[0] == "cat"
    assert result.contributions[0].kind == "categorical"


def test_a_numerical_null_rate_jump_is_drift() -> None:
    rng = np.random.default_rng(6)
    reference, current = normal_columns(rng, 2000, k=3), normal_columns(rng, 2000, k=3)
    f0 = np.asarray(current["f0"], dtype=float)
    f0[rng.random(2000) < 0.3] = np.nan
    current["f0"] = f0
    result = classifier_drift(reference, current)
    assert result.drifted
    assert result.top_columns[0] == "f0"


def test_small_effects_stay_below_the_auc_floor() -> None:
    rng = np.random.default_rng(7)
    reference, current = normal_columns(rng, 5000, k=2), normal_columns(rng, 5000, k=2)
    current["f0"] = current["f0"] + 0.15  # the best rule's AUC: Phi(0.15 / sqrt 2) ~ 0.54
    result = classifier_drift(reference, current)
    assert result.p_value <= 0.05
    assert result.auc < 0.55
    assert not result.drifted
    floor_lowered = classifier_drift(reference, current, min_auc=0.5)
    assert floor_lowered.drifted


def test_budget_and_seed() -> None:
    rng = np.random.default_rng(8)
    reference, current = normal_columns(rng, 900, k=2), normal_columns(rng, 300, k=2)
    result = classifier_drift(reference, current, max_per_side=250, folds=3)
    assert (result.n_reference, result.n_current) == (900, 300)
    assert (result.n_reference_used, result.n_current_used) == (250, 250)
    assert (result.max_per_side, result.folds) == (250, 3)
    assert classifier_drift(reference, current, max_per_side=250, folds=3) == result
    assert classifier_drift(reference, current, max_per_side=250, folds=3, seed=1) != result


def test_bad_input_is_a_value_error_naming_it() -> None:
    good: Columns = {"a": list(range(10)), "b": list(range(10))}
    with pytest.raises(
        ValueError, match=r"5-fold cross-validation needs 5 rows a side, got 10 and 3"
    ):
        classifier_drift(good, {"a": [1, 2, 3], "b": [1, 2, 3]})
    with pytest.raises(ValueError, match=r"reference is empty \(0 rows\)"):
        classifier_drift({"a": [], "b": []}, good)
    with pytest.raises(ValueError, match=r"min_auc must be in \[0.5, 1\], got 0.4"):
        classifier_drift(good, good, min_auc=0.4)
    with pytest.raises(ValueError, match=r"folds must be >= 2, got 1"):
        classifier_drift(good, good, folds=1)
    with pytest.raises(ValueError, match=r"top_k must be <= 253 for the classifier, got 300"):
        classifier_drift(good, good, top_k=300)
    with pytest.raises(ValueError, match=r"no columns in common"):
        classifier_drift(good, {"c": [1.0]})
