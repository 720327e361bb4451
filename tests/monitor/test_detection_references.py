"""The detect worker with the monitors.yaml settings beyond the training baseline:
production references (the previous window, a fixed range), sliding windows, schedules."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from factories import MODEL, events, recent_start, register, store
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from monitor.db.models import DetectorRun, Monitor
from monitor.detection import window_data
from monitor.detection.evaluate import RunSummary
from monitor.detection.monitors_apply import apply_monitors
from monitor.detection.monitors_file import parse_monitors
from monitor.detection.runner import run_due

START = recent_start().replace(hour=0)
HOUR = timedelta(hours=1)


def monitor(db: Engine, settings: str) -> None:
    """The credit model (factories.register), watched only by the monitor ``m`` with
    ``settings`` (YAML lines of a monitor)."""
    register(db)
    with Session(db) as session, session.begin():
        session.execute(update(Monitor).values(enabled=False))  # register's own monitor
        body = "\n".join(f"    {line}" for line in settings.strip().splitlines())
        text = f"version: 1\nmonitors:\n  - name: m\n    model: {MODEL}\n{body}\n"
        apply_monitors(session, parse_monitors(text))


def outcomes(runs: list[RunSummary]) -> list[tuple[int, int, str, bool]]:
    """(start hour, length in hours, status, drift found) per run."""
    return [
        (
            (r.window_start - START) // HOUR,
            (r.window_end - r.window_start) // HOUR,
            r.status,
            bool(r.drifted_features),
        )
        for r in runs
    ]


def test_previous_window_compares_each_window_with_the_one_before(db: Engine) -> None:
    monitor(db, "reference: previous_window\nmin_rows: 50\ndelay: 0s")
    rng = np.random.default_rng(21)
    store(db, events(START, 300, rng=rng, prefix="h0"))
    store(db, events(START + HOUR, 300, rng=rng, prefix="h1"))
    store(db, events(START + 2 * HOUR, 300, rng=rng, prefix="h2", shift=True))
    store(db, events(START + 3 * HOUR, 300, rng=rng, prefix="h3", shift=True))
    runs = run_due(db, now=START + 4 * HOUR)
    # The first window has nothing before it; the shift shows once, when it starts.
    assert outcomes(runs) == [
        (0, 1, "insufficient_data", False),
        (1, 1, "ok", False),
        (2, 1, "ok", True),
        (3, 1, "ok", False),
    ]
    with Session(db) as session:
        n = session.execute(
            select(DetectorRun.n_reference, DetectorRun.n_current).order_by(DetectorRun.id)
        ).all()
    assert [tuple(row) for row in n] == [(0, 300), (300, 300), (300, 300), (300, 300)]


def test_a_fixed_reference_range_is_a_bounded_sample_of_each_versions_events(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    frm, to = START.isoformat(), (START + HOUR).isoformat()
    monitor(db, f"reference: {{from: '{frm}', to: '{to}'}}\nmin_rows: 50\ndelay: 0s")
    monkeypatch.setattr(window_data, "MAX_REFERENCE_ROWS", 200)
    rng = np.random.default_rng(22)
    store(db, events(START, 300, rng=rng, prefix="h0"))
    store(db, events(START + HOUR, 300, rng=rng, prefix="h1"))
    store(db, events(START + 2 * HOUR, 300, rng=rng, prefix="h2", shift=True))
    late = events(START + 3 * HOUR, 300, rng=rng, prefix="h3")
    for e in late:
        e["model_version"] = "2"  # no event of version 2 in the reference range
    store(db, late)
    runs = run_due(db, now=START + 4 * HOUR)
    assert outcomes(runs) == [
        (0, 1, "ok", False),  # the reference range itself
        (1, 1, "ok", False),
        (2, 1, "ok", True),
        (3, 1, "error", False),
    ]
    assert runs[3].error == (f"model_version='2': no events in the reference window [{frm}, {to})")
    with Session(db) as session:
        n_reference = session.scalars(
            select(DetectorRun.n_reference).order_by(DetectorRun.id)
        ).all()
    assert n_reference == [200, 200, 200, 0]


def test_sliding_windows_end_every_step_and_overlap(db: Engine) -> None:
    monitor(db, "window: {size: 2h, every: 1h}\nmin_rows: 50\ndelay: 0s")
    rng = np.random.default_rng(23)
    for hour in range(3):
        store(db, events(START + hour * HOUR, 100, rng=rng, prefix=f"h{hour}"))
    runs = run_due(db, now=START + 3 * HOUR)
    # Windows end on the hour; each holds the two hours before its end.
    assert [((r.window_start - START) // HOUR, r.n_current) for r in runs] == [
        (-1, 100),
        (0, 200),
        (1, 200),
    ]
    # The last window, [2h, 4h), is not closed yet; it is run once it is.
    assert run_due(db, now=START + 3 * HOUR + 30 * timedelta(minutes=1)) == []
    later = run_due(db, now=START + 4 * HOUR)
    assert [((r.window_start - START) // HOUR, r.n_current) for r in later] == [(2, 100)]


def test_a_schedule_evaluates_closed_windows_at_its_ticks_only(db: Engine) -> None:
    monitor(db, "window: 1h\nschedule: {every: 6h}\nmin_rows: 50\ndelay: 5m")
    rng = np.random.default_rng(24)
    for hour in range(8):
        store(db, events(START + hour * HOUR, 60, rng=rng, prefix=f"h{hour}"))
    # START is midnight UTC, a tick of every 6h; the next tick is 06:00 (+ the delay).
    assert run_due(db, now=START + 5 * HOUR + 50 * timedelta(minutes=1)) == []
    assert run_due(db, now=START + 6 * HOUR + 4 * timedelta(minutes=1)) == []
    runs = run_due(db, now=START + 6 * HOUR + 5 * timedelta(minutes=1))
    assert [(r.window_start - START) // HOUR for r in runs] == [0, 1, 2, 3, 4, 5]
    # Hours 6 and 7 are closed at 08:05 but wait for the 12:00 tick.
    assert run_due(db, now=START + 8 * HOUR + 5 * timedelta(minutes=1)) == []
    runs = run_due(db, now=START + 12 * HOUR + 5 * timedelta(minutes=1))
    assert [(r.window_start - START) // HOUR for r in runs] == [6, 7]


def test_a_new_window_size_resumes_at_the_window_holding_checked_until(db: Engine) -> None:
    monitor(db, "window: 1h\nmin_rows: 50\ndelay: 0s")
    rng = np.random.default_rng(25)
    for hour in range(8):
        store(db, events(START + hour * HOUR, 60, rng=rng, prefix=f"h{hour}"))
    first = run_due(db, now=START + 3 * HOUR)
    assert [(r.window_start - START) // HOUR for r in first] == [0, 1, 2]
    monitor(db, "window: 6h\nmin_rows: 50\ndelay: 0s")  # checked_until stays at 03:00
    runs = run_due(db, now=START + 12 * HOUR)
    # [00:00, 06:00) holds 03:00: hours 3-5 are not skipped (0-2 are checked again).
    assert [((r.window_start - START) // HOUR, r.n_current) for r in runs] == [
        (0, 360),
        (6, 120),
    ]
