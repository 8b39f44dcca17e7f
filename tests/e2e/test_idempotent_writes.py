"""Every write is safe to retry with an Idempotency-Key, over real HTTP, on SQLite and PostgreSQL.

The admin's writes (users, roles, tokens), a lead's data-protection writes (legal holds,
erasure) and the four-eyes case writes (approval decisions, referral reviews): the connection
drops, the client sends the same request again with the same key, and gets the first answer
(same status, same bytes) while the log stays as it was. The same key on another request is
refused (422) and writes nothing. Issuing a token is the one write whose answer cannot be
repeated (the secret is never kept): its retry is refused with 409 and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from uuid import UUID

import httpx

from tests.conftest import Clock
from tests.e2e.support import (
    APPROVE,
    BAN,
    SELF_HARM_POST,
    Api,
    assert_problem,
    created,
    open_case,
)

REF = SELF_HARM_POST["subject"]["ref"]  # type: ignore[index]
HOLD = {"kind": "member", "reason": "Police asked us to preserve the records.", "reference": "P/1"}
LIFT = {"kind": "member", "reason": "Police confirmed the investigation has closed."}
ERASE = {
    "kind": "member",
    "lawful_basis": "UK GDPR Art 17(1)(a)",
    "reason": "The member asked for their data to be erased; nothing remains open.",
}


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


Send = Callable[[], httpx.Response]


def retried(api: Api, send: Send, first: httpx.Response, *, status: int) -> httpx.Response:
    """Send the same request again: the first answer, byte for byte, and nothing appended."""
    assert first.status_code == status, first.text
    assert "idempotent-replayed" not in first.headers
    with api.writes_nothing():
        again = send()
    assert again.status_code == status, again.text
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    return again


def refused_as_reused(api: Api, send: Send) -> None:
    """The same key on another request: 422, naming the header, and nothing appended."""
    with api.writes_nothing():
        answer = send()
    assert_problem(answer, 422, "idempotency-key-reused", errors=["Idempotency-Key"])


# --- users, roles and tokens ---------------------------------------------------------------------


def test_an_admin_retries_each_user_write_and_gets_the_first_answer(api: Api, clock: Clock) -> None:
    ada = api.user("ada", "admin")
    lee = api.user("lee", "safeguarding_lead")  # the second person on grants of case roles
    amara = {"username": "amara.volunteer", "role": "volunteer"}
    user = "/api/v1/users/amara.volunteer"

    def register() -> httpx.Response:
        return ada.post("/api/v1/users", json=amara, headers=key("register-amara"))

    first = register()
    # Registered a minute ago; the retry arrives later and still gets the 201 (not a 409).
    clock.advance(minutes=1)
    again = retried(api, register, first, status=201)
    assert again.headers["location"] == f"{user}"
    [enrolment] = again.json()["pending_grants"]
    assert (again.json()["roles"], enrolment["role"]) == ([], "volunteer")
    refused_as_reused(
        api,
        lambda: ada.post(
            "/api/v1/users", json={**amara, "role": "moderator"}, headers=key("register-amara")
        ),
    )
    # Another name with the same key is another request too: refused, not a second user.
    refused_as_reused(
        api,
        lambda: ada.post(
            "/api/v1/users", json={**amara, "username": "amara.two"}, headers=key("register-amara")
        ),
    )
    assert ada.get("/api/v1/users/amara.two").status_code == 404

    def approve(grant_id: str, name: str) -> Send:
        path = f"{user}/role-grants/{grant_id}/decisions"
        return lambda: lee.post(path, json={"decision": "approved"}, headers=key(name))

    approve_enrolment = approve(enrolment["grant_id"], "approve-1")
    enrolled = retried(api, approve_enrolment, approve_enrolment(), status=201)
    assert (enrolled.json()["roles"], enrolled.json()["pending_grants"]) == (["volunteer"], [])
    # The first credential from the admin who enrolled her, at enrolment (before any other
    # change to her record), the next from amara herself.
    token, secret = created_token(ada, user)
    other_token, _ = created_token(api.client(secret), "/api/v1/users/me")

    def grant() -> httpx.Response:
        return ada.post(f"{user}/roles", json={"role": "moderator"}, headers=key("grant-1"))

    asked = retried(api, grant, grant(), status=201)
    [request] = asked.json()["pending_grants"]
    assert (asked.json()["roles"], request["role"]) == (["volunteer"], "moderator")
    approve_grant = approve(request["grant_id"], "approve-2")
    granted = retried(api, approve_grant, approve_grant(), status=201)
    assert granted.json()["roles"] == ["moderator", "volunteer"]
    refused_as_reused(
        api,
        lambda: ada.post(f"{user}/roles", json={"role": "coordinator"}, headers=key("grant-1")),
    )

    def revoke_role() -> httpx.Response:
        return ada.delete(f"{user}/roles/moderator", headers=key("revoke-role-1"))

    revoked = retried(api, revoke_role, revoke_role(), status=200)
    assert revoked.json()["roles"] == ["volunteer"]
    # A bodiless write's request is its path: another role with the same key is refused.
    refused_as_reused(
        api, lambda: ada.delete(f"{user}/roles/volunteer", headers=key("revoke-role-1"))
    )

    token_path = f"{user}/tokens/{token}"

    def revoke_token() -> httpx.Response:
        return ada.delete(token_path, headers=key("revoke-token-1"))

    gone = retried(api, revoke_token, revoke_token(), status=200)
    assert [t["status"] for t in gone.json()["tokens"]] == ["revoked", "live"]
    refused_as_reused(
        api, lambda: ada.delete(f"{user}/tokens/{other_token}", headers=key("revoke-token-1"))
    )

    def deactivate() -> httpx.Response:
        return ada.post(f"{user}/deactivation", headers=key("deactivate-1"))

    assert retried(api, deactivate, deactivate(), status=201).json()["active"] is False
    refused_as_reused(api, lambda: ada.post(f"{user}/reactivation", headers=key("deactivate-1")))

    def reactivate() -> httpx.Response:
        return ada.post(f"{user}/reactivation", headers=key("reactivate-1"))

    assert retried(api, reactivate, reactivate(), status=201).json()["active"] is True
    refused_as_reused(api, lambda: ada.post(f"{user}/deactivation", headers=key("reactivate-1")))

    # Without a key nothing changes: a repeat is a new request, refused by the rules (409).
    with api.writes_nothing():
        assert_problem(ada.post(f"{user}/reactivation"), 409, "rule-violation")
        assert_problem(ada.post("/api/v1/users", json=amara), 409, "rule-violation")


def created_token(issuer: httpx.Client, user: str) -> tuple[str, str]:
    """A new token's id and secret."""
    answer = issuer.post(f"{user}/tokens", json={})
    assert answer.status_code == 201, answer.text
    return answer.json()["token_id"], answer.json()["token"]


