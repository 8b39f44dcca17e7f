"""A safeguarding lead's look at a review that failed a safeguarding criterion, as stories: given
a contact's events, when the lead's look, then this event (or this error, and nothing decided).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.case.ids import event_id_for
from domain.contact import commands as c
from domain.contact import lead_review as lr
from domain.contact.decide import ContactContext, ScorecardInForce
from domain.contact.decide import decide as decide_contact
from domain.contact.errors import ContactNotFound, NotALead, ReviewNotFound
from domain.contact.events import ContactEvent
from domain.errors import DomainError, InvalidCommand
from domain.quality.scoring import Criterion, ScorecardVersion, score_review
from domain.shared import Actor, DecisionContext, Role

CALL = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)
AFTERNOON = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
NEXT_DAY = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
CONTACT = UUID("00000000-0000-4000-8000-000000000014")

KIT = Actor(username="kit", role=Role.VOLUNTEER)
CASEY = Actor(username="casey", role=Role.COORDINATOR)
LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
LOU = Actor(username="lou", role=Role.SAFEGUARDING_LEAD)

SCORECARD = ScorecardVersion(
    version=1,
    name="Helpline quality",
    criteria=[
        Criterion(key="greeting", label="Greets", weight=1, max_score=2, critical=False),
        Criterion(
            key="risk_asked",
            label="Asks about immediate risk",
            weight=2,
            max_score=2,
            critical=True,
            safeguarding=True,
        ),
    ],
    pass_mark=60,
    effective_from=datetime(2026, 1, 1, tzinfo=UTC),
)
MISSED = {"greeting": 2, "risk_asked": 0}
GOOD = {"greeting": 2, "risk_asked": 2}


class Story:
    """A contact's history, decided with the real ``decide`` of the contact and of the look."""

    def __init__(self, handler: Actor = KIT) -> None:
        self.events: list[ContactEvent] = []
        logged = c.LogContact.model_validate(
            {
                "channel": "call",
                "direction": "inbound",
                "caller": {"anonymous": True},
                "category": "self_harm_risk",
                "summary": "Caller spoke of feeling unsafe tonight.",
                "outcome": "information_given",
            }
        )
        self.given(logged, handler, CALL, contact_id=CONTACT)

    @property
    def current(self) -> lr.UnderLeadReview | None:
        return lr.fold(None, self.events)

    def given(self, command: Any, by: Actor, now: datetime, **ctx: Any) -> Story:
        context = ContactContext(
            decision=DecisionContext(actor=by, now=now),
            scorecard=ScorecardInForce(1, lambda scores: score_review(SCORECARD, scores)),
            **ctx,
        )
        self.events += decide_contact(self.current and self.current.state, command, context)
        return self

    def reviewed(self, scores: dict[str, int], by: Actor = CASEY) -> UUID:
        review = c.ReviewContact(
            scores=scores, feedback="Ask about risk first.", rationale="From the recording."
        )
        self.given(review, by, AFTERNOON)
        return self.events[-1].event_id

    def when(
        self, review_id: UUID, by: Actor = LEE, now: datetime = NEXT_DAY, **fields: Any
    ) -> list[lr.SafeguardingFailReviewed]:
        command = lr.ReviewSafeguardingFail.model_validate(
            {
                "review_id": review_id,
                "outcome": "practice_addressed",
                "rationale": "Talked it through in supervision; script updated.",
                **fields,
            }
        )
        return lr.decide(self.current, command, DecisionContext(actor=by, now=now))

    def refused(self, error: type[DomainError], review_id: UUID, **kw: Any) -> DomainError:
        before = list(self.events)
        with pytest.raises(error) as refused:
            self.when(review_id, **kw)
        assert self.events == before
        return refused.value


def test_a_lead_looks_at_a_safeguarding_fail_once() -> None:
    story = Story()
    failed = story.reviewed(MISSED)
    (look,) = story.when(failed)
    assert look == lr.SafeguardingFailReviewed(
        originator_id=CONTACT,
        originator_version=3,
        event_id=event_id_for(CONTACT, 3),
        occurred_at=NEXT_DAY,
        recorded_at=NEXT_DAY,
        actor="lee",
        actor_role=Role.SAFEGUARDING_LEAD,
        review_id=failed,
        outcome=lr.LeadReviewOutcome.PRACTICE_ADDRESSED,
        rationale="Talked it through in supervision; script updated.",
    )
    story.events.append(look)
    assert story.current is not None
    assert story.current.looked_at == frozenset({failed})
    error = story.refused(lr.SafeguardingFailAlreadyReviewed, failed, by=LOU)
    assert "once" in str(error)


def test_only_a_safeguarding_fail_waits_for_a_lead() -> None:
    story = Story()
    passed = story.reviewed(GOOD)
    error = story.refused(lr.NotASafeguardingFail, passed)
    assert "no safeguarding criterion" in str(error)


def test_only_a_safeguarding_lead_other_than_the_handler_looks() -> None:
    story = Story()
    failed = story.reviewed(MISSED)
    story.refused(NotALead, failed, by=CASEY)
    led = Story(handler=LOU)
    failed_by_lead = led.reviewed(MISSED)
    error = led.refused(lr.LeadIsHandler, failed_by_lead, by=LOU)
    assert "lou handled this contact" in str(error)
    assert led.when(failed_by_lead, by=LEE)  # another lead may


def test_the_review_and_the_contact_must_exist_and_the_look_comes_after_the_review() -> None:
    story = Story()
    failed = story.reviewed(MISSED)
    missing = story.refused(ReviewNotFound, UUID(int=7))
    assert missing.errors == {"review_id": "not found"}
    with pytest.raises(ContactNotFound):
        lr.decide(
            None,
            lr.ReviewSafeguardingFail(
                review_id=failed, outcome="no_further_action", rationale="Nothing more to do here."
            ),
            DecisionContext(actor=LEE, now=NEXT_DAY),
        )
    early = story.refused(InvalidCommand, failed, occurred_at=AFTERNOON - timedelta(minutes=1))
    assert "occurred_at" in (early.errors or {})
    future = story.refused(InvalidCommand, failed, occurred_at=NEXT_DAY + timedelta(hours=1))
    assert "future" in str(future)


def test_the_command_refuses_an_unknown_outcome_and_an_empty_rationale() -> None:
    with pytest.raises(ValidationError):
        lr.ReviewSafeguardingFail(review_id=UUID(int=1), outcome="ignored", rationale="Why.")
    with pytest.raises(ValidationError):
        lr.ReviewSafeguardingFail(review_id=UUID(int=1), outcome="no_further_action", rationale="")


@given(st.lists(st.sampled_from(["look", "fail", "pass", "again"]), max_size=8))
def test_folding_never_raises_and_counts_each_look_once(steps: list[str]) -> None:
    story = Story()
    reviewers = iter([CASEY, *(Actor(username=f"r{i}", role=Role.COORDINATOR) for i in range(9))])
    looked: set[UUID] = set()
    reviews: list[UUID] = []
    for step in steps:
        try:
            if step in ("fail", "pass"):
                reviews.append(story.reviewed(MISSED if step == "fail" else GOOD, next(reviewers)))
            elif reviews:
                target = reviews[-1] if step == "look" else reviews[0]
                (look,) = story.when(target)
                story.events.append(look)
                looked.add(target)
        except DomainError:
            continue
    current = story.current
    assert current is not None
    assert current.looked_at == looked
    assert current.state.version == len(story.events)
