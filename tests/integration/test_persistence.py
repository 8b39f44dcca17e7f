"""How events are stored: topics, the JSON written, reading back, and which fields are personal.

Event classes are the storage format, so these tests pin it: a rename, a move or a new
unmarked free-text field fails here before it reaches a store.
"""

from __future__ import annotations

import sqlite3
import types
import typing
from datetime import datetime, timedelta
from typing import Annotated, Any, Union, get_args, get_origin
from uuid import UUID

import orjson
import psycopg
import pytest
from pydantic import BaseModel

from domain.case import events as e
from domain.case.commands import AssessSeriousIncident, ExplainSlaBreach, ReportSeriousIncident
from domain.case.state import fold
from domain.case.vocabulary import Consent, ModerationAction, NoteKind, ReferralUpdateStatus
from domain.contact.commands import LogContact
from domain.identity import events as identity_events
from domain.shared import PolicyRef, personal_fields
from domain.subject.subject import EraseSubject
from infrastructure.persistence import (
    is_postgres,
    postgres_conninfo,
    recorder_env,
)
from interfaces.composition import Vigil
from tests.conftest import Clock
from tests.story import (
    COORDINATOR,
    LEAD,
    MODERATOR,
    OTHER_LEAD,
    acknowledge,
    add_note,
    assess_risk,
    assign,
    close,
    correct,
    decide_approval,
    escalate,
    moderate,
    ooh_decision,
    open_case,
    raise_flag,
    refer,
    reopen,
    resolve,
    review,
    review_referral,
    suspend,
    update_referral,
)

# --- a case touching every event class, written through the service -------------------------


def _every_event(vigil: Vigil, clock: Clock) -> UUID:
    clock.set(clock() - timedelta(hours=11))  # Monday 22:30: out of hours
    vigil.identity.register("lee", LEAD.role, actor="admin")
    case_id = vigil.cases.execute(None, open_case(), COORDINATOR).state.id
    run = vigil.cases.execute

    def step(command: Any, by: Any = COORDINATOR) -> e.CaseEvent:
        clock.advance(minutes=5)
        return run(case_id, command, by).events[0]

    decision = step(ooh_decision())
    clock.set(clock() + timedelta(hours=10))
    step(raise_flag(note="Has posted like this before"), MODERATOR)
    step(assess_risk())
    step(assign("lee"))
    step(suspend(hours=12), MODERATOR)
    step(moderate(ModerationAction.REINSTATE_MEMBER, "member-4411"), MODERATOR)
    step(review(decision.event_id), LEAD)
    referral = step(refer())
    step(update_referral(referral.event_id, ReferralUpdateStatus.ACKNOWLEDGED, note="Called"))
    escalation = step(escalate())
    step(acknowledge(escalation.event_id, note="Looking now"), LEAD)
    step(resolve(escalation.event_id), LEAD)
    note = step(add_note(NoteKind.ASSESSMENT))
    step(correct(note.event_id))
    clock.advance(minutes=5)
    vigil.contacts.log(  # a helpline contact joins the case: ContactJoined
        LogContact.model_validate(
            {
                "channel": "call",
                "direction": "inbound",
                "caller": {"anonymous": True},
                "category": "self_harm_risk",
                "summary": "A friend of the member rang, worried about the same post.",
                "outcome": "safeguarding_concern",
                "case_id": str(case_id),
            }
        ),
        COORDINATOR,
    )
    emergency = step(refer(Consent.NOT_SOUGHT))
    step(review_referral(emergency.event_id), LEAD)
    ban = step(moderate(ModerationAction.BAN_MEMBER, "member-4411"), MODERATOR)
    step(decide_approval(ban.event_id), LEAD)  # four-eyes: the ban takes effect
    sign_off = step(close(), LEAD)  # the risk is critical: a sign-off
    step(decide_approval(sign_off.event_id), OTHER_LEAD)
    step(reopen(), LEAD)
    assessed = step(
        AssessSeriousIncident(
            reportable=True,
            regulator="charity_commission",
            grounds=["harm_to_beneficiary"],
            rationale="The member was at risk of serious harm and the police attended.",
        ),
        LEAD,
    )
    step(ReportSeriousIncident(assessment_id=assessed.event_id, reference="CC-1"), LEAD)
    step(
        ExplainSlaBreach(
            clock="escalation_acknowledged",
            item_id=escalation.event_id,
            cause="staffing",
            explanation="The lead on call was on another case for an hour.",
            action="A second lead is on call at weekends.",
        ),
        LEAD,
    )
    clock.advance(minutes=5)
    subject = vigil.cases.get(case_id).subject
    vigil.data_protection.erase(  # PersonalDataErased, last: every personal field then erased
        subject.ref,
        EraseSubject(
            kind=subject.kind,
            lawful_basis="UK GDPR Art 17(1)(a)",
            reason="The member asked for erasure; the concern is resolved.",
        ),
        LEAD,
    )
    return case_id


