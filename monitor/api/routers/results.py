"""Results, status and alert history over HTTP (read scope).

``GET /v1/results`` is a model's detector results as a time series, filtered and paged by
an opaque keyset cursor in window-end order; ``GET /v1/status`` and
``GET /v1/models/{model_id}/status`` the newest window of each signal; and
``GET /v1/alerts/history`` the alert instances with the windows they stepped on and the
notifications that carried them. The SQL is in monitor/api/results_queries.py.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool

from monitor.api.results_cache import Page, ResultsCache
from monitor.api.results_queries import (
    DEFAULT_SERIES_FIELDS,
    SERIES_FIELDS,
    VERSION_SQL,
    CursorError,
    HistoryFilter,
    HistoryKeyset,
    Keyset,
    ResultsFilter,
    SignalStatus,
    TooManyPointsError,
    alert_history,
    model_ids,
    model_verdict,
    results_page,
    results_version,
    series_body,
    signal_statuses,
    versioned,
)
from monitor.detection.spec import Signal

router = APIRouter(prefix="/v1", tags=["results"])

# Labels are stored in 200 characters; a control character (NUL above all, which
# PostgreSQL text cannot hold) is never in one, so it is refused as a 422, not a 500.
LABEL = r"^[^\x00-\x1f\x7f]*$"
Label = Annotated[str, Query(max_length=200, pattern=LABEL)]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="`next_cursor` of the previous page, unchanged."),
]

_WINDOW = {"window_start": "2026-11-02T00:00:00Z", "window_end": "2026-11-02T01:00:00Z"}


class ResultOut(BaseModel):
    """One row of ``results``: one run's value of one metric for one feature ('' = the
    run as a whole), with the run's labels."""

    id: int
    run_id: int
    model_id: str
    model_version: str
    segment: str = Field(description="'' is all traffic; else `key=value`.")
    signal: str
    feature: str = Field(description="'' for a run-level row (drift_share, ...).")
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
    alert: bool = Field(description="The verdict: true when the row breached its threshold.")
    n_reference: int | None
    n_current: int | None


class ResultsPage(BaseModel):
    results: list[ResultOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "results": [
                        {
                            "id": 1842,
                            "run_id": 97,
                            "model_id": "churn",
                            "model_version": "3",
                            "segment": "",
                            "signal": "data_drift",
                            "feature": "income",
                            "metric": "ks",
                            "kind": "numerical",
                            **_WINDOW,
                            "value": 0.31,
                            "p_value": 1e-6,
                            "effect_size": 0.8,
                            "threshold": 0.05,
                            "lower": None,
                            "upper": None,
                            "alert": True,
                            "n_reference": 20000,
                            "n_current": 5120,
                        }
                    ],
                    "next_cursor": "cjEuMTc5MzU4NTYwMDAwMDAwMC4xODQy",
                }
            ]
        }
    }


class SeriesOut(BaseModel):
    """One series: its labels, then one array per column, point k of each the same window.
    Only the columns asked for (`fields`) are present."""

    model_version: str
    signal: str
    feature: str = Field(description="'' for a run-level series (drift_share, ...).")
    metric: str
    kind: str | None
    window_end: list[float] = Field(description="Window ends, seconds since the epoch (UTC).")
    value: list[float | None] | None = None
    threshold: list[float | None] | None = None
    alert: list[bool] | None = Field(default=None, description="Breached its threshold.")
    p_value: list[float | None] | None = None
    effect_size: list[float | None] | None = None
    lower: list[float | None] | None = None
    upper: list[float | None] | None = None
    n_reference: list[int | None] | None = None
    n_current: list[int | None] | None = None
    window_start: list[float] | None = Field(default=None, description="Seconds since the epoch.")
    run_id: list[int] | None = None
    id: list[int] | None = None


class SeriesPage(BaseModel):
    model_id: str
    segment: str
    series: list[SeriesOut]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "model_id": "churn",
                    "segment": "",
                    "series": [
                        {
                            "model_version": "3",
                            "signal": "data_drift",
                            "feature": "income",
                            "metric": "ks",
                            "kind": "numerical",
                            "window_end": [1793584800, 1793588400, 1793592000],
                            "value": [0.04, 0.05, 0.31],
                            "threshold": [0.1, 0.1, 0.1],
                            "alert": [False, False, True],
                        }
                    ],
                }
            ]
        }
    }


class SignalStatusOut(BaseModel):
    signal: str
    model_version: str
    window_start: datetime
    window_end: datetime
    status: Literal["ok", "insufficient_data", "error"] = Field(description="The run's status.")
    verdict: Literal["alert", "ok", "insufficient_data", "error"] = Field(
        description="alert when any row of the run breached; else ok, or the run's status."
    )
    metrics: dict[str, float | None] = Field(
        description="The run-level rows (feature ''): metric -> value."
    )
    results: int = Field(description="Rows the run stored.")
    alerting: int = Field(description="Of those, rows that breached.")
    firing_alerts: int = Field(description="Firing alert instances with this model and signal.")


