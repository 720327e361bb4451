"""The resource routes of the API (models, baselines, monitors, rules, dead letters):
success, validation errors (422 problem+json naming field and value), 401, 403 and 404
on each, and injection attempts that must change nothing. Real PostgreSQL throughout."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from api_support import Api, bearer, issue_key
from factories import MODEL, columns, events, recent_start, register, store
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.demo.receiver import RecordingReceiver
from monitor.ingest.catalog import ModelCatalog
from monitor.ingest.prepare import Preparer
from monitor.ingest.sink import Batch, BatchWriter, Source

CHURN = {
    "model_id": "churn",
    "task_type": "binary_classification",
    "version": "1",
    "description": "churn model",
    "features": [
        {"name": "tenure", "kind": "numerical", "range": [0, 240]},
        {"name": "plan", "kind": "categorical", "categories": ["basic", "pro"]},
    ],
}


@pytest.fixture
def api(db: Engine, settings: Settings) -> Iterator[Api]:
    """A client with a write key; ``api.read`` and ``api.admin`` are other keys' headers."""
    client = Api(settings, scope="write")
    client.read = bearer(issue_key(client.engine, "read"))  # type: ignore[attr-defined]
    client.admin = bearer(issue_key(client.engine, "admin"))  # type: ignore[attr-defined]
    yield client
    client.close()


