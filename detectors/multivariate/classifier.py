"""Domain classifier: can a model tell current rows from reference rows?"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # sklearn dependency

from detectors.multivariate.encoding import TOP_K, encoder_for
from detectors.multivariate.inputs import n_rows, resolve_columns, sample_rows
from detectors.multivariate.types import ClassifierDrift, ranked
from detectors.types import ColumnData

# 5,000 rows a side: 5 fits on 8,000 rows and one on 5,000, a few seconds on one core at
# 25 columns (bench/multivariate.py).
MAX_PER_SIDE = 5_000
FOLDS = 5
# The effect floor: an AUC of 0.55 is a classifier that ranks a random current row above
# a random reference row 55% of the time. With thousands of rows a side an AUC of 0.51 is
# significant, but no one would act on it (as the univariate policy's min_effect).
MIN_AUC = 0.55
BOOSTING_ROUNDS = 100
# Small trees: with many unchanged columns the default 31-leaf trees fit noise, which
# washes out a small shift (one of 25 columns moved 0.15 sd: out-of-fold AUC 0.50-0.52
# with 31 leaves, 0.51-0.53 with 4, the best rule's being 0.54), and cost 3x the time.
# Four leaves still model interactions of two or three columns (a correlation break).
MAX_LEAF_NODES = 4
# HistGradientBoosting takes at most 255 categories per feature (its max_bins): the top k
# plus "other" and "missing".
MAX_TOP_K = 253
# The model's OpenMP threads, for the call. One: at this size a fit takes a fraction of a
# second, and when the cores are busy with other work (a monitor runs detectors side by
# side) OpenMP's waiting threads made the same call 2-15x slower on the 2-core benchmark
# machine (1.5 s on one thread, 4-27 s on two, same result).
THREADS = 1
_Vector = npt.NDArray[np.float64]


def classifier_drift(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData],
    *,
    kinds: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    min_auc: float = MIN_AUC,
    max_per_side: int = MAX_PER_SIDE,
    folds: int = FOLDS,
    top_k: int = TOP_K,
    seed: int = 0,
) -> ClassifierDrift:
    """Cross-validated ROC AUC of a classifier labelling reference rows 0, current rows 1.

    At most ``max_per_side`` rows a side are drawn uniformly without replacement. The
    columns go through the shared encoder fitted on the whole reference
    (:mod:`detectors.multivariate.encoding`), one feature per column: a numerical column
    standardised with NaN for missing (the model learns where missing values go), a
    categorical one as its category code (``top_k`` categories, "other", "missing"),
    declared categorical to the model. The model is scikit-learn's
    ``HistGradientBoostingClassifier`` (100 rounds of 4-leaf trees, no early stopping,
    other settings its defaults), fitted on one OpenMP thread (``THREADS``);
    ``folds`` stratified folds give every row an out-of-fold score.

    ``auc`` is the ROC AUC of the out-of-fold scores: every row scored by a model that
    did not see it, the estimate of how separable the two sides are; ``min_auc`` applies
    to it. ``p_value`` tests ``AUC > 0.5`` on a separate split: a model fitted on a
    stratified half of the rows scores the other half (``holdout_auc``), and the
    one-sided Mann-Whitney p-value of those scores (U's normal approximation with the tie
    correction; AUC = U / (n0 n1)) is exact under the null, the model being fixed and
    the held-out rows exchangeable. The out-of-fold AUC is not: each fold's model fitted
    the other folds' labels, and under the null the folds' AUCs are positively
    correlated (about 0.2 between two of 5 folds), so its Mann-Whitney p-value falls
    below 0.05 in 7-13% of no-drift runs (200 rows a side), not 5%. ``drifted`` iff
    ``p_value <= alpha`` and ``auc >= min_auc``.

    Contributions: permutation importance on the held-out folds: each column in turn
    shuffled among each fold's held-out rows, scored by that fold's model; the
    contribution is the out-of-fold AUC minus the AUC so obtained; the column the
    classifier relies on most comes first.

    All randomness derives from ``seed``. ValueError for fewer than ``folds`` rows on a
    side, columns missing from ``current``, a reference column with no value, or a bad
    argument.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if not 0.5 <= min_auc <= 1.0:
        raise ValueError(f"min_auc must be in [0.5, 1], got {min_auc!r}")
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds!r}")
    if max_per_side < folds:
        raise ValueError(f"max_per_side must be >= folds ({folds}), got {max_per_side!r}")
    if top_k > MAX_TOP_K:
        raise ValueError(f"top_k must be <= {MAX_TOP_K} for the classifier, got {top_k!r}")
    columns, kinds_ = resolve_columns(reference, current, kinds)
    n_ref = n_rows("reference", reference, columns)
    n_cur = n_rows("current", current, columns)
    if min(n_ref, n_cur) < folds:
        raise ValueError(
            f"{folds}-fold cross-validation needs {folds} rows a side, got {n_ref} and {n_cur}"
        )
    encoder = encoder_for(reference, columns, kinds_, top_k=top_k)
    rng = np.random.default_rng(seed)
    x_ref = encoder.codes(reference, sample_rows(n_ref, max_per_side, rng))
    x_cur = encoder.codes(current, sample_rows(n_cur, max_per_side, rng))
    features = np.vstack([x_ref, x_cur])
    labels = np.concatenate([np.zeros(x_ref.shape[0]), np.ones(x_cur.shape[0])])
    categorical = np.array([k == "categorical" for k in kinds_])

    with threadpool_limits(limits=THREADS, user_api="openmp"):
        scores, shuffled_scores = _out_of_fold(features, labels, categorical, folds, rng)
        holdout_auc, p_value = _holdout_test(features, labels, categorical, rng)
    auc = auc_test(scores, labels)[0]
    drops = [auc - auc_test(shuffled_scores[c], labels)[0] for c in range(len(columns))]
    return ClassifierDrift(
        auc=auc,
        holdout_auc=holdout_auc,
        p_value=p_value,
        threshold=alpha,
        min_auc=min_auc,
        drifted=p_value <= alpha and auc >= min_auc,
        folds=folds,
        max_per_side=max_per_side,
        n_reference=n_ref,
        n_current=n_cur,
        n_reference_used=x_ref.shape[0],
        n_current_used=x_cur.shape[0],
        contributions=ranked(columns, kinds_, drops),
    )


