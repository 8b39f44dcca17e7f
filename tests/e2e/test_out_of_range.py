"""Times and numbers out of Vigil's range are refused with 422 at the edge, never stored or
sent to the database (found by fuzzing the API with schemathesis).

The worst of them: `occurred_at` of 0001-01-01T00:00:00+14:00 is a valid RFC 3339 time whose
UTC instant is before year 1. It was stored, and every view then failed on it for good (the log
is immutable), so every list, queue and history answered 500 to everyone.
"""

from __future__ import annotations

import base64
import json
from uuid import uuid4

import httpx
import pytest

from domain.shared import MOMENT_RANGE
from tests.e2e.support import Api, assert_problem, created, open_case

BEFORE_YEAR_ONE_IN_UTC = "0001-01-01T00:00:00+14:00"
AFTER_YEAR_9999_IN_UTC = "9999-12-31T23:59:59-14:00"
TOO_EARLY = "1899-12-31T23:59:59+00:00"
BEYOND_BIGINT = 2**63


def cursor(*parts: object) -> str:
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.fixture
def lead(api: Api) -> httpx.Client:
    return api.user("dana", "safeguarding_lead")


@pytest.mark.parametrize("when", [BEFORE_YEAR_ONE_IN_UTC, TOO_EARLY])
def test_a_case_written_as_occurring_out_of_range_is_refused_and_the_views_keep_working(
    api: Api, lead: httpx.Client, when: str
) -> None:
    case = open_case(lead)
    with api.writes_nothing():
        problem = assert_problem(
            lead.post("/api/v1/cases", json={**_opening(), "occurred_at": when}),
            422,
            "invalid-input",
            errors=["occurred_at"],
        )
        assert MOMENT_RANGE in json.dumps(problem)
        assert_problem(
            lead.post(
                f"/api/v1/cases/{case['id']}/notes",
                json={"kind": "note", "text": "Called back.", "occurred_at": when},
            ),
            422,
            "invalid-input",
            errors=["occurred_at"],
        )
    # The views answer, and hold the case written in range.
    listed = lead.get("/api/v1/cases")  # the list catches its view up first
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["items"]] == [case["id"]]


@pytest.mark.parametrize("when", [BEFORE_YEAR_ONE_IN_UTC, AFTER_YEAR_9999_IN_UTC, TOO_EARLY])
def test_query_times_out_of_range_are_refused(api: Api, lead: httpx.Client, when: str) -> None:
    case = created(lead.post("/api/v1/cases", json=_opening()))["case"]
    auditor = api.user("audrey", "auditor")
    asked = [
        (auditor, "/api/v1/audit/access", {"from": when}, "from"),
        (auditor, "/api/v1/audit/access", {"to": when}, "to"),
        (lead, "/api/v1/actors/dana/activity", {"from": when}, "from"),
        (lead, "/api/v1/actors/dana/activity", {"to": when}, "to"),
        (lead, f"/api/v1/cases/{case['id']}", {"as_of": when}, "as_of"),
        (lead, f"/api/v1/cases/{case['id']}/timeline", {"as_of": when}, "as_of"),
        (lead, f"/api/v1/cases/{case['id']}/changes", {"from": when}, "from"),
        (lead, "/api/v1/queues", {"as_of": when}, "as_of"),
        (lead, "/api/v1/queues/high_risk_open", {"as_of": when}, "as_of"),
    ]
    for client, path, params, field in asked:
        answer = client.get(path, params=params)
        assert_problem(answer, 422, "invalid-input", errors=[field])


