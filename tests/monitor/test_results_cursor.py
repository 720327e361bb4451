"""The results cursor: new rows in order, never one skipped because it committed late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from factories import register
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.db.models import DetectorRun, Monitor, Result
from monitor.detection.results import Cursor, read_results

START = datetime(2026, 11, 2, tzinfo=UTC)


def _write_run(session: Session, monitor_id: int, version: str) -> None:
    run = DetectorRun(
        monitor_id=monitor_id,
        model_id="credit",
        model_version=version,
        segment="",
        signal="data_drift",
        window_start=START,
        window_end=START + timedelta(hours=1),
        status="ok",
        started_at=START,
        finished_at=START,
    )
    run.results = [
        Result(
            monitor_id=monitor_id,
            model_id="credit",
            model_version=version,
            segment="",
            signal="data_drift",
            window_start=START,
            window_end=START + timedelta(hours=1),
            feature="income",
            metric="ks",
            value=0.5,
            alert=True,
        )
    ]
    session.add(run)
    session.flush()


def _versions(rows: object) -> list[str]:
    return [r.model_version for r in rows]  # type: ignore[attr-defined]


def test_a_row_committed_late_with_a_smaller_txid_is_not_skipped(db: Engine) -> None:
    register(db)
    with Session(db) as s:
        monitor_id = s.scalars(select(Monitor.id)).one()
    early, late, reader = Session(db), Session(db), Session(db)
    try:
        _write_run(early, monitor_id, "early")  # takes its transaction id first...
        _write_run(late, monitor_id, "late")
        late.commit()  # ...but commits last
        # "late" is handed out; "early", still running, is not skipped: it is read once
        # it commits, although the cursor has moved past its smaller id.
        rows, cursor = read_results(reader)
        reader.rollback()
        assert _versions(rows) == ["late"]
        assert read_results(reader, cursor)[0] == []
        reader.rollback()
        early.commit()
        rows, cursor = read_results(reader, cursor)
        reader.rollback()
        assert _versions(rows) == ["early"]
        # Nothing new: nothing read; a later run is read alone.
        assert read_results(reader, cursor)[0] == []
        reader.rollback()
        _write_run(early, monitor_id, "next")
        early.commit()
        rows, _ = read_results(reader, cursor)
        assert _versions(rows) == ["next"]
    finally:
        for s in (early, late, reader):
            s.close()


def test_limit_pages_through_in_order(db: Engine) -> None:
    register(db)
    with Session(db) as s:
        monitor_id = s.scalars(select(Monitor.id)).one()
        for v in ("1", "2", "3"):
            _write_run(s, monitor_id, v)
            s.commit()
        seen: list[str] = []
        cursor = Cursor()
        while True:
            rows, cursor = read_results(s, cursor, limit=2)
            if not rows:
                break
            seen += _versions(rows)
        assert seen == ["1", "2", "3"]
