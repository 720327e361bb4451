"""The CLI side of the resource routes: `models list/show/register`, `monitors
show/delete`, `rules show` (redacted), `dead-letters list` filters and pages, and
`dead-letters replay` by model. Real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from factories import MODEL, events, recent_start, register
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from monitor.config import load_settings
from monitor.ingest.catalog import ModelCatalog
from monitor.ingest.prepare import Preparer
from monitor.ingest.sink import Batch, BatchWriter, Source

MODEL_YAML = """
model_id: churn
task_type: binary_classification
version: "1"
features:
  - {name: tenure, kind: numerical, range: [0, 240]}
  - {name: plan, kind: categorical, categories: [basic, pro]}
"""


def dead_letters(engine: Engine, payloads: list[bytes]) -> None:
    """Refused records written by ingest's own prepare and write path (no broker)."""
    catalog = ModelCatalog(refresh_s=0)
    preparer = Preparer(load_settings(), catalog)
    batch = Batch()
    with Session(engine) as session:
        for i, raw in enumerate(payloads):
            preparer.add(session, batch, Source("t.predictions", 0, i), raw)
        assert len(batch.rejected) == len(payloads)
        BatchWriter(engine, catalog).write(session, batch)


@pytest.fixture
def run(run_cli: object) -> object:
    return run_cli


def test_models_register_list_and_show(run: object, tmp_path: Path) -> None:
    invoke = run  # type: ignore[assignment]
    doc = tmp_path / "churn.yaml"
    doc.write_text(MODEL_YAML)
    assert "registered: churn version 1, 2 features" in invoke("models", "register", "-f", str(doc))
    assert "already registered" in invoke("models", "register", "-f", str(doc))
    [listed] = json.loads(invoke("models", "list", "--output", "json"))
    assert listed["model_id"] == "churn"
    assert listed["versions"][0]["n_features"] == 2
    assert "binary_classification" in invoke("models", "list")
    shown = json.loads(invoke("models", "show", "churn", "--output", "json"))
    assert shown["versions"][0]["features"][1] == {
        "name": "plan",
        "kind": "categorical",
        "categories": ["basic", "pro"],
    }
    assert "tenure" in invoke("models", "show", "churn")
    assert "MODEL_ID='nope'" in invoke("models", "show", "nope", code=2)
    assert "--output='xml'" in invoke("models", "list", "--output", "xml", code=2)

    doc.write_text(MODEL_YAML.replace("kind: numerical", "kind: categorical"))
    assert "another feature schema" in invoke("models", "register", "-f", str(doc), code=2)
    doc.write_text(MODEL_YAML.replace("binary_classification", "ranking"))
    assert "task_type='ranking'" in invoke("models", "register", "-f", str(doc), code=2)


def test_monitors_show_and_delete(run: object, db: Engine) -> None:
    invoke = run  # type: ignore[assignment]
    register(db)
    shown = json.loads(invoke("monitors", "show", "credit-drift", "--output", "json"))
    assert (shown["model"], shown["window"], shown["enabled"]) == (MODEL, "1h", True)
    assert "spec.min_rows" in invoke("monitors", "show", "credit-drift")
    assert "NAME='nope'" in invoke("monitors", "show", "nope", code=2)
    assert "deleted monitor credit-drift" in invoke("monitors", "delete", "credit-drift", "--yes")
    assert "NAME='credit-drift'" in invoke("monitors", "delete", "credit-drift", "--yes", code=2)
    with db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM monitors")) == 0


def test_rules_show_redacts_secrets(run: object, tmp_path: Path) -> None:
    invoke = run  # type: ignore[assignment]
    assert "no alerting config applied" in invoke("rules", "show", code=2)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        """
version: 1
receivers:
  - {name: hook, type: webhook, url: "http://127.0.0.1:9/h", secret: top-secret-hmac}
  - {name: chat, type: slack, url: "https://hooks.slack.com/services/T/B/SLACKTOKEN"}
route: {receiver: hook}
groups:
  - name: g
    rules:
      - {alert: Drift, matchers: ['signal="data_drift"'], condition: alert == 1}
"""
    )
    invoke("rules", "apply", "-f", str(rules), "--no-check-urls")  # the CLI is not restricted
    for output in ("table", "json"):
        shown = invoke("rules", "show", "--output", output)
        assert "top-secret-hmac" not in shown
        assert "SLACKTOKEN" not in shown
        assert "<redacted>" in shown
        assert "Drift" in shown
    config = json.loads(invoke("rules", "show", "--output", "json"))["config"]
    assert config["receivers"][0]["url"] == "http://127.0.0.1:9/h"


def test_dead_letters_list_filters_pages_and_replays(run: object, db: Engine) -> None:
    invoke = run  # type: ignore[assignment]
    evs = events(recent_start(), 3, rng=np.random.default_rng(4))
    dead_letters(db, [json.dumps(e).encode() for e in evs] + [b"not json"])
    page = json.loads(invoke("dead-letters", "list", "--limit", "2", "--output", "json"))
    assert [d["id"] for d in page] == [1, 2]
    rest = json.loads(invoke("dead-letters", "list", "--after", "2", "--output", "json"))
    assert [d["id"] for d in rest] == [3, 4]
    assert json.loads(invoke("dead-letters", "list", "--topic", "x", "--output", "json")) == []
    future = invoke("dead-letters", "list", "--since", "2999-01-01", "--output", "json")
    assert json.loads(future) == []
    assert "--since='soon'" in invoke("dead-letters", "list", "--since", "soon", code=2)
    assert "choose dead letters" in invoke("dead-letters", "replay", code=2)
    register(db)
    out = invoke("dead-letters", "replay", "--model", MODEL)
    assert "replayed 3: 3 stored, 0 still refused" in out
    assert "replayed 1: 0 stored, 1 still refused" in invoke("dead-letters", "replay", "--all")
    assert "replayed 0" in invoke("dead-letters", "replay", "--id", "1")


def test_alerting_lists_print_json(run: object) -> None:
    invoke = run  # type: ignore[assignment]
    created = invoke(
        "silences", "add", "-m", 'model="credit"', "--created-by", "ops", "--duration", "2h"
    ).strip()
    [silence] = json.loads(invoke("silences", "list", "--output", "json"))
    assert (silence["id"], silence["matchers"], silence["state"]) == (
        created,
        ['model="credit"'],
        "active",
    )
    assert json.loads(invoke("alerts", "list", "--output", "json")) == []
    assert json.loads(invoke("retraining", "list", "--output", "json")) == []
