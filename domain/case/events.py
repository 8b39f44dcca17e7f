"""Events of the Case aggregate.

THESE CLASSES ARE THE STORAGE FORMAT. Each is stored under the topic
``domain.case.events:<ClassName>`` and read back forever after: never rename or
move a class, never remove or retype a field. Add fields only with a default.

Envelope on every event: who (``actor``, ``actor_role``: the authenticated user),
when (``occurred_at`` from the client, ``recorded_at`` from the server clock), the
case version, the event id, and for retried writes the ``idempotency_key`` with a
hash of the request that produced it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.case.vocabulary import (
    AgencyKind,
    ApprovalDecision,
    ApprovalKind,
    CaseSource,
    Category,
    Consent,
    EscalationLevel,
    ModerationAction,
    NoteKind,
    ReferralUpdateStatus,
    Regulator,
    ReviewOutcome,
    RiskLevel,
    SeriousIncidentGround,
    SubjectKind,
    Urgency,
)
from domain.personal import DataSubjectOf, ErasureTrigger
from domain.shared import PERSONAL, PolicyRef, Role
from domain.sla_clocks import BreachCause, SlaClock

# Stored fields are read back forever, so they carry no business validation (a
# rule tightened later must not make old events unreadable); commands validate.
Personal = Annotated[str, PERSONAL]


class Subject(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: SubjectKind
    ref: str = Field(description="The subject's id in the community or helpline system.")
    display_name: Annotated[str | None, PERSONAL] = None


class Agency(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: AgencyKind


class CaseEvent(BaseModel):
    """Envelope shared by every case event."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID = Field(description="The case id.")
    originator_version: int = Field(ge=1, description="The case version this event made.")
    event_id: UUID
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: str
    actor_role: Role
    idempotency_key: str | None = None
    request_hash: str | None = None

    # What is written in a case is about the case's subject.
    __data_subject__ = DataSubjectOf.case_subject

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at


class CaseOpened(CaseEvent):
    subject: Subject
    source: CaseSource
    category: Category
    summary: Personal
    risk_level: RiskLevel | None = None
    channel: str | None = None
    # The service whose calendar judges the case (events stored before services: the default).
    service: str = "default"
    # The helpline contact that raised the concern, when the case was opened from one (the
    # contact names the case too: ``domain.contact.events.ContactLinkedToCase``).
    contact_id: UUID | None = None
    # The content the concern is about, when the case was opened from a flag on it (a post's
    # link, as a flag's ``content_ref``).
    content_ref: str | None = None

    # The opening names the subject: the case's from now on.
    __data_subject__ = DataSubjectOf.case_opened


class FlagRaised(CaseEvent):
    reason: Personal
    category: Category
    raised_by_ref: str | None = None
    content_ref: str | None = None
    note: Personal | None = None


class RiskAssessed(CaseEvent):
    level: RiskLevel
    rationale: Personal
    # Four-eyes (lowering a critical risk): the approval it took effect on, and who proposed it.
    approval_id: UUID | None = None
    requested_by: str | None = None


class CaseAssigned(CaseEvent):
    assignee: str


class ModerationActionTaken(CaseEvent):
    action: ModerationAction
    target_ref: str
    rationale: Personal
    policy_ref: PolicyRef
    duration_hours: float | None = None
    # Four-eyes: set when the action took effect on a second lead's approval (the actor is the
    # approver; requested_by proposed it, with this rationale and policy_ref).
    approval_id: UUID | None = None
    requested_by: str | None = None


class OutOfHoursDecisionRecorded(CaseEvent):
    decision_id: UUID
    decision: Personal
    immediate_actions: Annotated[list[str], PERSONAL] = Field(default_factory=list)
    rationale: Personal
    policy_ref: PolicyRef
    review_due: AwareDatetime
    # The persons behind the decider when this was recorded (who issued their credential or gave
    # a role alone, transitively; None: no one, or recorded before this was kept): whoever
    # reviews the decision must stand apart from them too.
    actor_behind: list[str] | None = None


class OutOfHoursDecisionReviewed(CaseEvent):
    decision_id: UUID
    outcome: ReviewOutcome
    rationale: Personal


class ReferralMade(CaseEvent):
    referral_id: UUID
    agency: Agency
    reason: Personal
    consent: Consent
    consent_rationale: Personal | None = None
    lawful_basis: str | None = None
    reference: str | None = None
    # Made without consent: an emergency action a safeguarding lead other than the referrer
    # reviews by then (end of the next working day). None: no review (consent given, or
    # recorded before such reviews existed).
    review_due: AwareDatetime | None = None
    # The persons behind the referrer when this was recorded (who issued their credential or gave
    # a role alone, transitively; None: no one, or recorded before this was kept): whoever
    # reviews the referral must stand apart from them too.
    actor_behind: list[str] | None = None


class ReferralReviewed(CaseEvent):
    """A safeguarding lead's review of a referral made without consent."""

    referral_id: UUID
    outcome: ReviewOutcome
    rationale: Personal


