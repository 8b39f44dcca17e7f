"""The API's surface: health, docs, auth, headers, and problem details for what is not there."""

from __future__ import annotations

from uuid import uuid4

import httpx
import structlog

from interfaces.composition import Vigil
from interfaces.http import create_app
from tests.e2e.conftest import LiveServer
from tests.e2e.support import RFC3339, Api, assert_problem, open_case


def test_health_and_the_contract_are_public(api: Api) -> None:
    anonymous = api.client()

    health = anonymous.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}

    openapi = anonymous.get("/openapi.json")
    assert openapi.status_code == 200
    schema = openapi.json()
    review = schema["paths"]["/api/v1/cases/{case_id}/out-of-hours-decisions/{decision_id}/reviews"]
    assert review["post"]["x-allowed-roles"] == ["safeguarding_lead"]
    assert "application/problem+json" in review["post"]["responses"]["409"]["content"]
    assert anonymous.get("/docs").status_code == 200


def test_every_answer_carries_a_request_id_and_is_never_cached(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")

    answer = volunteer.post("/api/v1/cases", json={}, headers={"X-Request-ID": "shift-log-42"})

    assert answer.headers["x-request-id"] == "shift-log-42"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
    generated = volunteer.get("/health").headers["x-request-id"]
    assert generated
    assert generated != "shift-log-42"


def test_without_a_valid_token_nothing_is_read_or_written(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")
    case = open_case(volunteer)

    basic = api.client()
    basic.headers["Authorization"] = "Basic YW1hcmE6cGFzc3dvcmQ="
    for client in (api.client(), api.client("vgl_not-a-real-token"), basic):
        with api.writes_nothing():
            refused = client.post(
                f"/api/v1/cases/{case['id']}/notes", json={"kind": "note", "text": "hello"}
            )
        assert_problem(refused, 401, "not-authenticated")
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert_problem(client.get(f"/api/v1/cases/{case['id']}"), 401, "not-authenticated")


def test_unknown_routes_and_methods_are_problems_too(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")

    assert_problem(volunteer.get("/api/v1/nowhere"), 404, "not-found")
    wrong_method = volunteer.delete(f"/api/v1/cases/{uuid4()}")
    assert_problem(wrong_method, 405, "method-not-allowed")
    assert "GET" in wrong_method.headers["allow"]


def test_a_malformed_case_id_in_the_url_is_invalid_input(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")

    assert_problem(
        volunteer.get("/api/v1/cases/not-a-uuid"), 422, "invalid-input", errors=["case_id"]
    )


def test_timestamps_in_answers_carry_an_offset(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")
    case = open_case(volunteer, occurred_at="2026-11-17T09:05:00+00:00")

    timeline = volunteer.get(f"/api/v1/cases/{case['id']}/timeline").json()

    for field in ("occurred_at", "recorded_at"):
        assert RFC3339.match(timeline["events"][0][field])
    assert RFC3339.match(case["opened_at"])


def test_an_unexpected_failure_is_a_500_problem_that_leaks_nothing(vigil: Vigil) -> None:
    app = create_app(vigil)

    def broken() -> None:
        raise RuntimeError("secret-internal-detail at /srv/vigil/db.py line 12")

    app.add_api_route("/api/v1/broken", broken, methods=["GET"])
    server = LiveServer(app)
    server.start()
    try:
        with httpx.Client(base_url=server.base_url) as client:
            answer = client.get("/api/v1/broken", headers={"X-Request-ID": "req-500"})
    finally:
        server.stop()

    problem = assert_problem(answer, 500, "internal-error")
    assert "req-500" in problem["detail"]
    assert "secret-internal-detail" not in answer.text
    assert answer.headers["x-request-id"] == "req-500"


def test_the_access_log_names_who_and_which_case_but_no_body_or_token(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")
    token = volunteer.headers["authorization"].removeprefix("Bearer ")

    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        case = open_case(volunteer)
        volunteer.post(f"/api/v1/cases/{case['id']}/notes", json={"kind": "fact", "text": "Sam"})

    access = [line for line in logs if line["event"] == "request"]
    assert [line["status"] for line in access] == [201, 201]
    for line in access:
        assert line["actor"] == "amara"
        assert line["case_id"] == case["id"]
        assert line["request_id"]
        assert line["method"] == "POST"
        assert isinstance(line["duration_ms"], float)
    logged = repr(logs)
    assert token not in logged
    assert "Sam" not in logged
    assert "insulin" not in logged


def test_a_wrong_method_is_told_every_method_of_the_path(api: Api) -> None:
    # Given paths served by more than one operation
    lead = api.user("dana", "safeguarding_lead")

    for method, path, allowed in (
        ("DELETE", "/api/v1/cases", {"GET", "POST"}),
        ("PUT", "/api/v1/subjects/member-1/legal-hold", {"POST", "DELETE"}),
        ("PATCH", "/api/v1/users/dana/tokens", {"POST"}),
    ):
        # When one is asked with a method none of them takes
        with api.writes_nothing():
            answer = lead.request(method, path)

        # Then the 405 lists every method the path answers, not only the first route's
        problem = assert_problem(answer, 405, "method-not-allowed")
        assert set(answer.headers["allow"].split(", ")) == allowed, (path, answer.headers)
        assert all(m in problem["detail"] for m in allowed)


def test_a_path_parameter_with_a_control_character_is_invalid_input(api: Api) -> None:
    # Given the operations that take a free-form ref or a username in their path
    lead = api.user("dana", "safeguarding_lead")
    admin = api.user("ada", "admin")
    schema = api.client().get("/openapi.json").json()["paths"]
    asked = [
        (lead, "GET", "/api/v1/subjects/{}/cases", "/api/v1/subjects/{ref}/cases", "ref"),
        (lead, "GET", "/api/v1/subjects/{}/sar-export?kind=member", None, "ref"),
        (lead, "POST", "/api/v1/subjects/{}/legal-hold", None, "ref"),
        (
            lead,
            "GET",
            "/api/v1/actors/{}/activity",
            "/api/v1/actors/{username}/activity",
            "username",
        ),
        (admin, "GET", "/api/v1/users/{}", "/api/v1/users/{username}", "username"),
        (admin, "POST", "/api/v1/users/{}/tokens", None, "username"),
    ]

    for client, method, template, documented_at, name in asked:
        for character in ("%00", "%0A", "%1B", "%E2%80%AE"):  # NUL, LF, ESC, RIGHT-TO-LEFT OVERRIDE
            # When the parameter holds a control or bidi-override character
            with api.writes_nothing():
                answer = client.request(method, template.format(f"member{character}1"), json={})

            # Then it is the documented 422 naming the parameter, on every route alike (never
            # an undocumented 404 because a line break stopped the route from matching)
            problem = assert_problem(answer, 422, "invalid-input", errors=[name])
            assert "U+" in problem["errors"][name]
        if documented_at is not None:
            assert "422" in schema[documented_at]["get"]["responses"]
    # A query value holding one is refused the same way, by its name
    refused = lead.get("/api/v1/cases", params={"subject_ref": "member\x001"})
    assert_problem(refused, 422, "invalid-input", errors=["subject_ref"])
