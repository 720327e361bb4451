"""The streaming profile builder and its reservoir (no services needed)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from detectors.quality import QualityProfile
from detectors.sketches import CategoricalLayout, Sketch, layout_from_dict, sketch
from monitor.detection import profiler
from monitor.detection.baseline import build_profile
from monitor.detection.profiler import ProfileBuilder, ProfileError
from monitor.detection.reservoir import RowReservoir


def _data(n: int, seed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    income = rng.normal(3.0, 1.0, n)
    income[rng.random(n) < 0.1] = np.nan
    income[7] = np.inf
    age = rng.integers(18, 80, n).astype(np.float64)
    age[[7, 11]] = [np.inf, -np.inf]  # infinite, not out of range (the range is [20, 70])
    region = rng.choice(["north", "south", "east", "west"], p=[0.4, 0.3, 0.2, 0.1], size=n)
    region = region.astype(object)
    region[rng.random(n) < 0.05] = None
    code = rng.integers(0, 300, n).astype(str).astype(object)  # more than top_k categories
    schema = [
        {"name": "income", "kind": "numerical"},
        {"name": "age", "kind": "numerical", "range": [20, 70]},
        {"name": "region", "kind": "categorical"},
        {"name": "code", "kind": "categorical"},
    ]
    return {"income": income, "age": age, "region": region, "code": code}, schema


def _batched(
    columns: dict[str, Any], schema: list[dict[str, Any]], sizes: list[int], **kw: Any
) -> dict[str, Any]:
    builder = ProfileBuilder(schema, **kw)
    for feed in (builder.sample, builder.count):
        start = 0
        for size in sizes:
            feed({k: v[start : start + size] for k, v in columns.items()})
            start += size
    return builder.finish()[0]


def _random_sizes(n: int, rng: np.random.Generator) -> list[int]:
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(0, 700)))  # empty batches included
    sizes[-1] -= sum(sizes) - n
    return sizes


def test_the_reservoir_is_bounded_and_the_same_whatever_the_batches() -> None:
    one = RowReservoir(100, seed=3)
    one.offer(10_000)
    rng = np.random.default_rng(0)
    for _ in range(5):
        many = RowReservoir(100, seed=3)
        for size in _random_sizes(10_000, rng):
            many.offer(size)
        assert np.array_equal(many.source_rows, one.source_rows)
    assert one.filled == 100
    assert len(set(one.source_rows.tolist())) == 100
    assert one.source_rows.min() >= 0
    assert one.source_rows.max() < 10_000
    small = RowReservoir(100, seed=3)
    small.offer(40)
    assert sorted(small.source_rows.tolist()) == list(range(40))


def test_every_row_is_equally_likely_to_be_kept() -> None:
    # 4,000 seeded reservoirs of 50 out of 1,000 rows: each row's inclusion count is
    # Binomial(4000, 0.05) (mean 200, sd 13.8) whatever its position.
    n, k, runs = 1000, 50, 4000
    hits = np.zeros(n, dtype=np.int64)
    for seed in range(runs):
        r = RowReservoir(k, seed=seed)
        r.offer(300)
        r.offer(700)
        hits[r.source_rows] += 1
    expected = runs * k / n
    sd = math.sqrt(runs * (k / n) * (1 - k / n))
    assert np.abs(hits - expected).max() < 5 * sd
    # Early, middle and late rows: block means within 4 standard errors of 200.
    for block in hits.reshape(10, 100):
        assert abs(block.mean() - expected) < 4 * sd / 10
    # Chi-squared of the counts against uniform: 999 dof, mean 999, sd about 45.
    chi2 = float((((hits - expected) ** 2) / expected).sum()) / (1 - k / n)
    assert chi2 < 999 + 5 * 45


def test_a_profile_does_not_depend_on_the_batches() -> None:
    columns, schema = _data(5000)
    whole = _batched(columns, schema, [5000], sample_size=700, seed=4)
    rng = np.random.default_rng(1)
    for _ in range(3):
        assert _batched(columns, schema, _random_sizes(5000, rng), sample_size=700, seed=4) == whole
    # JSON-safe, with the keys the runner reads.
    assert whole["format"] == 2
    assert whole["sample_size"] == 700
    assert whole["n_rows"] == 5000
    assert {f["kind"] for f in whole["features"].values()} == {"numerical", "categorical"}
    assert all(len(f["sample"]) == 700 for f in whole["features"].values())
    json.dumps(whole, allow_nan=False)


def test_build_profile_equals_the_streamed_profile_of_the_same_schema() -> None:
    columns, schema = _data(3000)
    plain = [{"name": f["name"], "kind": f["kind"]} for f in schema]
    streamed = _batched(columns, plain, [1000, 1500, 500])
    built, _ = build_profile(columns, {f["name"]: f["kind"] for f in schema})
    assert built == streamed


def test_the_sample_is_of_rows_and_in_row_order() -> None:
    n = 2000
    columns = {"x": np.arange(n, dtype=np.float64), "label": [str(i) for i in range(n)]}
    profile, _ = build_profile(
        columns, {"x": "numerical", "label": "categorical"}, max_sample=300, seed=9
    )
    xs = profile["features"]["x"]["sample"]
    assert xs == sorted(xs)
    assert profile["features"]["label"]["sample"] == [str(int(x)) for x in xs]


def test_sketch_summary_and_quality_are_those_of_all_the_rows() -> None:
    columns, schema = _data(8000)
    profile = _batched(columns, schema, [3000, 3000, 2000], sample_size=500)
    kinds = {f["name"]: f["kind"] for f in schema}
    reference = QualityProfile.from_reference(columns, kinds=kinds, ranges={"age": (20.0, 70.0)})
    assert profile["quality"] == reference.to_dict()

    income = profile["features"]["income"]
    layout = layout_from_dict(income["layout"])
    assert Sketch.from_dict(income["sketch"], layout) == sketch(columns["income"], layout)
    finite = columns["income"][np.isfinite(columns["income"])]
    s = income["summary"]
    assert s["count"] == 8000
    assert s["missing"] == int(np.isnan(columns["income"]).sum())
    assert s["infinite"] == 1
    assert (s["min"], s["max"]) == (finite.min(), finite.max())
    assert s["mean"] == pytest.approx(finite.mean(), rel=1e-12)
    assert s["std"] == pytest.approx(finite.std(), rel=1e-12)
    assert s["quantiles"]["p1"] < s["quantiles"]["p50"] < s["quantiles"]["p99"]
    # Edges from the reservoir of 500: each of the 20 bins holds about 5% of all rows.
    shares = Sketch.from_dict(income["sketch"], layout).value_counts / finite.size
    assert np.abs(shares - 0.05).max() < 0.03

    # Categorical layouts from the exact counts: CategoricalLayout.from_reference's.
    for name in ("region", "code"):
        got = layout_from_dict(profile["features"][name]["layout"])
        assert got == CategoricalLayout.from_reference(columns[name])
    region = profile["features"]["region"]["summary"]
    counts = {c: int((columns["region"] == c).sum()) for c in ("north", "south", "east", "west")}
    assert region["n_categories"] == 4
    assert region["n_categories_exact"] is True
    assert region["missing"] == sum(v is None for v in columns["region"])
    assert [t["value"] for t in region["top"]] == ["north", "south", "east", "west"]
    assert [t["count"] for t in region["top"]] == list(counts.values())
    assert region["top"][0]["share"] == counts["north"] / 8000
    assert profile["schema"] == schema


def test_constant_and_infinite_columns_are_profiled_as_detectors_quality_does() -> None:
    columns: dict[str, Any] = {
        "const": np.full(50, 2.5),
        "plus_inf": np.array([np.inf] * 3 + [np.nan] * 2),
        "mixed_inf": np.array([np.inf, -np.inf, np.nan, np.inf, np.inf]),
        "empty": np.full(5, np.nan),
        "one": ["a", "a", None, "a", "a"],
        "none": [None] * 5,
    }
    columns = {k: (v[:5] if k == "const" else v) for k, v in columns.items()}
    kinds = {
        "const": "numerical",
        "plus_inf": "numerical",
        "mixed_inf": "numerical",
        "empty": "numerical",
        "one": "categorical",
        "none": "categorical",
    }
    profile, _ = build_profile(columns, kinds)
    reference = QualityProfile.from_reference(
        {
            k: np.array(v, dtype=object) if kinds[k] == "categorical" else v
            for k, v in columns.items()
        },
        kinds=kinds,
    )
    assert profile["quality"] == reference.to_dict()
    assert profile["features"]["empty"]["summary"]["mean"] is None
    assert profile["features"]["plus_inf"]["sample"] == [None] * 5  # no inf in JSON


def test_a_high_cardinality_feature_gets_an_open_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profiler, "MAX_DISTINCT", 150)
    columns = {"id": [f"user-{i % 400}" for i in range(2000)]}
    profile = _batched(columns, [{"name": "id", "kind": "categorical"}], [333] * 6 + [2])
    layout = layout_from_dict(profile["features"]["id"]["layout"])
    assert isinstance(layout, CategoricalLayout)
    assert layout.known is None
    assert len(layout.categories) == 50
    summary = profile["features"]["id"]["summary"]
    assert (summary["n_categories"], summary["n_categories_exact"]) == (151, False)
    assert profile["quality"]["columns"][0]["known"] is None


def test_values_are_converted_as_ingest_stores_them() -> None:
    columns = {
        "n": [1, 2.5, None, np.int64(4), np.float32(0.5)],
        "c": ["a", 3, True, 4.0, None],
    }
    profile, _ = build_profile(columns, {"n": "numerical", "c": "categorical"})
    assert profile["features"]["n"]["sample"] == [1.0, 2.5, None, 4.0, 0.5]
    assert profile["features"]["c"]["sample"] == ["a", "3", "true", "4", None]


@pytest.mark.parametrize(
    ("columns", "kinds", "message"),
    [
        ({"n": [1.0, "lots"]}, {"n": "numerical"}, "feature 'n': row 1: 'lots' is not a number"),
        ({"n": [1.0, True]}, {"n": "numerical"}, "feature 'n': row 1: True is not a number"),
        ({"c": ["a", 2.5]}, {"c": "categorical"}, "feature 'c': row 1: 2.5 is not a category"),
        ({"c": ["a", ["x"]]}, {"c": "categorical"}, "row 1: ['x'] is not a category"),
        ({"n": [1.0], "c": ["a", "b"]}, {"n": "numerical", "c": "categorical"}, "differ in length"),
        ({"n": [1.0], "x": [2.0]}, {"n": "numerical"}, "['x'] have no kind"),
        ({"n": []}, {"n": "numerical"}, "no rows"),
    ],
)
def test_bad_columns_are_refused_naming_feature_row_and_value(
    columns: dict[str, Any], kinds: dict[str, str], message: str
) -> None:
    with pytest.raises(ProfileError) as err:
        build_profile(columns, kinds)
    assert message in str(err.value)


def test_the_builder_refuses_a_missing_feature_and_a_second_pass_of_other_rows() -> None:
    schema = [{"name": "a", "kind": "numerical"}, {"name": "b", "kind": "categorical"}]
    builder = ProfileBuilder(schema)
    with pytest.raises(ProfileError, match=r"missing \['b'\]"):
        builder.sample({"a": [1.0]})
    builder.sample({"a": [1.0, 2.0], "b": ["x", "y"]})
    builder.count({"a": [1.0], "b": ["x"]})
    with pytest.raises(ProfileError, match="pass 1 read 2 rows and pass 2 1"):
        builder.finish()
    with pytest.raises(ProfileError, match="pass 1 is over"):
        builder.sample({"a": [1.0], "b": ["x"]})


def test_a_profile_of_25_features_stays_small_beside_its_sample() -> None:
    rng = np.random.default_rng(5)
    n = 30_000
    columns: dict[str, Any] = {f"num{i}": np.round(rng.normal(size=n), 4) for i in range(20)}
    for i in range(5):
        columns[f"cat{i}"] = rng.choice([f"c{j}" for j in range(40)], size=n).astype(object)
    kinds = {k: "numerical" if k.startswith("num") else "categorical" for k in columns}
    profile, _ = build_profile(columns, kinds)
    total = len(json.dumps(profile))
    without_samples = len(
        json.dumps(
            {
                **profile,
                "features": {k: {**f, "sample": []} for k, f in profile["features"].items()},
            }
        )
    )
    # docs/baselines.md quotes these: about 50 KB besides the samples, 4.1 MB in all for
    # numbers of 4 decimals (9 MB at full float precision): the samples are nearly all.
    assert without_samples < 100_000
    assert total < 5_000_000