def _raw_rows(vigil: Vigil, case_id: UUID) -> list[tuple[str, bytes]]:
    """(topic, state) of the case's rows, read with plain SQL, not through the library."""
    recorder: Any = vigil.event_log.recorder
    table = recorder.events_table_name
    env = recorder_env(vigil.settings)
    url = vigil.settings.resolved_database_url
    if is_postgres(url):
        with psycopg.connect(postgres_conninfo(url)) as conn:
            rows = conn.execute(
                f'SELECT topic, state FROM "{env["POSTGRES_SCHEMA"]}"."{table}" '
                "WHERE originator_id = %s ORDER BY originator_version",
                (case_id,),
            ).fetchall()
    else:
        with sqlite3.connect(env["SQLITE_DBNAME"]) as conn:
            rows = conn.execute(
                f"SELECT topic, state FROM {table} "
                "WHERE originator_id = ? ORDER BY originator_version",
                (case_id.hex,),
            ).fetchall()
    return [(topic, bytes(state)) for topic, state in rows]


def test_events_are_stored_under_stable_topics_as_json(vigil: Vigil, clock: Clock) -> None:
    case_id = _every_event(vigil, clock)
    timeline = vigil.cases.timeline(case_id)

    rows = _raw_rows(vigil, case_id)

    assert [topic for topic, _ in rows] == [
        f"domain.case.events:{type(x).__name__}" for x in timeline
    ]
    assert {topic.split(":")[1] for topic, _ in rows} == set(e.EVENT_TYPES)
    for (_, state), event in zip(rows, timeline, strict=True):
        stored = orjson.loads(state)
        assert stored["actor"] == event.actor
        assert stored["actor_role"] == event.actor_role.value
        assert stored["originator_version"] == event.originator_version
        assert UUID(stored["event_id"]) == event.event_id
        for clock_field in ("occurred_at", "recorded_at"):
            written = datetime.fromisoformat(stored[clock_field])
            assert written.utcoffset() is not None  # always with an offset
            assert written == getattr(event, clock_field)


def test_stored_events_read_back_equal(vigil: Vigil, clock: Clock) -> None:
    case_id = _every_event(vigil, clock)
    timeline = vigil.cases.timeline(case_id)
    mapper = vigil.event_log.mapper  # seals personal fields with the store's subject keys

    for event in timeline:
        stored = mapper.to_stored_event(event)  # type: ignore[arg-type]
        assert mapper.to_domain_event(stored) == event
    assert fold(None, timeline) == vigil.cases.get(case_id)


def test_a_late_logged_event_keeps_both_clocks_through_storage(vigil: Vigil, clock: Clock) -> None:
    case_id = vigil.cases.execute(None, open_case(), COORDINATOR).state.id
    clock.advance(hours=5)
    happened = clock() - timedelta(hours=4)

    written = vigil.cases.execute(case_id, add_note(occurred_at=happened), COORDINATOR)

    [_, note] = vigil.cases.timeline(case_id)
    assert note == written.events[0]
    assert (note.occurred_at, note.recorded_at) == (happened, clock())


# --- personal data ----------------------------------------------------------------------------

