"""Commands to the Case aggregate: imperative, validated, carrying no ids of their own making.

Field-level rules (a rationale that gives a reason, a policy reference, consent
rationale and lawful basis when acting without consent) are enforced here, when a
command is built; state-dependent rules are enforced in ``decide``.
"""

from __future__ import annotations

from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from domain.case.vocabulary import (
    ESCALATION_LEVEL_NUMBERS,
    TIMED_ACTIONS,
    AgencyKind,
    ApprovalDecision,
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
from domain.personal import ErasureTrigger
from domain.referral import check_referral_consent
from domain.service.commands import DEFAULT_SERVICE, ServiceName
from domain.shared import (
    Line,
    Moment,
    PersonalText,
    PolicyRef,
    Rationale,
    Ref,
    ShortPersonalText,
    Text,
    Username,
)
from domain.sla_clocks import BreachCause, SlaClock

MAX_SANCTION_HOURS = 24 * 366 * 5


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    occurred_at: Moment | None = Field(
        default=None,
        description="When it happened (RFC 3339 with offset). Defaults to now; may be back-dated "
        "to when the case opened, never in the future; from 1900 on.",
    )


class SubjectInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    kind: SubjectKind
    ref: Ref
    display_name: Annotated[Line, StringConstraints(min_length=1, max_length=200)] | None = None


class AgencyInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: Annotated[Line, StringConstraints(min_length=1, max_length=200)]
    kind: AgencyKind


Channel = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
LawfulBasis = Annotated[Line, StringConstraints(min_length=3, max_length=500)]


class OpenCase(Command):
    subject: SubjectInput
    source: CaseSource
    category: Category
    summary: PersonalText
    risk_level: RiskLevel | None = None
    channel: Channel | None = None
    service: ServiceName = Field(
        default=DEFAULT_SERVICE,
        description="The service the concern arose in (GET /services); its calendar judges the "
        "case's out-of-hours decisions and due times. Default: `default`.",
    )
    content_ref: Ref | None = Field(
        default=None,
        description="The content the concern is about, when it was raised from a flag on it "
        "(a post's link): as a flag's `content_ref`.",
    )


class OpenCaseFromContact(OpenCase):
    """A case opened from a helpline contact: the opening names the contact (decided by the
    contact context's case link in the same append as the contact's side; never a body)."""

    contact_id: UUID


class LinkContact(Command):
    """A helpline contact joins the case (decided by the contact context's case link in the
    same append as the contact's side; never a body)."""

    contact_id: UUID


class RaiseFlag(Command):
    reason: ShortPersonalText
    category: Category
    raised_by_ref: Ref | None = None
    content_ref: Ref | None = None
    note: PersonalText | None = None


class AssessRisk(Command):
    level: RiskLevel
    rationale: Rationale


class AssignCase(Command):
    assignee: Username


class TakeModerationAction(Command):
    action: ModerationAction
    target_ref: Ref
    rationale: Rationale
    policy_ref: PolicyRef
    duration_hours: float | None = Field(default=None, gt=0, le=MAX_SANCTION_HOURS)

    @model_validator(mode="after")
    def _duration_fits_action(self) -> Self:
        if self.duration_hours is not None and self.action not in TIMED_ACTIONS:
            raise ValueError(
                f"duration_hours applies only to {sorted(a.value for a in TIMED_ACTIONS)}"
            )
        if self.action is ModerationAction.SUSPEND_MEMBER and self.duration_hours is None:
            raise ValueError("a suspension needs duration_hours (an indefinite one is a ban)")
        return self


class RecordOutOfHoursDecision(Command):
    decision: PersonalText
    rationale: Rationale
    policy_ref: PolicyRef
    immediate_actions: list[ShortPersonalText] = Field(default_factory=list, max_length=50)


class ReviewOutOfHoursDecision(Command):
    decision_id: UUID
    outcome: ReviewOutcome
    rationale: Rationale


class MakeReferral(Command):
    agency: AgencyInput
    # Sharing (or not) is a decision and must say why (information-sharing golden rule 7).
    reason: Rationale
    consent: Consent
    consent_rationale: Rationale | None = None
    lawful_basis: LawfulBasis | None = None
    reference: Ref | None = None

    @model_validator(mode="after")
    def _without_consent_needs_reason_and_basis(self) -> Self:
        # The one referral rule (domain.referral), shared with a contact's referral follow-up.
        check_referral_consent(self.consent, self.consent_rationale, self.lawful_basis)
        return self


class ReviewReferral(Command):
    """A safeguarding lead (not the referrer) reviews a referral made without consent."""

    referral_id: UUID
    outcome: ReviewOutcome
    rationale: Rationale


class DecideApproval(Command):
    """A second safeguarding lead approves or rejects a decision held for four-eyes approval."""

    approval_id: UUID
    decision: ApprovalDecision
    rationale: Rationale


class UpdateReferral(Command):
    referral_id: UUID
    status: ReferralUpdateStatus
    reference: Ref | None = None
    note: PersonalText | None = None


def _level_number(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value in ESCALATION_LEVEL_NUMBERS:
        return ESCALATION_LEVEL_NUMBERS[value]
    return value


class EscalateCase(Command):
    level: Annotated[EscalationLevel, BeforeValidator(_level_number)] = Field(
        description="coordinator (1), safeguarding_lead (2), designated_lead (3) or external; "
        "the numbers 1-3 are accepted too."
    )
    reason: Rationale  # escalating is a decision: it must say why
    urgency: Urgency


class AcknowledgeEscalation(Command):
    escalation_id: UUID
    note: PersonalText | None = None


class ResolveEscalation(Command):
    escalation_id: UUID
    outcome: ShortPersonalText
    rationale: Rationale


class AddNote(Command):
    kind: NoteKind
    text: PersonalText


class CorrectRecord(Command):
    corrects_event_id: UUID
    correction: PersonalText
    reason: Rationale


class CloseCase(Command):
    outcome: ShortPersonalText
    rationale: Rationale


class ReopenCase(Command):
    reason: Rationale


class RecordErasure(Command):
    """Record on a case that its subject's personal data was erased (by the data-protection
    service, after destroying the subject's key; never sent by a client)."""

    erasure_id: UUID
    trigger: ErasureTrigger
    lawful_basis: LawfulBasis
    erasure_reason: Annotated[Text, StringConstraints(min_length=10, max_length=2000)]


class AssessSeriousIncident(Command):
    """A safeguarding lead decides whether the case is a serious incident to report to a
    regulator, on which grounds (at least one; ``below_threshold`` only when it is not), and
    why."""

    reportable: bool = Field(description="Whether this is a serious incident to report.")
    regulator: Regulator = Field(description="The regulator it would be reported to.")
    grounds: list[SeriousIncidentGround] = Field(
        min_length=1,
        max_length=len(SeriousIncidentGround),
        description="The serious-incident categories it falls under (at least one); "
        "`below_threshold` for a decision not to report.",
    )
    rationale: Rationale

    @model_validator(mode="after")
    def _grounds_fit_decision(self) -> Self:
        if len(set(self.grounds)) != len(self.grounds):
            raise ValueError("grounds lists each ground once")
        if self.reportable and SeriousIncidentGround.BELOW_THRESHOLD in self.grounds:
            raise ValueError(
                "a reportable serious incident is not below the threshold: drop "
                "'below_threshold' or decide it is not reportable"
            )
        return self


class ReportSeriousIncident(Command):
    """A reportable assessment was reported to its regulator (at ``occurred_at``)."""

    assessment_id: UUID
    reference: Ref | None = Field(default=None, description="The regulator's reference.")


class ExplainSlaBreach(Command):
    """A safeguarding lead explains a breached SLA clock on the case: why, and what will be
    done (``domain.sla_clocks``: the clock and the item that started it)."""

    clock: SlaClock
    item_id: UUID
    cause: BreachCause
    explanation: PersonalText
    action: PersonalText


CaseCommand = (
    OpenCase
    | RaiseFlag
    | AssessRisk
    | AssignCase
    | TakeModerationAction
    | RecordOutOfHoursDecision
    | ReviewOutOfHoursDecision
    | MakeReferral
    | UpdateReferral
    | EscalateCase
    | AcknowledgeEscalation
    | ResolveEscalation
    | AddNote
    | CorrectRecord
    | CloseCase
    | ReopenCase
    | DecideApproval
    | ReviewReferral
    | RecordErasure
    | LinkContact
    | AssessSeriousIncident
    | ReportSeriousIncident
    | ExplainSlaBreach
)
