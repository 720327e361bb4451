"""The SQL behind the results, status and alert-history routes (monitor/api/routers/results.py).

Every filter is a bound parameter: the SQL text is assembled only from the constant
fragments below, chosen by which filters are present, never from a request's values.

A results page is the largest answer (a 7-day series of one model is thousands of rows),
so it skips the ORM and pydantic: rows come from psycopg's binary protocol straight into
msgspec structs and are encoded by msgspec (bench/api.py measured 4x less time per page
than PostgreSQL's ``json_build_object`` and far less than validating each row).
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, text

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CURSOR_VERSION = "r1"


class CursorError(ValueError):
    """A ``cursor`` this endpoint did not hand out (or one damaged in transit)."""


@dataclass(frozen=True)
class ResultsFilter:
    """What ``GET /v1/results`` selects: one model's rows, optionally narrowed."""

    model: str
    segment: str = ""
    version: str | None = None
    signal: str | None = None
    feature: str | None = None
    metric: str | None = None
    start: datetime | None = None  # window_end >= start
    end: datetime | None = None  # window_end < end
    alert: bool | None = None


@dataclass(frozen=True)
class Keyset:
    """The position after a page's last row: ``(window_end, id)``, the page order."""

    window_end: datetime
    id: int

    def encode(self) -> str:
        micros = (self.window_end - _EPOCH) // _MICROSECOND
        raw = f"{_CURSOR_VERSION}.{micros}.{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> Keyset:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            version, micros, row_id = raw.split(".")
            if version != _CURSOR_VERSION:
                raise ValueError(version)
            return cls(window_end=_EPOCH + int(micros) * _MICROSECOND, id=int(row_id))
        except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
            raise CursorError(
                f"cursor={cursor[:80]!r}: not a cursor of this endpoint (pass next_cursor "
                "from the previous page unchanged)"
            ) from None


class ResultRow(msgspec.Struct):
    """One ``results`` row as the API answers it: the fields of routers/results.py's
    ``ResultOut``, in the order ``results_sql`` selects them."""

    id: int
    run_id: int
    model_id: str
    model_version: str
    segment: str
    signal: str
    feature: str
    metric: str
    kind: str | None
    window_start: datetime
    window_end: datetime
    value: float | None
    p_value: float | None
    effect_size: float | None
    threshold: float | None
    lower: float | None
    upper: float | None
    alert: bool
    n_reference: int | None
    n_current: int | None


# model_id and segment are the filter's (the same string object in every row, rather
# than one read per row); the other fields in ResultRow's order.
_FROM_FILTER = ("model_id", "segment")
_COLUMNS = ", ".join(f"r.{n}" for n in ResultRow.__struct_fields__ if n not in _FROM_FILTER)
# Optional conditions by filter field: constant text, values bound by name (psycopg).
_CONDITIONS = {
    "version": "r.model_version = %(version)s",
    "signal": "r.signal = %(signal)s",
    "feature": "r.feature = %(feature)s",
    "metric": "r.metric = %(metric)s",
    "start": "r.window_end >= %(start)s",
    "end": "r.window_end < %(end)s",
    "alert": "r.alert = %(alert)s",
}
_ENCODER = msgspec.json.Encoder()
# Pages built at once in this process. The work is CPU-bound (one GIL), so more at once
# adds no throughput, only memory: each page in flight holds its rows and its body.
_BUILDING = threading.BoundedSemaphore(4)
# Rows turned into structs and encoded at a time: a page holds its fetched result and its
# JSON, but the structs of one chunk only (each thread's malloc arena keeps its peak).
_CHUNK = 500


def _conditions(f: ResultsFilter) -> tuple[list[str], dict[str, Any]]:
    """The filter's WHERE conditions (constant text) and their bound values."""
    where = ["r.model_id = %(model)s", "r.segment = %(segment)s"]
    params: dict[str, Any] = {"model": f.model, "segment": f.segment}
    for name, condition in _CONDITIONS.items():
        value = getattr(f, name)
        if value is not None:
            where.append(condition)
            params[name] = value
    return where, params


