"""The contract documents every error an operation can answer, each as a Problem.

Read from the live server's /openapi.json, operation by operation, so a route added later
without its error answers fails here rather than in a client's generated code.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

from tests.e2e.support import Api, assert_problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def operations(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def is_problem(response: dict[str, Any]) -> bool:
    content = response.get("content", {})
    return list(content) == ["application/problem+json"] and (
        content["application/problem+json"].get("schema") == PROBLEM_REF
    )


def expected_errors(operation: dict[str, Any]) -> set[str]:
    """The statuses an operation can answer whatever its route does, from how it is called."""
    expected: set[str] = set()
    if operation.get("security"):
        expected |= {"401", "429"}  # no valid token; too many invalid ones from this address
        expected.add("503")  # the token is checked against the store: store-unavailable
    if operation.get("x-permission"):
        expected.add("403")
    if "requestBody" in operation:
        expected.add("413")  # over the size limit
    # A query parameter the operation does not take, a control character in the path; and a
    # body or parameter that is not what the operation takes.
    expected.add("422")
    parameters = {p["name"] for p in operation.get("parameters", [])}
    if "min_position" in parameters:
        expected.add("503")  # projection-lagging
    return expected


def test_every_operation_documents_its_errors_as_problems(api: Api) -> None:
    # Given the contract the running server publishes
    schema = api.client().get("/openapi.json").json()

    # When each operation's documented answers are compared with what it can answer
    missing: list[str] = []
    not_problems: list[str] = []
    for name, operation in operations(schema):
        responses = operation["responses"]
        missing += [
            f"{name}: {status}" for status in sorted(expected_errors(operation) - set(responses))
        ]
        not_problems += [
            f"{name}: {status} {response.get('content')}"
            for status, response in responses.items()
            if status[:1] in ("4", "5") and not is_problem(response)
        ]

    # Then none is missing, and every error is a Problem as application/problem+json
    assert not missing, "undocumented error answers:\n" + "\n".join(missing)
    assert not not_problems, "errors not documented as Problems:\n" + "\n".join(not_problems)


def test_the_contract_has_no_schema_for_errors_the_server_never_sends(api: Api) -> None:
    # Given the contract the running server publishes
    schema = api.client().get("/openapi.json").json()

    # Then FastAPI's own validation error shape is gone: every 422 is a Problem
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "ValidationError" not in schema["components"]["schemas"]
    assert "Problem" in schema["components"]["schemas"]


def test_the_documented_answers_say_which_problem_each_is(api: Api) -> None:
    # Given the contract the running server publishes
    paths = api.client().get("/openapi.json").json()["paths"]

    # Then the answers any authenticated or min_position read can meet name their problem type
    queues = paths["/api/v1/queues"]["get"]["responses"]
    assert "too-many-failed-attempts" in queues["429"]["description"]
    assert "projection-lagging" in queues["503"]["description"]
    timeline = paths["/api/v1/cases/{case_id}/timeline"]["get"]["responses"]
    assert "projection-lagging" in timeline["503"]["description"]
    # and a body a route cannot take is documented where it can be sent
    for path, method in (
        ("/api/v1/cases/{case_id}/break-glass", "post"),
        ("/api/v1/break-glass/{grant_id}/reviews", "post"),
        ("/api/v1/subjects/{ref}/erasure", "post"),
        ("/api/v1/subjects/{ref}/legal-hold", "post"),
        ("/api/v1/subjects/{ref}/legal-hold", "delete"),
    ):
        assert "body-too-large" in paths[path][method]["responses"]["413"]["description"]


def test_every_read_refuses_a_query_parameter_it_does_not_take(api: Api) -> None:
    # Given every GET operation the running server publishes
    lead = api.user("dana", "safeguarding_lead")
    paths = lead.get("/openapi.json").json()["paths"]
    reads = [path for path, item in paths.items() if "get" in item]
    assert {"/api/v1/cases", "/api/v1/queues", "/health"} <= set(reads)

    for path in reads:
        url = re.sub(r"\{[^}]+\}", str(uuid4()), path)
        # When it is asked with a parameter it does not take
        with api.writes_nothing():
            answer = lead.get(url, params={"opened_after": "2026-11-15T00:00:00Z"})

        # Then it refuses it by name rather than answer as if it were not there
        problem = assert_problem(answer, 422, "invalid-input", errors=["opened_after"])
        assert "unknown query parameter" in problem["errors"]["opened_after"], path
        # and an operation's own parameters are never refused as unknown
        documented = {p["name"] for p in paths[path]["get"].get("parameters", [])}
        for name in documented & {"limit", "min_position", "purpose"}:
            asked = lead.get(url, params={name: "x"})
            assert "unknown query parameter" not in asked.text, (path, name)
