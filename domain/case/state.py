"""Case state and ``evolve``: the fold of a case's events.

``evolve`` never raises: it runs on every replay, including replays filtered by
time (as of T), so an event naming something the filtered history lacks is
folded as far as it can be and otherwise ignored. All time-derived state comes
from event times (a suspension's expiry is its ``occurred_at`` plus its duration),
never from the clock at replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.case.clocks import CaseClocks
from domain.case.compliance_state import (
    SeriousIncidentAssessment,
    flag_event_id,
    serious_incident_assessed,
    serious_incident_reported,
)
from domain.case.events import (
    Agency,
    ApprovalDecided,
    ApprovalRequested,
    CaseAssigned,
    CaseClosed,
    CaseEscalated,
    CaseEvent,
    CaseOpened,
    CaseReopened,
    EscalationAcknowledged,
    EscalationResolved,
    FlagRaised,
    ModerationActionTaken,
    NoteAdded,
    OutOfHoursDecisionRecorded,
    OutOfHoursDecisionReviewed,
    PersonalDataErased,
    RecordCorrected,
    ReferralMade,
    ReferralReviewed,
    ReferralUpdated,
    RiskAssessed,
    SeriousIncidentAssessed,
    SeriousIncidentReported,
    SlaBreachExplained,
    Subject,
)
from domain.case.vocabulary import (
    AGENCIES_THAT_NEVER_ACKNOWLEDGE,
    MEMBER_SANCTIONS,
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
    RiskLevel,
    Urgency,
)
from domain.personal import plan_for, redacted
from domain.shared import PERSONAL, PolicyRef


class Item(BaseModel):
    model_config = ConfigDict(frozen=True)


class OutOfHoursDecision(Item):
    decision_id: UUID
    decided_by: str
    decided_at: datetime
    review_due: datetime
    decided_by_behind: tuple[str, ...] = ()
    status: DecisionStatus = DecisionStatus.AWAITING_REVIEW
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None


class Referral(Item):
    referral_id: UUID
    agency: Agency
    consent: Consent
    lawful_basis: str | None = None
    made_by: str
    made_at: datetime
    made_by_behind: tuple[str, ...] = ()
    status: ReferralStatus = ReferralStatus.AWAITING_ACKNOWLEDGEMENT
    reference: str | None = None
    acknowledged_at: datetime | None = None
    outcome_received_at: datetime | None = None
    last_followed_up_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime
    # Made without consent: reviewed by a lead other than the referrer (None: no review needed).
    review_due: datetime | None = None
    review_status: DecisionStatus | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None

    @property
    def acknowledgement_expected(self) -> bool:
        """Whether the agency ever acknowledges a referral (a crisis line does not)."""
        return self.agency.kind not in AGENCIES_THAT_NEVER_ACKNOWLEDGE

    @property
    def awaiting_acknowledgement(self) -> bool:
        """Made, not yet acknowledged, by an agency that acknowledges referrals."""
        return (
            self.status is ReferralStatus.AWAITING_ACKNOWLEDGEMENT and self.acknowledgement_expected
        )


class Approval(Item):
    """A decision held for a second safeguarding lead (four-eyes), and what became of it.

    The proposal's own fields are kept while it is pending (approving it puts them into
    effect) and dropped once it is decided; the timeline keeps them.
    """

    approval_id: UUID
    kind: ApprovalKind
    rule: str
    requested_by: str
    requested_at: datetime
    action: ModerationAction | None = None
    target_ref: str | None = None
    status: ApprovalStatus = ApprovalStatus.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    # The proposal, while pending.
    rationale: Annotated[str | None, PERSONAL] = None
    policy_ref: PolicyRef | None = None
    duration_hours: float | None = None
    outcome: Annotated[str | None, PERSONAL] = None
    level: RiskLevel | None = None  # a risk assessment's proposed level
    requester_credential_issued_by: str | None = None
    # The persons behind the requester (an older request: whoever issued their credential).
    requester_behind: tuple[str, ...] = ()


class Escalation(Item):
    escalation_id: UUID
    level: EscalationLevel
    urgency: Urgency
    raised_by: str
    raised_at: datetime
    status: EscalationStatus = EscalationStatus.RAISED
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None


class AwaitingFlag(Item):
    """A flag (a ``FlagRaised``, or the opening of a case raised from a flag) awaiting the first
    action on its case at or after it: the flags_awaiting_action queue's item."""

    flag_id: UUID  # the event's id
    raised_at: datetime  # its occurred_at
    risk_level: RiskLevel | None  # the case's risk when it was raised (None: not yet assessed)


