"""Application factory: ``create_app(settings)``; ``driftwarden api`` serves it."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from alembic.runtime.migration import MigrationContext
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor.api.async_db import AsyncDatabase
from monitor.api.auth import authorize, authorize_results
from monitor.api.results_cache import ResultsCache
from monitor.api.routers import (
    alerting,
    baselines,
    deadletters,
    events,
    models,
    monitors,
    results,
    rules,
)
from monitor.config import Settings
from monitor.db import migrate
from monitor.db.engine import make_engine
from monitor.ingest.catalog import ModelCatalog
from monitor.ingest.prepare import Preparer
from monitor.ingest.sink import BatchWriter

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    422: "Invalid request",
    500: "Internal server error",
}


class Problem(BaseModel):
    """An RFC 9457 problem document: the body of every error the API answers."""

    type: str = Field(default="about:blank", examples=["about:blank"])
    title: str = Field(examples=["Invalid request"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["query.limit=0: Input should be greater than or equal to 1"])


# Documented on every /v1 operation: authorize() can answer 401 and 403 anywhere, the
# validation handler 422, and a route's resource (or its path) may not exist: 404.
ERROR_RESPONSES: dict[str, str] = {
    "401": "No API key, or one that is malformed, unknown or revoked "
    "(with `WWW-Authenticate: Bearer`).",
    "403": "The key's scope is too low for this route (read < write < admin).",
    "404": "The resource named in the path does not exist.",
    "422": "A parameter or the body is invalid; `detail` names the field and the value.",
}


# Starlette's answer to a body that is not JSON at all (before any field is validated).
BAD_BODY = "The body cannot be parsed (not JSON, or not UTF-8)."


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    """An RFC 9457 problem document."""
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type=PROBLEM_JSON,
    )


def _document_errors(schema: dict[str, Any]) -> None:
    """Make the OpenAPI say what the handlers do: every error is a ``Problem`` as
    application/problem+json, every /v1 operation lists 401, 403, 404 and 422 (and 400
    with a body), and every success code has the route's response schema.

    Done on the generated document, not per router, so a router added later is covered
    without repeating ``responses=`` (tests/monitor/test_openapi.py checks it)."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema()
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if path.startswith("/v1/"):
                errors = dict(ERROR_RESPONSES)
                if "requestBody" in operation:
                    errors["400"] = BAD_BODY
                for status, description in errors.items():
                    # FastAPI's own 422 ("Validation Error", HTTPValidationError) describes
                    # a body the handler never sends: replaced, as a router's error
                    # description is kept.
                    kept = responses.get(status, {}).get("description", "")
                    if not kept or kept == "Validation Error":
                        kept = description
                    responses[status] = {"description": kept}
            # FastAPI puts the response model under the route's status_code only; another
            # success code a route documents (200 "unchanged" beside 201 "created")
            # answers the same model.
            main = next((r["content"] for r in responses.values() if "content" in r), None)
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = problem
                elif status[0] == "2" and status not in {"204", "205"} and main:
                    response.setdefault("content", main)
            operation["responses"] = dict(sorted(responses.items()))
    used = str(schema.get("paths"))
    for name in ("HTTPValidationError", "ValidationError"):
        if f"/{name}'" not in used:
            schemas.pop(name, None)


def _document_auth(schema: dict[str, Any], scopes: dict[tuple[str, str], str]) -> None:
    """The bearer key on every /v1 operation, and the scope it needs as ``x-scope``."""
    schema["components"]["securitySchemes"] = {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from `driftwarden apikey create --scope read|write|admin`.",
        }
    }
    for (method, path), scope in scopes.items():
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is not None:
            operation["security"] = [{"apiKey": []}]
            operation["x-scope"] = scope


