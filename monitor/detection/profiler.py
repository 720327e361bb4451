"""The streaming builder of a baseline profile: column batches in, one profile out.

The data is read twice. Pass 1 (:meth:`ProfileBuilder.sample`) keeps a seeded uniform
reservoir of rows and, per categorical feature, the exact count of every category (up to
:data:`MAX_DISTINCT` distinct ones). Between the passes each feature's sketch layout is
fixed: numerical edges at the quantiles of the reservoir's values, the categorical top k
and known categories from the exact counts. Pass 2 (:meth:`ProfileBuilder.count`) sketches
every row on those layouts; sketches merge exactly, so the sketch, the summary statistics
and the data-quality profile are those of all the rows, whatever the batch sizes. Memory
is one batch plus the reservoir plus the category counts, never the data.

Profile (JSON, ``"format": 2``)::

    format, n_rows, sample_size, sample_seed,
    schema:   [{name, kind, range?, categories?}]   the version's schema
    features: {name: {kind, sample, layout, sketch, summary}}
    quality:  detectors.quality.QualityProfile.to_dict()

``sample`` lists the reservoir's values in row order (the same rows for every feature;
numbers as floats, missing and non-finite ones as null, as ingest stores them; categories
as strings). ``layout`` and ``sketch`` are ``detectors.sketches`` ``to_dict()`` forms.
``summary``: numerical ``count, missing, infinite, min, max, mean, std`` (exact: from the
sketch's exact sums; std is the population one, ddof 0) and ``quantiles`` p1 ... p99 (of
the reservoir: approximate); categorical ``count, missing, n_categories,
n_categories_exact`` and ``top``, the 10 most frequent categories with their exact count
and share of all rows.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors.quality import ColumnProfile, QualityProfile
from detectors.quality.profile import out_of_range
from detectors.quality.values import CATEGORY_CLASSES, CLASS_NAMES, STR
from detectors.sketches import (
    DEFAULT_BINS,
    DEFAULT_TOP_K,
    MAX_KNOWN,
    CategoricalLayout,
    Layout,
    NumericLayout,
    Sketch,
    label_hash,
    merge,
    sketch,
)
from detectors.stattests.chisquare import MISSING, label_counts
from monitor.detection.feature_values import (
    ColumnInput,
    FeatureValueError,
    FloatArray,
    categorical_values,
    numerical_values,
)
from monitor.detection.reservoir import RowReservoir

FORMAT = 2
MAX_SAMPLE = 20_000
# Exact category counts are kept up to this many distinct categories per feature (about
# 10 MB for long labels). Beyond it the feature is high-cardinality: its layout is open
# (top k taken from the reservoir) and its category count a lower bound.
MAX_DISTINCT = 100_000
TOP_SUMMARY = 10
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
ALL_VALUE_TYPES = tuple(CLASS_NAMES[c] for c in sorted(CATEGORY_CLASSES))

Columns = Mapping[str, ColumnInput]


class ProfileError(ValueError):
    """Data that cannot make a profile; the message names the feature (and row, value)."""


@dataclass
class _Feature:
    name: str
    kind: str
    range: tuple[float, float] | None
    sample: np.ndarray[Any, Any]
    counts: Counter[str] | None = field(default_factory=Counter)  # categorical, pass 1
    layout: Layout | None = None
    sketch: Sketch | None = None
    positive_inf: int = 0
    out_of_range: int = 0


class ProfileBuilder:
    """Builds the profile of one model version's reference data in two passes over the
    same rows in the same order: :meth:`sample` every batch, then :meth:`count` every
    batch, then :meth:`finish`. ``schema`` is the version's feature schema (``[{name,
    kind, range?, categories?}]``); each batch maps every schema feature, and nothing
    else, to its values (any number of rows, the same for all). The result depends on the
    rows, the seed and the options only, not on the batch sizes."""

    def __init__(
        self,
        schema: Sequence[Mapping[str, Any]],
        *,
        sample_size: int = MAX_SAMPLE,
        seed: int = 0,
        bins: int = DEFAULT_BINS,
        top_k: int = DEFAULT_TOP_K,
    ) -> None:
        self.schema = [dict(f) for f in schema]
        self.seed, self.bins, self.top_k = seed, bins, top_k
        self.reservoir = RowReservoir(sample_size, seed=seed)
        self.features: dict[str, _Feature] = {}
        for f in self.schema:
            name, kind = str(f["name"]), str(f["kind"])
            if kind not in ("numerical", "categorical"):
                raise ProfileError(f"feature {name!r}: unknown kind {kind!r}")
            bounds = f.get("range")
            self.features[name] = _Feature(
                name,
                kind,
                (float(bounds[0]), float(bounds[1])) if bounds else None,
                np.empty(sample_size, dtype=np.float64 if kind == "numerical" else object),
                Counter() if kind == "categorical" else None,
            )
        self.counted = 0
        self._laid_out = False

    def _convert(self, columns: Columns, first_row: int) -> tuple[dict[str, Any], int]:
        missing = [n for n in self.features if n not in columns]
        extra = [n for n in columns if n not in self.features]
        if missing or extra:
            raise ProfileError(
                f"baseline columns must be the schema's features: missing {missing}, "
                f"not in the schema {extra}"
            )
        out: dict[str, Any] = {}
        try:
            for name, f in self.features.items():
                convert = numerical_values if f.kind == "numerical" else categorical_values
                out[name] = convert(name, columns[name], first_row=first_row)
        except FeatureValueError as exc:
            raise ProfileError(str(exc)) from None
        lengths = {name: len(values) for name, values in out.items()}
        if len(set(lengths.values())) > 1:
            raise ProfileError(f"baseline columns differ in length: {lengths}")
        return out, next(iter(lengths.values()), 0)

    def sample(self, columns: Columns) -> None:
        """Pass 1: one batch of rows (the reservoir and the category counts)."""
        if self._laid_out:
            raise ProfileError("sample() after count(): pass 1 is over")
        values, n = self._convert(columns, self.reservoir.seen)
        placed = self.reservoir.offer(n)
        for name, f in self.features.items():
            f.sample[placed.slots] = values[name][placed.rows]
            if f.counts is not None:
                f.counts.update(label_counts(values[name]))
                if len(f.counts) - (MISSING in f.counts) > MAX_DISTINCT:
                    f.counts = None  # high-cardinality from now on

    def _sample_of(self, f: _Feature) -> np.ndarray[Any, Any]:
        order = np.argsort(self.reservoir.source_rows, kind="stable")
        return f.sample[: self.reservoir.filled][order]

    def _lay_out(self) -> None:
        for f in self.features.values():
            if f.kind == "numerical":
                f.layout = NumericLayout.from_reference(self._sample_of(f), bins=self.bins)
            elif f.counts is None:
                # High-cardinality: everything outside the reservoir's top k is "other".
                top = CategoricalLayout.from_reference(self._sample_of(f), top_k=self.top_k)
                f.layout = CategoricalLayout(top.categories, None)
            else:
                f.layout = _categorical_layout(f.counts, self.top_k)
            f.sketch = Sketch.empty(f.layout)
        self._laid_out = True

    def count(self, columns: Columns) -> None:
        """Pass 2: one batch of the same rows, in the same order (exact sketches)."""
        if not self._laid_out:
            self._lay_out()
        values, n = self._convert(columns, self.counted)
        for name, f in self.features.items():
            assert f.layout is not None
            assert f.sketch is not None
            column = values[name]
            f.sketch = merge(f.sketch, sketch(column, f.layout))
            if f.kind == "numerical":
                f.positive_inf += int(np.count_nonzero(column == np.inf))
                if f.range is not None:
                    # Of the finite values only, as QualityProfile counts them: +-inf are
                    # counted as infinite, not as out of range.
                    lo, hi = f.range
                    f.out_of_range += out_of_range(column[np.isfinite(column)], lo, hi)
        self.counted += n

    def finish(self) -> tuple[dict[str, Any], int]:
        """``(profile, n_rows)``. ProfileError when there were no rows, or pass 2 did not
        see the rows of pass 1 (the data changed between the passes)."""
        n_rows = self.reservoir.seen
        if n_rows == 0:
            raise ProfileError("no rows: a baseline needs at least one")
        if not self._laid_out:
            self._lay_out()
        if self.counted != n_rows:
            raise ProfileError(
                f"pass 1 read {n_rows} rows and pass 2 {self.counted}: the data changed "
                "between the two passes"
            )
        features: dict[str, Any] = {}
        quality: list[ColumnProfile] = []
        for name, f in self.features.items():
            assert f.layout is not None
            assert f.sketch is not None
            sample = self._sample_of(f)
            if f.kind == "numerical":
                finite = sample[np.isfinite(sample)]
                stored: list[Any] = [x if math.isfinite(x) else None for x in sample.tolist()]
                summary = _numerical_summary(f.sketch, finite)
                quality.append(_numerical_quality(f))
            else:
                stored = sample.tolist()
                summary = _categorical_summary(f)
                quality.append(_categorical_quality(f))
            features[name] = {
                "kind": f.kind,
                "sample": stored,
                "layout": f.layout.to_dict(),
                "sketch": f.sketch.to_dict(),
                "summary": summary,
            }
        profile = {
            "format": FORMAT,
            "n_rows": n_rows,
            "sample_size": self.reservoir.filled,
            "sample_seed": self.seed,
            "schema": self.schema,
            "features": features,
            "quality": QualityProfile(tuple(quality)).to_dict(),
        }
        return profile, n_rows


def _categorical_layout(counts: Counter[str], top_k: int) -> CategoricalLayout:
    # CategoricalLayout.from_reference's rule, on the exact counts of all the rows.
    ranked = sorted(
        ((label, n) for label, n in counts.items() if label != MISSING),
        key=lambda item: (-item[1], item[0]),
    )
    rest = [label for label, _ in ranked[top_k:]]
    known = tuple(sorted({label_hash(x) for x in rest})) if len(rest) <= MAX_KNOWN else None
    return CategoricalLayout(tuple(label for label, _ in ranked[:top_k]), known)


def _numerical_summary(s: Sketch, finite: FloatArray) -> dict[str, Any]:
    m = s.moments
    assert m is not None  # numerical sketches have moments
    empty = m.count == 0
    quantiles = np.quantile(finite, QUANTILES).tolist() if finite.size else [None] * 7
    return {
        "count": s.n,
        "missing": s.n_missing,
        "infinite": s.n_infinite,
        "min": None if empty else m.min,
        "max": None if empty else m.max,
        "mean": m.mean,
        "std": m.std,
        "quantiles": {f"p{round(q * 100)}": v for q, v in zip(QUANTILES, quantiles, strict=True)},
    }


def _distinct(f: _Feature) -> tuple[int, bool]:
    """Number of distinct categories and whether it is exact (else a lower bound)."""
    if f.counts is None:
        return MAX_DISTINCT + 1, False
    return sum(1 for label in f.counts if label != MISSING), True


def _categorical_summary(f: _Feature) -> dict[str, Any]:
    assert isinstance(f.layout, CategoricalLayout)
    assert f.sketch is not None
    n = f.sketch.n
    counts = f.sketch.counts.tolist()
    top = sorted(
        ((label, c) for label, c in zip(f.layout.categories, counts, strict=False) if c),
        key=lambda item: (-item[1], item[0]),
    )[:TOP_SUMMARY]
    n_categories, exact = _distinct(f)
    return {
        "count": n,
        "missing": f.sketch.n_missing,
        "n_categories": n_categories,
        "n_categories_exact": exact,
        "top": [{"value": label, "count": c, "share": c / n} for label, c in top],
    }


def _numerical_quality(f: _Feature) -> ColumnProfile:
    """detectors.quality's profile of a float64 column, from the exact sketch: what
    ``QualityProfile.from_reference`` gives on all the rows (tested)."""
    s = f.sketch
    assert s is not None
    assert s.moments is not None
    m, inf = s.moments, s.n_infinite
    if inf == 0:
        constant = m.count >= 2 and m.min == m.max
    else:
        constant = m.count == 0 and inf >= 2 and f.positive_inf in (0, inf)
    observed = (None, None) if m.count == 0 else (m.min, m.max)
    if f.range is None:
        source, (lo, hi), out = "baseline", observed, 0
    else:
        source, (lo, hi), out = "schema", f.range, f.out_of_range
    return ColumnProfile(
        column=f.name,
        kind="numerical",
        n=s.n,
        missing_count=s.n_missing,
        nan_count=s.n_missing,  # in a float64 column every missing value is a NaN
        inf_count=inf,
        type_error_count=0,
        checked=m.count,
        constant=constant,
        range_source=source,  # type: ignore[arg-type]
        range_min=lo,
        range_max=hi,
        observed_min=observed[0],
        observed_max=observed[1],
        out_of_range_count=out,
    )


def _categorical_quality(f: _Feature) -> ColumnProfile:
    """As :func:`_numerical_quality`, for a column of labels (str) and None."""
    s = f.sketch
    assert s is not None
    n_categories, exact = _distinct(f)
    checked = s.n - s.n_missing
    known = None
    if exact and f.counts is not None and n_categories <= MAX_KNOWN:
        known = tuple(sorted(label_hash(label) for label in f.counts if label != MISSING))
    return ColumnProfile(
        column=f.name,
        kind="categorical",
        n=s.n,
        missing_count=s.n_missing,
        nan_count=0,  # labels are converted: a NaN arrives here as None
        inf_count=None,
        type_error_count=0,
        checked=checked,
        constant=checked >= 2 and n_categories == 1,
        value_types=(CLASS_NAMES[STR],) if checked else ALL_VALUE_TYPES,
        known=known,
        n_categories=n_categories,
    )
