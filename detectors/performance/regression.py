"""Performance of a regressor on the labelled rows of a window."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from detectors.performance.inputs import as_1d, check_length, first_row
from detectors.performance.intervals import Counts, quantile_bounds, weighted_sums
from detectors.performance.types import MetricValue, PerformanceResult
from detectors.performance.window import (
    NO_LABELS,
    Settings,
    Statistics,
    coverage,
    metric,
    undefined,
)
from detectors.types import ColumnData

Floats = npt.NDArray[np.float64]

QUANTILES = (0.5, 0.9, 0.95, 0.99)
# A resample's total sum of squares below this share of its sum of squared deviations is
# rounding noise around 0 (it drew one distinct value): its R^2 is undefined.
_SST_NOISE = 1e-10
# sklearn's MAPE divides by max(|y|, eps); we leave out y == 0 and keep the rest of it.
_EPS = float(np.finfo(np.float64).eps)


def regression_performance(
    y_true: ColumnData,
    y_pred: ColumnData,
    *,
    n_predictions: int | None = None,
    quantiles: Sequence[float] = QUANTILES,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> PerformanceResult:
    """Regression metrics of predictions ``y_pred`` against labels ``y_true``, each with a
    ``confidence`` interval and the number of labelled rows it rests on.

    Rows where ``y_true`` is None or NaN are unlabelled and excluded;
    ``coverage = n_labelled / n_predictions`` (``n_predictions`` defaults to the rows
    given). A labelled row with +-inf in ``y_true``, or a missing or infinite ``y_pred``,
    is a ValueError naming the row. No labelled row: every metric NaN, ``n=0``, and the
    result's ``reason`` says so.

    Metrics (sklearn's definitions; intervals in brackets):

    - ``mae``, ``rmse`` [bootstrap];
    - ``mape``: sklearn's ``mean(|y - y_hat| / max(|y|, eps))`` (a share, not a
      percentage) over the rows with ``y_true != 0`` only; ``n`` counts those rows and
      ``reason`` says how many were left out [bootstrap]. sklearn keeps them, dividing by
      eps = 2.2e-16, so one row with ``y = 0`` can make its MAPE 10^15;
    - ``r2``: ``1 - SSE / SST`` [bootstrap]; NaN when ``y_true`` is constant (sklearn
      then reports 1.0 or 0.0) or has fewer than 2 labelled rows;
    - ``abs_error_p50`` ... : quantiles of the absolute error (``quantiles``, numpy's
      linear interpolation) [order statistics: distribution-free, coverage at least
      ``confidence`` for continuous errors, no resampling; +inf upper bound when too few
      rows bound a high quantile].

    "bootstrap" is the percentile interval of ``n_bootstrap`` resamples of the labelled
    rows, seeded by ``seed``.
    """
    settings = Settings(confidence, n_bootstrap, seed)
    qs = tuple(float(q) for q in quantiles)
    for q in qs:
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantiles must be in [0, 1], got {q!r}")
    y, pred, labelled = _values(y_true, y_pred)
    n_labelled = int(y.size)
    total, share = coverage(n_labelled, labelled.size, n_predictions)
    names = ["mae", "rmse", "mape", "r2", *(_quantile_name(q) for q in qs)]

    def result(metrics: Sequence[MetricValue], reason: str | None = None) -> PerformanceResult:
        return PerformanceResult(
            task="regression",
            metrics=tuple(metrics),
            n_rows=int(labelled.size),
            n_labelled=n_labelled,
            n_predictions=total,
            coverage=share,
            confidence=confidence,
            reason=reason,
        )

    if n_labelled == 0:
        return result([undefined(name, 0, "none", NO_LABELS) for name in names], NO_LABELS)
    metrics = _mean_metrics(y, pred, settings)
    abs_err = np.sort(np.abs(y - pred))
    for q in qs:
        value = float(np.quantile(abs_err, q))
        low, high = quantile_bounds(abs_err, q, confidence, floor=0.0)
        # The bounds are order statistics around the point: this only guards rounding.
        bounds = (min(low, value), max(high, value))
        metrics.append(metric(_quantile_name(q), value, bounds, n_labelled, "order-statistics"))
    return result(metrics)


def _quantile_name(q: float) -> str:
    return f"abs_error_p{q * 100:g}"


def _values(y_true: ColumnData, y_pred: ColumnData) -> tuple[Floats, Floats, npt.NDArray[np.bool_]]:
    """Labelled ``y_true`` and ``y_pred`` as float64, and the labelled mask."""
    true = _floats("y_true", y_true)
    pred = _floats("y_pred", y_pred)
    check_length("y_pred", pred, true.size)
    labelled = ~np.isnan(true)
    for name, arr in (("y_true", true), ("y_pred", pred)):
        bad = labelled & ~np.isfinite(arr)
        if bad.any():
            row = first_row(bad)
            raise ValueError(
                f"{name} is {float(arr[row])!r} at labelled row {row}; it must be finite"
            )
    return true[labelled], pred[labelled], labelled


def _floats(name: str, values: ColumnData) -> Floats:
    arr = as_1d(name, values)
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold numbers: {exc}") from exc


def weighted_metrics(y: Floats, pred: Floats) -> Statistics:
    """``mae``, ``rmse``, ``mape`` and ``r2`` of the rows weighted by each row of a count
    matrix (r, n) whose rows sum to n: sklearn's metrics with ``sample_weight``.

    Every one is a function of six weighted sums, so a chunk of resamples costs one
    product with the (6, n) matrix of per-row values.
    """
    n = y.size
    err = y - pred
    nonzero = y != 0.0
    ape = np.where(nonzero, np.abs(err) / np.maximum(np.abs(y), _EPS), 0.0)
    centred = y - y.mean()
    columns = np.vstack([np.abs(err), err * err, ape, nonzero, centred, centred * centred])

    def statistics(counts: Counts) -> dict[str, Floats]:
        s = weighted_sums(counts, columns)
        sst = s[:, 5] - s[:, 4] * s[:, 4] / n
        mape = np.full(s.shape[0], np.nan)
        np.divide(s[:, 2], s[:, 3], out=mape, where=s[:, 3] > 0)
        ratio = np.full(s.shape[0], np.nan)
        # A spread of y_true near the smallest floats (1e-155 squared) overflows the
        # ratio: R^2 is then -inf, as its limit is, rather than a warning.
        with np.errstate(over="ignore"):
            np.divide(s[:, 1], sst, out=ratio, where=sst > _SST_NOISE * s[:, 5])
        return {"mae": s[:, 0] / n, "rmse": np.sqrt(s[:, 1] / n), "mape": mape, "r2": 1.0 - ratio}

    return statistics


def _mean_metrics(y: Floats, pred: Floats, settings: Settings) -> list[MetricValue]:
    n = y.size
    _, replicates = settings.resample_rows(n, weighted_metrics(y, pred))
    # Point values the direct way, as sklearn computes them.
    err = y - pred
    sse = float(np.sum(err * err))
    sst = float(np.sum((y - y.mean()) ** 2))
    out = [
        settings.bootstrapped("mae", float(np.mean(np.abs(err))), replicates["mae"], n),
        settings.bootstrapped("rmse", math.sqrt(sse / n), replicates["rmse"], n),
    ]
    nonzero = y != 0.0
    n_nonzero = int(nonzero.sum())
    if n_nonzero == 0:
        out.append(undefined("mape", 0, settings.method(), "every labelled y_true is 0"))
    else:
        value = float(np.mean(np.abs(err[nonzero]) / np.maximum(np.abs(y[nonzero]), _EPS)))
        mape = settings.bootstrapped("mape", value, replicates["mape"], n_nonzero)
        if n_nonzero < n:
            note = f"{n - n_nonzero} labelled rows with y_true == 0 left out"
            mape = replace(mape, reason=note if mape.reason is None else f"{mape.reason}; {note}")
        out.append(mape)
    if n < 2 or sst == 0.0:
        why = "y_true is constant (or a single row): R^2 undefined"
        out.append(undefined("r2", n, settings.method(), why))
    else:
        out.append(settings.bootstrapped("r2", 1.0 - sse / sst, replicates["r2"], n))
    return out