class Sanction(Item):
    event_id: UUID
    action: ModerationAction
    target_ref: str
    imposed_at: datetime
    expires_at: datetime | None = None

    def is_active(self, at: datetime) -> bool:
        """In force at ``at``: imposed, not yet expired (event times only; lifting removes it)."""
        return self.imposed_at <= at and (self.expires_at is None or at < self.expires_at)


class ClosedPeriod(Item):
    """A stretch of time the case was closed, from its closure until it was reopened."""

    closed_at: datetime
    reopened_at: datetime

    def contains(self, at: datetime) -> bool:
        return self.closed_at <= at < self.reopened_at


class Write(Item):
    """A write made with an Idempotency-Key: which versions it produced, from which request."""

    request_hash: str | None
    first_version: int
    last_version: int
    recorded_at: datetime


# Idempotency keys are remembered this long (from the write's recorded_at), which keeps a long
# case's state small; a retry after that is a new request (the usual contract, e.g. Stripe's).
IDEMPOTENCY_WINDOW = timedelta(hours=24)


# Events that count as acting on the concern (the "first action" SLA clock).
ACTION_EVENTS: tuple[type[CaseEvent], ...] = (
    RiskAssessed,
    ModerationActionTaken,
    OutOfHoursDecisionRecorded,
    ReferralMade,
    CaseEscalated,
    CaseClosed,
    ApprovalRequested,  # proposing a ban is acting on the concern, even before it is approved
)