def required_scopes(app: FastAPI) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> the scope a /v1 route needs: authorize()'s rule (read for GET
    and HEAD, write otherwise) raised by a ``require(...)`` dependency of the route."""
    found: dict[tuple[str, str], str] = {}

    def needed(dependency: Any) -> str | None:
        if getattr(dependency, "__qualname__", "") != "require.<locals>.check":
            return None
        return str(inspect.getclosurevars(dependency).nonlocals["needed"])

    def visit(route: Any, prefix: str, inherited: list[Any]) -> None:
        if isinstance(route, APIRoute):
            deps = [*inherited, *route.dependencies]
            explicit = [n for d in deps if (n := needed(d.dependency))]
            for method in route.methods or ():
                default = "read" if method in {"GET", "HEAD"} else "write"
                found[method, prefix + route.path] = explicit[-1] if explicit else default
        elif (router := getattr(route, "original_router", None)) is not None:
            # FastAPI >= 0.16x keeps an included router whole (with its include context).
            context = getattr(route, "include_context", None)
            deps = [*inherited, *getattr(context, "dependencies", []), *router.dependencies]
            for child in router.routes:
                visit(child, prefix + getattr(context, "prefix", ""), deps)

    for route in app.routes:
        visit(route, "", [])
    return {key: scope for key, scope in found.items() if key[1].startswith("/v1/")}


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _document_errors(schema)
            _document_auth(schema, required_scopes(app))
            app.openapi_schema = schema
        return app.openapi_schema

    return build


def create_app(settings: Settings) -> FastAPI:
    engine = make_engine(settings)
    db = AsyncDatabase(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await db.open()
        try:
            yield
        finally:
            await db.close()
            engine.dispose()

    app = FastAPI(
        title="Driftwarden",
        version="0.1.0",
        description=(
            "Model monitoring and drift detection. Every `/v1` route needs an API key "
            "(`Authorization: Bearer <key>`, from `driftwarden apikey create`): `read` "
            "scope for GET, `write` for changes, `admin` for the alerting rules. "
            "Errors are RFC 9457 problem documents (application/problem+json)."
        ),
        lifespan=lifespan,
    )
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    catalog = ModelCatalog()
    app.state.settings = settings
    app.state.engine = engine
    app.state.db = db
    app.state.results_cache = ResultsCache(max_bytes=settings.api_results_cache_mb << 20)
    app.state.preparer = Preparer(settings, catalog)
    app.state.writer = BatchWriter(engine, catalog)
    # Every /v1 route needs an API key (monitor/api/auth.py); /healthz, /readyz and
    # /metrics do not (probes and scrapers carry no key).
    for router in (events.router, alerting.router):
        app.include_router(router, dependencies=[Depends(authorize)])
    app.include_router(results.router, dependencies=[Depends(authorize_results)])
    for router in (
        models.router,
        baselines.router,
        monitors.router,
        rules.router,
        deadletters.router,
    ):
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

    @app.exception_handler(DataError)
    async def unstorable(_request: Request, exc: DataError) -> JSONResponse:
        # PostgreSQL's "data exception" class (SQLSTATE 22): a value the request carried
        # cannot be stored or compared (an integer beyond bigint, a NUL in text). The
        # transaction is rolled back, so nothing changed; the request, not the server,
        # is wrong. Its message (never the SQL, nor the parameters) says which limit.
        # psycopg refuses a NUL itself, before the server: no diagnostic, one line.
        message = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
        message = message or str(exc.orig).partition("\n")[0] or "invalid"
        return _problem(422, _TITLES[422], f"a value cannot be stored: {message}")

    @app.exception_handler(UnicodeEncodeError)
    async def unencodable(_request: Request, exc: UnicodeEncodeError) -> JSONResponse:
        # JSON may escape a lone UTF-16 surrogate ("\ud800"); Python decodes it, but no
        # UTF-8 text (the database's encoding) can hold it.
        if exc.reason != "surrogates not allowed":
            raise exc
        bad = exc.object[exc.start : exc.end].encode("unicode_escape").decode()
        return _problem(
            422, _TITLES[422], f"a string holds an unpaired surrogate ({bad}): not valid UTF-8"
        )

    @app.exception_handler(Exception)
    async def crashed(_request: Request, exc: Exception) -> JSONResponse:
        # Still a 500 (a bug), but in the same format as every other error, and without
        # the exception's text, which could hold a secret or a query. Starlette re-raises
        # it after this answer, so the server logs the traceback.
        return _problem(500, _TITLES[500], f"internal error ({type(exc).__name__})")

    @app.get("/healthz", summary="Alive")
    def healthz() -> dict[str, str]:
        """Alive: the process answers (nothing else is checked)."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Ready",
        response_model=None,
        responses={503: {"description": "The database is unreachable or not migrated."}},
    )
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
