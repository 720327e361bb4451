"""Application factory: ``create_app(settings)``; ``driftwarden api`` serves it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.api.routers import alerting, events
from monitor.config import Settings
from monitor.db.engine import make_engine
from monitor.ingest.catalog import ModelCatalog
from monitor.ingest.prepare import Preparer
from monitor.ingest.sink import BatchWriter


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
    app.include_router(events.router)
    app.include_router(alerting.router)

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
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        """This process's metrics (monitor/metrics.py; HTTP ingest counts its writes)
        in the Prometheus text format, on the API's own port."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
