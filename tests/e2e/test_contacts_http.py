"""Helpline contacts over real HTTP, on SQLite and PostgreSQL: a named caller's call and an
anonymous BSL relay logged, read (access-logged) by whoever may see them and by nobody else;
a case opened from a contact and another joined; a review scored against the scorecard version
in force, failed on a critical item and calibrated; feedback acknowledged, disputed and a
dispute resolved; follow-ups of every kind (a call-back with two attempts, a letter, a
multi-agency meeting, a referral refused without its lawful basis and accepted with it); a
keyed retry; the caller erased, their contacts reading "[erased]" and in their access export.
Every refusal is a problem with its status, type and detail, and the log does not grow.

The server clock starts on Tuesday 17 November 2026, 09:30 UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import pytest

from application.data_protection import add_years, anonymous_contact_ref
from domain.personal import ERASED
from domain.quality.scoring import Criterion, ScorecardVersion, in_force
from infrastructure.settings import Settings
from interfaces.composition import Vigil
from tests.conftest import Clock
from tests.e2e.support import Api, assert_problem

RESTRICTED = "self_harm_risk,harm_to_others"
CALLER = "caller-2291"
NAMED_CALL = {
    "channel": "call",
    "direction": "inbound",
    "duration_seconds": 840,
    "caller": {"anonymous": False, "ref": CALLER, "display_name": "R. Patel"},
    "category": "hate_incident",
    "summary": "Caller was spat at on the number 9 bus and wants to report it to the police.",
    "outcome": "safeguarding_concern",
}
BSL_RELAY = {
    "channel": "bsl_video",
    "direction": "inbound",
    "caller": {"anonymous": True},
    "participants": [{"role": "interpreter", "name": "Ash", "agency": "Relay UK"}],
    "category": "harassment",
    "summary": "Neighbour's harassment continuing; options explained.",
    "outcome": "information_given",
}
SCORES = {"listening": 3, "risk_asked": 1}
REVIEW = {
    "scores": SCORES,
    "feedback": "Warm and clear; you could ask about immediate risk a little sooner.",
    "rationale": "Listening was strong; one open question was missed early on.",
}
LAWFUL_BASIS = "UK GDPR Art 6(1)(e), Art 9(2)(g); DPA 2018 Sch 1 para 18"
REFERRAL = {
    "kind": "referral",
    "due_at": "2026-11-17T17:00:00+00:00",
    "detail": "Refer to the police hate crime unit: repeated assaults on the same route.",
    "agency": {"name": "Northshire Police", "kind": "police"},
    "consent": "not_sought",
    "consent_rationale": "Caller could not be reached again and the risk is ongoing.",
}


class Scorecards:
    """The scorecard history a review reads (the quality context's service in the full tree)."""

    def __init__(self, versions: Sequence[ScorecardVersion]) -> None:
        self.versions = list(versions)

    def in_force(self, at: datetime) -> ScorecardVersion | None:
        return in_force(self.versions, at)

    def default_recording(self) -> list[Any]:
        return []


SCORECARD = ScorecardVersion(
    version=1,
    name="Helpline quality",
    criteria=[
        Criterion(key="listening", label="Listens actively", weight=2, max_score=4, critical=False),
        Criterion(
            key="risk_asked",
            label="Asks about immediate risk",
            weight=1,
            max_score=1,
            critical=True,
            safeguarding=True,
        ),
    ],
    pass_mark=70,
    effective_from=datetime.fromisoformat("2026-01-01T00:00:00+00:00"),
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The product default: self-harm risk and harm to others are restricted."""
    return settings.model_copy(update={"restricted_categories": RESTRICTED})


@pytest.fixture
def vigil(vigil: Vigil) -> Vigil:
    vigil.contacts = vigil.contacts.with_scorecards(Scorecards([SCORECARD]))
    return vigil


def written(response: httpx.Response) -> dict[str, Any]:
    """A contact write that must have succeeded: 201, its position in the header and body."""
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["vigil-position"] == str(body["position"])
    assert set(body) == {"contact", "events", "position"}
    return body


class Helpline:
    """The day's people: Kit and Sam take contacts, Casey and Robin review them, Lee and Lou
    lead, Audrey audits."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.kit = api.user("kit", "volunteer")
        self.sam = api.user("sam", "volunteer")
        self.casey = api.user("casey", "coordinator")
        self.robin = api.user("robin", "coordinator")
        self.lee = api.user("lee", "safeguarding_lead")
        self.lou = api.user("lou", "safeguarding_lead")
        self.audrey = api.user("audrey", "auditor")

    def log(self, body: dict[str, Any], client: httpx.Client | None = None) -> dict[str, Any]:
        contact: dict[str, Any] = written((client or self.kit).post("/api/v1/contacts", json=body))[
            "contact"
        ]
        return contact


@pytest.fixture
def helpline(api: Api) -> Helpline:
    return Helpline(api)


def url(contact: dict[str, Any], *rest: str) -> str:
    return "/".join(["/api/v1/contacts", contact["id"], *rest])


# --- logging and reading ------------------------------------------------------------------------


def test_contacts_are_logged_on_every_channel_and_read_by_who_may_see_them(
    api: Api, helpline: Helpline
) -> None:
    answer = written(helpline.kit.post("/api/v1/contacts", json=NAMED_CALL))
    named = answer["contact"]
    assert named["handled_by"] == "kit"
    assert (named["anonymous"], named["caller_ref"], named["case_id"]) == (False, CALLER, None)
    [event] = answer["events"]
    assert event["type"] == "ContactLogged"
    assert event["summary"] == NAMED_CALL["summary"]  # the writer's own words come back
    assert "summary" not in named  # the contact in a write's answer holds no personal text
    relay = helpline.log(BSL_RELAY)
    assert relay["anonymous"]

    # The handler reads it, with its personal fields; so do a coordinator and the auditor.
    for reader in (helpline.kit, helpline.casey, helpline.audrey):
        read = reader.get(url(named))
        assert read.status_code == 200, read.text
        contact = read.json()["contact"]
        assert contact["summary"] == NAMED_CALL["summary"]
        assert contact["caller"] == NAMED_CALL["caller"]
        assert contact["erased_fields"] == []
    interpreter = helpline.kit.get(url(relay)).json()["contact"]["participants"]
    assert interpreter == [{"role": "interpreter", "name": "Ash", "agency": "Relay UK"}]

    # Another volunteer sees only their own: Kit's contact answers as a missing one.
    with api.writes_nothing():
        assert_problem(helpline.sam.get(url(named)), 404, "contact-not-found")
    missing = {"id": "00000000-0000-4000-8000-00000000dead"}
    assert_problem(helpline.casey.get(url(missing)), 404, "contact-not-found")

    # Every read is in the access log, naming the contact.
    log = helpline.lee.get("/api/v1/audit/access", params={"user": "casey"}).json()["items"]
    assert [(e["what"], e["contact_id"]) for e in log] == [("contact", named["id"])]


@pytest.mark.parametrize(
    ("change", "status", "slug", "field"),
    [
        ({"channel": "fax"}, 422, "invalid-input", "channel"),
        ({"caller": {"anonymous": True, "ref": "caller-1"}}, 422, "invalid-input", "caller"),
        ({"caller": {"anonymous": False}}, 422, "invalid-input", "caller"),
        (
            {
                "caller": {
                    "anonymous": False,
                    "ref": "anonymous:00000000-0000-4000-8000-000000000001",
                }
            },
            422,
            "invalid-input",
            "caller",
        ),
        ({"summary": ""}, 422, "invalid-input", "summary"),
        ({"duration_seconds": -5}, 422, "invalid-input", "duration_seconds"),
        ({"service": "no-such-service"}, 422, "unknown-reference", "service"),
        (
            {"case_id": "00000000-0000-4000-8000-00000000dead"},
            422,
            "unknown-reference",
            "case_id",
        ),
        ({"occurred_at": "2026-11-17T12:00:00+00:00"}, 422, "invalid-input", "occurred_at"),
    ],
)
def test_a_contact_that_cannot_be_logged_is_refused_and_nothing_is_written(
    api: Api,
    helpline: Helpline,
    change: dict[str, Any],
    status: int,
    slug: str,
    field: str,
) -> None:
    with api.writes_nothing():
        assert_problem(
            helpline.kit.post("/api/v1/contacts", json={**NAMED_CALL, **change}),
            status,
            slug,
            errors=[field],
        )


def test_an_auditor_reads_contacts_and_never_logs_one(api: Api, helpline: Helpline) -> None:
    with api.writes_nothing():
        problem = assert_problem(
            helpline.audrey.post("/api/v1/contacts", json=NAMED_CALL), 403, "not-permitted"
        )
    assert "contact.log" in problem["detail"]


def test_a_keyed_log_answers_its_retry_and_refuses_another_body(
    api: Api, helpline: Helpline
) -> None:
    headers = {"Idempotency-Key": "kit-call-1"}
    first = helpline.kit.post("/api/v1/contacts", json=NAMED_CALL, headers=headers)
    body = written(first)
    with api.writes_nothing():
        again = helpline.kit.post("/api/v1/contacts", json=NAMED_CALL, headers=headers)
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == body
        assert_problem(
            helpline.kit.post("/api/v1/contacts", json=BSL_RELAY, headers=headers),
            422,
            "idempotency-key-reused",
        )


# --- the case link ------------------------------------------------------------------------------


def test_a_contact_opens_a_case_and_another_joins_it(api: Api, helpline: Helpline) -> None:
    contact = helpline.log(NAMED_CALL)
    opening = {
        "subject": {"kind": "contact", "ref": CALLER},
        "category": "hate_incident",
        "summary": "Repeated assaults on the same bus route.",
        "risk_level": "high",
    }
    with api.writes_nothing():
        assert_problem(helpline.kit.post(url(contact, "case-link"), json={}), 422, "invalid-input")
        assert_problem(
            helpline.kit.post(
                url(contact, "case-link"), json={"open_case": {**opening, "source": "flag"}}
            ),
            422,
            "invalid-input",
            errors=["open_case"],
        )
    linked = written(helpline.kit.post(url(contact, "case-link"), json={"open_case": opening}))
    case_id = linked["contact"]["case_id"]
    assert linked["contact"]["opened_case"]
    assert [e["type"] for e in linked["events"]] == ["ContactLinkedToCase"]
    case = helpline.casey.get(f"/api/v1/cases/{case_id}").json()["case"]
    assert case["source"] == "helpline_contact"
    timeline = helpline.casey.get(f"/api/v1/cases/{case_id}/timeline").json()["events"]
    assert timeline[0]["contact_id"] == contact["id"]

    # A contact names one case.
    with api.writes_nothing():
        problem = assert_problem(
            helpline.kit.post(url(contact, "case-link"), json={"case_id": case_id}),
            409,
            "rule-violation",
        )
    assert case_id in problem["detail"]

    # A second contact from the caller joins it: the case names it.
    second = helpline.log({**NAMED_CALL, "case_id": case_id}, helpline.sam)
    assert second["case_id"] == case_id
    assert not second["opened_case"]
    timeline = helpline.casey.get(f"/api/v1/cases/{case_id}/timeline").json()["events"]
    assert (timeline[-1]["type"], timeline[-1]["contact_id"]) == ("ContactJoined", second["id"])

    # A closed case is joined by no contact.
    helpline.lee.post(
        f"/api/v1/cases/{case_id}/closure",
        json={"outcome": "Police took it on", "rationale": "Police are investigating; we close."},
    )
    third = helpline.log(BSL_RELAY)
    with api.writes_nothing():
        problem = assert_problem(
            helpline.kit.post(url(third, "case-link"), json={"case_id": case_id}),
            409,
            "rule-violation",
        )
    assert "closed" in problem["detail"]


def test_a_contact_joined_to_a_restricted_case_is_restricted_with_it(
    api: Api, helpline: Helpline
) -> None:
    case = helpline.lee.post(
        "/api/v1/cases",
        json={
            "subject": {"kind": "contact", "ref": CALLER},
            "source": "helpline_contact",
            "category": "self_harm_risk",
            "summary": "Caller spoke of ending their life after the assaults.",
        },
    ).json()["case"]
    contact = helpline.log(NAMED_CALL)
    # Kit cannot see the restricted case: it answers as a missing one.
    with api.writes_nothing():
        assert_problem(
            helpline.kit.post(url(contact, "case-link"), json={"case_id": case["id"]}),
            422,
            "unknown-reference",
            errors=["case_id"],
        )
    written(helpline.lee.post(url(contact, "case-link"), json={"case_id": case["id"]}))

    assert helpline.kit.get(url(contact)).status_code == 200  # the handler's own record
    assert helpline.audrey.get(url(contact)).status_code == 200
    with api.writes_nothing():
        assert_problem(helpline.casey.get(url(contact)), 404, "contact-not-found")
        assert_problem(
            helpline.casey.post(url(contact, "reviews"), json=REVIEW), 404, "contact-not-found"
        )


# --- review, feedback, dispute ------------------------------------------------------------------


def test_a_contact_is_reviewed_calibrated_and_the_feedback_answered(
    api: Api, helpline: Helpline, clock: Clock
) -> None:
    contact = helpline.log(NAMED_CALL)
    clock.advance(hours=3)

    # A volunteer does not review; a lead does not review a contact they handled; scores must
    # fit the version in force.
    lead = helpline.api.user("kit.lead", "safeguarding_lead")
    own = helpline.log(NAMED_CALL, lead)
    before = api.log_position()
    assert_problem(helpline.kit.post(url(contact, "reviews"), json=REVIEW), 403, "not-permitted")
    problem = assert_problem(lead.post(url(own, "reviews"), json=REVIEW), 403, "not-permitted")
    assert "handled this contact" in problem["detail"]
    for scores, field in (
        ({"listening": 3}, "scores.risk_asked"),
        ({**SCORES, "empathy": 1}, "scores.empathy"),
        ({**SCORES, "listening": 9}, "scores.listening"),
    ):
        assert_problem(
            helpline.casey.post(url(contact, "reviews"), json={**REVIEW, "scores": scores}),
            422,
            "scores-invalid",
            errors=[field],
        )
    assert api.log_position() == before

    reviewed = written(helpline.casey.post(url(contact, "reviews"), json=REVIEW))
    [event] = reviewed["events"]
    assert (event["score"], event["result"], event["calibration"]) == (83.3, "pass", False)
    assert (event["scorecard_version"], event["reviewer"]) == (1, "casey")
    review_id = event["review_id"]
    with api.writes_nothing():
        assert_problem(
            helpline.casey.post(url(contact, "reviews"), json=REVIEW), 409, "rule-violation"
        )

    # A second reviewer calibrates: this time the safeguarding question counts as missed.
    missed = {**REVIEW, "scores": {"listening": 4, "risk_asked": 0}}
    calibrated = written(helpline.robin.post(url(contact, "reviews"), json=missed))
    [second] = calibrated["events"]
    assert (second["score"], second["result"], second["calibration"]) == (66.7, "fail", True)
    assert (second["critical_failures"], second["safeguarding_fail"]) == (["risk_asked"], True)
    assert [r["calibration"] for r in calibrated["contact"]["reviews"]] == [False, True]

    # The handler acknowledges the first, once; nobody else answers it.
    ack = url(contact, "reviews", review_id, "acknowledgement")
    with api.writes_nothing():
        assert_problem(helpline.casey.post(ack, json={}), 403, "not-permitted")
        assert_problem(helpline.sam.post(ack, json={}), 404, "contact-not-found")
        assert_problem(helpline.audrey.post(ack, json={}), 403, "not-permitted")
    answered = written(helpline.kit.post(ack, json={"note": "Thanks, noted."}))
    assert answered["contact"]["reviews"][0]["feedback_status"] == "acknowledged"
    with api.writes_nothing():
        assert_problem(helpline.kit.post(ack), 409, "rule-violation")
        assert_problem(
            helpline.kit.post(
                url(contact, "reviews", review_id, "dispute"),
                json={"reason": "Having thought again I disagree with it."},
            ),
            409,
            "rule-violation",
        )
        assert_problem(
            helpline.kit.post(
                url(contact, "reviews", "00000000-0000-4000-8000-00000000dead", "acknowledgement")
            ),
            404,
            "item-not-found",
        )

    # The handler disputes the calibration; a lead other than the reviewers resolves it, once.
    second_id = second["review_id"]
    dispute = url(contact, "reviews", second_id, "dispute")
    resolution = url(contact, "reviews", second_id, "dispute", "resolution")
    ruling = {"outcome": "revised", "rationale": "The recording shows the question was asked."}
    with api.writes_nothing():
        assert_problem(helpline.lee.post(resolution, json=ruling), 409, "rule-violation")
        assert_problem(helpline.kit.post(dispute, json={"reason": "no"}), 422, "invalid-input")
    written(
        helpline.kit.post(dispute, json={"reason": "I asked about risk at the start, in words."})
    )
    with api.writes_nothing():
        assert_problem(helpline.robin.post(resolution, json=ruling), 403, "not-permitted")
    resolved = written(helpline.lee.post(resolution, json=ruling))
    assert resolved["contact"]["reviews"][1]["feedback_status"] == "revised"
    with api.writes_nothing():
        assert_problem(helpline.lou.post(resolution, json=ruling), 409, "rule-violation")

    # The contact as read: both reviews with their feedback and the handler's answers.
    read = helpline.lee.get(url(contact)).json()["contact"]
    assert [r["feedback"] for r in read["reviews"]] == [REVIEW["feedback"], REVIEW["feedback"]]
    assert read["reviews"][0]["acknowledgement_note"] == "Thanks, noted."
    assert read["reviews"][1]["resolution"] == "revised"


def test_a_lead_who_reviewed_does_not_resolve_the_dispute_of_it(
    api: Api, helpline: Helpline
) -> None:
    contact = helpline.log(NAMED_CALL)
    review_id = written(helpline.lee.post(url(contact, "reviews"), json=REVIEW))["events"][0][
        "review_id"
    ]
    written(
        helpline.kit.post(
            url(contact, "reviews", review_id, "dispute"),
            json={"reason": "I asked about risk at the start, in other words."},
        )
    )
    with api.writes_nothing():
        problem = assert_problem(
            helpline.lee.post(
                url(contact, "reviews", review_id, "dispute", "resolution"),
                json={"outcome": "upheld", "rationale": "The review stands as it was written."},
            ),
            409,
            "rule-violation",
        )
    assert "other than the reviewer" in problem["detail"]


# --- follow-ups ---------------------------------------------------------------------------------


def test_follow_ups_of_every_kind(api: Api, helpline: Helpline, clock: Clock) -> None:
    contact = helpline.log(NAMED_CALL)
    follow_ups = url(contact, "follow-ups")

    # A referral without consent is refused without its lawful basis, as a case's would be.
    case = helpline.casey.post(
        "/api/v1/cases",
        json={
            "subject": {"kind": "contact", "ref": CALLER},
            "source": "helpline_contact",
            "category": "hate_incident",
            "summary": "Repeated assaults on the same bus route.",
        },
    )
    case_id = case.json()["case"]["id"]
    with api.writes_nothing():
        on_contact = assert_problem(
            helpline.casey.post(follow_ups, json=REFERRAL), 422, "invalid-input"
        )
        on_case = assert_problem(
            helpline.casey.post(
                f"/api/v1/cases/{case_id}/referrals",
                json={
                    **{k: v for k, v in REFERRAL.items() if k not in ("kind", "due_at", "detail")},
                    "reason": "Repeated assaults on the same route: police must know.",
                },
            ),
            422,
            "invalid-input",
        )
    needs = "a referral with consent 'not_sought' needs lawful_basis"
    assert needs in on_contact["detail"]
    assert needs in on_case["detail"]
    referral = written(
        helpline.casey.post(follow_ups, json={**REFERRAL, "lawful_basis": LAWFUL_BASIS})
    )
    assert referral["events"][0]["lawful_basis"] == LAWFUL_BASIS

    # Volunteers do not schedule; a due time before now is refused; the assignee must exist.
    call_back = {
        "kind": "call_back",
        "due_at": "2026-11-18T10:00:00+00:00",
        "assignee": "kit",
        "detail": "Call back after the police visit.",
    }
    with api.writes_nothing():
        assert_problem(helpline.kit.post(follow_ups, json=call_back), 403, "not-permitted")
        assert_problem(
            helpline.casey.post(
                follow_ups, json={**call_back, "due_at": "2026-11-17T08:00:00+00:00"}
            ),
            422,
            "invalid-input",
            errors=["due_at"],
        )
        assert_problem(
            helpline.casey.post(follow_ups, json={**call_back, "assignee": "nobody"}),
            422,
            "invalid-input",
            errors=["assignee"],
        )
    scheduled = written(helpline.casey.post(follow_ups, json=call_back))
    call_back_id = scheduled["events"][0]["follow_up_id"]

    # The assignee's two attempts; Sam cannot even see the contact.
    attempts = url(contact, "follow-ups", call_back_id, "attempts")
    clock.set(datetime.fromisoformat("2026-11-18T10:05:00+00:00"))
    with api.writes_nothing():
        assert_problem(
            helpline.sam.post(attempts, json={"outcome": "reached"}), 404, "contact-not-found"
        )
        assert_problem(helpline.kit.post(attempts, json={"outcome": "lost"}), 422, "invalid-input")
    written(helpline.kit.post(attempts, json={"outcome": "no_answer"}))
    clock.advance(hours=2)
    written(helpline.kit.post(attempts, json={"outcome": "reached", "note": "Caller is safe."}))
    completion = url(contact, "follow-ups", call_back_id, "completion")
    with api.writes_nothing():
        assert_problem(
            helpline.kit.post(completion, json={"outcome": "Done", "letter_text": "Dear..."}),
            422,
            "invalid-input",
            errors=["letter_text"],
        )
    done = written(helpline.kit.post(completion, json={"outcome": "Caller safe; police visited."}))
    [item] = [f for f in done["contact"]["follow_ups"] if f["follow_up_id"] == call_back_id]
    assert [a["outcome"] for a in item["attempts"]] == ["no_answer", "reached"]
    with api.writes_nothing():
        assert_problem(
            helpline.kit.post(completion, json={"outcome": "Again"}), 409, "rule-violation"
        )
        assert_problem(
            helpline.kit.post(attempts, json={"outcome": "reached"}), 409, "rule-violation"
        )
        assert_problem(
            helpline.kit.post(
                url(contact, "follow-ups", "00000000-0000-4000-8000-00000000dead", "attempts"),
                json={"outcome": "reached"},
            ),
            404,
            "item-not-found",
        )

    # An advocacy letter is completed with its text; a meeting with its record.
    letter_id = written(
        helpline.casey.post(
            follow_ups,
            json={
                "kind": "advocacy_letter",
                "due_at": "2026-11-20T17:00:00+00:00",
                "detail": "Letter to the bus company about the driver's response.",
            },
        )
    )["events"][0]["follow_up_id"]
    letter = url(contact, "follow-ups", letter_id, "completion")
    with api.writes_nothing():
        assert_problem(
            helpline.casey.post(letter, json={"outcome": "Sent"}),
            422,
            "invalid-input",
            errors=["letter_text"],
        )
    written(
        helpline.casey.post(
            letter,
            json={
                "outcome": "Sent",
                "letter_text": "Dear Northshire Buses, we write on behalf of...",
            },
        )
    )
    meeting_id = written(
        helpline.casey.post(
            follow_ups,
            json={
                "kind": "multi_agency_meeting",
                "due_at": "2026-11-24T10:00:00+00:00",
                "detail": "Meeting with police and the housing officer.",
            },
        )
    )["events"][0]["follow_up_id"]
    meeting = {
        "outcome": "Held; actions agreed.",
        "attendees": [{"name": "PC Lowe", "agency": "Northshire Police"}],
        "decisions": ["Police to patrol the route at school times."],
        "actions": [{"owner": "Northshire Police", "action": "Patrol", "due": "2026-11-30"}],
    }
    with api.writes_nothing():
        assert_problem(
            helpline.casey.post(
                url(contact, "follow-ups", meeting_id, "completion"), json={"outcome": "Held"}
            ),
            422,
            "invalid-input",
            errors=["attendees", "decisions"],
        )
    written(helpline.casey.post(url(contact, "follow-ups", meeting_id, "completion"), json=meeting))

    # Signposting, and the contact as read with every follow-up's detail.
    written(
        helpline.casey.post(
            follow_ups,
            json={
                "kind": "signposting",
                "due_at": "2026-11-19T10:00:00+00:00",
                "detail": "Send details of the local victim support service.",
            },
        )
    )
    read = helpline.casey.get(url(contact)).json()["contact"]
    kinds = [f["kind"] for f in read["follow_ups"]]
    assert kinds == [
        "referral",
        "call_back",
        "advocacy_letter",
        "multi_agency_meeting",
        "signposting",
    ]
    by_kind = {f["kind"]: f for f in read["follow_ups"]}
    assert by_kind["call_back"]["attempts"][1]["note"] == "Caller is safe."
    assert by_kind["advocacy_letter"]["letter_text"].startswith("Dear Northshire Buses")
    assert by_kind["multi_agency_meeting"]["meeting"]["decisions"] == meeting["decisions"]
    assert by_kind["referral"]["agency"] == REFERRAL["agency"]


# --- erasure ------------------------------------------------------------------------------------


def test_erasing_a_named_caller_erases_their_contacts_and_the_ledger_verifies(
    api: Api, helpline: Helpline, vigil: Vigil
) -> None:
    contact = helpline.log(NAMED_CALL)
    written(helpline.casey.post(url(contact, "reviews"), json=REVIEW))
    relay = helpline.log(BSL_RELAY)

    export = helpline.lee.get(f"/api/v1/subjects/{CALLER}/sar-export", params={"kind": "contact"})
    assert export.status_code == 200, export.text
    [subject] = export.json()["subjects"]
    assert [c["id"] for c in subject["contacts"]] == [contact["id"]]
    assert subject["contacts"][0]["summary"] == NAMED_CALL["summary"]

    erased = helpline.lee.post(
        f"/api/v1/subjects/{CALLER}/erasure",
        json={
            "kind": "contact",
            "lawful_basis": "UK GDPR Art 17(1)(a)",
            "reason": "The caller asked for their data to be erased; nothing remains open.",
        },
    )
    assert erased.status_code == 201, erased.text
    assert erased.json()["contact_ids"] == [contact["id"]]
    assert erased.json()["erasure"]["contact_ids"] == [contact["id"]]

    read = helpline.lee.get(url(contact)).json()["contact"]
    assert (read["summary"], read["caller"]["display_name"]) == (ERASED, ERASED)
    assert set(read["erased_fields"]) == {"summary", "caller.display_name"}
    assert read["reviews"][0]["feedback"] == ERASED
    assert read["reviews"][0]["score"] == 83.3
    assert helpline.kit.get(url(relay)).json()["contact"]["summary"] == BSL_RELAY["summary"]
    [subject] = helpline.lee.get(
        f"/api/v1/subjects/{CALLER}/sar-export", params={"kind": "contact"}
    ).json()["subjects"]
    assert subject["contacts"][0]["summary"] == ERASED

    vigil.integrity.notary.catch_up()
    report = vigil.integrity.verify([vigil.integrity.public_key()])
    assert report.ok, report.findings


def test_the_contact_routes_are_in_the_contract(api: Api) -> None:
    paths = api.client().get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/contacts",
        "/api/v1/contacts/{contact_id}",
        "/api/v1/contacts/{contact_id}/case-link",
        "/api/v1/contacts/{contact_id}/reviews",
        "/api/v1/contacts/{contact_id}/reviews/{review_id}/acknowledgement",
        "/api/v1/contacts/{contact_id}/reviews/{review_id}/dispute",
        "/api/v1/contacts/{contact_id}/reviews/{review_id}/dispute/resolution",
        "/api/v1/contacts/{contact_id}/follow-ups",
        "/api/v1/contacts/{contact_id}/follow-ups/{follow_up_id}/attempts",
        "/api/v1/contacts/{contact_id}/follow-ups/{follow_up_id}/completion",
    ):
        assert path in paths, path
    review = paths["/api/v1/contacts/{contact_id}/reviews"]["post"]
    assert review["x-allowed-roles"] == ["coordinator", "safeguarding_lead"]


def test_two_attempts_logged_late_at_the_same_minute_keep_their_own_notes(
    api: Api, helpline: Helpline, clock: Clock
) -> None:
    contact = helpline.log(NAMED_CALL)
    follow_up = written(
        helpline.casey.post(
            url(contact, "follow-ups"),
            json={
                "kind": "call_back",
                "due_at": "2026-11-17T15:00:00+00:00",
                "assignee": "kit",
                "detail": "Call back after the police have been.",
            },
        )
    )["events"][0]["follow_up_id"]
    clock.advance(hours=2)
    attempts = url(contact, "follow-ups", follow_up, "attempts")
    same_minute = "2026-11-17T10:00:00+00:00"
    for outcome, note in (("no_answer", "Rang twice."), ("left_message", "Left a message.")):
        written(
            helpline.kit.post(
                attempts, json={"outcome": outcome, "note": note, "occurred_at": same_minute}
            )
        )
    [read] = helpline.kit.get(url(contact)).json()["contact"]["follow_ups"]
    assert [(a["outcome"], a["note"]) for a in read["attempts"]] == [
        ("no_answer", "Rang twice."),
        ("left_message", "Left a message."),
    ]


# --- retention and erasure of an anonymous contact ----------------------------------------------


def test_an_anonymous_contact_is_erased_by_a_lead_or_by_retention_and_reads_erased(
    api: Api, helpline: Helpline, vigil: Vigil, clock: Clock
) -> None:
    asked = helpline.log(BSL_RELAY)
    kept = helpline.log(BSL_RELAY)
    ref = anonymous_contact_ref(UUID(asked["id"]))
    erasure = {
        "kind": "contact",
        "lawful_basis": "UK GDPR Art 17(1)(a)",
        "reason": "The relay's caller asked for the chat to be erased.",
    }

    with api.writes_nothing():
        assert_problem(
            helpline.kit.post(f"/api/v1/subjects/{ref}/erasure", json=erasure), 403, "not-permitted"
        )
    answer = helpline.lee.post(f"/api/v1/subjects/{ref}/erasure", json=erasure)

    assert answer.status_code == 201, answer.text
    assert (answer.json()["case_ids"], answer.json()["keys_destroyed"]) == ([], 1)
    read = helpline.lee.get(url(asked)).json()["contact"]
    assert (read["summary"], "summary" in read["erased_fields"]) == (ERASED, True)
    assert helpline.lee.get(url(kept)).json()["contact"]["summary"] == BSL_RELAY["summary"]

    clock.set(add_years(clock(), 6))  # the default contact period, from when it occurred
    [done] = vigil.data_protection.apply_retention()

    assert done.subject.ref == anonymous_contact_ref(UUID(kept["id"]))
    read = helpline.lee.get(url(kept)).json()["contact"]
    assert (read["summary"], "summary" in read["erased_fields"]) == (ERASED, True)
    vigil.integrity.notary.catch_up()
    report = vigil.integrity.verify([vigil.integrity.public_key()])
    assert report.ok, report.findings
