"""Calibration of model scores into probabilities, fitted on a labelled reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression

Calibration = Literal["isotonic", "none"]
CALIBRATIONS = ("isotonic", "none", "auto")
AUTO_FOLDS = 5

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Calibrator:
    """A fitted map from scores to probabilities.

    ``"isotonic"``: scikit-learn's ``IsotonicRegression(out_of_bounds="clip")`` as its knots
    (``X_thresholds_``, ``y_thresholds_``): linear between knots, constant beyond the first
    and last (the reference's lowest and highest score), exactly what its ``predict``
    returns. Keeping the knots rather than the estimator keeps the result immutable.
    ``"none"``: the scores are the probabilities. The knot arrays are read-only; ``eq`` is
    identity, as arrays have no single truth value.
    """

    method: Calibration
    knots_x: FloatArray
    knots_y: FloatArray

    def __call__(self, scores: FloatArray) -> FloatArray:
        """Probabilities of the positive class for ``scores`` (a new array)."""
        if self.method == "none":
            return scores.copy()
        return np.interp(scores, self.knots_x, self.knots_y)


IDENTITY = Calibrator("none", np.empty(0), np.empty(0))


def isotonic(scores: FloatArray, labels: FloatArray) -> Calibrator:
    """Isotonic regression of ``labels`` on ``scores``, increasing, clipped outside, with
    one pseudo-label of the other class, of weight 1/2, at each end of the score range: a
    1 at the lowest score and a 0 at the highest.

    Why: only the first and last blocks of an isotonic fit can be exactly 0 or 1, and they
    are whenever the reference's most extreme labels are all one class, which claims a
    certainty that finitely many labels never show. A window whose scores crowd into such
    a block (a covariate shift towards the extremes) then gets over-confident estimates
    and zero-width intervals: in bench/estimation.py a 1.5 sd shift put 12-19% of each
    window in a top block fitted at exactly 1.0 whose true positive rate was 0.97-0.98.
    The half pseudo-count is the Jeffreys prior's; a block of m labels moves by at most
    about 1/(2m), so everywhere else the fit is sklearn's.
    """
    ends = np.array([scores.min(), scores.max()])
    fit = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(
        np.concatenate([scores, ends]),
        np.concatenate([labels, [1.0, 0.0]]),
        sample_weight=np.concatenate([np.ones(scores.size), [0.5, 0.5]]),
    )
    x = np.array(fit.X_thresholds_, dtype=np.float64)
    y = np.array(fit.y_thresholds_, dtype=np.float64)
    x.flags.writeable = False
    y.flags.writeable = False
    return Calibrator("isotonic", x, y)


def bootstrap(
    scores: FloatArray, labels: FloatArray, resamples: int, rng: np.random.Generator
) -> tuple[Calibrator, ...]:
    """Isotonic calibrators fitted on ``resamples`` bootstrap resamples of the reference:
    their spread is the calibration's own uncertainty from a reference of this size."""
    n = scores.size
    out = []
    for _ in range(resamples):
        rows = rng.integers(0, n, n)
        out.append(isotonic(scores[rows], labels[rows]))
    return tuple(out)


def out_of_fold_brier(
    scores: FloatArray, labels: FloatArray, rng: np.random.Generator
) -> tuple[float | None, float]:
    """Brier scores of the raw scores (None when they are not in [0, 1]) and of isotonic
    calibration predicted out of fold (``AUTO_FOLDS`` random folds).

    Out of fold because isotonic regression is the least-squares monotone fit: in sample
    it never has a higher Brier score than the raw scores, so the comparison would always
    choose it.
    """
    n = scores.size
    folds = rng.permutation(n) % min(AUTO_FOLDS, n)
    predicted = np.empty(n)
    for fold in range(int(folds.max()) + 1):
        held = folds == fold
        predicted[held] = isotonic(scores[~held], labels[~held])(scores[held])
    calibrated = float(np.mean((predicted - labels) ** 2))
    in_unit = bool(scores.min() >= 0.0 and scores.max() <= 1.0)
    raw = float(np.mean((scores - labels) ** 2)) if in_unit else None
    return raw, calibrated