PERSONAL: dict[type[BaseModel], set[str]] = {
    e.CaseOpened: {"summary"},
    e.Subject: {"display_name"},
    e.Agency: set(),
    PolicyRef: set(),
    e.FlagRaised: {"reason", "note"},
    e.RiskAssessed: {"rationale"},
    e.CaseAssigned: set(),
    e.ModerationActionTaken: {"rationale"},
    e.OutOfHoursDecisionRecorded: {"decision", "immediate_actions", "rationale"},
    e.OutOfHoursDecisionReviewed: {"rationale"},
    e.ReferralMade: {"reason", "consent_rationale"},
    e.ReferralUpdated: {"note"},
    e.CaseEscalated: {"reason"},
    e.EscalationAcknowledged: {"note"},
    e.EscalationResolved: {"outcome", "rationale"},
    e.NoteAdded: {"text"},
    e.RecordCorrected: {"correction", "reason"},
    e.CaseClosed: {"outcome", "rationale"},
    e.CaseReopened: {"reason"},
    e.PersonalDataErased: set(),
    e.ApprovalRequested: {"rationale", "outcome"},
    e.ApprovalDecided: {"rationale"},
    e.ReferralReviewed: {"rationale"},
    e.ContactJoined: set(),
    e.SeriousIncidentAssessed: {"rationale"},
    e.SeriousIncidentReported: set(),
    e.SlaBreachExplained: {"explanation", "action"},
    identity_events.UserRegistered: set(),
    identity_events.TokenIssued: set(),
}

# Strings that are not free text about people: ids of things elsewhere, staff usernames,
# machine values and legal references.
NOT_PERSONAL = {
    "actor",  # the authenticated staff username
    "idempotency_key",
    "request_hash",
    "ref",  # a member/content/contact id in the community or helpline system
    "target_ref",
    "raised_by_ref",
    "content_ref",
    "reference",  # an agency's reference number
    "channel",
    "lawful_basis",  # a legal reference such as "UK GDPR Art 6(1)(e)"
    "erasure_reason",  # why data was erased: the trail that outlives it (no personal data)
    "assignee",  # a staff username
    "requested_by",  # four-eyes: the staff username that proposed the decision
    "rule",  # four-eyes: the rule that held a decision (ban_member, close_critical)
    "name",  # Agency.name: an organisation
    "policy",
    "version",
    "clause",
    "username",  # staff usernames
    "token_hash",
    "issued_by",  # a token's issuer: a staff username or "cli"
    "requester_credential_issued_by",  # four-eyes: a staff username
    "actor_behind",  # second person: staff usernames
    "service",  # the service a case arose in: a slug the organisation chose (peer-forum)
}


def test_every_event_class_is_listed() -> None:
    listed = {cls for cls in PERSONAL if issubclass(cls, e.CaseEvent)}
    assert listed == set(e.EVENT_TYPES.values())


@pytest.mark.parametrize("model", list(PERSONAL), ids=lambda m: m.__name__)
def test_personal_fields_are_marked(model: type[BaseModel]) -> None:
    assert set(personal_fields(model)) == PERSONAL[model]


def _holds_text(annotation: Any) -> bool:
    """Does the annotation hold a plain ``str`` anywhere (Optional, list, Annotated...)?"""
    if annotation is str:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _holds_text(get_args(annotation)[0])
    if origin in (Union, types.UnionType, list, tuple, set, frozenset, dict, typing.Sequence):
        return any(_holds_text(arg) for arg in get_args(annotation))
    return False


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _nested_models(arg)]


@pytest.mark.parametrize("model", list(PERSONAL), ids=lambda m: m.__name__)
def test_no_free_text_field_is_left_unmarked(model: type[BaseModel]) -> None:
    unmarked = [
        name
        for name, field in model.model_fields.items()
        if _holds_text(field.annotation)
        and name not in personal_fields(model)
        and name not in NOT_PERSONAL
    ]
    assert unmarked == [], f"{model.__name__}: mark these PERSONAL or list them as not personal"
    for name, field in model.model_fields.items():
        for nested in _nested_models(field.annotation):
            assert nested in PERSONAL, f"{model.__name__}.{name}: {nested.__name__} is not checked"


def test_the_unmarked_field_check_can_fail() -> None:
    class Leaky(e.CaseEvent):
        comment: str | None = None

    assert _holds_text(Leaky.model_fields["comment"].annotation)
    assert "comment" not in personal_fields(Leaky)
