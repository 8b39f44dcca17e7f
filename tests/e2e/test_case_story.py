"""A whole safeguarding case told through the HTTP API, then read back as it was at past moments.

Monday 16 November 2026, 22:47: a member flags a post suggesting self-harm. The on-call
lead acts at 23:10. Nobody logs anything until Tuesday morning, when the volunteer opens
the case (back-dated to the flag) and the on-call lead logs the night's decision. The day
team assesses, moderates, escalates, refers, reviews, notes, corrects, closes, and reopens.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.conftest import Clock
from tests.e2e.support import (
    COMMUNITY_GUIDELINES,
    OUT_OF_HOURS_POLICY,
    RFC3339,
    SELF_HARM_POST,
    Api,
    assert_problem,
    at,
    created,
)

FLAGGED = "2026-11-16T22:47:00+00:00"  # Monday night, London (GMT in November)
NIGHT_DECISION = "2026-11-16T23:10:00+00:00"


def test_a_self_harm_case_from_flag_to_reopening(api: Api, clock: Clock) -> None:
    volunteer = api.user("amara", "volunteer")
    moderator = api.user("ben", "moderator")
    coordinator = api.user("priya", "coordinator")
    on_call_lead = api.user("dana", "safeguarding_lead")
    lead = api.user("lee", "safeguarding_lead")
    expected: list[tuple[str, str, str, datetime]] = []  # type, actor, occurred_at, recorded_at

    def step(minutes_later: float) -> datetime:
        return clock.advance(minutes=minutes_later)

    def write(client: Any, path: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        answer = created(client.post(f"/api/v1/cases/{case_id}{path}", json=body))
        for event in answer["events"]:  # one, but two for an approval (it and its effect)
            expected.append((event["type"], actor, event["occurred_at"], clock()))
        return answer

    # Tuesday 09:30: the volunteer opens the case from last night's flag, back-dated to it.
    opened = created(
        volunteer.post("/api/v1/cases", json={**SELF_HARM_POST, "occurred_at": FLAGGED})
    )
    case_id = opened["case"]["id"]
    assert opened["case"]["status"] == "open"
    assert at(opened["case"]["opened_at"]) == at(FLAGGED)
    assert opened["case"]["opened_by"] == "amara"
    assert opened["events"][0]["type"] == "CaseOpened"
    assert at(opened["events"][0]["recorded_at"]) == clock()
    expected.append(("CaseOpened", "amara", opened["events"][0]["occurred_at"], clock()))

    # 09:35: the on-call lead logs what she decided at 23:10 last night.
    step(5)
    night = write(
        on_call_lead,
        "/out-of-hours-decisions",
        {
            "decision": "Messaged the member privately with crisis line details; did not call 999.",
            "immediate_actions": ["Hid the post", "Sent crisis line details by private message"],
            "rationale": "Member replied within ten minutes saying they were safe and with "
            "their partner; risk judged reduced enough to wait for the morning team.",
            "policy_ref": OUT_OF_HOURS_POLICY,
            "occurred_at": NIGHT_DECISION,
        },
        "dana",
    )
    decision_id = night["events"][0]["decision_id"]
    assert at(night["events"][0]["review_due"]) == at("2026-11-17T17:00:00+00:00")
    assert night["case"]["pending_reviews"] == [decision_id]
    assert night["case"]["out_of_hours_decisions"][0]["status"] == "awaiting_review"

    # 09:40: a second member flags the same post.
    step(5)
    flagged = write(
        volunteer,
        "/flags",
        {
            "reason": "The post sounds like a goodbye",
            "category": "self_harm_risk",
            "raised_by_ref": "forum-member-10377",
            "content_ref": "https://forum.example.org/t/88120#post-7",
        },
        "amara",
    )
    assert flagged["case"]["flags"]["count"] == 1

    # 09:45: the moderator assesses the risk as critical.
    step(5)
    assessed = write(
        moderator,
        "/risk-assessments",
        {
            "level": "critical",
            "rationale": "Stated intent with a method (stopping insulin) and a timeframe; no "
            "protective factors mentioned.",
        },
        "ben",
    )
    assert assessed["case"]["risk_level"] == "critical"
    assessed_at = clock()

    # 09:50: the post is hidden under clause 4.2; a member egging them on is muted for 48 hours.
    step(5)
    hidden = write(
        moderator,
        "/moderation-actions",
        {
            "action": "hide_content",
            "target_ref": "https://forum.example.org/t/88120#post-7",
            "rationale": "Post describes a method of self-harm; hidden to protect other members "
            "while we reach the author.",
            "policy_ref": COMMUNITY_GUIDELINES,
        },
        "ben",
    )
    assert hidden["events"][0]["policy_ref"] == COMMUNITY_GUIDELINES
    step(2)
    muted = write(
        moderator,
        "/moderation-actions",
        {
            "action": "mute_member",
            "target_ref": "forum-member-5521",
            "rationale": "Replied to the post encouraging the member to go through with it.",
            "policy_ref": {**COMMUNITY_GUIDELINES, "clause": "6.1"},
            "duration_hours": 48,
        },
        "ben",
    )
    (sanction,) = muted["case"]["sanctions"]
    assert sanction["active"] is True
    assert at(sanction["expires_at"]) == clock() + timedelta(hours=48)

    # 10:00: the volunteer escalates to a safeguarding lead; the lead acknowledges at 10:10.
    step(8)
    escalated = write(
        volunteer,
        "/escalations",
        {"level": 2, "reason": "No reply from the member since 07:00.", "urgency": "urgent"},
        "amara",
    )
    escalation_id = escalated["events"][0]["escalation_id"]
    assert escalated["events"][0]["level"] == "safeguarding_lead"
    assert escalated["case"]["status"] == "escalated"
    assert escalated["case"]["unacknowledged_escalations"] == [escalation_id]
    escalated_at = clock()
    step(10)
    acknowledged = write(
        lead, f"/escalations/{escalation_id}/acknowledgements", {"note": "Calling now."}, "lee"
    )
    assert acknowledged["case"]["unacknowledged_escalations"] == []
    assert acknowledged["case"]["status"] == "escalated"

    # 10:20: the coordinator refers to a crisis line without consent: the member can't be reached.
    step(10)
    referred = write(
        coordinator,
        "/referrals",
        {
            "agency": {"name": "Samaritans", "kind": "crisis_line"},
            "reason": "Member has stopped replying after stating intent to stop insulin.",
            "consent": "not_sought",
            "consent_rationale": "Seeking consent would delay help where there is a risk to "
            "life; the member could not be reached.",
            "lawful_basis": "UK GDPR Art 6(1)(d) vital interests; DPA 2018 Sch 1 para 18",
        },
        "priya",
    )
    referral_id = referred["events"][0]["referral_id"]
    assert referred["events"][0]["consent"] == "not_sought"
    # A crisis line never acknowledges a referral: it does not wait for one.
    assert referred["case"]["referrals_awaiting_acknowledgement"] == []
    assert referred["case"]["referrals"][0]["acknowledgement_expected"] is False
    # An emergency action: recorded at once, and waiting for a lead's review.
    assert referred["case"]["referrals_awaiting_review"] == [referral_id]

    # 10:40: the lead reached the member; the escalation is resolved.
    step(20)
    resolved = write(
        lead,
        f"/escalations/{escalation_id}/resolutions",
        {
            "outcome": "Member reached and safe",
            "rationale": "Spoke to the member, who agreed a safety plan with their partner.",
        },
        "lee",
    )
    assert resolved["case"]["status"] == "open"

    # 11:00: the crisis line calls back with a reference after all; it is recorded.
    step(20)
    updated = write(
        coordinator,
        f"/referrals/{referral_id}/updates",
        {"status": "acknowledged", "reference": "SAM-2026-11-0042"},
        "priya",
    )
    assert updated["case"]["referrals"][0]["status"] == "acknowledged"
    # The reference is a referral detail: a read shows it (and is logged), the answer does not.
    assert "reference" not in updated["case"]["referrals"][0]
    read = coordinator.get(f"/api/v1/cases/{case_id}").json()["case"]
    assert read["referrals"][0]["reference"] == "SAM-2026-11-0042"

    # 11:30: another lead reviews the night decision and ratifies it.
    step(30)
    reviewed = write(
        lead,
        f"/out-of-hours-decisions/{decision_id}/reviews",
        {
            "outcome": "ratified",
            "rationale": "Proportionate: the member engaged and their partner was present.",
        },
        "lee",
    )
    assert reviewed["case"]["pending_reviews"] == []
    assert reviewed["case"]["out_of_hours_decisions"][0]["reviewed_by"] == "lee"

    # 11:32: and the referral made without consent, which she ratifies too.
    step(2)
    referral_reviewed = write(
        lead,
        f"/referrals/{referral_id}/reviews",
        {
            "outcome": "ratified",
            "rationale": "Risk to life and the member unreachable: sharing was necessary.",
        },
        "lee",
    )
    assert referral_reviewed["case"]["referrals_awaiting_review"] == []

    # 11:40 and 11:45: a fact in the member's words, then a professional judgement.
    step(8)
    fact = write(
        volunteer,
        "/notes",
        {"kind": "fact", "text": "Member wrote at 23:14: 'I'm ok now, my partner is here.'"},
        "amara",
    )
    step(5)
    write(
        coordinator,
        "/notes",
        {"kind": "assessment", "text": "Engaging well; risk reduced but present."},
        "priya",
    )
    # 11:50: the time in the fact was copied wrongly; it is corrected, not edited.
    step(5)
    corrected = write(
        volunteer,
        "/corrections",
        {
            "corrects_event_id": fact["events"][0]["event_id"],
            "correction": "The member's message was at 23:40, not 23:14.",
            "reason": "Copied the wrong time from the chat log when logging this morning.",
        },
        "amara",
    )
    assert corrected["case"]["corrections"] == [
        {
            "event_id": fact["events"][0]["event_id"],
            "corrected_by": [corrected["events"][0]["event_id"]],
        }
    ]

    # 12:00: the coordinator closes the case: its risk is critical, so a second safeguarding
    # lead signs the closure off (four-eyes) at 12:05. At 12:30 a note still goes on it.
    step(10)
    asked = write(
        coordinator,
        "/closure",
        {
            "outcome": "Member safe and supported",
            "rationale": "Crisis line involved and safety plan agreed; night decision reviewed.",
        },
        "priya",
    )
    assert asked["case"]["status"] == "open"
    [sign_off] = asked["case"]["pending_approvals"]
    step(5)
    closed = write(
        on_call_lead,
        f"/approvals/{sign_off}/decisions",
        {
            "decision": "approved",
            "rationale": "Safety plan agreed and both the night decision and referral reviewed.",
        },
        "dana",
    )
    assert closed["case"]["status"] == "closed"
    assert [e["type"] for e in closed["events"]] == ["ApprovalDecided", "CaseClosed"]
    assert closed["events"][1]["requested_by"] == "priya"
    closed_at = clock()
    step(25)
    write(volunteer, "/notes", {"kind": "note", "text": "Member thanked the team."}, "amara")
    refused = volunteer.post(
        f"/api/v1/cases/{case_id}/flags",
        json={"reason": "Another worrying post", "category": "self_harm_risk"},
    )
    assert_problem(refused, 409, "rule-violation")

    # 14:00: a new worrying post; the coordinator reopens.
    step(90)
    reopened = write(
        coordinator,
        "/reopening",
        {"reason": "Member posted again in similar terms this afternoon."},
        "priya",
    )
    assert reopened["case"]["status"] == "open"
    assert reopened["case"]["version"] == len(expected) == 21

    # The timeline tells all of it, in order, with both clocks and who recorded each event.
    timeline = coordinator.get(f"/api/v1/cases/{case_id}/timeline")
    assert timeline.status_code == 200
    assert timeline.headers["etag"] == '"21"'
    body = timeline.json()
    assert body["case_id"] == case_id
    events = body["events"]
    assert [e["version"] for e in events] == list(range(1, 22))
    assert [(e["type"], e["actor"], e["occurred_at"]) for e in events] == [
        (kind, actor, occurred) for kind, actor, occurred, _ in expected
    ]
    assert [at(e["recorded_at"]) for e in events] == [recorded for *_, recorded in expected]
    for event in events:
        assert RFC3339.match(event["occurred_at"])
        assert RFC3339.match(event["recorded_at"])
        assert event["case_id"] == case_id
        assert not {"idempotency_key", "request_hash", "originator_id"} & event.keys()
    # The night decision was logged the next morning: the two clocks say so.
    night_event = events[1]
    assert at(night_event["occurred_at"]) == at(NIGHT_DECISION)
    assert at(night_event["recorded_at"]) == at("2026-11-17T09:35:00+00:00")

    def case_as_of(moment: datetime | str, basis: str) -> Any:
        when = moment if isinstance(moment, str) else moment.isoformat()
        return coordinator.get(f"/api/v1/cases/{case_id}", params={"as_of": when, "basis": basis})

    # What did we know at 09:47 on Tuesday? Opened, the night decision, a flag, critical risk.
    known = case_as_of(assessed_at + timedelta(minutes=2), "recorded")
    assert known.status_code == 200
    assert known.headers["etag"] == '"4"'
    assert known.json()["case"]["risk_level"] == "critical"
    assert known.json()["case"]["pending_reviews"] == [decision_id]
    assert known.json()["case"]["sanctions"] == []

    # Monday 23:30: nothing had been recorded yet, but the flag and the decision had happened.
    assert_problem(case_as_of("2026-11-16T23:30:00+00:00", "recorded"), 404, "case-not-found")
    happened = case_as_of("2026-11-16T23:30:00+00:00", "occurred")
    assert happened.status_code == 200
    assert happened.json()["case"]["version"] == 2
    assert happened.json()["case"]["risk_level"] == "high"
    assert happened.json()["case"]["pending_reviews"] == [decision_id]

    # Just after the escalation it was unacknowledged; just after closing, the case was closed.
    during = case_as_of(escalated_at + timedelta(minutes=1), "recorded").json()["case"]
    assert during["status"] == "escalated"
    assert during["unacknowledged_escalations"] == [escalation_id]
    assert case_as_of(closed_at, "recorded").json()["case"]["status"] == "closed"

    # The timeline as of a moment has only what was recorded by then.
    early = coordinator.get(
        f"/api/v1/cases/{case_id}/timeline",
        params={"as_of": (assessed_at + timedelta(minutes=2)).isoformat()},
    ).json()["events"]
    assert [e["type"] for e in early] == [
        "CaseOpened",
        "OutOfHoursDecisionRecorded",
        "FlagRaised",
        "RiskAssessed",
    ]

    # Sanctions are judged from event times: on Friday the 48-hour mute has expired, but the
    # case as of Tuesday noon still shows it in force.
    clock.set(at("2026-11-20T10:00:00+00:00"))
    friday = coordinator.get(f"/api/v1/cases/{case_id}").json()["case"]
    assert friday["sanctions"][0]["active"] is False
    assert friday["evaluated_at"].startswith("2026-11-20T10:00:00")
    tuesday = case_as_of(closed_at, "recorded").json()["case"]
    assert tuesday["sanctions"][0]["active"] is True
    assert not {"writes", "events"} & tuesday.keys()
