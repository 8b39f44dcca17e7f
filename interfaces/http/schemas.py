"""What the API answers (``*Read``) and the bodies of the nested write routes.

The case representation is the public view of ``CaseState``: derived lists are spelled
out, internal bookkeeping (idempotency records) stays inside. Event representations are
generated from the stored event classes, so a field added to an event shows up here
and in the OpenAPI schema without a second edit; the storage envelope
(``originator_id``/``originator_version``, idempotency key and request hash) is replaced
by ``case_id`` and ``version``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, Union
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, create_model

from domain.case.commands import Command
from domain.case.events import EVENT_TYPES, Agency, CaseEvent, Subject
from domain.case.state import CaseState
from domain.case.vocabulary import (
    AgencyKind,
    ApprovalDecision,
    ApprovalKind,
    ApprovalStatus,
    CaseSource,
    CaseStatus,
    Category,
    Consent,
    DecisionStatus,
    EscalationLevel,
    EscalationStatus,
    ModerationAction,
    ReferralStatus,
    ReferralUpdateStatus,
    Regulator,
    ReviewOutcome,
    RiskLevel,
    SeriousIncidentGround,
    Urgency,
)
from domain.personal import erased_paths
from domain.shared import PersonalText, Rationale, Ref, Role, ShortPersonalText


class Read(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


R = TypeVar("R", bound=Read)


# --- case ----------------------------------------------------------------------------------------


class FlagsRead(Read):
    count: int = Field(description="Flags raised on the case, the opening flag not included.")
    by_category: dict[str, int] = Field(description="Category -> number of flags.")
    last_raised_at: datetime | None = None


class OutOfHoursDecisionRead(Read):
    decision_id: UUID
    status: DecisionStatus
    decided_by: str
    decided_at: datetime = Field(description="When the decision was taken (its occurred_at).")
    review_due: datetime = Field(description="End of the next working day after the decision.")
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None


class ReferralRead(Read):
    referral_id: UUID
    agency: Agency
    consent: Consent
    lawful_basis: str | None = None
    status: ReferralStatus
    reference: str | None = Field(default=None, description="The agency's reference.")
    acknowledgement_expected: bool = Field(
        default=True,
        description="False for an agency that never acknowledges a referral (a crisis line): "
        "its referral does not wait in referrals_awaiting_acknowledgement.",
    )
    made_by: str
    made_at: datetime
    acknowledged_at: datetime | None = None
    outcome_received_at: datetime | None = None
    last_followed_up_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime
    review_status: DecisionStatus | None = Field(
        default=None,
        description="Made without consent: awaiting_review until a safeguarding lead other "
        "than the referrer ratifies, varies or overturns it; null when no review is needed.",
    )
    review_due: datetime | None = Field(
        default=None, description="End of the next working day after the referral."
    )
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None


class ApprovalRead(Read):
    """A decision held for a second safeguarding lead's approval (four-eyes)."""

    approval_id: UUID
    kind: ApprovalKind = Field(description="What approving it puts into effect.")
    rule: str = Field(description="The four-eyes rule that held it, e.g. ban_member.")
    status: ApprovalStatus
    requested_by: str
    requested_at: datetime
    action: ModerationAction | None = Field(default=None, description="For a moderation action.")
    target_ref: str | None = Field(default=None, description="For a moderation action.")
    level: RiskLevel | None = Field(default=None, description="For a risk assessment.")
    decided_by: str | None = None
    decided_at: datetime | None = None


class EscalationRead(Read):
    escalation_id: UUID
    level: EscalationLevel
    urgency: Urgency
    status: EscalationStatus
    raised_by: str
    raised_at: datetime
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None


class SeriousIncidentRead(Read):
    """A safeguarding lead's serious-incident decision (its rationale is in the timeline) and
    its report to the regulator."""

    assessment_id: UUID
    reportable: bool = Field(description="Whether it was decided a serious incident to report.")
    regulator: Regulator
    grounds: list[SeriousIncidentGround]
    assessed_by: str
    assessed_at: datetime = Field(description="When it was decided (its occurred_at).")
    superseded: bool = Field(description="A later assessment of the case supersedes this one.")
    reported_at: datetime | None = Field(
        default=None, description="When it was reported to the regulator (occurred_at)."
    )
    reported_by: str | None = None
    reference: str | None = Field(default=None, description="The regulator's reference.")


