"""Helpline contacts as stories: given a contact's events, when a command, then these events (or
this error). Every rule has its refusal, named by its error type; a refusal changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.case import commands as case_commands
from domain.case.decide import CaseContext
from domain.case.decide import decide as decide_case
from domain.case.events import Agency, CaseOpened, ContactJoined
from domain.case.ids import event_id_for
from domain.case.state import fold as fold_case
from domain.case.vocabulary import AgencyKind, CaseSource, Category, Consent
from domain.contact import commands as c
from domain.contact import errors as x
from domain.contact.decide import ContactContext, ScorecardInForce, decide, decide_and_fold
from domain.contact.events import (
    EVENT_TYPES,
    Caller,
    ContactEvent,
    ContactLinkedToCase,
    ContactLogged,
    ContactReviewed,
    ContactSlaBreachExplained,
    FeedbackAcknowledged,
    FeedbackDisputed,
    FeedbackDisputeResolved,
    FollowUpAttempted,
    FollowUpCompleted,
    FollowUpScheduled,
    Meeting,
    MeetingAction,
    MeetingAttendee,
    Participant,
)
from domain.contact.lead_review import SafeguardingFailReviewed
from domain.contact.state import ContactState, evolve, fold
from domain.contact.vocabulary import (
    AttemptOutcome,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    DisputeOutcome,
    FeedbackStatus,
    FollowUpKind,
    ParticipantRole,
    ReviewResult,
)
from domain.errors import DomainError, InvalidCommand
from domain.personal import OwnStream, Person, SubjectOfContact, declared_subject
from domain.quality.errors import (
    CriteriaNotScored,
    NoScorecardInForce,
    ScoreOutOfRange,
    UnknownCriteria,
)
from domain.quality.scoring import Criterion, ScorecardVersion, score_review
from domain.shared import Actor, DecisionContext, Role, personal_fields
from infrastructure.calendar import build_calendar
from infrastructure.settings import Settings

# Tuesday 17 November 2026: a call at 10:00, reviewed in the afternoon, answered next morning.
CALL = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)
AFTERNOON = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
NEXT_DAY = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
CONTACT = UUID("00000000-0000-4000-8000-000000000014")
CASE = UUID("00000000-0000-4000-8000-0000000000ca")

KIT = Actor(username="kit", role=Role.VOLUNTEER)  # the handler
SAM = Actor(username="sam", role=Role.VOLUNTEER)
CASEY = Actor(username="casey", role=Role.COORDINATOR)  # reviews
ROBIN = Actor(username="robin", role=Role.COORDINATOR)  # calibrates
LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)  # resolves disputes
# A coordinator signed in with a credential kit issued: kit could be acting under this name.
KITS_TOKEN = Actor(
    username="morgan", role=Role.COORDINATOR, credential_issued_by="kit", behind=frozenset({"kit"})
)

SCORECARD = ScorecardVersion(
    version=2,
    name="Helpline quality",
    criteria=[
        Criterion(
            key="greeting", label="Greets and explains", weight=1, max_score=2, critical=False
        ),
        Criterion(key="listening", label="Listens actively", weight=2, max_score=4, critical=False),
        Criterion(
            key="risk_asked",
            label="Asks about immediate risk",
            weight=2,
            max_score=1,
            critical=True,
            safeguarding=True,
        ),
        Criterion(
            key="accuracy", label="Accurate information", weight=1, max_score=2, critical=True
        ),
    ],
    pass_mark=70,
    effective_from=datetime(2026, 1, 1, tzinfo=UTC),
)
IN_FORCE = ScorecardInForce(SCORECARD.version, partial(score_review, SCORECARD))
GOOD = {"greeting": 2, "listening": 3, "risk_asked": 1, "accuracy": 2}
FEEDBACK = "Good rapport; you could have asked about the bus route sooner."
RATIONALE = "Listening was strong but one open question was missed early on."


def ctx(by: Actor = KIT, now: datetime = CALL, **fields: Any) -> ContactContext:
    return ContactContext(decision=DecisionContext(actor=by, now=now), contact_id=CONTACT, **fields)


def logged(**fields: Any) -> c.LogContact:
    body = {
        "channel": "call",
        "direction": "inbound",
        "duration_seconds": 840,
        "caller": {"anonymous": False, "ref": "caller-2291", "display_name": "R. Patel"},
        "category": "hate_incident",
        "summary": "Caller was abused on the bus home and wants to report it.",
        "outcome": "referral_made",
        **fields,
    }
    return c.LogContact.model_validate(body)


def review(**fields: Any) -> c.ReviewContact:
    return c.ReviewContact.model_validate(
        {"scores": GOOD, "feedback": FEEDBACK, "rationale": RATIONALE, **fields}
    )


def follow_up(kind: str = "call_back", **fields: Any) -> c.ScheduleFollowUp:
    body = {
        "kind": kind,
        "due_at": NEXT_DAY,
        "detail": "Call back once the caller has spoken to their landlord.",
        **fields,
    }
    return c.ScheduleFollowUp.model_validate(body)


class Story:
    """A contact's history, built by deciding commands with the real ``decide``."""

    def __init__(self) -> None:
        self.events: list[ContactEvent] = []

    @property
    def state(self) -> ContactState | None:
        return fold(self.events)

    def given(
        self, command: c.ContactCommandType, by: Actor = KIT, now: datetime = CALL, **kw: Any
    ) -> ContactEvent:
        events = decide(self.state, command, ctx(by, now, **kw))
        self.events += events
        return events[-1]

    def when(
        self, command: c.ContactCommandType, by: Actor = KIT, now: datetime = CALL, **kw: Any
    ) -> list[ContactEvent]:
        return decide(self.state, command, ctx(by, now, **kw))

    def refused(
        self,
        error: type[DomainError],
        command: c.ContactCommandType,
        by: Actor = KIT,
        now: datetime = CALL,
        **kw: Any,
    ) -> DomainError:
        before = list(self.events)
        with pytest.raises(error) as refused:
            self.when(command, by, now, **kw)
        assert self.events == before
        return refused.value


