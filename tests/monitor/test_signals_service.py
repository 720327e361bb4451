"""Every signal end to end through the detect worker, on stored events and labels
(real PostgreSQL): prediction and target drift, skew, data quality, performance and
its CBPE estimate, and the monitors refused because a signal could never be computed."""

from __future__ import annotations

import math
import textwrap
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from factories import MODEL, events, recent_start, register, store
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from monitor.db.models import DetectorRun, Monitor, Result
from monitor.detection.monitors_apply import apply_monitors
from monitor.detection.monitors_file import MonitorsFileError, parse_monitors
from monitor.detection.runner import run_due

START = recent_start().replace(hour=0)
HOUR = timedelta(hours=1)


def monitor(db: Engine, settings: str) -> None:
    """The credit model (binary classification, factories.register) watched only by
    the monitor ``m`` with ``settings`` (YAML lines of a monitor)."""
    register(db)
    with Session(db) as session, session.begin():
        session.execute(update(Monitor).values(enabled=False))  # register's own monitor
        lines = textwrap.dedent(settings).strip().splitlines()
        body = "\n".join(f"    {line}" for line in lines)
        text = f"version: 1\nmonitors:\n  - name: m\n    model: {MODEL}\n{body}\n"
        apply_monitors(session, parse_monitors(text))


def traffic(
    db: Engine,
    start: datetime,
    n: int,
    *,
    seed: int,
    prefix: str,
    shift: bool = False,
    flip: float = 0.0,
    labelled: float = 1.0,
    missing_income: float = 0.0,
) -> None:
    """``n`` predictions of the hour from ``start`` with scores from income, the model's
    prediction (score >= 0.5), and labels drawn from the scores (a calibrated model),
    ``flip`` of them inverted (a model gone wrong), for ``labelled`` of the rows."""
    rng = np.random.default_rng(seed)
    evs = events(start, n, rng=rng, prefix=prefix, shift=shift)
    labels = []
    for e in evs:
        income = e["features"]["income"]
        p = 1 / (1 + math.exp(-2.0 * (income - (4.0 if shift else 3.0))))
        if shift:
            p = min(1.0, p + 0.25)  # a model whose output moves up
        e["prediction"] = int(p >= 0.5)
        e["scores"] = {"0": 1 - p, "1": p}
        if rng.random() < missing_income:
            e["features"]["income"] = None
        label = int(rng.random() < p)
        if rng.random() < flip:
            label = 1 - label
        if rng.random() < labelled:
            labels.append(
                {
                    "event_id": e["event_id"],
                    "model_id": MODEL,
                    "label": label,
                    "timestamp": e["timestamp"],
                }
            )
    store(db, evs)
    store(db, labels, topic="driftwarden.labels")


def results(db: Engine, signal: str, hour: int) -> tuple[DetectorRun, dict[tuple[str, str], Any]]:
    """The run of ``signal`` over the window starting ``hour`` hours after START, and
    its rows by (feature, metric)."""
    with Session(db) as session:
        run = session.scalars(
            select(DetectorRun).where(
                DetectorRun.signal == signal, DetectorRun.window_start == START + hour * HOUR
            )
        ).one()
        rows = session.scalars(select(Result).where(Result.run_id == run.id)).all()
        session.expunge_all()
    return run, {(r.feature, r.metric): r for r in rows}


