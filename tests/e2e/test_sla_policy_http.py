"""The SLA policy over real HTTP, on SQLite and PostgreSQL.

Every member of staff reads the targets their work is due by; a safeguarding lead or an admin
gives the policy a new version, which takes effect now or later. Version 1 (the settings'
targets) is read from the settings until first needed, then recorded once by Vigil. Every
refusal is a problem naming the field at fault, and writes nothing. A new flag waits in the
flags_awaiting_action queue for the first-action target of its case's risk.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from domain.policy.state import SLA_POLICY_ID
from tests.conftest import Clock
from tests.e2e.support import PROBLEM_BASE, Api, assert_problem, at, open_case

PATH = "/api/v1/policies/sla"
TARGETS: dict[str, Any] = {
    "first_action": {
        "critical": {"minutes": 30},
        "high": {"minutes": 120},
        "medium": {"minutes": 1440},
        "low": {"minutes": 4320},
    },
    "escalation_acknowledged": {
        "immediate": {"minutes": 15},
        "urgent": {"minutes": 240},
        "routine": {"working_days": 1},
    },
    "out_of_hours_review": {"working_days": 1},
    "referral_acknowledged": {"working_days": 1},
    "referral_chase": {"working_days": 5},
    "approval_decided": {"working_days": 1},
    "contact_reviewed": {"working_days": 5},
    "new_member_welcomed": {"minutes": 1440},
}
SHORTER: dict[str, Any] = {
    **TARGETS,
    "effective_from": "2026-12-01T00:00:00Z",
    "rationale": "The board agreed faster first responses to critical concerns.",
}


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def versioned(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    assert response.headers["location"] == PATH
    body: dict[str, Any] = response.json()
    return body


def body_with(**fields: Any) -> dict[str, Any]:
    return {**SHORTER, **fields}


def test_every_role_reads_the_default_until_a_lead_versions_it(api: Api, clock: Clock) -> None:
    lee = api.user("lee", "safeguarding_lead")
    roles = ("volunteer", "moderator", "coordinator", "auditor", "admin")
    readers = [api.user(f"reader.{role}", role) for role in roles]

    # Given a fresh store, every role reads version 1 (the settings'), and reading writes nothing
    with api.writes_nothing():
        answers = [ok(client.get(PATH)) for client in readers]
    default = answers[0]
    assert all(answer == default for answer in answers)
    assert default["recorded"] is False
    assert at(default["evaluated_at"]) == clock()
    assert [v["version"] for v in default["versions"]] == [1]
    first = default["in_force"]
    assert at(first["effective_from"]) == datetime(1900, 1, 1, tzinfo=UTC)
    assert first["targets"]["first_action"]["critical"] == {"minutes": 60, "working_days": None}
    assert first["described"]["first_action"] == {
        "low": "72 h",
        "medium": "24 h",
        "high": "4 h",
        "critical": "1 h",
    }
    assert first["described"]["escalation_acknowledged"]["immediate"] == "30 min"
    assert first["described"]["referral_chase"] == "5 working days"
    assert first["described"]["out_of_hours_review"] == "1 working day"

    # When a lead gives it a version from the first of December (now is 17 November)
    body = versioned(lee.post(PATH, json=SHORTER))

    # Then Vigil recorded version 1 first, then the lead's version 2, not yet in force
    [event] = body["events"]
    assert (event["type"], event["stream_version"], event["actor"]) == (
        "SlaPolicyVersioned",
        2,
        "lee",
    )
    assert event["policy"]["described"]["first_action"]["critical"] == "30 min"
    policy = body["policy"]
    assert policy["recorded"] is True
    assert [v["version"] for v in policy["versions"]] == [1, 2]
    assert policy["in_force"]["version"] == 1
    assert policy["versions"][1]["rationale"] == SHORTER["rationale"]
    recorded = list(api.vigil.event_log.events_of(SLA_POLICY_ID))
    assert [(e.originator_version, e.actor) for e in recorded] == [(1, "vigil"), (2, "lee")]

    # And the version in force before the first of December is still 1; from then on, 2
    def in_force_at(moment: str) -> int:
        found: int = ok(lee.get(PATH, params={"at": moment}))["in_force"]["version"]
        return found

    assert in_force_at("2026-11-30T23:59:59.999999Z") == 1
    assert in_force_at("2026-12-01T00:00:00Z") == 2
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    assert ok(readers[0].get(PATH))["in_force"]["version"] == 2


def test_refusals_are_problems_that_write_nothing(api: Api) -> None:
    lee = api.user("lee", "safeguarding_lead")
    others = {role: api.user(f"not.{role}", role) for role in ("volunteer", "coordinator")}

    def refused(
        client: httpx.Client, body: dict[str, Any], status: int, slug: str, fields: list[str]
    ) -> dict[str, Any]:
        with api.writes_nothing():
            answer = client.post(PATH, json=body)
        return assert_problem(answer, status, slug, errors=fields)

    # Only a safeguarding lead or an admin versions the policy; no token is 401
    for client in others.values():
        problem = refused(client, SHORTER, 403, "not-permitted", [])
        assert "policy.manage" in problem["detail"]
    with api.writes_nothing():
        anonymous = api.client().post(PATH, json=SHORTER)
    assert anonymous.status_code == 401
    assert anonymous.json()["type"] == PROBLEM_BASE + "not-authenticated"

    # Bodies it cannot take: 422, the field named, nothing written (not even version 1)
    without = {k: v for k, v in SHORTER.items() if k != "referral_chase"}
    missing_level = {**SHORTER["first_action"]}
    del missing_level["low"]
    unreadable: list[tuple[dict[str, Any], str]] = [
        (without, "referral_chase"),
        (body_with(first_action=missing_level), "first_action"),
        (body_with(referral_chase={"minutes": 30, "working_days": 1}), "referral_chase"),
        (body_with(referral_chase={}), "referral_chase"),
        (body_with(referral_chase={"working_days": 0}), "referral_chase.working_days"),
        (body_with(approval_decided={"minutes": -5}), "approval_decided.minutes"),
        (
            body_with(first_action={**SHORTER["first_action"], "severe": {"minutes": 5}}),
            "first_action.severe.[key]",
        ),
        (body_with(rationale="n/a"), "rationale"),
        ({k: v for k, v in SHORTER.items() if k != "rationale"}, "rationale"),
        (body_with(effective_from="2026-12-01T00:00:00"), "effective_from"),
    ]
    for body, field in unreadable:
        refused(lee, body, 422, "invalid-input", [field])
    # In the past: 422 naming effective_from, whether version 1 is recorded yet or not
    past = body_with(effective_from="2026-11-17T09:00:00Z")
    problem = refused(lee, past, 422, "sla-policy-version-in-past", ["effective_from"])
    assert "never in the past" in problem["detail"]
    assert api.vigil.sla_policies.is_recorded() is False
    versioned(lee.post(PATH, json=SHORTER))
    refused(lee, past, 422, "sla-policy-version-in-past", ["effective_from"])
    # At the moment another version takes effect: 409
    refused(lee, SHORTER, 409, "sla-policy-version-clash", ["effective_from"])


def test_a_retried_version_answers_as_the_first_time_and_writes_nothing(api: Api) -> None:
    admin = api.user("ada", "admin")
    headers = {"Idempotency-Key": "sla-2026-12"}
    first = admin.post(PATH, json=SHORTER, headers=headers)
    versioned(first)
    with api.writes_nothing():
        again = admin.post(PATH, json=SHORTER, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    with api.writes_nothing():
        reused = admin.post(
            PATH, json=body_with(effective_from="2027-01-04T00:00:00Z"), headers=headers
        )
    assert_problem(reused, 422, "idempotency-key-reused")


def test_a_new_flag_waits_for_its_first_action_by_its_risk(api: Api, clock: Clock) -> None:
    casey = api.user("casey", "coordinator")
    # A case opened from a flag, unassessed (counts as medium: 24 h), and one critical (1 h)
    medium = open_case(casey, risk_level=None)
    critical = open_case(casey, risk_level="critical")
    page = ok(casey.get("/api/v1/queues/flags_awaiting_action"))
    due = {item["case_id"]: at(item["due_at"]) for item in page["items"]}
    assert due == {
        medium["id"]: clock() + timedelta(hours=24),
        critical["id"]: clock() + timedelta(hours=1),
    }
    assert {item["kind"] for item in page["items"]} == {"flag"}
    counts = {q["name"]: q["total"] for q in ok(casey.get("/api/v1/queues"))["items"]}
    assert counts["flags_awaiting_action"] == 2

    # An action on the critical case takes its flag out of the queue
    answer = casey.post(
        f"/api/v1/cases/{critical['id']}/risk-assessments",
        json={"level": "critical", "rationale": "Stated intent and means: crisis plan now."},
    )
    assert answer.status_code == 201, answer.text
    page = ok(casey.get("/api/v1/queues/flags_awaiting_action"))
    assert [item["case_id"] for item in page["items"]] == [medium["id"]]
