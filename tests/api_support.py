"""The FastAPI app in tests: over httpx's ASGI transport (starlette's TestClient warns
about httpx, and warnings are errors here), with an API key of a chosen scope.

The app runs in one event loop from construction to ``close()``, with its lifespan
entered as uvicorn enters it (it opens the API's async database pool, which belongs to
the loop that opened it)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitor.api.app import create_app
from monitor.apikeys import create_key
from monitor.config import Settings, load_settings


def issue_key(engine: Engine, scope: str = "admin", name: str | None = None) -> str:
    """A new key's token (``driftwarden apikey create`` does the same)."""
    with Session(engine) as session, session.begin():
        _, token = create_key(session, name=name or f"test-{uuid.uuid4().hex[:8]}", scope=scope)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Api:
    """``api(method, url, **httpx kwargs)``; sends the key of ``scope`` unless the call
    passes its own ``headers`` (or ``auth=False``: none)."""

    def __init__(self, settings: Settings | str, scope: str = "admin") -> None:
        if isinstance(settings, str):
            settings = load_settings(database_url=settings)
        self.app = create_app(settings)
        self.engine: Engine = self.app.state.engine
        self.token = issue_key(self.engine, scope)
        self._runner = asyncio.Runner()
        self._lifespan = self.app.router.lifespan_context(self.app)
        self._runner.run(self._lifespan.__aenter__())

    def __call__(
        self, method: str, url: str, *, auth: bool = True, **kwargs: Any
    ) -> httpx.Response:
        return self.concurrently(method, url, 1, auth=auth, **kwargs)[0]

    def concurrently(
        self, method: str, url: str, n: int, *, auth: bool = True, **kwargs: Any
    ) -> list[httpx.Response]:
        """``n`` of the same request at once (as concurrent clients would send them)."""
        if auth and "headers" not in kwargs:
            kwargs["headers"] = bearer(self.token)

        async def go() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
                return list(
                    await asyncio.gather(*(c.request(method, url, **kwargs) for _ in range(n)))
                )

        return self._runner.run(go())

    def post(self, url: str, body: Any) -> httpx.Response:
        return self(method="POST", url=url, json=body)

    def close(self) -> None:
        self._runner.run(self._lifespan.__aexit__(None, None, None))
        self._runner.close()
        self.engine.dispose()
