"""decide, as stories: given a case's history, when a command, then this event or this error.

Pure domain: no store, no clock but the one each story sets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from domain.case import commands as c
from domain.case import events as e
from domain.case.decide import decide
from domain.case.errors import CaseNotFound
from domain.case.ids import event_id_for
from domain.case.vocabulary import (
    AgencyKind,
    CaseSource,
    Category,
    Consent,
    EscalationLevel,
    ModerationAction,
    NoteKind,
    ReferralUpdateStatus,
    ReviewOutcome,
    RiskLevel,
    SubjectKind,
    Urgency,
)
from domain.errors import (
    DomainError,
    InvalidCommand,
    ItemNotFound,
    NotPermitted,
    RuleViolation,
)
from tests.story import (
    COORDINATOR,
    LEAD,
    MODERATOR,
    MONDAY_NIGHT,
    OTHER_LEAD,
    POLICY,
    RATIONALE,
    TUESDAY_MORNING,
    VOLUNTEER,
    Story,
    acknowledge,
    add_note,
    assess_risk,
    assign,
    close,
    context,
    correct,
    decide_approval,
    escalate,
    moderate,
    new_id,
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

NOW = TUESDAY_MORNING + timedelta(minutes=1)  # when `Story.when` decides by default


def only(events: list[e.CaseEvent]) -> e.CaseEvent:
    assert len(events) == 1, events
    return events[0]


# --- what each command records ------------------------------------------------------------------


def test_opening_a_case_records_who_when_and_what_about_whom() -> None:
    case_id = new_id()

    event = only(decide(None, open_case(), context(by=MODERATOR, case_id=case_id)))

    assert event == e.CaseOpened(
        originator_id=case_id,
        originator_version=1,
        event_id=event_id_for(case_id, 1),
        occurred_at=TUESDAY_MORNING,
        recorded_at=TUESDAY_MORNING,
        actor="morgan",
        actor_role="moderator",
        subject=e.Subject(kind=SubjectKind.MEMBER, ref="member-4411", display_name="Sam Taylor"),
        source=CaseSource.FLAG,
        category=Category.SELF_HARM_RISK,
        summary="Post in the evening thread suggests the member intends to self-harm.",
        risk_level=RiskLevel.HIGH,
        channel="forum",
    )


def test_opening_a_case_back_dated_keeps_when_it_happened_and_when_it_was_written() -> None:
    case_id = new_id()
    happened = TUESDAY_MORNING - timedelta(hours=10)

    event = only(decide(None, open_case(occurred_at=happened), context(case_id=case_id)))

    assert (event.occurred_at, event.recorded_at) == (happened, TUESDAY_MORNING)


def test_opening_needs_an_id_for_the_case() -> None:
    with pytest.raises(InvalidCommand):
        decide(None, open_case(), context(case_id=None))


def test_a_case_cannot_be_opened_twice() -> None:
    story = Story.opened()
    story.refuses(open_case(), RuleViolation, match="already exists")


@pytest.mark.parametrize(
    "command",
    [raise_flag(), add_note(), close(), assess_risk()],
    ids=lambda cmd: type(cmd).__name__,
)
def test_commands_on_a_case_that_does_not_exist_are_refused(command: c.CaseCommand) -> None:
    with pytest.raises(CaseNotFound):
        decide(None, command, context(case_id=new_id()))


def test_retried_writes_carry_the_idempotency_key_and_request_hash() -> None:
    story = Story.opened()
    ctx = context(case_id=story.case_id, now=NOW, idempotency_key="k-1", request_hash="h-1")

    event = only(decide(story.state, add_note(), ctx))

    assert (event.idempotency_key, event.request_hash) == ("k-1", "h-1")


def test_raising_a_flag() -> None:
    story = Story.opened()

    event = story.when(raise_flag(note="Has posted similar before"), by=VOLUNTEER)

    assert only(event) == e.FlagRaised(
        **story.envelope(by=VOLUNTEER, now=NOW),
        reason="Second member worried by the same post",
        category=Category.SELF_HARM_RISK,
        raised_by_ref="member-9001",
        content_ref="post-77",
        note="Has posted similar before",
    )


def test_assessing_risk() -> None:
    story = Story.opened()

    event = story.when(assess_risk(RiskLevel.CRITICAL), by=LEAD)

    assert only(event) == e.RiskAssessed(
        **story.envelope(by=LEAD, now=NOW),
        level=RiskLevel.CRITICAL,
        rationale=RATIONALE,
    )


def test_assigning_the_case() -> None:
    story = Story.opened()

    event = story.when(assign("Lee"))

    assert only(event) == e.CaseAssigned(**story.envelope(by=COORDINATOR, now=NOW), assignee="lee")


def test_an_assignee_must_look_like_a_username() -> None:
    with pytest.raises(ValidationError):
        assign("Lee Smith")


def test_taking_a_moderation_action_back_dated() -> None:
    story = Story.opened()
    happened = TUESDAY_MORNING + timedelta(seconds=20)

    event = story.when(
        moderate(ModerationAction.HIDE_CONTENT, "post-77", occurred_at=happened),
        by=MODERATOR,
    )

    assert only(event) == e.ModerationActionTaken(
        **story.envelope(by=MODERATOR, now=NOW, occurred_at=happened),
        action=ModerationAction.HIDE_CONTENT,
        target_ref="post-77",
        rationale="Content describes methods of self-harm in detail.",
        policy_ref=POLICY,
        duration_hours=None,
    )


def test_suspending_a_member_records_the_duration() -> None:
    story = Story.opened()

    event = only(story.when(suspend(hours=72), by=MODERATOR))

    assert isinstance(event, e.ModerationActionTaken)
    assert (event.action, event.duration_hours) == (ModerationAction.SUSPEND_MEMBER, 72)


def test_recording_an_out_of_hours_decision_sets_its_id_and_review_deadline() -> None:
    story = Story.opened(start=MONDAY_NIGHT - timedelta(minutes=40))

    event = story.when(ooh_decision(), by=COORDINATOR, now=MONDAY_NIGHT)

    assert only(event) == e.OutOfHoursDecisionRecorded(
        **story.envelope(by=COORDINATOR, now=MONDAY_NIGHT),
        decision_id=story.next_event_id,
        decision="Contacted crisis line on the member's behalf and hid the thread.",
        immediate_actions=["hid thread", "called crisis line"],
        rationale=RATIONALE,
        policy_ref=POLICY,
        # End of the next working day: Tuesday 17:00 in London (GMT in November).
        review_due=datetime(2026, 11, 17, 17, 0, tzinfo=UTC),
    )


def test_an_out_of_hours_decision_logged_next_morning_is_judged_by_when_it_happened() -> None:
    story = Story.opened(start=MONDAY_NIGHT - timedelta(hours=1))

    event = only(story.when(ooh_decision(occurred_at=MONDAY_NIGHT), now=TUESDAY_MORNING))

    assert isinstance(event, e.OutOfHoursDecisionRecorded)
    assert event.occurred_at == MONDAY_NIGHT
    assert event.recorded_at == TUESDAY_MORNING
    assert event.review_due == datetime(2026, 11, 17, 17, 0, tzinfo=UTC)


def _with_decision(by: Any = COORDINATOR) -> tuple[Story, UUID]:
    story = Story.opened(start=MONDAY_NIGHT - timedelta(hours=1))
    decision = story.given(ooh_decision(), by=by, now=MONDAY_NIGHT)
    story.now = TUESDAY_MORNING
    return story, decision.event_id


def test_reviewing_an_out_of_hours_decision() -> None:
    story, decision_id = _with_decision()

    event = story.when(review(decision_id, ReviewOutcome.VARIED), by=LEAD)

    assert only(event) == e.OutOfHoursDecisionReviewed(
        **story.envelope(by=LEAD, now=NOW),
        decision_id=decision_id,
        outcome=ReviewOutcome.VARIED,
        rationale="Proportionate response given the risk described at the time.",
    )


def test_making_a_referral_with_consent() -> None:
    story = Story.opened()

    event = story.when(refer(Consent.GIVEN, reference="LCC-123"))

    assert only(event) == e.ReferralMade(
        **story.envelope(by=COORDINATOR, now=NOW),
        referral_id=story.next_event_id,
        agency=e.Agency(name="Leeds Adult Social Care", kind=AgencyKind.ADULT_SOCIAL_CARE),
        reason="Adult at risk of self-harm with no support network.",
        consent=Consent.GIVEN,
        consent_rationale=None,
        lawful_basis=None,
        reference="LCC-123",
    )


def test_making_a_referral_without_consent_records_why_and_the_lawful_basis() -> None:
    story = Story.opened()

    event = only(story.when(refer(Consent.NOT_SOUGHT)))

    assert isinstance(event, e.ReferralMade)
    assert event.consent is Consent.NOT_SOUGHT
    assert event.consent_rationale == "Asking would increase the risk of immediate harm."
    assert event.lawful_basis == "UK GDPR Art 6(1)(e), Art 9(2)(g); DPA 2018 Sch 1 para 18"


def test_updating_a_referral() -> None:
    story = Story.opened()
    referral = story.given(refer())
    now = story.now + story.step

    event = story.when(
        update_referral(
            referral.event_id,
            ReferralUpdateStatus.ACKNOWLEDGED,
            reference="LCC-9",
            note="Duty social worker called back",
        ),
    )

    assert only(event) == e.ReferralUpdated(
        **story.envelope(by=COORDINATOR, now=now),
        referral_id=referral.event_id,
        status=ReferralUpdateStatus.ACKNOWLEDGED,
        reference="LCC-9",
        note="Duty social worker called back",
    )


def test_escalating_a_case_takes_levels_by_name_or_number() -> None:
    story = Story.opened()

    event = story.when(escalate(Urgency.IMMEDIATE, level=3))

    assert only(event) == e.CaseEscalated(
        **story.envelope(by=COORDINATOR, now=NOW),
        escalation_id=story.next_event_id,
        level=EscalationLevel.DESIGNATED_LEAD,
        reason="Risk to life; needs a lead's decision.",
        urgency=Urgency.IMMEDIATE,
    )


def test_acknowledging_then_resolving_an_escalation() -> None:
    story = Story.opened()
    escalation = story.given(escalate())
    now = story.now + story.step

    acknowledged = only(story.when(acknowledge(escalation.event_id, note="On it"), by=LEAD))
    assert acknowledged == e.EscalationAcknowledged(
        **story.envelope(by=LEAD, now=now),
        escalation_id=escalation.event_id,
        note="On it",
    )

    story.given(acknowledge(escalation.event_id), by=LEAD)
    now = story.now + story.step
    resolved = only(story.when(resolve(escalation.event_id), by=LEAD))
    assert resolved == e.EscalationResolved(
        **story.envelope(by=LEAD, now=now),
        escalation_id=escalation.event_id,
        outcome="Referred to adult social care",
        rationale="Lead agreed the referral addresses the risk described.",
    )


@pytest.mark.parametrize("kind", list(NoteKind))
def test_adding_a_note_of_each_kind(kind: NoteKind) -> None:
    story = Story.opened()

    event = story.when(add_note(kind, text="  Member said they felt safer.  "))

    assert only(event) == e.NoteAdded(
        **story.envelope(by=COORDINATOR, now=NOW),
        kind=kind,
        text="Member said they felt safer.",
    )


def test_correcting_a_record() -> None:
    story = Story.opened()
    flag = story.given(raise_flag())
    now = story.now + story.step

    event = story.when(correct(flag.event_id))

    assert only(event) == e.RecordCorrected(
        **story.envelope(by=COORDINATOR, now=now),
        corrects_event_id=flag.event_id,
        correction="The post was in the morning thread, not the evening thread.",
        reason="Moderator misread the thread name when logging the flag.",
    )


def test_closing_and_reopening() -> None:
    story = Story.opened()

    closed = only(story.when(close(), by=LEAD))
    assert closed == e.CaseClosed(
        **story.envelope(by=LEAD, now=NOW),
        outcome="Member supported; referral made",
        rationale="Risk reduced: member engaged with the crisis team and adult social care.",
    )

    story.given(close(), by=LEAD)
    now = story.now + story.step
    reopened = only(story.when(reopen(), by=LEAD))
    assert reopened == e.CaseReopened(
        **story.envelope(by=LEAD, now=now),
        reason="Member posted again describing the same intent.",
    )


# --- decisions need a reason ------------------------------------------------------------------

RATIONALE_FIELDS: list[tuple[Callable[..., Any], str]] = [
    (lambda **kw: assess_risk(**kw), "rationale"),
    (lambda **kw: moderate(**kw), "rationale"),
    (lambda **kw: ooh_decision(**kw), "rationale"),
    (lambda **kw: review(new_id(), **kw), "rationale"),
    (lambda **kw: resolve(new_id(), **kw), "rationale"),
    (lambda **kw: close(**kw), "rationale"),
    (lambda **kw: reopen(**kw), "reason"),
    (lambda **kw: correct(new_id(), **kw), "reason"),
    (lambda **kw: refer(Consent.REFUSED, **kw), "consent_rationale"),
    (lambda **kw: refer(**kw), "reason"),
    (lambda **kw: escalate(**kw), "reason"),
]
RATIONALE_IDS = [
    "assess",
    "moderate",
    "ooh_decision",
    "review",
    "resolve",
    "close",
    "reopen",
    "correct",
    "refer_without_consent",
    "refer",
    "escalate",
]


@pytest.mark.parametrize(("build", "field"), RATIONALE_FIELDS, ids=RATIONALE_IDS)
@pytest.mark.parametrize(
    "placeholder", ["", "   ", "n/a", "N/A", "  tbc ", "see above", "no reason", "ok", "too short"]
)
def test_a_decision_without_a_real_rationale_is_refused(
    build: Callable[..., Any], field: str, placeholder: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        build(**{field: placeholder})
    assert any(err["loc"] == (field,) for err in caught.value.errors())


@pytest.mark.parametrize(("build", "field"), RATIONALE_FIELDS, ids=RATIONALE_IDS)
def test_a_decision_with_a_real_rationale_is_accepted(
    build: Callable[..., Any], field: str
) -> None:
    command = build(**{field: "  Risk reduced after contact with the GP.  "})
    assert getattr(command, field) == "Risk reduced after contact with the GP."


@pytest.mark.parametrize(
    "command_type",
    [
        c.AssessRisk,
        c.TakeModerationAction,
        c.RecordOutOfHoursDecision,
        c.ReviewOutOfHoursDecision,
        c.ResolveEscalation,
        c.CloseCase,
    ],
)
def test_the_rationale_field_is_required(command_type: type[c.Command]) -> None:
    assert command_type.model_fields["rationale"].is_required()


@pytest.mark.parametrize(
    "build", [lambda **kw: moderate(**kw), lambda **kw: ooh_decision(**kw)], ids=["moderate", "ooh"]
)
def test_moderation_actions_and_out_of_hours_decisions_need_a_policy_ref(
    build: Callable[..., Any],
) -> None:
    with pytest.raises(ValidationError, match="policy_ref"):
        build(policy_ref=None)
    with pytest.raises(ValidationError, match="clause"):
        build(policy_ref={"policy": "community-guidelines", "version": "2024-03", "clause": " "})
    with pytest.raises(ValidationError):
        build(policy_ref={"policy": "community-guidelines", "version": "2024-03"})
    assert build(policy_ref=POLICY).policy_ref == POLICY


# --- a closed case accepts only notes, corrections and reopening ------------------------------


def _closed_case() -> tuple[Story, dict[str, UUID]]:
    """A closed case with a reviewed decision, a pending referral and an open escalation."""
    story = Story.opened(start=MONDAY_NIGHT - timedelta(hours=1))
    decision = story.given(ooh_decision(), now=MONDAY_NIGHT)
    story.now = TUESDAY_MORNING
    story.given(review(decision.event_id), by=LEAD)
    referral = story.given(refer())
    escalation = story.given(escalate())
    story.given(acknowledge(escalation.event_id), by=LEAD)
    flag = story.given(raise_flag())
    story.given(close(), by=LEAD)
    ids = {
        "decision": decision.event_id,
        "referral": referral.event_id,
        "escalation": escalation.event_id,
        "flag": flag.event_id,
    }
    return story, ids


REFUSED_WHEN_CLOSED: dict[str, Callable[[dict[str, UUID]], c.CaseCommand]] = {
    "flag": lambda ids: raise_flag(),
    "assess": lambda ids: assess_risk(),
    "assign": lambda ids: assign(),
    "moderate": lambda ids: moderate(),
    "suspend": lambda ids: suspend(),
    "ooh_decision": lambda ids: ooh_decision(),
    "review": lambda ids: review(ids["decision"]),
    "refer": lambda ids: refer(),
    "update_referral": lambda ids: update_referral(
        ids["referral"], ReferralUpdateStatus.ACKNOWLEDGED
    ),
    "escalate": lambda ids: escalate(),
    "acknowledge": lambda ids: acknowledge(ids["escalation"]),
    "resolve": lambda ids: resolve(ids["escalation"]),
    "close": lambda ids: close(),
    "decide_approval": lambda ids: decide_approval(new_id()),
    "review_referral": lambda ids: review_referral(ids["referral"]),
    "link_contact": lambda ids: c.LinkContact(contact_id=new_id()),
}


def test_every_case_command_is_covered_by_the_closed_case_tests() -> None:
    covered = {
        type(build({"decision": new_id(), "referral": new_id(), "escalation": new_id()}))
        for build in REFUSED_WHEN_CLOSED.values()
    }
    allowed = {c.AddNote, c.CorrectRecord, c.ReopenCase, c.RecordErasure}  # erasure: below
    # Compliance decisions look back on a case: test_serious_incident_decisions.py and
    # test_breach_explanations.py decide them on closed cases.
    allowed |= {c.AssessSeriousIncident, c.ReportSeriousIncident, c.ExplainSlaBreach}
    every = set(c.CaseCommand.__args__) - {c.OpenCase}  # type: ignore[attr-defined]
    assert covered | allowed == every


@pytest.mark.parametrize("name", list(REFUSED_WHEN_CLOSED))
def test_a_closed_case_refuses(name: str) -> None:
    story, ids = _closed_case()
    command = REFUSED_WHEN_CLOSED[name](ids)
    # The out-of-hours decision is tried at a moment out of hours, so only closure can refuse it.
    now = datetime(2026, 11, 17, 22, 0, tzinfo=UTC) if name == "ooh_decision" else None

    error = story.refuses(command, RuleViolation, by=OTHER_LEAD, now=now, match="closed")

    assert "notes, corrections, reopening" in error.detail


@pytest.mark.parametrize(
    "build",
    [
        lambda ids: add_note(NoteKind.ASSESSMENT),
        lambda ids: correct(ids["flag"]),
        lambda ids: reopen(),
    ],
    ids=["note", "correction", "reopen"],
)
def test_a_closed_case_accepts(build: Callable[[dict[str, UUID]], c.CaseCommand]) -> None:
    story, ids = _closed_case()
    [event] = story.when(build(ids), by=LEAD)
    assert event.originator_version == story.version + 1


def test_reopening_a_case_that_is_not_closed_is_refused() -> None:
    Story.opened().refuses(reopen(), RuleViolation, match="not closed")


def test_a_reopened_case_accepts_work_again() -> None:
    story, _ = _closed_case()
    story.given(reopen(), by=LEAD)
    [event] = story.when(raise_flag())
    assert isinstance(event, e.FlagRaised)


def test_nothing_but_notes_and_corrections_is_back_dated_into_a_closed_period() -> None:
    story, ids = _closed_case()
    closed_at = story.state.closed_at if story.state else None
    assert closed_at is not None
    story.given(reopen(), by=LEAD)
    while_closed = closed_at + timedelta(seconds=30)
    story.refuses(raise_flag(occurred_at=while_closed), InvalidCommand, match="closed")
    story.refuses(moderate(occurred_at=while_closed), InvalidCommand, match="closed")
    # Before the closure it was open: a late-logged flag from then is fine.
    [flag] = story.when(raise_flag(occurred_at=closed_at - timedelta(minutes=1)))
    assert isinstance(flag, e.FlagRaised)
    [note] = story.when(add_note(occurred_at=while_closed))
    assert isinstance(note, e.NoteAdded)
    [fix] = story.when(correct(ids["flag"], occurred_at=while_closed))
    assert isinstance(fix, e.RecordCorrected)


def test_a_closure_cannot_predate_the_latest_action_on_the_case() -> None:
    story = Story.opened()
    flagged = story.given(raise_flag())
    story.refuses(
        close(occurred_at=flagged.occurred_at - timedelta(seconds=1)),
        InvalidCommand,
        match="latest recorded action",
    )
    # Notes may come after the closure's moment: they do not need an open case.
    story.given(add_note())
    [closure] = story.when(close(occurred_at=flagged.occurred_at))
    assert isinstance(closure, e.CaseClosed)


# --- out-of-hours decisions -------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 17, 9, 0, tzinfo=UTC),  # Tuesday, opening time
        datetime(2026, 11, 17, 12, 0, tzinfo=UTC),
        datetime(2026, 11, 17, 16, 59, tzinfo=UTC),
        datetime(2026, 6, 16, 8, 30, tzinfo=UTC),  # 09:30 BST on a Tuesday
    ],
)
def test_an_out_of_hours_decision_within_operating_hours_is_refused(moment: datetime) -> None:
    story = Story.opened(start=moment - timedelta(hours=1))

    error = story.refuses(ooh_decision(occurred_at=moment), RuleViolation, now=moment)

    assert error.errors == {"occurred_at": "within operating hours"}


@pytest.mark.parametrize(
    ("moment", "due"),
    [
        # 23:10 on Monday: due at the close of Tuesday.
        (MONDAY_NIGHT, datetime(2026, 11, 17, 17, 0, tzinfo=UTC)),
        # 17:00 on Tuesday is closing time, so out of hours: due at the close of Wednesday.
        (datetime(2026, 11, 17, 17, 0, tzinfo=UTC), datetime(2026, 11, 18, 17, 0, tzinfo=UTC)),
        # Christmas Day at 11:00: Boxing Day falls on a Saturday, so the substitute bank holiday
        # is Monday 28th; the next working day is Tuesday 29 December.
        (datetime(2026, 12, 25, 11, 0, tzinfo=UTC), datetime(2026, 12, 29, 17, 0, tzinfo=UTC)),
        # Saturday afternoon: due at the close of Monday.
        (datetime(2026, 11, 21, 14, 0, tzinfo=UTC), datetime(2026, 11, 23, 17, 0, tzinfo=UTC)),
        # 08:00 BST on a summer Tuesday (07:00 UTC): due at the close of that day, 16:00 UTC.
        (datetime(2026, 6, 16, 7, 0, tzinfo=UTC), datetime(2026, 6, 16, 16, 0, tzinfo=UTC)),
    ],
    ids=["monday-night", "closing-time", "christmas-day", "saturday", "early-summer-morning"],
)
def test_an_out_of_hours_decision_out_of_hours_is_accepted_with_its_review_deadline(
    moment: datetime, due: datetime
) -> None:
    story = Story.opened(start=moment - timedelta(hours=2))

    event = only(story.when(ooh_decision(occurred_at=moment), now=moment))

    assert isinstance(event, e.OutOfHoursDecisionRecorded)
    assert event.review_due == due
    assert event.review_due.utcoffset() == timedelta(0)


def test_review_by_the_person_who_took_the_decision_is_refused() -> None:
    story, decision_id = _with_decision(by=LEAD)

    story.refuses(review(decision_id), RuleViolation, by=LEAD, match="other than")


def test_review_by_a_lead_signed_in_with_a_token_the_decider_issued_is_refused() -> None:
    story, decision_id = _with_decision(by=LEAD)
    stand_in = OTHER_LEAD.model_copy(
        update={"credential_issued_by": LEAD.username, "behind": frozenset({LEAD.username})}
    )

    story.refuses(review(decision_id), RuleViolation, by=stand_in, match="second person")


@pytest.mark.parametrize("reviewer", [COORDINATOR, MODERATOR, VOLUNTEER], ids=lambda a: a.role)
def test_review_by_anyone_but_a_safeguarding_lead_is_not_permitted(reviewer: Any) -> None:
    story, decision_id = _with_decision()

    story.refuses(review(decision_id), NotPermitted, by=reviewer)


def test_a_decision_is_reviewed_once() -> None:
    story, decision_id = _with_decision()
    story.given(review(decision_id, ReviewOutcome.OVERTURNED), by=LEAD)

    error = story.refuses(review(decision_id), RuleViolation, by=OTHER_LEAD)

    assert "overturned" in error.detail


def test_review_of_a_decision_not_in_the_case_is_refused() -> None:
    story, _ = _with_decision()
    flag = story.given(raise_flag())

    story.refuses(review(new_id()), ItemNotFound, by=LEAD)
    story.refuses(review(flag.event_id), ItemNotFound, by=LEAD)


def test_review_cannot_predate_the_decision() -> None:
    story, decision_id = _with_decision()

    story.refuses(
        review(decision_id, occurred_at=MONDAY_NIGHT - timedelta(minutes=1)),
        InvalidCommand,
        by=LEAD,
    )


# --- corrections ------------------------------------------------------------------------------


def test_a_correction_must_name_an_event_of_the_same_case() -> None:
    story = Story.opened()
    other = Story.opened()
    other_flag = other.given(raise_flag())

    story.refuses(correct(other_flag.event_id), ItemNotFound)
    story.refuses(correct(other.events[0].event_id), ItemNotFound)
    story.refuses(correct(new_id()), ItemNotFound)


def test_a_correction_may_name_the_opening_or_another_correction() -> None:
    story = Story.opened()
    first = story.given(correct(story.events[0].event_id))

    [event] = story.when(correct(first.event_id))

    assert isinstance(event, e.RecordCorrected)
    assert event.corrects_event_id == first.event_id


# --- referrals: which updates each status allows ----------------------------------------------

ACK = ReferralUpdateStatus.ACKNOWLEDGED
OUTCOME = ReferralUpdateStatus.OUTCOME_RECEIVED
CHASE = ReferralUpdateStatus.FOLLOWED_UP
CLOSED = ReferralUpdateStatus.CLOSED

# The history that puts a referral in a status, and what may happen next.
REFERRAL_TABLE: dict[str, tuple[list[ReferralUpdateStatus], set[ReferralUpdateStatus]]] = {
    "awaiting_acknowledgement": ([], {ACK, OUTCOME, CHASE, CLOSED}),
    "chased_but_still_awaiting": ([CHASE, CHASE], {ACK, OUTCOME, CHASE, CLOSED}),
    "acknowledged": ([ACK], {OUTCOME, CHASE, CLOSED}),
    "acknowledged_and_chased": ([ACK, CHASE], {OUTCOME, CHASE, CLOSED}),
    "outcome_received": ([ACK, OUTCOME], {CHASE, CLOSED}),
    "outcome_without_acknowledgement": ([OUTCOME], {CHASE, CLOSED}),
    "closed": ([ACK, CLOSED], set()),
    "closed_unacknowledged": ([CLOSED], set()),
}


@pytest.mark.parametrize("history", list(REFERRAL_TABLE))
@pytest.mark.parametrize("update", list(ReferralUpdateStatus))
def test_referral_transitions(history: str, update: ReferralUpdateStatus) -> None:
    story = Story.opened()
    referral = story.given(refer())
    previous, allowed = REFERRAL_TABLE[history]
    for status in previous:
        story.given(update_referral(referral.event_id, status))

    command = update_referral(referral.event_id, update)
    if update in allowed:
        [event] = story.when(command)
        assert isinstance(event, e.ReferralUpdated)
        assert event.status is update
    else:
        story.refuses(command, RuleViolation)


def test_a_referral_update_must_name_a_referral_of_the_case() -> None:
    story = Story.opened()
    escalation = story.given(escalate())
    elsewhere = Story.opened()
    foreign = elsewhere.given(refer())

    for referral_id in (new_id(), escalation.event_id, foreign.event_id):
        story.refuses(update_referral(referral_id, ACK), ItemNotFound)


def test_a_referral_update_cannot_predate_the_referral() -> None:
    story = Story.opened()
    referral = story.given(refer())

    story.refuses(
        update_referral(referral.event_id, ACK, occurred_at=referral.occurred_at - timedelta(1)),
        InvalidCommand,
    )


@pytest.mark.parametrize("consent", [Consent.REFUSED, Consent.NOT_SOUGHT])
def test_a_referral_without_consent_needs_a_rationale_and_a_lawful_basis(
    consent: Consent,
) -> None:
    with pytest.raises(ValidationError, match="consent_rationale"):
        refer(consent, consent_rationale=None)
    with pytest.raises(ValidationError, match="lawful_basis"):
        refer(consent, lawful_basis=None)
    with pytest.raises(ValidationError, match="consent_rationale and lawful_basis"):
        refer(consent, consent_rationale=None, lawful_basis=None)
    with pytest.raises(ValidationError):
        refer(consent, lawful_basis="")


def test_a_referral_with_consent_needs_neither() -> None:
    command = refer(Consent.GIVEN)
    assert (command.consent_rationale, command.lawful_basis) == (None, None)


# --- escalations ------------------------------------------------------------------------------


def test_an_escalation_is_acknowledged_once() -> None:
    story = Story.opened()
    escalation = story.given(escalate())
    story.given(acknowledge(escalation.event_id), by=LEAD)

    story.refuses(acknowledge(escalation.event_id), RuleViolation, by=OTHER_LEAD)


def test_an_escalation_is_resolved_only_after_acknowledgement_and_only_once() -> None:
    story = Story.opened()
    escalation = story.given(escalate())

    story.refuses(resolve(escalation.event_id), RuleViolation, by=LEAD, match="acknowledged")

    story.given(acknowledge(escalation.event_id), by=LEAD)
    story.given(resolve(escalation.event_id), by=LEAD)
    story.refuses(resolve(escalation.event_id), RuleViolation, by=LEAD, match="already resolved")
    story.refuses(acknowledge(escalation.event_id), RuleViolation, by=LEAD)


def test_acknowledgements_and_resolutions_must_name_an_escalation_of_the_case() -> None:
    story = Story.opened()
    referral = story.given(refer())
    elsewhere = Story.opened()
    foreign = elsewhere.given(escalate())

    for escalation_id in (new_id(), referral.event_id, foreign.event_id):
        story.refuses(acknowledge(escalation_id), ItemNotFound)
        story.refuses(resolve(escalation_id), ItemNotFound)


# --- closure ----------------------------------------------------------------------------------


def test_closure_is_refused_while_an_out_of_hours_decision_awaits_review() -> None:
    story, decision_id = _with_decision()

    story.refuses(close(), RuleViolation, by=LEAD, match="await review")

    story.given(review(decision_id), by=LEAD)
    [event] = story.when(close(), by=LEAD)
    assert isinstance(event, e.CaseClosed)


def test_closure_is_refused_while_an_escalation_is_unacknowledged() -> None:
    story = Story.opened()
    escalation = story.given(escalate())

    story.refuses(close(), RuleViolation, by=LEAD, match="unacknowledged")

    story.given(acknowledge(escalation.event_id), by=LEAD)
    # Acknowledged but not resolved: a lead may close the case with the escalation open.
    [event] = story.when(close(), by=LEAD)
    assert isinstance(event, e.CaseClosed)


def test_closure_lists_every_blocker() -> None:
    story, _ = _with_decision()
    story.given(escalate())

    error = story.refuses(close(), RuleViolation, by=LEAD)

    assert "await review" in error.detail
    assert "unacknowledged" in error.detail


def test_closure_is_not_blocked_by_referrals_awaiting_acknowledgement() -> None:
    story = Story.opened()
    story.given(refer())
    [event] = story.when(close(), by=LEAD)
    assert isinstance(event, e.CaseClosed)


# --- the two clocks ---------------------------------------------------------------------------


def test_occurred_at_defaults_to_the_server_clock() -> None:
    story = Story.opened()
    now = TUESDAY_MORNING + timedelta(hours=3)
    [event] = story.when(add_note(), now=now)
    assert event.occurred_at == event.recorded_at == now


def test_occurred_at_beyond_the_allowed_clock_skew_is_refused() -> None:
    story = Story.opened()
    now = TUESDAY_MORNING + timedelta(hours=1)

    error = story.refuses(
        add_note(occurred_at=now + timedelta(minutes=5, seconds=1)), InvalidCommand, now=now
    )

    assert "occurred_at" in error.errors


def test_occurred_at_within_the_clock_skew_is_accepted_as_given() -> None:
    story = Story.opened()
    now = TUESDAY_MORNING + timedelta(hours=1)
    ahead = now + timedelta(minutes=4, seconds=59)

    [event] = story.when(add_note(occurred_at=ahead), now=now)

    assert (event.occurred_at, event.recorded_at) == (ahead, now)


def test_the_clock_skew_allowance_comes_from_the_context() -> None:
    story = Story.opened()
    now = TUESDAY_MORNING + timedelta(hours=1)
    command = add_note(occurred_at=now + timedelta(seconds=30))

    with pytest.raises(InvalidCommand):
        story.when(command, now=now, max_clock_skew=timedelta(0))


def test_opening_a_case_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidCommand):
        decide(
            None,
            open_case(occurred_at=TUESDAY_MORNING + timedelta(hours=1)),
            context(case_id=new_id()),
        )


def test_occurred_at_before_the_case_opened_is_refused() -> None:
    story = Story.opened()

    error = story.refuses(
        raise_flag(occurred_at=TUESDAY_MORNING - timedelta(seconds=1)), InvalidCommand
    )

    assert "opened" in error.detail
    [event] = story.when(raise_flag(occurred_at=TUESDAY_MORNING))
    assert event.occurred_at == TUESDAY_MORNING


def test_occurred_at_must_carry_an_offset() -> None:
    with pytest.raises(ValidationError):
        add_note(occurred_at=datetime(2026, 11, 17, 9, 45))


def test_occurred_at_with_an_offset_is_compared_as_an_instant() -> None:
    story = Story.opened()
    # 10:31+01:00 is 09:31 UTC: a minute after opening, not an hour later.
    from datetime import timezone

    moment = datetime(2026, 11, 17, 10, 31, tzinfo=timezone(timedelta(hours=1)))
    [event] = story.when(add_note(occurred_at=moment), now=TUESDAY_MORNING + timedelta(minutes=2))
    assert event.occurred_at == moment


# --- moderation durations ---------------------------------------------------------------------


def test_a_suspension_needs_a_duration() -> None:
    with pytest.raises(ValidationError, match="suspension needs duration_hours"):
        moderate(ModerationAction.SUSPEND_MEMBER, "member-4411")


@pytest.mark.parametrize(
    "action",
    sorted(set(ModerationAction) - {ModerationAction.MUTE_MEMBER, ModerationAction.SUSPEND_MEMBER}),
)
def test_a_duration_applies_only_to_mutes_and_suspensions(action: ModerationAction) -> None:
    with pytest.raises(ValidationError, match="duration_hours applies only"):
        moderate(action, "member-4411", duration_hours=24)
    assert moderate(action, "member-4411").duration_hours is None


def test_a_mute_may_be_timed_or_open_ended() -> None:
    assert moderate(ModerationAction.MUTE_MEMBER, "m", duration_hours=1.5).duration_hours == 1.5
    assert moderate(ModerationAction.MUTE_MEMBER, "m").duration_hours is None


@pytest.mark.parametrize("hours", [0, -1, 24 * 366 * 5 + 1])
def test_a_duration_must_be_positive_and_bounded(hours: float) -> None:
    with pytest.raises(ValidationError):
        suspend(hours=hours)


def test_refusals_are_domain_errors_with_a_title() -> None:
    for error in (InvalidCommand, RuleViolation, NotPermitted, ItemNotFound, CaseNotFound):
        assert issubclass(error, DomainError)
        assert error.title != DomainError.title
