"""detectors.backends.alibi against Alibi Detect itself and against our stat tests.

Run by ``make test-alibi`` in .venv-alibi: Alibi Detect 0.13 pins numpy<2, so it cannot be
in the main venv, and the main ``pytest`` (testpaths = ["tests"]) never collects this.

What Alibi computes, read from its installed source (alibi_detect/cd/ks.py, chisquare.py,
tabular.py, base.py, pytorch/mmd.py):

- KS: ``scipy.stats.ks_2samp(x_ref[:, f], x[:, f], alternative, mode="asymp")``, stored in
  a float32 array. Our ``ks`` uses ``method="auto"``: exact up to 10,000 rows a side, the
  same asymptotic p-value above.
- Chi-squared: for each feature, the counts ``(x[:, f] == v).sum()`` of reference and
  current over the union of the categories (``categories_per_feature`` or those seen in
  the reference, and those seen in the current batch), stacked into a 2 x k table and
  passed to ``scipy.stats.chi2_contingency(table)`` with its default ``correction=True``:
  Yates' continuity correction, which scipy applies only at one degree of freedom (k = 2).
  Our ``chisquare`` is ``chi2_contingency(table, correction=False)`` on the same table
  (categories in another order, which the test does not see), so the two agree for k >= 3
  and differ for k = 2.
- Batch verdict: Bonferroni ``p < p_val / n_features`` on any feature; or
  Benjamini-Hochberg (``correction="fdr"``) with strict ``<``.
- MMD: unbiased MMD^2 with a Gaussian RBF kernel whose bandwidth is the median heuristic on
  the reference, permutation p-value ``mean(observed <= permuted)``.

p-values are compared as float32 (what Alibi stores), exactly.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch
from scipy import stats

from detectors import stattest
from detectors.backends import alibi
from detectors.stattests.chisquare import category_counts

# PyTorch warns at import about Alibi's use of torch.jit.script.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from alibi_detect.cd import ChiSquareDrift, KSDrift, TabularDrift

Columns = dict[str, Any]


def f32(x: float) -> float:
    """x as Alibi stores it: rounded to float32."""
    return float(np.float32(x))


def matrix(columns: Columns) -> npt.NDArray[np.float64]:
    return np.column_stack([np.asarray(v, dtype=np.float64) for v in columns.values()])


def numerical(seed: int, n_ref: int, n_cur: int) -> tuple[Columns, Columns]:
    rng = np.random.default_rng(seed)
    reference = {
        "same": rng.normal(size=n_ref),
        "shift": rng.normal(size=n_ref),
        "scale": rng.normal(size=n_ref),
        "ties": rng.integers(0, 20, size=n_ref).astype(float),
        "strong": rng.normal(size=n_ref),
    }
    current = {
        "same": rng.normal(size=n_cur),
        "shift": rng.normal(size=n_cur) + 0.04,
        "scale": rng.normal(size=n_cur) * 1.05,
        "ties": rng.integers(1, 21, size=n_cur).astype(float),
        "strong": rng.normal(size=n_cur) + 0.35,
    }
    return reference, current


def categorical(seed: int, n_ref: int, n_cur: int) -> tuple[Columns, Columns]:
    """Strings with None and NaN, a category seen only in current, and ints."""
    rng = np.random.default_rng(seed)
    ref_colour = rng.choice(np.array(["red", "green", "blue", None], dtype=object), size=n_ref)
    cur_colour = rng.choice(
        np.array(["red", "green", "blue", None, "pink"], dtype=object),
        size=n_cur,
        p=[0.3, 0.3, 0.2, 0.15, 0.05],
    )
    cur_colour[:3] = np.nan
    reference = {"colour": ref_colour, "level": rng.integers(0, 4, size=n_ref)}
    current = {"colour": cur_colour, "level": rng.integers(0, 4, size=n_cur)}
    return reference, current


# --- KS ----------------------------------------------------------------------------------


def test_ks_p_values_equal_our_ks_above_10000_rows() -> None:
    reference, current = numerical(seed=1, n_ref=12_000, n_cur=10_500)
    result = alibi.ks_drift(reference, current)
    direct = KSDrift(matrix(reference)).predict(matrix(current))["data"]

    for j, col in enumerate(reference):
        ours = stattest("ks")(reference[col], current[col])
        got = result.by_column(col)
        assert got.p_value == f32(ours.p_value), col
        assert got.statistic == f32(ours.statistic), col
        assert got.effect_size == got.statistic
        assert got.p_value == float(direct["p_val"][j]), col
        assert got.statistic == float(direct["distance"][j]), col
        assert (got.kind, got.method, got.n_reference, got.n_current) == (
            "numerical",
            "ks",
            12_000,
            10_500,
        )
    # As Alibi reports it: a p-value below float32's smallest (1.4e-45) is 0.
    strong = stattest("ks")(reference["strong"], current["strong"])
    assert 0.0 < strong.p_value < 1e-46
    assert result.by_column("strong").p_value == 0.0


def test_ks_up_to_10000_rows_is_the_asymptotic_p_value_not_our_exact_one() -> None:
    reference, current = numerical(seed=2, n_ref=300, n_cur=200)
    result = alibi.ks_drift(reference, current)

    for col in ["same", "shift", "scale", "ties"]:
        asymp = stats.ks_2samp(reference[col], current[col], method="asymp").pvalue
        exact = stats.ks_2samp(reference[col], current[col], method="exact").pvalue
        ours = stattest("ks")(reference[col], current[col]).p_value
        assert ours == exact, col
        assert result.by_column(col).p_value == f32(asymp), col
        assert result.by_column(col).p_value != f32(ours), col


# --- chi-squared -------------------------------------------------------------------------


def test_chisquare_p_values_equal_our_chisquare_from_three_categories() -> None:
    reference, current = categorical(seed=3, n_ref=2_000, n_cur=1_500)
    result = alibi.chisquare_drift(reference, current)

    for col in reference:
        ref_counts, cur_counts = category_counts(
            np.asarray(reference[col], dtype=object), np.asarray(current[col], dtype=object)
        )
        assert ref_counts.size >= 3, col
        table = np.vstack([ref_counts, cur_counts])
        scipy_default = stats.chi2_contingency(table)  # Alibi's call: correction=True
        ours = stattest("chisquare")(reference[col], current[col], kind="categorical")
        got = result.by_column(col)
        assert got.p_value == f32(scipy_default.pvalue) == f32(ours.p_value), col
        assert got.statistic == f32(scipy_default.statistic) == f32(ours.statistic), col
        assert (got.kind, got.method, got.n_reference, got.n_current) == (
            "categorical",
            "chisquare",
            2_000,
            1_500,
        )
        assert np.isnan(got.effect_size)


def test_chisquare_with_two_categories_is_yates_corrected_unlike_ours() -> None:
    rng = np.random.default_rng(4)
    reference = {"flag": rng.choice(["yes", "no"], size=500, p=[0.5, 0.5])}
    current = {"flag": rng.choice(["yes", "no"], size=400, p=[0.45, 0.55])}
    table = np.vstack(category_counts(reference["flag"], current["flag"]))
    yates = stats.chi2_contingency(table, correction=True)
    plain = stats.chi2_contingency(table, correction=False)
    ours = stattest("chisquare")(reference["flag"], current["flag"])
    assert ours.p_value == plain.pvalue

    got = alibi.chisquare_drift(reference, current).by_column("flag")
    assert got.p_value == f32(yates.pvalue)
    assert got.statistic == f32(yates.statistic)
    assert got.p_value != f32(plain.pvalue)


def test_chisquare_codes_and_categories_per_feature_as_alibi_infers_them() -> None:
    """The backend's encoding gives what ChiSquareDrift gives on the same integer codes,
    with categories_per_feature inferred by Alibi or given as Dict[int, int]."""
    reference, current = categorical(seed=5, n_ref=800, n_cur=600)
    result = alibi.chisquare_drift(reference, current)
    codes = [alibi.encode_categorical(reference[c], current[c]) for c in reference]
    x_ref = np.column_stack([ref for ref, _, _ in codes])
    x_cur = np.column_stack([cur for _, cur, _ in codes])
    inferred = ChiSquareDrift(x_ref).predict(x_cur)["data"]
    given = {j: len(labels) for j, (_, _, labels) in enumerate(codes)}
    explicit = ChiSquareDrift(x_ref, categories_per_feature=given).predict(x_cur)["data"]

    p_values = [c.p_value for c in result.columns]
    assert p_values == [float(p) for p in inferred["p_val"]]
    assert p_values == [float(p) for p in explicit["p_val"]]


def test_encode_categorical_numbers_the_sorted_union_with_one_missing_category() -> None:
    ref_codes, cur_codes, labels = alibi.encode_categorical(
        np.array(["b", None, "a", 1], dtype=object), np.array(["c", np.nan, "a"], dtype=object)
    )
    assert labels == ["1", "__missing__", "a", "b", "c"]
    assert ref_codes.tolist() == [3, 1, 2, 0]
    assert cur_codes.tolist() == [4, 1, 2]
    assert ref_codes.dtype == np.int64


# --- TabularDrift ------------------------------------------------------------------------


def test_tabular_drift_runs_ks_and_chisquare_by_kind_like_our_registry() -> None:
    num_ref, num_cur = numerical(seed=6, n_ref=11_000, n_cur=10_001)
    cat_ref, cat_cur = categorical(seed=7, n_ref=11_000, n_cur=10_001)
    reference = {"same": num_ref["same"], "shift": num_ref["shift"], **cat_ref}
    current = {"same": num_cur["same"], "shift": num_cur["shift"], **cat_cur}
    # "colour" holds strings (inferred categorical); "level" holds ints, so it is numerical
    # unless told otherwise.
    result = alibi.tabular_drift(reference, current, kinds={"level": "categorical"})

    expected_kinds = ["numerical", "numerical", "categorical", "categorical"]
    assert [c.kind for c in result.columns] == expected_kinds
    assert [c.method for c in result.columns] == ["ks", "ks", "chisquare", "chisquare"]
    for col, kind in zip(reference, expected_kinds, strict=True):
        test = stattest("ks" if kind == "numerical" else "chisquare")
        ours = test(reference[col], current[col], kind=kind)
        assert result.by_column(col).p_value == f32(ours.p_value), col
        assert result.by_column(col).statistic == f32(ours.statistic), col

    # The same as TabularDrift run directly, categories inferred by Alibi from the codes.
    x_ref, x_cur = [], []
    for col, kind in zip(reference, expected_kinds, strict=True):
        if kind == "numerical":
            x_ref.append(np.asarray(reference[col], dtype=float))
            x_cur.append(np.asarray(current[col], dtype=float))
        else:
            ref_codes, cur_codes, _ = alibi.encode_categorical(reference[col], current[col])
            x_ref.append(ref_codes.astype(float))
            x_cur.append(cur_codes.astype(float))
    direct = TabularDrift(np.column_stack(x_ref), categories_per_feature={2: None, 3: None})
    data = direct.predict(np.column_stack(x_cur))["data"]
    assert [c.p_value for c in result.columns] == [float(p) for p in data["p_val"]]
    assert result.dataset_drift == bool(data["is_drift"])

    inferred = alibi.tabular_drift(reference, current)
    assert [c.kind for c in inferred.columns] == [
        "numerical",
        "numerical",
        "categorical",
        "numerical",
    ]


# --- verdicts ----------------------------------------------------------------------------


def mild_and_null(n_null: int) -> tuple[Columns, Columns]:
    """A column with 0.0125 < p < 0.05 (drift uncorrected, not after Bonferroni over 4),
    one with p ~ 0, and ``n_null`` columns of the same distribution."""
    rng = np.random.default_rng(11)
    reference: Columns = {"mild": rng.normal(size=200)}
    current: Columns = {"mild": rng.normal(size=200) + 0.2}
    rng = np.random.default_rng(12)
    reference["strong"] = rng.normal(size=200)
    current["strong"] = rng.normal(size=200) + 1.0
    rng = np.random.default_rng(0)
    for i in range(n_null):
        reference[f"null{i}"] = rng.normal(size=200)
        current[f"null{i}"] = rng.normal(size=200)
    return reference, current


def test_verdicts_at_alibis_bonferroni_threshold() -> None:
    reference, current = mild_and_null(n_null=2)
    result = alibi.ks_drift(reference, current)

    mild, strong = result.by_column("mild"), result.by_column("strong")
    assert 0.05 / 4 < mild.p_value < 0.05
    assert strong.p_value < 1e-6
    assert all(c.p_value > 0.05 for c in result.columns if c.column.startswith("null"))
    assert {c.threshold for c in result.columns} == {0.05 / 4}
    assert {c.min_effect for c in result.columns} == {0.0}
    assert result.drifted_columns == ("strong",)
    assert (result.drift_share, result.share_threshold, result.dataset_drift) == (0.25, 0.25, True)
    # Alibi's own verdicts: uncorrected per feature, "mild" drifts; the batch drifts.
    x_ref, x_cur = matrix(reference), matrix(current)
    per_feature = KSDrift(x_ref).predict(x_cur, drift_type="feature")["data"]["is_drift"]
    assert per_feature.tolist() == [1, 1, 0, 0]
    assert KSDrift(x_ref).predict(x_cur)["data"]["is_drift"] == 1

    # Without the strong column nothing drifts after correction (over 3 columns).
    keep = ["mild", "null0", "null1"]
    result = alibi.ks_drift({k: reference[k] for k in keep}, {k: current[k] for k in keep})
    assert result.drifted_columns == ()
    assert (result.drift_share, result.dataset_drift) == (0.0, False)
    assert KSDrift(x_ref[:, [0, 2, 3]]).predict(x_cur[:, [0, 2, 3]])["data"]["is_drift"] == 0

    # A wider p_val: the mild column passes 0.2 / 4.
    wide = alibi.ks_drift(reference, current, p_val=0.2)
    assert wide.by_column("mild").threshold == 0.05
    assert wide.drifted_columns == ("mild", "strong")


def test_verdicts_with_fdr() -> None:
    reference, current = mild_and_null(n_null=2)
    result = alibi.ks_drift(reference, current, correction="fdr")
    p = np.array([c.p_value for c in result.columns])
    # Benjamini-Hochberg by hand: largest k with p_(k) < 0.05 * k / n; reject p <= p_(k).
    p_sorted = np.sort(p)
    k = max(i for i in range(1, 5) if p_sorted[i - 1] < 0.05 * i / 4)
    assert [c.drifted for c in result.columns] == (p <= p_sorted[k - 1]).tolist()
    assert {c.threshold for c in result.columns} == {0.05 * k / 4}
    assert result.dataset_drift

    null_ref = {k: v for k, v in reference.items() if k.startswith("null")}
    null = alibi.ks_drift(null_ref, {k: current[k] for k in null_ref}, correction="fdr")
    assert null.drifted_columns == ()
    assert not null.dataset_drift
    assert {c.threshold for c in null.columns} == {0.05 / 2}


def test_tabular_verdicts_are_alibis_batch_verdict() -> None:
    reference, current = mild_and_null(n_null=1)
    cat_ref, cat_cur = categorical(seed=3, n_ref=200, n_cur=200)
    reference["colour"], current["colour"] = cat_ref["colour"], cat_cur["colour"]
    for correction in alibi.CORRECTIONS:
        result = alibi.tabular_drift(reference, current, correction=correction)
        assert result.dataset_drift == any(c.drifted for c in result.columns)
        for c in result.columns:
            assert c.drifted == (c.p_value < c.threshold), (correction, c.column)


# --- MMD ---------------------------------------------------------------------------------


def unbiased_mmd2(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float:
    """Our empirical_mmd's statistic, in any dimension, at Alibi's bandwidth: the median
    heuristic on the reference's pairwise squared distances, diagonal excluded."""
    m, n = len(x), len(y)
    ref_sq = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    median = np.sort(ref_sq.ravel())[m + (m * m - m) // 2 - 1]
    sigma = np.sqrt(0.5 * median)
    pooled = np.concatenate([x, y])
    kernel = np.exp(-((pooled[:, None, :] - pooled[None, :, :]) ** 2).sum(-1) / (2 * sigma**2))
    np.fill_diagonal(kernel, 0.0)
    return float(
        kernel[:m, :m].sum() / (m * (m - 1))
        + kernel[m:, m:].sum() / (n * (n - 1))
        - 2 * kernel[:m, m:].mean()
    )


def test_mmd_drift_one_joint_test() -> None:
    rng = np.random.default_rng(8)
    reference = {"x": rng.normal(size=300), "y": rng.normal(size=300)}
    shifted = {"x": rng.normal(size=200) + 0.5, "y": rng.normal(size=200)}
    same = {"x": rng.normal(size=200), "y": rng.normal(size=200)}
    state = torch.get_rng_state()

    drift = alibi.mmd_drift(reference, shifted)
    (col,) = drift.columns
    assert (col.column, col.kind, col.method, col.threshold) == ("x, y", "numerical", "mmd", 0.05)
    assert (col.n_reference, col.n_current, col.min_effect) == (300, 200, 0.0)
    assert np.isnan(col.effect_size)
    assert col.p_value == 0.0
    assert col.drifted
    assert (drift.drift_share, drift.dataset_drift, drift.share_threshold) == (1.0, True, 1.0)
    assert col.statistic == pytest.approx(
        unbiased_mmd2(matrix(reference), matrix(shifted)), rel=1e-5
    )

    no_drift = alibi.mmd_drift(reference, same, n_permutations=50)
    (col,) = no_drift.columns
    assert col.p_value > 0.05
    assert col.p_value * 50 == pytest.approx(round(col.p_value * 50), abs=1e-5)
    assert not col.drifted
    assert not no_drift.dataset_drift
    assert col.statistic == pytest.approx(unbiased_mmd2(matrix(reference), matrix(same)), rel=1e-5)

    # Seeded, and the caller's torch RNG is left as it was.
    assert alibi.mmd_drift(reference, same, n_permutations=50) == no_drift
    assert torch.equal(torch.get_rng_state(), state)


# --- bad input ---------------------------------------------------------------------------


def test_bad_input_is_a_value_error_naming_the_column() -> None:
    good = {"a": np.arange(5.0), "b": np.arange(5.0)}
    with pytest.raises(ValueError, match=r"column 'b' has missing or infinite values"):
        alibi.ks_drift(good, {"a": np.arange(5.0), "b": [1.0, None, 2.0, 3.0, 4.0]})
    with pytest.raises(ValueError, match=r"current column 'b' has 4 rows, 'a' has 5"):
        alibi.tabular_drift(good, {"a": np.arange(5.0), "b": np.arange(4.0)})
    with pytest.raises(ValueError, match=r"column 'b' is in reference but not in current"):
        alibi.chisquare_drift(good, {"a": np.arange(5.0)})
    with pytest.raises(ValueError, match=r"column 'a' is numerical but holds a non-number"):
        alibi.ks_drift({"a": ["x", "y"]}, {"a": ["x", "z"]})
    with pytest.raises(ValueError, match=r"kinds names columns not in reference: 'c'"):
        alibi.tabular_drift(good, good, kinds={"c": "categorical"})
    with pytest.raises(ValueError, match=r"unknown correction 'bh'"):
        alibi.ks_drift(good, good, correction="bh")
    with pytest.raises(ValueError, match=r"needs 2 rows a side, got 1 and 5"):
        alibi.mmd_drift({"a": [1.0]}, good)