def test_a_retried_token_request_is_refused_because_a_secret_is_shown_once(api: Api) -> None:
    # Ada enrols Kit (a lead approves the role) and issues Kit's first token.
    ada = api.user("ada", "admin")
    lee = api.user("lee", "safeguarding_lead")
    enrolled = ada.post("/api/v1/users", json={"username": "kit", "role": "volunteer"})
    [grant] = enrolled.json()["pending_grants"]
    decision = f"/api/v1/users/kit/role-grants/{grant['grant_id']}/decisions"
    assert lee.post(decision, json={"decision": "approved"}).status_code == 201
    tokens = "/api/v1/users/kit/tokens"

    first = ada.post(tokens, json={"expires_in_days": 90}, headers=key("kit-token-1"))
    assert first.status_code == 201, first.text
    issued = first.json()
    with api.writes_nothing():
        retry = ada.post(tokens, json={"expires_in_days": 90}, headers=key("kit-token-1"))
    problem = assert_problem(retry, 409, "token-already-issued")
    assert issued["token_id"] in problem["detail"]
    assert issued["token"] not in retry.text
    refused_as_reused(
        api, lambda: ada.post(tokens, json={"expires_in_days": 30}, headers=key("kit-token-1"))
    )
    # Only the first token exists, and it works.
    listed = ada.get("/api/v1/users/kit").json()["tokens"]
    assert [t["token_id"] for t in listed] == [issued["token_id"]]
    assert api.client(issued["token"]).get("/api/v1/cases").status_code == 200


