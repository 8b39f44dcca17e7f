"""No single person gains case access or acts as another, over real HTTP (issue 11, finding 2).

An admin manages users and sees no case content. Before this, an admin granted themselves
`safeguarding_lead` and read a restricted case, and issued a token for a lead, then approved
with it a ban they had asked for: the record showed the lead as approver. Now a role that
reads case content, or any role for oneself, waits for a second person; tokens after the first
go to their user only; and four-eyes compares people, not usernames one person can reach.
"""

from __future__ import annotations

from typing import Any

import httpx

from domain.shared import Role
from tests.e2e.support import APPROVE, BAN, Api, assert_problem, created, open_case

USERS = "/api/v1/users"
SETUP = "e2e-setup"  # the host operator, as `vigil users ...` would be


def pending_grant(answer: httpx.Response, role: str) -> dict[str, Any]:
    assert answer.status_code == 201, answer.text
    [grant] = [g for g in answer.json()["pending_grants"] if g["role"] == role]
    return grant


def decide(client: httpx.Client, username: str, grant_id: str) -> httpx.Response:
    path = f"{USERS}/{username}/role-grants/{grant_id}/decisions"
    return client.post(path, json={"decision": "approved"})


def test_an_admin_who_grants_themselves_a_lead_role_reads_no_case_until_a_second_person_agrees(
    api: Api,
) -> None:
    alex = api.user("alex.admin", "admin")
    kit = api.user("kit.coordinator", "coordinator")
    priya = api.user("priya.lead", "safeguarding_lead")
    case = open_case(kit)  # self-harm: a restricted case

    # When the admin grants themselves the lead role, it is only asked for.
    asked = alex.post(f"{USERS}/alex.admin/roles", json={"role": "safeguarding_lead"})

    assert_problem(alex.get(f"/api/v1/cases/{case['id']}"), 403, "not-permitted")
    grant = pending_grant(asked, "safeguarding_lead")
    assert (asked.json()["roles"], grant["requested_by"]) == (["admin"], "alex.admin")

    # Nor can they approve it themselves, or through an admin whose first token they issued.
    created_admin = alex.post(USERS, json={"username": "mallory.admin", "role": "admin"})
    assert created_admin.status_code == 201, created_admin.text
    issued = alex.post(f"{USERS}/mallory.admin/tokens", json={})
    assert issued.status_code == 201, issued.text
    mallory = api.client(issued.json()["token"])
    with api.writes_nothing():
        assert_problem(decide(alex, "alex.admin", grant["grant_id"]), 409, "rule-violation")
        assert_problem(decide(mallory, "alex.admin", grant["grant_id"]), 409, "rule-violation")
    assert_problem(alex.get(f"/api/v1/cases/{case['id']}"), 403, "not-permitted")

    # A second person, a lead, approves: recorded, and only then does it take effect.
    approved = decide(priya, "alex.admin", grant["grant_id"])
    assert approved.status_code == 201, approved.text
    assert approved.json()["roles"] == ["safeguarding_lead", "admin"]
    user = api.vigil.identity.get("alex.admin")
    assert user is not None
    kinds = [type(e).__name__ for e in api.vigil.ledger.events_of(user.id)]
    assert kinds[-3:] == ["RoleGrantRequested", "RoleGrantDecided", "RoleGranted"]
    assert alex.get(f"/api/v1/cases/{case['id']}").status_code == 200


def test_an_admin_enrolling_a_lead_only_asks_for_the_role(api: Api) -> None:
    alex = api.user("alex.admin", "admin")
    case = open_case(api.user("kit.coordinator", "coordinator"))

    registered = alex.post(USERS, json={"username": "eve.lead", "role": "safeguarding_lead"})
    grant = pending_grant(registered, "safeguarding_lead")
    issued = alex.post(f"{USERS}/eve.lead/tokens", json={})
    assert issued.status_code == 201, issued.text

    # The first credential is the admin's to deliver, but it opens nothing until approved.
    eve = api.client(issued.json()["token"])
    assert_problem(eve.get(f"/api/v1/cases/{case['id']}"), 401, "not-authenticated")
    assert grant["requested_by"] == "alex.admin"


