"""Application factory: ``create_app(settings)``; ``driftwarden api`` serves it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from alembic.runtime.migration import MigrationContext
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor.api.auth import authorize
from monitor.api.routers import alerting, events
from monitor.config import Settings
from monitor.db import migrate
from monitor.db.engine import make_engine
from monitor.ingest.catalog import ModelCatalog
from monitor.ingest.prepare import Preparer
from monitor.ingest.sink import BatchWriter

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    422: "Invalid request",
}


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    """An RFC 9457 problem document."""
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def create_app(settings: Settings) -> FastAPI:
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(title="Driftwarden", version="0.1.0", lifespan=lifespan)
    catalog = ModelCatalog()
    app.state.settings = settings
    app.state.engine = engine
    app.state.preparer = Preparer(settings, catalog)
    app.state.writer = BatchWriter(engine, catalog)
    # Every /v1 route needs an API key (monitor/api/auth.py); /healthz, /readyz and
    # /metrics do not (probes and scrapers carry no key).
    for router in (events.router, alerting.router):
        app.include_router(router, dependencies=[Depends(authorize)])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _problem(exc.status_code, _TITLES.get(exc.status_code, "Error"), str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}={e.get('input')!r}: {e['msg']}"[:300]
            for e in errors[:5]
        )
        return _problem(422, "Invalid request", detail)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Alive: the process answers (nothing else is checked)."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=None)
    def readyz() -> dict[str, str] | JSONResponse:
        """Ready: the database answers and its schema is at the migrations' head."""
        try:
            with engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
        except SQLAlchemyError as exc:
            return _problem(503, "Not ready", f"database unreachable: {type(exc).__name__}")
        head = migrate.head_revision()
        if current != head:
            return _problem(
                503, "Not ready", f"schema at {current!r}, migrations at {head!r}: run db upgrade"
            )
        return {"status": "ok", "schema": str(current)}

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        """This process's metrics (monitor/metrics.py; HTTP ingest counts its writes)
        in the Prometheus text format, on the API's own port."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