def test_cursors_out_of_range_are_invalid_cursors(api: Api, lead: httpx.Client) -> None:
    created(lead.post("/api/v1/cases", json=_opening()))
    auditor = api.user("audrey", "auditor")
    asked = [
        (lead, "/api/v1/cases", cursor(BEFORE_YEAR_ONE_IN_UTC, str(uuid4()))),
        (lead, "/api/v1/queues/out_of_hours_reviews", cursor(BEFORE_YEAR_ONE_IN_UTC, str(uuid4()))),
        (lead, "/api/v1/actors/dana/activity", cursor("actor:dana", BEYOND_BIGINT)),
        (auditor, "/api/v1/audit/access", cursor("access", BEYOND_BIGINT)),
        (auditor, "/api/v1/audit/checkpoints", str(BEYOND_BIGINT)),
        (auditor, "/api/v1/audit/checkpoints", "99999999999999999999"),
        (auditor, "/api/v1/audit/checkpoints", "\u00b2"),  # a digit to str.isdigit, not to int
    ]
    for client, path, given in asked:
        answer = client.get(path, params={"cursor": given})
        assert answer.status_code == 422, (path, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        problem = answer.json()
        assert "cursor" in problem["errors"], problem
        assert "invalid literal" not in problem["detail"], problem


def test_positions_beyond_a_bigint_are_refused(api: Api, lead: httpx.Client) -> None:
    case = created(lead.post("/api/v1/cases", json=_opening()))["case"]
    for path in ("/api/v1/cases", f"/api/v1/cases/{case['id']}"):
        assert_problem(
            lead.get(path, params={"min_position": BEYOND_BIGINT}),
            422,
            "invalid-input",
            errors=["min_position"],
        )


def _opening() -> dict[str, object]:
    return {
        "subject": {"kind": "member", "ref": "member-555"},
        "source": "staff_concern",
        "category": "spam",
        "summary": "Repeated link spam in the garden forum.",
    }


# What pydantic alone would take as a Unix time: 0.5 is 1970-01-01T00:00:00.5Z.
BARE_NUMBERS = ("0.5", "0", "1763372400", "-1")


def test_a_bare_number_is_not_a_moment(api: Api, lead: httpx.Client) -> None:
    # Given a case, and every place a client gives Vigil a date-time
    case = created(lead.post("/api/v1/cases", json=_opening()))["case"]
    auditor = api.user("audrey", "auditor")
    admin = api.user("ada", "admin")
    asked = [
        (auditor, "/api/v1/audit/access", "from"),
        (auditor, "/api/v1/audit/access", "to"),
        (lead, "/api/v1/actors/dana/activity", "from"),
        (lead, "/api/v1/actors/dana/activity", "to"),
        (lead, f"/api/v1/cases/{case['id']}", "as_of"),
        (lead, f"/api/v1/cases/{case['id']}/timeline", "as_of"),
        (lead, f"/api/v1/cases/{case['id']}/changes", "from"),
        (lead, "/api/v1/queues", "as_of"),
        (lead, "/api/v1/queues/high_risk_open", "as_of"),
        (lead, "/api/v1/cases", "opened_from"),
    ]

    # When one is a bare number, then it is refused (not read as a moment in 1970)
    for client, path, field in asked:
        for number in BARE_NUMBERS:
            with api.writes_nothing():  # not even an access-log entry for a case read
                answer = client.get(path, params={field: number})
            problem = assert_problem(answer, 422, "invalid-input", errors=[field])
            assert "RFC 3339" in problem["errors"][field], (path, field)
    # and in a body, as a JSON number or a string of digits, nothing is written
    for number in (0.5, 0, "1763372400"):
        with api.writes_nothing():
            assert_problem(
                lead.post(
                    f"/api/v1/cases/{case['id']}/notes",
                    json={"kind": "note", "text": "Called back.", "occurred_at": number},
                ),
                422,
                "invalid-input",
                errors=["occurred_at"],
            )
            assert_problem(
                lead.post("/api/v1/cases", json={**_opening(), "occurred_at": number}),
                422,
                "invalid-input",
                errors=["occurred_at"],
            )
            assert_problem(
                admin.post("/api/v1/users/dana/tokens", json={"expires_at": number}),
                422,
                "invalid-input",
                errors=["expires_at"],
            )


def test_a_position_no_write_was_given_is_refused_at_once(api: Api, lead: httpx.Client) -> None:
    # Given a case written at some position of the log
    written = created(lead.post("/api/v1/cases", json=_opening()))
    case, head = written["case"], written["position"]

    # When a read asks to wait for a position beyond the log's head (but within a BIGINT)
    for path in ("/api/v1/cases", f"/api/v1/cases/{case['id']}", "/api/v1/queues"):
        with api.writes_nothing():
            beyond = lead.get(path, params={"min_position": head + 1_000_000})

        # Then it is refused as input no write ever produced (not held for the whole wait, then
        # 503 as if the views were lagging), naming the parameter and the head
        problem = assert_problem(beyond, 422, "invalid-input", errors=["min_position"])
        assert str(head) in problem["errors"]["min_position"]
    # while the write's own position is read as before
    read = lead.get(f"/api/v1/cases/{case['id']}", params={"min_position": head})
    assert read.status_code == 200, read.text
