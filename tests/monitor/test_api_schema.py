"""Schemathesis against the live API: the real `driftwarden api` process, on a real
PostgreSQL holding a model, a baseline, a monitor, results, a silence and a dead letter,
called with a write-scoped key. Every operation of the live OpenAPI document (so every
router, including ones added later) gets generated valid and invalid requests; any 5xx,
any status code, content type or body its schema does not document, and any invalid
request accepted, fails the test, which lists every operation's first failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import numpy as np
import pytest
import requests
import schemathesis
from api_support import bearer, issue_key
from factories import CLI, recent_start, register, store
from factories import events as make_events
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitor.alerting.silences import create_silence
from monitor.config import load_settings
from monitor.db import migrate
from monitor.db.engine import make_engine
from monitor.detection.runner import run_due

# Per operation and mode: enough for every parameter and body field to be varied,
# bounded so the whole run stays around a minute. derandomize: the same cases each run,
# so a failure reproduces and a green run means the same thing twice.
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 15}
CHECKS = {
    GenerationMode.POSITIVE: [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ],
    # Invalid input must be refused with a documented 4xx, never stored.
    GenerationMode.NEGATIVE: [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        negative_data_rejection,
    ],
}
HYPOTHESIS = settings(
    max_examples=1,  # replaced per mode below
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is reported
    suppress_health_check=list(HealthCheck),
)


class _Adapter(requests.adapters.BaseAdapter):
    """requests' HTTPAdapter, out of sight of schemathesis's connection count.

    grafana-client brings niquests, whose urllib3-future takes the ``urllib3`` name; its
    pool container has no ``keys()``, which schemathesis's requests transport calls on
    every ``HTTPAdapter`` it finds (to resend a request a dropped keep-alive connection
    lost). Wrapped, the count skips it: requests are sent exactly as before."""

    def __init__(self) -> None:
        super().__init__()
        self._inner = requests.adapters.HTTPAdapter()

    def send(self, request: Any, **kwargs: Any) -> Any:
        return self._inner.send(request, **kwargs)

    def close(self) -> None:
        self._inner.close()


def http_session() -> requests.Session:
    session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, _Adapter())
    return session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(engine: Engine) -> None:
    """A model with a baseline and an hourly monitor, six hours of events (drift in the
    last three), the windows checked (results), a silence and a dead letter."""
    register(engine)
    start = recent_start()
    rng = np.random.default_rng(3)
    for hour in range(6):
        store(
            engine,
            make_events(
                start + timedelta(hours=hour),
                120,
                rng=rng,
                shift=hour >= 3,
                prefix=f"h{hour}",
            ),
        )
    assert run_due(engine), "the seeded monitor produced no runs"
    with Session(engine) as session, session.begin():
        create_silence(
            session,
            matchers=['model="credit"'],
            starts_at=start,
            ends_at=start + timedelta(days=30),
            created_by="schemathesis",
            comment="seeded",
        )


@dataclass(frozen=True)
class LiveApi:
    base_url: str
    token: str


@pytest.fixture(scope="module")
def live_api(
    create_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApi]:
    url = create_database()
    migrate.upgrade(url)
    engine = make_engine(load_settings(database_url=url))
    try:
        seed(engine)
        token = issue_key(engine, "write", name="schemathesis")
    finally:
        engine.dispose()
    port = free_port()
    env = {**os.environ, "DRIFTWARDEN_DATABASE_URL": url, "DRIFTWARDEN_LOG_LEVEL": "WARNING"}
    log = tmp_path_factory.mktemp("api") / "api.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [CLI, "api", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"driftwarden api did not start:\n{log.read_text()}")
            time.sleep(0.2)
        # A dead letter (an event for an unknown model), through the live HTTP ingest.
        bad = {"predictions": [{"event_id": "x", "model_id": "nosuch", "model_version": "1"}]}
        refused = httpx.post(f"{base_url}/v1/events", json=bad, headers=bearer(token)).json()
        assert refused["refused"], refused
        yield LiveApi(base_url, token)
    finally:
        server.terminate()
        server.wait(timeout=30)
        session_log = log.read_text()
        # Only the traceback of a 5xx would be here (uvicorn logs at WARNING, us too).
        print(session_log[-5000:])


def run_operation(operation: Any, mode: GenerationMode, api: LiveApi, failures: list[str]) -> None:
    """Run ``mode`` cases of one operation; its first failure is appended."""
    checks = CHECKS[mode]
    session = http_session()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(HYPOTHESIS, max_examples=EXAMPLES[mode])
    def check(case: Any) -> None:
        case.call_and_validate(
            base_url=api.base_url, session=session, headers=bearer(api.token), checks=checks
        )

    try:
        check()
    except Unsatisfiable:
        # Nothing to make invalid (no parameters, no body), or, for DELETE /x/{id} with
        # a free-form string, no invalid value that survives URL encoding.
        if mode is GenerationMode.POSITIVE:
            failures.append(f"{operation.label} [{mode.value}]: no valid case generated")
    except (Exception, FailureGroup) as exc:  # FailureGroup is a BaseExceptionGroup
        failures.append(f"{operation.label} [{mode.value}]: {exc}")
    finally:
        session.close()


def test_every_operation_conforms_to_the_live_schema(live_api: LiveApi) -> None:
    schema = schemathesis.openapi.from_url(f"{live_api.base_url}/openapi.json")
    # Unknown query parameters are ignored, as HTTP APIs do: not a case to refuse. The
    # Authorization header is ours (a valid write key), not a parameter to vary.
    schema.config.generation.update(allow_extra_parameters=False, with_security_parameters=False)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"POST /v1/events", "GET /v1/alerts", "GET /healthz"} <= labels, labels
    failures: list[str] = []
    started = time.monotonic()
    for operation in operations:
        for mode in GenerationMode:
            run_operation(operation, mode, live_api, failures)
    elapsed = time.monotonic() - started
    print(f"schemathesis: {len(operations)} operations in {elapsed:.0f} s")
    assert not failures, f"{len(failures)} failing:\n\n" + "\n\n".join(failures)


@pytest.mark.parametrize(
    ("method", "path", "body", "detail"),
    [
        # What schemathesis first found (as 500s): values the database refuses.
        ("POST", f"/v1/retraining/{2**64}/outcome", {"status": "failed"}, "out of range"),
        ("POST", "/v1/silences", {"created_by": "a\x00b"}, "0x00"),
        # JSON may escape a lone surrogate; no UTF-8 text can hold it.
        ("POST", "/v1/silences", {"created_by": "a\ud800b"}, "\\ud800"),
    ],
)
def test_values_the_database_refuses_are_422_problems(
    live_api: LiveApi, method: str, path: str, body: dict[str, Any], detail: str
) -> None:
    if path == "/v1/silences":
        body = {"matchers": ['model="x"'], "ends_at": "2099-01-01T00:00:00Z", **body}
    before = httpx.get(f"{live_api.base_url}/v1/silences", headers=bearer(live_api.token))
    response = httpx.request(
        method,
        live_api.base_url + path,
        content=json.dumps(body),  # ensure_ascii: the surrogate travels as \ud800
        headers={**bearer(live_api.token), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"], response.json()
    after = httpx.get(f"{live_api.base_url}/v1/silences", headers=bearer(live_api.token))
    assert after.json() == before.json()  # nothing stored
