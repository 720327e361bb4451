"""`driftwarden apply` documents: the shipped example applies; bad ones are named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.db.models import ModelVersion, Monitor
from monitor.resources import ResourceError, apply_document

EXAMPLE = Path(__file__).parents[2] / "examples" / "quickstart.yaml"


def test_the_quickstart_example_applies_and_reapplies(db: Engine) -> None:
    docs = list(yaml.safe_load_all(EXAMPLE.read_text()))
    for _ in range(2):  # applying twice updates in place
        with Session(db) as session, session.begin():
            done = [apply_document(session, d) for d in docs]
    assert done == [
        "model churn version 1",
        "monitor churn-drift",
    ]
    with Session(db) as session:
        version = session.get(ModelVersion, ("churn", "1"))
        assert version is not None
        assert version.feature_schema[2]["categories"] == ["monthly", "yearly", "two_year"]
        assert session.scalars(select(Monitor.name)).all() == ["churn-drift"]


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        (
            {"kind": "Monitor", "name": "m", "spec": {"model_id": "x", "window": "soon"}},
            "spec.window='soon'",
        ),
        (
            {
                "kind": "Model",
                "model_id": "m",
                "task_type": "ranking",
                "version": "1",
                "features": [],
            },
            "task_type='ranking'",
        ),
        ({"kind": "Receiver", "name": "r", "url": "http://x"}, "driftwarden rules apply"),
        ({"kind": "Rule", "alert": "R"}, "kind='Rule': receivers and rules"),
        ({"kind": "Dashboard"}, "kind='Dashboard'"),
    ],
)
def test_a_bad_document_names_the_field_and_value(
    db: Engine, doc: dict[str, object], needle: str
) -> None:
    with Session(db) as session, pytest.raises(ResourceError) as err:
        apply_document(session, doc, where="file.yaml#1")
    assert needle in str(err.value)
    assert "file.yaml#1" in str(err.value)
