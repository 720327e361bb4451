"""Stored bucket sketches against the real database: refresh, late events, segments,
day rollups, hash samples and two refreshing workers."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from factories import MODEL, events, recent_start, register, store
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from detectors.sketches import CategoricalLayout, Layout, Sketch, layout_from_dict, sketch
from monitor.detection import bucket_reads, bucket_refresh
from monitor.detection.baseline import load_baselines, save_baseline
from monitor.detection.bucket_reads import (
    DAY,
    HOUR,
    K_DAY,
    SAMPLE_KEY_BELOW,
    is_bucketed,
    segment_keys,
    window_sample,
    window_sketches,
)
from monitor.detection.bucket_refresh import refresh_buckets
from monitor.epoch import floor_to
from monitor.resources import FeatureSchema, ModelDoc, register_model

START = recent_start()
# Schema order of the factory model: num_values = [income, age], cat_values = [region].
COLUMNS = {"income": ("num", 0), "age": ("num", 1), "region": ("cat", 0)}


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def layouts(engine: Engine) -> dict[str, Layout]:
    with Session(engine) as session:
        profile = load_baselines(session, MODEL, "training")["1"]
    return {f: layout_from_dict(p["layout"]) for f, p in profile["features"].items()}


def hours(start: datetime, n_hours: int, per_hour: int, seed: int) -> list[dict[str, Any]]:
    """``per_hour`` events in each of ``n_hours`` hours from ``start``."""
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    for h in range(n_hours):
        out += events(start + h * HOUR, per_hour, rng=rng, prefix=f"s{seed}h{h}")
    return out


def raw(
    engine: Engine, lo: datetime, hi: datetime, segment: tuple[str, str] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """``(event_id, {feature: value})`` of the stored events of ``[lo, hi)`` with features,
    read without the bucket code (and of one segment value, when given)."""
    out = []
    for event_id, num, cat, seg in rows(
        engine,
        "SELECT event_id, num_values, cat_values, segment FROM predictions "
        "WHERE ts >= :lo AND ts < :hi AND model_version = '1'",
        lo=lo,
        hi=hi,
    ):
        if num is None and cat is None:
            continue
        if segment is not None and (seg or {}).get(segment[0]) != segment[1]:
            continue
        values = {"num": num or [], "cat": cat or []}
        out.append(
            (
                event_id,
                {f: values[a][i] if i < len(values[a]) else None for f, (a, i) in COLUMNS.items()},
            )
        )
    return out


def raw_sketches(
    events_: list[tuple[str, dict[str, Any]]], lays: dict[str, Layout]
) -> dict[str, Sketch]:
    out = {}
    for f, layout in lays.items():
        values = [v[f] for _, v in events_]
        if layout.kind == "numerical":
            out[f] = sketch(np.array([np.nan if x is None else x for x in values]), layout)
        else:
            out[f] = sketch(np.array(values, dtype=object), layout)
    return out


def md5_key(event_id: str) -> int:
    """The event key computed here, not in SQL: 16 hex digits of md5 as a signed int64."""
    key = int(hashlib.md5(event_id.encode()).hexdigest()[:16], 16)
    return key - (1 << 64) if key >= 1 << 63 else key


def read_sketches(
    engine: Engine, lo: datetime, hi: datetime, lays: dict[str, Layout], segment: str = ""
) -> dict[str, Sketch]:
    with Session(engine) as session:
        return window_sketches(
            session, model_id=MODEL, version="1", segment=segment, lo=lo, hi=hi, layouts=lays
        )


def dirty(engine: Engine) -> list[tuple[Any, ...]]:
    return rows(engine, "SELECT bucket FROM event_buckets WHERE changes <> sketched ORDER BY 1")


def without_features(e: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in e.items() if k != "features"}


def test_merged_stored_sketches_equal_the_sketch_of_the_raw_rows(db: Engine) -> None:
    register(db)
    evs = hours(START, 3, 150, seed=1)
    evs[5]["features"]["income"] = None  # a missing value is counted as missing
    pending = events(START + HOUR, 1, rng=np.random.default_rng(9), prefix="p")[0]
    store(db, [*evs, without_features(pending)])  # features still expected: left out

    counts = refresh_buckets(db)
    n_days = len({floor_to(START + h * HOUR, DAY) for h in range(3)})  # 1, or 2 near midnight
    assert (counts.buckets, counts.events, counts.sketches, counts.days) == (3, 450, 9, n_days)
    assert dirty(db) == []
    lays = layouts(db)
    lo, hi = START, START + 3 * HOUR
    stored = read_sketches(db, lo, hi, lays)
    expected = raw_sketches(raw(db, lo, hi), lays)
    assert set(stored) == {"income", "age", "region"}
    for f in lays:
        assert stored[f] == expected[f], f
    assert stored["income"].n == 450
    assert stored["income"].n_missing == 1
    # One hour alone, and an hour range with nothing stored: absent features.
    one = read_sketches(db, lo + HOUR, lo + 2 * HOUR, lays)
    assert one["region"] == raw_sketches(raw(db, lo + HOUR, lo + 2 * HOUR), lays)["region"]
    assert read_sketches(db, hi, hi + HOUR, lays) == {}
    assert refresh_buckets(db).buckets == 0  # nothing dirty left


def test_a_three_day_window_with_ragged_ends_reads_days_and_hours_exactly(db: Engine) -> None:
    register(db)
    day = floor_to(recent_start(days_ago=6), DAY)
    first = day - 6 * HOUR
    store(db, hours(first, 6 + 48 + 6, 12, seed=2))  # 60 hours, 720 events
    counts = refresh_buckets(db)
    assert (counts.buckets, counts.days) == (60, 4)
    n_day_rows = rows(
        db, "SELECT count(*) FROM bucket_sketches WHERE span_hours = 24 AND segment = ''"
    )
    assert n_day_rows == [(4 * 3,)]

    lays = layouts(db)
    lo, hi = day - 5 * HOUR, day + 2 * DAY + 3 * HOUR  # 5 + 48 + 3 hours
    assert is_bucketed(lo, hi)
    assert not is_bucketed(lo + timedelta(minutes=1), hi)
    window = raw(db, lo, hi)
    assert len(window) == 56 * 12
    stored = read_sketches(db, lo, hi, lays)
    assert stored == raw_sketches(window, lays)

    # The hash sample: of the events whose md5 key is below the threshold (computed here),
    # the values of the k smallest keys; all of them when there are fewer than k.
    by_key = sorted(
        (item for item in window if md5_key(item[0]) < SAMPLE_KEY_BELOW),
        key=lambda item: md5_key(item[0]),
    )
    assert 20 < len(by_key) < K_DAY  # about 1 in SAMPLE_EVERY of the 672
    with Session(db) as session:
        for k in (1, 17, K_DAY):
            sample = window_sample(
                session,
                model_id=MODEL,
                version="1",
                segment="",
                lo=lo,
                hi=hi,
                features=["income", "region"],
                layouts=lays,
                k=k,
            )
            expected_income = np.array([v["income"] for _, v in by_key[:k]], dtype=float)
            np.testing.assert_array_equal(sample["income"], expected_income)
            assert sample["region"].dtype == object
            assert sample["region"].tolist() == [v["region"] for _, v in by_key[:k]]


def test_day_rows_keep_the_smallest_keys_and_windows_still_sample_uniformly(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With day rows capped at 3 keys, a window over days and ragged hours still gets the
    3 smallest keys of its whole hash sample (each ranks at most 3 within its day)."""
    for module in (bucket_reads, bucket_refresh):
        monkeypatch.setattr(module, "K_DAY", 3)
    register(db)
    day = floor_to(START, DAY) + DAY
    store(db, hours(day - 4 * HOUR, 4 + 48 + 2, 24, seed=9))
    refresh_buckets(db)
    lo, hi = day - 4 * HOUR, day + 2 * DAY + 2 * HOUR
    expected = sorted(
        (md5_key(e), v["income"]) for e, v in raw(db, lo, hi) if md5_key(e) < SAMPLE_KEY_BELOW
    )[:3]
    with Session(db) as session:
        sample = window_sample(
            session,
            model_id=MODEL,
            version="1",
            segment="",
            lo=lo,
            hi=hi,
            features=["income"],
            layouts=layouts(db),
            k=3,
        )
    np.testing.assert_array_equal(sample["income"], [v for _, v in expected])


