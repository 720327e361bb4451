"""Bearer API keys on every ``/v1`` route (monitor.apikeys checks the token).

``authorize`` is a dependency of each router as the app includes it: no token, or one
that is malformed, unknown or revoked, is 401 with ``WWW-Authenticate: Bearer``; a valid
key whose scope is too low is 403. The scope a route needs: ``read`` for GET and HEAD,
``write`` for the rest, unless the route says more with ``Depends(require("admin"))``
(keys and the alerting config). The token is never logged nor echoed.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from monitor.apikeys import Identity, Scope, authenticate, touch

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="driftwarden"'})


def _forbidden(identity: Identity, needed: Scope) -> HTTPException:
    return HTTPException(
        403, f"the key {identity.name!r} has scope {identity.scope!r}; this needs {needed!r}"
    )


def authorize(request: Request) -> Identity:
    """Authenticate the request's bearer key and check the method's scope."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("an API key is needed: Authorization: Bearer <key>")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <key>'")
    with Session(request.app.state.engine) as session, session.begin():
        identity = authenticate(session, token.strip())
        if identity is None:
            raise _unauthorized("invalid or revoked API key")
        touch(session, identity)
    needed: Scope = "read" if request.method in _READ_METHODS else "write"
    if not identity.allows(needed):
        raise _forbidden(identity, needed)
    request.state.identity = identity
    return identity


def require(needed: Scope) -> Callable[[Request], None]:
    """A route dependency: the authorized key must have at least ``needed``."""

    def check(request: Request) -> None:
        identity: Identity | None = getattr(request.state, "identity", None)
        if identity is None:  # authorize runs first, as the router's dependency
            raise _unauthorized("an API key is needed: Authorization: Bearer <key>")
        if not identity.allows(needed):
            raise _forbidden(identity, needed)

    return check
