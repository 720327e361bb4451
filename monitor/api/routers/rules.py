"""The alerting config (rules.yaml): read it back, apply a new one (admin scope).

``POST /v1/rules/apply`` runs the checks of ``driftwarden rules apply``
(``load_config``; with ``check_urls``, a TCP connect to each receiver) and one more:
every receiver URL must point to a public address unless its host or network is in
``DRIFTWARDEN_OUTBOUND_ALLOWED_HOSTS`` (monitor/alerting/outbound.py), so a key cannot
make the service call internal addresses. ``${VAR}`` is not expanded from the server's
environment here (a config sent over HTTP could otherwise send the server's variables,
its database password among them, to a URL of its choosing): send the values.

Secrets never leave: ``GET /v1/rules`` shows ``<redacted>`` for webhook secrets, Slack
URLs and PagerDuty routing keys, and error messages have every secret of the sent
document scrubbed (monitor/alerting/redaction.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from monitor.alerting.config_store import apply_config
from monitor.alerting.outbound import AllowList, outbound_problems
from monitor.alerting.reachability import reachability_problems
from monitor.alerting.redaction import redact_config, scrub, secret_values
from monitor.alerting.rules import ConfigError, load_config
from monitor.api.auth import require
from monitor.api.support import (
    DOCUMENT_MAX_BYTES,
    LimitedRoute,
    document_body,
    document_text,
    max_body,
    session,
)
from monitor.db.models import AlertingConfig as AlertingConfigRow

router = APIRouter(prefix="/v1", route_class=LimitedRoute, tags=["rules"])

SOURCE = "rules.yaml"
_EXAMPLE = """version: 1
receivers:
  - {name: oncall, type: webhook, url: "https://hooks.example.com/driftwarden", secret: s3cret}
route: {receiver: oncall, group_by: [alertname, model]}
groups:
  - name: drift
    rules:
      - alert: FeatureDrift
        matchers: ['signal="data_drift"', 'feature!=""']
        condition: alert == 1
        for: 2
"""


class RulesOut(BaseModel):
    applied_at: datetime
    config: dict[str, Any] = Field(
        description="The applied config; receivers' secrets are shown as <redacted>.",
        examples=[
            {
                "version": 1,
                "receivers": [
                    {
                        "name": "oncall",
                        "type": "webhook",
                        "url": "https://hooks.example.com/driftwarden",
                        "secret": "<redacted>",
                    }
                ],
                "route": {"receiver": "oncall", "group_by": ["alertname", "model"]},
                "groups": [],
            }
        ],
    )


class RulesApplied(BaseModel):
    applied: list[str] = Field(examples=[["receiver oncall", "rule FeatureDrift"]])


@router.get("/rules", summary="The applied alerting config (secrets redacted)")
def get_rules(request: Request) -> RulesOut:
    with session(request) as s:
        row = s.get(AlertingConfigRow, 1)
        if row is None:
            raise HTTPException(404, "no alerting config applied yet (POST /v1/rules/apply)")
        return RulesOut(applied_at=row.applied_at, config=redact_config(row.config))


def _secrets(text: str) -> list[str]:
    try:
        return secret_values(yaml.safe_load(text))
    except (yaml.YAMLError, RecursionError):
        return []


def _apply(request: Request, text: str, check_urls: bool) -> RulesApplied:
    secrets = _secrets(text)

    def refuse(problems: list[str]) -> HTTPException:
        detail = "; ".join(problems) + " (nothing applied)"
        return HTTPException(422, scrub(detail, secrets))

    try:
        config = load_config(text, SOURCE, env={})
    except ConfigError as exc:
        raise refuse(str(exc).splitlines()) from None
    except RecursionError:
        raise refuse([f"{SOURCE}: nested too deeply"]) from None
    allow = AllowList.parse(request.app.state.settings.outbound_allowed_hosts)
    targets = [(f"receivers.{i}.url", r.name, r.url) for i, r in enumerate(config.receivers)]
    if problems := outbound_problems(targets, allow):
        raise refuse([f"{SOURCE}: {p}" for p in problems])
    if check_urls and (problems := reachability_problems(config)):
        raise refuse([f"{SOURCE}: {p}" for p in problems])
    with Session(request.app.state.engine) as s, s.begin():
        report = apply_config(s, config, now=datetime.now(UTC))
    return RulesApplied(applied=report.lines())


@router.post(
    "/rules/apply",
    summary="Apply a rules.yaml (admin)",
    dependencies=[Depends(require("admin"))],
    openapi_extra=document_body(_EXAMPLE),
)
@max_body(DOCUMENT_MAX_BYTES)
async def post_rules(
    request: Request,
    check_urls: Annotated[
        bool, Query(description="Refuse receivers whose host:port does not accept connections.")
    ] = True,
) -> RulesApplied:
    text = await document_text(request)
    return await run_in_threadpool(_apply, request, text, check_urls)
