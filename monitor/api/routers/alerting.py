"""Alerts, silences and the retraining callback over HTTP.

``GET /v1/alerts`` lists alert instances; ``/v1/silences`` creates, lists and expires
silences (Alertmanager's API words: ``POST`` returns the ``silenceID``, ``DELETE``
expires); ``POST /v1/retraining/{id}/outcome`` is the callback a trainer started by a
``retrain`` receiver calls with what it produced.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerting.retraining import RetrainingError, UnknownTriggerError, record_outcome
from monitor.alerting.silences import (
    SilenceError,
    create_silence,
    expire_silence,
    list_silences,
    silence_state,
)
from monitor.db.models import AlertState, Silence
from monitor.detection.baseline import BaselineCopyError

router = APIRouter(prefix="/v1", tags=["alerting"])


class AlertOut(BaseModel):
    fingerprint: str
    state: str
    labels: dict[str, Any]
    annotations: dict[str, Any]
    value: float | None
    active_at: datetime | None
    fired_at: datetime | None
    resolved_at: datetime | None
    evaluated_until: datetime | None


class SilenceIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "matchers": ['model="churn"'],
                    "ends_at": "2026-11-27T18:00:00Z",
                    "created_by": "alice",
                    "comment": "retraining churn v2",
                }
            ]
        }
    )
    matchers: list[str] = Field(min_length=1, examples=[['model="churn"', 'signal="data_drift"']])
    # With a UTC offset (RFC 3339, as Alertmanager): a naive time cannot be compared
    # with the stored ones, and guessing its zone would silence the wrong hours.
    starts_at: AwareDatetime | None = None  # default: now
    ends_at: AwareDatetime
    created_by: str = Field(min_length=1)
    comment: str = ""


class SilenceOut(BaseModel):
    id: str
    state: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str


class OutcomeIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "succeeded", "new_version": "2", "copy_baseline": "training"}]
        }
    )
    status: Literal["succeeded", "failed"]
    new_version: str | None = None
    copy_baseline: str | None = None  # copy the retrained version's baseline of this name
    detail: str = ""


class OutcomeOut(BaseModel):
    trigger_id: int
    status: str
    model_id: str
    model_version: str
    new_version: str | None


def _session(request: Request) -> Session:
    return Session(request.app.state.engine)


def _silence_out(s: Silence, now: datetime) -> SilenceOut:
    return SilenceOut(
        id=s.id,
        state=silence_state(s, now),
        matchers=list(s.matchers),
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        created_by=s.created_by,
        comment=s.comment,
    )


AlertStateName = Literal["inactive", "pending", "firing", "resolved"]


@router.get("/alerts")
def get_alerts(
    request: Request,
    state: AlertStateName | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[AlertOut]:
    """Alert instances, most recently updated first (filter by state)."""
    query = select(AlertState).order_by(AlertState.updated_at.desc()).limit(limit)
    if state is not None:
        query = query.where(AlertState.state == state)
    with _session(request) as session:
        return [AlertOut.model_validate(a, from_attributes=True) for a in session.scalars(query)]


@router.get("/silences")
def get_silences(request: Request, expired: bool = False) -> list[SilenceOut]:
    """Active and pending silences (with expired=true, expired ones too)."""
    now = datetime.now(UTC)
    with _session(request) as session:
        return [_silence_out(s, now) for s in list_silences(session, now=now, expired=expired)]


@router.post("/silences", status_code=201)
def post_silence(request: Request, body: SilenceIn) -> dict[str, str]:
    """Create a silence; answers its id as Alertmanager does (silenceID)."""
    now = datetime.now(UTC)
    try:
        with _session(request) as session, session.begin():
            silence = create_silence(
                session,
                matchers=body.matchers,
                starts_at=body.starts_at or now,
                ends_at=body.ends_at,
                created_by=body.created_by,
                comment=body.comment,
            )
            return {"silenceID": silence.id}
    except SilenceError as exc:
        raise HTTPException(422, str(exc)) from None


@router.delete("/silences/{silence_id}")
def delete_silence(request: Request, silence_id: str) -> SilenceOut:
    """Expire a silence now."""
    now = datetime.now(UTC)
    try:
        with _session(request) as session, session.begin():
            return _silence_out(expire_silence(session, silence_id, now=now), now)
    except SilenceError as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/retraining/{trigger_id}/outcome")
def post_outcome(request: Request, trigger_id: int, body: OutcomeIn) -> OutcomeOut:
    """The retraining pipeline's callback: what a triggered retraining produced."""
    try:
        with _session(request) as session, session.begin():
            t = record_outcome(
                session,
                trigger_id,
                status=body.status,
                now=datetime.now(UTC),
                new_version=body.new_version,
                copy_baseline_name=body.copy_baseline,
                detail=body.detail,
            )
            return OutcomeOut(
                trigger_id=t.id,
                status=t.status,
                model_id=t.model_id,
                model_version=t.model_version,
                new_version=t.new_version,
            )
    except UnknownTriggerError as exc:
        raise HTTPException(404, str(exc)) from None
    except (RetrainingError, BaselineCopyError) as exc:
        raise HTTPException(422, str(exc)) from None
