"""Bearer API keys on every ``/v1`` route (monitor.apikeys checks the token).

``authorize`` is a dependency of each router as the app includes it: no token, or one
that is malformed, unknown or revoked, is 401 with ``WWW-Authenticate: Bearer``; a valid
key whose scope is too low is 403. The scope a route needs: ``read`` for GET and HEAD,
``write`` for the rest, unless the route says more with ``Depends(require("admin"))``
(keys and the alerting config). The token is never logged nor echoed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from anyio import to_thread
from fastapi import HTTPException, Request

from monitor.api.async_db import AsyncDatabase
from monitor.api.single_flight import SingleFlight
from monitor.apikeys import Identity, Scope, forget, needs_touch, parse_token, recall, verify_secret

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The key row of a token verified before, and in the same statement the results version
# of the request's model (results_versions, migration 0006) when authorize_results asks:
# a cached results page then costs one round trip (bench/api.py: ~60% more calls/s than
# two, on this machine's ~0.35 ms round trips).
_BY_ID = (
    "SELECT k.key_id, k.name, k.scope, k.revoked_at, k.last_used_at, "
    "(SELECT v.version FROM results_versions v WHERE v.model_id = %(model)s) "
    "FROM api_keys k WHERE k.id = %(id)s"
)
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


@dataclass(frozen=True)
class _Checked:
    identity: Identity | None
    results_version: int | None = None  # None: not read (no model, or a new token)


# Tokens being verified (scrypt) now, by SHA-256: concurrent first requests with one new
# token wait for one check instead of each spending ~50 ms of CPU on it.
_VERIFYING: SingleFlight[bool] = SingleFlight()


async def _verify_once(token: str, key: tuple[int, str, str] | None) -> bool:
    fingerprint = hashlib.sha256(token.encode()).digest()
    return await _VERIFYING.join(fingerprint, lambda: to_thread.run_sync(verify_secret, token, key))


async def _authenticate(db: AsyncDatabase, token: str, model: str | None) -> _Checked:
    """monitor.apikeys.authenticate on the async connections: a token verified before
    costs one read of its key row (which sees a revocation at once), with the results
    version of ``model`` when given; a new one, one scrypt in a worker thread (never on
    the event loop)."""
    known = recall(token)
    if known is None:
        parsed = parse_token(token)
        key = None
        if parsed is not None:
            row = await db.fetchone(_BY_KEY_ID, {"key_id": parsed[0]})
            key = None if row is None else (row[0], row[1], row[2])
        if not await _verify_once(token, key) or key is None:
            return _Checked(None)
        known = (key[0], key[1])
    found = await db.fetchone(_BY_ID, {"id": known[0], "model": model})
    if found is None or found[0] != known[1]:
        forget(token)  # deleted, or the id was reused
        return _Checked(None)
    key_id, name, scope, revoked_at, last_used_at, version = found
    if revoked_at is not None:
        return _Checked(None)
    now = datetime.now(UTC)
    if needs_touch(last_used_at, now):
        await db.fetchone(_TOUCH, {"id": known[0], "now": now})
    identity = Identity(key_id=key_id, name=name, scope=scope)
    return _Checked(identity, None if model is None else (version or 0))


async def _authorize(request: Request, model: str | None) -> Identity:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("an API key is needed: Authorization: Bearer <key>")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <key>'")
    checked = await _authenticate(request.app.state.db, token.strip(), model)
    identity = checked.identity
    if identity is None:
        raise _unauthorized("invalid or revoked API key")
    needed: Scope = "read" if request.method in _READ_METHODS else "write"
    if not identity.allows(needed):
        raise _forbidden(identity, needed)
    request.state.identity = identity
    if checked.results_version is not None:
        request.state.results_version = checked.results_version
    return identity


async def authorize(request: Request) -> Identity:
    """Authenticate the request's bearer key and check the method's scope."""
    return await _authorize(request, None)


async def authorize_results(request: Request) -> Identity:
    """:func:`authorize`, reading in the same statement the results version of the
    request's ``model`` query parameter, when it has one, into
    ``request.state.results_version`` (the results routes' page cache needs it). The
    value is only a bound parameter here: the route validates it (one PostgreSQL text
    cannot hold, a NUL, is left to that validation)."""
    model = request.query_params.get("model")
    return await _authorize(request, None if model is None or "\x00" in model else model)


def require(needed: Scope) -> Callable[[Request], Awaitable[None]]:
    """A route dependency: the authorized key must have at least ``needed``."""

    async def check(request: Request) -> None:
        identity: Identity | None = getattr(request.state, "identity", None)
        if identity is None:  # authorize runs first, as the router's dependency
            raise _unauthorized("an API key is needed: Authorization: Bearer <key>")
        if not identity.allows(needed):
            raise _forbidden(identity, needed)

    return check