def problem(response: Any, status: int, *needles: str) -> str:
    """Assert an RFC 9457 answer of ``status`` whose detail holds every needle."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    for needle in needles:
        assert needle in body["detail"], body["detail"]
    return str(body["detail"])


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def refused_without_keys(api: Api, method: str, url: str, **kwargs: Any) -> None:
    """401 without a key; 403 with a read key on a write route."""
    problem(api(method, url, headers={}, **kwargs), 401)
    if method not in ("GET", "HEAD"):
        problem(api(method, url, headers=api.read, **kwargs), 403, "scope 'read'")  # type: ignore[attr-defined]


# --- models ----------------------------------------------------------------------------


def test_models_register_list_and_show(api: Api) -> None:
    created = api.post("/v1/models", CHURN)
    assert created.status_code == 201, created.text
    assert [f["name"] for f in created.json()["versions"][0]["features"]] == ["tenure", "plan"]
    # The same registration again changes nothing; a second version is added.
    assert api.post("/v1/models", CHURN).status_code == 200
    v2 = {**CHURN, "version": "2", "features": [{"name": "tenure", "kind": "numerical"}]}
    assert api.post("/v1/models", v2).status_code == 201
    listed = api("GET", "/v1/models", headers=api.read)  # type: ignore[attr-defined]
    assert listed.status_code == 200
    [model] = listed.json()
    assert [(v["version"], v["n_features"]) for v in model["versions"]] == [("1", 2), ("2", 1)]
    shown = api("GET", "/v1/models/churn", headers=api.read).json()  # type: ignore[attr-defined]
    assert shown["versions"][0]["features"][0] == {
        "name": "tenure",
        "kind": "numerical",
        "range": [0.0, 240.0],
        "categories": None,
    }
    problem(api("GET", "/v1/models/nope"), 404, "model_id='nope'")


def test_a_registered_schema_cannot_change_under_its_version(api: Api) -> None:
    assert api.post("/v1/models", CHURN).status_code == 201
    changed = {**CHURN, "features": [{"name": "tenure", "kind": "categorical"}]}
    problem(api.post("/v1/models", changed), 409, "version='1'", "new version")
    assert api("GET", "/v1/models/churn").json()["versions"][0]["features"][0]["kind"] == (
        "numerical"
    )


@pytest.mark.parametrize(
    ("patch", "needles"),
    [
        ({"task_type": "ranking"}, ("task_type='ranking'",)),
        ({"model_id": "../etc/passwd"}, ("model_id='../etc/passwd'",)),
        ({"model_id": "x" * 201}, ("model_id=",)),
        ({"features": []}, ("features=[]",)),
        ({"features": [{"name": "a", "kind": "numerical"}] * 2}, ("features.1.name='a'",)),
        ({"features": [{"name": "a", "kind": "text"}]}, ("features.0.kind='text'",)),
        ({"extra": 1}, ("extra=1",)),
    ],
)
def test_model_validation_names_field_and_value(
    api: Api, patch: dict[str, Any], needles: tuple[str, ...]
) -> None:
    problem(api.post("/v1/models", {**CHURN, **patch}), 422, *needles)
    assert count(api.engine, "models") == 0


def test_model_routes_need_keys(api: Api) -> None:
    refused_without_keys(api, "GET", "/v1/models")
    refused_without_keys(api, "GET", "/v1/models/churn")
    refused_without_keys(api, "POST", "/v1/models", json=CHURN)
    assert count(api.engine, "models") == 0


# --- baselines -------------------------------------------------------------------------


def _csv(n: int = 400, seed: int = 3) -> bytes:
    cols = columns(np.random.default_rng(seed), n)
    lines = ["income,age,region,customer_id"]
    lines += [f"{i},{a},{r},c{k}" for k, (i, a, r) in enumerate(zip(*cols.values(), strict=True))]
    return ("\n".join(lines) + "\n").encode()


def _upload(api: Api, filename: str, content: bytes, **form: str) -> Any:
    data = {"version": "1", "name": "uploaded", **form}
    return api(
        "POST",
        f"/v1/models/{MODEL}/baselines/upload",
        files={"file": (filename, io.BytesIO(content), "text/csv")},
        data=data,
    )


def test_baseline_upload_list_and_delete(api: Api) -> None:
    register(api.engine)
    created = _upload(api, "train.csv", _csv())
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["n_rows"], body["features"]) == (400, ["income", "age", "region"])
    assert body["ignored_columns"] == ["customer_id"]
    assert body["source"] == {"type": "upload", "filename": "train.csv", "format": "csv",
                              "bytes": len(_csv())}  # fmt: skip
    listed = api("GET", f"/v1/models/{MODEL}/baselines", headers=api.read)  # type: ignore[attr-defined]
    assert sorted(b["name"] for b in listed.json()) == ["training", "uploaded"]
    gone = api("DELETE", f"/v1/models/{MODEL}/baselines/uploaded", params={"version": "1"})
    assert gone.status_code == 200, gone.text
    again = api("DELETE", f"/v1/models/{MODEL}/baselines/uploaded", params={"version": "1"})
    problem(again, 404, "name='uploaded'")
    problem(api("GET", "/v1/models/nope/baselines"), 404, "model_id='nope'")
    assert [b["name"] for b in api("GET", f"/v1/models/{MODEL}/baselines").json()] == ["training"]


def test_an_uploaded_file_name_is_never_a_path(api: Api, tmp_path: Any) -> None:
    register(api.engine)
    for name in ("../../../../tmp/evil.csv", "..\\..\\evil.csv", "/etc/passwd.csv", "a b;rm.csv"):
        created = _upload(api, name, _csv(), name="t")
        assert created.status_code == 201, created.text
        label = created.json()["source"]["filename"]
        assert "/" not in label
        assert "\\" not in label
        assert not label.startswith(".")
    assert not (tmp_path.parent / "evil.csv").exists()
    problem(_upload(api, "../x.exe", b"MZ"), 422, "file.filename='x.exe'", "'.exe'")


def test_upload_errors_name_the_file_not_the_server_path(api: Api) -> None:
    register(api.engine)
    bad = b"income,age,region\n1.5,30,north\nabc,31,south\n"
    detail = problem(_upload(api, "train.csv", bad), 422, "train.csv", "'abc'")
    assert "driftwarden-upload" not in detail
    assert "/tmp" not in detail
    problem(_upload(api, "train.csv", b"income,age\n1,2\n"), 422, "region")
    problem(_upload(api, "t.csv", _csv(), version="9"), 404, "version='9'")
    problem(_upload(api, "t.csv", _csv(), name="../x"), 422, "name='../x'")
    assert count(api.engine, "baselines") == 1  # the factory's


def test_an_oversized_upload_is_refused_before_it_is_read(api: Api) -> None:
    from monitor.api.routers import baselines  # noqa: PLC0415

    register(api.engine)
    limit = baselines.UPLOAD_MAX_BYTES
    received: list[int] = []

    async def body() -> Any:  # would stream the whole declared size if it were read
        for _ in range(limit // (1 << 20) + 1):
            received.append(1)
            yield b"x" * (1 << 20)

    response = api(
        "POST",
        f"/v1/models/{MODEL}/baselines/upload",
        content=body(),
        headers={
            **bearer(api.token),
            "content-type": "multipart/form-data; boundary=b",
            "content-length": str(limit + 1),
        },
    )
    problem(response, 413, f"more than {limit} bytes")
    assert received == []
    assert count(api.engine, "baselines") == 1


def test_baseline_from_a_production_range(api: Api) -> None:
    register(api.engine)
    start = recent_start()
    store(api.engine, events(start, 300, rng=np.random.default_rng(5)))  # over one hour
    body = {"version": "1", "name": "prod", "from": start.isoformat()}
    problem(api.post(f"/v1/models/{MODEL}/baselines", body), 422, "body.to")
    end = (start + timedelta(hours=1)).isoformat()
    created = api.post(f"/v1/models/{MODEL}/baselines", {**body, "to": end})
    assert created.status_code == 201, created.text
    assert created.json()["n_rows"] == 300
    assert created.json()["source"]["type"] == "predictions"
    backwards = {**body, "from": end, "to": start.isoformat()}
    problem(api.post(f"/v1/models/{MODEL}/baselines", backwards), 422, "is not before")
    naive = {**body, "to": "2026-01-01T00:00:00"}
    problem(api.post(f"/v1/models/{MODEL}/baselines", naive), 422, "body.to")
    problem(api.post(f"/v1/models/{MODEL}/baselines", {**body, "to": end, "version": "7"}), 404)
    problem(api.post("/v1/models/nope/baselines", {**body, "to": end}), 404, "model_id='nope'")
    assert count(api.engine, "baselines") == 2


def test_baseline_routes_need_keys(api: Api) -> None:
    register(api.engine)
    url = f"/v1/models/{MODEL}/baselines"
    refused_without_keys(api, "GET", url)
    refused_without_keys(api, "POST", url, json={"version": "1", "from": "x", "to": "y"})
    refused_without_keys(
        api, "POST", url + "/upload", files={"file": ("t.csv", b"a\n1\n")}, data={"version": "1"}
    )
    refused_without_keys(api, "DELETE", url + "/training", params={"version": "1"})
    assert count(api.engine, "baselines") == 1


# --- monitors --------------------------------------------------------------------------

MONITORS_YAML = f"""
version: 1
defaults: {{window: 1h, min_rows: 50}}
monitors:
  - name: credit-quality
    model: {MODEL}
    signals: [data_quality]
  - name: credit-drift-30m
    model: {MODEL}
    window: 30m
