"""Receiver secrets kept out of what the API answers and of error messages.

A webhook's (or retrain receiver's) ``secret``, a Slack incoming-webhook URL (the URL is
the credential) and a PagerDuty ``routing_key`` are replaced by ``<redacted>``; so is
the password of any URL's user info. :func:`secret_values` collects the raw values of a
document not yet validated, so that :func:`scrub` can remove them from any text (a
validation message quoting a value) before it leaves the service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REDACTED = "<redacted>"
SECRET_KEYS = frozenset({"secret", "routing_key"})


def _url_without_password(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if parts.password is None:
        return url
    netloc = f"{parts.username}:{REDACTED}@" + parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=netloc))


def redact_receiver(receiver: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of one receiver's settings (as stored or dumped) with its secrets replaced."""
    out = dict(receiver)
    for key in SECRET_KEYS & out.keys():
        if out[key] is not None:
            out[key] = REDACTED
    if isinstance(out.get("url"), str):
        out["url"] = REDACTED if out.get("type") == "slack" else _url_without_password(out["url"])
    return out


def redact_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an alerting config document (``AlertingConfig.model_dump(mode="json")``)
    whose receivers' secrets are replaced."""
    out = dict(config)
    receivers = out.get("receivers")
    if isinstance(receivers, list):
        out["receivers"] = [redact_receiver(r) if isinstance(r, Mapping) else r for r in receivers]
    return out


def secret_values(document: Any) -> list[str]:
    """Every secret a raw (unvalidated) alerting config document holds: receivers'
    ``secret`` and ``routing_key``, every string setting of a Slack receiver (its URL is
    the credential) with the URL's path, and the query and user-info password of any
    receiver URL. Longest first, so that :func:`scrub` removes a whole URL before a part."""
    found: set[str] = set()
    receivers = document.get("receivers") if isinstance(document, Mapping) else None
    for receiver in receivers if isinstance(receivers, list) else []:
        if not isinstance(receiver, Mapping):
            continue
        slack = receiver.get("type") == "slack"
        for key, value in receiver.items():
            if not isinstance(value, str) or not value:
                continue
            if key in SECRET_KEYS or (slack and key not in {"type", "name"}):
                found.add(value)
            if key in ("url", "client_url"):
                found.update(_url_secrets(value, path=slack))
    return sorted(found, key=len, reverse=True)


def _url_secrets(url: str, *, path: bool) -> Iterable[str]:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return [url]
    out = [p for p in (parts.query, password) if p]
    if path and parts.path not in ("", "/"):
        out.append(parts.path)
    return out


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret (also as ``repr`` shows it)
    replaced by ``<redacted>``."""
    for secret in secrets:
        if len(secret) < 4:  # a one-character "secret" would shred the message
            continue
        text = text.replace(secret, REDACTED)
        quoted = repr(secret)[1:-1]
        if quoted != secret:
            text = text.replace(quoted, REDACTED)
    return text