class ModelStatus(BaseModel):
    model_id: str
    verdict: Literal["alert", "error", "insufficient_data", "ok", "no_data"] = Field(
        description="The worst signal verdict; no_data before any window has run."
    )
    firing_alerts: int = Field(description="Firing alert instances labelled with this model.")
    signals: list[SignalStatusOut]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "model_id": "churn",
                    "verdict": "alert",
                    "firing_alerts": 2,
                    "signals": [
                        {
                            "signal": "data_drift",
                            "model_version": "3",
                            **_WINDOW,
                            "status": "ok",
                            "verdict": "alert",
                            "metrics": {"drift_share": 0.4},
                            "results": 11,
                            "alerting": 2,
                            "firing_alerts": 2,
                        }
                    ],
                }
            ]
        }
    }


class StatusOut(BaseModel):
    models: list[ModelStatus]


class WindowOut(BaseModel):
    window_end: datetime
    breached: bool
    value: float | None


class NotificationOut(BaseModel):
    id: int
    receiver: str
    delivery: Literal["pending", "delivered", "failed"]
    alert_status: str = Field(description="What the notification said: firing or resolved.")
    starts_at: datetime
    ends_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class AlertHistoryItem(BaseModel):
    fingerprint: str
    state: Literal["inactive", "pending", "firing", "resolved"]
    labels: dict[str, Any]
    annotations: dict[str, Any]
    value: float | None
    active_at: datetime | None
    fired_at: datetime | None
    resolved_at: datetime | None
    evaluated_until: datetime | None
    updated_at: datetime
    windows: list[WindowOut] = Field(description="The recent windows the instance stepped on.")
    notifications: list[NotificationOut] = Field(
        description="Outbox rows that carried the instance, oldest first."
    )


class AlertHistoryPage(BaseModel):
    alerts: list[AlertHistoryItem]
    next_cursor: str | None


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _range(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and start >= end:
        raise HTTPException(422, f"from={start.isoformat()}: must be before to={end.isoformat()}")


async def results_filter(
    *,
    model: Annotated[str, Query(min_length=1, max_length=200, pattern=LABEL)],
    version: Label | None = None,
    signal: Signal | None = None,
    feature: Annotated[
        str | None, Query(max_length=200, pattern=LABEL, description="'' = run-level rows.")
    ] = None,
    segment: Annotated[
        str, Query(max_length=200, pattern=LABEL, description="'' (default) = all traffic.")
    ] = "",
    metric: Label | None = None,
    start: Annotated[
        AwareDatetime | None,
        Query(alias="from", description="Window end at or after (RFC 3339 with offset)."),
    ] = None,
    end: Annotated[
        AwareDatetime | None, Query(alias="to", description="Window end before.")
    ] = None,
    verdict: Literal["alert", "ok"] | None = None,
) -> ResultsFilter:
    """The filters ``GET /v1/results`` and ``GET /v1/results/series`` share (async: a
    dependency that is not would run in the threadpool)."""
    _range(start, end)
    return ResultsFilter(
        model=model,
        segment=segment,
        version=version,
        signal=signal,
        feature=feature,
        metric=metric,
        start=start,
        end=end,
        alert=None if verdict is None else verdict == "alert",
    )


Selected = Annotated[ResultsFilter, Depends(results_filter)]


@router.get(
    "/results",
    response_model=ResultsPage,
    summary="Results as rows",
    response_description="A page of rows in window-end order.",
)
async def get_results(
    request: Request,
    selected: Selected,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    cursor: Cursor = None,
) -> Response:
    """One model's results in window-end order (then id), filtered; `next_cursor` pages
    on. An unknown model, or filters nothing matches, give an empty page."""
    try:
        after = Keyset.decode(cursor) if cursor is not None else None
    except CursorError as exc:
        raise HTTPException(422, str(exc)) from None

    def page(conn: Connection) -> bytes:
        return results_page(conn, selected, limit=limit, after=after)

    # Encoded rows (results_queries.py says why), kept while the model's results are
    # unchanged (results_cache.py).
    body = await _cached(request, selected, ("page", selected, limit, cursor), page)
    return Response(body, media_type="application/json")


def _series_fields(fields: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n for n in fields.split(",") if n != "window_end"))
    unknown = [n for n in names if n not in SERIES_FIELDS]
    if unknown:
        raise HTTPException(
            422,
            f"fields={fields!r}: unknown {', '.join(unknown)}; one of {', '.join(SERIES_FIELDS)}",
        )
    return names


