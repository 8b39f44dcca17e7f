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
from tests.e2e.support import (
    APPROVE,
    BAN,
    OUT_OF_HOURS_POLICY,
    Api,
    assert_problem,
    created,
    open_case,
)

USERS = "/api/v1/users"
SETUP = "e2e-setup"  # the host operator, as `vigil users ...` would be


def pending_grant(answer: httpx.Response, role: str) -> dict[str, Any]:
    assert answer.status_code == 201, answer.text
    [grant] = [g for g in answer.json()["pending_grants"] if g["role"] == role]
    return grant


def decide(client: httpx.Client, username: str, grant_id: str) -> httpx.Response:
    path = f"{USERS}/{username}/role-grants/{grant_id}/decisions"
    return client.post(path, json={"decision": "approved"})


def enrol(
    api: Api, admin: httpx.Client, username: str, role: str, *, approver: httpx.Client | None
) -> httpx.Client:
    """The admin enrols a user over HTTP (a second person approving a case role) and issues
    their first credential: a client signed in with it."""
    registered = admin.post(USERS, json={"username": username, "role": role})
    assert registered.status_code == 201, registered.text
    for grant in registered.json()["pending_grants"]:
        assert approver is not None
        assert decide(approver, username, grant["grant_id"]).status_code == 201
    issued = admin.post(f"{USERS}/{username}/tokens", json={})
    assert issued.status_code == 201, issued.text
    return api.client(issued.json()["token"])


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
    kinds = [type(e).__name__ for e in api.vigil.event_log.events_of(user.id)]
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
    priya = api.user("priya.lead", "safeguarding_lead")
    as_lee = enrol(api, alex, "lee.lead", "safeguarding_lead", approver=priya)
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
    approved = created(priya.post(decision, json=APPROVE))
    assert [e["type"] for e in approved["events"]] == ["ApprovalDecided", "ModerationActionTaken"]


def test_a_lead_who_issued_the_requesters_token_cannot_approve_the_request(api: Api) -> None:
    # Alex is an admin and a lead; Kit's first token came from Alex, so Alex may be Kit.
    alex = api.user("alex.admin", "admin")
    api.vigil.identity.grant_role("alex.admin", Role.SAFEGUARDING_LEAD, actor=SETUP)
    priya = api.user("priya.lead", "safeguarding_lead")
    as_kit = enrol(api, alex, "kit.coordinator", "coordinator", approver=priya)
    case = open_case(as_kit, category="harassment")
    path = f"/api/v1/cases/{case['id']}"
    [request] = created(as_kit.post(f"{path}/moderation-actions", json=BAN))["events"]
    decision = f"{path}/approvals/{request['approval_id']}/decisions"

    with api.writes_nothing():
        refused = alex.post(decision, json=APPROVE)

    assert_problem(refused, 409, "rule-violation")
    assert request["requester_credential_issued_by"] == "alex.admin"
    assert created(priya.post(decision, json=APPROVE))["case"]["sanctions"]


# --- after the audit of the fix: people behind people ----------------------------------------


def test_one_admin_cannot_ask_as_one_lead_and_approve_as_another_whose_tokens_they_issued(
    api: Api,
) -> None:
    # Given Alex enrolled two leads (Priya approved each role) and issued both first tokens,
    alex = api.user("alex.admin", "admin")
    priya = api.user("priya.lead", "safeguarding_lead")
    as_lee = enrol(api, alex, "lee.lead", "safeguarding_lead", approver=priya)
    as_lou = enrol(api, alex, "lou.lead", "safeguarding_lead", approver=priya)
    case = open_case(as_lee, category="harassment")
    path = f"/api/v1/cases/{case['id']}"
    [request] = created(as_lee.post(f"{path}/moderation-actions", json=BAN))["events"]
    decision = f"{path}/approvals/{request['approval_id']}/decisions"

    # when the ban Alex asked for as Lee is approved as Lou, then it is refused: one person.
    with api.writes_nothing():
        refused = as_lou.post(decision, json=APPROVE)

    assert "second person" in assert_problem(refused, 409, "rule-violation")["detail"]
    assert request["actor_behind"] == ["alex.admin"]
    assert created(priya.post(decision, json=APPROVE))["case"]["sanctions"]


def test_a_chain_of_admin_accounts_does_not_make_a_second_person(api: Api) -> None:
    # Given Alex enrols admin Xavier and his first token, then, as Xavier, admin Yuri and his,
    alex = api.user("alex.admin", "admin")
    priya = api.user("priya.lead", "safeguarding_lead")
    case = open_case(api.user("kit.coordinator", "coordinator"))  # self-harm: restricted
    as_xavier = enrol(api, alex, "xavier.admin", "admin", approver=None)
    as_yuri = enrol(api, as_xavier, "yuri.admin", "admin", approver=None)
    grant = pending_grant(
        alex.post(f"{USERS}/alex.admin/roles", json={"role": "safeguarding_lead"}),
        "safeguarding_lead",
    )

    # when Alex approves, as Yuri, the lead role she asked for herself, then it is refused,
    with api.writes_nothing():
        refused = decide(as_yuri, "alex.admin", grant["grant_id"])

    assert "second person" in assert_problem(refused, 409, "rule-violation")["detail"]
    assert_problem(alex.get(f"/api/v1/cases/{case['id']}"), 403, "not-permitted")
    # and a lead with a credential of their own still decides it.
    assert decide(priya, "alex.admin", grant["grant_id"]).status_code == 201


