"""PagerDuty Events API v2: one event per alert of the group.

A firing alert is a ``trigger``, a resolved one a ``resolve``, both with
``dedup_key`` = the alert's fingerprint, so each alert instance is one PagerDuty alert
that its own resolve closes (and a later episode opens a new incident, as PagerDuty
does after a resolve). Events go out in order and the first failure stops the batch:
the outbox retries the whole row, and re-sending the events before it is harmless
(same dedup_key, same action).

Severity: the alert's ``severity`` label through :data:`SEVERITY_ALIASES`, else the
receiver's ``severity`` (default ``error``, as Alertmanager's PagerDuty receiver).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from monitor.alerting.notifiers import Delivery, classify_status, config_str, cut, final

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES = ("critical", "error", "warning", "info")
SUMMARY_CHARS = 1024  # PagerDuty's limit on payload.summary
DEDUP_KEY_CHARS = 255

# Label values teams use for severity (lower-cased) -> PagerDuty's four.
SEVERITY_ALIASES: dict[str, str] = {
    **{s: s for s in SEVERITIES},
    **dict.fromkeys(("page", "high", "fatal", "emergency", "p1", "sev1"), "critical"),
    **dict.fromkeys(("err", "major", "p2", "sev2"), "error"),
    **dict.fromkeys(("warn", "ticket", "medium", "minor", "p3", "sev3"), "warning"),
    **dict.fromkeys(("low", "informational", "notice", "none", "p4", "sev4"), "info"),
}


def severity_of(labels: Mapping[str, str], default: str) -> str:
    """The PagerDuty severity of an alert: its mapped ``severity`` label, else ``default``."""
    return SEVERITY_ALIASES.get(str(labels.get("severity", "")).strip().lower(), default)


def event(
    alert: Mapping[str, Any],
    *,
    routing_key: str,
    default_severity: str,
    client_url: str,
) -> dict[str, Any]:
    """The Events v2 body of one alert of a v4 payload."""
    labels: Mapping[str, str] = alert.get("labels", {})
    annotations: Mapping[str, str] = alert.get("annotations", {})
    model = labels.get("model", "")
    summary = annotations.get("summary") or " ".join(
        p for p in (labels.get("alertname", "alert"), model) if p
    )
    links = [
        {"href": href, "text": text}
        for href, text in (
            (annotations.get("runbook_url", ""), "Runbook"),
            (alert.get("generatorURL", ""), "Driftwarden"),
        )
        if href
    ]
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger" if alert.get("status") == "firing" else "resolve",
        "dedup_key": str(alert.get("fingerprint", ""))[:DEDUP_KEY_CHARS],
        "payload": {
            "summary": cut(summary, SUMMARY_CHARS),
            "source": model or "driftwarden",
            "severity": severity_of(labels, default_severity),
            "timestamp": alert.get("startsAt"),
            "component": model or None,
            "group": labels.get("signal") or None,
            "class": labels.get("alertname") or None,
            "custom_details": {
                "labels": dict(labels),
                "annotations": dict(annotations),
                "evidence": dict(alert.get("evidence") or {}),
            },
        },
        "links": links,
        "client": "Driftwarden",
    }
    body["payload"] = {k: v for k, v in body["payload"].items() if v is not None}
    if client_url:
        body["client_url"] = client_url
    return body


def send_pagerduty(
    client: httpx.Client, config: Mapping[str, Any], payload: Mapping[str, Any]
) -> Delivery:
    try:
        routing_key = config_str(config, "routing_key")
    except ValueError as exc:
        return final(str(exc))
    configured = str(config.get("severity") or "error")
    default_severity = SEVERITY_ALIASES.get(configured.lower())
    if default_severity is None:
        return final(f"receiver config severity={configured!r}: expected one of {SEVERITIES}")
    url = str(config.get("url") or DEFAULT_URL)
    client_url = str(config.get("client_url") or payload.get("externalURL") or "")
    alerts = payload.get("alerts", [])
    delivery = final("payload alerts=[]: nothing to send")
    for i, alert in enumerate(alerts, 1):
        body = event(
            alert,
            routing_key=routing_key,
            default_severity=default_severity,
            client_url=client_url,
        )
        where = f"event {i}/{len(alerts)} dedup_key={body['dedup_key']!r}"
        try:
            response = client.post(url, json=body)
        except httpx.TransportError as exc:
            return Delivery(ok=False, retryable=True, error=f"{where}: {type(exc).__name__}: {exc}")
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            return final(f"url={url!r}: {type(exc).__name__}: {exc}")
        delivery = classify_status(response.status_code, response.text)
        if not delivery.ok:
            return Delivery(
                ok=False,
                retryable=delivery.retryable,
                status=delivery.status,
                error=f"{where}: {delivery.error}",
            )
    return delivery
