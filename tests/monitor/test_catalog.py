"""The schema contract: models, version layouts, and what each feature value becomes."""

from __future__ import annotations

import json
import math

import msgspec
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitor.events import EventError
from monitor.ingest.catalog import (
    MAX_CATEGORY_CHARS,
    ContractLayout,
    ModelCatalog,
    map_encoded_features,
    map_features,
)
from monitor.layout import Layout
from monitor.resources import FeatureSchema, ModelDoc, register_model

LAYOUT = Layout(
    numerical=("x", "y"),
    categorical=("c",),
    ranges={"y": (0.0, 10.0)},
    categories={"c": frozenset({"a", "b"})},
)


def model(version: str, kind: str) -> ModelDoc:
    return ModelDoc(
        model_id="m",
        task_type="regression",
        version=version,
        features=[FeatureSchema(name="x", kind=kind)],
    )  # type: ignore[arg-type]


def test_values_land_in_schema_order_with_their_quality_facts() -> None:
    mapped = map_features("m", LAYOUT, {"y": 11, "c": "z", "x": math.nan, "new": [1]})
    assert mapped.num_values == [None, 11.0]
    assert mapped.cat_values == ["z"]
    assert mapped.extra == {"new": [1]}
    assert sorted(mapped.facts) == [
        ("c", "unseen_category"),
        ("new", "unknown_feature"),
        ("x", "non_finite"),
        ("y", "out_of_range"),
    ]
    assert map_features("m", LAYOUT, {}).facts == [
        ("x", "missing"),
        ("y", "missing"),
        ("c", "missing"),
    ]
    assert map_features("m", LAYOUT, {"c": True}).cat_values == ["true"]
    assert map_features("m", LAYOUT, {"c": 7}).cat_values == ["7"]


@pytest.mark.parametrize(
    ("features", "needle"),
    [
        ({"x": "12"}, "features.x='12': expected a number"),
        ({"x": True}, "features.x=True: expected a number"),
        ({"x": {"a": 1}}, "features.x={'a': 1}: expected a number"),
        ({"c": 1.5}, "features.c=1.5: expected a string"),
        ({"c": "v" * 2000}, "(2000 chars): expected at most 1024 characters"),
    ],
)
def test_a_wrong_type_rejects_the_event_naming_field_and_value(
    features: dict[str, object], needle: str
) -> None:
    with pytest.raises(EventError) as err:
        map_features("m", LAYOUT, features)
    assert err.value.reason == "feature_type"
    assert needle in str(err.value)


def test_a_joined_feature_log_counts_wrong_types_instead() -> None:
    mapped = map_features("m", LAYOUT, {"x": "12", "y": 1}, strict=False)
    assert mapped.num_values == [None, 1.0]
    assert ("x", "type_error") in mapped.facts


def test_models_and_versions_registered_while_running_are_picked_up(db: Engine) -> None:
    catalog = ModelCatalog(refresh_s=0)
    with Session(db) as session, session.begin():
        catalog.load(session)
        with pytest.raises(EventError, match="model_id='m': unknown model"):
            catalog.check_model(session, "m")
        register_model(session, model("1", "numerical"))
        assert catalog.layout(session, "m", "1").numerical == ("x",)
        register_model(session, model("2", "categorical"))
        assert catalog.layout(session, "m", "2").categorical == ("x",)


def test_an_unseen_version_is_registered_with_the_latest_schema(db: Engine) -> None:
    with Session(db) as session, session.begin():
        register_model(session, model("1", "numerical"))
    catalog = ModelCatalog()
    with Session(db) as session:
        assert catalog.layout(session, "m", "7").numerical == ("x",)
    with Session(db) as session:
        assert ModelCatalog().layout(session, "m", "7").numerical == ("x",)  # it was stored


PLAIN = ContractLayout(numerical=("x", "a-b", "class"), categorical=("c",))
COMMON = [
    '{"x": 1.5, "a-b": -2, "class": 0, "c": "red"}',
    '{"c": "", "class": 1e300, "a-b": 0.0, "x": 3}',  # any order; ints are numbers
    '{"x": 1, "a-b": 2, "class": 3, "c": "\\u00fc", "x": 4}',  # a repeated key: the last
]
UNCOMMON = [
    '{"x": 1, "a-b": 2, "class": 3}',  # missing
    '{"x": 1, "a-b": 2, "class": 3, "c": "r", "d": 1}',  # unknown
    '{"x": null, "a-b": 2, "class": 3, "c": "r"}',  # null
    '{"x": true, "a-b": 2, "class": 3, "c": "r"}',  # a boolean is not a number
    '{"x": "1", "a-b": 2, "class": 3, "c": "r"}',
    '{"x": 1, "a-b": 2, "class": 3, "c": 7}',  # an integer category
    '{"x": 1e308, "a-b": 1e308, "class": 1, "c": "r"}',  # finite values, infinite sum
    f'{{"x": 1, "a-b": 2, "class": 3, "c": "{"r" * (MAX_CATEGORY_CHARS + 1)}"}}',
    "[1, 2]",
]


@pytest.mark.parametrize("text", COMMON)
def test_the_common_event_decodes_straight_into_the_layout(text: str) -> None:
    fast = map_encoded_features(PLAIN, msgspec.Raw(text.encode()))
    assert fast == map_features("m", PLAIN, json.loads(text))
    assert fast is not None
    assert fast.facts == []


@pytest.mark.parametrize("text", UNCOMMON)
def test_any_other_features_object_is_left_to_the_per_value_checks(text: str) -> None:
    assert map_encoded_features(PLAIN, msgspec.Raw(text.encode())) is None


def test_a_schema_with_ranges_or_categories_always_takes_the_per_value_checks() -> None:
    checked = ContractLayout(numerical=("x",), categorical=(), ranges={"x": (0.0, 1.0)})
    assert map_encoded_features(checked, msgspec.Raw(b'{"x": 0.5}')) is None


def test_finite_values_whose_sum_overflows_are_kept() -> None:
    mapped = map_features("m", PLAIN, {"x": 1e308, "a-b": 1e308, "class": -1e308, "c": "r"})
    assert (mapped.num_values, mapped.facts) == ([1e308, 1e308, -1e308], [])
