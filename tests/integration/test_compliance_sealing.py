"""The compliance records' free text is sealed, on SQLite and PostgreSQL: a serious-incident
rationale and a breach explanation (case and contact) are readable on their record, never in
the store in plaintext, and read as erased once their data subject is erased; what is not
personal (the decision, the regulator, the grounds, the clock, the cause) stays readable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from domain.case import commands as c
from domain.case.events import SeriousIncidentAssessed, SeriousIncidentReported, SlaBreachExplained
from domain.case.ids import event_id_for
from domain.case.vocabulary import CaseSource, Category, Regulator, SubjectKind
from domain.contact import commands as cc
from domain.contact.events import ContactSlaBreachExplained
from domain.personal import ERASED
from domain.shared import Actor, Role
from domain.sla_clocks import BreachCause, SlaClock
from domain.subject.subject import EraseSubject
from interfaces.composition import Vigil
from tests.conftest import Clock
from tests.story import COORDINATOR, LEAD

REF = "forum-member-9191"
CALLER = "caller-5150"
RATIONALE = "Member was assaulted after meeting another member (thornquist); police attended."
EXPLANATION = "Flag sat unseen overnight while Marlowe's shift was short (wintergreen)."
ACTION = "Add a second overnight moderator on Fridays (saltmarsh)."
CONTACT_EXPLANATION = "The call-back to Ottoline slipped a day (brindlewood)."
KIT = Actor(username="kit", role=Role.VOLUNTEER)


def stored_text(vigil: Vigil, needle: str) -> bool:
    recorder = vigil.event_log.recorder
    return any(needle.encode() in bytes(n.state) for n in recorder.select_notifications(1, 10_000))


def a_closed_case_with_its_decisions(vigil: Vigil, clock: Clock) -> UUID:
    opened = c.OpenCase(
        subject={"kind": "member", "ref": REF, "display_name": "Marlowe Finch"},
        source=CaseSource.FLAG,
        category=Category.HARM_TO_OTHERS,
        summary="Member reported an assault after a meet-up.",
    )
    case_id = vigil.cases.execute(None, opened, COORDINATOR).state.id
    clock.advance(minutes=30)
    vigil.cases.execute(
        case_id, c.CloseCase(outcome="Referred", rationale="Police now lead; nothing open."), LEAD
    )
    clock.advance(days=2)
    assessed = vigil.cases.execute(
        case_id,
        c.AssessSeriousIncident(
            reportable=True,
            regulator=Regulator.CHARITY_COMMISSION,
            grounds=["harm_to_beneficiary", "police_involvement"],
            rationale=RATIONALE,
        ),
        LEAD,
    ).events[0]
    assert isinstance(assessed, SeriousIncidentAssessed)
    vigil.cases.execute(
        case_id,
        c.ReportSeriousIncident(assessment_id=assessed.assessment_id, reference="CC-77"),
        LEAD,
    )
    vigil.cases.execute(
        case_id,
        c.ExplainSlaBreach(
            clock=SlaClock.FIRST_ACTION,
            item_id=event_id_for(case_id, 1),
            cause=BreachCause.STAFFING,
            explanation=EXPLANATION,
            action=ACTION,
        ),
        LEAD,
    )
    return case_id


def test_case_compliance_text_is_sealed_and_erased_with_the_subject(
    vigil: Vigil, clock: Clock
) -> None:
    case_id = a_closed_case_with_its_decisions(vigil, clock)

    for secret in ("thornquist", "wintergreen", "saltmarsh"):
        assert not stored_text(vigil, secret), secret
    timeline = vigil.cases.timeline(case_id)
    assessed, reported, explained = timeline[-3:]
    assert isinstance(assessed, SeriousIncidentAssessed)
    assert assessed.rationale == RATIONALE
    assert isinstance(reported, SeriousIncidentReported)
    assert reported.reference == "CC-77"
    assert isinstance(explained, SlaBreachExplained)
    assert (explained.explanation, explained.action) == (EXPLANATION, ACTION)
    [incident] = vigil.cases.get(case_id).serious_incidents.values()
    assert incident.reported_at == reported.occurred_at

    clock.advance(minutes=5)
    vigil.data_protection.erase(
        REF,
        EraseSubject(
            kind=SubjectKind.MEMBER,
            lawful_basis="UK GDPR Art 17(1)(a)",
            reason="The member asked for their data to be erased; no concern remains open.",
        ),
        LEAD,
    )

    assessed, reported, explained, _erased = vigil.cases.timeline(case_id)[-4:]
    assert isinstance(assessed, SeriousIncidentAssessed)
    assert assessed.rationale == ERASED
    # The decision itself is the trail's, not the subject's: it outlives the erasure.
    assert (assessed.reportable, assessed.regulator) == (True, Regulator.CHARITY_COMMISSION)
    assert isinstance(reported, SeriousIncidentReported)
    assert reported.reference == "CC-77"
    assert isinstance(explained, SlaBreachExplained)
    assert (explained.explanation, explained.action) == (ERASED, ERASED)
    assert (explained.clock, explained.cause) == (SlaClock.FIRST_ACTION, BreachCause.STAFFING)


def test_a_contacts_breach_explanation_is_sealed_under_the_caller_and_erased_with_them(
    vigil: Vigil, clock: Clock
) -> None:
    vigil.identity.register("kit", Role.VOLUNTEER, actor="cli")
    logged = cc.LogContact.model_validate(
        {
            "channel": "call",
            "direction": "inbound",
            "caller": {"anonymous": False, "ref": CALLER, "display_name": "Ottoline Vane"},
            "category": "harassment",
            "summary": "Neighbour's harassment continuing.",
            "outcome": "safeguarding_concern",
        }
    )
    contact_id = vigil.contacts.log(logged, KIT).state.id
    clock.advance(hours=1)
    follow_up = vigil.contacts.execute(
        contact_id,
        cc.ScheduleFollowUp(
            kind="call_back",
            due_at=clock() + timedelta(hours=4),
            assignee="kit",
            detail="Call back after the housing officer's visit.",
        ),
        COORDINATOR,
    ).events[-1]
    clock.advance(days=1)
    explained: Any = vigil.contacts.execute(
        contact_id,
        cc.ExplainContactSlaBreach(
            clock=SlaClock.FOLLOW_UP,
            item_id=follow_up.follow_up_id,  # type: ignore[attr-defined]
            cause=BreachCause.VOLUME,
            explanation=CONTACT_EXPLANATION,
            action=ACTION,
        ),
        LEAD,
    ).events[-1]
    assert isinstance(explained, ContactSlaBreachExplained)

    assert not stored_text(vigil, "brindlewood")
    read = vigil.contacts.read(LEAD, contact_id).events[-1]
    assert isinstance(read, ContactSlaBreachExplained)
    assert read.explanation == CONTACT_EXPLANATION

    vigil.data_protection.erase(
        CALLER,
        EraseSubject(
            kind=SubjectKind.CONTACT,
            lawful_basis="UK GDPR Art 17(1)(a)",
            reason="The caller asked for their data to be erased; no concern remains open.",
        ),
        LEAD,
    )

    read = vigil.contacts.read(LEAD, contact_id).events[-1]
    assert isinstance(read, ContactSlaBreachExplained)
    assert (read.explanation, read.action) == (ERASED, ERASED)
    assert (read.clock, read.item_id) == (SlaClock.FOLLOW_UP, follow_up.follow_up_id)  # type: ignore[attr-defined]
