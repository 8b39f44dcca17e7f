"""``decide``: a command and the case's state in, new events out, or a typed refusal.

Pure: the actor, the server clock and the service calendar come in on the
context; event ids derive from the case id and version (``domain.case.ids``).
One command yields one event; ids of things created inside a case (decision,
referral, escalation) are the id of the event that created them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.calendar import ServiceCalendar
from domain.case import commands as c
from domain.case import events as e
from domain.case.ids import event_id_for, version_in
from domain.case.state import CaseState
from domain.case.vocabulary import (
    CaseStatus,
    DecisionStatus,
    EscalationStatus,
    ReferralStatus,
    ReferralUpdateStatus,
)
from domain.errors import (
    CaseNotFound,
    InvalidCommand,
    ItemNotFound,
    NotPermitted,
    RuleViolation,
)
from domain.shared import DecisionContext, Role, resolve_occurred_at

# A closed case accepts only these (DOMAIN.md invariants).
ALLOWED_WHEN_CLOSED: tuple[type[c.Command], ...] = (c.AddNote, c.CorrectRecord, c.ReopenCase)

# Which referral updates each referral status allows. "followed_up" (a chase) leaves the status.
REFERRAL_TRANSITIONS: dict[ReferralStatus, set[ReferralUpdateStatus]] = {
    ReferralStatus.AWAITING_ACKNOWLEDGEMENT: {
        ReferralUpdateStatus.ACKNOWLEDGED,
        ReferralUpdateStatus.OUTCOME_RECEIVED,
        ReferralUpdateStatus.FOLLOWED_UP,
        ReferralUpdateStatus.CLOSED,
    },
    ReferralStatus.ACKNOWLEDGED: {
        ReferralUpdateStatus.OUTCOME_RECEIVED,
        ReferralUpdateStatus.FOLLOWED_UP,
        ReferralUpdateStatus.CLOSED,
    },
    ReferralStatus.OUTCOME_RECEIVED: {
        ReferralUpdateStatus.FOLLOWED_UP,
        ReferralUpdateStatus.CLOSED,
    },
    ReferralStatus.CLOSED: set(),
}


@dataclass(frozen=True)
class CaseContext:
    """What a case decision needs from outside: who, when, the calendar, a new case's id."""

    decision: DecisionContext
    calendar: ServiceCalendar
    case_id: UUID | None = None  # for OpenCase: the id of the case to open


def decide(state: CaseState | None, command: c.CaseCommand, ctx: CaseContext) -> list[e.CaseEvent]:
    """Decide what ``command`` means for the case: the events to append, or a DomainError."""
    dc = ctx.decision
    occurred_at = resolve_occurred_at(command.occurred_at, dc)
    if isinstance(command, c.OpenCase):
        if state is not None:
            raise RuleViolation(f"case {state.id} already exists")
        if ctx.case_id is None:
            raise InvalidCommand("no id given for the new case")
        return [_open(command, ctx.case_id, occurred_at, dc)]
    if state is None:
        raise CaseNotFound("no such case")
    if occurred_at < state.opened_at:
        raise InvalidCommand(
            "occurred_at is before the case was opened",
            errors={
                "occurred_at": f"earlier than the case's opening ({state.opened_at.isoformat()})"
            },
        )
    if state.status is CaseStatus.CLOSED and not isinstance(command, ALLOWED_WHEN_CLOSED):
        raise RuleViolation("the case is closed: it accepts only notes, corrections and reopening")
    if not isinstance(command, ALLOWED_WHEN_CLOSED):
        for period in state.closed_periods:
            if period.contains(occurred_at):
                raise InvalidCommand(
                    "occurred_at falls in a period when the case was closed",
                    errors={
                        "occurred_at": f"the case was closed from {period.closed_at.isoformat()} "
                        f"until {period.reopened_at.isoformat()}"
                    },
                )
    handler = _DECIDERS[type(command)]
    fields = handler(state, command, ctx, occurred_at)
    event_type = _EVENT_FOR[type(command)]
    return [event_type(**_envelope(state.id, state.version + 1, occurred_at, dc), **fields)]


def _next_event_id(s: CaseState) -> UUID:
    """Things created inside a case take the id of the event that created them."""
    return event_id_for(s.id, s.version + 1)


