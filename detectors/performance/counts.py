"""Metrics of confusion matrices, vectorised over a stack of them (the point estimate
and its bootstrap resamples alike).

Per class c, with rows = true class and columns = predicted class as in sklearn:
precision = TP / predicted c, recall = TP / truly c, F1 = 2 TP / (predicted c + truly c).
A class where a denominator is 0 has no value (NaN) and is left out of the averages,
which is sklearn's ``zero_division=np.nan``: macro = the plain mean over the classes that
have a value, weighted = their mean weighted by support (rows truly of the class).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

AVERAGED = ("precision", "recall", "f1")


def _ratio(num: Floats, den: Floats) -> Floats:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def per_class(tables: Floats) -> dict[str, Floats]:
    """Precision, recall, F1 and support per class: arrays of shape (r, k) from tables of
    shape (r, k, k)."""
    tp = np.diagonal(tables, axis1=1, axis2=2)
    predicted = tables.sum(axis=1)
    support = tables.sum(axis=2)
    return {
        "precision": _ratio(tp, predicted),
        "recall": _ratio(tp, support),
        "f1": _ratio(2.0 * tp, predicted + support),
        "support": support,
    }


def _average(values: Floats, weights: Floats) -> Floats:
    """Weighted mean over axis 1 of the defined (non-NaN) values; NaN where none is.
    Where the defined values' weights sum to 0, their plain mean (sklearn's
    ``_nanaverage``: a class predicted but never true has weight 0)."""
    defined = np.isfinite(values)
    w = np.where(defined, weights, 0.0)
    x = np.where(defined, values, 0.0)
    weighted = _ratio((x * w).sum(axis=1), w.sum(axis=1))
    plain = _ratio(x.sum(axis=1), defined.sum(axis=1).astype(np.float64))
    return np.where(w.sum(axis=1) > 0, weighted, plain)


def averaged(tables: Floats) -> dict[str, Floats]:
    """``accuracy`` and ``{precision,recall,f1}_{macro,weighted}`` of each table: arrays
    of shape (r,)."""
    by_class = per_class(tables)
    n = tables.sum(axis=(1, 2))
    out = {"accuracy": _ratio(np.trace(tables, axis1=1, axis2=2), n)}
    ones = np.ones_like(by_class["support"])
    for name in AVERAGED:
        out[f"{name}_macro"] = _average(by_class[name], ones)
        out[f"{name}_weighted"] = _average(by_class[name], by_class["support"])
    return out


def resample_tables(
    table: npt.NDArray[np.int64], n_bootstrap: int, rng: np.random.Generator
) -> Floats:
    """Bootstrap resamples of a confusion matrix, shape (n_bootstrap, k, k).

    Every metric here depends on the rows only through their cell of the table, so
    drawing the cell counts from Multinomial(n, table / n) is exactly resampling the rows,
    at a cost of k^2 per resample instead of n.
    """
    k = table.shape[0]
    n = int(table.sum())
    draws = rng.multinomial(n, table.ravel() / n, size=n_bootstrap)
    return draws.reshape(n_bootstrap, k, k).astype(np.float64)
