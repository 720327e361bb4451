"""Result types of the detectors: frozen, self-explaining, free of I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy.typing as npt

Kind = Literal["numerical", "categorical"]
# npt.ArrayLike does not admit None, but columns from JSON events are lists with nulls.
ColumnData = npt.ArrayLike | Sequence[object]
KINDS: frozenset[str] = frozenset({"numerical", "categorical"})


@dataclass(frozen=True, slots=True)
class StatResult:
    """Outcome of one stat test on one column.

    ``p_value`` is None for distances that have no null distribution. ``effect_size`` is the
    test's own effect-size measure (for example the KS D statistic, or the total variation
    distance); None means the test has none, which ``detect_drift`` refuses.
    """

    statistic: float
    p_value: float | None
    effect_size: float | None = None


@dataclass(frozen=True, slots=True)
class MissingRate:
    """The null-rate check of a numerical column in the default policy.

    Shares of missing values (None, NaN, +-inf) per side, the p-value of their change
    (:func:`detectors.proportions.missing_rate_change`), the smallest change that counts
    (``min_change``, absolute) and the verdict: ``p_value <= `` the run's corrected
    threshold and ``|current - reference| >= min_change``.
    """

    reference: float
    current: float
    p_value: float
    min_change: float
    drifted: bool


@dataclass(frozen=True, slots=True)
class ColumnDrift:
    """Drift verdict of one column, with every number the verdict was made from.

    ``threshold`` is the p-value threshold actually applied, after multiple-testing
    correction; ``min_effect`` the effect-size floor actually applied. ``n_reference`` and
    ``n_current`` count the rows of the column, missing values included.

    ``missing`` is the null-rate check of a numerical column in the default policy (None
    for categorical columns, whose tests count missing as a category, for columns with no
    missing value on either side, and in the evidently policy). ``drifted`` is true when
    the value test or the null-rate check says drift.
    """

    column: str
    kind: Kind
    method: str
    statistic: float
    p_value: float | None
    effect_size: float
    threshold: float
    min_effect: float
    n_reference: int
    n_current: int
    drifted: bool
    missing: MissingRate | None = None


@dataclass(frozen=True, slots=True)
class DriftResult:
    """Drift verdicts of all columns plus the dataset-level verdict.

    ``dataset_drift`` is ``drift_share >= share_threshold``.
    """

    columns: tuple[ColumnDrift, ...]
    drift_share: float
    dataset_drift: bool
    share_threshold: float

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        """Names of the drifted columns, in column order."""
        return tuple(c.column for c in self.columns if c.drifted)

    def by_column(self, name: str) -> ColumnDrift:
        """The verdict of column ``name``; KeyError naming it and the known columns."""
        for c in self.columns:
            if c.column == name:
                return c
        known = ", ".join(repr(c.column) for c in self.columns)
        raise KeyError(f"no column {name!r} in this result; columns: {known}")
