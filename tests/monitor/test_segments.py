"""Segments: every signal of a monitor runs per value of its segment keys, beside the whole
traffic, on the stored sketches or the rows (real PostgreSQL)."""

from __future__ import annotations

import math
import textwrap
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from factories import MODEL, events, recent_start, register, store
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

import monitor.detection.signal_inputs as signal_inputs
import monitor.detection.window_segments as window_segments
from monitor.db.models import DetectorRun, Monitor, Result
from monitor.detection.bucket_refresh import RESKETCH, refresh_buckets
from monitor.detection.monitors_apply import apply_monitors
from monitor.detection.monitors_file import parse_monitors
from monitor.detection.runner import run_due
from monitor.detection.spec import MonitorSpec
from monitor.resources import MonitorDoc, upsert_monitor

START = recent_start().replace(hour=0)
HOUR = timedelta(hours=1)


def monitors(db: Engine, *bodies: str) -> None:
    """The credit model (factories.register, its own monitor disabled) watched by the
    monitors of ``bodies`` (YAML of each monitor, name and settings)."""
    register(db)
    with Session(db) as session, session.begin():
        session.execute(update(Monitor).values(enabled=False))
        items = []
        for body in bodies:
            lines = textwrap.dedent(body).strip().splitlines()
            items.append(f"  - model: {MODEL}\n" + "\n".join(f"    {line}" for line in lines))
        apply_monitors(session, parse_monitors("version: 1\nmonitors:\n" + "\n".join(items)))


def zones(
    db: Engine,
    start: datetime,
    sizes: dict[str, int],
    *,
    seed: int,
    shifted: tuple[str, ...] = (),
    flipped: tuple[str, ...] = (),
    labelled: dict[str, float] | None = None,
) -> None:
    """Per zone, ``n`` events of the hour from ``start`` with segment ``{zone: ...}``,
    scores from income and labels drawn from them (inverted for 40% of ``flipped`` zones'
    rows), for ``labelled`` of each zone's rows (all by default)."""
    rng = np.random.default_rng(seed)
    evs: list[dict[str, Any]] = []
    labels = []
    for zone, n in sizes.items():
        shift = zone in shifted
        for e in events(start, n, rng=rng, shift=shift, prefix=f"{seed}{zone}"):
            e["segment"] = {"zone": zone, "tier": "x"}
            p = 1 / (1 + math.exp(-2.0 * (e["features"]["income"] - 3.0)))
            e["prediction"] = int(p >= 0.5)
            e["scores"] = {"0": 1 - p, "1": p}
            label = int(rng.random() < p)
            if zone in flipped and rng.random() < 0.4:
                label = 1 - label
            if rng.random() < (labelled or {}).get(zone, 1.0):
                labels.append(
                    {
                        "event_id": e["event_id"],
                        "model_id": MODEL,
                        "label": label,
                        "timestamp": e["timestamp"],
                    }
                )
            evs.append(e)
    store(db, evs)
    store(db, labels, topic="driftwarden.labels")


def stored(db: Engine, **where: Any) -> dict[tuple[str, str, str], DetectorRun]:
    """Runs by (monitor, segment, signal), with their results loaded."""
    with Session(db) as session:
        query = select(DetectorRun, Monitor.name).join(Monitor)
        for key, value in where.items():
            query = query.where(getattr(DetectorRun, key) == value)
        out = {}
        for run, name in session.execute(query):
            _ = run.results
            out[name, run.segment, run.signal] = run
        session.expunge_all()
    return out


def rows(run: DetectorRun) -> dict[tuple[str, str], Result]:
    return {(r.feature, r.metric): r for r in run.results}


def _no_rows(*args: object, **kwargs: object) -> Any:
    raise AssertionError("the window's rows were read")


def _check_drift_by_zone(db: Engine, window: timedelta) -> None:
    zones(db, START, {"a": 300, "b": 300, "c": 10}, seed=1, shifted=("a",))
    run_due(db, now=START + 2 * window + timedelta(minutes=10))
    runs = stored(db, window_start=START)
    assert set(runs) == {
        ("plain", "", "data_drift"),
        *(("zoned", s, "data_drift") for s in ("", "zone=a", "zone=b", "zone=c")),
    }
    a, b, c = (runs["zoned", f"zone={z}", "data_drift"] for z in "abc")
    assert (a.status, a.n_current, a.dataset_drift) == ("ok", 300, True)
    assert rows(a)["income", "ks"].alert
    assert all(r.segment == "zone=a" for r in a.results)
    assert (b.status, b.n_current, b.dataset_drift) == ("ok", 300, False)
    assert not any(r.alert for r in b.results)
    # min_rows applies per segment: 10 rows are too few, not a noisy test.
    assert (c.status, c.n_current, c.results) == ("insufficient_data", 10, [])
    # The whole traffic is computed as without segments.
    whole, plain = runs["zoned", "", "data_drift"], runs["plain", "", "data_drift"]
    assert (whole.status, whole.n_current) == (plain.status, plain.n_current) == ("ok", 610)
    assert {k: (r.value, r.p_value, r.alert) for k, r in rows(whole).items()} == {
        k: (r.value, r.p_value, r.alert) for k, r in rows(plain).items()
    }


