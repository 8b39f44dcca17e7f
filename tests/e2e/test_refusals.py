"""Every rule of the record, refused over HTTP: the status, the problem details, and a log
that did not grow by a single event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.conftest import Clock
from tests.e2e.support import (
    COMMUNITY_GUIDELINES,
    OUT_OF_HOURS_POLICY,
    Api,
    assert_problem,
    created,
    open_case,
)

MONDAY_NIGHT = "2026-11-16T23:10:00+00:00"
A_REASON = "Member described a plan to self-harm tonight and has access to means."


@dataclass
class Team:
    volunteer: httpx.Client
    moderator: httpx.Client
    coordinator: httpx.Client
    lead: httpx.Client
    other_lead: httpx.Client
    auditor: httpx.Client
    admin: httpx.Client


@pytest.fixture
def team(api: Api) -> Team:
    return Team(
        volunteer=api.user("amara", "volunteer"),
        moderator=api.user("ben", "moderator"),
        coordinator=api.user("priya", "coordinator"),
        lead=api.user("dana", "safeguarding_lead"),
        other_lead=api.user("lee", "safeguarding_lead"),
        auditor=api.user("audrey", "auditor"),
        admin=api.user("root", "admin"),
    )


def post(client: httpx.Client, case: dict[str, Any], path: str, body: Any) -> httpx.Response:
    return client.post(f"/api/v1/cases/{case['id']}{path}", json=body)


def night_decision(**overrides: Any) -> dict[str, Any]:
    return {
        "decision": "Messaged the member with crisis line details; did not call 999.",
        "rationale": "Member replied and said their partner was with them; risk reduced.",
        "policy_ref": OUT_OF_HOURS_POLICY,
        "occurred_at": MONDAY_NIGHT,
        **overrides,
    }


def referral(**overrides: Any) -> dict[str, Any]:
    return {
        "agency": {"name": "Samaritans", "kind": "crisis_line"},
        "reason": "Member has stopped replying after stating intent to stop insulin.",
        "consent": "not_sought",
        "consent_rationale": "Seeking consent would delay help where there is a risk to life.",
        "lawful_basis": "UK GDPR Art 6(1)(d) vital interests; DPA 2018 Sch 1 para 18",
        **overrides,
    }


ESCALATION = {"level": "safeguarding_lead", "reason": "No reply since 07:00.", "urgency": "urgent"}
CLOSURE = {"outcome": "Member safe", "rationale": "Safety plan agreed; nothing left open."}


def test_a_decision_without_a_real_reason_is_refused(api: Api, team: Team) -> None:
    case = open_case(team.volunteer)

    for body in (
        {"level": "critical"},
        {"level": "critical", "rationale": "n/a"},
        {"level": "critical", "rationale": "   ok    "},
        {"level": "critical", "rationale": "too short"},
    ):
        with api.writes_nothing():
            refused = post(team.moderator, case, "/risk-assessments", body)
        assert_problem(refused, 422, "invalid-input", errors=["rationale"])
    with api.writes_nothing():
        refused = post(team.coordinator, case, "/closure", {"outcome": "done", "rationale": "-"})
    assert_problem(refused, 422, "invalid-input", errors=["rationale"])


def test_moderation_and_out_of_hours_decisions_need_a_policy_clause(api: Api, team: Team) -> None:
    case = open_case(team.volunteer, occurred_at="2026-11-16T22:47:00+00:00")

    with api.writes_nothing():
        unruled = post(
            team.moderator,
            case,
            "/moderation-actions",
            {"action": "hide_content", "target_ref": "post-7", "rationale": A_REASON},
        )
    assert_problem(unruled, 422, "invalid-input", errors=["policy_ref"])
    with api.writes_nothing():
        half_ruled = post(
            team.moderator,
            case,
            "/moderation-actions",
            {
                "action": "hide_content",
                "target_ref": "post-7",
                "rationale": A_REASON,
                "policy_ref": {"policy": "community-guidelines", "version": "2024-03"},
            },
        )
    assert_problem(half_ruled, 422, "invalid-input", errors=["policy_ref.clause"])
    no_policy = night_decision()
    del no_policy["policy_ref"]
    with api.writes_nothing():
        refused = post(team.lead, case, "/out-of-hours-decisions", no_policy)
    assert_problem(refused, 422, "invalid-input", errors=["policy_ref"])


def test_a_closed_case_accepts_only_notes_corrections_and_reopening(api: Api, team: Team) -> None:
    case = open_case(team.volunteer)
    created(post(team.coordinator, case, "/closure", CLOSURE))

    refused_on_closed = [
        (team.volunteer, "/flags", {"reason": "Another post", "category": "self_harm_risk"}),
        (team.moderator, "/risk-assessments", {"level": "low", "rationale": A_REASON}),
        (
            team.moderator,
            "/moderation-actions",
            {
                "action": "hide_content",
                "target_ref": "post-7",
                "rationale": A_REASON,
                "policy_ref": COMMUNITY_GUIDELINES,
            },
        ),
        (team.volunteer, "/escalations", ESCALATION),
        (team.coordinator, "/referrals", referral()),
        (team.coordinator, "/assignments", {"assignee": "priya"}),
        (team.coordinator, "/closure", CLOSURE),
    ]
    for client, path, body in refused_on_closed:
        with api.writes_nothing():
            refused = post(client, case, path, body)
        problem = assert_problem(refused, 409, "rule-violation")
        assert "closed" in problem["detail"]

    note = created(post(team.volunteer, case, "/notes", {"kind": "fact", "text": "Called back."}))
    corrected = created(
        post(
            team.volunteer,
            case,
            "/corrections",
            {
                "corrects_event_id": note["events"][0]["event_id"],
                "correction": "The member called us back, not the other way round.",
                "reason": "Misread the call log when writing the note.",
            },
        )
    )
    assert corrected["case"]["status"] == "closed"
    reopened = created(
        post(team.coordinator, case, "/reopening", {"reason": "Member posted again tonight."})
    )
    assert reopened["case"]["status"] == "open"


def test_an_out_of_hours_decision_within_operating_hours_is_refused(api: Api, team: Team) -> None:
    case = open_case(team.volunteer)  # Tuesday 09:30, London: the service is open

    with api.writes_nothing():
        refused = post(team.lead, case, "/out-of-hours-decisions", night_decision(occurred_at=None))
    assert_problem(refused, 409, "rule-violation", errors=["occurred_at"])


def test_a_night_decision_is_reviewed_by_another_lead_only(api: Api, team: Team) -> None:
    case = open_case(team.volunteer, occurred_at="2026-11-16T22:47:00+00:00")
    decided = created(post(team.lead, case, "/out-of-hours-decisions", night_decision()))
    decision_id = decided["events"][0]["decision_id"]
    review = {"outcome": "ratified", "rationale": "Proportionate given the member's reply."}
    reviews = f"/out-of-hours-decisions/{decision_id}/reviews"

    with api.writes_nothing():
        by_decider = post(team.lead, case, reviews, review)
    assert_problem(by_decider, 409, "rule-violation")
    with api.writes_nothing():
        by_coordinator = post(team.coordinator, case, reviews, review)
    assert_problem(by_coordinator, 403, "not-permitted")
    with api.writes_nothing():
        no_such_decision = post(
            team.other_lead, case, f"/out-of-hours-decisions/{uuid4()}/reviews", review
        )
    assert_problem(no_such_decision, 404, "item-not-found", errors=["decision_id"])

    created(post(team.other_lead, case, reviews, review))
    with api.writes_nothing():
        again = post(team.other_lead, case, reviews, review)
    assert_problem(again, 409, "rule-violation")


def test_a_correction_must_name_an_event_of_the_same_case(api: Api, team: Team) -> None:
    case = open_case(team.volunteer)
    other = created(
        team.volunteer.post(
            "/api/v1/cases",
            json={
                "subject": {"kind": "contact", "ref": "call-0091"},
                "source": "helpline_contact",
                "category": "hate_incident",
                "summary": "Caller reports racist abuse from a neighbour.",
            },
        )
    )
    correction = {
        "correction": "The caller's name was spelt wrongly.",
        "reason": "Spelling taken down wrongly on the phone.",
    }

    for event_id in (other["events"][0]["event_id"], str(uuid4())):
        with api.writes_nothing():
            refused = post(
                team.volunteer, case, "/corrections", {**correction, "corrects_event_id": event_id}
            )
        assert_problem(refused, 422, "unknown-reference", errors=["corrects_event_id"])


def test_referral_updates_need_a_referral_in_a_state_that_allows_them(api: Api, team: Team) -> None:
    case = open_case(team.volunteer)
    referred = created(post(team.coordinator, case, "/referrals", referral()))
    updates = f"/referrals/{referred['events'][0]['referral_id']}/updates"

    with api.writes_nothing():
        missing = post(
            team.coordinator, case, f"/referrals/{uuid4()}/updates", {"status": "closed"}
        )
    assert_problem(missing, 404, "item-not-found", errors=["referral_id"])

    created(post(team.coordinator, case, updates, {"status": "acknowledged"}))
    with api.writes_nothing():
        twice = post(team.coordinator, case, updates, {"status": "acknowledged"})
    assert_problem(twice, 409, "rule-violation")
    created(post(team.coordinator, case, updates, {"status": "closed"}))
    for status in ("outcome_received", "followed_up", "closed"):
        with api.writes_nothing():
            after_closing = post(team.coordinator, case, updates, {"status": status})
        assert_problem(after_closing, 409, "rule-violation")


def test_escalations_are_acknowledged_once_then_resolved(api: Api, team: Team) -> None:
    case = open_case(team.volunteer)
    escalated = created(post(team.volunteer, case, "/escalations", ESCALATION))
    escalation = f"/escalations/{escalated['events'][0]['escalation_id']}"
    resolution = {"outcome": "Member reached", "rationale": "Spoke to the member; safe tonight."}

    for path in (f"/escalations/{uuid4()}/acknowledgements", f"/escalations/{uuid4()}/resolutions"):
        with api.writes_nothing():
            missing = post(team.lead, case, path, resolution if "resol" in path else {})
        assert_problem(missing, 404, "item-not-found", errors=["escalation_id"])
    with api.writes_nothing():
        too_early = post(team.lead, case, f"{escalation}/resolutions", resolution)
    assert_problem(too_early, 409, "rule-violation")

    created(post(team.lead, case, f"{escalation}/acknowledgements", {}))
    with api.writes_nothing():
        twice = post(team.lead, case, f"{escalation}/acknowledgements", {"note": "Me too."})
    assert_problem(twice, 409, "rule-violation")
    created(post(team.lead, case, f"{escalation}/resolutions", resolution))
    with api.writes_nothing():
        again = post(team.lead, case, f"{escalation}/resolutions", resolution)
    assert_problem(again, 409, "rule-violation")


def test_closure_waits_for_reviews_and_acknowledgements(api: Api, team: Team) -> None:
    case = open_case(team.volunteer, occurred_at="2026-11-16T22:47:00+00:00")
    decided = created(post(team.lead, case, "/out-of-hours-decisions", night_decision()))
    escalated = created(post(team.volunteer, case, "/escalations", ESCALATION))

    with api.writes_nothing():
        refused = post(team.coordinator, case, "/closure", CLOSURE)
    problem = assert_problem(refused, 409, "rule-violation")
    assert "await review" in problem["detail"]
    assert "unacknowledged" in problem["detail"]

    decision_id = decided["events"][0]["decision_id"]
    created(
        post(
            team.other_lead,
            case,
            f"/out-of-hours-decisions/{decision_id}/reviews",
            {"outcome": "varied", "rationale": "Should also have alerted the on-call GP line."},
        )
    )
    with api.writes_nothing():
        still = post(team.coordinator, case, "/closure", CLOSURE)
    assert "unacknowledged" in assert_problem(still, 409, "rule-violation")["detail"]

    escalation_id = escalated["events"][0]["escalation_id"]
    created(post(team.lead, case, f"/escalations/{escalation_id}/acknowledgements", {}))
    assert created(post(team.coordinator, case, "/closure", CLOSURE))["case"]["status"] == "closed"


def test_a_referral_without_consent_says_why_and_on_what_basis(api: Api, team: Team) -> None:
    case = open_case(team.volunteer)

    for consent in ("refused", "not_sought"):
        for missing in (
            ("consent_rationale",),
            ("lawful_basis",),
            ("consent_rationale", "lawful_basis"),
        ):
            body = referral(consent=consent)
            for field in missing:
                del body[field]
            with api.writes_nothing():
                refused = post(team.coordinator, case, "/referrals", body)
            problem = assert_problem(refused, 422, "invalid-input")
            for field in missing:
                assert field in problem["detail"]
    with api.writes_nothing():
        trivial = post(team.coordinator, case, "/referrals", referral(consent_rationale="n/a"))
    assert_problem(trivial, 422, "invalid-input", errors=["consent_rationale"])
    given = referral(consent="given")
    del given["consent_rationale"], given["lawful_basis"]
    created(post(team.coordinator, case, "/referrals", given))


def test_occurred_at_is_neither_in_the_future_nor_before_the_case(
    api: Api, team: Team, clock: Clock
) -> None:
    case = open_case(team.volunteer, occurred_at="2026-11-17T09:00:00+00:00")
    note = {"kind": "note", "text": "Checked the thread again."}

    with api.writes_nothing():
        future = post(
            team.volunteer,
            case,
            "/notes",
            {**note, "occurred_at": (clock() + timedelta(hours=1)).isoformat()},
        )
    assert_problem(future, 422, "invalid-input", errors=["occurred_at"])
    with api.writes_nothing():
        future_case = team.volunteer.post(
            "/api/v1/cases",
            json={
                "subject": {"kind": "member", "ref": "m-1"},
                "source": "staff_concern",
                "category": "harassment",
                "summary": "Staff noticed repeated unwanted messages.",
                "occurred_at": (clock() + timedelta(days=1)).isoformat(),
            },
        )
    assert_problem(future_case, 422, "invalid-input", errors=["occurred_at"])
    with api.writes_nothing():
        before = post(
            team.volunteer, case, "/notes", {**note, "occurred_at": "2026-11-17T08:59:00+00:00"}
        )
    assert_problem(before, 422, "invalid-input", errors=["occurred_at"])
    with api.writes_nothing():
        no_offset = post(
            team.volunteer, case, "/notes", {**note, "occurred_at": "2026-11-17T09:10:00"}
        )
    assert_problem(no_offset, 422, "invalid-input", errors=["occurred_at"])
    # A clock a minute ahead of the server's is tolerated.
    created(
        post(
            team.volunteer,
            case,
            "/notes",
            {**note, "occurred_at": (clock() + timedelta(minutes=1)).isoformat()},
        )
    )


def test_an_unknown_case_is_not_found(api: Api, team: Team) -> None:
    nowhere = {"id": str(uuid4())}

    with api.writes_nothing():
        refused = post(team.volunteer, nowhere, "/notes", {"kind": "note", "text": "Hello?"})
    assert_problem(refused, 404, "case-not-found")
    assert_problem(team.volunteer.get(f"/api/v1/cases/{nowhere['id']}"), 404, "case-not-found")
    timeline = team.auditor.get(f"/api/v1/cases/{nowhere['id']}/timeline")
    assert_problem(timeline, 404, "case-not-found")


def test_a_case_is_assigned_only_to_a_known_user(api: Api, team: Team) -> None:
    case = open_case(team.volunteer)

    with api.writes_nothing():
        refused = post(team.coordinator, case, "/assignments", {"assignee": "nobody-here"})
    assert_problem(refused, 422, "invalid-input", errors=["assignee"])
    assigned = created(post(team.coordinator, case, "/assignments", {"assignee": "Ben"}))
    assert assigned["case"]["assignee"] == "ben"


def test_roles_decide_who_may_write_and_read(api: Api, team: Team) -> None:
    case = open_case(team.volunteer)

    with api.writes_nothing():
        auditor_note = post(team.auditor, case, "/notes", {"kind": "note", "text": "Audit."})
    assert_problem(auditor_note, 403, "not-permitted")
    with api.writes_nothing():
        auditor_opens = team.auditor.post("/api/v1/cases", json={})
    assert_problem(auditor_opens, 403, "not-permitted")
    with api.writes_nothing():
        volunteer_closes = post(team.volunteer, case, "/closure", CLOSURE)
    assert_problem(volunteer_closes, 403, "not-permitted")
    with api.writes_nothing():
        volunteer_moderates = post(
            team.volunteer,
            case,
            "/moderation-actions",
            {
                "action": "hide_content",
                "target_ref": "post-7",
                "rationale": A_REASON,
                "policy_ref": COMMUNITY_GUIDELINES,
            },
        )
    assert_problem(volunteer_moderates, 403, "not-permitted")

    assert team.auditor.get(f"/api/v1/cases/{case['id']}").status_code == 200
    assert team.auditor.get(f"/api/v1/cases/{case['id']}/timeline").status_code == 200
    assert_problem(team.admin.get(f"/api/v1/cases/{case['id']}"), 403, "not-permitted")


def test_a_body_over_the_limit_is_refused_unread(api: Api, team: Team) -> None:
    case = open_case(team.volunteer)
    limit = api.vigil.settings.max_body_bytes
    huge = {"kind": "note", "text": "x" * (limit + 1)}

    with api.writes_nothing():
        declared = post(team.volunteer, case, "/notes", huge)
    problem = assert_problem(declared, 413, "body-too-large")
    assert str(limit) in problem["detail"]

    def chunks() -> Any:  # no Content-Length: the body arrives chunked and is counted
        for _ in range(limit // 1024 + 2):
            yield b" " * 1024

    with api.writes_nothing():
        streamed = team.volunteer.post(
            f"/api/v1/cases/{case['id']}/notes",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
    assert "content-length" not in streamed.request.headers
    assert_problem(streamed, 413, "body-too-large")


def test_malformed_json_is_invalid_input(api: Api, team: Team) -> None:
    case = open_case(team.volunteer)

    for raw in (b'{"kind": "note", "text": ', b"not json at all", b"\xff\xfe"):
        with api.writes_nothing():
            refused = team.volunteer.post(
                f"/api/v1/cases/{case['id']}/notes",
                content=raw,
                headers={"Content-Type": "application/json"},
            )
        assert_problem(refused, 422, "invalid-input", errors=["body"])
    with api.writes_nothing():
        not_an_object = post(team.volunteer, case, "/notes", ["kind", "note"])
    assert_problem(not_an_object, 422, "invalid-input")
    with api.writes_nothing():
        extra = post(
            team.volunteer, case, "/notes", {"kind": "note", "text": "Hi", "actor": "someone"}
        )
    assert_problem(extra, 422, "invalid-input", errors=["actor"])


def test_a_body_that_is_not_utf8_or_nests_too_deep_is_invalid_input(api: Api, team: Team) -> None:
    # Given a case, when a body arrives that cannot even be decoded as JSON text
    case = open_case(team.volunteer)

    for raw, reason in ((b"{\xff}", "UTF-8"), (b"[" * 5000 + b"]" * 5000, "nested")):
        with api.writes_nothing():
            refused = team.volunteer.post(
                f"/api/v1/cases/{case['id']}/notes",
                content=raw,
                headers={"Content-Type": "application/json"},
            )
        # Then it is invalid input, like any malformed JSON, naming the body, and nothing is written
        problem = assert_problem(refused, 422, "invalid-input", errors=["body"])
        assert reason in problem["errors"]["body"]


# Text that is no reason at all, as an insider tried it: invisible, punctuation, one token.
NOT_REASONS = ("\u200b" * 40, "..........", "asdfasdfas", "asdf asdf asdf", "\u2060 . , ; \u200b !")
# Real reasons in other languages and scripts are words like any other.
REASONS_ELSEWHERE = (
    "Mae'r aelod wedi dweud bod ganddo gynllun heno.",  # Welsh
    "Członek opisał plan samookaleczenia na dziś wieczór.",  # Polish
    "أخبرنا العضو أنه يخطط لإيذاء نفسه الليلة",  # Arabic
    "会员表示今晚有自残的计划",  # Chinese, written without spaces
)


def test_a_reason_is_words_in_any_language_and_nothing_else(api: Api, team: Team) -> None:
    # Given a case, a subject and the places a decision must say why
    case = open_case(team.volunteer)
    decisions = [
        (
            team.moderator,
            f"/api/v1/cases/{case['id']}/risk-assessments",
            {"level": "high"},
            "rationale",
        ),
        (
            team.volunteer,
            f"/api/v1/cases/{case['id']}/escalations",
            {"level": 2, "urgency": "urgent"},
            "reason",
        ),
        (
            team.coordinator,
            f"/api/v1/cases/{case['id']}/referrals",
            referral(),
            "consent_rationale",
        ),
        (team.lead, "/api/v1/subjects/forum-member-48213/legal-hold", {"kind": "member"}, "reason"),
        (team.volunteer, f"/api/v1/cases/{case['id']}/break-glass", {}, "reason"),
    ]

    # When each is given text that is not a reason, then it is refused naming the field
    for client, path, body, field in decisions:
        for text in NOT_REASONS:
            with api.writes_nothing():
                refused = client.post(path, json={**body, field: text})
            problem = assert_problem(refused, 422, "invalid-input", errors=[field])
            assert "words" in problem["errors"][field], problem

    # and a reason in Welsh, Polish, Arabic or Chinese is taken like one in English
    for text in REASONS_ELSEWHERE:
        created(
            post(team.moderator, case, "/risk-assessments", {"level": "high", "rationale": text})
        )


def test_control_and_bidi_override_characters_in_free_text_are_refused(
    api: Api, team: Team
) -> None:
    # Given a case
    case = open_case(team.volunteer)
    smuggled = "Spoke to the member\x00 at home \u202eemoh ta ton"

    # When free text carries a NUL, a right-to-left override or an isolate, wherever it is sent
    attempts = [
        (team.volunteer, "/notes", {"kind": "note", "text": smuggled}, "text"),
        (team.volunteer, "/notes", {"kind": "note", "text": "Seen \u2067today\u2069"}, "text"),
        (
            team.volunteer,
            "/flags",
            {"reason": "Worrying post\x1b[2J", "category": "self_harm_risk"},
            "reason",
        ),
        (
            team.moderator,
            "/risk-assessments",
            {"level": "high", "rationale": A_REASON + "\x07"},
            "rationale",
        ),
        (
            team.moderator,
            "/moderation-actions",
            {
                "action": "hide_content",
                "target_ref": "post-7\x00",
                "rationale": A_REASON,
                "policy_ref": COMMUNITY_GUIDELINES,
            },
            "target_ref",
        ),
        (
            team.moderator,
            "/moderation-actions",
            {
                "action": "hide_content",
                "target_ref": "post-7",
                "rationale": A_REASON,
                "policy_ref": {**COMMUNITY_GUIDELINES, "clause": "4.2\u202d"},
            },
            "policy_ref.clause",
        ),
        (
            team.coordinator,
            "/referrals",
            referral(agency={"name": "Samaritans\u202b", "kind": "crisis_line"}),
            "agency.name",
        ),
    ]
    for client, path, body, field in attempts:
        with api.writes_nothing():
            refused = post(client, case, path, body)
        # Then it is refused, naming the field and the character, and nothing is written
        problem = assert_problem(refused, 422, "invalid-input", errors=[field])
        assert "U+" in problem["errors"][field], problem
    with api.writes_nothing():
        opened = team.volunteer.post(
            "/api/v1/cases",
            json={
                "subject": {"kind": "member", "ref": "m-9", "display_name": "Sam\u202e"},
                "source": "flag",
                "category": "spam",
                "summary": "Link spam in the garden forum.",
            },
        )
    assert_problem(opened, 422, "invalid-input", errors=["subject.display_name"])

    # while line breaks and tabs in a note are text like any other
    kept = created(
        post(team.volunteer, case, "/notes", {"kind": "note", "text": "Called.\n\tNo answer."})
    )
    assert kept["events"][0]["text"] == "Called.\n\tNo answer."


def test_an_assignee_with_a_look_alike_letter_is_told_which_letter(api: Api, team: Team) -> None:
    # Given a case and a user 'ben'
    case = open_case(team.volunteer)

    # When a coordinator assigns it to 'ben' spelt with a Cyrillic e (U+0435)
    with api.writes_nothing():
        refused = post(team.coordinator, case, "/assignments", {"assignee": "b\u0435n"})

    # Then the answer says in words which letter is not allowed, not a regular expression
    message = assert_problem(refused, 422, "invalid-input", errors=["assignee"])["errors"][
        "assignee"
    ]
    assert "U+0435 CYRILLIC SMALL LETTER IE" in message
    assert "lower-case Latin letters" in message
    assert "^[a-z0-9]" not in message