def _envelope(
    case_id: UUID, version: int, occurred_at: datetime, dc: DecisionContext
) -> dict[str, Any]:
    return {
        "originator_id": case_id,
        "originator_version": version,
        "event_id": event_id_for(case_id, version),
        "occurred_at": occurred_at,
        "recorded_at": dc.now,
        "actor": dc.actor.username,
        "actor_role": dc.actor.role,
        "idempotency_key": dc.idempotency_key,
        "request_hash": dc.request_hash,
    }


def _open(
    cmd: c.OpenCase, case_id: UUID, occurred_at: datetime, dc: DecisionContext
) -> e.CaseOpened:
    return e.CaseOpened(
        **_envelope(case_id, 1, occurred_at, dc),
        subject=e.Subject(**cmd.subject.model_dump()),
        source=cmd.source,
        category=cmd.category,
        summary=cmd.summary,
        risk_level=cmd.risk_level,
        channel=cmd.channel,
    )


def _not_before(occurred_at: datetime, earlier: datetime, what: str) -> None:
    if occurred_at < earlier:
        raise InvalidCommand(
            f"occurred_at is before the {what}",
            errors={"occurred_at": f"earlier than the {what} ({earlier.isoformat()})"},
        )


Fields = dict[str, Any]


def _same(s: CaseState, cmd: c.Command, ctx: CaseContext, at: datetime) -> Fields:
    return cmd.model_dump(exclude={"occurred_at"})


def _moderation(
    s: CaseState, cmd: c.TakeModerationAction, ctx: CaseContext, at: datetime
) -> Fields:
    return {**cmd.model_dump(exclude={"occurred_at", "policy_ref"}), "policy_ref": cmd.policy_ref}


def _ooh_decision(
    s: CaseState, cmd: c.RecordOutOfHoursDecision, ctx: CaseContext, at: datetime
) -> Fields:
    if not ctx.calendar.is_out_of_hours(at):
        local = at.astimezone(ctx.calendar.timezone)
        raise RuleViolation(
            f"{local.isoformat()} is within the service's operating hours: "
            "an out-of-hours decision can only be recorded for a moment out of hours",
            errors={"occurred_at": "within operating hours"},
        )
    return {
        **cmd.model_dump(exclude={"occurred_at", "policy_ref"}),
        "policy_ref": cmd.policy_ref,
        "decision_id": _next_event_id(s),
        "review_due": ctx.calendar.end_of_next_working_day(at).astimezone(UTC),
    }


def _ooh_review(
    s: CaseState, cmd: c.ReviewOutOfHoursDecision, ctx: CaseContext, at: datetime
) -> Fields:
    actor = ctx.decision.actor
    decision = s.decisions.get(str(cmd.decision_id))
    if decision is None:
        raise ItemNotFound(
            "no out-of-hours decision with that id in this case",
            errors={"decision_id": "not found"},
        )
    if actor.role is not Role.SAFEGUARDING_LEAD:
        raise NotPermitted("only a safeguarding lead may review an out-of-hours decision")
    if actor.username == decision.decided_by:
        raise RuleViolation(
            "an out-of-hours decision must be reviewed by a safeguarding lead other than "
            "the person who took it"
        )
    if decision.status is not DecisionStatus.AWAITING_REVIEW:
        raise RuleViolation(f"the decision has already been reviewed ({decision.status.value})")
    _not_before(at, decision.decided_at, "decision under review")
    return cmd.model_dump(exclude={"occurred_at"})


def _referral(s: CaseState, cmd: c.MakeReferral, ctx: CaseContext, at: datetime) -> Fields:
    return {
        **cmd.model_dump(exclude={"occurred_at", "agency"}),
        "agency": e.Agency(**cmd.agency.model_dump()),
        "referral_id": _next_event_id(s),
    }


def _referral_update(s: CaseState, cmd: c.UpdateReferral, ctx: CaseContext, at: datetime) -> Fields:
    referral = s.referrals.get(str(cmd.referral_id))
    if referral is None:
        raise ItemNotFound(
            "no referral with that id in this case", errors={"referral_id": "not found"}
        )
    if cmd.status not in REFERRAL_TRANSITIONS[referral.status]:
        raise RuleViolation(
            f"a referral that is {referral.status.value} cannot be marked {cmd.status.value}"
        )
    _not_before(at, referral.made_at, "referral")
    return cmd.model_dump(exclude={"occurred_at"})


def _escalate(s: CaseState, cmd: c.EscalateCase, ctx: CaseContext, at: datetime) -> Fields:
    return {**cmd.model_dump(exclude={"occurred_at"}), "escalation_id": _next_event_id(s)}