class SanctionRead(Read):
    event_id: UUID = Field(description="The moderation action that imposed it.")
    action: ModerationAction
    target_ref: str
    imposed_at: datetime
    expires_at: datetime | None = Field(
        default=None, description="occurred_at + duration; none for a ban (until reinstated)."
    )
    active: bool = Field(description="In force at the case's evaluated_at.")


class CorrectionRead(Read):
    event_id: UUID = Field(description="The event that was corrected.")
    corrected_by: list[UUID] = Field(description="The RecordCorrected events, in order.")


class CaseRead(Read):
    """A case as its events tell it, at one moment."""

    id: UUID
    version: int = Field(description="Number of events; the ETag and the If-Match value.")
    status: CaseStatus
    subject: Subject
    source: CaseSource
    category: Category
    summary: str
    risk_level: RiskLevel | None = None
    channel: str | None = None
    service: str = Field(
        default="default",
        description="The service the case arose in: its calendar judges out-of-hours decisions "
        "and due times (GET /services).",
    )
    assignee: str | None = None
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None = None
    reopened_at: datetime | None = None
    first_action_at: datetime | None = None
    last_action_at: datetime | None = None
    time_to_first_action_seconds: float | None = Field(
        default=None, description="From opening to the first action (by occurred_at)."
    )
    flags: FlagsRead
    notes: int = Field(description="Number of notes.")
    moderation_actions: int = Field(description="Number of moderation actions (see timeline).")
    out_of_hours_decisions: list[OutOfHoursDecisionRead]
    referrals: list[ReferralRead]
    escalations: list[EscalationRead]
    sanctions: list[SanctionRead] = Field(
        description="Member sanctions that may be in force (lifted or long-expired ones are in "
        "the timeline only); `active` is evaluated at evaluated_at."
    )
    pending_reviews: list[UUID] = Field(description="Out-of-hours decisions awaiting review.")
    approvals: list[ApprovalRead] = Field(
        default=[], description="Decisions held for a second lead's approval (four-eyes)."
    )
    pending_approvals: list[UUID] = Field(
        default=[], description="Approvals awaiting a second safeguarding lead's decision."
    )
    referrals_awaiting_review: list[UUID] = Field(
        default=[], description="Referrals made without consent awaiting a lead's review."
    )
    unacknowledged_escalations: list[UUID]
    referrals_awaiting_acknowledgement: list[UUID]
    corrections: list[CorrectionRead]
    evaluated_at: datetime = Field(
        description="The moment time-dependent fields (sanction `active`) were evaluated at: "
        "as_of for a past state, the request time for a current read, the write's recorded_at "
        "in a write answer (so a retried write answers the same)."
    )
    personal_data_erased_at: datetime | None = Field(
        default=None,
        description="When the subject's personal data was erased (PersonalDataErased): "
        'summary and subject.display_name then read "[erased]".',
    )
    erased_fields: list[str] = Field(
        default=[], description='Personal fields of the case that read "[erased]".'
    )
    serious_incidents: list[SeriousIncidentRead] = Field(
        default=[],
        description="Serious-incident assessments, in order: the latest supersedes the others.",
    )


def _serious_incidents(state: CaseState) -> list[SeriousIncidentRead]:
    return [
        SeriousIncidentRead(
            **a.model_dump(exclude={"grounds"}),
            grounds=list(a.grounds),
            superseded=a.assessment_id != state.latest_serious_incident,
        )
        for a in state.serious_incidents.values()
    ]