"""


def test_monitors_apply_list_show_put_and_delete(api: Api) -> None:
    register(api.engine)  # has monitor credit-drift
    dry = api("POST", "/v1/monitors/apply", params={"dry_run": True}, content=MONITORS_YAML,
              headers={**api.admin, "content-type": "application/yaml"})  # type: ignore[attr-defined]  # fmt: skip
    assert dry.status_code == 200, dry.text
    assert count(api.engine, "monitors") == 1
    applied = api("POST", "/v1/monitors/apply", content=MONITORS_YAML)
    assert applied.status_code == 200, applied.text
    actions = {c["name"]: c["action"] for c in applied.json()["changes"]}
    assert actions == {"credit-quality": "created", "credit-drift-30m": "created",
                       "credit-drift": "kept"}  # fmt: skip
    names = [m["name"] for m in api("GET", "/v1/monitors", params={"model": MODEL}).json()]
    assert names == ["credit-drift", "credit-drift-30m", "credit-quality"]
    assert api("GET", "/v1/monitors/credit-drift-30m").json()["window"] == "30m"
    problem(api("GET", "/v1/monitors/nope"), 404, "name='nope'")

    put = api("PUT", "/v1/monitors/credit-drift-30m", json={"model": MODEL, "window": "2h"})
    assert put.status_code == 200, put.text
    assert put.json()["changes"][0]["action"] == "changed"
    assert api("GET", "/v1/monitors/credit-drift-30m").json()["window"] == "2h"
    new = api("PUT", "/v1/monitors/other", json={"model": MODEL, "signals": ["data_quality"]})
    assert new.status_code == 201, new.text

    deleted = api("DELETE", "/v1/monitors/other")
    assert deleted.status_code == 200
    assert deleted.json()["name"] == "other"
    problem(api("DELETE", "/v1/monitors/other"), 404, "name='other'")
    assert count(api.engine, "monitors") == 3


def test_monitor_problems_are_all_named_and_nothing_is_applied(api: Api) -> None:
    register(api.engine)
    bad = MONITORS_YAML.replace("window: 30m", "window: -1h").replace("min_rows: 50", "min_rows: 0")
    detail = problem(api("POST", "/v1/monitors/apply", content=bad), 422, "'-1h'", "min_rows")
    assert "nothing applied" in detail
    ghost = MONITORS_YAML.replace(f"model: {MODEL}\n    signals", "model: ghost\n    signals")
    problem(api("POST", "/v1/monitors/apply", content=ghost), 422, "'ghost'")
    problem(api("POST", "/v1/monitors/apply", content="version: [1"), 422, "not valid YAML")
    problem(api("POST", "/v1/monitors/apply", content=b"\xff\xfe"), 422, "not UTF-8")
    problem(api("POST", "/v1/monitors/apply", content=b""), 422, "empty")
    problem(api("PUT", "/v1/monitors/x", json={"model": MODEL, "window": "soon"}), 422, "'soon'")
    problem(api("PUT", "/v1/monitors/x", json={"model": MODEL, "name": "y"}), 422, "body.name='y'")
    problem(api("PUT", "/v1/monitors/x", json=[1]), 422, "body=[1]")
    assert count(api.engine, "monitors") == 1


def test_monitor_routes_need_keys(api: Api) -> None:
    register(api.engine)
    refused_without_keys(api, "GET", "/v1/monitors")
    refused_without_keys(api, "GET", "/v1/monitors/credit-drift")
    refused_without_keys(api, "PUT", "/v1/monitors/credit-drift", json={"model": MODEL})
    refused_without_keys(api, "DELETE", "/v1/monitors/credit-drift")
    refused_without_keys(api, "POST", "/v1/monitors/apply", content=MONITORS_YAML)
    assert count(api.engine, "monitors") == 1


# --- rules -----------------------------------------------------------------------------

SLACK = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"
ROUTING_KEY = "R" * 32


def rules_yaml(url: str, *, secret: str = "hmac-s3cret-value") -> str:
    return f"""
