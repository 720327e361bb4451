"""API keys: 401 without a valid key on every /v1 route, 403 when its scope is too low,
revocation at once, hashes at rest, checks whose timing does not tell which keys exist."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator

import pytest
from api_support import Api, bearer, issue_key
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from monitor.api import auth
from monitor.apikeys import ApiKeyError, authenticate, create_key, revoke_key, verify_secret
from monitor.cli import app as cli
from monitor.db.models import ApiKey


@pytest.fixture
def api(db: Engine, database_url: str) -> Iterator[Api]:
    client = Api(database_url, scope="read")
    yield client
    client.close()


def _v1_routes(api: Api) -> list[tuple[str, str]]:
    """(method, path) of every /v1 operation in the OpenAPI schema, path parameters
    filled with a placeholder."""
    paths = api.app.openapi()["paths"]
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method in operations
    ]


def _problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    return body


def test_every_v1_route_needs_a_valid_key(api: Api) -> None:
    routes = _v1_routes(api)
    assert len(routes) >= 5
    unknown = "dwk_000000000000_" + "A" * 43
    for method, path in routes:
        for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, bearer(""), bearer(unknown)):
            response = api(method, path, headers=headers, json={})
            _problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer")
    # Probes and the scrape need none.
    assert api("GET", "/healthz", auth=False).status_code == 200
    assert api("GET", "/readyz", auth=False).json()["status"] == "ok"
    assert api("GET", "/metrics", auth=False).status_code == 200


def test_a_read_key_reads_and_cannot_change_anything(api: Api) -> None:
    assert api("GET", "/v1/alerts").status_code == 200
    writes = [(m, p) for m, p in _v1_routes(api) if m not in ("GET", "HEAD")]
    assert writes
    for method, path in writes:
        body = _problem(api(method, path, json={}), 403)
        assert "scope 'read'" in str(body["detail"])
    write = issue_key(api.engine, "write")
    silence = {"matchers": ['model="m"'], "ends_at": "2099-01-01T00:00:00Z", "created_by": "t"}
    assert api("POST", "/v1/silences", json=silence, headers=bearer(write)).status_code == 201


def test_concurrent_first_requests_of_a_new_key_check_it_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []

    def counted(token: str, key: tuple[int, str, str] | None) -> bool:
        checks.append(token)
        # Hold the check open long enough for every concurrent request to look its key up
        # and join it, however slowly the API's pool hands out connections.
        time.sleep(1.0)
        return verify_secret(token, key)

    monkeypatch.setattr(auth, "verify_secret", counted)
    responses = api.concurrently("GET", "/v1/alerts", 10)
    assert [r.status_code for r in responses] == [200] * 10
    assert len(checks) == 1
    wrong = api.token[:-1] + ("A" if api.token[-1] != "A" else "B")
    refused = api.concurrently("GET", "/v1/alerts", 5, headers=bearer(wrong))
    assert [r.status_code for r in refused] == [401] * 5
    assert len(checks) == 2
    assert [r.status_code for r in api.concurrently("GET", "/v1/alerts", 3)] == [200] * 3
    assert len(checks) == 2  # remembered


def test_a_revoked_key_is_refused_at_once(api: Api) -> None:
    assert api("GET", "/v1/alerts").status_code == 200  # verified, and remembered
    with Session(api.engine) as session, session.begin():
        [name] = session.scalars(select(ApiKey.name)).all()
        revoke_key(session, name)
    _problem(api("GET", "/v1/alerts"), 401)
    with (
        Session(api.engine) as session,
        session.begin(),
        pytest.raises(ApiKeyError, match="already"),
    ):
        revoke_key(session, name)


def test_only_a_salted_scrypt_hash_is_stored(db: Engine) -> None:
    with Session(db) as session, session.begin():
        row, token = create_key(session, name="ci", scope="write")
        other, _ = create_key(session, name="ci2", scope="write")
        key_id, stored, other_stored = row.key_id, row.secret_hash, other.secret_hash
    # The secret is URL-safe base64 and may itself hold "_", so it is what follows the
    # key id, not the text after the last "_".
    prefix = f"dwk_{key_id}_"
    assert token.startswith(prefix)
    secret = token.removeprefix(prefix)
    assert len(secret) == 43
    assert stored.startswith("scrypt$16384$8$1$")
    assert secret not in stored
    assert stored.split("$")[4] != other_stored.split("$")[4]  # salts differ
    with Session(db) as session:
        identity = authenticate(session, token)
        assert identity is not None
        assert (identity.name, identity.scope) == ("ci", "write")
        assert authenticate(session, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    with Session(db) as session, session.begin(), pytest.raises(ApiKeyError, match="exists"):
        create_key(session, name="ci", scope="read")
    with Session(db) as session, session.begin(), pytest.raises(ApiKeyError, match="scope='root'"):
        create_key(session, name="x", scope="root")


def test_failed_checks_take_the_same_time_whether_the_key_exists_or_not(db: Engine) -> None:
    token = issue_key(db, "read")
    key_id = token.split("_")[1]
    wrong_secret = f"dwk_{key_id}_" + "B" * 43
    unknown_id = "dwk_ffffffffffff_" + "B" * 43
    malformed = "not-a-key"

    # The three cases take turns and each keeps its fastest time, so a burst of load on a
    # shared machine slows all three alike rather than one of them.
    times: dict[str, list[float]] = {wrong_secret: [], unknown_id: [], malformed: []}
    with Session(db) as session:
        for _ in range(7):
            for candidate, taken in times.items():
                began = time.perf_counter()
                assert authenticate(session, candidate) is None
                taken.append(time.perf_counter() - began)
    known, unknown, bad = (min(times[c]) for c in (wrong_secret, unknown_id, malformed))
    # Each runs one scrypt (tens of ms); a skipped hash would be ~100x faster.
    assert 0.25 < unknown / known < 4.0, (known, unknown)
    assert 0.25 < bad / known < 4.0, (known, bad)


def test_tokens_never_reach_logs_or_answers(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "dwk_000000000000_" + "C" * 43
    refused = api("GET", "/v1/alerts", headers=bearer(bad))
    assert bad not in refused.text
    api("GET", "/v1/alerts")
    for record in caplog.records:
        assert api.token not in record.getMessage()
        assert bad not in record.getMessage()


def test_apikey_cli_shows_the_token_once(db: Engine, database_url: str) -> None:
    runner = CliRunner()
    env = {"DRIFTWARDEN_DATABASE_URL": database_url}
    created = runner.invoke(
        cli,
        ["apikey", "create", "--name", "deploy-bot", "--scope", "write", "--output", "json"],
        env=env,
    )
    assert created.exit_code == 0, created.output
    token = json.loads(created.output)["token"]
    listed = runner.invoke(cli, ["apikey", "list", "--output", "json"], env=env)
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert (row["name"], row["scope"], row["revoked_at"]) == ("deploy-bot", "write", None)
    assert token not in listed.output
    assert runner.invoke(cli, ["apikey", "revoke", "deploy-bot"], env=env).exit_code == 0
    again = runner.invoke(cli, ["apikey", "revoke", "deploy-bot"], env=env)
    assert again.exit_code == 2
    assert "already revoked" in again.output
    bad = runner.invoke(cli, ["apikey", "create", "--name", "x", "--scope", "root"], env=env)
    assert bad.exit_code == 2
    assert "scope='root'" in bad.output
