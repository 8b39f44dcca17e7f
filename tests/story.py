"""Helpers for tests written as stories: given a case's history, when a command, then events
(or this error).

A ``Story`` builds a history by deciding commands one after another with the real ``decide``
and folding what they produce, the server clock moving on a minute per step. ``when`` decides
one more command without keeping it, so a test can compare the event with the one it expects.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.calendar import ServiceCalendar
from domain.case import commands as c
from domain.case.decide import CaseContext, decide
from domain.case.events import CaseEvent
from domain.case.ids import event_id_for
from domain.case.state import CaseState, fold
from domain.case.vocabulary import (
    AgencyKind,
    ApprovalDecision,
    CaseSource,
    Category,
    Consent,
    ModerationAction,
    NoteKind,
    ReferralUpdateStatus,
    ReviewOutcome,
    RiskLevel,
    SubjectKind,
    Urgency,
)
from domain.errors import DomainError
from domain.shared import Actor, DecisionContext, PolicyRef, Role
from infrastructure.calendar import build_calendar
from infrastructure.settings import Settings

# Tuesday 17 November 2026, 09:30 in London (GMT): within operating hours.
TUESDAY_MORNING = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)
# The night before: Monday 16 November 2026, 23:10 in London: out of hours.
MONDAY_NIGHT = datetime(2026, 11, 16, 23, 10, tzinfo=UTC)

VOLUNTEER = Actor(username="val", role=Role.VOLUNTEER)
MODERATOR = Actor(username="morgan", role=Role.MODERATOR)
COORDINATOR = Actor(username="casey", role=Role.COORDINATOR)
LEAD = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
OTHER_LEAD = Actor(username="lou", role=Role.SAFEGUARDING_LEAD)
AUDITOR = Actor(username="audrey", role=Role.AUDITOR)

POLICY = PolicyRef(policy="community-guidelines", version="2024-03", clause="4.2")
RATIONALE = "Member described a plan to self-harm tonight and has access to means."


def new_id() -> UUID:
    return uuid4()


def calendar(**settings: Any) -> ServiceCalendar:
    """The service calendar the app would build from these settings (defaults otherwise)."""
    return build_calendar(Settings(_env_file=None, **settings))


DEFAULT_CALENDAR = calendar()


def context(
    *,
    by: Actor = COORDINATOR,
    now: datetime = TUESDAY_MORNING,
    case_id: UUID | None = None,
    service_calendar: ServiceCalendar = DEFAULT_CALENDAR,
    max_clock_skew: timedelta = timedelta(minutes=5),
    idempotency_key: str | None = None,
    request_hash: str | None = None,
) -> CaseContext:
    return CaseContext(
        decision=DecisionContext(
            actor=by,
            now=now,
            max_clock_skew=max_clock_skew,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        ),
        calendar=service_calendar,
        case_id=case_id,
    )


# --- commands, with sensible defaults; keyword arguments override any field -------------------


def open_case(**fields: Any) -> c.OpenCase:
    values: dict[str, Any] = {
        "subject": {"kind": SubjectKind.MEMBER, "ref": "member-4411", "display_name": "Sam Taylor"},
        "source": CaseSource.FLAG,
        "category": Category.SELF_HARM_RISK,
        "summary": "Post in the evening thread suggests the member intends to self-harm.",
        "risk_level": RiskLevel.HIGH,
        "channel": "forum",
    }
    return c.OpenCase.model_validate({**values, **fields})


def raise_flag(**fields: Any) -> c.RaiseFlag:
    values: dict[str, Any] = {
        "reason": "Second member worried by the same post",
        "category": Category.SELF_HARM_RISK,
        "raised_by_ref": "member-9001",
        "content_ref": "post-77",
    }
    return c.RaiseFlag.model_validate({**values, **fields})


def assess_risk(level: RiskLevel = RiskLevel.CRITICAL, **fields: Any) -> c.AssessRisk:
    return c.AssessRisk.model_validate({"level": level, "rationale": RATIONALE, **fields})


def assign(assignee: str = "lee", **fields: Any) -> c.AssignCase:
    return c.AssignCase.model_validate({"assignee": assignee, **fields})


def moderate(
    action: ModerationAction = ModerationAction.HIDE_CONTENT,
    target_ref: str = "post-77",
    **fields: Any,
) -> c.TakeModerationAction:
    values: dict[str, Any] = {
        "action": action,
        "target_ref": target_ref,
        "rationale": "Content describes methods of self-harm in detail.",
        "policy_ref": POLICY,
    }
    return c.TakeModerationAction.model_validate({**values, **fields})


def suspend(
    hours: float = 48, target_ref: str = "member-4411", **fields: Any
) -> c.TakeModerationAction:
    return moderate(ModerationAction.SUSPEND_MEMBER, target_ref, duration_hours=hours, **fields)


def ooh_decision(**fields: Any) -> c.RecordOutOfHoursDecision:
    values: dict[str, Any] = {
        "decision": "Contacted crisis line on the member's behalf and hid the thread.",
        "rationale": RATIONALE,
        "policy_ref": POLICY,
        "immediate_actions": ["hid thread", "called crisis line"],
    }
    return c.RecordOutOfHoursDecision.model_validate({**values, **fields})


def review(
    decision_id: UUID, outcome: ReviewOutcome = ReviewOutcome.RATIFIED, **fields: Any
) -> c.ReviewOutOfHoursDecision:
    values: dict[str, Any] = {
        "decision_id": decision_id,
        "outcome": outcome,
        "rationale": "Proportionate response given the risk described at the time.",
    }
    return c.ReviewOutOfHoursDecision.model_validate({**values, **fields})


def refer(consent: Consent = Consent.GIVEN, **fields: Any) -> c.MakeReferral:
    values: dict[str, Any] = {
        "agency": {"name": "Leeds Adult Social Care", "kind": AgencyKind.ADULT_SOCIAL_CARE},
        "reason": "Adult at risk of self-harm with no support network.",
        "consent": consent,
    }
    if consent is not Consent.GIVEN:
        values["consent_rationale"] = "Asking would increase the risk of immediate harm."
        values["lawful_basis"] = "UK GDPR Art 6(1)(e), Art 9(2)(g); DPA 2018 Sch 1 para 18"
    return c.MakeReferral.model_validate({**values, **fields})


def update_referral(
    referral_id: UUID, status: ReferralUpdateStatus, **fields: Any
) -> c.UpdateReferral:
    return c.UpdateReferral.model_validate({"referral_id": referral_id, "status": status, **fields})


def escalate(urgency: Urgency = Urgency.URGENT, **fields: Any) -> c.EscalateCase:
    values: dict[str, Any] = {
        "level": "safeguarding_lead",
        "reason": "Risk to life; needs a lead's decision.",
        "urgency": urgency,
    }
    return c.EscalateCase.model_validate({**values, **fields})


def acknowledge(escalation_id: UUID, **fields: Any) -> c.AcknowledgeEscalation:
    return c.AcknowledgeEscalation.model_validate({"escalation_id": escalation_id, **fields})


def resolve(escalation_id: UUID, **fields: Any) -> c.ResolveEscalation:
    values: dict[str, Any] = {
        "escalation_id": escalation_id,
        "outcome": "Referred to adult social care",
        "rationale": "Lead agreed the referral addresses the risk described.",
    }
    return c.ResolveEscalation.model_validate({**values, **fields})


def add_note(kind: NoteKind = NoteKind.FACT, **fields: Any) -> c.AddNote:
    values: dict[str, Any] = {"kind": kind, "text": "Member said: 'I just want it to stop.'"}
    return c.AddNote.model_validate({**values, **fields})


def correct(event_id: UUID, **fields: Any) -> c.CorrectRecord:
    values: dict[str, Any] = {
        "corrects_event_id": event_id,
        "correction": "The post was in the morning thread, not the evening thread.",
        "reason": "Moderator misread the thread name when logging the flag.",
    }
    return c.CorrectRecord.model_validate({**values, **fields})


def close(**fields: Any) -> c.CloseCase:
    values: dict[str, Any] = {
        "outcome": "Member supported; referral made",
        "rationale": "Risk reduced: member engaged with the crisis team and adult social care.",
    }
    return c.CloseCase.model_validate({**values, **fields})


def decide_approval(
    approval_id: UUID, decision: ApprovalDecision = ApprovalDecision.APPROVED, **fields: Any
) -> c.DecideApproval:
    values: dict[str, Any] = {
        "approval_id": approval_id,
        "decision": decision,
        "rationale": "Proportionate to what the member did, and consistent with the policy.",
    }
    return c.DecideApproval.model_validate({**values, **fields})


def review_referral(
    referral_id: UUID, outcome: ReviewOutcome = ReviewOutcome.RATIFIED, **fields: Any
) -> c.ReviewReferral:
    values: dict[str, Any] = {
        "referral_id": referral_id,
        "outcome": outcome,
        "rationale": "Sharing without consent was necessary to protect the member's life.",
    }
    return c.ReviewReferral.model_validate({**values, **fields})


def reopen(**fields: Any) -> c.ReopenCase:
    return c.ReopenCase.model_validate(
        {"reason": "Member posted again describing the same intent.", **fields}
    )


# --- the story ----------------------------------------------------------------------------------


class Story:
    """One case's history. ``given`` keeps what a command produced; ``when`` does not."""

    def __init__(
        self,
        *,
        start: datetime = TUESDAY_MORNING,
        service_calendar: ServiceCalendar = DEFAULT_CALENDAR,
        step: timedelta = timedelta(minutes=1),
    ) -> None:
        self.case_id = new_id()
        self.now = start
        self.calendar = service_calendar
        self.step = step
        self.events: list[CaseEvent] = []
        self.state: CaseState | None = None

    @classmethod
    def opened(cls, command: c.OpenCase | None = None, **kwargs: Any) -> Story:
        story = cls(**kwargs)
        story.given(command or open_case(), advance=False)
        return story

    @property
    def version(self) -> int:
        return 0 if self.state is None else self.state.version

    @property
    def case(self) -> CaseState:
        assert self.state is not None
        return self.state

    def given(
        self,
        command: c.CaseCommand,
        *,
        by: Actor = COORDINATOR,
        now: datetime | None = None,
        advance: bool = True,
    ) -> CaseEvent:
        """Decide and keep a command; the server clock moves on a step first (or to ``now``)."""
        if now is not None:
            self.now = now
        elif advance:
            self.now += self.step
        # One event per command, but an approval also records the decision it puts into effect:
        # all are kept, the first is returned (it names what the command created).
        events = decide(self.state, command, self._context(by, self.now))
        self.events.extend(events)
        self.state = fold(self.state, events)
        return events[0]

    def when(
        self,
        command: c.CaseCommand,
        *,
        by: Actor = COORDINATOR,
        now: datetime | None = None,
        max_clock_skew: timedelta = timedelta(minutes=5),
    ) -> list[CaseEvent]:
        """Decide a command against the history without keeping the result."""
        return decide(
            self.state, command, self._context(by, now or self.now + self.step, max_clock_skew)
        )

    def refuses(
        self,
        command: c.CaseCommand,
        error: type[DomainError],
        *,
        by: Actor = COORDINATOR,
        now: datetime | None = None,
        match: str | None = None,
    ) -> DomainError:
        """Assert the command is refused with exactly this error class; return the error."""
        with pytest.raises(DomainError, match=match) as caught:
            self.when(command, by=by, now=now)
        assert type(caught.value) is error, f"expected {error.__name__}, got {caught.value!r}"
        return caught.value

    @property
    def next_event_id(self) -> UUID:
        """The id the next event will carry (and the item it creates, if any)."""
        return event_id_for(self.case_id, self.version + 1)

    def envelope(
        self, *, by: Actor, now: datetime, occurred_at: datetime | None = None
    ) -> dict[str, Any]:
        """The envelope the next event should carry."""
        return {
            "originator_id": self.case_id,
            "originator_version": self.version + 1,
            "event_id": self.next_event_id,
            "occurred_at": occurred_at or now,
            "recorded_at": now,
            "actor": by.username,
            "actor_role": by.role,
        }

    def _context(
        self,
        by: Actor,
        now: datetime,
        max_clock_skew: timedelta = timedelta(minutes=5),
    ) -> CaseContext:
        return context(
            by=by,
            now=now,
            case_id=self.case_id,
            service_calendar=self.calendar,
            max_clock_skew=max_clock_skew,
        )


def replay(events: Iterable[CaseEvent]) -> CaseState | None:
    return fold(None, events)
