"""Restricted cases over real HTTP: a self-harm case behind the wall, frontline work through it,
break-glass with a reason, and the access log that sees every read.

The service restricts self-harm risk and harm to others (the product default). Casey, the
on-call coordinator, opens a self-harm case; Priya, the safeguarding lead, escalates it and
assigns it to Ash. Vic (volunteer), Mo (moderator) and Cora (coordinator) have nothing to do
with it: for them the case does not exist, through every route that could show it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from infrastructure.settings import Settings
from projections.work_queues import Queue
from tests.conftest import Clock
from tests.e2e.support import (
    COMMUNITY_GUIDELINES,
    SELF_HARM_POST,
    Api,
    assert_problem,
    created,
    open_case,
)

RESTRICTED = "self_harm_risk,harm_to_others"
SUBJECT = SELF_HARM_POST["subject"]["ref"]  # type: ignore[index]
REASON = "Member rang the helpline in crisis naming this thread; I need the history now."
SAMARITANS = {"name": "Samaritans", "kind": "crisis_line"}
POLICE = {"name": "Northshire Police", "kind": "police"}
NIGHT_REFERRAL = {
    "reason": "Stated they have stopped insulin and will not be around much longer.",
    "consent": "not_sought",
    "consent_rationale": "The member stopped replying; asking would delay help to a life at risk.",
    "lawful_basis": "UK GDPR Art 6(1)(d), Art 9(2)(c); DPA 2018 Sch 1 para 18",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The product default: self-harm risk and harm to others are restricted."""
    return settings.model_copy(update={"restricted_categories": RESTRICTED})


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def walk(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a listing, page by page (small pages, so paging is exercised too)."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(client.get(path, params=query))
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def case_ids(items: list[dict[str, Any]]) -> set[str]:
    return {str(item.get("id") or item.get("case_id")) for item in items}


@dataclass
class Ward:
    """The people of the story and its two cases about the same member."""

    api: Api
    lead: httpx.Client
    auditor: httpx.Client
    casey: httpx.Client  # opened the restricted case: involved
    ash: httpx.Client  # its assignee
    outsiders: dict[str, httpx.Client]  # volunteer, moderator, coordinator: not involved
    restricted: str
    ordinary: str


@pytest.fixture
def ward(api: Api) -> Ward:
    lead = api.user("priya", "safeguarding_lead")
    casey = api.user("casey", "coordinator")
    ash = api.user("ash", "coordinator")
    ward = Ward(
        api=api,
        lead=lead,
        auditor=api.user("aud", "auditor"),
        casey=casey,
        ash=ash,
        outsiders={
            "volunteer": api.user("vic", "volunteer"),
            "moderator": api.user("mo", "moderator"),
            "coordinator": api.user("cora", "coordinator"),
        },
        restricted=open_case(casey, risk_level="high")["id"],
        ordinary=open_case(casey, category="harassment", risk_level="high")["id"],
    )
    base = f"/api/v1/cases/{ward.restricted}"
    created(
        lead.post(
            f"{base}/escalations",
            json={"level": 2, "reason": "Stopped insulin; needs a lead now", "urgency": "urgent"},
        )
    )
    created(lead.post(f"{base}/notes", json={"kind": "assessment", "text": "Lead's view."}))
    created(lead.post(f"{base}/assignments", json={"assignee": "ash"}))
    for case in (ward.restricted, ward.ordinary):
        created(
            casey.post(
                f"/api/v1/cases/{case}/escalations",
                json={"level": 1, "reason": "Coordinator raising it", "urgency": "routine"},
            )
        )
    return ward


def listings(client: httpx.Client) -> dict[str, set[str]]:
    """Every list, queue and history that can name a case, walked to the end."""
    found: dict[str, set[str]] = {}
    for name, params in {
        "all": {},
        "status": {"status": "escalated"},
        "risk": {"risk_level": "high"},
        "category": {"category": "self_harm_risk"},
        "assignee": {"assignee": "ash"},
        "subject": {"subject_ref": SUBJECT},
    }.items():
        found[f"cases?{name}"] = case_ids(walk(client, "/api/v1/cases", **params))
    for queue in Queue:
        found[f"queue {queue.value}"] = case_ids(
            walk(client, f"/api/v1/queues/{queue.value}", idle_days=1, as_of="2027-01-01T00:00:00Z")
        )
    found["subject history"] = case_ids(walk(client, f"/api/v1/subjects/{SUBJECT}/cases"))
    for actor in ("priya", "casey", "ash"):
        found[f"activity {actor}"] = case_ids(walk(client, f"/api/v1/actors/{actor}/activity"))
    return found


def test_a_restricted_case_never_reaches_users_who_may_not_see_it(ward: Ward) -> None:
    missing = str(uuid.uuid4())
    base = f"/api/v1/cases/{ward.restricted}"
    for role, outsider in ward.outsiders.items():
        # As if it did not exist: the same 404 as a case id nobody ever used.
        for path in ("", "/timeline", "/changes?from=2026-01-01T00:00:00Z"):
            hidden = assert_problem(outsider.get(base + path), 404, "case-not-found")
            absent = assert_problem(
                outsider.get(f"/api/v1/cases/{missing}{path}"), 404, "case-not-found"
            )
            assert {k: hidden[k] for k in ("type", "title", "detail")} == {
                k: absent[k] for k in ("type", "title", "detail")
            }, role
        seen = listings(outsider)
        for listing, ids in seen.items():
            assert ward.restricted not in ids, (role, listing)
        # The ordinary case about the same member is listed as before.
        assert ward.ordinary in seen["cases?all"] | seen["subject history"], role
        assert ward.ordinary in seen["queue unacknowledged_escalations"], role
        # Counts leave it out too: only the ordinary case's escalation is waiting.
        counts = {q["name"]: q["total"] for q in ok(outsider.get("/api/v1/queues"))["items"]}
        assert counts["unacknowledged_escalations"] == 1, role
        # Writes meet the same wall, and write nothing.
        with ward.api.writes_nothing():
            assert_problem(
                outsider.post(f"{base}/notes", json={"kind": "note", "text": "hello"}),
                404,
                "case-not-found",
            )

    for reader in (ward.lead, ward.auditor, ward.ash):
        assert ok(reader.get(base))["case"]["summary"] == SELF_HARM_POST["summary"]
        assert len(ok(reader.get(f"{base}/timeline"))["events"]) == 5
        seen = listings(reader)
        for listing in ("cases?all", "cases?category", "cases?assignee", "subject history"):
            assert ward.restricted in seen[listing], listing
        assert ward.restricted in seen["queue unacknowledged_escalations"]
        assert ward.restricted in seen["activity priya"]


def test_queues_replayed_as_of_a_past_moment_keep_the_wall(ward: Ward, clock: Clock) -> None:
    # Given the ward's cases, written at 09:30, and an hour later
    clock.advance(hours=1)
    past = {"as_of": "2026-11-17T09:45:00Z", "idle_days": 1}

    def replayed(client: httpx.Client) -> dict[str, set[str]]:
        found = {}
        for queue in Queue:
            found[queue.value] = case_ids(walk(client, f"/api/v1/queues/{queue.value}", **past))
        listing = ok(client.get("/api/v1/queues", params=past))
        assert listing["replayed"] is True
        found["counts"] = {
            str(q["total"]) for q in listing["items"] if q["name"] == "unacknowledged_escalations"
        }
        return found

    # When the queues are asked for as they stood at 09:45, replayed from the log
    for role, outsider in ward.outsiders.items():
        seen = replayed(outsider)
        # Then a restricted case is as absent from the past as from today's queues
        for queue, ids in seen.items():
            assert ward.restricted not in ids, (role, queue)
        assert ward.ordinary in seen["unacknowledged_escalations"], role
        assert seen["counts"] == {"1"}, role
    # while those who may see it find it there, with its two escalations counted
    for reader in (ward.lead, ward.auditor, ward.ash):
        seen = replayed(reader)
        assert ward.restricted in seen["unacknowledged_escalations"]
        assert seen["counts"] == {"3"}


def test_whoever_recorded_on_a_restricted_case_keeps_adding_to_it_and_sees_only_their_own(
    ward: Ward,
) -> None:
    base = f"/api/v1/cases/{ward.restricted}"
    case = ok(ward.casey.get(base))["case"]
    assert case == {
        "id": ward.restricted,
        "version": 5,
        "status": "escalated",
        "category": "self_harm_risk",
        "restricted": True,
        "access": "own_records",
        "evaluated_at": case["evaluated_at"],
    }
    mine = ok(ward.casey.get(f"{base}/timeline"))["events"]
    assert [(e["type"], e["actor"]) for e in mine] == [
        ("CaseOpened", "casey"),
        ("CaseEscalated", "casey"),
    ]

    # Frontline work goes on: a flag, a note and a moderation action, answered in the
    # restricted form.
    flag = created(
        ward.casey.post(
            f"{base}/flags",
            json={"reason": "Another worrying post", "category": "self_harm_risk"},
        )
    )
    assert flag["case"]["access"] == "own_records"
    assert [e["type"] for e in flag["events"]] == ["FlagRaised"]
    created(ward.casey.post(f"{base}/notes", json={"kind": "fact", "text": "Replied to DM."}))
    created(
        ward.casey.post(
            f"{base}/moderation-actions",
            json={
                "action": "hide_content",
                "target_ref": "post-1",
                "rationale": "Hidden while a lead looks at it.",
                "policy_ref": COMMUNITY_GUIDELINES,
            },
        )
    )
    assert len(ok(ward.casey.get(f"{base}/timeline"))["events"]) == 5
    # Beyond the frontline kinds: refused with 403, nothing written.
    with ward.api.writes_nothing():
        assert_problem(
            ward.casey.post(f"{base}/assignments", json={"assignee": "casey"}),
            403,
            "not-permitted",
        )
        assert_problem(
            ward.casey.get(f"{base}/changes", params={"from": "2026-01-01T00:00:00Z"}),
            403,
            "not-permitted",
        )
    # Involved is not listed: lists show a restricted case only to those who see all of it.
    assert ward.restricted not in case_ids(walk(ward.casey, "/api/v1/cases"))
    # The lead sees everything Casey added.
    assert len(ok(ward.lead.get(f"{base}/timeline"))["events"]) == 8


def test_break_glass_opens_a_restricted_case_for_an_hour_and_leads_review_it(
    ward: Ward, clock: Clock
) -> None:
    vic = ward.outsiders["volunteer"]
    base = f"/api/v1/cases/{ward.restricted}"
    # Refusals write nothing: no real reason, an ordinary case, a lead (who has access anyway).
    with ward.api.writes_nothing():
        assert_problem(
            vic.post(f"{base}/break-glass", json={"reason": "n/a"}), 422, "invalid-input"
        )
        assert_problem(
            vic.post(f"/api/v1/cases/{ward.ordinary}/break-glass", json={"reason": REASON}),
            409,
            "rule-violation",
        )
        assert_problem(
            ward.lead.post(f"{base}/break-glass", json={"reason": REASON}), 403, "not-permitted"
        )
        assert_problem(
            vic.post(f"/api/v1/cases/{uuid.uuid4()}/break-glass", json={"reason": REASON}),
            404,
            "case-not-found",
        )

    grant = vic.post(f"{base}/break-glass", json={"reason": REASON})
    assert grant.status_code == 201, grant.text
    glass = grant.json()
    assert glass["expires_at"] == "2026-11-17T10:30:00Z"
    with ward.api.writes_nothing():
        assert_problem(
            vic.post(f"{base}/break-glass", json={"reason": REASON}), 409, "rule-violation"
        )

    # Full access while it lasts: the case, its timeline, lists, and frontline writes.
    assert ok(vic.get(base, params={"purpose": "emergency"}))["case"]["summary"]
    assert len(ok(vic.get(f"{base}/timeline"))["events"]) == 5
    assert ward.restricted in case_ids(walk(vic, "/api/v1/cases"))
    created(vic.post(f"{base}/notes", json={"kind": "fact", "text": "Caller safe, at home."}))

    # Visible to leads: in their queue, and in the access log with every read under it.
    (item,) = ok(ward.lead.get("/api/v1/queues/break_glass_reviews"))["items"]
    assert (item["grant_id"], item["username"], item["active"]) == (glass["grant_id"], "vic", True)
    assert_problem(vic.get("/api/v1/queues/break_glass_reviews"), 403, "not-permitted")
    log = ok(ward.auditor.get("/api/v1/audit/access", params={"user": "vic"}))["items"]
    assert [(e["kind"], e["what"], e["access"], e["grant_id"]) for e in log] == [
        ("break_glass_granted", None, None, glass["grant_id"]),
        ("read", "case", "break_glass", glass["grant_id"]),
        ("read", "timeline", "break_glass", glass["grant_id"]),
    ]
    assert log[1]["purpose"] == "emergency"

    # An hour later (by the grant's own time) the wall is back: Vic now sees only the note she
    # added under the grant, as anyone who recorded on the case does.
    clock.advance(minutes=61)
    assert ok(vic.get(base))["case"]["access"] == "own_records"
    (note,) = ok(vic.get(f"{base}/timeline"))["events"]
    assert (note["type"], note["actor"]) == ("NoteAdded", "vic")
    assert_problem(ward.outsiders["moderator"].get(base), 404, "case-not-found")
    assert ward.restricted not in case_ids(walk(vic, "/api/v1/cases"))
    assert ok(ward.lead.get("/api/v1/queues/break_glass_reviews"))["items"][0]["active"] is False

    # A lead's review takes it out of the queue; a second is refused.
    review = {"outcome": "appropriate", "rationale": "A real emergency; access was proportionate."}
    reviewed = ward.lead.post(f"/api/v1/break-glass/{glass['grant_id']}/reviews", json=review)
    assert reviewed.status_code == 201, reviewed.text
    assert ok(ward.lead.get("/api/v1/queues/break_glass_reviews"))["items"] == []
    with ward.api.writes_nothing():
        assert_problem(
            ward.lead.post(f"/api/v1/break-glass/{glass['grant_id']}/reviews", json=review),
            409,
            "rule-violation",
        )


def queue_items(client: httpx.Client, name: str) -> list[dict[str, Any]]:
    return walk(client, f"/api/v1/queues/{name}")


def test_the_on_call_coordinator_refers_a_restricted_case_at_night_without_waiting(
    api: Api, clock: Clock
) -> None:
    """Monday 23:10: a member says they have stopped taking insulin. Casey, on call, opens the
    self-harm case (so she sees only her own records of it) and calls in the crisis line and
    the police there and then; Cora, another coordinator, breaks the glass to help."""
    clock.set(datetime(2026, 11, 16, 23, 10, tzinfo=UTC))
    lead = api.user("priya", "safeguarding_lead")
    casey = api.user("casey", "coordinator")
    cora = api.user("cora", "coordinator")
    vic = api.user("vic", "volunteer")
    case = open_case(casey, risk_level="critical")["id"]
    base = f"/api/v1/cases/{case}"

    # When Casey refers the case to a crisis line, then to the police, without consent
    crisis_line = created(
        casey.post(f"{base}/referrals", json={**NIGHT_REFERRAL, "agency": SAMARITANS})
    )
    police = created(casey.post(f"{base}/referrals", json={**NIGHT_REFERRAL, "agency": POLICE}))

    # Then both are recorded at once, and her answers show the case in its restricted form
    for answer in (crisis_line, police):
        assert [e["type"] for e in answer["events"]] == ["ReferralMade"]
        assert answer["case"]["access"] == "own_records"
    samaritans_id = crisis_line["events"][0]["referral_id"]
    police_id = police["events"][0]["referral_id"]

    # And only the police referral waits for an acknowledgement: a crisis line never sends one
    assert [i["item_id"] for i in queue_items(lead, "referrals_awaiting_acknowledgement")] == [
        police_id
    ]
    # Both wait for a lead's review, as referrals made without consent do
    assert {i["item_id"] for i in queue_items(lead, "referrals_awaiting_review")} == {
        samaritans_id,
        police_id,
    }
    referrals = {r["referral_id"]: r for r in ok(lead.get(base))["case"]["referrals"]}
    assert referrals[samaritans_id]["acknowledgement_expected"] is False
    assert referrals[police_id]["acknowledgement_expected"] is True
    assert ok(lead.get(base))["case"]["referrals_awaiting_acknowledgement"] == [police_id]

    # When Cora, not involved, breaks the glass, she may refer too
    with api.writes_nothing():
        assert_problem(
            cora.post(f"{base}/referrals", json={**NIGHT_REFERRAL, "agency": POLICE}),
            404,
            "case-not-found",
        )
    assert cora.post(f"{base}/break-glass", json={"reason": REASON}).status_code == 201
    helped = created(
        cora.post(
            f"{base}/referrals",
            json={
                **NIGHT_REFERRAL,
                "agency": {"name": "Northshire Mental Health", "kind": "health"},
            },
        )
    )
    assert [e["actor"] for e in helped["events"]] == ["cora"]

    # A referral still needs a role that may refer: a volunteer may not, glass broken or not
    assert vic.post(f"{base}/break-glass", json={"reason": REASON}).status_code == 201
    with api.writes_nothing():
        assert_problem(
            vic.post(f"{base}/referrals", json={**NIGHT_REFERRAL, "agency": POLICE}),
            403,
            "not-permitted",
        )


def test_an_unknown_assignee_does_not_tell_a_restricted_case_from_a_missing_one(
    ward: Ward,
) -> None:
    cora = ward.outsiders["coordinator"]  # may assign cases, cannot see the restricted one
    body = {"assignee": "nobody-by-that-name"}

    # When Cora assigns, to someone who does not exist, the restricted case and a missing one
    with ward.api.writes_nothing():
        hidden = cora.post(f"/api/v1/cases/{ward.restricted}/assignments", json=body)
        missing = cora.post(f"/api/v1/cases/{uuid.uuid4()}/assignments", json=body)

    # Then both answer the same 404, before the assignee in the body is looked at
    for answer in (hidden, missing):
        assert_problem(answer, 404, "case-not-found")
    drop = ("instance", "request_id")
    assert {k: v for k, v in hidden.json().items() if k not in drop} == {
        k: v for k, v in missing.json().items() if k not in drop
    }

    # And on a case she can see, the unknown assignee is the input's fault (422), as before
    with ward.api.writes_nothing():
        assert_problem(
            cora.post(f"/api/v1/cases/{ward.ordinary}/assignments", json=body),
            422,
            "invalid-input",
            errors=["assignee"],
        )
