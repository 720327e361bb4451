"""Alibi Detect 0.13's KSDrift, ChiSquareDrift, TabularDrift and MMDDrift, run on our inputs.

The inputs are those of :func:`detectors.detect_drift`: a mapping of column name -> 1-d
array for each side, every column of ``reference`` also in ``current`` (columns only in
``current`` are ignored). Alibi takes one 2-d matrix per side, so all columns of a side
must have the same number of rows. The result is our :class:`~detectors.types.DriftResult`,
one :class:`~detectors.types.ColumnDrift` per column (one for the whole test for MMD).

What Alibi does, and so what these results mean:

- **p-values as Alibi reports them.** Alibi stores the per-feature p-values and statistics
  of KSDrift, ChiSquareDrift and TabularDrift in float32 arrays, so they equal scipy's
  float64 values rounded to float32 (about 7 significant digits; below ~1e-45 they are 0).
  ``p_value`` and ``statistic`` are those float32 values, widened to float unchanged.
- **Correction and thresholds.** ``p_val`` (Alibi's default 0.05) is the significance level
  of the whole run. Alibi's batch prediction corrects it for the number of columns n:
  ``correction="bonferroni"`` (Alibi's default) tests each column at ``p_val / n``;
  ``correction="fdr"`` is Benjamini-Hochberg at q = ``p_val``. A column drifts when its
  p-value is strictly below that threshold (``threshold`` of each ColumnDrift), compared
  as Alibi compares them (numpy, float32 p-values).
  Alibi's dataset verdict (``is_drift``) is "at least one column drifted", so
  ``share_threshold`` is ``1 / n`` and ``dataset_drift`` is Alibi's own ``is_drift``.
  Our ``detect_drift`` differs: it drifts on ``p <= threshold`` and also needs an effect
  size of at least ``min_effect``; Alibi has no effect-size floor, so ``min_effect`` is 0.
- **KS** (KSDrift, and TabularDrift's numerical columns): scipy's two-sided ``ks_2samp``
  with ``method="asymp"`` always. Our registry's ``ks`` uses ``method="auto"``, exact while
  neither side has more than 10,000 rows, so the p-values agree only when one side has.
  ``effect_size`` is the D statistic, as for our ``ks``. Alibi has no missing-value
  handling (a NaN gives a NaN p-value), so a non-finite value is a ValueError here: drop
  or impute first.
- **Chi-squared** (ChiSquareDrift, and TabularDrift's categorical columns): scipy's
  ``chi2_contingency`` on the 2 x k table of reference and current counts over the union
  of both sides' categories, with scipy's default Yates continuity correction, which
  scipy applies only when the table has one degree of freedom (exactly two categories).
  So the p-value is our registry's ``chisquare`` (no Yates) for three or more categories,
  and differs from it for two; one category gives statistic 0, p-value 1, as ours. Alibi
  reports no effect size: ``effect_size`` is NaN.
- **Categorical columns must be integer codes for Alibi**: it counts ``x[:, f] == v`` over
  the values ``v`` of ``categories_per_feature`` (``{column index: k}`` means codes 0..k-1)
  or, if not given, over the values seen. :func:`encode_categorical` makes the codes here:
  each value's ``str``, None and NaN as one category ``"__missing__"`` (as our
  ``chisquare`` counts them), numbered over the sorted union of both sides; TabularDrift
  gets ``categories_per_feature={index: number of categories}`` for those columns, and
  treats every other column as numerical.
- **MMD** (:func:`mmd_drift`): one multivariate permutation test of all columns jointly
  (Gaussian RBF kernel, bandwidth by the median heuristic on the reference, unbiased
  MMD^2, p-value the share of ``n_permutations`` permuted statistics >= the observed one),
  run on Alibi's PyTorch backend (TensorFlow and KeOps are not installed). PyTorch is not
  in the ``alibi`` extra: ``make test-alibi`` installs the CPU build ``torch==2.13.0``.
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from detectors.backends import BackendUnavailableError
from detectors.columns import convert, infer_kind, missing_labels
from detectors.stattests.chisquare import MISSING
from detectors.types import ColumnData, ColumnDrift, DriftResult, Kind

CORRECTIONS = ("bonferroni", "fdr")
T = TypeVar("T")


def ks_drift(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData],
    *,
    p_val: float = 0.05,
    correction: str = "bonferroni",
) -> DriftResult:
    """Alibi's ``KSDrift`` on every column (each must be numerical and finite).

    Each column's p-value is scipy's asymptotic two-sided KS p-value, as float32; the
    threshold is ``p_val / n`` (Bonferroni) or Benjamini-Hochberg's (``"fdr"``); see the
    module docstring.
    """
    cd = _alibi_cd()
    names, n_ref, n_cur = _check(reference, current, p_val, correction)
    x_ref = _matrix(reference, names, n_ref)
    x_cur = _matrix(current, names, n_cur)
    detector = _quietly(lambda: cd.KSDrift(x_ref, p_val=p_val, correction=correction))
    kinds: list[Kind] = ["numerical"] * len(names)
    return _univariate(detector, x_cur, names, kinds, n_ref=n_ref, n_cur=n_cur)


def chisquare_drift(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData],
    *,
    p_val: float = 0.05,
    correction: str = "bonferroni",
) -> DriftResult:
    """Alibi's ``ChiSquareDrift`` on every column, each taken as categorical.

    The columns are integer-coded by :func:`encode_categorical` and Alibi is given
    ``categories_per_feature={index: number of categories}``. The p-value is scipy's
    ``chi2_contingency`` with its default Yates correction (applied at exactly two
    categories only), as float32; the threshold as in :func:`ks_drift`.
    """
    cd = _alibi_cd()
    names, n_ref, n_cur = _check(reference, current, p_val, correction)
    x_ref, x_cur, categories = _coded(
        reference, current, names, n_ref=n_ref, n_cur=n_cur, categorical=set(names)
    )
    detector = _quietly(
        lambda: cd.ChiSquareDrift(
            x_ref, p_val=p_val, categories_per_feature=categories, correction=correction
        )
    )
    kinds: list[Kind] = ["categorical"] * len(names)
    return _univariate(detector, x_cur, names, kinds, n_ref=n_ref, n_cur=n_cur)


def tabular_drift(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData],
    *,
    kinds: Mapping[str, str] | None = None,
    p_val: float = 0.05,
    correction: str = "bonferroni",
) -> DriftResult:
    """Alibi's ``TabularDrift``: KS on the numerical columns, chi-squared on the others.

    A column's kind is ``kinds[column]`` if given, else inferred as in ``detect_drift``
    (numerical when both sides hold numbers). Categorical columns are integer-coded by
    :func:`encode_categorical` and named to Alibi in ``categories_per_feature`` as
    ``{index: number of categories}``; numerical columns must be finite. One Bonferroni
    (or FDR) correction runs over all columns, of both kinds.
    """
    cd = _alibi_cd()
    names, n_ref, n_cur = _check(reference, current, p_val, correction)
    kinds = kinds or {}
    unknown = [k for k in kinds if k not in names]
    if unknown:
        raise ValueError(f"kinds names columns not in reference: {', '.join(map(repr, unknown))}")
    col_kinds: list[Kind] = [
        infer_kind(col, reference[col], current[col], given=kinds.get(col)) for col in names
    ]
    categorical = {col for col, kind in zip(names, col_kinds, strict=True) if kind == "categorical"}
    x_ref, x_cur, categories = _coded(
        reference, current, names, n_ref=n_ref, n_cur=n_cur, categorical=categorical
    )
    detector = _quietly(
        lambda: cd.TabularDrift(
            x_ref, p_val=p_val, categories_per_feature=categories, correction=correction
        )
    )
    return _univariate(detector, x_cur, names, col_kinds, n_ref=n_ref, n_cur=n_cur)


def mmd_drift(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData],
    *,
    p_val: float = 0.05,
    n_permutations: int = 100,
    seed: int = 0,
    device: str = "cpu",
) -> DriftResult:
    """Alibi's ``MMDDrift`` (PyTorch backend): one test of all columns jointly.

    All columns must be numerical and finite, with at least 2 rows a side; they are not
    rescaled, so a column of large values dominates the one kernel bandwidth (standardize
    first if that matters). The result has one ColumnDrift, whose ``column`` is the column
    names joined by ", ": ``statistic`` is Alibi's MMD^2, ``p_value`` its permutation
    p-value (a multiple of ``1 / n_permutations``), ``threshold`` is ``p_val`` (one test: no
    correction), ``drifted`` is Alibi's ``is_drift`` (p-value < ``p_val``), ``effect_size``
    NaN.

    The permutations draw from torch's global RNG; they run here under
    ``torch.random.fork_rng`` seeded with ``seed``, so a result is reproducible and the
    caller's RNG state is left as it was. ``device`` is passed to Alibi ("cuda" for a GPU).
    """
    cd = _alibi_cd()
    try:
        torch = importlib.import_module("torch")
    except ModuleNotFoundError as exc:
        raise ImportError(
            "mmd_drift runs Alibi's MMDDrift on PyTorch, which the 'alibi' extra does not "
            "install: pip install torch (`make test-alibi` installs torch==2.13.0, CPU build)"
        ) from exc
    names, n_ref, n_cur = _check(reference, current, p_val, "bonferroni")
    if min(n_ref, n_cur) < 2:
        raise ValueError(f"MMD^2 (unbiased) needs 2 rows a side, got {n_ref} and {n_cur}")
    x_ref = _matrix(reference, names, n_ref)
    x_cur = _matrix(current, names, n_cur)

    def run() -> dict[str, Any]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            detector = cd.MMDDrift(
                x_ref,
                backend="pytorch",
                p_val=p_val,
                n_permutations=n_permutations,
                device=device,
            )
            data: dict[str, Any] = detector.predict(x_cur)["data"]
            return data

    data = _quietly(run)
    drifted = bool(data["is_drift"])
    column = ColumnDrift(
        column=", ".join(names),
        kind="numerical",
        method="mmd",
        statistic=float(data["distance"]),
        p_value=float(data["p_val"]),
        effect_size=math.nan,
        threshold=float(data["threshold"]),
        min_effect=0.0,
        n_reference=n_ref,
        n_current=n_cur,
        drifted=drifted,
    )
    return DriftResult(
        columns=(column,),
        drift_share=float(drifted),
        dataset_drift=drifted,
        share_threshold=1.0,
    )


def encode_categorical(
    reference: ColumnData, current: ColumnData
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[str]]:
    """Integer codes of one categorical column on both sides, and the category of each code.

    A value's category is its ``str``; None and NaN are the one category ``"__missing__"``
    (as our ``chisquare`` counts them). Codes number the sorted union of both sides'
    categories from 0, so every code occurs on at least one side, and ``{index: len(labels)}``
    is the column's entry in Alibi's ``categories_per_feature``.
    """
    ref, cur = _labels(reference), _labels(current)
    labels, codes = np.unique(np.concatenate([ref, cur]), return_inverse=True)
    codes = codes.astype(np.int64).ravel()
    return codes[: ref.size], codes[ref.size :], [str(label) for label in labels]


def _labels(values: ColumnData) -> npt.NDArray[np.str_]:
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"a categorical column must be 1-d, got shape {arr.shape}")
    missing = missing_labels(arr)
    labels = [MISSING if m else str(v) for v, m in zip(arr.tolist(), missing.tolist(), strict=True)]
    return np.array(labels, dtype=np.str_)


def _alibi_cd() -> Any:
    """``alibi_detect.cd``, imported quietly; BackendUnavailableError if not installed.

    Any other import error (a broken dependency of an installed Alibi) propagates as is.
    """
    try:
        # PyTorch warns at import about alibi_detect's own use of torch.jit.script.
        with _no_library_warnings():
            from alibi_detect import cd  # noqa: PLC0415  (optional dependency)
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.partition(".")[0] == "alibi_detect":
            raise BackendUnavailableError("alibi", "alibi") from None
        raise
    return cd


def _quietly(fn: Callable[[], T]) -> T:
    with _no_library_warnings():
        return fn()


@contextmanager
def _no_library_warnings() -> Iterator[None]:
    # Alibi and its dependencies warn about their own use of deprecated APIs: nothing our
    # callers can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def _check(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData],
    p_val: float,
    correction: str,
) -> tuple[list[str], int, int]:
    """The column names, and the row count of each side (equal over its columns)."""
    names = list(reference)
    if not names:
        raise ValueError("reference has no columns")
    for col in names:
        if col not in current:
            raise ValueError(f"column {col!r} is in reference but not in current")
    if not 0.0 < p_val < 1.0:
        raise ValueError(f"p_val must be in (0, 1), got {p_val!r}")
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; Alibi knows {', '.join(CORRECTIONS)}")
    return names, _rows(reference, names, "reference"), _rows(current, names, "current")


def _rows(side: Mapping[str, ColumnData], names: list[str], label: str) -> int:
    sizes = {col: np.asarray(side[col], dtype=object).shape for col in names}
    for col, shape in sizes.items():
        if len(shape) != 1:
            raise ValueError(f"column {col!r} must be 1-d, got shape {shape}")
    first = names[0]
    n = sizes[first][0]
    for col in names:
        if sizes[col][0] != n:
            raise ValueError(
                f"Alibi takes one matrix per side: {label} column {col!r} has "
                f"{sizes[col][0]} rows, {first!r} has {n}"
            )
    if n == 0:
        raise ValueError(f"{label} has no rows")
    return int(n)


def _numbers(col: str, values: ColumnData) -> npt.NDArray[np.float64]:
    arr = convert(col, "numerical", values)
    if not np.isfinite(arr).all():
        raise ValueError(
            f"column {col!r} has missing or infinite values, which Alibi's KS test does not "
            "handle (its p-value would be NaN): drop or impute them first"
        )
    return arr


def _matrix(side: Mapping[str, ColumnData], names: list[str], n: int) -> npt.NDArray[np.float64]:
    out = np.empty((n, len(names)), dtype=np.float64)
    for j, col in enumerate(names):
        out[:, j] = _numbers(col, side[col])
    return out


def _coded(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData],
    names: list[str],
    *,
    n_ref: int,
    n_cur: int,
    categorical: set[str],
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], dict[int, int]]:
    """Both sides as matrices (categorical columns as codes) and categories_per_feature.

    All-categorical matrices are int64 (ChiSquareDrift's ``x == v`` on codes); mixed ones
    float64, which holds the codes exactly.
    """
    dtype = np.int64 if categorical == set(names) else np.float64
    x_ref = np.empty((n_ref, len(names)), dtype=dtype)
    x_cur = np.empty((n_cur, len(names)), dtype=dtype)
    categories: dict[int, int] = {}
    for j, col in enumerate(names):
        if col in categorical:
            x_ref[:, j], x_cur[:, j], labels = encode_categorical(reference[col], current[col])
            categories[j] = len(labels)
        else:
            x_ref[:, j] = _numbers(col, reference[col])
            x_cur[:, j] = _numbers(col, current[col])
    return x_ref, x_cur, categories


def _univariate(
    detector: Any,
    x_cur: npt.NDArray[Any],
    names: list[str],
    kinds: list[Kind],
    *,
    n_ref: int,
    n_cur: int,
) -> DriftResult:
    """Alibi's batch prediction, read into one ColumnDrift per column."""
    data = _quietly(lambda: detector.predict(x_cur, drift_type="batch"))["data"]
    p_values = np.asarray(data["p_val"])  # float32, as Alibi computed them
    statistics = np.asarray(data["distance"])
    drifted, threshold = _verdicts(p_values, data["threshold"], detector.correction, detector.p_val)
    columns = []
    for j, (col, kind) in enumerate(zip(names, kinds, strict=True)):
        stat = float(statistics[j])
        columns.append(
            ColumnDrift(
                column=col,
                kind=kind,
                method="ks" if kind == "numerical" else "chisquare",
                statistic=stat,
                p_value=float(p_values[j]),
                effect_size=stat if kind == "numerical" else math.nan,
                threshold=threshold,
                min_effect=0.0,
                n_reference=n_ref,
                n_current=n_cur,
                drifted=bool(drifted[j]),
            )
        )
    n_drifted = sum(c.drifted for c in columns)
    return DriftResult(
        columns=tuple(columns),
        drift_share=n_drifted / len(columns),
        dataset_drift=bool(data["is_drift"]),
        share_threshold=1.0 / len(columns),
    )


def _verdicts(
    p_values: npt.NDArray[np.float32], threshold: Any, correction: str, q: float
) -> tuple[npt.NDArray[np.bool_], float]:
    """Each column's verdict by the comparisons Alibi's batch prediction makes, and the
    threshold as one float.

    Bonferroni: Alibi's own ``p_values < p_val / n`` (numpy compares the float32 p-values
    with the threshold in float32). FDR: Alibi compares the sorted p-values with the
    Benjamini-Hochberg steps ``q * i / n`` and reports the step of the largest p-value
    below its step; the columns so rejected are those with a p-value at most that one.
    When none is rejected Alibi reports all the steps; the smallest, q / n, is the one the
    smallest p-value failed.
    """
    if correction == "bonferroni":
        return np.asarray(p_values < threshold), float(threshold)
    n = p_values.size
    p_sorted = np.sort(p_values)
    below = np.flatnonzero(p_sorted < q * (np.arange(n) + 1) / n)  # as alibi's fdr()
    if below.size == 0:
        return np.zeros(n, dtype=bool), float(np.min(threshold))
    return np.asarray(p_values <= p_sorted[below.max()]), float(threshold)