# --- legal holds and erasure ---------------------------------------------------------------------


def test_a_lead_retries_a_hold_a_lift_and_an_erasure_and_gets_the_first_answers(
    api: Api, clock: Clock
) -> None:
    kit = api.user("kit", "coordinator")
    priya = api.user("priya", "safeguarding_lead")
    case = open_case(kit)
    subject = f"/api/v1/subjects/{REF}"

    def hold() -> httpx.Response:
        return priya.post(f"{subject}/legal-hold", json=HOLD, headers=key("hold-p1"))

    placed = hold()
    clock.advance(minutes=5)
    assert retried(api, hold, placed, status=201).json()["on_hold"] is True
    refused_as_reused(
        api,
        lambda: priya.post(
            f"{subject}/legal-hold", json={**HOLD, "reference": "P/2"}, headers=key("hold-p1")
        ),
    )

    def lift() -> httpx.Response:
        return priya.request("DELETE", f"{subject}/legal-hold", json=LIFT, headers=key("lift-p1"))

    lifted = lift()
    # A hold placed again after the lift does not change what the lift's retry answers.
    assert (
        priya.post(f"{subject}/legal-hold", json=HOLD, headers=key("hold-p1b")).status_code == 201
    )
    assert retried(api, lift, lifted, status=200).json()["on_hold"] is False
    refused_as_reused(
        api,
        lambda: priya.request(
            "DELETE",
            f"{subject}/legal-hold",
            json={**LIFT, "reason": "Another reason for lifting it."},
            headers=key("lift-p1"),
        ),
    )
    assert priya.request("DELETE", f"{subject}/legal-hold", json=LIFT).status_code == 200

    def erase() -> httpx.Response:
        return priya.post(f"{subject}/erasure", json=ERASE, headers=key("erase-p1"))

    erased = erase()
    assert erased.json()["case_ids"] == [case["id"]]
    # Without the key, a repeat is refused as already erased; with it, the first answer.
    with api.writes_nothing():
        assert_problem(priya.post(f"{subject}/erasure", json=ERASE), 409, "rule-violation")
    again = retried(api, erase, erased, status=201)
    assert again.headers["vigil-position"] == erased.headers["vigil-position"]
    refused_as_reused(
        api,
        lambda: priya.post(
            f"{subject}/erasure",
            json={**ERASE, "lawful_basis": "UK GDPR Art 17(1)(b)"},
            headers=key("erase-p1"),
        ),
    )
    timeline = priya.get(f"/api/v1/cases/{case['id']}/timeline").json()["events"]
    assert [e["type"] for e in timeline] == ["CaseOpened", "PersonalDataErased"]


def test_one_key_is_one_request_across_these_writes(api: Api) -> None:
    kit = api.user("kit", "coordinator")
    priya = api.user("priya", "safeguarding_lead")
    open_case(kit)
    created_hold = priya.post(
        f"/api/v1/subjects/{REF}/legal-hold", json=HOLD, headers=key("shared-key")
    )
    assert created_hold.status_code == 201, created_hold.text

    # The same lead's key on another subject, or another kind of write, is another request.
    refused_as_reused(
        api,
        lambda: priya.post(
            "/api/v1/subjects/forum-member-1/legal-hold", json=HOLD, headers=key("shared-key")
        ),
    )
    # Keys are per user: another lead's same key is hers alone.
    lee = api.user("lee", "safeguarding_lead")
    placed = lee.post(
        "/api/v1/subjects/forum-member-1/legal-hold", json=HOLD, headers=key("shared-key")
    )
    assert placed.status_code == 201, placed.text


# --- four-eyes case writes -----------------------------------------------------------------------