def _escalation(s: CaseState, escalation_id: UUID) -> Any:
    escalation = s.escalations.get(str(escalation_id))
    if escalation is None:
        raise ItemNotFound(
            "no escalation with that id in this case", errors={"escalation_id": "not found"}
        )
    return escalation


def _acknowledge(
    s: CaseState, cmd: c.AcknowledgeEscalation, ctx: CaseContext, at: datetime
) -> Fields:
    escalation = _escalation(s, cmd.escalation_id)
    if escalation.status is not EscalationStatus.RAISED:
        raise RuleViolation(f"the escalation is already {escalation.status.value}")
    _not_before(at, escalation.raised_at, "escalation")
    return cmd.model_dump(exclude={"occurred_at"})


def _resolve(s: CaseState, cmd: c.ResolveEscalation, ctx: CaseContext, at: datetime) -> Fields:
    escalation = _escalation(s, cmd.escalation_id)
    if escalation.status is EscalationStatus.RAISED:
        raise RuleViolation("the escalation must be acknowledged before it is resolved")
    if escalation.status is EscalationStatus.RESOLVED:
        raise RuleViolation("the escalation is already resolved")
    _not_before(at, escalation.acknowledged_at or escalation.raised_at, "acknowledgement")
    return cmd.model_dump(exclude={"occurred_at"})


def _correct(s: CaseState, cmd: c.CorrectRecord, ctx: CaseContext, at: datetime) -> Fields:
    version = version_in(s.id, cmd.corrects_event_id)
    if version is None or version > s.version:
        raise ItemNotFound(
            "a correction must name an event of the same case",
            errors={"corrects_event_id": "no such event in this case"},
        )
    return cmd.model_dump(exclude={"occurred_at"})


def _close(s: CaseState, cmd: c.CloseCase, ctx: CaseContext, at: datetime) -> Fields:
    blockers = []
    if s.pending_reviews():
        blockers.append(f"{len(s.pending_reviews())} out-of-hours decision(s) await review")
    if s.unacknowledged_escalations():
        blockers.append(f"{len(s.unacknowledged_escalations())} escalation(s) are unacknowledged")
    if blockers:
        raise RuleViolation("the case cannot be closed while " + " and ".join(blockers))
    if s.reopened_at is not None:
        _not_before(at, s.reopened_at, "reopening")
    if s.last_open_activity_at is not None:
        _not_before(at, s.last_open_activity_at, "latest recorded action on the case")
    return cmd.model_dump(exclude={"occurred_at"})


def _reopen(s: CaseState, cmd: c.ReopenCase, ctx: CaseContext, at: datetime) -> Fields:
    if s.closed_at is None:
        raise RuleViolation("the case is not closed")
    _not_before(at, s.closed_at, "closure")
    return cmd.model_dump(exclude={"occurred_at"})


Decider = Callable[[CaseState, Any, CaseContext, datetime], Fields]

_DECIDERS: dict[type[c.Command], Decider] = {
    c.RaiseFlag: _same,
    c.AssessRisk: _same,
    c.AssignCase: _same,
    c.TakeModerationAction: _moderation,
    c.RecordOutOfHoursDecision: _ooh_decision,
    c.ReviewOutOfHoursDecision: _ooh_review,
    c.MakeReferral: _referral,
    c.UpdateReferral: _referral_update,
    c.EscalateCase: _escalate,
    c.AcknowledgeEscalation: _acknowledge,
    c.ResolveEscalation: _resolve,
    c.AddNote: _same,
    c.CorrectRecord: _correct,
    c.CloseCase: _close,
    c.ReopenCase: _reopen,
}

_EVENT_FOR: dict[type[c.Command], type[e.CaseEvent]] = {
    c.RaiseFlag: e.FlagRaised,
    c.AssessRisk: e.RiskAssessed,
    c.AssignCase: e.CaseAssigned,
    c.TakeModerationAction: e.ModerationActionTaken,
    c.RecordOutOfHoursDecision: e.OutOfHoursDecisionRecorded,
    c.ReviewOutOfHoursDecision: e.OutOfHoursDecisionReviewed,
    c.MakeReferral: e.ReferralMade,
    c.UpdateReferral: e.ReferralUpdated,
    c.EscalateCase: e.CaseEscalated,
    c.AcknowledgeEscalation: e.EscalationAcknowledged,
    c.ResolveEscalation: e.EscalationResolved,
    c.AddNote: e.NoteAdded,
    c.CorrectRecord: e.RecordCorrected,
    c.CloseCase: e.CaseClosed,
    c.ReopenCase: e.CaseReopened,
}
