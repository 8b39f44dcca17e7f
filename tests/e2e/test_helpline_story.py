"""The whole helpline story over real HTTP, on SQLite and PostgreSQL, with the scorecard the
quality context records (no stand-in): a lead versions the scorecard; on a Tuesday a volunteer
takes contacts on several channels, anonymous and named; one opens a case; coordinators review
them (a pass, a calibration, a fail on the critical safeguarding item); the handler acknowledges
one review and disputes another, which a lead resolves; follow-ups of every kind, a referral
refused without its lawful basis and accepted with it; a new scorecard version leaves the
review of an earlier contact to the version in force at it; the queues fill and empty as the
work is done; the named caller is erased, their contact reads "[erased]" and the ledger verifies.

The default service's calendar (Monday to Friday 09:00-17:00, Europe/London; GMT in November)
judges due times. Tuesday 17 November 2026.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from domain.personal import ERASED
from interfaces.composition import Vigil
from tests.conftest import Clock
from tests.e2e.support import Api, assert_problem

CALLER = "caller-7001"
LAWFUL_BASIS = "UK GDPR Art 6(1)(e), Art 9(2)(g); DPA 2018 Sch 1 para 18"
SCORECARD = {
    "name": "Helpline quality, 2026",
    "criteria": [
        {
            "key": "listening",
            "label": "Listens actively",
            "weight": 3,
            "max_score": 4,
            "critical": False,
        },
        {
            "key": "risk_asked",
            "label": "Asks about immediate risk",
            "weight": 1,
            "max_score": 1,
            "critical": True,
            "safeguarding": True,
        },
    ],
    "pass_mark": 70,
    "rationale": "The helpline's own scorecard replaces the default from today.",
}


def tuesday(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 17, hour, minute, tzinfo=UTC)


def z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def made(response: httpx.Response) -> Any:
    assert response.status_code == 201, response.text
    return response.json()


def contact_url(contact_id: str, *rest: str) -> str:
    return "/".join(["/api/v1/contacts", contact_id, *rest])


def queue(client: httpx.Client, name: str) -> list[str]:
    """The queue's items now, as contact ids."""
    return [i["contact_id"] for i in ok(client.get(f"/api/v1/queues/{name}"))["items"]]


