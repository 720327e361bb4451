"""The detect worker against the real database (events written without Kafka)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from factories import KINDS, MODEL, columns, events, recent_start, register, store
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.db.models import DetectorRun, Result
from monitor.detection.baseline import build_profile, load_baselines, save_baseline
from monitor.detection.results import DRIFT_SHARE, MISSING_SHARE
from monitor.detection.runner import run_due
from monitor.detection.spec import MonitorSpec

START = recent_start().replace(hour=0)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def test_each_closed_window_is_checked_once_and_drift_is_found_where_injected(db: Engine) -> None:
    register(db)
    rng = np.random.default_rng(11)
    store(db, events(START, 300, rng=rng, prefix="w0"))
    store(db, events(START + HOUR, 300, rng=rng, prefix="w1", shift=True))
    store(db, events(START + 2 * HOUR, 20, rng=rng, prefix="w2"))  # too few rows
    store(db, events(START + 3 * HOUR, 300, rng=rng, prefix="w3"))  # window still open

    # A window is due once closed for the allowed lateness (default 5 minutes): at +2h04
    # the second window, closed at +2h, still waits for stragglers.
    first = run_due(db, now=START + 2 * HOUR + timedelta(minutes=4))
    assert [r.window_start for r in first] == [START]
    runs = first + run_due(db, now=START + 3 * HOUR + timedelta(minutes=30))

    assert [(r.window_start, r.status) for r in runs] == [
        (START, "ok"),
        (START + HOUR, "ok"),
        (START + 2 * HOUR, "insufficient_data"),
    ]
    assert runs[0].drifted_features == ()
    assert set(runs[1].drifted_features) == {"income", "region"}
    with Session(db) as session:
        results = session.scalars(
            select(Result).join(DetectorRun).where(DetectorRun.window_start == START + HOUR)
        ).all()
        by_feature = {r.feature: r for r in results if r.metric not in (MISSING_SHARE, DRIFT_SHARE)}
        (share,) = [r for r in results if r.metric == DRIFT_SHARE]
    assert by_feature["income"].metric == "ks"
    assert by_feature["region"].metric == "chisquare"
    assert by_feature["age"].alert is False
    assert (share.feature, share.value, share.alert) == ("", 2 / 3, True)
    # The run's labels are on every row, for Grafana and rules without a join.
    assert {(r.model_id, r.signal, r.window_start) for r in results} == {
        (by_feature["age"].model_id, "data_drift", START + HOUR)
    }
    # Bonferroni over the three features of the run.
    assert by_feature["income"].threshold == 0.05 / 3
    assert by_feature["income"].n_current == 300

    # Nothing new is due: a second pass runs nothing; the open window waits for its end.
    assert run_due(db, now=START + 3 * HOUR + timedelta(minutes=30)) == []
    assert run_due(db, now=START + 4 * HOUR) == []
    later = run_due(db, now=START + 4 * HOUR + timedelta(minutes=10))
    assert [(r.window_start, r.status) for r in later] == [(START + 3 * HOUR, "ok")]


def test_a_version_without_baseline_is_reported_not_skipped(db: Engine) -> None:
    register(db)
    evs = events(START, 100, rng=np.random.default_rng(12))
    for e in evs:
        e["model_version"] = "2"
    store(db, evs)
    runs = run_due(db, now=START + 2 * HOUR)
    assert len(runs) == 1
    assert runs[0].status == "error"
    assert runs[0].error is not None
    assert "model_version='2'" in runs[0].error
    assert runs[0].model_id == MODEL


def test_empty_stretches_are_skipped_and_a_failing_window_does_not_stall_the_monitor(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(db)
    rng = np.random.default_rng(13)
    store(db, events(START, 100, rng=rng, prefix="a"))
    store(db, events(START + 2 * DAY, 100, rng=rng, prefix="b"))  # two days later
    import monitor.detection.evaluate as evaluate  # noqa: PLC0415

    real = evaluate._feature_drift
    calls = {"n": 0}

    def flaky(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ZeroDivisionError("detector bug")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(evaluate, "_feature_drift", flaky)
    runs = run_due(db, now=START + 3 * DAY)
    assert [(r.window_start, r.status) for r in runs] == [
        (START, "error"),
        (START + 2 * DAY, "ok"),  # the 47 empty windows between were not run one by one
    ]
    assert runs[0].error == "ZeroDivisionError: detector bug"


def test_an_unknown_method_is_refused_when_the_monitor_is_declared() -> None:
    with pytest.raises(ValueError, match=r"methods\.income='magic' is not a known test"):
        MonitorSpec(model_id="m", methods={"income": "magic"})


def test_a_re_saved_baseline_is_read_anew_by_a_worker_that_cached_it(db: Engine) -> None:
    """Decoded profiles are kept across windows (monitor.detection.baseline); saving the
    baseline again changes its row, and the next window reads the new one."""
    register(db)
    with Session(db) as s:
        first = load_baselines(s, MODEL, "training")["1"]
        assert load_baselines(s, MODEL, "training")["1"] is first  # cached
    profile, n = build_profile(columns(np.random.default_rng(99), 500), KINDS)
    with Session(db) as s, s.begin():
        save_baseline(s, model_id=MODEL, model_version="1", profile=profile, n_rows=n)
    with Session(db) as s:
        again = load_baselines(s, MODEL, "training")["1"]
    assert again is not first
    assert again["sample_size"] == 500 != first["sample_size"]