def test_an_admin_cannot_issue_a_token_for_a_user_who_has_one(api: Api) -> None:
    alex = api.user("alex.admin", "admin")
    api.user("priya.lead", "safeguarding_lead")

    with api.writes_nothing():
        refused = alex.post(f"{USERS}/priya.lead/tokens", json={})

    problem = assert_problem(refused, 403, "not-permitted")
    assert "users/me/tokens" in problem["detail"]


def test_a_user_issues_their_own_tokens_and_each_records_who_issued_it(api: Api) -> None:
    priya = api.user("priya.lead", "safeguarding_lead")

    issued = priya.post(f"{USERS}/me/tokens", json={"expires_in_days": 30})

    assert issued.status_code == 201, issued.text
    fresh = api.client(issued.json()["token"])
    assert fresh.get("/api/v1/cases").status_code == 200
    assert [t["issued_by"] for t in issued.json()["user"]["tokens"]] == [SETUP, "priya.lead"]


def test_a_lead_signed_in_with_a_token_the_requester_issued_cannot_approve_their_ban(
    api: Api,
) -> None:
    # Alex is an admin who also coordinates cases; Lee is a lead whose first token Alex issued.
    alex = api.user("alex.admin", "admin")
    api.vigil.identity.grant_role("alex.admin", Role.COORDINATOR, actor=SETUP)
    api.vigil.identity.register("lee.lead", Role.SAFEGUARDING_LEAD, actor=SETUP)
    first = alex.post(f"{USERS}/lee.lead/tokens", json={})
    assert first.status_code == 201, first.text
    as_lee = api.client(first.json()["token"])
    case = open_case(alex, category="harassment")
    path = f"/api/v1/cases/{case['id']}"
    [request] = created(alex.post(f"{path}/moderation-actions", json=BAN))["events"]
    decision = f"{path}/approvals/{request['approval_id']}/decisions"

    # When Alex approves the ban he asked for with Lee's token, then it is refused.
    with api.writes_nothing():
        refused = as_lee.post(decision, json=APPROVE)

    problem = assert_problem(refused, 409, "rule-violation")
    assert "second person" in problem["detail"]
    # A token minted with that one is still traced back to Alex.
    minted = as_lee.post(f"{USERS}/me/tokens", json={})
    assert minted.status_code == 201, minted.text
    with api.writes_nothing():
        refused_again = api.client(minted.json()["token"]).post(decision, json=APPROVE)
    assert_problem(refused_again, 409, "rule-violation")
    # A lead with a credential of their own is a second person.
    priya = api.user("priya.lead", "safeguarding_lead")
    approved = created(priya.post(decision, json=APPROVE))
    assert [e["type"] for e in approved["events"]] == ["ApprovalDecided", "ModerationActionTaken"]


def test_a_lead_who_issued_the_requesters_token_cannot_approve_the_request(api: Api) -> None:
    # Alex is an admin and a lead; Kit's first token came from Alex, so Alex may be Kit.
    alex = api.user("alex.admin", "admin")
    api.vigil.identity.grant_role("alex.admin", Role.SAFEGUARDING_LEAD, actor=SETUP)
    api.vigil.identity.register("kit.coordinator", Role.COORDINATOR, actor=SETUP)
    first = alex.post(f"{USERS}/kit.coordinator/tokens", json={})
    assert first.status_code == 201, first.text
    as_kit = api.client(first.json()["token"])
    case = open_case(as_kit, category="harassment")
    path = f"/api/v1/cases/{case['id']}"
    [request] = created(as_kit.post(f"{path}/moderation-actions", json=BAN))["events"]
    decision = f"{path}/approvals/{request['approval_id']}/decisions"

    with api.writes_nothing():
        refused = alex.post(decision, json=APPROVE)

    assert_problem(refused, 409, "rule-violation")
    assert request["requester_credential_issued_by"] == "alex.admin"
    priya = api.user("priya.lead", "safeguarding_lead")
    assert created(priya.post(decision, json=APPROVE))["case"]["sanctions"]
