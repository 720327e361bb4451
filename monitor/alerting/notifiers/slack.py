"""Slack incoming webhook: the group as a Block Kit message.

Layout: a header (``[FIRING:2] DatasetDrift churn``, Alertmanager's default Slack
title), then one section per alert (at most :data:`MAX_ALERTS`, then "and N more") with
the summary, fields (model, version, signal, feature/segment, window, value vs
threshold), the top drifted features of a run-level alert and its links, then a button
to Driftwarden when the payload has an externalURL. ``text`` is always set: Slack shows
it in notifications and where blocks cannot be drawn.

Sent with slack_sdk's WebhookClient without its own retry handlers: the outbox owns
retries (back-off across process restarts), so one delivery is one request.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from slack_sdk.errors import SlackRequestError
from slack_sdk.webhook import WebhookClient

from monitor.alerting.notifiers import Delivery, classify_status, config_str, cut, final

MAX_ALERTS = 10  # sections in one message; the rest are counted
MAX_TOP_FEATURES = 5
SECTION_CHARS = 3000  # Slack's limit on a section's text
FIELD_CHARS = 2000  # and on one field
HEADER_CHARS = 150  # plain_text of a header block
TEXT_CHARS = 3000
TIMEOUT_S = 10

_EMOJI = {"firing": ":red_circle:", "resolved": ":large_green_circle:"}


def _esc(text: object) -> str:
    """Slack's mrkdwn escaping: only &, < and > are control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _num(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else _esc(value)


def _link(url: object, label: str) -> str:
    # Inside <url|label> the URL must not carry | or >, which end the link.
    href = str(url).replace("|", "%7C").replace(">", "%3E")
    return f"<{href}|{label}>"


def _when(iso: object) -> str:
    try:
        ts = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return _esc(iso)
    return ts.strftime("%Y-%m-%d %H:%M UTC")


def title(payload: Mapping[str, Any]) -> str:
    """``[FIRING:<n>] <group label values>`` or ``[RESOLVED] ...``. ``<n>+`` when the
    payload was truncated: the cut alerts' statuses are not in it."""
    alerts = payload.get("alerts", [])
    firing = sum(a.get("status") == "firing" for a in alerts)
    more = "+" if payload.get("truncatedAlerts", 0) else ""
    status = str(payload.get("status", "firing"))
    head = f"[FIRING:{firing}{more}]" if status == "firing" else "[RESOLVED]"
    names = " ".join(str(v) for v in payload.get("groupLabels", {}).values())
    return f"{head} {names}".strip()


def _fields(alert: Mapping[str, Any]) -> list[dict[str, str]]:
    labels: Mapping[str, str] = alert.get("labels", {})
    evidence: Mapping[str, Any] = alert.get("evidence") or {}
    pairs = [
        (name.capitalize(), _esc(labels[name]))
        for name in ("model", "version", "signal", "feature", "segment")
        if labels.get(name)
    ]
    if evidence.get("window_start") or evidence.get("window_end"):
        window = f"{_when(evidence.get('window_start'))} → {_when(evidence.get('window_end'))}"
        pairs.append(("Window", window))
    if evidence.get("value") is not None:
        value = f"{_num(evidence['value'])}"
        if labels.get("metric"):
            value = f"{_esc(labels['metric'])} = {value}"
        if evidence.get("threshold") is not None:
            value += f" (threshold {_num(evidence['threshold'])})"
        pairs.append(("Value", value))
    return [{"type": "mrkdwn", "text": cut(f"*{k}*\n{v}", FIELD_CHARS)} for k, v in pairs]


def _top_features(evidence: Mapping[str, Any]) -> list[str]:
    lines = []
    for top in (evidence.get("top_features") or [])[:MAX_TOP_FEATURES]:
        line = f"• `{_esc(top.get('feature', '?'))}` {_esc(top.get('metric', ''))} "
        line += _num(top.get("value"))
        if top.get("p_value") is not None:
            line += f" (p={_num(top['p_value'])})"
        lines.append(line)
    return lines


def alert_section(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The section block of one alert."""
    labels: Mapping[str, str] = alert.get("labels", {})
    annotations: Mapping[str, str] = alert.get("annotations", {})
    status = str(alert.get("status", "firing"))
    summary = annotations.get("summary") or labels.get("alertname", "alert")
    lines = [f"{_EMOJI.get(status, '')} *{_esc(summary)}* ({status})"]
    if annotations.get("description"):
        lines.append(_esc(annotations["description"]))
    if not labels.get("feature"):
        top = _top_features(alert.get("evidence") or {})
        if top:
            lines.append("*Top drifted features*")
            lines.extend(top)
    links = [
        _link(url, label)
        for url, label in (
            (annotations.get("runbook_url"), "Runbook"),
            (alert.get("generatorURL"), "Source"),
        )
        if url
    ]
    if links:
        lines.append(" · ".join(links))
    block: dict[str, Any] = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": cut("\n".join(lines), SECTION_CHARS)},
    }
    fields = _fields(alert)
    if fields:
        block["fields"] = fields
    return block


def message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The ``text`` and ``blocks`` of the Slack message for a v4 payload."""
    alerts = list(payload.get("alerts", []))
    head = title(payload)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(head, HEADER_CHARS)}}
    ]
    blocks.extend(alert_section(a) for a in alerts[:MAX_ALERTS])
    more = len(alerts) - MAX_ALERTS + int(payload.get("truncatedAlerts", 0))
    if more > 0:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {more} more"}]}
        )
    external = payload.get("externalURL")
    if external:
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open Driftwarden"},
            "url": str(external),
        }
        blocks.append({"type": "actions", "elements": [button]})
    summaries = [
        a.get("annotations", {}).get("summary") or a.get("labels", {}).get("alertname", "")
        for a in alerts
    ]
    text = f"{head}: {'; '.join(s for s in summaries if s)}" if any(summaries) else head
    return {"text": cut(text, TEXT_CHARS), "blocks": blocks}


def send_slack(
    client: httpx.Client, config: Mapping[str, Any], payload: Mapping[str, Any]
) -> Delivery:
    """``client`` is unused: slack_sdk sends with urllib."""
    del client
    try:
        url = config_str(config, "url")
    except ValueError as exc:
        return final(str(exc))
    body = message(payload)
    webhook = WebhookClient(url, timeout=TIMEOUT_S, retry_handlers=[])
    try:
        response = webhook.send(text=body["text"], blocks=body["blocks"])
    except SlackRequestError as exc:  # e.g. not an http(s) URL
        return final(f"slack url: {exc}")
    except ValueError as exc:  # urllib refuses the URL itself
        return final(f"slack url: {type(exc).__name__}: {exc}")
    except OSError as exc:  # URLError, timeouts, refused connections: retry later
        return Delivery(ok=False, retryable=True, error=f"{type(exc).__name__}: {exc}")
    return classify_status(response.status_code, response.body or "")
