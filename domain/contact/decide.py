"""The Contact aggregate's decisions: log a contact, link it to a case, review it, answer and
resolve the feedback, schedule, attempt and complete its follow-ups.

Pure: the actor, the clock, the new contact's (or new case's) id and the scorecard version in
force at the contact come in on the context. The rules, each with its own error
(``domain.contact.errors``):

* ``occurred_at`` is never in the future beyond the clock skew, and nothing about a contact
  happens before the contact itself (nor an answer before its review, an attempt before its
  follow-up was scheduled).
* A contact names at most one case, the one its concern opened or joined (the case's own rules,
  ``domain.case.decide``, are applied to the case's side by the application).
* A review is by someone other than the handler (a second person: no one is behind both), once
  per reviewer; every criterion of the scorecard version in force at the contact is scored, and
  the score, result, critical failures and safeguarding fail are computed from that version. A
  second review of a contact is a calibration.
* The handler, and only the handler, answers a review's feedback: acknowledges it or disputes
  it with a reason, once. A safeguarding lead other than the reviewer and the handler resolves a
  disputed review, once: upheld or revised.
* A referral follow-up carries the case referral's consent and lawful-basis rule
  (``domain.referral``, checked when the command is built). A follow-up is due no earlier than it
  is scheduled. Its attempts and completion are recorded by its assignee or by a coordinator or
  lead; nothing is attempted after it is completed, and it is completed once: a letter with its
  text, a multi-agency meeting with its attendees and decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from domain.access.permissions import Permission, permits
from domain.case.events import Agency
from domain.case.ids import event_id_for
from domain.contact import commands as c
from domain.contact import errors as x
from domain.contact.events import (
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
from domain.contact.state import ContactState, FollowUp, Review, evolve
from domain.contact.vocabulary import FeedbackStatus, FollowUpKind, ReviewResult
from domain.errors import InvalidCommand, NotPermitted
from domain.quality.errors import NoScorecardInForce
from domain.shared import DecisionContext, Role, resolve_occurred_at
from domain.sla_clocks import CONTACT_CLOCKS, SlaClock, clock_id


class Scored(Protocol):
    """What a review's scores come to under a scorecard version
    (``domain.quality.scoring.ReviewScore`` is one)."""

    @property
    def score(self) -> float: ...

    @property
    def result(self) -> str: ...

    @property
    def critical_failures(self) -> Sequence[str]: ...

    @property
    def safeguarding_fail(self) -> bool: ...


@dataclass(frozen=True)
class ScorecardInForce:
    """The scorecard version in force at the contact, as a review reads it: its number, and what
    scores come to under it (``domain.quality.scoring.score_review`` bound to that version,
    which refuses scores that do not fit it: 422 naming ``scores.<key>``)."""

    version: int
    score: Callable[[Mapping[str, int]], Scored]


@dataclass(frozen=True)
class ContactContext:
    decision: DecisionContext
    contact_id: UUID | None = None  # LogContact: the new contact's id
    case_id: UUID | None = None  # LinkCase with open_case: the new case's id
    # ReviewContact: the scorecard version in force at the contact's occurred_at (None: none).
    scorecard: ScorecardInForce | None = None


def decide(
    state: ContactState | None, command: c.ContactCommandType, ctx: ContactContext
) -> list[ContactEvent]:
    """The events ``command`` makes of the contact, or a DomainError."""
    dc = ctx.decision
    occurred_at = resolve_occurred_at(command.occurred_at, dc)
    if isinstance(command, c.LogContact):
        if state is not None:
            raise x.ContactAlreadyLogged(f"contact {state.id} is already logged")
        if ctx.contact_id is None:
            raise InvalidCommand("no id given for the new contact")
        return _log(ctx.contact_id, command, occurred_at, dc)
    if state is None:
        raise x.ContactNotFound("no such contact")
    _not_before(occurred_at, state.occurred_at, "contact")
    if isinstance(command, c.LinkCase):
        case_id = command.case_id or ctx.case_id
        if case_id is None:
            raise InvalidCommand("no id given for the new case")
        return [_link(state, case_id, command.open_case is not None, occurred_at, dc)]
    if isinstance(command, c.ReviewContact):
        return [_review(state, command, occurred_at, ctx)]
    if isinstance(command, (c.AcknowledgeFeedback, c.DisputeFeedback)):
        return [_answer(state, command, occurred_at, dc)]
    if isinstance(command, c.ResolveDispute):
        return [_resolve(state, command, occurred_at, dc)]
    if isinstance(command, c.ScheduleFollowUp):
        return [_schedule(state, command, occurred_at, dc)]
    if isinstance(command, c.RecordAttempt):
        return [_attempt(state, command, occurred_at, dc)]
    if isinstance(command, c.CompleteFollowUp):
        return [_complete(state, command, occurred_at, dc)]
    if isinstance(command, c.ExplainContactSlaBreach):
        return [_explain_breach(state, command, occurred_at, dc)]
    raise TypeError(f"not a contact command: {type(command).__name__}")  # pragma: no cover


def decide_and_fold(
    state: ContactState | None, command: c.ContactCommandType, ctx: ContactContext
) -> tuple[list[ContactEvent], ContactState]:
    """``decide``, and the state after its events (what a 201 answers with)."""
    events = decide(state, command, ctx)
    for event in events:
        state = evolve(state, event)
    assert state is not None
    return events, state


# --- logging and the case ----------------------------------------------------------------------


def _log(
    contact_id: UUID, cmd: c.LogContact, at: datetime, dc: DecisionContext
) -> list[ContactEvent]:
    logged = ContactLogged(
        **_fields(contact_id, 1, at, dc),
        channel=cmd.channel,
        direction=cmd.direction,
        service=cmd.service,
        duration_seconds=cmd.duration_seconds,
        caller=Caller(**cmd.caller.model_dump()),
        participants=[Participant(**p.model_dump()) for p in cmd.participants],
        category=cmd.category,
        summary=cmd.summary,
        outcome=cmd.outcome,
        handled_by=dc.actor.username,
    )
    if cmd.case_id is None:
        return [logged]
    state = evolve(None, logged)
    return [logged, _link(state, cmd.case_id, False, at, dc)]


def _link(
    state: ContactState, case_id: UUID, opened: bool, at: datetime, dc: DecisionContext
) -> ContactLinkedToCase:
    if state.case_id is not None:
        raise x.AlreadyLinkedToCase(
            f"the contact is already linked to case {state.case_id}: a contact names one case"
        )
    return ContactLinkedToCase(**_envelope(state, at, dc), case_id=case_id, opened_case=opened)


# --- reviews and feedback ----------------------------------------------------------------------


def _review(
    state: ContactState, cmd: c.ReviewContact, at: datetime, ctx: ContactContext
) -> ContactReviewed:
    dc = ctx.decision
    reviewer = dc.actor
    if not reviewer.stands_apart_from(state.handled_by):
        raise x.ReviewerIsHandler(
            f"{state.handled_by} handled this contact: it is reviewed by someone else (a second "
            "person: not signed in with a credential the handler issued, nor holding a role "
            "they gave alone)"
        )
    if any(r.reviewer == reviewer.username for r in state.reviews.values()):
        raise x.AlreadyReviewed(
            f"{reviewer.username} has already reviewed this contact: a calibration is a second "
            "reviewer's"
        )
    if ctx.scorecard is None:
        raise NoScorecardInForce(
            f"no scorecard version was in force at the contact ({state.occurred_at.isoformat()})"
            ": there is nothing to review it by"
        )
    scored = ctx.scorecard.score(cmd.scores)
    envelope = _envelope(state, at, dc)
    return ContactReviewed(
        **envelope,
        review_id=envelope["event_id"],
        reviewer=reviewer.username,
        scorecard_version=ctx.scorecard.version,
        scores=dict(cmd.scores),
        score=scored.score,
        result=ReviewResult(str(scored.result)),
        critical_failures=list(scored.critical_failures),
        safeguarding_fail=scored.safeguarding_fail,
        calibration=state.reviewed,
        feedback=cmd.feedback,
        rationale=cmd.rationale,
    )


def _review_of(state: ContactState, review_id: UUID) -> Review:
    review = state.reviews.get(review_id)
    if review is None:
        raise x.ReviewNotFound("no such review of this contact", errors={"review_id": "not found"})
    return review


def _answer(
    state: ContactState,
    cmd: c.AcknowledgeFeedback | c.DisputeFeedback,
    at: datetime,
    dc: DecisionContext,
) -> FeedbackAcknowledged | FeedbackDisputed:
    review = _review_of(state, cmd.review_id)
    if dc.actor.username != state.handled_by:
        raise x.NotTheHandler(
            f"the feedback is for {state.handled_by}, who handled the contact: only they "
            "acknowledge or dispute it"
        )
    if review.feedback_status is not FeedbackStatus.AWAITING:
        raise x.FeedbackAlreadyAnswered(
            f"the feedback is already {review.feedback_status.value}: it is acknowledged or "
            "disputed once"
        )
    _not_before(at, review.reviewed_at, "review")
    if isinstance(cmd, c.AcknowledgeFeedback):
        return FeedbackAcknowledged(
            **_envelope(state, at, dc), review_id=cmd.review_id, note=cmd.note
        )
    return FeedbackDisputed(**_envelope(state, at, dc), review_id=cmd.review_id, reason=cmd.reason)


def _resolve(
    state: ContactState, cmd: c.ResolveDispute, at: datetime, dc: DecisionContext
) -> FeedbackDisputeResolved:
    review = _review_of(state, cmd.review_id)
    lead = dc.actor
    if Role.SAFEGUARDING_LEAD not in lead.roles | {lead.role}:
        raise x.NotALead("only a safeguarding lead resolves a disputed review")
    if review.feedback_status is not FeedbackStatus.DISPUTED:
        raise x.NotDisputed(
            "only a disputed review is resolved, once; this one's feedback is "
            f"{review.feedback_status.value}"
        )
    if not (lead.stands_apart_from(review.reviewer) and lead.stands_apart_from(state.handled_by)):
        raise x.ResolverNotApart(
            "a dispute is resolved by a safeguarding lead other than the reviewer and the "
            "handler (a second person to both)"
        )
    _not_before(at, review.answered_at or review.reviewed_at, "dispute")
    return FeedbackDisputeResolved(
        **_envelope(state, at, dc),
        review_id=cmd.review_id,
        outcome=cmd.outcome,
        rationale=cmd.rationale,
    )


# --- follow-ups --------------------------------------------------------------------------------


def _schedule(
    state: ContactState, cmd: c.ScheduleFollowUp, at: datetime, dc: DecisionContext
) -> FollowUpScheduled:
    due_at = cmd.due_at.astimezone(UTC)
    if due_at < at:
        raise InvalidCommand(
            "a follow-up is due no earlier than it is scheduled",
            errors={"due_at": f"earlier than occurred_at ({at.isoformat()})"},
        )
    envelope = _envelope(state, at, dc)
    return FollowUpScheduled(
        **envelope,
        follow_up_id=envelope["event_id"],
        kind=cmd.kind,
        due_at=due_at,
        assignee=cmd.assignee or dc.actor.username,
        detail=cmd.detail,
        agency=None if cmd.agency is None else Agency(**cmd.agency.model_dump()),
        consent=cmd.consent,
        consent_rationale=cmd.consent_rationale,
        lawful_basis=cmd.lawful_basis,
    )


def _follow_up_of(
    state: ContactState, follow_up_id: UUID, at: datetime, dc: DecisionContext
) -> FollowUp:
    follow_up = state.follow_ups.get(follow_up_id)
    if follow_up is None:
        raise x.FollowUpNotFound(
            "no such follow-up of this contact", errors={"follow_up_id": "not found"}
        )
    actor = dc.actor
    if actor.username != follow_up.assignee and not permits(actor, Permission.CONTACT_FOLLOW_UP):
        raise x.NotTheAssignee(
            f"the follow-up is {follow_up.assignee}'s: its attempts and completion are recorded "
            "by them, or by a coordinator or safeguarding lead"
        )
    if follow_up.completed:
        raise x.FollowUpAlreadyCompleted(
            f"the follow-up was completed at {follow_up.completed_at}: nothing more is recorded "
            "against it"
        )
    _not_before(at, follow_up.scheduled_at, "follow-up was scheduled")
    return follow_up


def _attempt(
    state: ContactState, cmd: c.RecordAttempt, at: datetime, dc: DecisionContext
) -> FollowUpAttempted:
    _follow_up_of(state, cmd.follow_up_id, at, dc)
    return FollowUpAttempted(
        **_envelope(state, at, dc),
        follow_up_id=cmd.follow_up_id,
        outcome=cmd.outcome,
        note=cmd.note,
    )


def _complete(
    state: ContactState, cmd: c.CompleteFollowUp, at: datetime, dc: DecisionContext
) -> FollowUpCompleted:
    follow_up = _follow_up_of(state, cmd.follow_up_id, at, dc)
    if follow_up.attempts:
        _not_before(at, max(a.at for a in follow_up.attempts), "latest attempt")
    meeting = _meeting(follow_up.kind, cmd)
    return FollowUpCompleted(
        **_envelope(state, at, dc),
        follow_up_id=cmd.follow_up_id,
        outcome=cmd.outcome,
        note=cmd.note,
        letter_text=cmd.letter_text,
        meeting=meeting,
    )


def _meeting(kind: FollowUpKind, cmd: c.CompleteFollowUp) -> Meeting | None:
    """A meeting's record from the completion (a letter's text checked too), or the refusal."""
    errors: dict[str, str] = {}
    letter = kind is FollowUpKind.ADVOCACY_LETTER
    meeting = kind is FollowUpKind.MULTI_AGENCY_MEETING
    if letter and cmd.letter_text is None:
        errors["letter_text"] = "an advocacy letter's completion carries the letter"
    if not letter and cmd.letter_text is not None:
        errors["letter_text"] = "only an advocacy letter takes letter_text"
    if meeting:
        if not cmd.attendees:
            errors["attendees"] = "a multi-agency meeting's completion names who attended"
        if not cmd.decisions:
            errors["decisions"] = "a multi-agency meeting's completion records its decisions"
    else:
        for name in ("attendees", "decisions", "actions"):
            if getattr(cmd, name) is not None:
                errors[name] = "only a multi-agency meeting takes " + name
    if errors:
        raise x.CompletionIncomplete(
            f"the completion does not fit a {kind.value.replace('_', ' ')}: "
            + "; ".join(errors.values()),
            errors=errors,
        )
    if not meeting:
        return None
    return Meeting(
        attendees=[MeetingAttendee(**a.model_dump()) for a in cmd.attendees or ()],
        decisions=list(cmd.decisions or ()),
        actions=[MeetingAction(**a.model_dump()) for a in cmd.actions or ()],
    )


# --- SLA breaches (issue 15) -------------------------------------------------------------------


def _explain_breach(
    state: ContactState, cmd: c.ExplainContactSlaBreach, at: datetime, dc: DecisionContext
) -> ContactSlaBreachExplained:
    """A lead explains a breached clock of this contact: its review (the item is the contact)
    or one of its follow-ups. Whether it breached is the reports' to judge."""
    if dc.actor.role is not Role.SAFEGUARDING_LEAD:
        raise NotPermitted("only a safeguarding lead may explain a breached SLA clock")
    if cmd.clock not in CONTACT_CLOCKS:
        raise InvalidCommand(
            f"the {cmd.clock.value} clock does not run on a helpline contact",
            errors={"clock": "one of " + ", ".join(sorted(k.value for k in CONTACT_CLOCKS))},
        )
    if cmd.clock is SlaClock.CONTACT_REVIEWED:
        if cmd.item_id != state.id:
            raise x.ContactNotFound(
                "a contact_reviewed clock's item is the contact itself",
                errors={"clock_id": f"no {clock_id(cmd.clock, cmd.item_id)} on this contact"},
            )
    else:
        follow_up = state.follow_ups.get(cmd.item_id)
        if follow_up is None:
            raise x.FollowUpNotFound(
                "no such follow-up of this contact",
                errors={"clock_id": f"no {clock_id(cmd.clock, cmd.item_id)} on this contact"},
            )
        _not_before(at, follow_up.scheduled_at, "follow-up was scheduled")
    return ContactSlaBreachExplained(
        **_envelope(state, at, dc), **cmd.model_dump(exclude={"occurred_at"})
    )


# --- envelopes ---------------------------------------------------------------------------------


def _not_before(occurred_at: datetime, earlier: datetime, what: str) -> None:
    if occurred_at < earlier:
        raise InvalidCommand(
            f"occurred_at is before the {what}",
            errors={"occurred_at": f"earlier than the {what} ({earlier.isoformat()})"},
        )


def _envelope(state: ContactState, occurred_at: datetime, dc: DecisionContext) -> dict[str, Any]:
    return _fields(state.id, state.version + 1, occurred_at, dc)


def _fields(
    contact_id: UUID, version: int, occurred_at: datetime, dc: DecisionContext
) -> dict[str, Any]:
    return {
        "originator_id": contact_id,
        "originator_version": version,
        "event_id": event_id_for(contact_id, version),
        "occurred_at": occurred_at,
        "recorded_at": dc.now,
        "actor": dc.actor.username,
        "actor_role": dc.actor.role,
    }