version: 1
receivers:
  - {{name: hook, type: webhook, url: "{url}", secret: "{secret}"}}
  - {{name: chat, type: slack, url: "{SLACK}"}}
  - {{name: pager, type: pagerduty, routing_key: "{ROUTING_KEY}"}}
route: {{receiver: hook}}
groups:
  - name: g
    rules:
      - {{alert: FeatureDrift, matchers: ['signal="data_drift"'], condition: alert == 1}}
"""


def test_rules_apply_and_show_with_secrets_redacted(db: Engine, settings: Settings) -> None:
    allowed = settings.model_copy(update={"outbound_allowed_hosts": ["127.0.0.1"]})
    api = Api(allowed, scope="admin")
    try:
        problem(api("GET", "/v1/rules"), 404, "no alerting config")
        with RecordingReceiver() as receiver:
            applied = api("POST", "/v1/rules/apply", params={"check_urls": False},
                          content=rules_yaml(receiver.url))  # fmt: skip
        assert applied.status_code == 200, applied.text
        assert "rule FeatureDrift" in applied.json()["applied"]
        shown = api("GET", "/v1/rules")
        assert shown.status_code == 200
        receivers = {r["name"]: r for r in shown.json()["config"]["receivers"]}
        assert receivers["hook"]["secret"] == "<redacted>"
        assert receivers["hook"]["url"] == receiver.url
        assert receivers["chat"]["url"] == "<redacted>"
        assert receivers["pager"]["routing_key"] == "<redacted>"
        for secret in ("hmac-s3cret-value", "XXXXSECRETXXXX", ROUTING_KEY):
            assert secret not in shown.text
    finally:
        api.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://2130706433/hook",  # 127.0.0.1 written as a number
    ],
)
def test_rules_with_internal_receiver_urls_are_refused(api: Api, url: str) -> None:
    response = api("POST", "/v1/rules/apply", content=rules_yaml(url), headers=api.admin)  # type: ignore[attr-defined]
    detail = problem(response, 422, "receivers.0.url=", "receiver 'hook'", "not allowed")
    for secret in ("hmac-s3cret-value", "XXXXSECRETXXXX", ROUTING_KEY, "/hook", "meta-data"):
        assert secret not in detail
    assert count(api.engine, "alerting_config") == 0


def test_a_refused_config_does_not_echo_its_secrets(api: Api) -> None:
    bad = rules_yaml("https://8.8.8.8/x").replace('url: "' + SLACK, 'url: "ftp:' + SLACK[6:])
    bad = bad.replace(f'routing_key: "{ROUTING_KEY}"', 'routing_key: "short-SECRETKEY"')
    detail = problem(
        api("POST", "/v1/rules/apply", content=bad, headers=api.admin),  # type: ignore[attr-defined]
        422,
        "receivers.1.url",
        "receivers.2.routing_key",
    )
    for secret in ("XXXXSECRETXXXX", "short-SECRETKEY", "hmac-s3cret-value"):
        assert secret not in detail
    env = rules_yaml("https://8.8.8.8/x", secret="${DRIFTWARDEN_DATABASE_URL}")
    problem(
        api("POST", "/v1/rules/apply", content=env, headers=api.admin),  # type: ignore[attr-defined]
        422,
        "DRIFTWARDEN_DATABASE_URL is not set",
    )
    assert count(api.engine, "alerting_config") == 0


def test_secrets_never_reach_the_logs(
    db: Engine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    allowed = settings.model_copy(update={"outbound_allowed_hosts": ["127.0.0.1"]})
    api = Api(allowed, scope="admin")
    try:
        with RecordingReceiver() as receiver:
            good = rules_yaml(receiver.url)
            ok = api("POST", "/v1/rules/apply", content=good, params={"check_urls": False})
            assert ok.status_code == 200, ok.text
        refused = rules_yaml("http://10.9.9.9/x").replace("https:", "ftp:")
        assert api("POST", "/v1/rules/apply", content=refused).status_code == 422
        assert api("GET", "/v1/rules").status_code == 200
    finally:
        api.close()
    logged = " ".join(r.getMessage() for r in caplog.records)
    for secret in ("hmac-s3cret-value", "XXXXSECRETXXXX", ROUTING_KEY):
        assert secret not in logged


def test_rules_apply_needs_the_admin_scope(api: Api) -> None:
    body = rules_yaml("https://8.8.8.8/x")
    problem(api("POST", "/v1/rules/apply", content=body), 403, "scope 'write'", "'admin'")
    refused_without_keys(api, "POST", "/v1/rules/apply", content=body)
    refused_without_keys(api, "GET", "/v1/rules")
    assert count(api.engine, "alerting_config") == 0


# --- dead letters ----------------------------------------------------------------------


def dead_letters(engine: Engine, payloads: list[bytes], topic: str = "t.predictions") -> None:
    """Refused records written by ingest's own prepare and write path (no broker)."""
    from monitor.config import load_settings  # noqa: PLC0415

    catalog = ModelCatalog(refresh_s=0)
    preparer = Preparer(load_settings(), catalog)
    batch = Batch()
    with Session(engine) as session:
        for i, raw in enumerate(payloads):
            preparer.add(session, batch, Source(topic, 0, i), raw)
        assert len(batch.rejected) == len(payloads)
        BatchWriter(engine, catalog).write(session, batch)


