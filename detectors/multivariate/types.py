"""Result types of the multivariate detectors: frozen, self-explaining, free of I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from detectors.types import Kind


@dataclass(frozen=True, slots=True)
class Contribution:
    """One original column's part in a multivariate verdict.

    ``value`` is the method's own measure (each result type says which); ``share`` is
    ``value`` over the sum of the positive values of all columns (0 when none is
    positive), so the positive shares add up to 1 and a column that works against the
    verdict has a share of 0 or below.
    """

    column: str
    kind: Kind
    value: float
    share: float


class _Explained:
    """What the three results share: contributions, largest first, and their columns."""

    __slots__ = ()
    contributions: tuple[Contribution, ...]

    @property
    def top_columns(self) -> tuple[str, ...]:
        """Column names, largest contribution first."""
        return tuple(c.column for c in self.contributions)


@dataclass(frozen=True, slots=True)
class MMDDrift(_Explained):
    """Maximum mean discrepancy between the encoded reference and current rows.

    ``statistic`` is the unbiased MMD^2 with a Gaussian RBF kernel
    ``exp(-||a - b||^2 / (2 bandwidth^2))`` on at most ``max_per_side`` rows a side
    (``n_reference_used``, ``n_current_used``); ``p_value`` is
    ``(1 + #{permuted MMD^2 >= statistic}) / (1 + permutations)``; ``drifted`` is
    ``p_value <= threshold``. ``contributions``: each column's MMD^2 alone (its own
    encoded columns, its own median-heuristic bandwidth, the same rows), largest first.
    """

    statistic: float
    p_value: float
    threshold: float
    drifted: bool
    bandwidth: float
    permutations: int
    max_per_side: int
    n_reference: int
    n_current: int
    n_reference_used: int
    n_current_used: int
    contributions: tuple[Contribution, ...]
    method: str = "mmd"


@dataclass(frozen=True, slots=True)
class ClassifierDrift(_Explained):
    """How well a classifier tells current rows from reference rows.

    ``auc`` is the ROC AUC of out-of-fold scores (``folds`` stratified folds) of a
    gradient-boosting classifier trained to label current rows 1 and reference rows 0,
    on at most ``max_per_side`` rows a side. ``p_value`` is the one-sided Mann-Whitney
    p-value of ``AUC > 0.5`` for a model fitted on half the rows and scored on the other
    half (``holdout_auc``), exact under the null. ``drifted`` is
    ``p_value <= threshold and auc >= min_auc``. ``contributions``: each column's
    permutation importance, the drop in out-of-fold AUC when that column is shuffled
    within each held-out fold, largest first.
    """

    auc: float
    holdout_auc: float
    p_value: float
    threshold: float
    min_auc: float
    drifted: bool
    folds: int
    max_per_side: int
    n_reference: int
    n_current: int
    n_reference_used: int
    n_current_used: int
    contributions: tuple[Contribution, ...]
    method: str = "domain_classifier"


@dataclass(frozen=True, slots=True)
class ReconstructionDrift(_Explained):
    """PCA reconstruction error of the current window against the reference's range.

    ``error`` is the mean, over the window's rows, of the Euclidean distance between an
    encoded row and its reconstruction from the reference's first ``n_components``
    principal components (``variance_explained`` of the reference's variance, the
    smallest number reaching ``variance``). ``drifted`` is ``error`` outside
    ``[lower, upper] = reference_error -+ 3 * sd``, where ``reference_error`` and ``sd``
    come from ``threshold_from``: ``"chunks"`` (the mean and standard deviation of the
    errors of ``n_chunks`` consecutive reference chunks of ``window_size`` rows) or
    ``"sampling"`` (the mean error of all reference rows, and the standard error of a
    window's mean, ``std(row errors) * sqrt(1 / window_size + 1 / n_reference)``).
    ``contributions``: the change in each column's mean squared residual (its encoded
    columns summed), current minus reference, largest first.
    """

    error: float
    reference_error: float
    lower: float
    upper: float
    drifted: bool
    n_components: int
    variance_explained: float
    variance: float
    threshold_from: str
    n_chunks: int
    window_size: int
    n_reference: int
    n_current: int
    contributions: tuple[Contribution, ...]
    method: str = "pca_reconstruction"


def ranked(
    columns: Sequence[str], kinds: Sequence[Kind], values: Sequence[float]
) -> tuple[Contribution, ...]:
    """Contributions from one value per column, largest first (ties in column order)."""
    positive = sum(v for v in values if v > 0.0)
    rows = [
        Contribution(
            column=col,
            kind=kind,
            value=float(v),
            share=float(v) / positive if positive > 0.0 else 0.0,
        )
        for col, kind, v in zip(columns, kinds, values, strict=True)
    ]
    # sorted() is stable: equal values keep the column order.
    return tuple(sorted(rows, key=lambda c: -c.value))
