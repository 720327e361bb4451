"""The OpenAPI document is complete: every /v1 operation says what it does, what it
answers (a response schema), every error it can answer (401, 403, 404, 422 as RFC 9457
problem documents), and shows an example of the body it takes.

Read from the app's routes and its generated document, so a router added later is held
to the same standard without editing this file.
"""

from __future__ import annotations

from typing import Any

import pytest

from monitor.api.app import ERROR_RESPONSES, PROBLEM_JSON, create_app
from monitor.config import load_settings

APP = create_app(load_settings())
SCHEMA: dict[str, Any] = APP.openapi()
OPERATIONS = [
    (method.upper(), path, op)
    for path, item in SCHEMA["paths"].items()
    for method, op in item.items()
    if path.startswith("/v1/")
]


def ids(operations: list[tuple[str, str, Any]]) -> list[str]:
    return [f"{m} {p}" for m, p, _ in operations]


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    resolved: dict[str, Any] = SCHEMA
    for part in ref.removeprefix("#/").split("/"):
        resolved = resolved[part]
    return resolved


def test_the_api_has_operations_to_check() -> None:
    assert {("POST", "/v1/events"), ("GET", "/v1/alerts")} <= {(m, p) for m, p, _ in OPERATIONS}


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=ids(OPERATIONS))
def test_operation_is_described(method: str, path: str, op: dict[str, Any]) -> None:
    # FastAPI fills `summary` from the function's name ("Get Silences" for
    # get_silences, whose operationId is get_silences_v1_silences_get): only a summary
    # given on the route, or a docstring (the description), says something.
    summary = op.get("summary", "")
    generated = op["operationId"].startswith(summary.lower().replace(" ", "_") + "_")
    assert (summary and not generated) or op.get("description", "").strip(), (
        f"{method} {path}: give the route a summary= or a docstring"
    )
    assert op.get("tags"), f"{method} {path}: no tag (the router's resource)"


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=ids(OPERATIONS))
def test_operation_has_a_response_model(method: str, path: str, op: dict[str, Any]) -> None:
    ok = {status: r for status, r in op["responses"].items() if status.startswith("2")}
    assert ok, f"{method} {path}: no 2xx response documented"
    for status, response in ok.items():
        content = response.get("content", {})
        assert content, f"{method} {path} {status}: no response body documented"
        for media_type, body in content.items():
            assert body.get("schema"), f"{method} {path} {status} {media_type}: no schema"


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=ids(OPERATIONS))
def test_errors_are_documented_as_problems(method: str, path: str, op: dict[str, Any]) -> None:
    responses = op["responses"]
    assert set(ERROR_RESPONSES) <= set(responses), f"{method} {path}: {sorted(responses)}"
    for status, response in responses.items():
        if status[0] in "45":
            assert response.get("description"), f"{method} {path} {status}: no description"
            assert list(response["content"]) == [PROBLEM_JSON], f"{method} {path} {status}"
            schema = response["content"][PROBLEM_JSON]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, f"{method} {path}"


BODIES = [(m, p, op) for m, p, op in OPERATIONS if "requestBody" in op]


@pytest.mark.parametrize(("method", "path", "op"), BODIES, ids=ids(BODIES))
def test_request_body_has_an_example(method: str, path: str, op: dict[str, Any]) -> None:
    for media_type, body in op["requestBody"]["content"].items():
        schema = resolve(body.get("schema", {}))
        # A whole request: on the media type (openapi_examples=) or on the body's model
        # (model_config json_schema_extra / Field(examples=) on a Body). A form upload
        # has no JSON to show: each required part is described or has examples instead.
        examples = body.get("examples") or body.get("example") or schema.get("examples")
        if media_type.startswith("multipart/"):
            parts = schema.get("properties", {})
            examples = examples or all(
                parts[name].get("description") or parts[name].get("examples")
                for name in schema.get("required", [])
            )
        assert examples, f"{method} {path} ({media_type}): no request example"


def test_problem_schema_matches_what_the_handlers_send() -> None:
    problem = SCHEMA["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"title", "status", "detail"}
    assert set(problem["properties"]) == {"type", "title", "status", "detail"}
    # FastAPI's default 422 body (HTTPValidationError) is never sent: not documented.
    assert "HTTPValidationError" not in SCHEMA["components"]["schemas"]


def test_probes_are_documented_but_need_no_key() -> None:
    assert set(SCHEMA["paths"]["/readyz"]["get"]["responses"]) == {"200", "503"}
    assert "401" not in SCHEMA["paths"]["/healthz"]["get"]["responses"]


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=ids(OPERATIONS))
def test_operation_states_the_key_and_scope_it_needs(
    method: str, path: str, op: dict[str, Any]
) -> None:
    assert op["security"] == [{"apiKey": []}], f"{method} {path}"
    floor = "read" if method == "GET" else "write"
    assert op["x-scope"] in {floor, "admin"}, f"{method} {path}: {op['x-scope']}"


def test_admin_routes_are_found_from_their_dependency() -> None:
    scopes = {(m, p): op["x-scope"] for m, p, op in OPERATIONS}
    assert scopes["POST", "/v1/rules/apply"] == "admin"
    assert scopes["POST", "/v1/events"] == "write"
    assert scopes["GET", "/v1/alerts"] == "read"
