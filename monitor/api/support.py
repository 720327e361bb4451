"""What the resource routers share: a database session, documents sent as text (YAML or
JSON), and the size limit of request bodies.

:class:`LimitedRoute` (the routers' ``route_class``) refuses a body over its route's
limit with 413: at once when ``Content-Length`` says so, else as the bytes arrive,
before the body is parsed, so a large body is never held in memory. The limit is
``JSON_MAX_BYTES`` unless the endpoint is marked with :func:`max_body`. (FastAPI's own
``max_body_size`` answers a declared oversize in plain text, not as a problem document.)
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.types import Message

# A monitors.yaml or rules.yaml of thousands of entries is well under this.
DOCUMENT_MAX_BYTES = 1 << 20
# A JSON request body (a model's schema of a few thousand features, a monitor).
JSON_MAX_BYTES = 1 << 20
DOCUMENT_TYPES = ("application/yaml", "text/yaml", "application/json", "text/plain")


_F = TypeVar("_F", bound=Callable[..., Any])


def max_body(limit: int) -> Callable[[_F], _F]:
    """Mark an endpoint's body limit in bytes (put it below the route decorator)."""

    def mark(endpoint: _F) -> _F:
        endpoint.max_body_bytes = limit  # type: ignore[attr-defined]
        return endpoint

    return mark


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"body: more than {limit} bytes, the limit of this route")


class LimitedRoute(APIRoute):
    """An APIRoute that refuses bodies over its endpoint's limit (413, problem+json)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        limit: int = getattr(self.endpoint, "max_body_bytes", JSON_MAX_BYTES)

        async def limited(request: Request) -> Response:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(limit)
            receive = request.receive
            total = 0

            async def counting() -> Message:
                nonlocal total
                message = await receive()
                if message["type"] == "http.request":
                    total += len(message.get("body", b""))
                    if total > limit:
                        raise _too_large(limit)
                return message

            request._receive = counting  # Starlette reads the body through it
            return await handler(request)

        return limited


def session(request: Request) -> Session:
    return Session(request.app.state.engine)


def document_body(example: str) -> dict[str, Any]:
    """``openapi_extra`` of a route whose body is a YAML (or JSON) document read as text."""
    schema = {"type": "string", "examples": [example]}
    return {
        "requestBody": {
            "required": True,
            "content": {t: {"schema": schema} for t in DOCUMENT_TYPES},
        }
    }


async def document_text(request: Request) -> str:
    """The body as UTF-8 text (YAML, or JSON, which is YAML); 422 naming the problem."""
    raw = await request.body()
    if not raw.strip():
        raise HTTPException(422, "body: empty; send the document as text/yaml or JSON")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(
            422, f"body: not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})"
        ) from None


def not_found(what: str) -> HTTPException:
    return HTTPException(404, what)
