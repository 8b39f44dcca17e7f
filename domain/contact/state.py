"""A contact's state, folded from its events: what the contact's decisions need (who handled
it, when it occurred, its case, its reviews and their feedback, its follow-ups), and nothing
personal: the summary, the feedback and every other sealed text are only read, from the events.
``evolve`` never raises (it runs on every replay)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.case.vocabulary import AgencyKind, Category, Consent
from domain.contact.events import (
    ContactEvent,
    ContactLinkedToCase,
    ContactLogged,
    ContactReviewed,
    FeedbackAcknowledged,
    FeedbackDisputed,
    FeedbackDisputeResolved,
    FollowUpAttempted,
    FollowUpCompleted,
    FollowUpScheduled,
)
from domain.contact.vocabulary import (
    AttemptOutcome,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    DisputeOutcome,
    FeedbackStatus,
    FollowUpKind,
    ReviewResult,
)


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True)


class Review(_Value):
    review_id: UUID
    reviewer: str
    reviewed_at: datetime  # occurred
    scorecard_version: int
    score: float
    result: ReviewResult
    critical_failures: tuple[str, ...] = ()
    safeguarding_fail: bool = False
    calibration: bool = False
    feedback_status: FeedbackStatus = FeedbackStatus.AWAITING
    answered_at: datetime | None = None  # acknowledged or disputed (occurred)
    resolved_by: str | None = None
    resolved_at: datetime | None = None


class Attempt(_Value):
    outcome: AttemptOutcome
    by: str
    at: datetime  # occurred


class FollowUp(_Value):
    follow_up_id: UUID
    kind: FollowUpKind
    due_at: datetime
    assignee: str
    scheduled_by: str
    scheduled_at: datetime  # occurred
    agency_kind: AgencyKind | None = None  # a referral's
    consent: Consent | None = None  # a referral's
    attempts: tuple[Attempt, ...] = ()
    completed_by: str | None = None
    completed_at: datetime | None = None  # occurred

    @property
    def completed(self) -> bool:
        return self.completed_at is not None


class ContactState(_Value):
    id: UUID
    version: int
    occurred_at: datetime  # when the contact happened
    recorded_at: datetime  # when it was logged
    channel: ContactChannel
    direction: ContactDirection
    service: str
    duration_seconds: int | None = None
    anonymous: bool
    caller_ref: str | None = None  # pseudonymous, like a case subject's ref
    participants: int = 0
    category: Category
    outcome: ContactOutcome
    handled_by: str
    case_id: UUID | None = None
    opened_case: bool = False
    linked_at: datetime | None = None  # occurred
    reviews: dict[UUID, Review] = {}
    follow_ups: dict[UUID, FollowUp] = {}
    # The latest occurred_at among its events (a later event cannot precede the contact).
    last_activity_at: datetime | None = None

    @property
    def reviewed(self) -> bool:
        return bool(self.reviews)

    def first_review(self) -> Review | None:
        return min(self.reviews.values(), key=lambda r: r.reviewed_at, default=None)


def evolve(state: ContactState | None, event: ContactEvent) -> ContactState:
    """Fold one event (never raises on a stored event)."""
    if isinstance(event, ContactLogged):
        return ContactState(
            id=event.originator_id,
            version=event.originator_version,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            channel=event.channel,
            direction=event.direction,
            service=event.service,
            duration_seconds=event.duration_seconds,
            anonymous=event.caller.anonymous,
            caller_ref=event.caller.ref,
            participants=len(event.participants),
            category=event.category,
            outcome=event.outcome,
            handled_by=event.handled_by,
            last_activity_at=event.occurred_at,
        )
    if state is None:  # a stream that lost its logging: keep what can be kept
        state = ContactState(
            id=event.originator_id,
            version=0,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            channel=ContactChannel.CALL,
            direction=ContactDirection.INBOUND,
            service="",
            anonymous=True,
            category=Category.OTHER,
            outcome=ContactOutcome.OTHER,
            handled_by="",
        )
    update: dict[str, Any] = {"version": event.originator_version}
    if state.last_activity_at is None or event.occurred_at > state.last_activity_at:
        update["last_activity_at"] = event.occurred_at
    if isinstance(event, ContactLinkedToCase):
        update |= {
            "case_id": event.case_id,
            "opened_case": event.opened_case,
            "linked_at": event.occurred_at,
        }
    elif isinstance(event, ContactReviewed):
        review = Review(
            review_id=event.review_id,
            reviewer=event.reviewer,
            reviewed_at=event.occurred_at,
            scorecard_version=event.scorecard_version,
            score=event.score,
            result=event.result,
            critical_failures=tuple(event.critical_failures),
            safeguarding_fail=event.safeguarding_fail,
            calibration=event.calibration,
        )
        update["reviews"] = {**state.reviews, event.review_id: review}
    elif isinstance(event, (FeedbackAcknowledged, FeedbackDisputed, FeedbackDisputeResolved)):
        found = state.reviews.get(event.review_id)
        if found is not None:
            update["reviews"] = {**state.reviews, event.review_id: _answered(found, event)}
    elif isinstance(event, FollowUpScheduled):
        follow_up = FollowUp(
            follow_up_id=event.follow_up_id,
            kind=event.kind,
            due_at=event.due_at,
            assignee=event.assignee,
            scheduled_by=event.actor,
            scheduled_at=event.occurred_at,
            agency_kind=None if event.agency is None else event.agency.kind,
            consent=event.consent,
        )
        update["follow_ups"] = {**state.follow_ups, event.follow_up_id: follow_up}
    elif isinstance(event, (FollowUpAttempted, FollowUpCompleted)):
        scheduled = state.follow_ups.get(event.follow_up_id)
        if scheduled is not None:
            changed: dict[str, Any]
            if isinstance(event, FollowUpAttempted):
                attempt = Attempt(outcome=event.outcome, by=event.actor, at=event.occurred_at)
                changed = {"attempts": (*scheduled.attempts, attempt)}
            else:
                changed = {"completed_by": event.actor, "completed_at": event.occurred_at}
            update["follow_ups"] = {
                **state.follow_ups,
                event.follow_up_id: scheduled.model_copy(update=changed),
            }
    return state.model_copy(update=update)


def _answered(
    review: Review, event: FeedbackAcknowledged | FeedbackDisputed | FeedbackDisputeResolved
) -> Review:
    if isinstance(event, FeedbackAcknowledged):
        return review.model_copy(
            update={
                "feedback_status": FeedbackStatus.ACKNOWLEDGED,
                "answered_at": event.occurred_at,
            }
        )
    if isinstance(event, FeedbackDisputed):
        return review.model_copy(
            update={"feedback_status": FeedbackStatus.DISPUTED, "answered_at": event.occurred_at}
        )
    upheld = event.outcome is DisputeOutcome.UPHELD
    return review.model_copy(
        update={
            "feedback_status": FeedbackStatus.UPHELD if upheld else FeedbackStatus.REVISED,
            "resolved_by": event.actor,
            "resolved_at": event.occurred_at,
        }
    )


def fold(events: Iterable[ContactEvent], state: ContactState | None = None) -> ContactState | None:
    for event in events:
        state = evolve(state, event)
    return state