def case_read(state: CaseState, evaluated_at: datetime) -> CaseRead:
    """The public view of a case state; sanctions judged at ``evaluated_at`` (event times only)."""
    to_first = state.time_to_first_action()
    return CaseRead(
        id=state.id,
        version=state.version,
        status=state.status,
        subject=state.subject,
        source=state.source,
        category=state.category,
        summary=state.summary,
        risk_level=state.risk_level,
        channel=state.channel,
        service=state.service,
        assignee=state.assignee,
        opened_at=state.opened_at,
        opened_by=state.opened_by,
        closed_at=state.closed_at,
        reopened_at=state.reopened_at,
        first_action_at=state.first_action_at,
        last_action_at=state.last_action_at,
        time_to_first_action_seconds=None if to_first is None else to_first.total_seconds(),
        flags=FlagsRead(
            count=state.flag_count,
            by_category=dict(state.flag_categories),
            last_raised_at=state.last_flag_at,
        ),
        notes=state.notes,
        moderation_actions=state.moderation_actions,
        out_of_hours_decisions=[
            OutOfHoursDecisionRead.model_validate(d) for d in state.decisions.values()
        ],
        referrals=[ReferralRead.model_validate(r) for r in state.referrals.values()],
        escalations=[EscalationRead.model_validate(e) for e in state.escalations.values()],
        sanctions=[
            SanctionRead(
                event_id=s.event_id,
                action=s.action,
                target_ref=s.target_ref,
                imposed_at=s.imposed_at,
                expires_at=s.expires_at,
                active=s.is_active(evaluated_at),
            )
            for s in state.sanctions
        ],
        pending_reviews=[d.decision_id for d in state.pending_reviews()],
        approvals=[ApprovalRead.model_validate(a) for a in state.approvals.values()],
        pending_approvals=[a.approval_id for a in state.pending_approvals()],
        referrals_awaiting_review=[r.referral_id for r in state.referrals_awaiting_review()],
        unacknowledged_escalations=[e.escalation_id for e in state.unacknowledged_escalations()],
        referrals_awaiting_acknowledgement=[
            r.referral_id for r in state.referrals_awaiting_acknowledgement()
        ],
        corrections=[
            CorrectionRead(event_id=UUID(corrected), corrected_by=[UUID(x) for x in by])
            for corrected, by in state.corrections.items()
        ],
        evaluated_at=evaluated_at,
        personal_data_erased_at=state.personal_data_erased_at,
        erased_fields=[p for p in erased_paths(state) if not p.startswith("approvals.")],
        serious_incidents=_serious_incidents(state),
    )


# --- events --------------------------------------------------------------------------------------

_STORAGE_ONLY = {"originator_id", "originator_version", "idempotency_key", "request_hash"}


class EventReadBase(Read):
    """Every event: who, when (both clocks), which case and version, then its own fields."""

    event_id: UUID
    type: str = Field(description="The event's kind, e.g. FlagRaised.")
    case_id: UUID
    version: int = Field(description="The case version this event made.")
    occurred_at: datetime = Field(description="When it happened (client-supplied, default now).")
    recorded_at: datetime = Field(description="When Vigil wrote it (server clock).")
    actor: str = Field(description="The authenticated user who recorded it.")
    actor_role: Role
    erased_fields: list[str] = Field(
        default=[],
        description="Personal fields of this event whose data subject's data was erased "
        '(crypto-shredded): each reads "[erased]" (a list reads ["[erased]"]). Dotted paths, '
        "e.g. subject.display_name.",
    )


def event_read_model(
    event_type: type[BaseModel], base: type[R], storage_only: Collection[str]
) -> type[R]:
    """The answer shape of one stored event class: ``base``'s fields, a ``type`` discriminator
    and the event's own fields but those only storage needs (any context's events)."""
    own = {
        name: (info.annotation, info)
        for name, info in event_type.model_fields.items()
        if name not in storage_only and name not in base.model_fields
    }
    fields: dict[str, Any] = {
        "type": (Literal[event_type.__name__], Field(description="The event's kind.")),
        **own,
    }
    return create_model(
        event_type.__name__ + "Read",
        __base__=base,
        __doc__=(event_type.__doc__ or event_type.__name__).strip().splitlines()[0],
        **fields,
    )


EVENT_READ_MODELS: dict[str, type[EventReadBase]] = {
    name: event_read_model(cls, EventReadBase, _STORAGE_ONLY) for name, cls in EVENT_TYPES.items()
}

if TYPE_CHECKING:
    EventRead = EventReadBase
else:
    EventRead = Annotated[
        Union[tuple(EVENT_READ_MODELS.values())],  # noqa: UP007 - built from a tuple at runtime
        Field(discriminator="type"),
    ]