@router.get(
    "/results/series",
    response_model=SeriesPage,
    response_model_exclude_none=True,
    summary="Results as time series",
    response_description="One series per model version, signal, feature and metric.",
)
async def get_series(
    request: Request,
    selected: Selected,
    fields: Annotated[
        str,
        Query(
            max_length=300,
            pattern=r"^[a-z_]+(,[a-z_]+)*$",
            description="The per-point columns besides `window_end`, comma-separated: "
            + ", ".join(SERIES_FIELDS)
            + ".",
        ),
    ] = ",".join(DEFAULT_SERIES_FIELDS),
    limit: Annotated[
        int, Query(ge=1, le=100_000, description="Refuse (422) a selection of more points.")
    ] = 10_000,
) -> Response:
    """The same rows as `GET /v1/results`, as a plot or a dashboard reads them: labels
    once per series, then one array per column in window-end order, times in seconds
    since the epoch (as Prometheus' range queries). A selection of more than `limit`
    points is refused rather than cut: narrow `from`/`to` or the filters."""
    names = _series_fields(fields)

    def body(conn: Connection) -> bytes:
        return series_body(conn, selected, fields=names, limit=limit)

    try:
        encoded = await _cached(request, selected, ("series", selected, names, limit), body)
    except TooManyPointsError as exc:
        raise HTTPException(422, str(exc)) from None
    return Response(encoded, media_type="application/json")


async def _cached(
    request: Request,
    selected: ResultsFilter,
    key: Hashable,
    body: Callable[[Connection], bytes],
) -> bytes:
    """The body for ``key`` (a request for ``selected``) from this process's results
    cache, built by ``body`` (in the threadpool, on the sync engine) when the model's
    results changed since it was kept."""
    state = request.app.state
    model = selected.model
    # Read with the key check (auth.authorize_results), unless the key was new.
    current: int | None = getattr(request.state, "results_version", None)
    if current is None:
        current = results_version(await state.db.fetchone(VERSION_SQL, {"model": model}))

    async def build() -> Page:
        return Page(*await run_in_threadpool(versioned, _engine(request), model, body))

    cache: ResultsCache = state.results_cache
    return await cache.page(key, current, build)


def _model_status(model_id: str, signals: list[SignalStatus], firing: int) -> ModelStatus:
    return ModelStatus(
        model_id=model_id,
        verdict=model_verdict(signals),
        firing_alerts=firing,
        signals=[SignalStatusOut.model_validate(s, from_attributes=True) for s in signals],
    )


@router.get("/status", summary="Latest status of every model")
def get_status(request: Request) -> StatusOut:
    """Per registered model, the newest window (all traffic) of each signal its
    monitors compute, and its firing alerts."""
    with _engine(request).connect() as conn:
        models = model_ids(conn, None)
        by_model, firing = signal_statuses(conn, None)
    return StatusOut(
        models=[_model_status(m, by_model.get(m, []), firing.get(m, 0)) for m in models]
    )


@router.get("/models/{model_id}/status", summary="Latest status of a model")
def get_model_status(
    request: Request,
    model_id: Annotated[str, Path(max_length=200, pattern=LABEL)],
) -> ModelStatus:
    """The newest window (all traffic) of each signal the model's monitors compute."""
    with _engine(request).connect() as conn:
        if not model_ids(conn, model_id):
            raise HTTPException(404, f"model_id={model_id!r}: no such model")
        by_model, firing = signal_statuses(conn, model_id)
    return _model_status(model_id, by_model.get(model_id, []), firing.get(model_id, 0))


@router.get("/alerts/history", summary="Alert instances over time")
def get_alert_history(
    request: Request,
    *,
    model: Label | None = None,
    signal: Signal | None = None,
    state: Literal["inactive", "pending", "firing", "resolved"] | None = None,
    start: Annotated[
        AwareDatetime | None,
        Query(
            alias="from",
            description="Active at or after: the current episode overlaps the range, or a "
            "notification carried the instance in it.",
        ),
    ] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> AlertHistoryPage:
    """Alert instances, most recently updated first, each with the windows it stepped on
    and the notifications that carried it (``GET /v1/alerts`` lists the current ones)."""
    _range(start, end)
    try:
        after = HistoryKeyset.decode(cursor) if cursor is not None else None
    except CursorError as exc:
        raise HTTPException(422, str(exc)) from None
    selected = HistoryFilter(model=model, signal=signal, state=state, start=start, end=end)
    with _engine(request).connect() as conn:
        items, next_cursor = alert_history(conn, selected, limit=limit, after=after)
    return AlertHistoryPage(
        alerts=[AlertHistoryItem.model_validate(i) for i in items], next_cursor=next_cursor
    )