class CaseState(BaseModel):
    """A case as its events tell it. Treat as immutable: ``evolve`` returns a new one."""

    model_config = ConfigDict(validate_assignment=False)

    id: UUID
    version: int
    status: CaseStatus
    subject: Subject
    source: CaseSource
    category: Category
    summary: Annotated[str, PERSONAL]
    risk_level: RiskLevel | None = None
    # Whether the risk was critical at any point: closing such a case needs a second lead. None
    # only in snapshots taken before this was kept: unknown, so taken as critical once.
    ever_critical: bool | None = None
    # The version of the latest RiskAssessed (0: none since opening). None only in snapshots
    # taken before this was kept: unknown.
    risk_assessed_version: int | None = None
    channel: str | None = None
    # The service whose calendar judges the case (snapshots taken before services: the default).
    service: str = "default"
    opened_at: datetime
    opened_by: str
    assignee: str | None = None
    closed_at: datetime | None = None
    reopened_at: datetime | None = None
    closed_periods: list[ClosedPeriod] = []
    # Latest occurred_at among events that need an open case: a closure cannot predate it.
    last_open_activity_at: datetime | None = None
    first_action_at: datetime | None = None
    last_action_at: datetime | None = None
    flag_count: int = 0
    # Flags awaiting the first action at or after them, and the latest moment the case was acted
    # on (occurred_at of the latest ``ACTION_EVENTS`` event). None only in snapshots taken before
    # these were kept: such a snapshot is not trusted (``domain.case.snapshot``), the case is
    # replayed from its events instead.
    flags_awaiting: list[AwaitingFlag] | None = None
    last_acted_at: datetime | None = None
    flag_categories: dict[str, int] = {}  # category -> number of flags
    last_flag_at: datetime | None = None
    decisions: dict[str, OutOfHoursDecision] = {}
    referrals: dict[str, Referral] = {}
    escalations: dict[str, Escalation] = {}
    approvals: dict[str, Approval] = {}  # four-eyes: approval id -> approval
    # Member sanctions (mute, suspend, ban) that may still be in force: lifted ones, and ones
    # expired before the latest event, leave the state (the timeline keeps them), so a long case
    # stays small to load. Content moderation (hide, remove, restore, lock) is in the timeline.
    sanctions: list[Sanction] = []
    notes: int = 0
    moderation_actions: int = 0
    corrections: dict[str, list[str]] = {}  # corrected event id -> correcting event ids
    writes: dict[str, Write] = {}  # "<actor>\x1f<idempotency key>" -> write, for 24 hours
    # Usernames that recorded an event on the case (restricted-case access: an involved user may
    # keep adding to it). None only in snapshots taken before this was kept: then ask the log.
    participants: list[str] | None = None
    # When the subject's personal data was erased (PersonalDataErased): the personal fields here
    # read "[erased]" from then on, as the events before it do.
    personal_data_erased_at: datetime | None = None
    # Serious-incident assessments by id, in order, and the latest (which supersedes the rest).
    serious_incidents: dict[str, SeriousIncidentAssessment] = {}
    latest_serious_incident: UUID | None = None
    # The FlagRaised events' ids (a first-action clock's items). None only in snapshots taken
    # before this was kept: then any event of the case is taken as one.
    flag_event_ids: list[str] | None = None
    # The case's clocks over its events (an as-of read's shortcut). None in snapshots taken
    # before this was kept: unknown, so as-of reads replay the case (no need to retake them).
    clocks: CaseClocks | None = None

    # --- derived -------------------------------------------------------------------------------

    def pending_reviews(self) -> list[OutOfHoursDecision]:
        return [d for d in self.decisions.values() if d.status is DecisionStatus.AWAITING_REVIEW]

    def pending_approvals(self) -> list[Approval]:
        return [a for a in self.approvals.values() if a.status is ApprovalStatus.PENDING]

    def referrals_awaiting_review(self) -> list[Referral]:
        """Referrals made without consent that no lead has reviewed yet."""
        return [
            r for r in self.referrals.values() if r.review_status is DecisionStatus.AWAITING_REVIEW
        ]

    def unacknowledged_escalations(self) -> list[Escalation]:
        return [e for e in self.escalations.values() if e.status is EscalationStatus.RAISED]

    def unresolved_escalations(self) -> list[Escalation]:
        return [e for e in self.escalations.values() if e.status is not EscalationStatus.RESOLVED]

    def referrals_awaiting_acknowledgement(self) -> list[Referral]:
        """Referrals the agency has yet to acknowledge (never those to a crisis line)."""
        return [r for r in self.referrals.values() if r.awaiting_acknowledgement]

    def active_sanctions(self, at: datetime) -> list[Sanction]:
        """Sanctions in force at ``at``, for ``at`` at or after the latest event (sanctions that
        expired before it have left the state; for earlier moments fold the timeline as of then).
        """
        return [s for s in self.sanctions if s.is_active(at)]

    def time_to_first_action(self) -> timedelta | None:
        return None if self.first_action_at is None else self.first_action_at - self.opened_at

    def clone(self) -> CaseState:
        """A copy whose containers may be changed without touching this state."""
        return self.model_copy(
            update={
                "flag_categories": dict(self.flag_categories),
                "decisions": dict(self.decisions),
                "referrals": dict(self.referrals),
                "escalations": dict(self.escalations),
                "approvals": dict(self.approvals),
                "sanctions": list(self.sanctions),
                "flags_awaiting": None
                if self.flags_awaiting is None
                else list(self.flags_awaiting),
                "closed_periods": list(self.closed_periods),
                "corrections": dict(self.corrections),
                "writes": dict(self.writes),
                "participants": None if self.participants is None else list(self.participants),
                "serious_incidents": dict(self.serious_incidents),
                "flag_event_ids": (
                    None if self.flag_event_ids is None else list(self.flag_event_ids)
                ),
            }
        )


def write_key(actor: str, idempotency_key: str) -> str:
    return f"{actor}\x1f{idempotency_key}"


# --- evolve ------------------------------------------------------------------------------------


def evolve(state: CaseState | None, event: CaseEvent) -> CaseState | None:
    """Fold one event into a case state, returning a new state (the given one is unchanged)."""
    return fold(state, (event,))


def fold(state: CaseState | None, events: Iterable[CaseEvent]) -> CaseState | None:
    """Fold events into a copy of ``state``: one copy for the lot, not one per event."""
    owned = state.clone() if state is not None else None
    for event in events:
        owned = apply_in_place(owned, event)
    return owned