def results_sql(f: ResultsFilter, *, after: Keyset | None) -> tuple[str, dict[str, Any]]:
    """The page query (psycopg parameters, ``%(limit)s`` left to the caller) and its
    parameters. ``model_id`` (and ``signal``, ``feature`` when given) and the window-end
    range are conditions on ``ix_results_series`` (model_id, signal, feature,
    window_end); PostgreSQL 18 skips over the signal and feature columns when they are
    not given (tests/monitor/test_api_results.py and bench/api.py check the plan)."""
    where, params = _conditions(f)
    if after is not None:
        where.append("(r.window_end, r.id) > (%(after_end)s, %(after_id)s)")
        params |= {"after_end": after.window_end, "after_id": after.id}
    sql = (
        f"SELECT {_COLUMNS} FROM results r "
        f"WHERE {' AND '.join(where)} ORDER BY r.window_end, r.id LIMIT %(limit)s"
    )
    return sql, params


# The model's results version (results_versions, migration 0006); 0 before any result.
VERSION_SQL = "SELECT version FROM results_versions WHERE model_id = %(model)s"


def results_version(row: tuple[int] | None) -> int:
    return 0 if row is None else row[0]


def versioned(engine: Engine, model: str, body: Callable[[Connection], bytes]) -> tuple[int, bytes]:
    """``body(conn)`` (a results page, series) and the model's results version, read in
    one snapshot: the page cache keeps a body under the version its rows were read at."""
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        driver = conn.connection.driver_connection
        if driver is None:
            raise RuntimeError("the results version needs an open psycopg connection")
        version = results_version(driver.execute(VERSION_SQL, {"model": model}).fetchone())
        return version, body(conn)


def results_page(conn: Connection, f: ResultsFilter, *, limit: int, after: Keyset | None) -> bytes:
    """One page as the JSON body of ``ResultsPage``: ``{"results": [...], "next_cursor":
    ...}``, ``next_cursor`` null on the last page. One row more than ``limit`` is read
    to know whether another page follows."""
    sql, params = results_sql(f, after=after)
    driver = conn.connection.driver_connection
    if driver is None:
        raise RuntimeError("the results page needs an open psycopg connection")
    with _BUILDING, driver.cursor(binary=True) as cur:
        cur.execute(sql, {**params, "limit": limit + 1})
        more = cur.rowcount > limit
        remaining = min(cur.rowcount, limit)
        model, segment = f.model, f.segment
        parts: list[bytes] = []
        last: ResultRow | None = None
        while remaining > 0:
            chunk = cur.fetchmany(min(_CHUNK, remaining))
            remaining -= len(chunk)
            # SELECT order: id, run_id, model_version, signal, ...; ResultRow puts
            # model_id before model_version and segment before signal.
            rows = [ResultRow(r[0], r[1], model, r[2], segment, *r[3:]) for r in chunk]
            parts.append(_ENCODER.encode(rows)[1:-1])  # the items, without [ ]
            last = rows[-1]
    cursor = Keyset(last.window_end, last.id).encode() if more and last is not None else None
    return b'{"results":[%b],"next_cursor":%b}' % (b",".join(parts), _ENCODER.encode(cursor))


# --- series ------------------------------------------------------------------------

# What names a series (with the filter's model and segment), in its sort order.
SERIES_LABELS = ("model_version", "signal", "feature", "metric")
# The per-point columns a series can carry (``fields``); window_end always comes first.
SERIES_FIELDS = (
    "value",
    "threshold",
    "alert",
    "p_value",
    "effect_size",
    "lower",
    "upper",
    "n_reference",
    "n_current",
    "window_start",
    "run_id",
    "id",
)
DEFAULT_SERIES_FIELDS = ("value", "threshold", "alert")
_EPOCH_COLUMNS = {"window_start", "window_end"}


class TooManyPointsError(ValueError):
    """The selection holds more points than the request allows."""


