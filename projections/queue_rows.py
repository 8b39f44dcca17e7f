"""The rows of the work queues: which queues a case's state puts it in, when each item falls
due (from the events' own times on the service calendar, by the SLA policy version in force when
each clock started), and the shapes the queues are read in. Pure: no store, no log;
``projections.work_queues`` keeps them in a view.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.calendar import CalendarHistory, ServiceCalendar
from domain.case.state import CaseState
from domain.case.vocabulary import (
    AgencyKind,
    CaseStatus,
    Category,
    ReferralStatus,
    RiskLevel,
    Urgency,
)
from domain.policy.sla import SlaPolicyHistory, SlaTargets
from projections.sla import DEFAULT_HISTORY, due

TABLE = "work_queue_items"
DEFAULT_IDLE_DAYS = 7
MAX_IDLE_DAYS = 3650


class Queue(StrEnum):
    OUT_OF_HOURS_REVIEWS = "out_of_hours_reviews"
    UNACKNOWLEDGED_ESCALATIONS = "unacknowledged_escalations"
    REFERRALS_AWAITING_ACKNOWLEDGEMENT = "referrals_awaiting_acknowledgement"
    REFERRALS_AWAITING_FOLLOW_UP = "referrals_awaiting_follow_up"
    HIGH_RISK_OPEN = "high_risk_open"
    NO_RECENT_ACTION = "no_recent_action"
    APPROVALS_AWAITING_DECISION = "approvals_awaiting_decision"
    REFERRALS_AWAITING_REVIEW = "referrals_awaiting_review"
    FLAGS_AWAITING_ACTION = "flags_awaiting_action"


# Each queue's due times are judged by the SLA policy version in force when its clock started
# (GET /api/v1/policies/sla); the descriptions give the default policy's targets.
QUEUE_DESCRIPTIONS: dict[Queue, str] = {
    Queue.OUT_OF_HOURS_REVIEWS: "Out-of-hours decisions awaiting a safeguarding lead's review; "
    "due at the end of the next working day after the decision.",
    Queue.UNACKNOWLEDGED_ESCALATIONS: "Escalations not yet acknowledged; due 30 min (immediate), "
    "4 h (urgent) or 1 working day (routine) after they were raised.",
    Queue.REFERRALS_AWAITING_ACKNOWLEDGEMENT: "Referrals the agency has not acknowledged; due 1 "
    "working day after the referral was made (then chase).",
    Queue.REFERRALS_AWAITING_FOLLOW_UP: "Acknowledged referrals with no outcome yet; chase due 5 "
    "working days after the acknowledgement or the last follow-up.",
    Queue.HIGH_RISK_OPEN: "Open cases assessed high or critical risk; critical first, then the "
    "longest without action. No due time.",
    Queue.NO_RECENT_ACTION: "Open cases with no action for N days (idle_days, default 7); due N "
    "days after the last action (or the opening, if none).",
    Queue.APPROVALS_AWAITING_DECISION: "Four-eyes: decisions (a ban, closing a critical case) "
    "held until a safeguarding lead other than the requester approves or rejects them; due 1 "
    "working day after the request.",
    Queue.REFERRALS_AWAITING_REVIEW: "Referrals made without consent (emergency actions, "
    "recorded at once) awaiting a safeguarding lead's review; due at the end of the next "
    "working day after the referral.",
    Queue.FLAGS_AWAITING_ACTION: "Flags (a flag raised on a case, or a case opened from a flag) "
    "awaiting the first action on their case at or after them (an action: a risk assessment, a "
    "moderation action, an out-of-hours decision, a referral, an escalation, a closure, a "
    "four-eyes request); due the SLA policy's first-action target for the case's risk when the "
    "flag was raised (an unassessed case counts as medium; by default critical 1 h, high 4 h, "
    "medium 24 h, low 72 h) after the flag.",
}


class ItemKind(StrEnum):
    OUT_OF_HOURS_DECISION = "out_of_hours_decision"
    ESCALATION = "escalation"
    REFERRAL = "referral"
    CASE = "case"
    APPROVAL = "approval"
    FLAG = "flag"


_RISK_RANK = {RiskLevel.CRITICAL: 0, RiskLevel.HIGH: 1}
_CASE_QUEUES = (Queue.HIGH_RISK_OPEN, Queue.NO_RECENT_ACTION)


class QueueItem(BaseModel):
    """One piece of open work: what it is, on which case, when it is due, and whether it is late."""

    model_config = ConfigDict(frozen=True)

    queue: Queue
    case_id: UUID
    item_id: UUID = Field(
        description="The decision_id, escalation_id, referral_id or approval_id; the flag's event "
        "id (a FlagRaised, or the CaseOpened of a case opened from a flag); the case id for case "
        "queues."
    )
    kind: ItemKind
    category: Category
    risk_level: RiskLevel | None
    assignee: str | None = Field(description="The case's assignee (a username), if any.")
    urgency: Urgency | None = Field(description="For escalations: their urgency.")
    agency_kind: AgencyKind | None = Field(description="For referrals: the kind of agency.")
    since: datetime = Field(
        description="When this item's clock started: the decision, escalation, referral or "
        "flag; the acknowledgement or last follow-up of a referral being chased; the case's "
        "last action (or its opening) for the case queues."
    )
    due_at: datetime | None = Field(description="When the work is due (null: no due time).")
    overdue: bool = Field(description="due_at is before the moment asked about (now or as_of).")


class QueueCount(BaseModel):
    """A queue's size now (or at ``as_of``)."""

    model_config = ConfigDict(frozen=True)

    name: Queue
    description: str
    total: int
    overdue: int | None = Field(description="Items past due (null: the queue has no due times).")