def apply_in_place(state: CaseState | None, event: CaseEvent) -> CaseState | None:
    """Apply one event to a state the caller owns. Never raises on a valid stored event."""
    if isinstance(event, CaseOpened):
        reopened = state is not None
        state = _opened(event)
        if reopened:
            state.clocks = None  # a second opening: what the clocks say of the first is lost
    elif state is None or event.originator_id != state.id:
        return state
    else:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(state, event)
        if state.clocks is not None:
            state.clocks = state.clocks.after(event)
    state.version = event.originator_version
    if state.participants is not None and event.actor not in state.participants:
        state.participants.append(event.actor)
    if isinstance(event, ACTION_EVENTS):
        _acted(state, event.occurred_at)
    if not isinstance(event, (CaseOpened, PersonalDataErased)) and (
        state.last_action_at is None or event.occurred_at > state.last_action_at
    ):
        state.last_action_at = event.occurred_at
    if state.sanctions and state.last_action_at is not None:
        # Expired before the latest event: cannot be in force at any later moment.
        horizon = state.last_action_at
        state.sanctions = [
            x for x in state.sanctions if x.expires_at is None or x.expires_at > horizon
        ]
    if event.idempotency_key is not None:
        _remember_write(state, event)
    if not isinstance(event, _ALLOWED_WHILE_CLOSED) and (
        state.last_open_activity_at is None or event.occurred_at > state.last_open_activity_at
    ):
        state.last_open_activity_at = event.occurred_at
    if isinstance(event, _STATUS_EVENTS):
        _derive_status(state)
    return state


def _acted(state: CaseState, at: datetime) -> None:
    """The case was acted on at ``at``: the first-action clock, and the flags raised at or before
    it no longer await an action."""
    if state.first_action_at is None or at < state.first_action_at:
        state.first_action_at = at
    if state.last_acted_at is None or at > state.last_acted_at:
        state.last_acted_at = at
    if state.flags_awaiting:
        state.flags_awaiting = [f for f in state.flags_awaiting if f.raised_at > at]


def _awaits_action(state: CaseState, flag_id: UUID, raised_at: datetime) -> None:
    """A flag raised at ``raised_at`` awaits an action, unless one occurred at or after it
    already (a flag logged late)."""
    if state.flags_awaiting is None:
        return  # unknown (never for a state folded from its events)
    if state.last_acted_at is not None and state.last_acted_at >= raised_at:
        return
    state.flags_awaiting.append(
        AwaitingFlag(flag_id=flag_id, raised_at=raised_at, risk_level=state.risk_level)
    )


def _remember_write(state: CaseState, event: CaseEvent) -> None:
    assert event.idempotency_key is not None
    horizon = event.recorded_at - IDEMPOTENCY_WINDOW
    for stale in [k for k, w in state.writes.items() if w.recorded_at < horizon]:
        del state.writes[stale]
    key = write_key(event.actor, event.idempotency_key)
    previous = state.writes.get(key)
    state.writes[key] = Write(
        request_hash=event.request_hash,
        first_version=previous.first_version if previous else event.originator_version,
        last_version=event.originator_version,
        recorded_at=previous.recorded_at if previous else event.recorded_at,
    )


_STATUS_EVENTS = (CaseEscalated, EscalationResolved, CaseClosed, CaseReopened)
_ALLOWED_WHILE_CLOSED = (
    NoteAdded,
    RecordCorrected,
    CaseReopened,
    PersonalDataErased,
    # Decided after closure too (domain.case.decide.ALLOWED_WHEN_CLOSED).
    SeriousIncidentAssessed,
    SeriousIncidentReported,
    SlaBreachExplained,
)


def _derive_status(state: CaseState) -> None:
    if state.closed_at is not None:
        state.status = CaseStatus.CLOSED
    elif state.unresolved_escalations():
        state.status = CaseStatus.ESCALATED
    else:
        state.status = CaseStatus.OPEN


def _opened(e: CaseOpened) -> CaseState:
    state = CaseState(
        id=e.originator_id,
        version=e.originator_version,
        status=CaseStatus.OPEN,
        subject=e.subject,
        source=e.source,
        category=e.category,
        summary=e.summary,
        risk_level=e.risk_level,
        ever_critical=e.risk_level is RiskLevel.CRITICAL,
        risk_assessed_version=0,
        channel=e.channel,
        service=e.service,
        opened_at=e.occurred_at,
        opened_by=e.actor,
        flag_categories={},
        decisions={},
        referrals={},
        escalations={},
        approvals={},
        sanctions=[],
        corrections={},
        writes={},
        closed_periods=[],
        participants=[],
        flags_awaiting=[],
        serious_incidents={},
        flag_event_ids=[],
        clocks=CaseClocks.of(e),
    )
    if e.source is CaseSource.FLAG:
        _awaits_action(state, e.event_id, e.occurred_at)
    return state


def _flag(s: CaseState, e: FlagRaised) -> None:
    flag_event_id(s, e)
    s.flag_count += 1
    s.flag_categories[e.category.value] = s.flag_categories.get(e.category.value, 0) + 1
    if s.last_flag_at is None or e.occurred_at > s.last_flag_at:
        s.last_flag_at = e.occurred_at
    _awaits_action(s, e.event_id, e.occurred_at)