def test_a_late_event_dirties_its_bucket_and_queues_reruns(db: Engine) -> None:
    register(db)
    with db.begin() as conn:  # a second enabled monitor and a disabled one
        for name, enabled in (("credit-2", True), ("credit-off", False)):
            conn.execute(
                text(
                    "INSERT INTO monitors (name, model_id, spec, enabled) "
                    "SELECT :n, model_id, spec, :e FROM monitors WHERE name = 'credit-drift'"
                ),
                {"n": name, "e": enabled},
            )
    store(db, hours(START, 2, 40, seed=3))
    assert refresh_buckets(db).buckets == 2
    with db.begin() as conn:
        conn.execute(text("DELETE FROM window_reruns"))  # as if the runner consumed them

    late = events(START + timedelta(minutes=20), 1, rng=np.random.default_rng(7), prefix="late")
    store(db, late)
    assert dirty(db) == [(START,)]
    counts = refresh_buckets(db)
    assert (counts.buckets, counts.events) == (1, 41)
    assert dirty(db) == []
    reruns = rows(
        db,
        "SELECT m.name, r.bucket FROM window_reruns r JOIN monitors m ON m.id = r.monitor_id "
        "ORDER BY 1",
    )
    assert reruns == [("credit-2", START), ("credit-drift", START)]
    lays = layouts(db)
    stored = read_sketches(db, START, START + HOUR, lays)
    assert stored["age"].n == 41
    assert stored == raw_sketches(raw(db, START, START + HOUR), lays)

    store(db, late)  # a replay stores nothing, so changes nothing
    assert dirty(db) == []
    assert refresh_buckets(db).buckets == 0


