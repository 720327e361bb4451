"""Dead letters: list them by filters, a page at a time; replay them after a fix.

``GET /v1/dead-letters`` pages by id (``next_cursor`` of one page is the ``cursor`` of
the next; monitor/ingest/deadletter_pages.py). ``POST /v1/dead-letters/replay`` decodes
the chosen ones again with today's models and schemas (``monitor.ingest.deadletters.
replay``, as ``driftwarden dead-letters replay``): those that now pass are stored, the
others keep their row with the new reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from monitor.api.support import LimitedRoute, not_found, session
from monitor.db.models import DeadLetter
from monitor.ingest.deadletter_pages import (
    MAX_PAGE,
    DeadLetterFilter,
    known_ids,
    page_dead_letters,
)
from monitor.ingest.deadletters import replay

router = APIRouter(prefix="/v1", route_class=LimitedRoute, tags=["dead letters"])

_CURSOR = r"^[0-9]{1,18}$"
Text = Annotated[str | None, Query(min_length=1, max_length=255)]


class DeadLetterOut(BaseModel):
    id: int = Field(examples=[4711])
    topic: str = Field(examples=["driftwarden.predictions"])
    partition: int = Field(examples=[0])
    offset: int = Field(examples=[123456])
    model_id: str | None = Field(examples=["churn"])
    error_class: str = Field(examples=["unknown_model"])
    error_message: str = Field(examples=["model 'churn' is not registered"])
    received_at: datetime
    bytes: int = Field(examples=[412], description="Size of the payload as received.")
    replayed_at: datetime | None


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    next_cursor: str | None = Field(
        examples=["4711"], description="Pass as cursor for the next page; null: last page."
    )


class ReplayIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"error_class": "unknown_model", "model": "churn"}, {"ids": [4711, 4712]}]
        },
    )

    ids: list[int] | None = Field(default=None, min_length=1, max_length=MAX_PAGE)
    topic: str | None = Field(default=None, min_length=1, max_length=255)
    error_class: str | None = Field(default=None, min_length=1, max_length=60)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    all: bool = Field(default=False, description="Every dead letter not replayed yet.")
    limit: int = Field(default=MAX_PAGE, ge=1, le=MAX_PAGE)

    @model_validator(mode="after")
    def _one_choice(self) -> ReplayIn:
        filters = self.filter()
        if self.ids is not None and not filters.empty:
            raise ValueError(
                "give ids or filters (topic, error_class, model, since, until), not both"
            )
        if self.ids is None and filters.empty and not self.all:
            raise ValueError("choose dead letters: ids, a filter, or all=true")
        return self

    def filter(self) -> DeadLetterFilter:
        return DeadLetterFilter(
            topic=self.topic,
            error_class=self.error_class,
            model_id=self.model,
            since=self.since,
            until=self.until,
        )


class ReplayOutcomeOut(BaseModel):
    id: int = Field(examples=[4711])
    source: str = Field(examples=["driftwarden.predictions[0]@123456"])
    stored: bool
    error: str | None = Field(examples=[None])


class ReplayOut(BaseModel):
    replayed: int = Field(examples=[2])
    stored: int = Field(examples=[1])
    still_refused: int = Field(examples=[1])
    outcomes: list[ReplayOutcomeOut]


def _out(d: DeadLetter) -> DeadLetterOut:
    return DeadLetterOut(
        id=d.id,
        topic=d.topic,
        partition=d.partition,
        offset=d.offset,
        model_id=d.model_id,
        error_class=d.error_class,
        error_message=d.error_message,
        received_at=d.received_at,
        bytes=d.raw_size,
        replayed_at=d.replayed_at,
    )


@router.get("/dead-letters", summary="List dead letters, oldest first, a page at a time")
def get_dead_letters(  # keyword-only: one per filter
    request: Request,
    *,
    topic: Text = None,
    error_class: Text = None,
    model: Text = None,
    since: Annotated[AwareDatetime | None, Query(description="Received at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Received before")] = None,
    replayed: Annotated[bool, Query(description="Include replayed ones.")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(pattern=_CURSOR, examples=["4711"])] = None,
) -> DeadLetterPage:
    where = DeadLetterFilter(topic, error_class, model, since, until, include_replayed=replayed)
    with session(request) as s:
        letters = page_dead_letters(s, where, after=int(cursor or 0), limit=limit + 1)
    more = len(letters) > limit
    letters = letters[:limit]
    return DeadLetterPage(
        items=[_out(d) for d in letters],
        next_cursor=str(letters[-1].id) if more and letters else None,
    )


@router.post(
    "/dead-letters/replay",
    summary="Decode dead letters again; store those that now pass",
)
def post_replay(request: Request, body: ReplayIn) -> ReplayOut:
    with session(request) as s:
        if body.ids is not None:
            unknown = sorted(set(body.ids) - known_ids(s, body.ids))
            if unknown:
                raise not_found(f"ids={unknown}: no such dead letters")
            chosen = sorted(set(body.ids))[: body.limit]
        else:
            chosen = [d.id for d in page_dead_letters(s, body.filter(), limit=body.limit)]
    if not chosen:  # replay() with no ids would take every dead letter
        return ReplayOut(replayed=0, stored=0, still_refused=0, outcomes=[])
    outcomes = replay(
        request.app.state.engine, request.app.state.settings, ids=chosen, limit=len(chosen)
    )
    stored = sum(o.stored for o in outcomes)
    if body.ids is not None and not outcomes:
        raise HTTPException(409, f"ids={chosen}: already replayed")
    return ReplayOut(
        replayed=len(outcomes),
        stored=stored,
        still_refused=len(outcomes) - stored,
        outcomes=[
            ReplayOutcomeOut(id=o.dead_letter_id, source=o.source, stored=o.stored, error=o.error)
            for o in outcomes
        ],
    )