def event_read(event: CaseEvent) -> EventReadBase:
    data = event.model_dump(exclude=_STORAGE_ONLY)
    name = type(event).__name__
    return EVENT_READ_MODELS[name].model_validate(
        {
            **data,
            "type": name,
            "case_id": event.originator_id,
            "version": event.originator_version,
            "erased_fields": erased_paths(event),
        }
    )


# --- answers -------------------------------------------------------------------------------------


class RestrictedCaseRead(Read):
    """A restricted case as someone who recorded on it (without full access) sees it: where it
    stands, nothing of what others recorded. Their own records are in the timeline."""

    id: UUID
    version: int = Field(description="Number of events; the ETag and the If-Match value.")
    status: CaseStatus
    category: Category
    restricted: Literal[True] = True
    access: Literal["own_records"] = Field(
        default="own_records",
        description="Only the events you recorded are shown to you (GET .../timeline); a "
        "safeguarding lead, an auditor, the assignee or a break-glass grant sees the rest.",
    )
    evaluated_at: datetime


def restricted_case_read(state: CaseState, evaluated_at: datetime) -> RestrictedCaseRead:
    return RestrictedCaseRead(
        id=state.id,
        version=state.version,
        status=state.status,
        category=state.category,
        evaluated_at=evaluated_at,
    )


# --- the case in a write's answer ---------------------------------------------------------------

# A write's answer shows where the case stands, never what it says: no subject, no summary, no
# referral details (agency name, reference, lawful basis). Those are case content, shown only by
# a read, which the access log records; a write's answer is not logged (a retried write answers
# again and appends nothing), so it must carry nothing a read would have to log. What it does
# carry is what the writer needs for the next step (the version for If-Match, the status, the
# ids of what is open) and what lists and queues show without logging.
CONTENT_FIELDS = frozenset({"subject", "summary"})
REFERRAL_DETAILS = frozenset({"agency", "reference", "lawful_basis"})
SERIOUS_INCIDENT_DETAILS = frozenset({"reference"})
"""A reported serious incident's regulator reference: a detail, as a referral's reference is."""
MEMBER_REFERENCES = {"sanctions": frozenset({"target_ref"}), "approvals": frozenset({"target_ref"})}
"""The member a sanction or a held moderation action names: a read shows it, a write's answer
does not (a sanction's action and when it is in force say where the case stands)."""


class ReferralStateRead(Read):
    """A referral as a write's answer shows it: where it stands, not its details."""

    referral_id: UUID
    agency_kind: AgencyKind
    consent: Consent
    status: ReferralStatus
    acknowledgement_expected: bool
    made_by: str
    made_at: datetime
    acknowledged_at: datetime | None = None
    outcome_received_at: datetime | None = None
    last_followed_up_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime
    review_status: DecisionStatus | None = None
    review_due: datetime | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None


class SanctionStateRead(Read):
    """A sanction as a write's answer shows it: what and when, not the member it names."""

    event_id: UUID = Field(description="The moderation action that imposed it.")
    action: ModerationAction
    imposed_at: datetime
    expires_at: datetime | None = None
    active: bool = Field(description="In force at the case's evaluated_at.")


class ApprovalStateRead(Read):
    """An approval as a write's answer shows it: where it stands, not the member it names."""

    approval_id: UUID
    kind: ApprovalKind
    rule: str
    status: ApprovalStatus
    requested_by: str
    requested_at: datetime
    action: ModerationAction | None = None
    level: RiskLevel | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None


class SeriousIncidentStateRead(Read):
    """A serious-incident assessment as a write's answer shows it: without the regulator's
    reference (a detail, as a referral's reference is: a read shows it)."""

    assessment_id: UUID
    reportable: bool
    regulator: Regulator
    grounds: list[SeriousIncidentGround]
    assessed_by: str
    assessed_at: datetime
    superseded: bool
    reported_at: datetime | None = None
    reported_by: str | None = None