def test_a_new_baseline_resketches_without_reruns_but_keeps_late_data_reruns(
    db: Engine,
) -> None:
    register(db)
    store(db, hours(START, 2, 40, seed=3))
    refresh_buckets(db)
    with db.begin() as conn:
        conn.execute(text("DELETE FROM window_reruns"))
    store(db, events(START, 1, rng=np.random.default_rng(8), prefix="late"))  # hour 0 dirty
    with Session(db) as session, session.begin():
        profile = load_baselines(session, MODEL, "training")["1"]
        save_baseline(session, model_id=MODEL, model_version="1", profile=profile, n_rows=9)
    # Both buckets are rebuilt; only the one with late data runs its windows again.
    assert refresh_buckets(db).buckets == 2
    assert rows(db, "SELECT bucket FROM window_reruns") == [(START,)]


def test_a_version_without_baseline_is_marked_sketched_without_sketches(db: Engine) -> None:
    register(db)
    with Session(db) as session, session.begin():
        register_model(
            session,
            ModelDoc(
                model_id=MODEL,
                task_type="binary_classification",
                version="2",
                features=[FeatureSchema(name="income", kind="numerical")],
            ),
        )
    evs = hours(START, 1, 20, seed=4)
    for e in evs:
        e["model_version"] = "2"
    store(db, evs)
    counts = refresh_buckets(db, model_id=MODEL)
    assert (counts.buckets, counts.sketches, counts.events) == (1, 0, 0)
    assert rows(db, "SELECT model_version, events, changes, sketched FROM event_buckets") == [
        ("2", 20, 20, 20)
    ]
    assert rows(db, "SELECT count(*) FROM bucket_sketches") == [(0,)]
    assert rows(db, "SELECT bucket FROM window_reruns") == [(START,)]


def test_segments_declared_by_a_monitor_get_their_own_sketches(db: Engine) -> None:
    register(db)
    with db.begin() as conn:  # the spec JSON is written directly: the stored JSON
        conn.execute(
            text("UPDATE monitors SET spec = spec || CAST(:s AS jsonb)"),
            {"s": '{"segments": ["region"]}'},
        )
    evs = hours(START, 2, 100, seed=5)
    for i, e in enumerate(evs):
        if i % 10 == 0:
            e["segment"] = {"tier": "gold"}  # no region: only in segment ''
        elif i % 10 != 1:  # and some with no segment at all
            e["segment"] = {"region": e["features"]["region"], "tier": "x"}
    store(db, evs)
    with Session(db) as session:
        assert segment_keys(session, MODEL) == ["region"]
    refresh_buckets(db)

    lays = layouts(db)
    lo, hi = START, START + 2 * HOUR
    stored_segments = {
        s for (s,) in rows(db, "SELECT DISTINCT segment FROM bucket_sketches ORDER BY 1")
    }
    regions = {"north", "south", "east", "west"}
    assert stored_segments == {"", *(f"region={r}" for r in regions)}
    total = 0
    for region in sorted(regions):
        stored = read_sketches(db, lo, hi, lays, segment=f"region={region}")
        expected = raw_sketches(raw(db, lo, hi, ("region", region)), lays)
        assert stored == expected, region
        region_layout = lays["region"]
        assert isinstance(region_layout, CategoricalLayout)
        assert stored["region"].counts[region_layout.bin_of(region)] == stored["region"].n
        total += stored["income"].n
    assert total == 160  # 200 events, minus 20 without a region and 20 without a segment
    assert read_sketches(db, lo, hi, lays)["income"].n == 200


def test_two_workers_refresh_each_bucket_once(db: Engine) -> None:
    register(db)
    day = floor_to(recent_start(days_ago=4), DAY)
    store(db, hours(day + 2 * HOUR, 8, 60, seed=6))
    barrier = threading.Barrier(2)
    done: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            n = 0
            # One bucket per transaction: both workers rebuild the same day's rollup.
            while (c := refresh_buckets(db, max_buckets=1)).buckets:
                n += c.buckets
            done.append(n)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(done) == 2
    assert sum(done) == 8
    assert dirty(db) == []
    lays = layouts(db)
    lo, hi = day, day + DAY
    expected = raw_sketches(raw(db, lo, hi), lays)
    assert read_sketches(db, lo, hi, lays) == expected  # from the day rollup
    assert read_sketches(db, lo + HOUR, hi, lays) == expected  # from the hours
    assert rows(db, "SELECT count(*) FROM bucket_sketches WHERE span_hours = 24") == [(3,)]