def test_dead_letters_page_by_cursor_and_filter(api: Api) -> None:
    evs = events(recent_start(), 5, rng=np.random.default_rng(1))
    dead_letters(api.engine, [json.dumps(e).encode() for e in evs] + [b"not json"])
    first = api("GET", "/v1/dead-letters", params={"limit": 4}, headers=api.read)  # type: ignore[attr-defined]
    assert first.status_code == 200, first.text
    page = first.json()
    assert [d["id"] for d in page["items"]] == [1, 2, 3, 4]
    assert page["next_cursor"] == "4"
    rest = api("GET", "/v1/dead-letters", params={"limit": 4, "cursor": "4"}).json()
    assert [d["id"] for d in rest["items"]] == [5, 6]
    assert rest["next_cursor"] is None
    only = api("GET", "/v1/dead-letters", params={"error_class": "not_json"}).json()["items"]
    assert [d["error_class"] for d in only] == ["not_json"]
    assert len(api("GET", "/v1/dead-letters", params={"model": MODEL}).json()["items"]) == 5
    assert api("GET", "/v1/dead-letters", params={"topic": "other"}).json()["items"] == []
    since = api("GET", "/v1/dead-letters", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert since["items"] == []
    for params, needle in [
        ({"limit": 1001}, "limit='1001'"),
        ({"limit": 0}, "limit='0'"),
        ({"cursor": "abc"}, "cursor='abc'"),
        ({"since": "yesterday"}, "since='yesterday'"),
    ]:
        problem(api("GET", "/v1/dead-letters", params=params), 422, needle)


@pytest.mark.parametrize(
    "value",
    [
        "' OR '1'='1",
        "not_json'; DROP TABLE dead_letters; --",
        "%' OR 1=1 --",
        "../../etc/passwd",
        "\\x00",
    ],
)
def test_injection_in_filters_changes_nothing(api: Api, value: str) -> None:
    dead_letters(api.engine, [b"not json", b"{broken"])
    for name in ("topic", "error_class", "model"):
        response = api("GET", "/v1/dead-letters", params={name: value})
        assert response.status_code == 200, response.text
        assert response.json()["items"] == []
    assert api("GET", "/v1/monitors", params={"model": value}).json() == []
    problem(api("GET", f"/v1/models/{value}"), 404)
    replay = api.post("/v1/dead-letters/replay", {"error_class": value})
    assert replay.status_code == 200
    assert replay.json()["replayed"] == 0
    assert count(api.engine, "dead_letters") == 2


def test_replay_stores_what_now_passes(api: Api) -> None:
    evs = events(recent_start(), 3, rng=np.random.default_rng(2))
    dead_letters(api.engine, [json.dumps(e).encode() for e in evs] + [b"not json"])
    problem(api.post("/v1/dead-letters/replay", {}), 422, "choose dead letters")
    problem(api.post("/v1/dead-letters/replay", {"ids": [1], "model": MODEL}), 422, "not both")
    problem(api.post("/v1/dead-letters/replay", {"ids": [1, 99]}), 404, "ids=[99]")
    register(api.engine)  # the fix
    done = api.post("/v1/dead-letters/replay", {"ids": [1]})
    assert done.status_code == 200, done.text
    assert (done.json()["stored"], done.json()["outcomes"][0]["id"]) == (1, 1)
    rest = api.post("/v1/dead-letters/replay", {"all": True}).json()
    assert (rest["replayed"], rest["stored"], rest["still_refused"]) == (3, 2, 1)
    assert count(api.engine, "predictions") == 3
    refused_without_keys(api, "GET", "/v1/dead-letters")
    refused_without_keys(api, "POST", "/v1/dead-letters/replay", json={"all": True})


# --- bodies ----------------------------------------------------------------------------


def test_oversized_and_deeply_nested_bodies_are_refused(api: Api) -> None:
    register(api.engine)
    from monitor.api.support import DOCUMENT_MAX_BYTES, JSON_MAX_BYTES  # noqa: PLC0415

    huge = "#" * (DOCUMENT_MAX_BYTES + 1)
    problem(api("POST", "/v1/monitors/apply", content=huge), 413)
    problem(api("POST", "/v1/rules/apply", content=huge, headers=api.admin), 413)  # type: ignore[attr-defined]
    big = {**CHURN, "description": "x" * JSON_MAX_BYTES}
    problem(api.post("/v1/models", big), 413)
    sent: list[int] = []

    async def chunks() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(64):
            sent.append(1)
            yield b"#" * (64 << 10)

    streamed = api("POST", "/v1/monitors/apply", content=chunks())
    problem(streamed, 413, f"more than {DOCUMENT_MAX_BYTES} bytes")
    assert len(sent) < 64  # refused before the rest was read
    deep = f'{{"model": "{MODEL}", "methods": ' + "[" * 5000 + "1" + "]" * 5000 + "}"
    response = api("PUT", "/v1/monitors/deep", content=deep,
                   headers={**api.admin, "content-type": "application/json"})  # type: ignore[attr-defined]  # fmt: skip
    assert 400 <= response.status_code < 500, response.text
    yaml_deep = "version: 1\nmonitors: " + "[" * 3000 + "]" * 3000
    assert 400 <= api("POST", "/v1/monitors/apply", content=yaml_deep).status_code < 500
    rules_deep = "version: 1\nreceivers: " + "[" * 3000 + "]" * 3000
    r = api("POST", "/v1/rules/apply", content=rules_deep, headers=api.admin)  # type: ignore[attr-defined]
    assert 400 <= r.status_code < 500, r.text
    mid: Any = {}
    for _ in range(400):
        mid = {"a": mid}
    r = api("PUT", "/v1/monitors/mid", json={"model": MODEL, "methods": mid})
    assert 400 <= r.status_code < 500, r.text
    assert count(api.engine, "monitors") == 1
    assert count(api.engine, "models") == 1
