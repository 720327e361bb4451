"""Skew, data drift, prediction drift and target drift as signals of their own."""

from __future__ import annotations

import numpy as np
import pytest

from detectors import detect_drift
from detectors.signals import data_drift, prediction_drift, skew, target_drift

N = 3000


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator of its own for each test: the data a test sees must not depend on
    which tests ran before it (``-k``, ``--lf`` or a new test would change the draws)."""
    return np.random.default_rng(12)


def test_skew_and_drift_run_the_same_tests_and_say_which_signal_they_are(
    rng: np.random.Generator,
) -> None:
    train = {"x": rng.normal(0, 1, N), "c": rng.choice(["a", "b"], N)}
    serving = {"x": rng.normal(0.5, 1, N), "c": rng.choice(["a", "b"], N)}
    expected = detect_drift(train, serving, correction="bh")
    s = skew(train, serving, correction="bh")
    d = data_drift(train, serving, correction="bh")
    assert (s.signal, d.signal) == ("skew", "data_drift")
    assert s.result == expected == d.result
    assert s.result.drifted_columns == ("x",)


def test_prediction_drift_of_class_shares_and_scores(rng: np.random.Generator) -> None:
    ref_scores = rng.beta(2, 5, N)
    cur_scores = rng.beta(3, 3, N)  # scores moved up: more positives predicted
    res = prediction_drift(
        (ref_scores >= 0.5).astype(int),
        (cur_scores >= 0.5).astype(int),
        task="classification",
        reference_scores=ref_scores,
        current_scores=cur_scores,
    )
    assert res.signal == "prediction_drift"
    assert [c.column for c in res.result.columns] == ["prediction", "score"]
    assert res.result.by_column("prediction").method == "chisquare"
    assert res.result.by_column("score").method == "ks"
    assert res.result.drifted_columns == ("prediction", "score")


def test_prediction_drift_with_a_score_matrix_names_the_classes(rng: np.random.Generator) -> None:
    classes = ["cat", "dog", "eel"]
    ref = rng.dirichlet([5, 3, 2], N)
    cur = rng.dirichlet([5, 3, 2], N)
    cur_shifted = rng.dirichlet([2, 3, 5], N)
    stable = prediction_drift(
        np.take(classes, ref.argmax(1)),
        np.take(classes, cur.argmax(1)),
        task="classification",
        reference_scores=ref,
        current_scores=cur,
        classes=classes,
    )
    assert [c.column for c in stable.result.columns] == [
        "prediction",
        "score[cat]",
        "score[dog]",
        "score[eel]",
    ]
    assert stable.result.drifted_columns == ()
    moved = prediction_drift(
        np.take(classes, ref.argmax(1)),
        np.take(classes, cur_shifted.argmax(1)),
        task="classification",
        reference_scores=ref,
        current_scores=cur_shifted,
        classes=classes,
    )
    assert set(moved.result.drifted_columns) == {"prediction", "score[cat]", "score[eel]"}


def test_regression_prediction_drift_is_numerical(rng: np.random.Generator) -> None:
    res = prediction_drift(rng.normal(10, 2, N), rng.normal(10, 2, N), task="regression")
    col = res.result.by_column("prediction")
    assert (col.kind, col.method, col.drifted) == ("numerical", "ks", False)


def test_prediction_drift_refuses_inconsistent_scores() -> None:
    p = np.zeros(10, dtype=int)
    s = np.zeros((10, 2))
    with pytest.raises(ValueError, match="both sides or for neither"):
        prediction_drift(p, p, task="classification", reference_scores=s)
    with pytest.raises(ValueError, match="classes must name them, got None"):
        prediction_drift(p, p, task="classification", reference_scores=s, current_scores=s)
    with pytest.raises(ValueError, match="scores are for classification"):
        prediction_drift(p, p, task="regression", reference_scores=s[:, 0], current_scores=s[:, 0])
    with pytest.raises(
        ValueError, match="task must be one of classification, regression, got 'ranking'"
    ):
        prediction_drift(p, p, task="ranking")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"reference predictions must be 1-d, got shape \(10, 2\)"):
        prediction_drift(s, p, task="classification")


def test_target_drift_counts_only_labelled_rows(rng: np.random.Generator) -> None:
    labels = rng.choice(np.array(["fraud", "ok"], dtype=object), N, p=[0.1, 0.9])
    current = rng.choice(np.array(["fraud", "ok"], dtype=object), N, p=[0.1, 0.9])
    current[: N // 2] = None  # half the window's labels have not arrived yet
    res = target_drift(labels, current, task="classification")
    col = res.result.by_column("label")
    assert res.signal == "target_drift"
    assert (col.n_reference, col.n_current) == (N, N // 2)
    assert not col.drifted
    # As a feature, the same column would drift towards "missing": labels are not features.
    assert detect_drift({"label": labels}, {"label": current}).by_column("label").drifted


def test_target_drift_sees_a_changed_base_rate_and_a_moved_regression_target(
    rng: np.random.Generator,
) -> None:
    ref = rng.choice([0, 1], N, p=[0.9, 0.1])
    cur = rng.choice([0, 1], N, p=[0.8, 0.2])
    assert target_drift(ref, cur, task="classification").result.by_column("label").drifted
    y_ref = rng.normal(100, 10, N)
    y_cur = np.where(rng.random(N) < 0.3, np.nan, rng.normal(104, 10, N))
    col = target_drift(y_ref, y_cur, task="regression").result.by_column("label")
    assert col.kind == "numerical"
    assert col.missing is None  # unlabelled rows are not missing values
    assert col.drifted


def test_target_drift_without_labels_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"current has no labels yet \(3 rows, none labelled\)"):
        target_drift([1, 0, 1], [None, None, None], task="classification")
