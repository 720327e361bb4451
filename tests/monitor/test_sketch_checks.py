"""Data drift from stored sketches in the worker: binned tests on merged sketches, exact
tests on the stored hash sample, and the rows read only when neither can be used."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from factories import MODEL, events, recent_start, register, store
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from monitor.db.models import DetectorRun, Monitor, Result
from monitor.detection import evaluate, signal_inputs
from monitor.detection.runner import run_due
from monitor.detection.spec import MonitorSpec

START = recent_start().replace(hour=0)
HOUR = timedelta(hours=1)


def _no_rows(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the window's rows were read")


def _use(db: Engine, **spec: Any) -> None:
    with Session(db) as s, s.begin():
        s.execute(
            update(Monitor).values(
                spec=MonitorSpec(model_id=MODEL, min_rows=50, **spec).model_dump(mode="json")
            )
        )


def _results(db: Engine) -> dict[tuple[object, str], Result]:
    with Session(db) as s:
        rows = s.scalars(select(Result).join(DetectorRun).where(Result.feature != "")).all()
        return {(r.window_start, r.feature): r for r in rows if r.metric != "missing_share"}


def _store(db: Engine) -> None:
    rng = np.random.default_rng(21)
    store(db, events(START, 600, rng=rng, prefix="a"))
    store(db, events(START + HOUR, 600, rng=rng, prefix="b", shift=True))


def test_binned_checks_read_no_row_and_find_the_drift(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(db)
    _store(db)
    monkeypatch.setattr(signal_inputs, "load_windows", _no_rows)
    runs = run_due(db, now=START + 3 * HOUR)
    assert [(r.window_start, r.status, r.n_current) for r in runs] == [
        (START, "ok", 600),
        (START + HOUR, "ok", 600),
    ]
    found = _results(db)
    assert found[START, "income"].metric == "ks"
    assert not found[START, "income"].alert
    assert found[START + HOUR, "income"].alert
    assert found[START + HOUR, "income"].n_reference == 3000  # the baseline's rows


def test_an_exact_test_runs_on_the_stored_sample(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(db)
    _use(db, methods={"income": "anderson"})
    _store(db)
    monkeypatch.setattr(signal_inputs, "load_windows", _no_rows)
    monkeypatch.setattr(evaluate, "MIN_EXACT_SAMPLE", 20)  # 600 events: about 37 sampled
    run_due(db, now=START + 3 * HOUR)
    found = _results(db)
    assert found[START, "income"].metric == "anderson"
    assert 20 <= (found[START, "income"].n_current or 0) < 100  # the sample, not the 600
    assert found[START + HOUR, "income"].alert


def test_too_small_a_sample_reads_the_rows(db: Engine) -> None:
    register(db)
    _use(db, methods={"income": "anderson"})
    _store(db)
    run_due(db, now=START + 3 * HOUR)
    found = _results(db)
    assert found[START, "income"].metric == "anderson"
    assert found[START, "income"].n_current == 600  # every row: the sample was too small
