"""API keys: created and revoked by operators (``driftwarden apikey``), checked by the API.

A token is ``dwk_<key_id>_<secret>``: ``key_id`` (12 hex characters) finds the row, and
only an scrypt hash of the secret is stored (salted, memory-hard: a leaked table does
not give the keys away). The token is shown once, at creation.

Checking a token costs one scrypt (~50 ms) the first time a process sees it; a verified
token is then remembered by its SHA-256 (never the token itself) so that each request
costs one indexed read, which also sees a revocation at once. An unknown ``key_id`` or a
malformed token still runs scrypt, against a fixed dummy hash, so the time a failed
check takes does not tell whether the key exists; the hashes are compared with
``hmac.compare_digest``.

Scopes nest: ``admin`` can do what ``write`` can, which can do what ``read`` can.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.db.models import ApiKey

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
_RANK = {scope: i for i, scope in enumerate(SCOPES)}

PREFIX = "dwk_"
_TOKEN = re.compile(r"^dwk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
# scrypt's interactive-login cost (RFC 7914 section 2: N=2^14, r=8, p=1): ~50 ms, 16 MB.
_N, _R, _P = 2**14, 8, 1
_MAXMEM = 64 * 1024 * 1024
# Tokens verified in this process, by SHA-256: (row id, key_id).
_VERIFIED: OrderedDict[bytes, tuple[int, str]] = OrderedDict()
VERIFIED_CACHE_SIZE = 1024
TOUCH_EVERY = timedelta(minutes=1)


class ApiKeyError(ValueError):
    """A refused key operation (bad name or scope, unknown or already revoked key)."""


@dataclass(frozen=True)
class Identity:
    """Who a request is: the key's name and scope (never the token)."""

    key_id: str
    name: str
    scope: Scope

    def allows(self, needed: Scope) -> bool:
        return _RANK[self.scope] >= _RANK[needed]


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM, dklen=32)


def _encode(salt: bytes, digest: bytes) -> str:
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


# Verified against when the key_id is unknown: the same work as a real check.
_DUMMY_SALT = b"driftwarden-none"
_DUMMY = _hash("no such key", _DUMMY_SALT)


def _matches(secret: str, stored: str) -> bool:
    _, n, r, p, salt_b64, digest_b64 = stored.split("$")
    salt = base64.urlsafe_b64decode(salt_b64)
    expected = base64.urlsafe_b64decode(digest_b64)
    got = hashlib.scrypt(
        secret.encode(), salt=salt, n=int(n), r=int(r), p=int(p), maxmem=_MAXMEM, dklen=32
    )
    return hmac.compare_digest(got, expected)


def create_key(session: Session, *, name: str, scope: str) -> tuple[ApiKey, str]:
    """A new key and its token, in the caller's transaction. The token is not stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ApiKeyError(f"name={name!r}: 1 to 100 characters")
    if scope not in SCOPES:
        raise ApiKeyError(f"scope={scope!r}: one of {', '.join(SCOPES)}")
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise ApiKeyError(f"name={name!r}: a key of that name exists (revoke it first)")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    row = ApiKey(
        name=name, key_id=key_id, secret_hash=_encode(salt, _hash(secret, salt)), scope=scope
    )
    session.add(row)
    session.flush()
    return row, f"{PREFIX}{key_id}_{secret}"


def revoke_key(session: Session, name: str, *, now: datetime | None = None) -> ApiKey:
    """Revoke the active key named ``name``: refused from the next request on. The row is
    kept (who had access, until when)."""
    row = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if row is None:
        raise ApiKeyError(f"name={name!r}: no such key")
    if row.revoked_at is not None:
        raise ApiKeyError(f"name={name!r}: already revoked at {row.revoked_at.isoformat()}")
    row.revoked_at = now or datetime.now(UTC)
    return row


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.name)))


def _fingerprint(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def recall(token: str) -> tuple[int, str] | None:
    """(row id, key_id) of a token this process verified before, else None: its key row
    must still be read (for a revocation), but not its hash checked again."""
    return _VERIFIED.get(_fingerprint(token))


def forget(token: str) -> None:
    _VERIFIED.pop(_fingerprint(token), None)


def parse_token(token: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed token, else None."""
    match = _TOKEN.match(token)
    return None if match is None else (match.group(1), match.group(2))


def verify_secret(token: str, key: tuple[int, str, str] | None) -> bool:
    """Whether ``token`` is the token of ``key`` (row id, key_id, secret_hash), found by
    the token's key_id; None: no such key (or a malformed token). One scrypt either way,
    so the time does not tell which; a match is remembered for :func:`recall`."""
    parsed = parse_token(token)
    if key is None or parsed is None:
        hmac.compare_digest(_hash(token, _DUMMY_SALT), _DUMMY)  # the same work
        return False
    if not _matches(parsed[1], key[2]):
        return False
    _VERIFIED[_fingerprint(token)] = (key[0], key[1])
    while len(_VERIFIED) > VERIFIED_CACHE_SIZE:
        _VERIFIED.popitem(last=False)
    return True


def authenticate(session: Session, token: str) -> Identity | None:
    """The identity of an active key's token, else None (malformed, unknown, wrong
    secret or revoked: the caller answers 401 to all alike). The API does the same
    with its async connections (monitor/api/auth.py)."""
    known = recall(token)
    if known is not None:
        row = session.get(ApiKey, known[0])
        if row is None or row.key_id != known[1]:
            forget(token)  # deleted, or the id was reused
            return None
    else:
        parsed = parse_token(token)
        row = None
        if parsed is not None:
            row = session.scalar(select(ApiKey).where(ApiKey.key_id == parsed[0]))
        key = None if row is None else (row.id, row.key_id, row.secret_hash)
        if not verify_secret(token, key) or row is None:
            return None
    if row.revoked_at is not None:
        return None
    return Identity(key_id=row.key_id, name=row.name, scope=row.scope)  # type: ignore[arg-type]


def needs_touch(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether to record a use: at most once a minute per key (a write per request
    would serialise concurrent requests of one key on its row)."""
    return last_used_at is None or last_used_at < now - TOUCH_EVERY
