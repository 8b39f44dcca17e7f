"""``GET /api/v1/cases/{id}/changes``: what changed between two moments, over real HTTP, on
SQLite and PostgreSQL.

Monday 16 November 2026, 22:47: a member flags a post. The on-call lead decides at 23:10;
nothing is logged until Tuesday 09:30, when the case is opened (back-dated) and the night's
decision logged. It is reviewed at 10:00, assigned at 11:00 and closed at 14:00.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Clock
from tests.e2e.support import (
    OUT_OF_HOURS_POLICY,
    RFC3339,
    SELF_HARM_POST,
    Api,
    assert_problem,
    at,
    created,
)

FLAGGED = "2026-11-16T22:47:00+00:00"
NIGHT_DECISION = "2026-11-16T23:10:00+00:00"


class Night:
    def __init__(self, api: Api, clock: Clock) -> None:
        self.auditor = api.user("audrey", "auditor")
        on_call = api.user("dana", "safeguarding_lead")
        lead = api.user("lee", "safeguarding_lead")
        clock.set(at("2026-11-17T09:30:00+00:00"))
        opened = created(
            on_call.post("/api/v1/cases", json={**SELF_HARM_POST, "occurred_at": FLAGGED})
        )
        self.case_id: str = opened["case"]["id"]
        decision = created(
            on_call.post(
                f"/api/v1/cases/{self.case_id}/out-of-hours-decisions",
                json={
                    "decision": "Sent crisis line details by private message; did not call 999.",
                    "rationale": "Member replied saying they were safe with their partner; "
                    "risk judged reduced enough to wait for the morning team.",
                    "policy_ref": OUT_OF_HOURS_POLICY,
                    "occurred_at": NIGHT_DECISION,
                },
            )
        )
        self.decision_id: str = decision["events"][0]["decision_id"]
        clock.set(at("2026-11-17T10:00:00+00:00"))
        created(
            lead.post(
                f"/api/v1/cases/{self.case_id}/out-of-hours-decisions/{self.decision_id}/reviews",
                json={
                    "outcome": "ratified",
                    "rationale": "Proportionate: the member was with a trusted adult.",
                },
            )
        )
        clock.set(at("2026-11-17T11:00:00+00:00"))
        created(lead.post(f"/api/v1/cases/{self.case_id}/assignments", json={"assignee": "lee"}))
        clock.set(at("2026-11-17T14:00:00+00:00"))
        created(
            lead.post(
                f"/api/v1/cases/{self.case_id}/closure",
                json={
                    "outcome": "Member supported by the crisis team",
                    "rationale": "Member engaged with the crisis team; no further risk reported.",
                },
            )
        )
        clock.set(at("2026-11-17T16:00:00+00:00"))

    def changes(self, start: str, end: str | None = None, basis: str | None = None) -> Any:
        params = {"from": start}
        if end is not None:
            params["to"] = end
        if basis is not None:
            params["basis"] = basis
        return self.auditor.get(f"/api/v1/cases/{self.case_id}/changes", params=params)


@pytest.fixture
def night(api: Api, clock: Clock) -> Night:
    return Night(api, clock)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["etag"] == f'"{body["after"]["version"]}"'
    return body


def types(body: dict[str, Any]) -> list[str]:
    return [event["type"] for event in body["events"]]


def test_a_late_logged_decision_is_where_it_happened_on_the_occurred_basis(night: Night) -> None:
    body = ok(night.changes("2026-11-16T23:00:00+00:00", "2026-11-17T08:00:00+00:00", "occurred"))

    assert body["case_id"] == night.case_id
    assert body["basis"] == "occurred"
    assert at(body["from"]) == at("2026-11-16T23:00:00+00:00")
    assert at(body["to"]) == at("2026-11-17T08:00:00+00:00")
    assert types(body) == ["OutOfHoursDecisionRecorded"]
    event = body["events"][0]
    assert at(event["occurred_at"]) == at(NIGHT_DECISION)
    assert at(event["recorded_at"]) == at("2026-11-17T09:30:00+00:00")
    assert RFC3339.match(event["recorded_at"])
    assert body["before"]["version"] == 1
    assert body["before"]["pending_reviews"] == []
    assert body["after"]["pending_reviews"] == [night.decision_id]
    summary = body["summary"]
    assert summary["before"]["pending_reviews"] == []
    assert summary["after"] == {
        "version": 2,
        "status": "open",
        "risk_level": "high",
        "assignee": None,
        "pending_reviews": [night.decision_id],
        "unacknowledged_escalations": [],
        "referrals_awaiting_acknowledgement": [],
    }
    assert summary["changed"] == ["version", "pending_reviews"]
    # Personal data is read like GET /cases/{id} (same permission); storage fields are not.
    assert not {"writes", "idempotency_key"} & body["after"].keys()


def test_a_late_logged_decision_is_where_it_was_written_on_the_recorded_basis(
    night: Night,
) -> None:
    # Nothing had been recorded by Tuesday 08:00: the case did not exist yet, as far as we knew.
    assert_problem(
        night.changes("2026-11-16T23:00:00+00:00", "2026-11-17T08:00:00+00:00"),
        404,
        "case-not-found",
    )
    body = ok(night.changes("2026-11-17T09:00:00+00:00", "2026-11-17T10:30:00+00:00", "recorded"))
    assert types(body) == [
        "CaseOpened",
        "OutOfHoursDecisionRecorded",
        "OutOfHoursDecisionReviewed",
    ]
    assert body["before"] is None
    assert body["summary"]["before"] is None
    assert body["summary"]["changed"] == list(body["summary"]["after"])
    assert body["after"]["out_of_hours_decisions"][0]["status"] == "ratified"
    # The same morning on the occurred basis saw only the review.
    occurred = ok(
        night.changes("2026-11-17T09:00:00+00:00", "2026-11-17T10:30:00+00:00", "occurred")
    )
    assert types(occurred) == ["OutOfHoursDecisionReviewed"]
    assert occurred["summary"]["changed"] == ["version", "pending_reviews"]


def test_a_case_closed_after_the_window_reads_open_at_its_end(night: Night) -> None:
    for basis in ("recorded", "occurred"):
        noon = ok(night.changes("2026-11-17T10:30:00+00:00", "2026-11-17T12:00:00+00:00", basis))
        assert types(noon) == ["CaseAssigned"]
        assert noon["after"]["status"] == "open"
        assert noon["after"]["closed_at"] is None
        assert noon["summary"]["changed"] == ["version", "assignee"]

        afternoon = ok(
            night.changes("2026-11-17T12:00:00+00:00", "2026-11-17T15:00:00+00:00", basis)
        )
        assert types(afternoon) == ["CaseClosed"]
        assert afternoon["before"]["status"] == "open"
        assert afternoon["after"]["status"] == "closed"
        assert afternoon["summary"]["changed"] == ["version", "status"]


def test_to_defaults_to_now(night: Night) -> None:
    body = ok(night.changes("2026-11-17T12:00:00+00:00"))
    assert at(body["to"]) == at("2026-11-17T16:00:00+00:00")
    assert types(body) == ["CaseClosed"]


def test_from_later_than_to_is_refused(night: Night) -> None:
    problem = assert_problem(
        night.changes("2026-11-17T12:00:00+00:00", "2026-11-17T11:00:00+00:00"),
        422,
        "invalid-input",
        errors=["from", "to"],
    )
    assert "from" in problem["detail"]
    # An empty window is fine.
    empty = ok(night.changes("2026-11-17T12:00:00+00:00", "2026-11-17T12:00:00+00:00"))
    assert empty["events"] == []
    assert empty["summary"]["changed"] == []


def test_moments_must_be_rfc3339_with_an_offset(night: Night) -> None:
    assert_problem(night.changes("2026-11-17T12:00:00"), 422, "invalid-input", errors=["from"])
    assert_problem(
        night.changes("2026-11-17T09:00:00Z", "yesterday"), 422, "invalid-input", errors=["to"]
    )
    missing = night.auditor.get(f"/api/v1/cases/{night.case_id}/changes")
    assert_problem(missing, 422, "invalid-input", errors=["from"])
    assert_problem(
        night.changes("2026-11-17T09:00:00Z", basis="sometime"),
        422,
        "invalid-input",
        errors=["basis"],
    )


def test_an_unknown_case_is_not_found_and_a_token_is_required(api: Api, night: Night) -> None:
    unknown = night.auditor.get(
        "/api/v1/cases/00000000-0000-4000-8000-000000000000/changes",
        params={"from": "2026-11-17T09:00:00+00:00"},
    )
    assert_problem(unknown, 404, "case-not-found")
    anonymous = api.client().get(
        f"/api/v1/cases/{night.case_id}/changes", params={"from": "2026-11-17T09:00:00+00:00"}
    )
    assert anonymous.status_code == 401


def test_the_route_is_documented(api: Api) -> None:
    schema = api.client().get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/cases/{case_id}/changes"]["get"]
    assert operation["summary"]
    assert "case.read" in operation["x-permission"]
    assert {p["name"] for p in operation["parameters"]} >= {"case_id", "from", "to", "basis"}
    assert {"200", "401", "403", "404", "422"} <= operation["responses"].keys()
    answer = schema["components"]["schemas"]["ChangesAnswer"]
    assert {"from", "to", "basis", "before", "after", "summary", "events"} <= answer[
        "properties"
    ].keys()