class ReferralUpdated(CaseEvent):
    referral_id: UUID
    status: ReferralUpdateStatus
    reference: str | None = None
    note: Personal | None = None


class CaseEscalated(CaseEvent):
    escalation_id: UUID
    level: EscalationLevel
    reason: Personal
    urgency: Urgency


class EscalationAcknowledged(CaseEvent):
    escalation_id: UUID
    note: Personal | None = None


class EscalationResolved(CaseEvent):
    escalation_id: UUID
    outcome: Personal
    rationale: Personal


class NoteAdded(CaseEvent):
    kind: NoteKind
    text: Personal


class RecordCorrected(CaseEvent):
    corrects_event_id: UUID
    correction: Personal
    reason: Personal


class CaseClosed(CaseEvent):
    outcome: Personal
    rationale: Personal
    # Four-eyes (closing a critical case): the sign-off it took effect on, and who proposed it.
    approval_id: UUID | None = None
    requested_by: str | None = None


class ApprovalRequested(CaseEvent):
    """A decision held back until a second safeguarding lead approves it (four-eyes).

    Carries the proposed decision in full (the actor proposed it): for a moderation action its
    action, target_ref, policy_ref and duration_hours; for a closure its outcome; for a risk
    assessment lowering a critical risk its level. ``rationale``
    is the proposed decision's own rationale. ``rule`` names the four-eyes rule that held it.
    """

    approval_id: UUID
    kind: ApprovalKind
    rule: str
    rationale: Personal
    action: ModerationAction | None = None
    target_ref: str | None = None
    policy_ref: PolicyRef | None = None
    duration_hours: float | None = None
    outcome: Personal | None = None
    level: RiskLevel | None = None
    # Who issued the credential the requester signed in with (None: the requester, single
    # sign-on, or before this was kept): that person is not a second person on this request.
    requester_credential_issued_by: str | None = None
    # The persons behind the requester when this was recorded (who issued their credential or gave
    # a role alone, transitively; None: no one, or recorded before this was kept): whoever
    # approves or rejects must stand apart from them too.
    actor_behind: list[str] | None = None


class ApprovalDecided(CaseEvent):
    """A second safeguarding lead approved or rejected a pending decision, saying why."""

    approval_id: UUID
    decision: ApprovalDecision
    rationale: Personal


class CaseReopened(CaseEvent):
    reason: Personal


class ContactJoined(CaseEvent):
    """A helpline contact joined the case: it raised the same concern (the contact names the
    case too, in the same append: ``domain.contact.events.ContactLinkedToCase``)."""

    contact_id: UUID


class PersonalDataErased(CaseEvent):
    """The case subject's personal data was erased (crypto-shredded): every personal field
    recorded before this event reads as "[erased]". Recorded on each of the subject's cases,
    closed ones too, by a safeguarding lead's erasure or by retention (``trigger``).
    ``lawful_basis`` and ``erasure_reason`` are kept in the clear: the trail outlives the data."""

    erasure_id: UUID = Field(description="The SubjectErased event this erasure recorded.")
    trigger: ErasureTrigger
    lawful_basis: str
    erasure_reason: str


class SeriousIncidentAssessed(CaseEvent):
    """A safeguarding lead's decision whether the case is a serious incident to report to a
    regulator (``reportable``), on which grounds, and why. A later assessment supersedes an
    earlier one (both stay on the record). Decided on closed cases too."""

    assessment_id: UUID = Field(description="The id of the event itself.")
    reportable: bool
    regulator: Regulator
    grounds: list[SeriousIncidentGround]
    rationale: Personal


class SeriousIncidentReported(CaseEvent):
    """A reportable assessment was reported to its regulator, at ``occurred_at``, with the
    regulator's reference when one was given (a reference, like a referral's: not personal)."""

    assessment_id: UUID
    regulator: Regulator
    reference: str | None = None


class SlaBreachExplained(CaseEvent):
    """A safeguarding lead's explanation of a breached SLA clock on the case (the clock and the
    item that started it: ``domain.sla_clocks``): the cause, what happened and what will be
    done. Whether the clock breached is judged by the reports."""

    clock: SlaClock
    item_id: UUID
    cause: BreachCause
    explanation: Personal
    action: Personal


EVENT_TYPES: dict[str, type[CaseEvent]] = {
    cls.__name__: cls
    for cls in (
        CaseOpened,
        FlagRaised,
        RiskAssessed,
        CaseAssigned,
        ModerationActionTaken,
        OutOfHoursDecisionRecorded,
        OutOfHoursDecisionReviewed,
        ReferralMade,
        ReferralUpdated,
        CaseEscalated,
        EscalationAcknowledged,
        EscalationResolved,
        NoteAdded,
        RecordCorrected,
        CaseClosed,
        CaseReopened,
        ApprovalRequested,
        ApprovalDecided,
        ReferralReviewed,
        PersonalDataErased,
        ContactJoined,
        SeriousIncidentAssessed,
        SeriousIncidentReported,
        SlaBreachExplained,
    )
}
