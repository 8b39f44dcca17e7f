"""A safeguarding lead's look at a quality review that failed a safeguarding criterion.

A review whose critical safeguarding criterion scored 0 (``ContactReviewed.safeguarding_fail``)
is a safeguarding matter, not only a quality one: it waits in the ``qa_safeguarding_fails``
queue until a safeguarding lead has looked at it and recorded what they did about it. That look
is ``SafeguardingFailReviewed``, on the contact's own stream. The rules (``decide``):

* only a safeguarding lead looks at it, and not the lead who handled the contact (a second
  person: the one whose practice is in question does not clear it);
* only a review that failed a safeguarding criterion, and once;
* not before the review.

``SafeguardingFailReviewed`` IS THE STORAGE FORMAT (its topic is
``domain.contact.lead_review:SafeguardingFailReviewed``): never rename or move it, never remove
or retype a field; add fields only with defaults. Its ``rationale`` is personal, as a review's
is (it speaks of a particular call): sealed under the contact's subject like every event of the
stream (``ContactEvent.__data_subject__``), and erased with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from domain.case.ids import event_id_for
from domain.contact.commands import ContactCommand
from domain.contact.errors import ContactNotFound, NotALead, ReviewNotFound
from domain.contact.events import ContactEvent, Personal
from domain.contact.state import ContactState, evolve
from domain.errors import InvalidCommand, NotPermitted, RuleViolation
from domain.shared import DecisionContext, Rationale, Role, resolve_occurred_at


class LeadReviewOutcome(StrEnum):
    """What the lead did about a safeguarding fail."""

    # The contact was handled safely after all (e.g. the question was asked in other words).
    NO_FURTHER_ACTION = "no_further_action"
    # The practice is taken up with the handler: supervision, training, a rerun of the script.
    PRACTICE_ADDRESSED = "practice_addressed"
    # The caller may be at risk: a case opened or joined, a referral or a call-back made.
    SAFEGUARDING_ACTION_TAKEN = "safeguarding_action_taken"


class SafeguardingFailReviewed(ContactEvent):
    """A safeguarding lead looked at a review that failed a safeguarding criterion."""

    review_id: UUID
    outcome: LeadReviewOutcome
    rationale: Personal


# --- the rules -------------------------------------------------------------------------------


class NotASafeguardingFail(RuleViolation):
    """Only a review that failed a safeguarding criterion waits for a lead's look."""

    title = "The review is not a safeguarding fail"


class SafeguardingFailAlreadyReviewed(RuleViolation):
    title = "A lead has already looked at this safeguarding fail"


class LeadIsHandler(NotPermitted):
    """The lead who handled the contact does not clear its safeguarding fail."""

    title = "A safeguarding fail is looked at by a lead other than the contact's handler"


class LeadLook(ContactCommand):
    """What a safeguarding lead did about a safeguarding fail, and why (the body of ``POST
    /contacts/{id}/reviews/{review_id}/lead-review``)."""

    outcome: LeadReviewOutcome = Field(
        description="no_further_action (handled safely after all), practice_addressed (taken "
        "up with the handler), safeguarding_action_taken (a case, a referral, a call-back)."
    )
    rationale: Rationale = Field(description="Why (sealed under the contact's subject).")


class ReviewSafeguardingFail(LeadLook):
    """A safeguarding lead records their look at a review that failed a safeguarding
    criterion: what they did about it, and why."""

    review_id: UUID


@dataclass(frozen=True)
class UnderLeadReview:
    """What the lead's look decides on: the contact's state, and the reviews a lead has
    already looked at (the state itself keeps only what the contact's own rules need)."""

    state: ContactState
    looked_at: frozenset[UUID] = field(default_factory=frozenset)


def fold(current: UnderLeadReview | None, events: Iterable[ContactEvent]) -> UnderLeadReview | None:
    """Fold a contact's events (never raises)."""
    for event in events:
        state = evolve(None if current is None else current.state, event)
        looked_at = frozenset() if current is None else current.looked_at
        if isinstance(event, SafeguardingFailReviewed):
            looked_at = looked_at | {event.review_id}
        current = UnderLeadReview(state, looked_at)
    return current


def decide(
    current: UnderLeadReview | None, command: ReviewSafeguardingFail, dc: DecisionContext
) -> list[SafeguardingFailReviewed]:
    """The lead's look, or the rule it breaks."""
    if current is None:
        raise ContactNotFound("no such contact")
    state = current.state
    review = state.reviews.get(command.review_id)
    if review is None:
        raise ReviewNotFound("no such review of this contact", errors={"review_id": "not found"})
    lead = dc.actor
    if Role.SAFEGUARDING_LEAD not in lead.roles | {lead.role}:
        raise NotALead("only a safeguarding lead looks at a safeguarding fail")
    if not lead.stands_apart_from(state.handled_by):
        raise LeadIsHandler(
            f"{state.handled_by} handled this contact: another safeguarding lead looks at its "
            "safeguarding fail"
        )
    if not review.safeguarding_fail:
        raise NotASafeguardingFail(
            "this review failed no safeguarding criterion: there is nothing for a lead to look "
            "at (the feedback is the handler's to answer)"
        )
    if command.review_id in current.looked_at:
        raise SafeguardingFailAlreadyReviewed(
            "a safeguarding lead has already looked at this safeguarding fail: it is looked at once"
        )
    occurred_at = resolve_occurred_at(command.occurred_at, dc)
    if occurred_at < review.reviewed_at:
        raise InvalidCommand(
            "occurred_at is before the review",
            errors={"occurred_at": f"earlier than the review ({review.reviewed_at.isoformat()})"},
        )
    version = state.version + 1
    return [
        SafeguardingFailReviewed(
            originator_id=state.id,
            originator_version=version,
            event_id=event_id_for(state.id, version),
            occurred_at=occurred_at,
            recorded_at=dc.now,
            actor=lead.username,
            actor_role=lead.role,
            review_id=command.review_id,
            outcome=command.outcome,
            rationale=command.rationale,
        )
    ]