def test_an_admin_cannot_issue_a_first_token_to_a_lead_who_never_had_one(api: Api) -> None:
    # Given a lead the host operator enrolled, who signs in through single sign-on only,
    alex = api.user("alex.admin", "admin")
    api.vigil.identity.register("sol.lead", Role.SAFEGUARDING_LEAD, actor=SETUP)

    # when Alex issues them a token, then it is refused and nothing is written.
    with api.writes_nothing():
        refused = alex.post(f"{USERS}/sol.lead/tokens", json={})

    assert "enrolled" in assert_problem(refused, 403, "not-permitted")["detail"]
    # Nor a user Alex enrolled once anything else is recorded on them.
    assert alex.post(USERS, json={"username": "bo.admin", "role": "admin"}).status_code == 201
    assert alex.post(f"{USERS}/bo.admin/roles", json={"role": "auditor"}).status_code == 201
    with api.writes_nothing():
        assert_problem(alex.post(f"{USERS}/bo.admin/tokens", json={}), 403, "not-permitted")


NIGHT_DECISION = {
    "decision": "Messaged the member privately with crisis line details; did not call 999.",
    "rationale": "Member replied within ten minutes saying they were safe with their partner.",
    "policy_ref": OUT_OF_HOURS_POLICY,
    "occurred_at": "2026-11-16T23:10:00Z",
}
NIGHT_REFERRAL = {
    "agency": {"name": "Northshire Police", "kind": "police"},
    "reason": "Welfare check: stated plan to overdose tonight",
    "consent": "not_sought",
    "consent_rationale": "The member had stopped replying; asking would delay help.",
    "lawful_basis": "UK GDPR Art 6(1)(d), Art 9(2)(c); DPA 2018 Sch 1 para 18",
    "occurred_at": "2026-11-16T23:20:00Z",
}
REVIEW = {"outcome": "ratified", "rationale": "A plan and the means: acting was necessary."}


def test_a_lead_cannot_review_what_was_done_with_a_token_they_issued(api: Api) -> None:
    # Given Alex, an admin and a lead, enrolled Kit and issued Kit's first token, and Kit took a
    # decision and made a referral without consent at night,
    alex = api.user("alex.admin", "admin")
    api.vigil.identity.grant_role("alex.admin", Role.SAFEGUARDING_LEAD, actor=SETUP)
    priya = api.user("priya.lead", "safeguarding_lead")
    as_kit = enrol(api, alex, "kit.coordinator", "coordinator", approver=priya)
    case = open_case(as_kit, occurred_at="2026-11-16T23:00:00Z")
    path = f"/api/v1/cases/{case['id']}"
    [decision] = created(as_kit.post(f"{path}/out-of-hours-decisions", json=NIGHT_DECISION))[
        "events"
    ]
    [referral] = created(as_kit.post(f"{path}/referrals", json=NIGHT_REFERRAL))["events"]
    reviews = (
        f"{path}/out-of-hours-decisions/{decision['decision_id']}/reviews",
        f"{path}/referrals/{referral['referral_id']}/reviews",
    )

    # when Alex reviews either, then it is refused: Alex may have done it as Kit.
    for review in reviews:
        with api.writes_nothing():
            refused = alex.post(review, json=REVIEW)
        assert "second person" in assert_problem(refused, 409, "rule-violation")["detail"]
    assert (decision["actor_behind"], referral["actor_behind"]) == (["alex.admin"],) * 2
    for review in reviews:
        created(priya.post(review, json=REVIEW))


def test_a_lowering_is_not_approved_over_a_newer_assessment(api: Api) -> None:
    # Given Casey asked to lower a critical risk, and Lee assessed it critical again since,
    casey = api.user("casey", "coordinator")
    lee = api.user("lee", "safeguarding_lead")
    lou = api.user("lou", "safeguarding_lead")
    case = open_case(casey, risk_level="critical", category="harassment")
    path = f"/api/v1/cases/{case['id']}"
    low = {"level": "low", "rationale": "The member replied and is safe with family tonight."}
    [request] = created(casey.post(f"{path}/risk-assessments", json=low))["events"]
    again = {"level": "critical", "rationale": "A new post tonight repeats the plan and means."}
    created(lee.post(f"{path}/risk-assessments", json=again))

    # when Lou approves the lowering, then it is refused and the risk stays critical.
    with api.writes_nothing():
        refused = lou.post(f"{path}/approvals/{request['approval_id']}/decisions", json=APPROVE)

    assert "assessed again" in assert_problem(refused, 409, "rule-violation")["detail"]
    assert lou.get(path).json()["case"]["risk_level"] == "critical"


def test_the_username_me_cannot_be_registered(api: Api) -> None:
    alex = api.user("alex.admin", "admin")

    with api.writes_nothing():
        refused = alex.post(USERS, json={"username": "me", "role": "volunteer"})

    problem = assert_problem(refused, 422, "invalid-input", errors=["username"])
    assert "reserved" in str(problem["errors"]["username"])
