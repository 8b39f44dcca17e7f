"""What a write answers, over real HTTP: where the case stands after it, never what the case says.

A write's answer is not an access-logged read, so it must carry nothing a read would log: no
subject, no summary, no referral details, whoever writes (a volunteer on an ordinary case, the
assignee of a restricted one) and through every case write route. Reading the case still shows
all of it, and that read is logged.
"""

from __future__ import annotations

from typing import Any, get_args

import httpx
import pytest
from pydantic import BaseModel

from infrastructure.settings import Settings
from interfaces.http.schemas import (
    CONTENT_FIELDS,
    MEMBER_REFERENCES,
    REFERRAL_DETAILS,
    SERIOUS_INCIDENT_DETAILS,
    CaseRead,
    CaseStateRead,
    ReferralRead,
    ReferralStateRead,
)
from tests.e2e.support import (
    APPROVE,
    BAN,
    COMMUNITY_GUIDELINES,
    OUT_OF_HOURS_POLICY,
    SELF_HARM_POST,
    Api,
    created,
    open_case,
)

# What the case says, written by its opener and by the referrer: none of it may come back in
# anyone else's write answer.
DISPLAY_NAME = "Quillon Obsidianwick"
SUMMARY = "Said in the diabetes forum that they have stopped taking insulin on purpose."
AGENCY = "Northshire Police Vulnerability Unit"
REFERENCE = "NP-OBSIDIANWICK-77"
LAWFUL_BASIS = "UK GDPR Art 6(1)(d) vital interests, relied on for Quillon"
CONTENT = (DISPLAY_NAME, "Quillon", SUMMARY, "insulin", AGENCY, REFERENCE, LAWFUL_BASIS)
POST = {
    **SELF_HARM_POST,
    "subject": {"kind": "member", "ref": "forum-member-5150", "display_name": DISPLAY_NAME},
    "summary": SUMMARY,
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The product default: self-harm risk and harm to others are restricted."""
    return settings.model_copy(update={"restricted_categories": "self_harm_risk,harm_to_others"})


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def access_log(client: httpx.Client, case_id: str) -> list[dict[str, Any]]:
    page = ok(client.get("/api/v1/audit/access", params={"case_id": case_id, "limit": 200}))
    assert page["next_cursor"] is None
    items: list[dict[str, Any]] = page["items"]
    return items


def shows_no_content(answer: dict[str, Any]) -> None:
    """Nothing the case says, in the whole answer (events included: they are the writer's own,
    and none of these writers wrote any of it)."""
    text = str(answer)
    assert not [c for c in CONTENT if c in text], answer
    assert "subject" not in answer["case"]
    assert "summary" not in answer["case"]
    # nor the member a sanction or a held ban names (the case's own events may)
    assert "target_ref" not in str(answer["case"]), answer["case"]


def test_no_write_answers_what_the_case_says(api: Api) -> None:
    vic = api.user("vic", "volunteer")
    mo = api.user("mo", "moderator")
    casey = api.user("casey", "coordinator")
    priya = api.user("priya", "safeguarding_lead")
    lee = api.user("lee", "safeguarding_lead")
    auditor = api.user("aud", "auditor")
    api.user("ash", "coordinator")

    # Given an ordinary (unrestricted) case with a name and a summary, referred to the police
    opened = created(
        casey.post(
            "/api/v1/cases",
            json={**POST, "category": "harassment", "occurred_at": "2026-11-16T23:00:00Z"},
        )
    )
    case = opened["case"]["id"]
    base = f"/api/v1/cases/{case}"
    assert "summary" not in opened["case"]  # even its opener gets where it stands, not what
    referred = created(
        casey.post(
            f"{base}/referrals",
            json={
                "agency": {"name": AGENCY, "kind": "police"},
                "reason": "Welfare check requested: member not answering.",
                "consent": "not_sought",
                "consent_rationale": "Asking would delay help to someone at risk tonight.",
                "lawful_basis": LAWFUL_BASIS,
                "reference": REFERENCE,
            },
        )
    )
    # the referrer's own event carries what they wrote; the case in the answer does not
    assert referred["events"][0]["reference"] == REFERENCE
    assert [c for c in CONTENT if c in str(referred["case"])] == []
    (referral,) = referred["case"]["referrals"]
    assert (referral["agency_kind"], referral["status"]) == ("police", "awaiting_acknowledgement")
    referral_id = referral["referral_id"]

    def write(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = created(client.post(f"{base}{path}", json=body))
        shows_no_content(answer)
        return answer

    # When everyone writes on it, through every case write route
    flag = write(vic, "/flags", {"reason": "Worrying reply in the thread", "category": "other"})
    assert flag["case"]["flags"]["count"] == 1  # where the case stands is still there
    note = write(vic, "/notes", {"kind": "fact", "text": "Replied with the helpline number."})
    write(mo, "/risk-assessments", {"level": "high", "rationale": "Stated intent and means."})
    write(
        mo,
        "/moderation-actions",
        {
            "action": "hide_content",
            "target_ref": "post-1",
            "rationale": "Hidden while the team looks.",
            "policy_ref": COMMUNITY_GUIDELINES,
        },
    )
    escalation = write(
        vic, "/escalations", {"level": 1, "reason": "Needs a coordinator now", "urgency": "urgent"}
    )
    escalation_id = escalation["events"][0]["escalation_id"]
    write(casey, f"/escalations/{escalation_id}/acknowledgements", {"note": "On it."})
    write(
        casey,
        f"/escalations/{escalation_id}/resolutions",
        {"outcome": "Spoke to the member", "rationale": "Agreed a plan for the night."},
    )
    night = write(
        casey,
        "/out-of-hours-decisions",
        {
            "decision": "Asked the member to call 111 tonight",
            "rationale": "Risk judged manageable until morning.",
            "policy_ref": OUT_OF_HOURS_POLICY,
            "occurred_at": "2026-11-16T23:10:00Z",
        },
    )
    decision_id = night["events"][0]["decision_id"]
    write(
        priya,
        f"/out-of-hours-decisions/{decision_id}/reviews",
        {"outcome": "ratified", "rationale": "The right call with what was known."},
    )
    write(casey, f"/referrals/{referral_id}/updates", {"status": "acknowledged"})
    write(
        priya,
        f"/referrals/{referral_id}/reviews",
        {"outcome": "ratified", "rationale": "A risk to life: sharing was necessary."},
    )
    ban = write(mo, "/moderation-actions", BAN)
    approval_id = ban["events"][0]["approval_id"]
    write(lee, f"/approvals/{approval_id}/decisions", APPROVE)
    write(casey, "/assignments", {"assignee": "ash"})
    write(
        vic,
        "/corrections",
        {
            "corrects_event_id": note["events"][0]["event_id"],
            "correction": "It was the crisis line number.",
            "reason": "Wrote the wrong number down.",
        },
    )
    write(casey, "/closure", {"outcome": "Member safe", "rationale": "Plan in place, reviewed."})
    write(casey, "/reopening", {"reason": "A new post worries the team again."})

    # Then no write showed any of it, so none was logged as read
    assert access_log(auditor, case) == []

    # And a read still shows all of it, and is logged
    read = ok(casey.get(base))["case"]
    assert (read["subject"]["display_name"], read["summary"]) == (DISPLAY_NAME, SUMMARY)
    assert read["referrals"][0]["reference"] == REFERENCE
    assert [(e["username"], e["what"]) for e in access_log(auditor, case)] == [("casey", "case")]


def test_the_assignee_of_a_restricted_case_gets_no_content_back_from_a_write(api: Api) -> None:
    priya = api.user("priya", "safeguarding_lead")
    ash = api.user("ash", "coordinator")
    auditor = api.user("aud", "auditor")
    # Given a self-harm case (restricted) assigned to Ash
    case = open_case(priya, **{k: v for k, v in POST.items() if k != "category"})["id"]
    base = f"/api/v1/cases/{case}"
    created(priya.post(f"{base}/assignments", json={"assignee": "ash"}))

    # When Ash, who may read all of it, raises a flag and writes a note
    flag = created(
        ash.post(f"{base}/flags", json={"reason": "Another worrying post", "category": "other"})
    )
    note = created(ash.post(f"{base}/notes", json={"kind": "fact", "text": "Called back."}))

    # Then the answers say where the case stands and nothing it says, and nothing was logged
    for answer in (flag, note):
        shows_no_content(answer)
        assert (answer["case"]["assignee"], answer["case"]["category"]) == (
            "ash",
            "self_harm_risk",
        )
    assert access_log(auditor, case) == []


def test_a_field_added_to_the_case_is_left_out_of_write_answers_until_someone_decides() -> None:
    """The write answer's case is an allow-list: a new field of the case (read) fails this until
    it is either added to the write answer (it says nothing about the person) or named as
    content."""
    read = set(CaseRead.model_fields)
    assert set(CaseStateRead.model_fields) == read - CONTENT_FIELDS
    referral = set(ReferralRead.model_fields)
    assert set(ReferralStateRead.model_fields) == referral - REFERRAL_DETAILS | {"agency_kind"}


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation holds (X, list[X], X | None, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in models_in(arg)]


def fields_of(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every field of a model, and its nested models' as `field.name` (`field[].name` in a
    list)."""
    names = set()
    for name, info in model.model_fields.items():
        names.add(prefix + name)
        mark = "" if models_in(info.annotation) == [info.annotation] else "[]"
        for inner in models_in(info.annotation):
            names |= fields_of(inner, f"{prefix}{name}{mark}.")
    return names


def test_nothing_nested_in_a_write_answer_names_the_member() -> None:
    """The allow-list goes down into the case's lists: a sanction or an approval in a write
    answer carries no `target_ref` (a member's reference: content, shown by a logged read)."""
    left_out = {
        *CONTENT_FIELDS,
        *(f"referrals[].{name}" for name in REFERRAL_DETAILS),
        *(f"serious_incidents[].{name}" for name in SERIOUS_INCIDENT_DETAILS),
        *(f"{field}[].{name}" for field, names in MEMBER_REFERENCES.items() for name in names),
    }
    assert {"sanctions[].target_ref", "approvals[].target_ref"} <= left_out
    shown = {
        name
        for name in fields_of(CaseRead)
        if not any(name == out or name.startswith(f"{out}.") for out in left_out)
    }
    assert fields_of(CaseStateRead) == shown | {"referrals[].agency_kind"}
