"""Bearer API keys on every ``/v1`` route (monitor.apikeys checks the token).

``authorize`` is a dependency of each router as the app includes it: no token, or one
that is malformed, unknown or revoked, is 401 with ``WWW-Authenticate: Bearer``; a valid
key whose scope is too low is 403. The scope a route needs: ``read`` for GET and HEAD,
``write`` for the rest, unless the route says more with ``Depends(require("admin"))``
(keys and the alerting config). The token is never logged nor echoed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from anyio import to_thread
from fastapi import HTTPException, Request

from monitor.api.async_db import AsyncDatabase
from monitor.apikeys import Identity, Scope, forget, needs_touch, parse_token, recall, verify_secret

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_BY_ID = "SELECT key_id, name, scope, revoked_at, last_used_at FROM api_keys WHERE id = %(id)s"
_BY_KEY_ID = "SELECT id, key_id, secret_hash FROM api_keys WHERE key_id = %(key_id)s"
_TOUCH = (
    "UPDATE api_keys SET last_used_at = %(now)s WHERE id = %(id)s "
    "AND (last_used_at IS NULL OR last_used_at < %(now)s - interval '1 minute') RETURNING id"
)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="driftwarden"'})


def _forbidden(identity: Identity, needed: Scope) -> HTTPException:
    return HTTPException(
        403, f"the key {identity.name!r} has scope {identity.scope!r}; this needs {needed!r}"
    )


async def _authenticate(db: AsyncDatabase, token: str) -> Identity | None:
    """monitor.apikeys.authenticate on the async connections: a token verified before
    costs one read of its key row (which sees a revocation at once); a new one, one
    scrypt in a worker thread (never on the event loop)."""
    known = recall(token)
    if known is None:
        parsed = parse_token(token)
        key = None
        if parsed is not None:
            row = await db.fetchone(_BY_KEY_ID, {"key_id": parsed[0]})
            key = None if row is None else (row[0], row[1], row[2])
        if not await to_thread.run_sync(verify_secret, token, key) or key is None:
            return None
        known = (key[0], key[1])
    found = await db.fetchone(_BY_ID, {"id": known[0]})
    if found is None or found[0] != known[1]:
        forget(token)  # deleted, or the id was reused
        return None
    key_id, name, scope, revoked_at, last_used_at = found
    if revoked_at is not None:
        return None
    now = datetime.now(UTC)
    if needs_touch(last_used_at, now):
        await db.fetchone(_TOUCH, {"id": known[0], "now": now})
    return Identity(key_id=key_id, name=name, scope=scope)


async def authorize(request: Request) -> Identity:
    """Authenticate the request's bearer key and check the method's scope."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("an API key is needed: Authorization: Bearer <key>")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <key>'")
    identity = await _authenticate(request.app.state.db, token.strip())
    if identity is None:
        raise _unauthorized("invalid or revoked API key")
    needed: Scope = "read" if request.method in _READ_METHODS else "write"
    if not identity.allows(needed):
        raise _forbidden(identity, needed)
    request.state.identity = identity
    return identity


def require(needed: Scope) -> Callable[[Request], Awaitable[None]]:
    """A route dependency: the authorized key must have at least ``needed``."""

    async def check(request: Request) -> None:
        identity: Identity | None = getattr(request.state, "identity", None)
        if identity is None:  # authorize runs first, as the router's dependency
            raise _unauthorized("an API key is needed: Authorization: Bearer <key>")
        if not identity.allows(needed):
            raise _forbidden(identity, needed)

    return check
