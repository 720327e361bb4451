"""detectors.multivariate.mmd_drift against Alibi Detect's MMD^2 on the same matrix.

Run by ``make test-alibi`` in .venv-alibi (Alibi Detect 0.13 pins numpy<2; see
test_alibi_backend.py). What Alibi computes, read from its installed source
(alibi_detect/utils/pytorch/kernels.py, distance.py, cd/pytorch/mmd.py):

- ``GaussianRBF(sigma)``: ``exp(-||x - y||^2 / (2 sigma^2))``, the same convention as our
  ``bandwidth``; with ``sigma=None`` it infers ``sigma_median``: ``sqrt(0.5 * d)`` with d
  the element of rank ``n + (n^2 - n) // 2 - 1`` of the sorted distance matrix. On a
  pooled matrix against itself (n diagonal zeros, each pair twice) that is the lower
  median of the pairwise squared distances: our median heuristic when every pair is used.
- ``mmd2_from_kernel_matrix(K, m)``: the diagonal zeroed, ``sum K_xx / (n(n-1)) +
  sum K_yy / (m(m-1)) - 2 mean K_xy``, with the *last* m rows the second sample.
- ``MMDDrift(x_ref, sigma=...)`` with the pytorch backend reports that statistic as
  ``distance``; its p-value is the share of 100 torch permutations with MMD^2 >= the
  observed one, not ours (seeded numpy, ``(1 + count) / (1 + permutations)``), so only
  the verdicts on clear cases are compared.

Our encoder turns the columns into the matrix both sides see (``fit_encoder``); the
oracle is Alibi's kernel and estimator on that matrix, at the same bandwidth, to 1e-6.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from detectors.multivariate import fit_encoder, mmd_drift

# PyTorch warns at import about Alibi's use of torch.jit.script.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from alibi_detect.cd import MMDDrift
    from alibi_detect.utils.pytorch.distance import mmd2_from_kernel_matrix
    from alibi_detect.utils.pytorch.kernels import GaussianRBF, sigma_median

Columns = dict[str, Any]


def alibi_mmd2(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], sigma: float) -> float:
    """Alibi's kernel and estimator: the pooled kernel matrix, y in the last rows."""
    pooled = torch.from_numpy(np.vstack([x, y]))
    kernel = GaussianRBF(sigma=torch.tensor([sigma], dtype=torch.float64))
    with torch.no_grad():
        matrix = kernel(pooled, pooled)
        return float(mmd2_from_kernel_matrix(matrix, len(y), permute=False, zero_diag=True))


def alibi_detector_mmd2(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], sigma: float
) -> dict[str, Any]:
    """MMDDrift itself (pytorch backend, CPU), bandwidth fixed, torch RNG seeded and restored."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        detector = MMDDrift(
            x,
            backend="pytorch",
            sigma=np.array([sigma]),
            configure_kernel_from_x_ref=False,
            n_permutations=100,
            device="cpu",
        )
        data: dict[str, Any] = detector.predict(y)["data"]
    return data


def numerical(seed: int, n_ref: int, n_cur: int, shift: float) -> tuple[Columns, Columns]:
    rng = np.random.default_rng(seed)
    reference = {
        "a": rng.normal(size=n_ref),
        "b": rng.exponential(2.0, n_ref),
        "c": rng.normal(5.0, 3.0, n_ref),
    }
    current = {
        "a": rng.normal(shift, 1.0, n_cur),
        "b": rng.exponential(2.0, n_cur),
        "c": rng.normal(5.0, 3.0, n_cur),
    }
    return reference, current


def mixed(seed: int, n_ref: int, n_cur: int) -> tuple[Columns, Columns]:
    """Numerical with NaN, and a categorical with None and a category only in current."""
    rng = np.random.default_rng(seed)
    reference, current = numerical(seed, n_ref, n_cur, shift=0.3)
    reference["a"][rng.random(n_ref) < 0.1] = np.nan
    current["a"][rng.random(n_cur) < 0.2] = np.nan
    reference["colour"] = rng.choice(np.array(["red", "green", None], dtype=object), n_ref)
    current["colour"] = rng.choice(np.array(["red", "green", "pink", None], dtype=object), n_cur)
    return reference, current


def encoded(
    reference: Columns, current: Columns
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    encoder = fit_encoder(reference)
    return encoder.transform(reference), encoder.transform(current)


@pytest.mark.parametrize("sigma", [0.5, 1.7, 6.0])
def test_mmd2_at_a_fixed_bandwidth_equals_alibis(sigma: float) -> None:
    reference, current = numerical(seed=1, n_ref=150, n_cur=110, shift=0.4)
    ours = mmd_drift(reference, current, bandwidth=sigma, permutations=20)
    x, y = encoded(reference, current)

    assert ours.bandwidth == sigma
    assert ours.statistic == pytest.approx(alibi_mmd2(x, y, sigma), abs=1e-6)
    detector = alibi_detector_mmd2(x, y, sigma)
    assert ours.statistic == pytest.approx(float(detector["distance"]), abs=1e-6)


def test_median_heuristic_bandwidth_equals_alibis_sigma_median_on_the_pooled_rows() -> None:
    reference, current = numerical(seed=2, n_ref=200, n_cur=160, shift=0.2)
    ours = mmd_drift(reference, current, permutations=20)
    x, y = encoded(reference, current)
    pooled = torch.from_numpy(np.vstack([x, y]))
    dist = torch.cdist(pooled, pooled) ** 2
    alibi_sigma = float(sigma_median(pooled, pooled, dist))

    assert ours.bandwidth == pytest.approx(alibi_sigma, rel=1e-6)
    assert ours.statistic == pytest.approx(alibi_mmd2(x, y, alibi_sigma), abs=1e-6)


def test_mixed_columns_with_missing_values_and_unseen_categories() -> None:
    reference, current = mixed(seed=3, n_ref=180, n_cur=140)
    ours = mmd_drift(reference, current, permutations=20)
    x, y = encoded(reference, current)
    assert x.shape[1] == 2 + 2 + 2 + 4  # a, b, c with indicators; red, green, other, missing
    assert ours.statistic == pytest.approx(alibi_mmd2(x, y, ours.bandwidth), abs=1e-6)


def test_verdicts_agree_on_a_clear_shift_and_on_no_drift() -> None:
    shifted_ref, shifted_cur = numerical(seed=4, n_ref=300, n_cur=300, shift=1.0)
    ours = mmd_drift(shifted_ref, shifted_cur)
    x, y = encoded(shifted_ref, shifted_cur)
    theirs = alibi_detector_mmd2(x, y, ours.bandwidth)
    assert ours.drifted
    assert bool(theirs["is_drift"])
    assert ours.top_columns[0] == "a"

    same_ref, same_cur = numerical(seed=6, n_ref=300, n_cur=300, shift=0.0)
    ours = mmd_drift(same_ref, same_cur)
    x, y = encoded(same_ref, same_cur)
    theirs = alibi_detector_mmd2(x, y, ours.bandwidth)
    assert not ours.drifted
    assert not bool(theirs["is_drift"])
    assert ours.statistic == pytest.approx(float(theirs["distance"]), abs=1e-6)