def test_each_segment_value_drifts_on_its_own_from_the_stored_sketches(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monitors(db, "name: plain\nmin_rows: 50", "name: zoned\nmin_rows: 50\nsegments: [zone]")
    # Hour windows are on buckets and refreshed first: the values and the drift checks
    # come from the stored sketches, no row is read.
    monkeypatch.setattr(signal_inputs, "load_windows", _no_rows)
    monkeypatch.setattr(window_segments, "_row_counts", _no_rows)
    _check_drift_by_zone(db, HOUR)


def test_a_window_off_the_buckets_segments_its_rows(db: Engine) -> None:
    settings = "window: 90m\nmin_rows: 50"
    monitors(db, f"name: plain\n{settings}", f"name: zoned\n{settings}\nsegments: [zone]")
    _check_drift_by_zone(db, timedelta(minutes=90))


def test_a_production_reference_is_the_same_segment_of_the_window_before(db: Engine) -> None:
    monitors(
        db,
        """
        name: zoned
        reference: previous_window
        signals: [data_drift, prediction_drift, performance]
        min_rows: 50
        min_labels: 50
        segments: [zone]
        """,
    )
    zones(db, START, {"a": 200, "b": 300}, seed=2)
    # Zone a's features move, zone b's labels go wrong and come for 60% of its rows.
    zones(
        db,
        START + HOUR,
        {"a": 250, "b": 300},
        seed=3,
        shifted=("a",),
        flipped=("b",),
        labelled={"b": 0.6},
    )
    run_due(db, now=START + 2 * HOUR + timedelta(minutes=10))
    runs = stored(db, window_start=START + HOUR)
    assert {s for _, s, _ in runs} == {"", "zone=a", "zone=b"}

    drift_a, drift_b = runs["zoned", "zone=a", "data_drift"], runs["zoned", "zone=b", "data_drift"]
    # Each compared with its own zone of the hour before, not with the whole traffic.
    assert (drift_a.n_current, drift_a.n_reference, drift_a.dataset_drift) == (250, 200, True)
    assert (drift_b.n_current, drift_b.n_reference, drift_b.dataset_drift) == (300, 300, False)
    assert runs["zoned", "", "data_drift"].n_reference == 500
    assert runs["zoned", "zone=a", "prediction_drift"].dataset_drift

    perf_a, perf_b = runs["zoned", "zone=a", "performance"], runs["zoned", "zone=b", "performance"]
    assert perf_a.status == perf_b.status == "ok"
    # Label coverage per segment.
    assert perf_a.n_labelled == 250
    assert rows(perf_a)["", "label_coverage"].value == 1.0
    assert 150 < perf_b.n_labelled < 210
    assert rows(perf_b)["", "label_coverage"].value == pytest.approx(perf_b.n_labelled / 300)
    assert rows(perf_b)["", "accuracy"].n_current == perf_b.n_labelled
    # Zone b's wrong labels alert in zone b; zone a's accuracy holds.
    assert rows(perf_b)["", "accuracy"].alert
    assert not rows(perf_a)["", "accuracy"].alert
    assert rows(perf_a)["", "accuracy"].n_reference == 200


def _sketched(db: Engine) -> set[int]:
    with db.connect() as conn:
        return set(conn.scalars(text("SELECT DISTINCT sketched FROM event_buckets")))


def _sketch_segments(db: Engine) -> set[str]:
    with db.connect() as conn:
        return set(conn.scalars(text("SELECT DISTINCT segment FROM bucket_sketches")))


def test_changing_the_segment_keys_rebuilds_the_sketches_without_reruns(db: Engine) -> None:
    register(db)
    zones(db, START, {"a": 50, "b": 50}, seed=4)
    refresh_buckets(db)
    assert _sketch_segments(db) == {""}
    assert RESKETCH not in _sketched(db)
    with db.begin() as conn:  # the new events' reruns
        conn.execute(text("DELETE FROM window_reruns"))

    def apply(segments: str) -> None:
        with Session(db) as session, session.begin():
            apply_monitors(
                session,
                parse_monitors(
                    f"version: 1\nmonitors:\n  - {{name: credit-drift, model: {MODEL}, "
                    f"min_rows: 50{segments}}}\n"
                ),
            )

    apply(", segments: [zone]")
    assert _sketched(db) == {RESKETCH}
    counts = refresh_buckets(db)
    assert counts.buckets == 1
    assert _sketch_segments(db) == {"", "zone=a", "zone=b"}
    with db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM window_reruns")) == 0

    # The same keys again (another setting changed): nothing to rebuild.
    apply(", segments: [zone], window: 2h")
    assert RESKETCH not in _sketched(db)
    # kind: Monitor documents too: one more key, then none.
    spec = MonitorSpec(model_id=MODEL, min_rows=50, segments=["zone", "tier"])
    with Session(db) as session, session.begin():
        upsert_monitor(session, MonitorDoc(name="credit-drift", spec=spec))
    assert _sketched(db) == {RESKETCH}
    refresh_buckets(db)
    assert _sketch_segments(db) == {"", "zone=a", "zone=b", "tier=x"}
    with Session(db) as session, session.begin():
        upsert_monitor(session, MonitorDoc(name="credit-drift", spec=MonitorSpec(model_id=MODEL)))
    assert _sketched(db) == {RESKETCH}
    refresh_buckets(db)
    assert _sketch_segments(db) == {""}


def test_segment_keys_are_validated() -> None:
    assert MonitorSpec(model_id="m").segments == []
    for bad, message in (
        (["zone", "zone"], "'zone' is listed twice"),
        (["a=b"], "contains '='"),
        ([""], "is not a segment key"),
    ):
        with pytest.raises(ValueError, match=message):
            MonitorSpec(model_id="m", segments=bad)
