"""Serious incidents, SLA breach explanations and the register's sign-off, over real HTTP:
each write's answer, its refusals (status, problem, and a log that did not grow), If-Match and
Idempotency-Key as every case write."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Clock
from tests.e2e.support import Api, assert_problem, created, open_case

WHY = "A beneficiary was harmed on a call and the police were involved the same evening."
ASSESSMENT = {
    "reportable": True,
    "regulator": "charity_commission",
    "grounds": ["harm_to_beneficiary", "police_involvement"],
    "rationale": WHY,
}
EXPLANATION = {
    "cause": "staffing",
    "explanation": "Two volunteers were off sick and the flag waited in the queue.",
    "action": "Coordinator adds a standby volunteer to weekend evening shifts.",
}


@pytest.fixture
def lead(api: Api) -> httpx.Client:
    return api.user("dana", "safeguarding_lead")


@pytest.fixture
def coordinator(api: Api) -> httpx.Client:
    return api.user("priya", "coordinator")


def assessments(case: dict[str, Any]) -> str:
    return f"/api/v1/cases/{case['id']}/serious-incident-assessments"


# --- serious incidents --------------------------------------------------------------------------


def test_a_lead_assesses_and_reports_a_serious_incident_on_a_closed_case(
    api: Api, lead: httpx.Client, clock: Clock
) -> None:
    case = open_case(lead)
    created(
        lead.post(
            f"/api/v1/cases/{case['id']}/closure",
            json={"outcome": "Member safe", "rationale": "Safety plan agreed; nothing open."},
        )
    )

    assessed = created(lead.post(assessments(case), json=ASSESSMENT))
    [event] = assessed["events"]
    assert event["type"] == "SeriousIncidentAssessed"
    assert event["rationale"] == WHY
    assessment_id = event["assessment_id"]
    [shown] = assessed["case"]["serious_incidents"]
    assert (shown["assessment_id"], shown["reportable"], shown["superseded"]) == (
        assessment_id,
        True,
        False,
    )
    assert "reference" not in shown  # a detail: the (logged) read shows it

    clock.advance(hours=2)
    reported = created(
        lead.post(
            f"{assessments(case)}/{assessment_id}/report",
            json={"reference": "CC-2026-0042", "occurred_at": "2026-11-17T10:45:00+00:00"},
        )
    )
    assert reported["events"][0]["type"] == "SeriousIncidentReported"
    assert reported["case"]["status"] == "closed"

    read = lead.get(f"/api/v1/cases/{case['id']}").json()["case"]
    [incident] = read["serious_incidents"]
    assert incident["reported_at"] == "2026-11-17T10:45:00Z"
    assert incident["reference"] == "CC-2026-0042"
    assert incident["grounds"] == ["harm_to_beneficiary", "police_involvement"]


def test_serious_incident_refusals_write_nothing(
    api: Api, lead: httpx.Client, coordinator: httpx.Client
) -> None:
    case = open_case(lead)
    with api.writes_nothing():
        assert_problem(coordinator.post(assessments(case), json=ASSESSMENT), 403, "not-permitted")
        assert_problem(
            lead.post(assessments(case), json={**ASSESSMENT, "grounds": []}),
            422,
            "invalid-input",
            errors=["grounds"],
        )
        unknown = f"{assessments(case)}/00000000-0000-4000-8000-000000000001/report"
        assert_problem(lead.post(unknown, json={}), 404, "item-not-found", errors=["assessment_id"])

    not_reportable = {**ASSESSMENT, "reportable": False, "grounds": ["below_threshold"]}
    no = created(lead.post(assessments(case), json=not_reportable))["events"][0]
    with api.writes_nothing():
        assert_problem(
            lead.post(f"{assessments(case)}/{no['assessment_id']}/report", json={}),
            409,
            "rule-violation",
        )

    yes = created(lead.post(assessments(case), json=ASSESSMENT))["events"][0]
    report = f"{assessments(case)}/{yes['assessment_id']}/report"
    created(lead.post(report, json={}))
    with api.writes_nothing():
        assert_problem(lead.post(report, json={}), 409, "rule-violation")


def test_an_assessment_honours_if_match_and_idempotency_key(api: Api, lead: httpx.Client) -> None:
    case = open_case(lead)
    with api.writes_nothing():
        stale = lead.post(assessments(case), json=ASSESSMENT, headers={"If-Match": '"7"'})
        assert stale.status_code == 412, stale.text

    key = {"Idempotency-Key": "assess-1"}
    first = created(lead.post(assessments(case), json=ASSESSMENT, headers=key))
    with api.writes_nothing():
        again = lead.post(assessments(case), json=ASSESSMENT, headers=key)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["events"] == first["events"]


# --- SLA breach explanations --------------------------------------------------------------------


def test_a_lead_explains_a_breached_clock_on_a_case(
    api: Api, lead: httpx.Client, coordinator: httpx.Client
) -> None:
    case = open_case(lead)
    flag = created(
        lead.post(
            f"/api/v1/cases/{case['id']}/flags",
            json={"reason": "Second report of the same post", "category": "self_harm_risk"},
        )
    )["events"][0]
    url = f"/api/v1/sla/breaches/first_action:{flag['event_id']}/explanations"

    with api.writes_nothing():
        assert_problem(
            coordinator.post(url, json={**EXPLANATION, "case_id": case["id"]}),
            403,
            "not-permitted",
        )
        assert_problem(lead.post(url, json=EXPLANATION), 422, "invalid-input")  # no record
        assert_problem(
            lead.post(
                "/api/v1/sla/breaches/first_action:not-a-uuid/explanations",
                json={**EXPLANATION, "case_id": case["id"]},
            ),
            422,
            "invalid-input",
            errors=["clock_id"],
        )
        unknown = f"/api/v1/sla/breaches/escalation_acknowledged:{flag['event_id']}/explanations"
        assert_problem(
            lead.post(unknown, json={**EXPLANATION, "case_id": case["id"]}),
            404,
            "item-not-found",
            errors=["clock_id"],
        )

    answer = created(lead.post(url, json={**EXPLANATION, "case_id": case["id"]}))
    [event] = answer["events"]
    assert (event["type"], event["clock"], event["item_id"], event["cause"]) == (
        "SlaBreachExplained",
        "first_action",
        flag["event_id"],
        "staffing",
    )
    assert event["explanation"] == EXPLANATION["explanation"]


def test_a_lead_explains_a_breached_follow_up_on_a_contact(
    api: Api, lead: httpx.Client, clock: Clock
) -> None:
    kit = api.user("kit", "volunteer")
    logged = kit.post(
        "/api/v1/contacts",
        json={
            "channel": "call",
            "direction": "inbound",
            "caller": {"anonymous": True},
            "category": "harassment",
            "summary": "Neighbour's harassment continuing; options explained.",
            "outcome": "information_given",
        },
    )
    assert logged.status_code == 201, logged.text
    contact = logged.json()["contact"]
    scheduled = lead.post(
        f"/api/v1/contacts/{contact['id']}/follow-ups",
        json={
            "kind": "call_back",
            "due_at": "2026-11-17T12:00:00+00:00",
            "assignee": "kit",
            "detail": "Call back to check the neighbour has stopped.",
        },
    )
    assert scheduled.status_code == 201, scheduled.text
    follow_up_id = scheduled.json()["events"][0]["follow_up_id"]
    clock.advance(days=1)

    url = f"/api/v1/sla/breaches/follow_up:{follow_up_id}/explanations"
    with api.writes_nothing():
        both = {**EXPLANATION, "contact_id": contact["id"], "case_id": contact["id"]}
        assert_problem(lead.post(url, json=both), 422, "invalid-input")
        wrong = f"/api/v1/sla/breaches/follow_up:{contact['id']}/explanations"
        assert_problem(
            lead.post(wrong, json={**EXPLANATION, "contact_id": contact["id"]}),
            404,
            "item-not-found",
        )

    answer = lead.post(url, json={**EXPLANATION, "contact_id": contact["id"]})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {"contact", "events", "position"}
    [event] = body["events"]
    assert (event["type"], event["item_id"]) == ("ContactSlaBreachExplained", follow_up_id)


# --- the register's sign-off --------------------------------------------------------------------


def test_a_trustee_signs_the_register_off_and_refusals_write_nothing(
    api: Api, lead: httpx.Client
) -> None:
    trustee = api.user("tess", "trustee")
    url = "/api/v1/reports/trustee/register-sign-offs"
    with api.writes_nothing():
        assert_problem(
            lead.post(url, json={"period_from": "2026-07-01", "period_to": "2026-09-30"}),
            403,
            "not-permitted",
        )
        for body, field in [
            ({"period_from": "2026-09-30", "period_to": "2026-07-01"}, "period_to"),
            ({"period_from": "2025-01-01", "period_to": "2026-01-01"}, "period_to"),
            ({"period_from": "2026-11-01", "period_to": "2026-11-30"}, "period_to"),
            (
                {
                    "period_from": "2026-07-01",
                    "period_to": "2026-09-30",
                    "as_of": "2026-12-25T00:00:00+00:00",
                },
                "as_of",
            ),
        ]:
            assert_problem(trustee.post(url, json=body), 422, "invalid-input", errors=[field])

    answer = trustee.post(
        url,
        json={
            "period_from": "2026-07-01",
            "period_to": "2026-09-30",
            "as_of": "2026-10-15T12:00:00+01:00",
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["sign_off"]["signed_off_by"] == "tess"
    assert body["sign_off"]["as_of"] == "2026-10-15T11:00:00Z"
    assert body["events"][0]["type"] == "SeriousIncidentRegisterSignedOff"

    listed = trustee.get(url)
    assert listed.status_code == 200
    assert [s["sign_off_id"] for s in listed.json()["sign_offs"]] == [
        body["sign_off"]["sign_off_id"]
    ]
    assert lead.get(url).status_code == 200  # leads read reports too


def test_a_sign_off_retried_with_its_key_is_answered_again_and_appends_nothing(api: Api) -> None:
    trustee = api.user("tess", "trustee")
    url = "/api/v1/reports/trustee/register-sign-offs"
    body = {"period_from": "2026-07-01", "period_to": "2026-09-30"}
    key = {"Idempotency-Key": "q3-sign-off"}
    first = trustee.post(url, json=body, headers=key)
    assert first.status_code == 201, first.text

    with api.writes_nothing():
        again = trustee.post(url, json=body, headers=key)
        other = trustee.post(url, json={**body, "period_from": "2026-08-01"}, headers=key)

    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert_problem(other, 422, "idempotency-key-reused")
    assert len(trustee.get(url).json()["sign_offs"]) == 1