COLUMNS = (
    "queue",
    "item_id",
    "case_id",
    "kind",
    "category",
    "risk_level",
    "risk_rank",
    "assignee",
    "urgency",
    "agency_kind",
    "since_at",
    "due_at",
    "position",
)
READ_COLUMNS = ", ".join(c for c in COLUMNS if c not in ("risk_rank", "position"))


def queue_rows(
    state: CaseState,
    calendar: CalendarHistory | ServiceCalendar,
    policy: SlaPolicyHistory = DEFAULT_HISTORY,
) -> list[dict[str, Any]]:
    """The queue rows of one case state (plain values; the store encodes ids and times).

    ``calendar`` is the calendar history of the case's service and ``policy`` the SLA policy's
    history: each due time is judged by the versions of both in force when its clock started (or
    one calendar for all time)."""
    if state.status is CaseStatus.CLOSED:
        return []

    def at(moment: datetime) -> ServiceCalendar:
        return calendar.in_force(moment) if isinstance(calendar, CalendarHistory) else calendar

    def targets(moment: datetime) -> SlaTargets:
        return policy.in_force(moment).targets

    base = {
        "case_id": state.id,
        "category": state.category.value,
        "risk_level": None if state.risk_level is None else state.risk_level.value,
        "risk_rank": None,
        "assignee": state.assignee,
        "urgency": None,
        "agency_kind": None,
    }
    rows: list[dict[str, Any]] = []

    def add(
        queue: Queue,
        item_id: UUID,
        kind: ItemKind,
        since: datetime,
        due: datetime | None,
        **extra: Any,
    ) -> None:
        rows.append(
            {
                **base,
                "queue": queue.value,
                "item_id": item_id,
                "kind": kind.value,
                "since_at": since,
                "due_at": due,
                **extra,
            }
        )

    for decision in state.pending_reviews():
        add(
            Queue.OUT_OF_HOURS_REVIEWS,
            decision.decision_id,
            ItemKind.OUT_OF_HOURS_DECISION,
            decision.decided_at,
            decision.review_due,
        )
    for escalation in state.unacknowledged_escalations():
        add(
            Queue.UNACKNOWLEDGED_ESCALATIONS,
            escalation.escalation_id,
            ItemKind.ESCALATION,
            escalation.raised_at,
            due(
                targets(escalation.raised_at).escalation_acknowledged[escalation.urgency],
                at(escalation.raised_at),
                escalation.raised_at,
            ),
            urgency=escalation.urgency.value,
        )
    for referral in state.referrals.values():
        agency = {"agency_kind": referral.agency.kind.value}
        if referral.awaiting_acknowledgement:
            add(
                Queue.REFERRALS_AWAITING_ACKNOWLEDGEMENT,
                referral.referral_id,
                ItemKind.REFERRAL,
                referral.made_at,
                due(
                    targets(referral.made_at).referral_acknowledged,
                    at(referral.made_at),
                    referral.made_at,
                ),
                **agency,
            )
        elif referral.status is ReferralStatus.ACKNOWLEDGED:
            since = max(
                t
                for t in (referral.acknowledged_at, referral.last_followed_up_at, referral.made_at)
                if t is not None
            )
            add(
                Queue.REFERRALS_AWAITING_FOLLOW_UP,
                referral.referral_id,
                ItemKind.REFERRAL,
                since,
                due(targets(since).referral_chase, at(since), since),
                **agency,
            )
    for approval in state.pending_approvals():
        add(
            Queue.APPROVALS_AWAITING_DECISION,
            approval.approval_id,
            ItemKind.APPROVAL,
            approval.requested_at,
            due(
                targets(approval.requested_at).approval_decided,
                at(approval.requested_at),
                approval.requested_at,
            ),
        )
    for referral in state.referrals_awaiting_review():
        add(
            Queue.REFERRALS_AWAITING_REVIEW,
            referral.referral_id,
            ItemKind.REFERRAL,
            referral.made_at,
            referral.review_due,
            agency_kind=referral.agency.kind.value,
        )
    for flag in state.flags_awaiting or ():
        add(
            Queue.FLAGS_AWAITING_ACTION,
            flag.flag_id,
            ItemKind.FLAG,
            flag.raised_at,
            due(
                targets(flag.raised_at).first_action_for(flag.risk_level),
                at(flag.raised_at),
                flag.raised_at,
            ),
        )
    last_activity = state.last_action_at or state.opened_at
    if state.risk_level in _RISK_RANK:
        add(
            Queue.HIGH_RISK_OPEN,
            state.id,
            ItemKind.CASE,
            last_activity,
            None,
            risk_rank=_RISK_RANK[state.risk_level],
        )
    add(Queue.NO_RECENT_ACTION, state.id, ItemKind.CASE, last_activity, None)
    return rows