def test_an_approval_decision_and_a_referral_review_are_safe_to_retry(api: Api) -> None:
    casey = api.user("casey", "coordinator")
    lee = api.user("lee", "safeguarding_lead")
    case = open_case(casey)
    path = f"/api/v1/cases/{case['id']}"
    [asked] = created(casey.post(f"{path}/moderation-actions", json=BAN))["events"]
    decisions = f"{path}/approvals/{asked['approval_id']}/decisions"

    def approve() -> httpx.Response:
        return lee.post(decisions, json=APPROVE, headers=key("approve-ban-1"))

    approved = retried(api, approve, approve(), status=201)
    # One write, two events (the decision and the ban it puts into effect), both answered again.
    assert [e["type"] for e in approved.json()["events"]] == [
        "ApprovalDecided",
        "ModerationActionTaken",
    ]
    refused_as_reused(
        api,
        lambda: lee.post(
            decisions, json={**APPROVE, "decision": "rejected"}, headers=key("approve-ban-1")
        ),
    )

    made = created(
        casey.post(
            f"{path}/referrals",
            json={
                "agency": {"name": "Northshire Police", "kind": "police"},
                "reason": "Welfare check: stated plan to overdose tonight",
                "consent": "not_sought",
                "consent_rationale": "The member had stopped replying; asking would delay help.",
                "lawful_basis": "UK GDPR Art 6(1)(d), Art 9(2)(c); DPA 2018 Sch 1 para 18",
            },
        )
    )
    reviews = f"{path}/referrals/{made['events'][0]['referral_id']}/reviews"
    review = {"outcome": "ratified", "rationale": "A plan and the means: sharing was necessary."}

    def ratify() -> httpx.Response:
        return lee.post(reviews, json=review, headers=key("review-referral-1"))

    reviewed = retried(api, ratify, ratify(), status=201)
    assert [e["type"] for e in reviewed.json()["events"]] == ["ReferralReviewed"]
    refused_as_reused(
        api,
        lambda: lee.post(
            reviews, json={**review, "outcome": "overturned"}, headers=key("review-referral-1")
        ),
    )


# --- the contract, as documented -----------------------------------------------------------------


def test_every_write_documents_idempotency_key(api: Api) -> None:
    schema = api.client().get("/openapi.json").json()
    writes = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
        if method in {"post", "put", "patch", "delete"}
    ]
    assert len(writes) >= 30
    # A forum's delivery carries an idempotency key of its own: Discourse's event id, and its
    # content (tests/e2e/test_intake_discourse.py counts a retry once).
    signed = {("post", "/api/v1/intake/discourse/{service}")}
    for path, method, operation in writes:
        if (method, path) in signed:
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            assert "x-discourse-event-id" in headers, (method, path)
            continue
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, (method, path)
        assert "422" in operation["responses"], (method, path)
    issue = schema["paths"]["/api/v1/users/{username}/tokens"]["post"]
    assert "token-already-issued" in issue["responses"]["409"]["description"]
    assert "token-already-issued" in issue["description"]


def test_the_stored_request_fingerprint_is_keyed_so_the_log_cannot_confirm_a_guessed_text(
    api: Api,
) -> None:
    """A note's text is personal; the fingerprint kept for its Idempotency-Key is an HMAC under a
    key derived from the master key, so a reader of the log (even after an erasure) cannot test
    guesses of the text against it, as a plain hash of the request would allow."""
    coordinator = api.user("kit.coordinator", "coordinator")
    case_id = open_case(coordinator)["id"]
    body = {"kind": "fact", "text": "She said the bridge on Mill Lane, tonight."}
    path = f"/api/v1/cases/{case_id}/notes"
    written = created(coordinator.post(path, json=body, headers=key("note-1")))
    version = written["events"][0]["version"]

    note = api.vigil.event_log.events_of(UUID(case_id), gt=version - 1, lte=version)
    stored = next(iter(note))
    canonical = json.dumps(
        {**body, "occurred_at": None},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    plain = hashlib.sha256(f"POST\n{path}\n{canonical}".encode()).hexdigest()
    assert stored.request_hash not in (None, plain)
    assert stored.request_hash == api.vigil.keyring.fingerprint(
        f"POST\n{path}\n{canonical}".encode()
    )