def _out_of_fold(
    features: npt.NDArray[np.float64],
    labels: _Vector,
    categorical: npt.NDArray[np.bool_],
    folds: int,
    rng: np.random.Generator,
) -> tuple[_Vector, npt.NDArray[np.float64]]:
    """Out-of-fold scores, and per column the out-of-fold scores with that column
    shuffled among each fold's held-out rows (rows: columns)."""
    n_columns = features.shape[1]
    scores = np.empty(labels.size)
    shuffled_scores = np.empty((n_columns, labels.size))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=_sub_seed(rng))
    for train, test in split.split(features, labels):
        model = _fit(features[train], labels[train], categorical, rng)
        held_out = features[test]
        scores[test] = model.predict_proba(held_out)[:, 1]
        # One copy of the held-out rows per column, that column shuffled; one predict call.
        copies = np.repeat(held_out[None, :, :], n_columns, axis=0)
        for c in range(n_columns):
            copies[c, :, c] = held_out[rng.permutation(test.size), c]
        shuffled = model.predict_proba(copies.reshape(-1, n_columns))[:, 1]
        shuffled_scores[:, test] = shuffled.reshape(n_columns, test.size)
    return scores, shuffled_scores


def _holdout_test(
    features: npt.NDArray[np.float64],
    labels: _Vector,
    categorical: npt.NDArray[np.bool_],
    rng: np.random.Generator,
) -> tuple[float, float]:
    """``auc_test`` of a model fitted on a stratified half, on the other half."""
    split = StratifiedKFold(n_splits=2, shuffle=True, random_state=_sub_seed(rng))
    train, test = next(split.split(features, labels))
    model = _fit(features[train], labels[train], categorical, rng)
    return auc_test(model.predict_proba(features[test])[:, 1], labels[test])


def _fit(
    features: npt.NDArray[np.float64],
    labels: _Vector,
    categorical: npt.NDArray[np.bool_],
    rng: np.random.Generator,
) -> HistGradientBoostingClassifier:
    model = HistGradientBoostingClassifier(
        max_iter=BOOSTING_ROUNDS,
        max_leaf_nodes=MAX_LEAF_NODES,
        early_stopping=False,
        categorical_features=categorical if categorical.any() else None,
        random_state=_sub_seed(rng),
    )
    return model.fit(features, labels)


def auc_test(scores: _Vector, labels: _Vector) -> tuple[float, float]:
    """``(auc, p)``: the ROC AUC of ``scores`` for ``labels`` (1 positive, 0 negative) and
    the one-sided p-value of ``auc > 0.5``.

    ``auc = U / (n0 n1)`` with U the Mann-Whitney statistic of the positives (ties count
    one half); ``p = P(Z >= (U - n0 n1 / 2) / sd)`` with
    ``sd^2 = n0 n1 / 12 * ((N + 1) - sum(t^3 - t) / (N (N - 1)))`` over the groups of
    ``t`` tied scores: scipy's ``mannwhitneyu(..., alternative="greater",
    use_continuity=False, method="asymptotic")``. Every score tied: auc 0.5, p 1.
    """
    positive = labels == 1.0
    n1 = int(np.count_nonzero(positive))
    n0 = labels.size - n1
    ranks = stats.rankdata(scores)
    u = float(ranks[positive].sum()) - n1 * (n1 + 1) / 2.0
    auc = u / (n0 * n1)
    total = labels.size
    _, ties = np.unique(scores, return_counts=True)
    tie_term = float((ties.astype(np.float64) ** 3 - ties).sum()) / (total * (total - 1))
    variance = n0 * n1 / 12.0 * ((total + 1) - tie_term)
    if variance <= 0.0:
        return auc, 1.0
    z = (u - n0 * n1 / 2.0) / np.sqrt(variance)
    return auc, float(stats.norm.sf(z))


def _sub_seed(rng: np.random.Generator) -> int:
    """A seed for scikit-learn (which takes integers below 2^32) drawn from ``rng``."""
    return int(rng.integers(0, 2**32 - 1))
