"""Contact events for the read side's tests, written without the contact service: each command
is decided by the domain's own ``decide`` (``domain.contact.decide``) and appended through the
one write path (``WritePath``), as the service does, against a fixed test scorecard. A case link
writes the contact's side only (the views read it from there). The write side's service and its
routes (``POST /contacts``...) land separately; a story written with these methods switches to
them one call for one call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from application.write_path import WritePath, Written
from domain.contact import commands as c
from domain.contact import lead_review
from domain.contact.decide import ContactContext, ScorecardInForce, decide
from domain.contact.events import ContactEvent
from domain.contact.lead_review import ReviewSafeguardingFail, UnderLeadReview
from domain.contact.state import ContactState, evolve
from domain.quality.scoring import Criterion, ScorecardVersion, score_review
from domain.shared import Actor, DecisionContext, Role
from interfaces.composition import Vigil

KIT = Actor(username="kit", role=Role.VOLUNTEER)
ALEX = Actor(username="alex", role=Role.VOLUNTEER)
CASEY = Actor(username="casey", role=Role.COORDINATOR)
ROBIN = Actor(username="robin", role=Role.COORDINATOR)
LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)

SCORECARD = ScorecardVersion(
    version=1,
    name="Helpline quality (test)",
    criteria=[
        Criterion(
            key="greeting", label="Greets and introduces", weight=1, max_score=4, critical=False
        ),
        Criterion(
            key="risk_asked",
            label="Asks about risk to life",
            weight=2,
            max_score=4,
            critical=True,
            safeguarding=True,
        ),
        Criterion(
            key="signposting", label="Signposts fitting help", weight=1, max_score=4, critical=False
        ),
    ],
    pass_mark=60,
    effective_from=datetime(2020, 1, 1, tzinfo=UTC),
)
GOOD = {"greeting": 4, "risk_asked": 4, "signposting": 4}  # 100.0, pass
FAIR = {"greeting": 3, "risk_asked": 3, "signposting": 3}  # 75.0, pass
MISSED_RISK = {"greeting": 4, "risk_asked": 0, "signposting": 4}  # 50.0, safeguarding fail


def _fold(state: ContactState | None, events: Iterable[Any]) -> ContactState | None:
    for event in events:
        if isinstance(event, ContactEvent):
            state = evolve(state, event)
    return state


class ContactWriter:
    """Logs contacts and records their reviews, feedback and follow-ups on a Vigil's log."""

    def __init__(self, vigil: Vigil) -> None:
        self.vigil = vigil
        self.path = WritePath[ContactState](
            vigil.event_log,
            name="contact",
            fold=_fold,
            version=lambda state: state.version,
            retries=5,
        )
        self.looks = WritePath[UnderLeadReview](
            vigil.event_log,
            name="contact",
            fold=lead_review.fold,
            version=lambda current: current.state.version,
            retries=5,
        )

    def run(
        self, contact_id: UUID, command: c.ContactCommandType, actor: Actor, *, new: bool = False
    ) -> list[ContactEvent]:
        ctx = ContactContext(
            decision=DecisionContext(actor=actor, now=self.vigil.clock()),
            contact_id=contact_id if new else None,
            scorecard=ScorecardInForce(
                version=SCORECARD.version, score=lambda scores: score_review(SCORECARD, scores)
            ),
        )

        def answer(written: Written[ContactState]) -> list[ContactEvent]:
            return list(written.events)

        return self.path.write(contact_id, lambda state: decide(state, command, ctx), answer)

    def log(
        self,
        by: Actor = KIT,
        *,
        channel: str = "call",
        direction: str = "inbound",
        service: str = "default",
        outcome: str = "information_given",
        category: str = "harassment",
        caller: Mapping[str, Any] | None = None,
        occurred_at: datetime | None = None,
        duration_seconds: int | None = 600,
    ) -> UUID:
        contact_id = uuid4()
        command = c.LogContact(
            channel=channel,
            direction=direction,
            service=service,
            duration_seconds=duration_seconds,
            caller=caller or {"anonymous": True},
            category=category,
            summary="Caller described harassment at work and asked what to do next.",
            outcome=outcome,
            occurred_at=occurred_at,
        )
        self.run(contact_id, command, by, new=True)
        return contact_id

    def link(self, contact_id: UUID, case_id: UUID, by: Actor = KIT) -> None:
        self.run(contact_id, c.LinkCase(case_id=case_id), by)

    def review(self, contact_id: UUID, by: Actor = CASEY, scores: Mapping[str, int] = GOOD) -> UUID:
        command = c.ReviewContact(
            scores=dict(scores),
            feedback="Warm opening; ask about risk earlier next time.",
            rationale="Scored against the helpline scorecard from the recording.",
        )
        (event,) = self.run(contact_id, command, by)
        return event.event_id

    def acknowledge(self, contact_id: UUID, review_id: UUID, by: Actor = KIT) -> None:
        self.run(contact_id, c.AcknowledgeFeedback(review_id=review_id), by)

    def dispute(self, contact_id: UUID, review_id: UUID, by: Actor = KIT) -> None:
        reason = "The caller hung up before I could ask about risk."
        self.run(contact_id, c.DisputeFeedback(review_id=review_id, reason=reason), by)

    def resolve(
        self, contact_id: UUID, review_id: UUID, outcome: str = "upheld", by: Actor = LEE
    ) -> None:
        command = c.ResolveDispute(
            review_id=review_id, outcome=outcome, rationale="Listened to the recording again."
        )
        self.run(contact_id, command, by)

    def follow_up(
        self,
        contact_id: UUID,
        due_at: datetime,
        *,
        kind: str = "call_back",
        assignee: str | None = None,
        by: Actor = CASEY,
    ) -> UUID:
        extra: dict[str, Any] = {}
        if kind == "referral":
            extra = {
                "agency": {"name": "Local adult social care", "kind": "adult_social_care"},
                "consent": "given",
            }
        command = c.ScheduleFollowUp(
            kind=kind,
            due_at=due_at,
            assignee=assignee,
            detail="Call back about the advocacy service.",
            **extra,
        )
        (event,) = self.run(contact_id, command, by)
        return event.event_id

    def attempt(
        self, contact_id: UUID, follow_up_id: UUID, outcome: str = "no_answer", by: Actor = CASEY
    ) -> None:
        self.run(contact_id, c.RecordAttempt(follow_up_id=follow_up_id, outcome=outcome), by)

    def complete(self, contact_id: UUID, follow_up_id: UUID, by: Actor = CASEY) -> None:
        command = c.CompleteFollowUp(follow_up_id=follow_up_id, outcome="Caller reached.")
        self.run(contact_id, command, by)

    def look(self, contact_id: UUID, review_id: UUID, by: Actor = LEE) -> None:
        """A safeguarding lead's look at a safeguarding fail (``domain.contact.lead_review``)."""
        command = ReviewSafeguardingFail(
            review_id=review_id,
            outcome="practice_addressed",
            rationale="Talked the missed risk question through in supervision.",
        )
        dc = DecisionContext(actor=by, now=self.vigil.clock())

        def answer(written: Written[UnderLeadReview]) -> None:
            return None

        self.looks.write(
            contact_id, lambda current: lead_review.decide(current, command, dc), answer
        )