def _risk(s: CaseState, e: RiskAssessed) -> None:
    s.risk_level = e.level
    s.risk_assessed_version = e.originator_version
    if e.level is RiskLevel.CRITICAL:
        s.ever_critical = True


def _assigned(s: CaseState, e: CaseAssigned) -> None:
    s.assignee = e.assignee


def _moderation(s: CaseState, e: ModerationActionTaken) -> None:
    s.moderation_actions += 1
    if e.action in MEMBER_SANCTIONS:
        expires = (
            None if e.duration_hours is None else e.occurred_at + timedelta(hours=e.duration_hours)
        )
        s.sanctions.append(
            Sanction(
                event_id=e.event_id,
                action=e.action,
                target_ref=e.target_ref,
                imposed_at=e.occurred_at,
                expires_at=expires,
            )
        )
        return
    # A lifting action lifts every sanction it can lift on the same target, in force at the time;
    # a lifted sanction leaves the state (the timeline keeps it).
    s.sanctions = [
        sanction
        for sanction in s.sanctions
        if not (
            MEMBER_SANCTIONS.get(sanction.action) is e.action
            and sanction.target_ref == e.target_ref
            and sanction.is_active(e.occurred_at)
        )
    ]


def _ooh_decision(s: CaseState, e: OutOfHoursDecisionRecorded) -> None:
    s.decisions[str(e.decision_id)] = OutOfHoursDecision(
        decision_id=e.decision_id,
        decided_by=e.actor,
        decided_at=e.occurred_at,
        review_due=e.review_due,
        decided_by_behind=tuple(e.actor_behind or ()),
    )


_REVIEWED = {
    "ratified": DecisionStatus.RATIFIED,
    "varied": DecisionStatus.VARIED,
    "overturned": DecisionStatus.OVERTURNED,
}


def _review_of(
    e: OutOfHoursDecisionReviewed | ReferralReviewed, status_field: str
) -> dict[str, object]:
    """The fields a lead's review sets on what it reviews (its outcome, who, when)."""
    return {
        status_field: _REVIEWED[e.outcome.value],
        "reviewed_by": e.actor,
        "reviewed_at": e.occurred_at,
    }


def _ooh_review(s: CaseState, e: OutOfHoursDecisionReviewed) -> None:
    decision = s.decisions.get(str(e.decision_id))
    if decision is not None:
        s.decisions[str(e.decision_id)] = decision.model_copy(update=_review_of(e, "status"))


def _referral(s: CaseState, e: ReferralMade) -> None:
    s.referrals[str(e.referral_id)] = Referral(
        referral_id=e.referral_id,
        agency=e.agency,
        consent=e.consent,
        lawful_basis=e.lawful_basis,
        made_by=e.actor,
        made_at=e.occurred_at,
        made_by_behind=tuple(e.actor_behind or ()),
        reference=e.reference,
        updated_at=e.occurred_at,
        review_due=e.review_due,
        review_status=None if e.review_due is None else DecisionStatus.AWAITING_REVIEW,
    )


def _referral_reviewed(s: CaseState, e: ReferralReviewed) -> None:
    referral = s.referrals.get(str(e.referral_id))
    if referral is not None:
        s.referrals[str(e.referral_id)] = referral.model_copy(update=_review_of(e, "review_status"))


def _approval_requested(s: CaseState, e: ApprovalRequested) -> None:
    s.approvals[str(e.approval_id)] = Approval(
        approval_id=e.approval_id,
        kind=e.kind,
        rule=e.rule,
        requested_by=e.actor,
        requested_at=e.occurred_at,
        action=e.action,
        target_ref=e.target_ref,
        rationale=e.rationale,
        policy_ref=e.policy_ref,
        duration_hours=e.duration_hours,
        outcome=e.outcome,
        level=e.level,
        requester_credential_issued_by=e.requester_credential_issued_by,
        requester_behind=tuple(
            e.actor_behind
            if e.actor_behind is not None
            else [e.requester_credential_issued_by or e.actor]
        ),
    )


def _approval_decided(s: CaseState, e: ApprovalDecided) -> None:
    approval = s.approvals.get(str(e.approval_id))
    if approval is not None:
        approved = e.decision is ApprovalDecision.APPROVED
        s.approvals[str(e.approval_id)] = approval.model_copy(
            update={
                "status": ApprovalStatus.APPROVED if approved else ApprovalStatus.REJECTED,
                "decided_by": e.actor,
                "decided_at": e.occurred_at,
                "rationale": None,
                "policy_ref": None,
                "duration_hours": None,
                "outcome": None,
            }
        )