def a_call() -> Story:
    story = Story()
    story.given(logged())
    return story


def reviewed() -> tuple[Story, UUID]:
    story = a_call()
    event = story.given(review(), by=CASEY, now=AFTERNOON, scorecard=IN_FORCE)
    assert isinstance(event, ContactReviewed)
    return story, event.review_id


def envelope(version: int, at: datetime, by: Actor, now: datetime | None = None) -> dict[str, Any]:
    return {
        "originator_id": CONTACT,
        "originator_version": version,
        "event_id": event_id_for(CONTACT, version),
        "occurred_at": at,
        "recorded_at": now or at,
        "actor": by.username,
        "actor_role": by.role,
    }


# --- logging --------------------------------------------------------------------------------------


def test_a_named_callers_contact_is_logged_by_its_handler() -> None:
    [event] = Story().when(logged())
    assert event == ContactLogged(
        **envelope(1, CALL, KIT),
        channel=ContactChannel.CALL,
        direction=ContactDirection.INBOUND,
        service="default",
        duration_seconds=840,
        caller=Caller(anonymous=False, ref="caller-2291", display_name="R. Patel"),
        category=Category.HATE_INCIDENT,
        summary="Caller was abused on the bus home and wants to report it.",
        outcome=ContactOutcome.REFERRAL_MADE,
        handled_by="kit",
    )
    # Its personal fields belong to the caller: erasing them erases this contact.
    assert declared_subject(event) == SubjectOfContact(
        CONTACT, caller=Person("contact", "caller-2291")
    )


def test_an_anonymous_callers_contact_is_keyed_to_itself_and_every_later_event_follows_it() -> None:
    story = Story()
    event = story.given(
        logged(
            channel="bsl_video",
            caller={"anonymous": True},
            participants=[{"role": "interpreter", "name": "Ash", "agency": "Relay UK"}],
        )
    )
    assert isinstance(event, ContactLogged)
    assert event.participants == [
        Participant(role=ParticipantRole.INTERPRETER, name="Ash", agency="Relay UK")
    ]
    assert declared_subject(event) == SubjectOfContact(CONTACT, caller=OwnStream(CONTACT))
    later = story.given(review(), by=CASEY, now=AFTERNOON, scorecard=IN_FORCE)
    assert declared_subject(later) == SubjectOfContact(CONTACT)  # storage finds the logging's
    assert story.state is not None
    assert story.state.anonymous


