"""PCA reconstruction error against the reference (NannyML's data reconstruction drift)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.multivariate.encoding import TOP_K, Encoder, encoder_for
from detectors.multivariate.inputs import n_rows, resolve_columns
from detectors.multivariate.types import ReconstructionDrift, ranked
from detectors.types import ColumnData, Kind

VARIANCE = 0.65  # NannyML's default share of the reference's variance kept
MIN_CHUNKS = 10
SIGMAS = 3.0
# Rows encoded at a time: the encoded matrix of a million-row reference would not fit.
BLOCK_ROWS = 20_000
_Vector = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Reconstruction:
    """A reference fitted for reconstruction drift on windows of ``window_size`` rows.

    ``mean`` and ``components`` (rows: principal directions) live in the encoded space of
    ``encoder``; ``reference_residual`` is the reference's mean squared residual per
    encoded column. ``reference_error``, ``lower`` and ``upper`` are as in
    :class:`ReconstructionDrift`. Build it with :func:`fit_reconstruction`.
    """

    encoder: Encoder
    mean: _Vector
    components: npt.NDArray[np.float64]
    variance: float
    variance_explained: float
    window_size: int
    n_reference: int
    reference_residual: _Vector
    reference_error: float
    lower: float
    upper: float
    threshold_from: str
    n_chunks: int

    def check(self, current: Mapping[str, ColumnData]) -> ReconstructionDrift:
        """The verdict on one window of exactly ``window_size`` rows (the thresholds hold
        for that size only; fit again for another)."""
        columns = self.encoder.columns
        absent = [c for c in columns if c not in current]
        if absent:
            raise ValueError(
                f"columns in reference but not in current: {', '.join(map(repr, absent))}"
            )
        arrays = {c: np.asarray(current[c]) for c in columns}
        n_cur = n_rows("current", arrays, columns)
        if n_cur != self.window_size:
            raise ValueError(
                f"current has {n_cur} rows but the thresholds are for windows of "
                f"{self.window_size}: fit_reconstruction(reference, window_size={n_cur})"
            )
        errors, residual = _residuals(self.encoder, self.mean, self.components, arrays, n_cur)
        error = float(errors.mean())
        change = self.encoder.per_column(residual / n_cur - self.reference_residual)
        return ReconstructionDrift(
            error=error,
            reference_error=self.reference_error,
            lower=self.lower,
            upper=self.upper,
            drifted=not self.lower <= error <= self.upper,
            n_components=self.components.shape[0],
            variance_explained=self.variance_explained,
            variance=self.variance,
            threshold_from=self.threshold_from,
            n_chunks=self.n_chunks,
            window_size=self.window_size,
            n_reference=self.n_reference,
            n_current=n_cur,
            contributions=ranked(columns, self.encoder.kinds, change.tolist()),
        )


def reconstruction_drift(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData],
    *,
    kinds: Mapping[str, str] | None = None,
    variance: float = VARIANCE,
    top_k: int = TOP_K,
    min_chunks: int = MIN_CHUNKS,
) -> ReconstructionDrift:
    """:func:`fit_reconstruction` on ``reference`` with the current window's size, then
    :meth:`Reconstruction.check` of ``current``. Kinds are inferred from both sides."""
    columns, kinds_ = resolve_columns(reference, current, kinds)
    n_cur = n_rows("current", current, columns)
    fitted = _fit(
        reference,
        columns,
        kinds_,
        window_size=n_cur,
        variance=variance,
        top_k=top_k,
        min_chunks=min_chunks,
    )
    return fitted.check(current)


def fit_reconstruction(
    reference: Mapping[str, ColumnData],
    *,
    window_size: int,
    kinds: Mapping[str, str] | None = None,
    variance: float = VARIANCE,
    top_k: int = TOP_K,
    min_chunks: int = MIN_CHUNKS,
) -> Reconstruction:
    """Fit the encoder and the PCA on ``reference``, and the thresholds for windows of
    ``window_size`` rows.

    The reference is encoded (:mod:`detectors.multivariate.encoding`, kinds inferred
    from it where not given) and centred; the principal directions are the eigenvectors
    of its covariance, and the first ``k`` are kept, the smallest ``k`` whose share of
    the total variance exceeds ``variance`` (scikit-learn's rule for
    ``PCA(n_components=variance)``). A row's reconstruction error is the Euclidean
    distance between its encoded row and that row projected on the ``k`` directions; a
    window's error is the mean over its rows. Encoded columns are not rescaled
    (indicators and one-hot columns stay 0/1), so a missing value or a category unseen in
    the reference adds to the error even where the reference has no variance.

    What it sees is change off the kept directions: a correlation break, a shift of a
    column left to the residual, new categories. A shift along a kept direction (say a
    mean shift of the widest column) is reconstructed and barely moves the error, and a
    null-rate jump in a column left to the residual is nearly neutral (the imputed median
    takes off about as much squared residual as the indicator adds); ``mmd_drift``,
    ``classifier_drift`` and the univariate null-rate check see those.

    Thresholds ``reference_error -+ 3 sd``: from ``"chunks"`` when the reference holds at
    least ``min_chunks`` windows, in row order (the last partial one dropped): the mean
    and the standard deviation (ddof 1) of the chunks' errors, NannyML's rule, which
    sees the reference's own variation over time if its rows are in time order;
    otherwise from ``"sampling"``: the mean error of all reference rows, and
    ``sd = std(row errors, ddof 1) * sqrt(1 / window_size + 1 / n_reference)``, the
    standard error of a window's mean against the reference's, for independent rows.

    The reference is encoded ``BLOCK_ROWS`` rows at a time, twice (covariance, then
    errors), so memory is O(columns^2 + rows), not O(rows x encoded columns).
    """
    columns, kinds_ = resolve_columns(reference, None, kinds)
    return _fit(
        reference,
        columns,
        kinds_,
        window_size=window_size,
        variance=variance,
        top_k=top_k,
        min_chunks=min_chunks,
    )


def _fit(
    reference: Mapping[str, ColumnData],
    columns: tuple[str, ...],
    kinds: tuple[Kind, ...],
    *,
    window_size: int,
    variance: float,
    top_k: int,
    min_chunks: int,
) -> Reconstruction:
    if window_size < 1:
        raise ValueError(f"window_size must be >= 1, got {window_size!r}")
    if not 0.0 < variance < 1.0:
        raise ValueError(f"variance must be in (0, 1), got {variance!r}")
    if min_chunks < 2:
        raise ValueError(f"min_chunks must be >= 2, got {min_chunks!r}")
    arrays = {c: np.asarray(reference[c]) for c in columns}
    n_ref = n_rows("reference", arrays, columns)
    if n_ref < 2:
        raise ValueError(f"the reference needs at least 2 rows, got {n_ref}")
    encoder = encoder_for(arrays, columns, kinds, top_k=top_k)

    width = len(encoder.names)
    total = np.zeros(width)
    cross = np.zeros((width, width))
    for block in _blocks(encoder, arrays, n_ref):
        total += block.sum(axis=0)
        cross += block.T @ block
    mean = total / n_ref
    covariance = cross / n_ref - np.outer(mean, mean)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending
    eigenvalues = np.clip(eigenvalues[::-1], 0.0, None)
    eigenvectors = eigenvectors[:, ::-1]
    if eigenvalues.sum() > 0.0:
        ratios = np.cumsum(eigenvalues) / eigenvalues.sum()
        k = min(int(np.searchsorted(ratios, variance, side="right")) + 1, width)
        explained = float(ratios[k - 1])
    else:  # every encoded column constant: nothing to keep, any change is error
        k, explained = 0, 0.0
    components = np.ascontiguousarray(eigenvectors[:, :k].T)

    errors, residual = _residuals(encoder, mean, components, arrays, n_ref)
    n_chunks = n_ref // window_size
    if n_chunks >= min_chunks:
        chunk_errors = errors[: n_chunks * window_size].reshape(n_chunks, window_size).mean(axis=1)
        center, sd, source = float(chunk_errors.mean()), float(chunk_errors.std(ddof=1)), "chunks"
    else:
        center = float(errors.mean())
        sd = float(errors.std(ddof=1)) * float(np.sqrt(1.0 / window_size + 1.0 / n_ref))
        source, n_chunks = "sampling", 0
    return Reconstruction(
        encoder=encoder,
        mean=mean,
        components=components,
        variance=variance,
        variance_explained=explained,
        window_size=window_size,
        n_reference=n_ref,
        reference_residual=residual / n_ref,
        reference_error=center,
        lower=center - SIGMAS * sd,
        upper=center + SIGMAS * sd,
        threshold_from=source,
        n_chunks=n_chunks,
    )


def _blocks(
    encoder: Encoder, arrays: Mapping[str, ColumnData], n: int
) -> Iterator[npt.NDArray[np.float64]]:
    for start in range(0, n, BLOCK_ROWS):
        yield encoder.transform(arrays, slice(start, min(start + BLOCK_ROWS, n)))


def _residuals(
    encoder: Encoder,
    mean: _Vector,
    components: npt.NDArray[np.float64],
    arrays: Mapping[str, ColumnData],
    n: int,
) -> tuple[_Vector, _Vector]:
    """Each row's reconstruction error, and the squared residual summed over the rows per
    encoded column."""
    errors = np.empty(n)
    residual = np.zeros(mean.size)
    start = 0
    for block in _blocks(encoder, arrays, n):
        np.subtract(block, mean, out=block)
        np.subtract(block, (block @ components.T) @ components, out=block)
        np.square(block, out=block)
        residual += block.sum(axis=0)
        errors[start : start + block.shape[0]] = np.sqrt(block.sum(axis=1))
        start += block.shape[0]
    return errors, residual
