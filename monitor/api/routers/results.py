"""Results, status and alert history over HTTP (read scope).

``GET /v1/results`` is a model's detector results as a time series, filtered and paged by
an opaque keyset cursor in window-end order; ``GET /v1/status`` and
``GET /v1/models/{model_id}/status`` the newest window of each signal; and
``GET /v1/alerts/history`` the alert instances with the windows they stepped on and the
notifications that carried them. The SQL is in monitor/api/results_queries.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from monitor.api.results_cache import Page, ResultsCache
from monitor.api.results_queries import (
    VERSION_SQL,
    CursorError,
    HistoryFilter,
    HistoryKeyset,
    Keyset,
    ResultsFilter,
    SignalStatus,
    alert_history,
    model_ids,
    model_verdict,
    results_version,
    signal_statuses,
    versioned_results_page,
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


@router.get(
    "/results",
    response_model=ResultsPage,
    summary="Results as a time series",
    response_description="A page of rows in window-end order.",
)
async def get_results(
    request: Request,
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
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    cursor: Cursor = None,
) -> Response:
    """One model's results in window-end order (then id), filtered; `next_cursor` pages
    on. An unknown model, or filters nothing matches, give an empty page."""
    _range(start, end)
    try:
        after = Keyset.decode(cursor) if cursor is not None else None
    except CursorError as exc:
        raise HTTPException(422, str(exc)) from None
    selected = ResultsFilter(
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
    state = request.app.state
    current = results_version(await state.db.fetchone(VERSION_SQL, {"model": model}))

    async def build() -> Page:
        engine = _engine(request)
        built = await run_in_threadpool(
            versioned_results_page, engine, selected, limit=limit, after=after
        )
        return Page(*built)

    # Encoded rows (results_queries.py says why), kept while the model's results are
    # unchanged (results_cache.py).
    cache: ResultsCache = state.results_cache
    body = await cache.page((selected, limit, cursor), current, build)
    return Response(body, media_type="application/json")


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