class CaseStateRead(Read):
    """A case as a write's answer shows it: every field of a read but its content (subject,
    summary, referral details), which only a logged read shows (`GET /cases/{id}`)."""

    id: UUID
    version: int = Field(description="Number of events; the ETag and the If-Match value.")
    status: CaseStatus
    source: CaseSource
    category: Category
    risk_level: RiskLevel | None = None
    channel: str | None = None
    service: str = "default"
    assignee: str | None = None
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None = None
    reopened_at: datetime | None = None
    first_action_at: datetime | None = None
    last_action_at: datetime | None = None
    time_to_first_action_seconds: float | None = None
    flags: FlagsRead
    notes: int
    moderation_actions: int
    out_of_hours_decisions: list[OutOfHoursDecisionRead]
    referrals: list[ReferralStateRead]
    escalations: list[EscalationRead]
    sanctions: list[SanctionStateRead]
    pending_reviews: list[UUID]
    approvals: list[ApprovalStateRead] = []
    pending_approvals: list[UUID] = []
    referrals_awaiting_review: list[UUID] = []
    unacknowledged_escalations: list[UUID]
    referrals_awaiting_acknowledgement: list[UUID]
    corrections: list[CorrectionRead]
    evaluated_at: datetime
    personal_data_erased_at: datetime | None = None
    erased_fields: list[str] = []
    serious_incidents: list[SeriousIncidentStateRead] = []


def case_state_read(state: CaseState, evaluated_at: datetime) -> CaseStateRead:
    """The case after a write, without its content (see CONTENT_FIELDS)."""
    full = case_read(state, evaluated_at)
    return CaseStateRead.model_validate(
        {
            **full.model_dump(
                exclude={
                    **dict.fromkeys(CONTENT_FIELDS, True),
                    "referrals": True,
                    **{f: {"__all__": set(names)} for f, names in MEMBER_REFERENCES.items()},
                    "serious_incidents": {"__all__": set(SERIOUS_INCIDENT_DETAILS)},
                }
            ),
            "referrals": [
                {**r.model_dump(exclude=set(REFERRAL_DETAILS)), "agency_kind": r.agency.kind}
                for r in full.referrals
            ],
        }
    )


class CaseStatusRead(Read):
    """The least a write's answer shows: for a writer without the right to read the case."""

    id: UUID
    version: int = Field(description="Number of events; the ETag and the If-Match value.")
    status: CaseStatus


class CaseWriteAnswer(Read):
    """A write's answer: where the case stands after the write, and the events it appended.

    The case carries no content (no subject, summary or referral details: read the case for
    those, and the read is logged); to a writer who sees only their own records of a restricted
    case, only its restricted form."""

    case: CaseStateRead | RestrictedCaseRead | CaseStatusRead
    events: list[EventRead]
    position: int = Field(
        description="The log position (notification id) of the write's last event. Pass it as "
        "`?min_position=` to a read to see this write in lists, queues and histories "
        "(read-your-writes); a retried write answers the original position."
    )


class CaseAnswer(Read):
    case: CaseRead | RestrictedCaseRead = Field(
        description="The case; on a restricted case seen with own-records access only, the "
        "restricted form (id, version, status, category)."
    )


class TimelineAnswer(Read):
    case_id: UUID
    events: list[EventRead] = Field(
        description="In version order (oldest first): the whole timeline, or with `limit` one "
        "page of it."
    )
    total: int = Field(
        description="How many events the whole timeline holds as you see it at that moment "
        "(with `as_of` and `basis`; on a restricted case you recorded on, your own events).",
    )
    next_cursor: str | None = Field(
        description="Pass back as `cursor` (with the same `limit`, `as_of` and `basis`) for the "
        "next page; null on the last page and whenever `limit` is not given.",
    )


class HealthAnswer(Read):
    status: Literal["ok"]


# --- bodies of nested routes (the id named in the URL is not repeated in the body) -------------


class ReviewBody(Command):
    outcome: ReviewOutcome
    rationale: Rationale


class ApprovalDecisionBody(Command):
    decision: ApprovalDecision = Field(
        description="approved: the held decision takes effect now; rejected: it never does."
    )
    rationale: Rationale


class ReferralUpdateBody(Command):
    status: ReferralUpdateStatus
    reference: Ref | None = Field(default=None, description="The agency's reference.")
    note: PersonalText | None = None


class AcknowledgementBody(Command):
    note: PersonalText | None = None


class ResolutionBody(Command):
    outcome: ShortPersonalText
    rationale: Rationale