def test_output_signals_and_performance_against_the_previous_window(db: Engine) -> None:
    monitor(
        db,
        """
        reference: previous_window
        signals: [data_drift, skew, prediction_drift, target_drift, performance,
                  estimated_performance]
        """,
    )
    traffic(db, START, 400, seed=1, prefix="h0")
    traffic(db, START + HOUR, 400, seed=2, prefix="h1")
    traffic(db, START + 2 * HOUR, 400, seed=3, prefix="h2", flip=0.4)  # labels gone wrong
    traffic(db, START + 3 * HOUR, 400, seed=4, prefix="h3", shift=True)  # outputs moved
    runs = run_due(db, now=START + 4 * HOUR + timedelta(minutes=10))
    by = {((r.window_start - START) // HOUR, r.signal): r for r in runs}
    assert len(by) == 4 * 6
    # The first window has no window before it; skew reads the baseline and runs.
    assert by[0, "prediction_drift"].status == "insufficient_data"
    assert by[0, "performance"].status == "insufficient_data"
    assert by[0, "skew"].status == "ok"

    # An unchanged window: no output drift, performance within the reference's.
    run, rows = results(db, "prediction_drift", 1)
    assert (run.status, run.n_current, run.n_reference) == ("ok", 400, 400)
    assert {f for f, _ in rows} == {"prediction", "score", ""}
    assert not any(r.alert for r in rows.values())
    run, perf = results(db, "performance", 1)
    acc = perf["", "accuracy"]
    assert run.status == "ok"
    assert run.n_labelled == 400
    assert acc.lower < acc.value < acc.upper
    assert not acc.alert
    assert acc.n_current == 400
    assert acc.n_reference == 400
    assert (perf["", "label_coverage"].value, perf["", "label_coverage"].alert) == (1.0, False)
    assert {m for _, m in perf} == {"accuracy", "f1", "label_coverage"}
    # CBPE, fitted on the window before, estimates the realized accuracy from scores.
    run, est = results(db, "estimated_performance", 1)
    estimate = est["", "accuracy"]
    assert run.status == "ok"
    assert abs(estimate.value - acc.value) < 0.05
    assert estimate.lower <= acc.value <= estimate.upper
    assert not estimate.alert

    # Labels gone wrong: accuracy falls more than max_drop (5%) below the reference's.
    run, perf = results(db, "performance", 2)
    acc = perf["", "accuracy"]
    assert acc.alert
    assert run.dataset_drift
    assert acc.upper < acc.threshold
    assert acc.effect_size < -0.1
    assert "accuracy" in by[2, "performance"].drifted_features
    _, target = results(db, "target_drift", 2)
    assert ("label", "chisquare") in target
    # The scores did not move, so their estimate does not fall: CBPE cannot see this.
    assert not results(db, "estimated_performance", 2)[1]["", "accuracy"].alert

    # Moved outputs: prediction drift on the predicted classes and the scores.
    _, rows = results(db, "prediction_drift", 3)
    assert rows["score", "ks"].alert
    assert rows["prediction", "chisquare"].alert
    assert set(by[3, "prediction_drift"].drifted_features) == {"prediction", "score"}
    # Skew compares with the training baseline, data drift with the window before.
    assert "income" in by[3, "skew"].drifted_features
    assert "income" in by[3, "data_drift"].drifted_features
    assert by[2, "skew"].drifted_features == ()


def test_a_window_with_30_percent_missing_values_fails_its_quality_check(db: Engine) -> None:
    monitor(db, "signals: [data_quality]")
    traffic(db, START, 300, seed=5, prefix="q0", missing_income=0.3)
    (run,) = run_due(db, now=START + 2 * HOUR)
    assert (run.signal, run.status, run.drifted_features) == (
        "data_quality",
        "ok",
        ("income:missing_rate",),
    )
    stored, rows = results(db, "data_quality", 0)
    missing = rows["income", "missing_rate"]
    assert missing.alert
    assert missing.threshold == 0.05
    assert 0.2 < missing.value < 0.4
    assert missing.effect_size == pytest.approx(missing.value)
    assert not rows["age", "missing_rate"].alert
    assert not rows["region", "unseen_rate"].alert
    assert not rows["income", "out_of_range_rate"].alert
    assert rows["", "failed_checks"].value == 1.0
    assert rows["", "failed_checks"].alert
    assert stored.n_reference == 3000


def test_too_few_labels_is_insufficient_data_and_n_labelled_says_so(db: Engine) -> None:
    monitor(
        db,
        """
        signals: [performance]
        performance: {min: {accuracy: 0.6}}
        min_labels: 100
        """,
    )
    traffic(db, START, 300, seed=6, prefix="l0", labelled=0.2)
    (run,) = run_due(db, now=START + 2 * HOUR)
    assert run.status == "insufficient_data"
    stored, rows = results(db, "performance", 0)
    assert 30 < stored.n_labelled < 100
    assert stored.n_current == 300
    assert rows == {}


def test_signals_that_could_never_be_computed_are_refused_at_apply(db: Engine) -> None:
    register(db)
    text = f"""
version: 1
defaults: {{signals: [data_drift, prediction_drift]}}
monitors:
  - {{name: a, model: {MODEL}}}
  - {{name: b, model: {MODEL}, reference: previous_window,
     signals: [performance], performance: {{metrics: [accuracy, mae]}}}}
  - {{name: c, model: {MODEL}, signals: [performance]}}
"""
    with pytest.raises(MonitorsFileError) as err:
        parse_monitors(text)
    assert err.value.problems == (
        "defaults.signals[1] (inherited by monitors[0] 'a'): 'prediction_drift' needs a "
        "production reference (previous_window or {from, to}), but the reference is the "
        "baseline 'training': a baseline holds features only, no predictions or labels",
        "monitors[2].performance: nothing to alert on: with the baseline reference "
        "'training', give performance.min and/or performance.max (max_drop needs a "
        "production reference: previous_window or {from, to})",
    )
    # Known only against the database: the model's task.
    text = text.replace("prediction_drift", "skew").split("  - {name: c")[0]
    with Session(db) as session, pytest.raises(MonitorsFileError) as err:
        apply_monitors(session, parse_monitors(text))
    assert err.value.problems == (
        "monitors[1].performance: 'mae' is not a metric of a binary_classification model "
        "like credit",
    )
