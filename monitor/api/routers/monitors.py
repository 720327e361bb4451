"""Monitors: list, show, create or replace one, delete, and apply a monitors.yaml.

Every change goes through ``monitor.detection.monitors_apply.apply_monitors``, the code
of ``driftwarden monitors apply``: ``PUT /v1/monitors/{name}`` applies a one-monitor
document (its body is a ``monitors:`` entry of docs/monitors.md, without the name), and
``POST /v1/monitors/apply`` a whole document, all or nothing, each problem named.
``DELETE`` removes the monitor with its runs and results (``prune`` in an apply only
disables: prefer that to keep the history).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.api.support import (
    DOCUMENT_MAX_BYTES,
    LimitedRoute,
    document_body,
    document_text,
    max_body,
    not_found,
    session,
)
from monitor.db.models import Monitor
from monitor.detection.monitors_apply import ApplyReport, apply_monitors, list_monitors
from monitor.detection.monitors_file import NAME_MAX, MonitorsFileError, parse_monitors
from monitor.model_registry import delete_monitor

router = APIRouter(prefix="/v1", route_class=LimitedRoute, tags=["monitors"])

MonitorName = Annotated[
    str, Path(min_length=1, max_length=NAME_MAX, examples=["churn-drift"], description="Monitor")
]
_EXAMPLE_DOC = """version: 1
defaults:
  window: 1h
monitors:
  - name: churn-drift
    model: churn
    signals: [data_drift, prediction_drift]
    reference: training
"""
_EXAMPLE_MONITOR = {
    "model": "churn",
    "window": "1h",
    "signals": ["data_drift", "prediction_drift"],
    "reference": "training",
    "features": "from_schema",
}


class MonitorOut(BaseModel):
    name: str = Field(examples=["churn-drift"])
    model_id: str = Field(examples=["churn"])
    window: str = Field(examples=["1h"], description='"1h", or "6h every 1h" (sliding)')
    signals: str = Field(examples=["data_drift, prediction_drift"])
    reference: str = Field(examples=["baseline training"])
    enabled: bool
    checked_until: datetime | None
    spec: dict[str, Any] = Field(description="The stored spec (monitor/detection/spec.py).")

    @classmethod
    def of(cls, r: Any) -> MonitorOut:
        """From a row of monitors_apply.list_monitors."""
        return cls(
            name=r.name,
            model_id=r.model_id,
            window=r.window,
            signals=r.signals,
            reference=r.reference,
            enabled=r.enabled,
            checked_until=r.checked_until,
            spec=r.spec,
        )


class ChangeOut(BaseModel):
    name: str = Field(examples=["churn-drift"])
    model_id: str = Field(examples=["churn"])
    action: str = Field(examples=["created"], description="created, changed, unchanged, ...")
    details: list[str] = Field(examples=[["window: '1h' -> '30m'"]])
    enabled: bool


class ApplyOut(BaseModel):
    dry_run: bool
    changes: list[ChangeOut]
    notes: list[str] = Field(
        examples=[["monitors[0] 'churn-drift': churn v3 has no baseline named 'training' yet"]]
    )


def _apply_out(report: ApplyReport, dry_run: bool) -> ApplyOut:
    return ApplyOut(
        dry_run=dry_run,
        changes=[
            ChangeOut(
                name=c.name,
                model_id=c.model_id,
                action=c.action,
                details=list(c.details),
                enabled=c.enabled,
            )
            for c in report.changes
        ],
        notes=list(report.notes),
    )


def _apply(engine: Any, text_doc: str, *, source: str, prune: bool, dry_run: bool) -> ApplyOut:
    """Parse and apply a monitors document in one transaction; 422 listing the problems."""
    try:
        parsed = parse_monitors(text_doc, source=source)
        with Session(engine) as s:
            report = apply_monitors(s, parsed, prune=prune, dry_run=dry_run)
            if dry_run:
                s.rollback()
            else:
                s.commit()
    except MonitorsFileError as exc:
        raise HTTPException(422, "; ".join(str(exc).splitlines()) + " (nothing applied)") from None
    except RecursionError:
        raise HTTPException(422, f"{source}: nested too deeply (nothing applied)") from None
    return _apply_out(report, dry_run)


def _row(request: Request, name: str) -> MonitorOut | None:
    with session(request) as s:
        model_id = s.scalar(select(Monitor.model_id).where(Monitor.name == name))
        if model_id is None:
            return None
        rows = [r for r in list_monitors(s, model_id=model_id) if r.name == name]
    if not rows:
        return None
    return MonitorOut.of(rows[0])


@router.get("/monitors", summary="List monitors")
def get_monitors(
    request: Request,
    model: Annotated[str | None, Query(max_length=200, examples=["churn"])] = None,
) -> list[MonitorOut]:
    with session(request) as s:
        rows = list_monitors(s, model_id=model)
    return [MonitorOut.of(r) for r in rows]


@router.get("/monitors/{name}", summary="One monitor")
def get_monitor(request: Request, name: MonitorName) -> MonitorOut:
    found = _row(request, name)
    if found is None:
        raise not_found(f"name={name!r}: no such monitor")
    return found


@router.put(
    "/monitors/{name}",
    summary="Create or replace one monitor",
    responses={201: {"description": "Created."}, 200: {"description": "Replaced or unchanged."}},
)
def put_monitor(
    request: Request,
    response: Response,
    name: MonitorName,
    body: Annotated[
        dict[str, Any],
        Body(
            description="A monitors.yaml entry (docs/monitors.md) without its name: model, "
            "window, signals, reference, features, enabled...",
            examples=[_EXAMPLE_MONITOR],
        ),
    ],
) -> ApplyOut:
    if "name" in body and body["name"] != name:
        raise HTTPException(
            422, f"body.name={body['name']!r}: differs from the path's name={name!r}"
        )
    try:
        document = json.dumps({"version": 1, "monitors": [{**body, "name": name}]})
    except (TypeError, ValueError, RecursionError):
        raise HTTPException(422, "body: not a JSON document this API can re-read") from None
    out = _apply(
        request.app.state.engine,
        document,
        source=f"monitor {name!r}",
        prune=False,
        dry_run=False,
    )
    created = any(c.action == "created" for c in out.changes)
    response.status_code = 201 if created else 200
    out.changes = [c for c in out.changes if c.name == name]
    return out


@router.delete("/monitors/{name}", summary="Delete a monitor with its runs and results")
def remove_monitor(request: Request, name: MonitorName) -> MonitorOut:
    found = _row(request, name)
    with session(request) as s, s.begin():
        if found is None or delete_monitor(s, name) is None:
            raise not_found(f"name={name!r}: no such monitor")
    return found


@router.post(
    "/monitors/apply",
    summary="Apply a monitors.yaml document, all or nothing",
    openapi_extra=document_body(_EXAMPLE_DOC),
)
@max_body(DOCUMENT_MAX_BYTES)
async def post_apply(
    request: Request,
    prune: Annotated[bool, Query(description="Disable the monitors not listed.")] = False,
    dry_run: Annotated[bool, Query(description="Check and report; write nothing.")] = False,
) -> ApplyOut:
    body = await document_text(request)
    return await run_in_threadpool(
        _apply,
        request.app.state.engine,
        body,
        source="monitors.yaml",
        prune=prune,
        dry_run=dry_run,
    )