def test_a_day_of_the_helpline_reviewed_followed_up_and_a_caller_erased(
    api: Api, clock: Clock, vigil: Vigil
) -> None:
    kit = api.user("kit", "volunteer")  # takes the contacts
    casey = api.user("casey", "coordinator")  # reviews and follows up
    robin = api.user("robin", "coordinator")  # calibrates
    lee = api.user("lee", "safeguarding_lead")  # versions the scorecard, resolves, looks
    audrey = api.user("audrey", "auditor")

    # Given the helpline's own scorecard, in force from 08:00 on Tuesday
    clock.set(tuesday(8))
    card = made(lee.post("/api/v1/quality/scorecards", json=SCORECARD))["scorecard"]
    version = card["in_force"]["version"]
    in_force = ok(kit.get("/api/v1/quality/scorecards"))["in_force"]
    assert (in_force["version"], in_force["name"]) == (version, SCORECARD["name"])

    # When Kit takes four contacts through the day
    clock.set(tuesday(9, 30))
    call = made(
        kit.post(
            "/api/v1/contacts",
            json={
                "channel": "call",
                "direction": "inbound",
                "duration_seconds": 1260,
                "caller": {"anonymous": False, "ref": CALLER, "display_name": "Wren (story)"},
                "category": "self_harm_risk",
                "summary": "Caller's teenage son has talked of hurting himself; school is aware.",
                "outcome": "safeguarding_concern",
            },
        )
    )["contact"]["id"]
    clock.set(tuesday(11))
    chat = made(
        kit.post(
            "/api/v1/contacts",
            json={
                "channel": "chat",
                "direction": "inbound",
                "caller": {"anonymous": True},
                "category": "harassment",
                "summary": "Harassed at work; options and the union's advice line given.",
                "outcome": "signposted",
            },
        )
    )["contact"]["id"]
    clock.set(tuesday(13))
    sms = made(
        kit.post(
            "/api/v1/contacts",
            json={
                "channel": "sms",
                "direction": "inbound",
                "caller": {"anonymous": True},
                "category": "other",
                "summary": "Asked for opening hours.",
                "outcome": "information_given",
            },
        )
    )["contact"]["id"]
    clock.set(tuesday(14))
    relay = made(
        kit.post(
            "/api/v1/contacts",
            json={
                "channel": "bsl_video",
                "direction": "inbound",
                "caller": {"anonymous": True},
                "participants": [{"role": "interpreter", "name": "Ash", "agency": "Relay UK"}],
                "category": "harassment",
                "summary": "Neighbour's harassment continuing; options explained.",
                "outcome": "information_given",
            },
        )
    )["contact"]["id"]
    # A contact the service cannot know is refused, and nothing is written
    with api.writes_nothing():
        assert_problem(
            kit.post(
                "/api/v1/contacts",
                json={"channel": "fax", "direction": "inbound", "caller": {"anonymous": True}},
            ),
            422,
            "invalid-input",
        )

    # The safeguarding concern opens a case: each names the other
    linked = made(
        kit.post(
            contact_url(call, "case-link"),
            json={
                "open_case": {
                    "subject": {"kind": "contact", "ref": CALLER},
                    "source": "helpline_contact",
                    "category": "self_harm_risk",
                    "risk_level": "high",
                    "summary": "A parent's concern for their son after a helpline call.",
                }
            },
        )
    )["contact"]
    case_id = linked["case_id"]
    assert linked["opened_case"]
    timeline = ok(lee.get(f"/api/v1/cases/{case_id}/timeline"))["events"]
    assert (timeline[0]["source"], timeline[0]["contact_id"]) == ("helpline_contact", call)

    # Then every contact waits for its review, the safeguarding concern first, each due five
    # working days after it (Tuesday 24 November, at the hour of the contact)
    clock.set(tuesday(16))
    awaiting = ok(casey.get("/api/v1/queues/contacts_awaiting_review"))["items"]
    assert [(i["contact_id"], i["due_at"]) for i in awaiting] == [
        (call, "2026-11-24T09:30:00Z"),
        (chat, "2026-11-24T11:00:00Z"),
        (sms, "2026-11-24T13:00:00Z"),
        (relay, "2026-11-24T14:00:00Z"),
    ]
    unreviewed = ok(casey.get("/api/v1/contacts", params={"reviewed": "false"}))["items"]
    assert {c["id"] for c in unreviewed} == {call, chat, sms, relay}

    # Reviews: the call passes; Robin calibrates it; the chat fails its critical item though
    # its total is above the pass mark. The handler reviews nothing.
    clock.set(datetime(2026, 11, 18, 10, tzinfo=UTC))
    feedback = "Calm and clear; ask about immediate risk a little sooner."
    rationale = "Listening strong throughout; one open question missed early."
    with api.writes_nothing():
        assert_problem(
            kit.post(
                contact_url(call, "reviews"),
                json={
                    "scores": {"listening": 4, "risk_asked": 1},
                    "feedback": feedback,
                    "rationale": rationale,
                },
            ),
            403,
            "not-permitted",
        )
        assert_problem(
            casey.post(
                contact_url(call, "reviews"),
                json={"scores": {"listening": 4}, "feedback": feedback, "rationale": rationale},
            ),
            422,
            "scores-invalid",
            errors=["scores.risk_asked"],
        )
    review = {"feedback": feedback, "rationale": rationale}
    [passed] = made(
        casey.post(
            contact_url(call, "reviews"),
            json={**review, "scores": {"listening": 4, "risk_asked": 1}},
        )
    )["events"]
    assert (passed["score"], passed["result"], passed["calibration"]) == (100.0, "pass", False)
    assert passed["scorecard_version"] == version
    [second] = made(
        robin.post(
            contact_url(call, "reviews"),
            json={**review, "scores": {"listening": 3, "risk_asked": 1}},
        )
    )["events"]
    assert (second["score"], second["result"], second["calibration"]) == (81.3, "pass", True)
    [failed] = made(
        casey.post(
            contact_url(chat, "reviews"),
            json={**review, "scores": {"listening": 4, "risk_asked": 0}},
        )
    )["events"]
    assert (failed["score"], failed["result"]) == (75.0, "fail")
    assert (failed["critical_failures"], failed["safeguarding_fail"]) == (["risk_asked"], True)
    assert queue(casey, "contacts_awaiting_review") == [sms, relay]
    assert queue(lee, "qa_safeguarding_fails") == [chat]
    agreement = ok(casey.get("/api/v1/quality/calibration"))
    assert (agreement["calibrated_contacts"], agreement["agreeing"]) == (1, 0)  # 18.7 apart

    # A new scorecard version from now on does not change what an earlier contact is judged by
    newer = {
        **SCORECARD,
        "name": "Helpline quality, 2027",
        "pass_mark": 80,
        "rationale": "A higher bar from Wednesday.",
    }
    assert made(lee.post("/api/v1/quality/scorecards", json=newer))["scorecard"]["in_force"][
        "version"
    ] == (version + 1)
    [sms_review] = made(
        casey.post(
            contact_url(sms, "reviews"),
            json={**review, "scores": {"listening": 3, "risk_asked": 1}},
        )
    )["events"]
    assert (sms_review["scorecard_version"], sms_review["result"]) == (version, "pass")  # 81.3

    # The handler acknowledges the call's first review and disputes the chat's fail; a lead
    # other than the reviewer upholds it; the fail stays in the lead's queue until they look
    clock.set(datetime(2026, 11, 18, 12, tzinfo=UTC))
    unacknowledged = ok(kit.get("/api/v1/queues/feedback_unacknowledged"))["items"]
    assert {i["review_id"] for i in unacknowledged} == {
        passed["review_id"],
        second["review_id"],
        failed["review_id"],
        sms_review["review_id"],
    }
    made(
        kit.post(
            contact_url(call, "reviews", passed["review_id"], "acknowledgement"),
            json={"note": "Thanks, will do."},
        )
    )
    made(
        kit.post(
            contact_url(chat, "reviews", failed["review_id"], "dispute"),
            json={"reason": "I asked about risk at the start, in other words."},
        )
    )
    assert [i["review_id"] for i in ok(lee.get("/api/v1/queues/feedback_disputes"))["items"]] == [
        failed["review_id"]
    ]
    resolution = contact_url(chat, "reviews", failed["review_id"], "dispute", "resolution")
    ruling = {"outcome": "upheld", "rationale": "The transcript shows risk was never asked."}
    with api.writes_nothing():
        assert_problem(casey.post(resolution, json=ruling), 403, "not-permitted")
    made(lee.post(resolution, json=ruling))
    assert ok(lee.get("/api/v1/queues/feedback_disputes"))["items"] == []
    made(
        lee.post(
            contact_url(chat, "reviews", failed["review_id"], "lead-review"),
            json={
                "outcome": "practice_addressed",
                "rationale": "Went through the risk question in supervision.",
            },
        )
    )
    assert ok(lee.get("/api/v1/queues/qa_safeguarding_fails"))["items"] == []

    # Follow-ups of every kind on the call
    follow_ups = contact_url(call, "follow-ups")
    referral = {
        "kind": "referral",
        "due_at": "2026-11-18T17:00:00Z",
        "detail": "Refer to children's services: the son's risk is ongoing.",
        "agency": {"name": "Northshire Children's Services", "kind": "childrens_social_care"},
        "consent": "refused",
        "consent_rationale": "The parent refused; the risk to a child outweighs it.",
    }
    with api.writes_nothing():
        problem = assert_problem(casey.post(follow_ups, json=referral), 422, "invalid-input")
    assert "lawful_basis" in problem["detail"]
    made(casey.post(follow_ups, json={**referral, "lawful_basis": LAWFUL_BASIS}))
    call_back = made(
        casey.post(
            follow_ups,
            json={
                "kind": "call_back",
                "due_at": "2026-11-18T15:00:00Z",
                "assignee": "kit",
                "detail": "Call the parent back after the school meeting.",
            },
        )
    )["events"][0]["follow_up_id"]
    letter = made(
        casey.post(
            follow_ups,
            json={
                "kind": "advocacy_letter",
                "due_at": "2026-11-20T17:00:00Z",
                "detail": "Letter to the school asking for a safety plan.",
            },
        )
    )["events"][0]["follow_up_id"]
    meeting = made(
        casey.post(
            follow_ups,
            json={
                "kind": "multi_agency_meeting",
                "due_at": "2026-11-24T10:00:00Z",
                "detail": "Meeting with the school and children's services.",
            },
        )
    )["events"][0]["follow_up_id"]
    made(
        casey.post(
            follow_ups,
            json={
                "kind": "signposting",
                "due_at": "2026-11-19T10:00:00Z",
                "detail": "Send details of the young people's counselling service.",
            },
        )
    )
    due = ok(kit.get("/api/v1/queues/follow_ups_due"))["items"]  # the follow-ups of Kit's contact
    assert [(i["follow_up_id"], i["assignee"]) for i in due][:2] == [
        (call_back, "kit"),  # 15:00 (the referral is due at 17:00)
        (due[1]["follow_up_id"], "casey"),
    ]
    clock.set(datetime(2026, 11, 18, 15, 30, tzinfo=UTC))
    first = ok(kit.get("/api/v1/queues/follow_ups_due"))["items"][0]
    assert (first["follow_up_id"], first["overdue"]) == (call_back, True)
    attempts = contact_url(call, "follow-ups", call_back, "attempts")
    made(kit.post(attempts, json={"outcome": "no_answer"}))
    made(kit.post(attempts, json={"outcome": "reached", "note": "Meeting went well."}))
    made(
        kit.post(
            contact_url(call, "follow-ups", call_back, "completion"),
            json={"outcome": "Parent reassured; plan agreed."},
        )
    )
    with api.writes_nothing():
        assert_problem(kit.post(attempts, json={"outcome": "reached"}), 409, "rule-violation")
    assert call_back not in [
        i["follow_up_id"] for i in ok(kit.get("/api/v1/queues/follow_ups_due"))["items"]
    ]
    made(
        casey.post(
            contact_url(call, "follow-ups", letter, "completion"),
            json={"outcome": "Sent", "letter_text": "Dear Head Teacher, we write on behalf of..."},
        )
    )
    made(
        casey.post(
            contact_url(call, "follow-ups", meeting, "completion"),
            json={
                "outcome": "Held; a safety plan agreed.",
                "attendees": [{"name": "Ms Ade", "agency": "Northshire Academy"}],
                "decisions": ["The school keeps a daily check-in."],
                "actions": [{"owner": "casey", "action": "Send the notes", "due": "2026-11-25"}],
            },
        )
    )
    read = ok(audrey.get(contact_url(call)))["contact"]
    assert [f["kind"] for f in read["follow_ups"]] == [
        "referral",
        "call_back",
        "advocacy_letter",
        "multi_agency_meeting",
        "signposting",
    ]
    assert read["follow_ups"][0]["lawful_basis"] == LAWFUL_BASIS

    # The named caller is erased: their contact reads "[erased]", the rest stays, and the ledger
    # still verifies
    made(
        lee.post(
            f"/api/v1/subjects/{CALLER}/erasure",
            json={
                "kind": "contact",
                "lawful_basis": "UK GDPR Art 17(1)(a)",
                "reason": "The caller asked for their data to be erased; nothing remains open.",
            },
        )
    )
    erased = ok(lee.get(contact_url(call)))["contact"]
    assert (erased["summary"], erased["caller"]["display_name"]) == (ERASED, ERASED)
    assert erased["reviews"][0]["score"] == 100.0
    # Every text about the call goes with the caller: the reviews' rationales, the letter, the
    # meeting's record (its actions' owners too), the attempts' notes
    assert {r["rationale"] for r in erased["reviews"]} == {ERASED}
    done = {f["kind"]: f for f in erased["follow_ups"]}
    assert done["advocacy_letter"]["letter_text"] == ERASED
    assert done["multi_agency_meeting"]["meeting"]["actions"][0]["owner"] == ERASED
    assert done["call_back"]["attempts"][1]["note"] == ERASED
    assert ok(kit.get(contact_url(relay)))["contact"]["participants"][0]["name"] == "Ash"
    vigil.integrity.notary.catch_up()
    report = vigil.integrity.verify([vigil.integrity.public_key()])
    assert report.ok, report.findings