def _referral_update(s: CaseState, e: ReferralUpdated) -> None:
    referral = s.referrals.get(str(e.referral_id))
    if referral is None:
        return
    update: dict[str, Any] = {"updated_at": e.occurred_at}
    if e.reference is not None:
        update["reference"] = e.reference
    if e.status is ReferralUpdateStatus.FOLLOWED_UP:
        update["last_followed_up_at"] = e.occurred_at
    else:
        update["status"] = ReferralStatus(e.status.value)
        field = {
            ReferralUpdateStatus.ACKNOWLEDGED: "acknowledged_at",
            ReferralUpdateStatus.OUTCOME_RECEIVED: "outcome_received_at",
            ReferralUpdateStatus.CLOSED: "closed_at",
        }[e.status]
        update[field] = e.occurred_at
        if referral.acknowledged_at is None and e.status is not ReferralUpdateStatus.CLOSED:
            update["acknowledged_at"] = e.occurred_at
    s.referrals[str(e.referral_id)] = referral.model_copy(update=update)


def _escalated(s: CaseState, e: CaseEscalated) -> None:
    s.escalations[str(e.escalation_id)] = Escalation(
        escalation_id=e.escalation_id,
        level=e.level,
        urgency=e.urgency,
        raised_by=e.actor,
        raised_at=e.occurred_at,
    )


def _escalation_acknowledged(s: CaseState, e: EscalationAcknowledged) -> None:
    escalation = s.escalations.get(str(e.escalation_id))
    if escalation is not None:
        s.escalations[str(e.escalation_id)] = escalation.model_copy(
            update={
                "status": EscalationStatus.ACKNOWLEDGED,
                "acknowledged_by": e.actor,
                "acknowledged_at": e.occurred_at,
            }
        )


def _escalation_resolved(s: CaseState, e: EscalationResolved) -> None:
    escalation = s.escalations.get(str(e.escalation_id))
    if escalation is not None:
        s.escalations[str(e.escalation_id)] = escalation.model_copy(
            update={
                "status": EscalationStatus.RESOLVED,
                "resolved_by": e.actor,
                "resolved_at": e.occurred_at,
            }
        )


def _note(s: CaseState, e: NoteAdded) -> None:
    s.notes += 1


def _corrected(s: CaseState, e: RecordCorrected) -> None:
    key = str(e.corrects_event_id)
    s.corrections[key] = [*s.corrections.get(key, []), str(e.event_id)]


def _closed(s: CaseState, e: CaseClosed) -> None:
    s.closed_at = e.occurred_at


def _reopened(s: CaseState, e: CaseReopened) -> None:
    if s.closed_at is not None:
        s.closed_periods.append(ClosedPeriod(closed_at=s.closed_at, reopened_at=e.occurred_at))
    s.closed_at = None
    s.reopened_at = e.occurred_at


def _personal_data_erased(s: CaseState, e: PersonalDataErased) -> None:
    # Blank what the state holds too, so a state cached or snapshotted before the erasure does
    # not outlive it (the events before this one already read as erased).
    blank = redacted(s)
    for step in plan_for(CaseState):
        setattr(s, step.name, getattr(blank, step.name))
    s.personal_data_erased_at = e.occurred_at


_HANDLERS: dict[type[CaseEvent], Callable[[CaseState, Any], None]] = {
    FlagRaised: _flag,
    RiskAssessed: _risk,
    CaseAssigned: _assigned,
    ModerationActionTaken: _moderation,
    OutOfHoursDecisionRecorded: _ooh_decision,
    OutOfHoursDecisionReviewed: _ooh_review,
    ReferralMade: _referral,
    ReferralUpdated: _referral_update,
    CaseEscalated: _escalated,
    EscalationAcknowledged: _escalation_acknowledged,
    EscalationResolved: _escalation_resolved,
    NoteAdded: _note,
    RecordCorrected: _corrected,
    CaseClosed: _closed,
    CaseReopened: _reopened,
    ApprovalRequested: _approval_requested,
    ApprovalDecided: _approval_decided,
    ReferralReviewed: _referral_reviewed,
    PersonalDataErased: _personal_data_erased,
    SeriousIncidentAssessed: serious_incident_assessed,
    SeriousIncidentReported: serious_incident_reported,
}