def test_a_logged_contact_joins_a_case_in_the_same_decision() -> None:
    logging, link = Story().when(logged(case_id=str(CASE)))
    assert isinstance(logging, ContactLogged)
    assert link == ContactLinkedToCase(**envelope(2, CALL, KIT), case_id=CASE, opened_case=False)


def test_a_contact_is_logged_once() -> None:
    story = a_call()
    story.refused(x.ContactAlreadyLogged, logged())


def test_a_contact_is_not_logged_in_the_future() -> None:
    error = Story().refused(InvalidCommand, logged(occurred_at=CALL + timedelta(hours=1)))
    assert error.errors == {"occurred_at": f"later than the server clock ({CALL.isoformat()})"}


def test_a_late_log_keeps_when_the_contact_happened() -> None:
    [event] = Story().when(logged(occurred_at=CALL - timedelta(hours=14)), now=CALL)
    assert event.occurred_at == CALL - timedelta(hours=14)
    assert event.recorded_at == CALL


@pytest.mark.parametrize(
    ("caller", "message"),
    [
        ({"anonymous": True, "ref": "caller-1"}, "an anonymous caller has no ref"),
        ({"anonymous": False}, "a named caller needs a ref"),
    ],
)
def test_a_caller_is_anonymous_or_named_by_a_ref(caller: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        logged(caller=caller)


def test_nothing_is_recorded_about_a_contact_never_logged() -> None:
    Story().refused(x.ContactNotFound, review(), by=CASEY, scorecard=IN_FORCE)


def test_nothing_about_a_contact_happens_before_it() -> None:
    error = a_call().refused(
        InvalidCommand, review(occurred_at=CALL - timedelta(minutes=1)), by=CASEY
    )
    assert error.errors == {"occurred_at": f"earlier than the contact ({CALL.isoformat()})"}


# --- the case link --------------------------------------------------------------------------------


def test_a_contact_joins_a_case() -> None:
    [link] = a_call().when(c.LinkCase(case_id=CASE), now=AFTERNOON)
    assert link == ContactLinkedToCase(
        **envelope(2, AFTERNOON, KIT), case_id=CASE, opened_case=False
    )


def test_a_contact_opens_a_case_whose_id_comes_from_the_context() -> None:
    opening = {
        "subject": {"kind": "contact", "ref": "caller-2291"},
        "category": "hate_incident",
        "summary": "Repeated abuse on the same bus route.",
    }
    command = c.LinkCase.model_validate({"open_case": opening})
    assert command.open_case is not None
    assert command.open_case.source is CaseSource.HELPLINE_CONTACT  # the default
    [link] = a_call().when(command, now=AFTERNOON, case_id=CASE)
    assert isinstance(link, ContactLinkedToCase)
    assert link.case_id == CASE
    assert link.opened_case
    a_call().refused(InvalidCommand, command, now=AFTERNOON)  # no id for the new case


def test_a_case_opened_from_a_contact_has_the_helpline_contact_source() -> None:
    opening = {
        "subject": {"kind": "contact", "ref": "caller-2291"},
        "source": "flag",
        "category": "hate_incident",
        "summary": "Repeated abuse on the same bus route.",
    }
    with pytest.raises(ValidationError, match="source 'helpline_contact'"):
        c.LinkCase.model_validate({"open_case": opening})


@pytest.mark.parametrize("body", [{}, {"case_id": str(CASE), "open_case": {}}])
def test_a_link_names_one_case_to_join_or_one_to_open(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        c.LinkCase.model_validate(body)


def test_a_contact_names_one_case() -> None:
    story = a_call()
    story.given(c.LinkCase(case_id=CASE), now=AFTERNOON)
    error = story.refused(x.AlreadyLinkedToCase, c.LinkCase(case_id=CONTACT), now=AFTERNOON)
    assert str(CASE) in error.detail


def test_the_case_side_names_the_contact_by_the_cases_own_rules() -> None:
    settings = Settings(_env_file=None)
    case_ctx = CaseContext(
        decision=DecisionContext(actor=KIT, now=AFTERNOON),
        calendar=build_calendar(settings),
        case_id=CASE,
    )
    opening = case_commands.OpenCaseFromContact(
        subject={"kind": "contact", "ref": "caller-2291"},
        source="helpline_contact",
        category="hate_incident",
        summary="Repeated abuse on the same bus route.",
        contact_id=CONTACT,
        occurred_at=AFTERNOON,
    )
    [opened] = decide_case(None, opening, case_ctx)
    assert isinstance(opened, CaseOpened)
    assert opened.contact_id == CONTACT
    case = fold_case(None, [opened])
    other = UUID("00000000-0000-4000-8000-0000000000c0")
    [joined] = decide_case(case, case_commands.LinkContact(contact_id=other), case_ctx)
    assert isinstance(joined, ContactJoined)
    assert joined.contact_id == other
    # A plain opening (POST /cases) names no contact, and its body cannot name one.
    with pytest.raises(ValidationError):
        case_commands.OpenCase.model_validate({**opening.model_dump(), "contact_id": CONTACT})


# --- reviews ------------------------------------------------------------------------------------


def test_a_review_is_scored_by_the_scorecard_version_in_force() -> None:
    [event] = a_call().when(review(), by=CASEY, now=AFTERNOON, scorecard=IN_FORCE)
    assert event == ContactReviewed(
        **envelope(2, AFTERNOON, CASEY),
        review_id=event_id_for(CONTACT, 2),
        reviewer="casey",
        scorecard_version=2,
        scores=GOOD,
        # (1*2/2 + 2*3/4 + 2*1/1 + 1*2/2) / 6 * 100 = 5.5 / 6 * 100
        score=91.7,
        result=ReviewResult.PASS,
        critical_failures=[],
        safeguarding_fail=False,
        calibration=False,
        feedback=FEEDBACK,
        rationale=RATIONALE,
    )


def test_a_critical_criterion_at_zero_fails_whatever_the_total() -> None:
    scores = {**GOOD, "accuracy": 0, "listening": 4}
    [event] = a_call().when(review(scores=scores), by=CASEY, now=AFTERNOON, scorecard=IN_FORCE)
    assert isinstance(event, ContactReviewed)
    assert event.score == 83.3  # above the pass mark of 70
    assert event.result is ReviewResult.FAIL
    assert event.critical_failures == ["accuracy"]
    assert not event.safeguarding_fail


def test_a_missed_safeguarding_question_is_a_safeguarding_fail() -> None:
    scores = {**GOOD, "risk_asked": 0}
    [event] = a_call().when(review(scores=scores), by=CASEY, now=AFTERNOON, scorecard=IN_FORCE)
    assert isinstance(event, ContactReviewed)
    assert event.result is ReviewResult.FAIL
    assert event.critical_failures == ["risk_asked"]
    assert event.safeguarding_fail


@pytest.mark.parametrize(
    ("scores", "error", "key"),
    [
        ({**GOOD, "empathy": 2}, UnknownCriteria, "scores.empathy"),
        ({"greeting": 2, "listening": 3, "risk_asked": 1}, CriteriaNotScored, "scores.accuracy"),
        ({**GOOD, "listening": 5}, ScoreOutOfRange, "scores.listening"),
    ],
)
def test_every_criterion_of_the_version_is_scored_within_its_range(
    scores: dict[str, int], error: type[DomainError], key: str
) -> None:
    refused = a_call().refused(
        error, review(scores=scores), by=CASEY, now=AFTERNOON, scorecard=IN_FORCE
    )
    assert key in refused.errors


def test_the_handler_does_not_review_their_own_contact() -> None:
    story = a_call()
    story.refused(x.ReviewerIsHandler, review(), by=KIT, now=AFTERNOON, scorecard=IN_FORCE)
    # Nor does someone signed in with a credential the handler issued: the same person, maybe.
    story.refused(x.ReviewerIsHandler, review(), by=KITS_TOKEN, now=AFTERNOON, scorecard=IN_FORCE)


def test_without_a_scorecard_in_force_there_is_nothing_to_review_by() -> None:
    error = a_call().refused(NoScorecardInForce, review(), by=CASEY, now=AFTERNOON)
    assert CALL.isoformat() in error.detail


def test_a_second_reviewer_calibrates_and_the_first_does_not_review_twice() -> None:
    story, _ = reviewed()
    story.refused(x.AlreadyReviewed, review(), by=CASEY, now=AFTERNOON, scorecard=IN_FORCE)
    second = story.given(
        review(scores={**GOOD, "listening": 2}), by=ROBIN, now=AFTERNOON, scorecard=IN_FORCE
    )
    assert isinstance(second, ContactReviewed)
    assert second.calibration
    state = story.state
    assert state is not None
    assert [r.calibration for r in state.reviews.values()] == [False, True]


# --- the handler's answer and a lead's resolution -----------------------------------------------


def test_the_handler_acknowledges_the_feedback() -> None:
    story, review_id = reviewed()
    [event] = story.when(
        c.AcknowledgeFeedback(review_id=review_id, note="Thanks, will do."), now=NEXT_DAY
    )
    assert event == FeedbackAcknowledged(
        **envelope(3, NEXT_DAY, KIT), review_id=review_id, note="Thanks, will do."
    )


def test_only_the_handler_answers_the_feedback() -> None:
    story, review_id = reviewed()
    story.refused(x.NotTheHandler, c.AcknowledgeFeedback(review_id=review_id), by=SAM)
    story.refused(
        x.NotTheHandler,
        c.DisputeFeedback(review_id=review_id, reason="I did ask about risk at the start."),
        by=CASEY,
        now=NEXT_DAY,
    )


def test_feedback_is_acknowledged_or_disputed_once() -> None:
    story, review_id = reviewed()
    story.given(c.AcknowledgeFeedback(review_id=review_id), now=NEXT_DAY)
    story.refused(x.FeedbackAlreadyAnswered, c.AcknowledgeFeedback(review_id=review_id))
    story.refused(
        x.FeedbackAlreadyAnswered,
        c.DisputeFeedback(review_id=review_id, reason="On reflection I disagree with it."),
        now=NEXT_DAY,
    )


def test_an_answer_names_a_review_of_the_contact_and_comes_after_it() -> None:
    story, review_id = reviewed()
    story.refused(x.ReviewNotFound, c.AcknowledgeFeedback(review_id=CASE), now=NEXT_DAY)
    story.refused(InvalidCommand, c.AcknowledgeFeedback(review_id=review_id, occurred_at=CALL))


def disputed() -> tuple[Story, UUID]:
    story, review_id = reviewed()
    reason = "I did ask about risk, at the start of the call, in other words."
    event = story.given(c.DisputeFeedback(review_id=review_id, reason=reason), now=NEXT_DAY)
    assert isinstance(event, FeedbackDisputed)
    assert event.reason == reason
    return story, review_id


def test_a_lead_resolves_a_disputed_review() -> None:
    story, review_id = disputed()
    resolution = c.ResolveDispute(
        review_id=review_id,
        outcome="revised",
        rationale="The recording shows the risk question was asked early.",
    )
    [event] = story.when(resolution, by=LEE, now=NEXT_DAY)
    assert event == FeedbackDisputeResolved(
        **envelope(4, NEXT_DAY, LEE),
        review_id=review_id,
        outcome=DisputeOutcome.REVISED,
        rationale="The recording shows the risk question was asked early.",
    )
    story.events.append(event)
    state = story.state
    assert state is not None
    assert state.reviews[review_id].feedback_status is FeedbackStatus.REVISED
    # Once.
    story.refused(x.NotDisputed, resolution, by=LEE, now=NEXT_DAY)


def test_only_a_lead_apart_from_reviewer_and_handler_resolves_a_dispute() -> None:
    story, review_id = disputed()
    resolution = c.ResolveDispute(
        review_id=review_id, outcome="upheld", rationale="The review stands as it was written."
    )
    story.refused(x.NotALead, resolution, by=ROBIN, now=NEXT_DAY)
    # A lead who reviewed the contact is not a second person on their own review.
    story = a_call()
    event = story.given(review(), by=LEE, now=AFTERNOON, scorecard=IN_FORCE)
    assert isinstance(event, ContactReviewed)
    story.given(
        c.DisputeFeedback(review_id=event.review_id, reason="I asked about risk, in other words."),
        now=NEXT_DAY,
    )
    story.refused(
        x.ResolverNotApart,
        resolution.model_copy(update={"review_id": event.review_id}),
        by=LEE,
        now=NEXT_DAY,
    )


def test_only_a_disputed_review_is_resolved() -> None:
    story, review_id = reviewed()
    resolution = c.ResolveDispute(
        review_id=review_id, outcome="upheld", rationale="The review stands as it was written."
    )
    story.refused(x.NotDisputed, resolution, by=LEE, now=NEXT_DAY)


# --- follow-ups ---------------------------------------------------------------------------------


def test_a_call_back_is_scheduled_for_whoever_schedules_it_by_default() -> None:
    [event] = a_call().when(follow_up(), by=CASEY, now=AFTERNOON)
    assert event == FollowUpScheduled(
        **envelope(2, AFTERNOON, CASEY),
        follow_up_id=event_id_for(CONTACT, 2),
        kind=FollowUpKind.CALL_BACK,
        due_at=NEXT_DAY,
        assignee="casey",
        detail="Call back once the caller has spoken to their landlord.",
    )


def test_a_follow_up_is_due_no_earlier_than_it_is_scheduled() -> None:
    error = a_call().refused(InvalidCommand, follow_up(due_at=CALL), by=CASEY, now=AFTERNOON)
    assert set(error.errors) == {"due_at"}


REFERRAL = {
    "agency": {"name": "Northshire Adult Social Care", "kind": "adult_social_care"},
    "consent": "refused",
    "consent_rationale": "Caller refused, but the risk of serious harm outweighs it.",
}


def test_a_referral_follow_up_carries_the_case_referrals_rule_word_for_word() -> None:
    # Without a lawful basis: the same refusal as a case's referral.
    with pytest.raises(ValidationError) as on_contact:
        follow_up("referral", **REFERRAL)
    with pytest.raises(ValidationError) as on_case:
        case_commands.MakeReferral.model_validate(
            {**REFERRAL, "reason": "Risk of serious harm at home to the caller."}
        )
    message = "a referral with consent 'refused' needs lawful_basis"
    assert message in str(on_contact.value)
    assert message in str(on_case.value)
    # With it, accepted and recorded as given.
    basis = "UK GDPR Art 6(1)(e), Art 9(2)(g); DPA 2018 Sch 1 para 18"
    [event] = a_call().when(
        follow_up("referral", **REFERRAL, lawful_basis=basis), by=CASEY, now=AFTERNOON
    )
    assert isinstance(event, FollowUpScheduled)
    assert event.agency == Agency(
        name="Northshire Adult Social Care", kind=AgencyKind.ADULT_SOCIAL_CARE
    )
    assert (event.consent, event.lawful_basis) == (Consent.REFUSED, basis)


def test_only_a_referral_takes_an_agency_and_a_referral_needs_one() -> None:
    with pytest.raises(ValidationError, match="only a referral takes agency"):
        follow_up("call_back", agency=REFERRAL["agency"])
    with pytest.raises(ValidationError, match="a referral needs agency and consent"):
        follow_up("referral")


def scheduled(kind: str = "call_back", assignee: str = "sam") -> tuple[Story, UUID]:
    story = a_call()
    event = story.given(follow_up(kind, assignee=assignee), by=CASEY, now=AFTERNOON)
    assert isinstance(event, FollowUpScheduled)
    return story, event.follow_up_id


def test_the_assignee_records_a_call_backs_attempts_and_its_completion() -> None:
    story, follow_up_id = scheduled()
    attempt = story.given(
        c.RecordAttempt(follow_up_id=follow_up_id, outcome="no_answer", note="Rang twice."),
        by=SAM,
        now=NEXT_DAY,
    )
    assert attempt == FollowUpAttempted(
        **envelope(3, NEXT_DAY, SAM),
        follow_up_id=follow_up_id,
        outcome=AttemptOutcome.NO_ANSWER,
        note="Rang twice.",
    )
    later = NEXT_DAY + timedelta(hours=2)
    story.given(c.RecordAttempt(follow_up_id=follow_up_id, outcome="reached"), by=SAM, now=later)
    done = story.given(
        c.CompleteFollowUp(follow_up_id=follow_up_id, outcome="Caller reached; safe at home."),
        by=SAM,
        now=later,
    )
    assert isinstance(done, FollowUpCompleted)
    assert done.meeting is None
    state = story.state
    assert state is not None
    item = state.follow_ups[follow_up_id]
    assert [a.outcome for a in item.attempts] == [AttemptOutcome.NO_ANSWER, AttemptOutcome.REACHED]
    assert item.completed_at == later


def test_someone_else_s_follow_up_is_not_theirs_to_record_but_a_coordinator_s() -> None:
    story, follow_up_id = scheduled()
    attempt = c.RecordAttempt(follow_up_id=follow_up_id, outcome="left_message")
    story.refused(x.NotTheAssignee, attempt, by=KIT, now=NEXT_DAY)
    assert story.when(attempt, by=ROBIN, now=NEXT_DAY)  # a coordinator manages follow-ups


def test_a_follow_up_is_completed_once_and_nothing_is_attempted_after() -> None:
    story, follow_up_id = scheduled()
    story.given(
        c.CompleteFollowUp(follow_up_id=follow_up_id, outcome="Caller rang us back first."),
        by=SAM,
        now=NEXT_DAY,
    )
    story.refused(
        x.FollowUpAlreadyCompleted,
        c.CompleteFollowUp(follow_up_id=follow_up_id, outcome="Again."),
        by=SAM,
        now=NEXT_DAY,
    )
    story.refused(
        x.FollowUpAlreadyCompleted,
        c.RecordAttempt(follow_up_id=follow_up_id, outcome="reached"),
        by=SAM,
        now=NEXT_DAY,
    )


def test_an_attempt_or_completion_names_a_follow_up_of_the_contact() -> None:
    story, _ = scheduled()
    story.refused(
        x.FollowUpNotFound, c.RecordAttempt(follow_up_id=CASE, outcome="reached"), by=CASEY
    )


def test_a_completion_comes_after_the_latest_attempt() -> None:
    story, follow_up_id = scheduled()
    later = NEXT_DAY + timedelta(hours=3)
    story.given(c.RecordAttempt(follow_up_id=follow_up_id, outcome="reached"), by=SAM, now=later)
    story.refused(
        InvalidCommand,
        c.CompleteFollowUp(follow_up_id=follow_up_id, outcome="Done.", occurred_at=NEXT_DAY),
        by=SAM,
        now=later,
    )


def test_an_advocacy_letter_is_completed_with_its_text() -> None:
    story, follow_up_id = scheduled("advocacy_letter")
    error = story.refused(
        x.CompletionIncomplete,
        c.CompleteFollowUp(follow_up_id=follow_up_id, outcome="Letter sent to the landlord."),
        by=SAM,
        now=NEXT_DAY,
    )
    assert set(error.errors) == {"letter_text"}
    done = story.given(
        c.CompleteFollowUp(
            follow_up_id=follow_up_id,
            outcome="Letter sent to the landlord.",
            letter_text="Dear Sir or Madam, we write on behalf of our caller...",
        ),
        by=SAM,
        now=NEXT_DAY,
    )
    assert isinstance(done, FollowUpCompleted)
    assert done.letter_text is not None


def test_a_multi_agency_meeting_is_completed_with_its_record() -> None:
    story, follow_up_id = scheduled("multi_agency_meeting")
    error = story.refused(
        x.CompletionIncomplete,
        c.CompleteFollowUp(
            follow_up_id=follow_up_id, outcome="Held.", letter_text="Not a letter at all."
        ),
        by=SAM,
        now=NEXT_DAY,
    )
    assert set(error.errors) == {"attendees", "decisions", "letter_text"}
    done = story.given(
        c.CompleteFollowUp.model_validate(
            {
                "follow_up_id": follow_up_id,
                "outcome": "Held; actions agreed.",
                "attendees": [{"name": "PC Lowe", "agency": "Northshire Police"}],
                "decisions": ["Police to visit the caller this week."],
                "actions": [{"owner": "Northshire Police", "action": "Visit", "due": "2026-11-20"}],
            }
        ),
        by=SAM,
        now=NEXT_DAY,
    )
    assert isinstance(done, FollowUpCompleted)
    assert done.meeting == Meeting(
        attendees=[MeetingAttendee(name="PC Lowe", agency="Northshire Police")],
        decisions=["Police to visit the caller this week."],
        actions=[MeetingAction(owner="Northshire Police", action="Visit", due=date(2026, 11, 20))],
    )


def test_only_a_meeting_takes_a_meeting_record() -> None:
    story, follow_up_id = scheduled("call_back")
    error = story.refused(
        x.CompletionIncomplete,
        c.CompleteFollowUp.model_validate(
            {"follow_up_id": follow_up_id, "outcome": "Done.", "decisions": ["Something."]}
        ),
        by=SAM,
        now=NEXT_DAY,
    )
    assert set(error.errors) == {"decisions"}


def test_decide_and_fold_answers_the_state_after_the_write() -> None:
    events, state = decide_and_fold(None, logged(case_id=str(CASE)), ctx())
    assert len(events) == 2
    assert (state.version, state.case_id, state.handled_by) == (2, CASE, "kit")


# --- the storage format's personal fields -------------------------------------------------------

PERSONAL_FIELDS: dict[type[Any], set[str]] = {
    ContactLogged: {"summary"},
    Caller: {"display_name"},
    Participant: {"name"},
    ContactLinkedToCase: set(),
    # A review's rationale speaks of a particular call (what was said, what was missed).
    ContactReviewed: {"feedback", "rationale"},
    FeedbackAcknowledged: {"note"},
    FeedbackDisputed: {"reason"},
    FeedbackDisputeResolved: {"rationale"},
    FollowUpScheduled: {"detail", "consent_rationale"},
    FollowUpAttempted: {"note"},
    FollowUpCompleted: {"outcome", "note", "letter_text"},
    Meeting: {"decisions"},
    MeetingAttendee: {"name"},
    MeetingAction: {"owner", "action"},  # an action's owner is usually an attendee
    SafeguardingFailReviewed: {"rationale"},
    ContactSlaBreachExplained: {"explanation", "action"},
}


@pytest.mark.parametrize("model", list(PERSONAL_FIELDS), ids=lambda m: m.__name__)
def test_the_personal_fields_of_the_contact_events_are_marked(model: type[Any]) -> None:
    assert set(personal_fields(model)) == PERSONAL_FIELDS[model]


def test_every_contact_event_is_pinned() -> None:
    assert set(EVENT_TYPES.values()) <= set(PERSONAL_FIELDS)


# --- evolve never fails -------------------------------------------------------------------------

times = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)
ids = st.sampled_from([CONTACT, CASE])
stamp = {
    "originator_id": st.just(CONTACT),
    "originator_version": st.integers(1, 9),
    "event_id": st.uuids(),
    "occurred_at": times,
    "recorded_at": times,
    "actor": st.sampled_from(["kit", "casey"]),
    "actor_role": st.sampled_from(Role),
}
any_event = st.one_of(
    st.builds(
        ContactLogged,
        **stamp,
        channel=st.sampled_from(ContactChannel),
        direction=st.sampled_from(ContactDirection),
        service=st.text(max_size=3),
        caller=st.builds(Caller, anonymous=st.booleans(), ref=st.none() | st.text(max_size=3)),
        category=st.sampled_from(Category),
        summary=st.text(max_size=3),
        outcome=st.sampled_from(ContactOutcome),
        handled_by=st.sampled_from(["kit", "casey"]),
    ),
    st.builds(ContactLinkedToCase, **stamp, case_id=ids, opened_case=st.booleans()),
    st.builds(
        ContactReviewed,
        **stamp,
        review_id=ids,
        reviewer=st.sampled_from(["kit", "casey"]),
        scorecard_version=st.integers(1, 3),
        scores=st.dictionaries(st.text(max_size=3), st.integers(0, 5), max_size=3),
        score=st.floats(0, 100),
        result=st.sampled_from(ReviewResult),
        feedback=st.text(max_size=3),
        rationale=st.text(max_size=3),
    ),
    st.builds(FeedbackAcknowledged, **stamp, review_id=ids),
    st.builds(FeedbackDisputed, **stamp, review_id=ids, reason=st.text(max_size=3)),
    st.builds(
        FeedbackDisputeResolved,
        **stamp,
        review_id=ids,
        outcome=st.sampled_from(DisputeOutcome),
        rationale=st.text(max_size=3),
    ),
    st.builds(
        FollowUpScheduled,
        **stamp,
        follow_up_id=ids,
        kind=st.sampled_from(FollowUpKind),
        due_at=times,
        assignee=st.sampled_from(["kit", "casey"]),
        detail=st.text(max_size=3),
    ),
    st.builds(
        FollowUpAttempted, **stamp, follow_up_id=ids, outcome=st.sampled_from(AttemptOutcome)
    ),
    st.builds(FollowUpCompleted, **stamp, follow_up_id=ids, outcome=st.text(max_size=3)),
)


@given(events=st.lists(any_event, max_size=10))
def test_evolve_never_raises(events: list[ContactEvent]) -> None:
    state: ContactState | None = None
    for event in events:
        state = evolve(state, event)
    if state is not None:
        assert state.version == events[-1].originator_version
        state.first_review()
