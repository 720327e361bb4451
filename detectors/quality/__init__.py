"""Data quality per column and window, against a profile of the baseline.

:meth:`QualityProfile.from_reference` profiles the baseline once (JSON via ``to_dict`` /
``from_dict``); :func:`data_quality` checks a window against it and returns a
:class:`QualityResult` with one :class:`ColumnQuality` per profile column.

Every row of a column is exactly one of: missing, infinite (numerical), a type error, or
checked. So ``n = missing + inf + type_errors + checked``.

- Missing: None, or NaN (float NaN, or any value unequal to itself). NaNs are also
  counted apart (``nan``, part of ``missing``); in a float64 column, where NaN stands for
  a JSON null, every missing value is one.
- Infinite (numerical): +-inf, and an integer too large for a float64.
- Type error, numerical column: a value that is not a number. Numbers are int and float,
  Python or numpy; bool is not one (as at ingest), nor a string such as "1.5".
- Type error, categorical column: a present value whose type class (string, integer,
  float, boolean; numpy scalars count as the Python type they stand for) the reference's
  present values never had, or a value of none of the four (a list, a dict, bytes).
  A reference of strings therefore makes ``3``, ``2.5`` and ``True`` type errors; a
  reference of integers makes ``"3"`` one. A reference with no present value accepts all
  four classes.
- Checked values: the finite numbers, or the categories that are neither missing nor type
  errors. Out-of-range and unseen rates are shares of these, not of ``n``.
- Out of range: a finite value below ``range_min`` or above ``range_max`` (inclusive
  range; None: no bound). The range is the schema's when ``ranges`` gave one (either
  bound may be None), else the reference's observed finite [min, max].
- Unseen category: a checked category (compared as its string, like the categorical stat
  tests: ``1`` and ``"1"`` are one) that the reference did not have. The profile keeps
  64-bit hashes of the reference's categories, at most ``max_categories`` (10,000, 80 KB);
  a collision (about 10^4 / 2^64 per new category) counts a new one as known. A column
  with more categories is high-cardinality: ``unseen`` is None.
- Constant: at least 2 values that are checked or infinite, all equal (a window of one
  value, or all missing, is not constant).
- Empty window (n = 0) or nothing checked: the rate is None, not NaN (JSON has no NaN),
  and so is its change; a check on a None rate does not fail.
"""

from __future__ import annotations

from detectors.quality.check import (
    CHECKS,
    ColumnQuality,
    QualityResult,
    QualityThresholds,
    Rate,
    data_quality,
)
from detectors.quality.profile import ColumnProfile, QualityProfile

__all__ = [
    "CHECKS",
    "ColumnProfile",
    "ColumnQuality",
    "QualityProfile",
    "QualityResult",
    "QualityThresholds",
    "Rate",
    "data_quality",
]
