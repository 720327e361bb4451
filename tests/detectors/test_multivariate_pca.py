"""Reconstruction drift against scikit-learn's PCA, and on known truths: a correlation break
no univariate test sees, and no false alarm on fresh windows like the reference."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.decomposition import PCA

from detectors import detect_drift
from detectors.multivariate import fit_encoder, fit_reconstruction, reconstruction_drift
from detectors.multivariate import pca as pca_module
from detectors.types import ColumnData

Columns = dict[str, ColumnData]


def correlated(rng: np.random.Generator, n: int, *, broken: bool = False) -> Columns:
    """x2 = x1 + noise in the reference; independent with the same marginals when broken."""
    x1 = rng.normal(size=n)
    x2 = rng.normal(0.0, np.sqrt(1.09), n) if broken else x1 + rng.normal(0.0, 0.3, n)
    return {"x1": x1, "x2": x2, "z1": rng.normal(size=n), "z2": rng.exponential(size=n)}


def sklearn_errors(
    reference: Columns, windows: list[Columns], variance: float
) -> tuple[int, list[npt.NDArray[np.float64]]]:
    """scikit-learn's PCA on our encoding: components kept, and each window's row errors."""
    encoder = fit_encoder(reference)
    model = PCA(n_components=variance, svd_solver="full").fit(encoder.transform(reference))
    errors = []
    for w in windows:
        x = encoder.transform(w)
        errors.append(np.linalg.norm(x - model.inverse_transform(model.transform(x)), axis=1))
    return model.n_components_, errors


def test_errors_and_components_equal_scikit_learns_pca() -> None:
    rng = np.random.default_rng(1)
    reference = correlated(rng, 3000)
    reference["c"] = rng.choice(np.array(["a", "b", "c", None], dtype=object), 3000)
    current = correlated(rng, 400, broken=True)
    current["c"] = rng.choice(np.array(["a", "b", "d"], dtype=object), 400)

    result = reconstruction_drift(reference, current)
    k, (ref_errors, cur_errors) = sklearn_errors(reference, [reference, current], 0.65)
    assert result.n_components == k
    assert result.variance == 0.65
    assert result.error == pytest.approx(cur_errors.mean(), rel=1e-9)
    # 3,000 rows hold fewer than 10 windows of 400: thresholds from the sampling error.
    assert (result.threshold_from, result.n_chunks, result.window_size) == ("sampling", 0, 400)
    sd = ref_errors.std(ddof=1) * np.sqrt(1 / 400 + 1 / 3000)
    assert result.reference_error == pytest.approx(ref_errors.mean(), rel=1e-9)
    assert result.upper == pytest.approx(ref_errors.mean() + 3 * sd, rel=1e-9)
    assert result.lower == pytest.approx(ref_errors.mean() - 3 * sd, rel=1e-9)
    assert (result.n_reference, result.n_current) == (3000, 400)


def test_chunk_thresholds_are_mean_and_three_sd_of_the_reference_chunks() -> None:
    rng = np.random.default_rng(2)
    reference = correlated(rng, 5_500)
    fitted = fit_reconstruction(reference, window_size=500, variance=0.8)
    k, (ref_errors,) = sklearn_errors(reference, [reference], 0.8)
    assert fitted.components.shape[0] == k
    chunks = ref_errors.reshape(11, 500).mean(axis=1)
    assert (fitted.threshold_from, fitted.n_chunks) == ("chunks", 11)
    assert fitted.reference_error == pytest.approx(chunks.mean(), rel=1e-9)
    assert fitted.upper == pytest.approx(chunks.mean() + 3 * chunks.std(ddof=1), rel=1e-9)
    assert fitted.lower == pytest.approx(chunks.mean() - 3 * chunks.std(ddof=1), rel=1e-9)


def test_a_correlation_break_no_univariate_test_sees_is_drift() -> None:
    rng = np.random.default_rng(3)
    reference, current = correlated(rng, 20_000), correlated(rng, 2_000, broken=True)
    assert detect_drift(reference, current).drifted_columns == ()

    result = reconstruction_drift(reference, current)
    assert result.drifted
    assert result.error > result.upper
    assert set(result.top_columns[:2]) == {"x1", "x2"}
    assert sum(c.share for c in result.contributions[:2]) > 0.9


def test_the_threshold_holds_on_fresh_reference_like_windows() -> None:
    rng = np.random.default_rng(4)
    chunked = fit_reconstruction(correlated(rng, 25_000), window_size=500)
    assert chunked.threshold_from == "chunks"
    sampled = fit_reconstruction(correlated(rng, 3_000), window_size=500)
    assert sampled.threshold_from == "sampling"
    for fitted in (chunked, sampled):
        alarms = sum(fitted.check(correlated(rng, 500)).drifted for _ in range(60))
        # 3 sd on each side: about 0.3% of windows; 2 of 60 would be a 1-in-50 event.
        assert alarms <= 1, fitted.threshold_from
        assert fitted.check(correlated(rng, 500, broken=True)).drifted


def test_contributions_name_the_column_that_moved() -> None:
    rng = np.random.default_rng(5)
    fitted = fit_reconstruction(correlated(rng, 10_000), window_size=1_000)
    # Kept: the x1 + x2 direction and z2 (the widest after robust scaling). z1 is left to
    # the residual, so its shift is error; a shift along a kept direction is not.
    assert fitted.components.shape[0] == 2
    assert abs(fitted.components[1][fitted.encoder.names.index("z2")]) > 0.99
    shifted = correlated(rng, 1_000)
    shifted["z1"] = np.asarray(shifted["z1"]) + 2.0
    result = fitted.check(shifted)
    assert result.drifted
    assert result.top_columns[0] == "z1"
    assert result.contributions[0].share > 0.9
    along = correlated(rng, 1_000)
    along["z2"] = np.asarray(along["z2"]) + 2.0
    assert not fitted.check(along).drifted

    holes = correlated(rng, 1_000)
    z2 = np.asarray(holes["z2"], dtype=float)
    z2[:300] = np.nan
    holes["z2"] = z2
    result = fitted.check(holes)
    assert result.drifted
    assert result.top_columns[0] == "z2"
    # z2's value is on a kept direction, so its residual barely moves; its indicator, with
    # no variance in the reference, adds 1 on 30% of the rows.
    assert result.contributions[0].value == pytest.approx(0.3, abs=0.01)


def test_a_category_unseen_in_the_reference_is_error() -> None:
    rng = np.random.default_rng(6)
    reference = correlated(rng, 5_000)
    reference["c"] = rng.choice(np.array(["a", "b"], dtype=object), 5_000)
    current = correlated(rng, 500)
    current["c"] = rng.choice(np.array(["a", "b", "new"], dtype=object), 500)
    result = reconstruction_drift(reference, current)
    assert result.drifted
    assert result.top_columns[0] == "c"


def test_a_reference_with_no_variance_keeps_no_component() -> None:
    reference: Columns = {"x": [1.0] * 50, "c": ["a"] * 50}
    fitted = fit_reconstruction(reference, window_size=5)
    assert (fitted.components.shape[0], fitted.variance_explained) == (0, 0.0)
    same = fitted.check({"x": [1.0] * 5, "c": ["a"] * 5})
    assert (same.error, same.drifted) == (0.0, False)
    assert fitted.check({"x": [1.0] * 4 + [2.0], "c": ["a"] * 5}).drifted


def test_blocks_give_the_same_result_as_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    reference, current = correlated(rng, 2_000), correlated(rng, 300, broken=True)
    whole = reconstruction_drift(reference, current)
    monkeypatch.setattr(pca_module, "BLOCK_ROWS", 170)
    blocked = reconstruction_drift(reference, current)
    assert blocked.n_components == whole.n_components
    assert blocked.error == pytest.approx(whole.error, rel=1e-9)
    assert blocked.upper == pytest.approx(whole.upper, rel=1e-9)


def test_bad_input_is_a_value_error_naming_it() -> None:
    rng = np.random.default_rng(8)
    fitted = fit_reconstruction(correlated(rng, 1_000), window_size=100)
    with pytest.raises(ValueError, match=r"current has 99 rows but the thresholds are for .* 100"):
        fitted.check(correlated(rng, 99))
    with pytest.raises(ValueError, match=r"columns in reference but not in current: 'z2'"):
        fitted.check({k: v for k, v in correlated(rng, 100).items() if k != "z2"})
    with pytest.raises(ValueError, match=r"current is empty \(0 rows\)"):
        reconstruction_drift(correlated(rng, 100), {"x1": [], "x2": [], "z1": [], "z2": []})
    with pytest.raises(ValueError, match=r"no columns in common"):
        reconstruction_drift(correlated(rng, 100), {"y": [1.0]})
    with pytest.raises(ValueError, match=r"column 'z1': every reference value is missing"):
        fit_reconstruction(
            {"x1": [1.0, 2.0], "z1": [None, None]}, window_size=1, kinds={"z1": "numerical"}
        )
    with pytest.raises(ValueError, match=r"variance must be in \(0, 1\), got 1.0"):
        fit_reconstruction(correlated(rng, 100), window_size=10, variance=1.0)
    with pytest.raises(ValueError, match=r"window_size must be >= 1, got 0"):
        fit_reconstruction(correlated(rng, 100), window_size=0)
    with pytest.raises(ValueError, match=r"the reference needs at least 2 rows, got 1"):
        fit_reconstruction({"x": [1.0]}, window_size=1)