def _column(name: str) -> str:
    if name in _EPOCH_COLUMNS:  # seconds since the epoch, as Prometheus' range queries
        return f"extract(epoch FROM r.{name})::float8"
    return f"r.{name}"


def series_sql(f: ResultsFilter, fields: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """The series query: the filter's rows (as ``results_sql`` selects them) ordered by
    series then window end, with the series' labels, ``kind``, the window end and the
    requested ``fields``; ``%(limit)s`` left to the caller."""
    where, params = _conditions(f)
    columns = [f"r.{n}" for n in SERIES_LABELS] + ["r.kind", _column("window_end")]
    columns += [_column(n) for n in fields]
    order = ", ".join(f"r.{n}" for n in (*SERIES_LABELS, "window_end", "id"))
    sql = (
        f"SELECT {', '.join(columns)} FROM results r WHERE {' AND '.join(where)} "
        f"ORDER BY {order} LIMIT %(limit)s"
    )
    return sql, params


def _epoch(seconds: float) -> int | float:
    return int(seconds) if seconds.is_integer() else seconds


def series_body(
    conn: Connection, f: ResultsFilter, *, fields: tuple[str, ...], limit: int
) -> bytes:
    """The filter's rows as series (one per version, signal, feature and metric): labels
    once, then one array per column, in window-end order. Refused past ``limit`` points,
    as a time-series API refuses a range of too many points rather than cut it."""
    sql, params = series_sql(f, fields)
    driver = conn.connection.driver_connection
    if driver is None:
        raise RuntimeError("the series query needs an open psycopg connection")
    n_labels = len(SERIES_LABELS)
    columns = ("window_end", *fields)
    epochs = [i for i, name in enumerate(columns) if name in _EPOCH_COLUMNS]
    series: list[dict[str, Any]] = []
    with _BUILDING, driver.cursor(binary=True) as cur:
        cur.execute(sql, {**params, "limit": limit + 1})
        if cur.rowcount > limit:
            raise TooManyPointsError(
                f"limit={limit}: the selection holds more points; narrow from/to or the "
                "filters, or raise limit"
            )
        current: tuple[Any, ...] | None = None
        arrays: list[list[Any]] = []
        for row in cur:
            labels = row[:n_labels]
            if labels != current:
                current = labels
                arrays = [[] for _ in columns]
                series.append(
                    {
                        **dict(zip(SERIES_LABELS, labels, strict=True)),
                        "kind": row[n_labels],
                        **dict(zip(columns, arrays, strict=True)),
                    }
                )
            for array, value in zip(arrays, row[n_labels + 1 :], strict=True):
                array.append(value)
    for one in series:
        for i in epochs:
            name = columns[i]
            one[name] = [_epoch(t) for t in one[name]]
    return _ENCODER.encode({"model_id": f.model, "segment": f.segment, "series": series})


# --- status ------------------------------------------------------------------------

# Per model and signal its monitors compute (from their specs), the newest window of all
# traffic (segment ''), found by a backward scan of ix_runs_model_window; then that run's
# rows by uq_results_run (run_id, ...).
_STATUS_SQL = """
WITH pairs AS (
  SELECT DISTINCT m.model_id, s.signal
  FROM monitors m CROSS JOIN LATERAL jsonb_array_elements_text(m.spec -> 'signals') AS s(signal)
  WHERE {model_filter}
)
SELECT p.model_id, p.signal, run.id, run.model_version, run.window_start, run.window_end,
       run.status, agg.n_rows, agg.n_alerting, agg.run_metrics
FROM pairs p
CROSS JOIN LATERAL (
  SELECT d.id, d.model_version, d.window_start, d.window_end, d.status
  FROM detector_runs d
  WHERE d.model_id = p.model_id AND d.signal = p.signal AND d.segment = ''
  ORDER BY d.window_end DESC, d.id DESC
  LIMIT 1
) run
CROSS JOIN LATERAL (
  SELECT count(*) AS n_rows, count(*) FILTER (WHERE res.alert) AS n_alerting,
         coalesce(jsonb_object_agg(res.metric, res.value) FILTER (WHERE res.feature = ''),
                  '{{}}'::jsonb) AS run_metrics
  FROM results res WHERE res.run_id = run.id
) agg
ORDER BY p.model_id, p.signal
"""

_FIRING_SQL = """
SELECT labels ->> 'model' AS model_id, coalesce(labels ->> 'signal', '') AS signal, count(*)
FROM alert_states
WHERE state = 'firing' {model_filter}
GROUP BY 1, 2
"""


@dataclass(frozen=True)
class SignalStatus:
    signal: str
    model_version: str
    window_start: datetime
    window_end: datetime
    status: str  # the run's: ok, insufficient_data, error
    verdict: str  # alert, ok, insufficient_data, error
    metrics: dict[str, float | None]
    results: int
    alerting: int
    firing_alerts: int


def model_ids(conn: Connection, model: str | None) -> list[str]:
    """The registered models (just ``model`` when given and known)."""
    if model is None:
        return list(conn.scalars(text("SELECT model_id FROM models ORDER BY model_id")))
    return list(conn.scalars(text("SELECT model_id FROM models WHERE model_id = :m"), {"m": model}))


def signal_statuses(
    conn: Connection, model: str | None
) -> tuple[dict[str, list[SignalStatus]], dict[str, int]]:
    """Per model, the newest window's status of each signal, and the model's firing
    alert instances (by their ``model`` label). ``model`` None: every model."""
    params = {} if model is None else {"m": model}
    runs = conn.execute(
        text(_STATUS_SQL.format(model_filter="true" if model is None else "m.model_id = :m")),
        params,
    ).all()
    firing_rows = conn.execute(
        text(_FIRING_SQL.format(model_filter="" if model is None else "AND labels->>'model' = :m")),
        params,
    ).all()
    firing: dict[tuple[str, str], int] = {(m, s): n for m, s, n in firing_rows}
    by_model: dict[str, list[SignalStatus]] = {}
    for model_id, signal, _run_id, version, start, end, status, n_rows, n_alerting, metrics in runs:
        verdict = status if status != "ok" else ("alert" if n_alerting else "ok")
        by_model.setdefault(model_id, []).append(
            SignalStatus(
                signal=signal,
                model_version=version,
                window_start=start,
                window_end=end,
                status=status,
                verdict=verdict,
                metrics=dict(sorted(metrics.items())),
                results=n_rows,
                alerting=n_alerting,
                firing_alerts=firing.get((model_id, signal), 0),
            )
        )
    totals: dict[str, int] = {}
    for (model_id, _signal), n in firing.items():
        totals[model_id] = totals.get(model_id, 0) + n
    return by_model, totals


# Worst first: the model's verdict is its worst signal's.
VERDICT_ORDER = ("alert", "error", "insufficient_data", "ok")


def model_verdict(signals: list[SignalStatus]) -> str:
    """The worst verdict of the signals; ``no_data`` when none has run yet."""
    if not signals:
        return "no_data"
    return min((s.verdict for s in signals), key=VERDICT_ORDER.index)


# --- alert history -------------------------------------------------------------------

_HISTORY_CONDITIONS = {
    "model": "a.labels ->> 'model' = :model",
    "signal": "a.labels ->> 'signal' = :signal",
    "state": "a.state = :state",
}
# Active in [start, end): the current episode overlaps the range, or a notification that
# carried the instance (any episode) was written in it.
_IN_RANGE = """(
  (a.active_at IS NOT NULL AND a.active_at < :end
   AND (a.resolved_at IS NULL OR a.resolved_at >= :start))
  OR a.fingerprint IN (
    SELECT item ->> 'fingerprint'
    FROM notification_outbox o CROSS JOIN LATERAL jsonb_array_elements(o.payload -> 'alerts') item
    WHERE o.created_at >= :start AND o.created_at < :end))"""


@dataclass(frozen=True)
class HistoryFilter:
    model: str | None = None
    signal: str | None = None
    state: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class HistoryKeyset:
    """After the instance updated at ``updated_at`` with ``fingerprint`` (newest first)."""

    updated_at: datetime
    fingerprint: str

    def encode(self) -> str:
        micros = (self.updated_at - _EPOCH) // _MICROSECOND
        raw = f"h1.{micros}.{self.fingerprint}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> HistoryKeyset:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            version, micros, fingerprint = raw.split(".")
            if version != "h1" or not fingerprint.isalnum():
                raise ValueError(version)
            return cls(_EPOCH + int(micros) * _MICROSECOND, fingerprint)
        except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
            raise CursorError(
                f"cursor={cursor[:80]!r}: not a cursor of this endpoint (pass next_cursor "
                "from the previous page unchanged)"
            ) from None


_NOTIFICATIONS_SQL = """
SELECT item ->> 'fingerprint', o.id, o.receiver, o.status, item ->> 'status',
       item ->> 'startsAt', item ->> 'endsAt', o.created_at, o.delivered_at
FROM notification_outbox o CROSS JOIN LATERAL jsonb_array_elements(o.payload -> 'alerts') item
WHERE item ->> 'fingerprint' = ANY(:fingerprints)
ORDER BY o.id
"""


def alert_history(
    conn: Connection, f: HistoryFilter, *, limit: int, after: HistoryKeyset | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of alert instances (newest update first) with the notifications that
    carried each (outbox rows, oldest first), and the next page's cursor."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit + 1}
    for name, condition in _HISTORY_CONDITIONS.items():
        value = getattr(f, name)
        if value is not None:
            where.append(condition)
            params[name] = value
    if f.start is not None or f.end is not None:
        where.append(_IN_RANGE)
        params["start"] = f.start or _EPOCH
        params["end"] = f.end or datetime.max.replace(tzinfo=UTC)
    if after is not None:
        where.append("(a.updated_at, a.fingerprint) < (:after_at, :after_fp)")
        params |= {"after_at": after.updated_at, "after_fp": after.fingerprint}
    sql = (
        "SELECT a.fingerprint, a.state, a.labels, a.annotations, a.value, a.active_at, "
        "a.fired_at, a.resolved_at, a.evaluated_until, a.updated_at, "
        "a.record -> 'history' AS history "
        f"FROM alert_states a {'WHERE ' + ' AND '.join(where) if where else ''} "
        "ORDER BY a.updated_at DESC, a.fingerprint DESC LIMIT :limit"
    )
    rows = conn.execute(text(sql), params).all()
    more = len(rows) > limit
    rows = rows[:limit]
    notes: dict[str, list[dict[str, Any]]] = {}
    if rows:
        for (
            fp,
            nid,
            receiver,
            status,
            alert_status,
            starts,
            ends,
            created,
            delivered,
        ) in conn.execute(text(_NOTIFICATIONS_SQL), {"fingerprints": [r[0] for r in rows]}):
            notes.setdefault(fp, []).append(
                {
                    "id": nid,
                    "receiver": receiver,
                    "delivery": status,
                    "alert_status": alert_status,
                    "starts_at": starts,
                    "ends_at": None if ends is None or ends.startswith("0001-") else ends,
                    "created_at": created,
                    "delivered_at": delivered,
                }
            )
    items = []
    for row in rows:
        item = dict(row._mapping)
        history = item.pop("history")
        item["windows"] = [_window(entry) for entry in history or []]
        item["notifications"] = notes.get(item["fingerprint"], [])
        items.append(item)
    cursor = HistoryKeyset(rows[-1][9], rows[-1][0]).encode() if more else None
    return items, cursor


def _window(entry: list[Any]) -> dict[str, Any]:
    """A record history entry ``[window end (epoch s or ISO), breached, value]``."""
    at, breached, value = entry
    when = datetime.fromisoformat(at) if isinstance(at, str) else datetime.fromtimestamp(at, UTC)
    return {"window_end": when, "breached": bool(breached), "value": value}
