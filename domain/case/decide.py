"""``decide``: a command and the case's state in, new events out, or a typed refusal.

Pure: the actor, the server clock, the service calendar and the SLA policy come in on the
context; event ids derive from the case id and version (``domain.case.ids``).
One command yields one event; ids of things created inside a case (decision,
referral, escalation) are the id of the event that created them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.calendar import CalendarHistory, ServiceCalendar
from domain.case import commands as c
from domain.case import events as e
from domain.case.approvals import (
    CLOSE_CRITICAL,
    DEFAULT_FOUR_EYES,
    LONG_SANCTION,
    LOWER_CRITICAL,
    FourEyesPolicy,
)
from domain.case.errors import CaseNotFound
from domain.case.ids import event_id_for, version_in
from domain.case.incidents import (
    assess_serious_incident,
    explain_sla_breach,
    report_serious_incident,
)
from domain.case.state import Approval, CaseState
from domain.case.vocabulary import (
    TIMED_ACTIONS,
    ApprovalDecision,
    ApprovalKind,
    ApprovalStatus,
    CaseStatus,
    Consent,
    DecisionStatus,
    EscalationStatus,
    ReferralStatus,
    ReferralUpdateStatus,
    RiskLevel,
)
from domain.errors import (
    InvalidCommand,
    ItemNotFound,
    NotPermitted,
    RuleViolation,
)
from domain.personal import ErasureTrigger
from domain.policy.sla import DEFAULT_TARGETS, SlaTargets, review_deadline
from domain.shared import DecisionContext, Role, resolve_occurred_at

# A closed case accepts only these: it is no longer decided on, only annotated, corrected,
# reopened or erased; and, deliberately, the compliance decisions that look back on it: whether
# it was a serious incident to report (and that it was reported), and why an SLA clock on it was
# breached. Those are often made after the case closed, and neither changes how it was handled.
ALLOWED_WHEN_CLOSED: tuple[type[c.Command], ...] = (
    c.AddNote,
    c.CorrectRecord,
    c.ReopenCase,
    c.RecordErasure,  # erasure reaches closed cases too (retention acts on closed ones)
    c.AssessSeriousIncident,
    c.ReportSeriousIncident,
    c.ExplainSlaBreach,
)

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


class Calendars(Protocol):
    """A service's calendars over time (``domain.calendar.CalendarHistory``, or something that
    finds it only when asked): the version in force at a moment."""

    def in_force(self, at: datetime) -> ServiceCalendar: ...


@dataclass(frozen=True)
class CaseContext:
    """What a case decision needs from outside: who, when, the calendar, a new case's id.

    ``calendar`` is the calendar history of the case's service (a moment is judged by the
    version in force at it: an out-of-hours decision by the one in force at its occurred_at),
    or one calendar for all time."""

    decision: DecisionContext
    calendar: ServiceCalendar | CalendarHistory | Calendars
    case_id: UUID | None = None  # for OpenCase: the id of the case to open
    # Which decisions take effect only on a second safeguarding lead's approval (four-eyes).
    four_eyes: FourEyesPolicy = DEFAULT_FOUR_EYES
    # The SLA policy's targets in force at a moment (looked up only if the decision sets a due
    # time: an out-of-hours decision's or a referral without consent's review deadline). None:
    # the default targets for all time.
    sla: Callable[[datetime], SlaTargets] | None = None


def _targets_at(ctx: CaseContext, at: datetime) -> SlaTargets:
    return DEFAULT_TARGETS if ctx.sla is None else ctx.sla(at)


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
        raise RuleViolation(
            "the case is closed: it accepts only notes, corrections, reopening, serious-incident "
            "decisions and SLA breach explanations"
        )
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
    if isinstance(command, c.DecideApproval):
        return _decide_approval(state, command, ctx, occurred_at)
    handler = _DECIDERS[type(command)]
    fields = handler(state, command, ctx, occurred_at)
    rule = _four_eyes_rule(state, command, ctx.four_eyes)
    if rule is not None:
        # Valid now (the handler's checks passed), but it takes effect only once approved.
        return [_approval_requested(state, command, rule, occurred_at, dc)]
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
        service=cmd.service,
        contact_id=cmd.contact_id if isinstance(cmd, c.OpenCaseFromContact) else None,
        content_ref=cmd.content_ref,
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
    calendar = _calendar_at(ctx, at)
    if not calendar.is_out_of_hours(at):
        local = at.astimezone(calendar.timezone)
        raise RuleViolation(
            f"{local.isoformat()} is within the service's operating hours: "
            "an out-of-hours decision can only be recorded for a moment out of hours",
            errors={"occurred_at": "within operating hours"},
        )
    return {
        **cmd.model_dump(exclude={"occurred_at", "policy_ref"}),
        "policy_ref": cmd.policy_ref,
        "decision_id": _next_event_id(s),
        "review_due": review_deadline(calendar, at, _targets_at(ctx, at).out_of_hours_review),
        **_behind(ctx.decision),
    }


def _calendar_at(ctx: CaseContext, at: datetime) -> ServiceCalendar:
    """The calendar of the case's service in force at ``at`` (a later version never changes the
    judgement of a moment before it took effect)."""
    calendar = ctx.calendar
    return calendar if isinstance(calendar, ServiceCalendar) else calendar.in_force(at)


# What makes two people one, in words, for refusals (domain.shared.stand_apart).
_APART = (
    "neither of you signed in with a credential the other issued, nor holding a role the other "
    "gave alone, nor behind the same person along such a chain"
)


def _behind(dc: DecisionContext) -> dict[str, Any]:
    """The persons behind the actor, recorded where a second person will later be compared."""
    return {"actor_behind": sorted(dc.actor.behind) or None}


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
    if not actor.stands_apart_from(decision.decided_by, decision.decided_by_behind):
        raise RuleViolation(
            "an out-of-hours decision must be reviewed by a safeguarding lead other than "
            f"the person who took it (a second person: {_APART})"
        )
    if decision.status is not DecisionStatus.AWAITING_REVIEW:
        raise RuleViolation(f"the decision has already been reviewed ({decision.status.value})")
    _not_before(at, decision.decided_at, "decision under review")
    return cmd.model_dump(exclude={"occurred_at"})


def _referral(s: CaseState, cmd: c.MakeReferral, ctx: CaseContext, at: datetime) -> Fields:
    # Shared without consent: an emergency action, recorded at once (never held back) and
    # reviewed afterwards by another lead, by the SLA policy's out-of-hours review target in
    # force then (by default the end of the next working day).
    review_due = (
        None
        if cmd.consent is Consent.GIVEN
        else review_deadline(_calendar_at(ctx, at), at, _targets_at(ctx, at).out_of_hours_review)
    )
    return {
        **cmd.model_dump(exclude={"occurred_at", "agency"}),
        "agency": e.Agency(**cmd.agency.model_dump()),
        "referral_id": _next_event_id(s),
        "review_due": review_due,
        **_behind(ctx.decision),
    }


def _referral_review(s: CaseState, cmd: c.ReviewReferral, ctx: CaseContext, at: datetime) -> Fields:
    actor = ctx.decision.actor
    referral = s.referrals.get(str(cmd.referral_id))
    if referral is None:
        raise ItemNotFound(
            "no referral with that id in this case", errors={"referral_id": "not found"}
        )
    if actor.role is not Role.SAFEGUARDING_LEAD:
        raise NotPermitted("only a safeguarding lead may review a referral made without consent")
    if referral.review_status is None:
        raise RuleViolation(
            "only a referral made without consent is reviewed; this one was made with consent"
            if referral.consent is Consent.GIVEN
            else "this referral was recorded before referrals without consent were reviewed"
        )
    if not actor.stands_apart_from(referral.made_by, referral.made_by_behind):
        raise RuleViolation(
            "a referral made without consent must be reviewed by a safeguarding lead other "
            f"than the person who made it (a second person: {_APART})"
        )
    if referral.review_status is not DecisionStatus.AWAITING_REVIEW:
        raise RuleViolation(
            f"the referral has already been reviewed ({referral.review_status.value})"
        )
    _not_before(at, referral.made_at, "referral under review")
    return cmd.model_dump(exclude={"occurred_at"})


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
    _check_closure(s, at)
    return cmd.model_dump(exclude={"occurred_at"})


def _check_closure(s: CaseState, at: datetime, *, approving: UUID | None = None) -> None:
    """What a closure needs: nothing awaiting a review, an acknowledgement or an approval (but
    ``approving``, the sign-off of this very closure), and no earlier than the latest action."""
    blockers = []
    if s.pending_reviews():
        blockers.append(f"{len(s.pending_reviews())} out-of-hours decision(s) await review")
    if s.referrals_awaiting_review():
        blockers.append(
            f"{len(s.referrals_awaiting_review())} referral(s) made without consent await review"
        )
    if s.unacknowledged_escalations():
        blockers.append(f"{len(s.unacknowledged_escalations())} escalation(s) are unacknowledged")
    pending = [a for a in s.pending_approvals() if a.approval_id != approving]
    if any(a.kind is ApprovalKind.CLOSURE for a in pending):
        blockers.append("a closure already awaits a second safeguarding lead's sign-off")
    others = [a for a in pending if a.kind is not ApprovalKind.CLOSURE]
    if others:
        blockers.append(f"{len(others)} decision(s) await a second safeguarding lead's approval")
    if blockers:
        raise RuleViolation("the case cannot be closed while " + " and ".join(blockers))
    if s.reopened_at is not None:
        _not_before(at, s.reopened_at, "reopening")
    if s.last_open_activity_at is not None:
        _not_before(at, s.last_open_activity_at, "latest recorded action on the case")


# --- four-eyes ---------------------------------------------------------------------------------


def _four_eyes_rule(s: CaseState, cmd: c.Command, policy: FourEyesPolicy) -> str | None:
    """The four-eyes rule that holds this decision back until approved, if any."""
    if isinstance(cmd, c.TakeModerationAction):
        if cmd.action in policy.actions:
            return cmd.action.value
        longest = policy.sanction_days * 24
        too_long = cmd.duration_hours is None or cmd.duration_hours > longest
        if policy.long_sanction and cmd.action in TIMED_ACTIONS and too_long:
            return LONG_SANCTION
    critical = s.risk_level is RiskLevel.CRITICAL
    if isinstance(cmd, c.AssessRisk) and policy.lower_critical and critical:
        return LOWER_CRITICAL if cmd.level is not RiskLevel.CRITICAL else None
    # Critical at any point: lowering the risk first must not open a way round the sign-off.
    once = s.ever_critical is not False  # unknown (an older snapshot) counts as critical once
    if isinstance(cmd, c.CloseCase) and policy.close_critical and (critical or once):
        return CLOSE_CRITICAL
    return None


def _approval_requested(
    s: CaseState, cmd: c.Command, rule: str, at: datetime, dc: DecisionContext
) -> e.ApprovalRequested:
    issuer = dc.actor.credential_issued_by
    envelope = {
        **_envelope(s.id, s.version + 1, at, dc),
        "requester_credential_issued_by": None if issuer == dc.actor.username else issuer,
        **_behind(dc),
    }
    approval_id = _next_event_id(s)
    if isinstance(cmd, c.TakeModerationAction):
        return e.ApprovalRequested(
            **envelope,
            approval_id=approval_id,
            kind=ApprovalKind.MODERATION_ACTION,
            rule=rule,
            rationale=cmd.rationale,
            action=cmd.action,
            target_ref=cmd.target_ref,
            policy_ref=cmd.policy_ref,
            duration_hours=cmd.duration_hours,
        )
    if isinstance(cmd, c.AssessRisk):
        return e.ApprovalRequested(
            **envelope,
            approval_id=approval_id,
            kind=ApprovalKind.RISK_ASSESSMENT,
            rule=rule,
            rationale=cmd.rationale,
            level=cmd.level,
        )
    assert isinstance(cmd, c.CloseCase)
    return e.ApprovalRequested(
        **envelope,
        approval_id=approval_id,
        kind=ApprovalKind.CLOSURE,
        rule=rule,
        rationale=cmd.rationale,
        outcome=cmd.outcome,
    )


def _decide_approval(
    s: CaseState, cmd: c.DecideApproval, ctx: CaseContext, at: datetime
) -> list[e.CaseEvent]:
    """Approve (the decision and, in the same write, its effect) or reject a pending decision.

    The effect (ModerationActionTaken or CaseClosed) is recorded by the approver, at the
    approval's occurred_at: that is when it took effect (a ban is in force, a case closed, from
    then, not from the request), and the approver is who made it happen in this write. It names
    the approval and its requester, and carries the proposal's own rationale and policy_ref.
    """
    dc = ctx.decision
    approval = s.approvals.get(str(cmd.approval_id))
    if approval is None:
        raise ItemNotFound(
            "no approval with that id in this case", errors={"approval_id": "not found"}
        )
    if dc.actor.role is not Role.SAFEGUARDING_LEAD:
        raise NotPermitted("only a safeguarding lead may approve or reject a held decision")
    if dc.actor.username == approval.requested_by:
        raise RuleViolation(
            "four-eyes: a held decision must be approved or rejected by a safeguarding lead "
            "other than the person who proposed it"
        )
    # People, not usernames: a lead signed in with a token the requester issued (or that the
    # requester's own issuer issued), or holding a role the requester gave alone, could be the
    # requester under another name.
    if not dc.actor.stands_apart_from(approval.requested_by, approval.requester_behind):
        raise RuleViolation(f"four-eyes: the approver must be a second person: {_APART}")
    if approval.status is not ApprovalStatus.PENDING:
        raise RuleViolation(f"the approval has already been decided ({approval.status.value})")
    _not_before(at, approval.requested_at, "request for approval")
    decided = e.ApprovalDecided(
        **_envelope(s.id, s.version + 1, at, dc), **cmd.model_dump(exclude={"occurred_at"})
    )
    if cmd.decision is ApprovalDecision.REJECTED:
        return [decided]
    effect_type, fields = _effect(s, approval, at)
    effect = effect_type(
        **_envelope(s.id, s.version + 2, at, dc),
        **fields,
        approval_id=approval.approval_id,
        requested_by=approval.requested_by,
    )
    return [decided, effect]


def _effect(s: CaseState, approval: Approval, at: datetime) -> tuple[type[e.CaseEvent], Fields]:
    """The approved decision's event and fields, if the case still allows it (else 409)."""
    if approval.rationale is None:
        raise RuleViolation("the proposal's content is not available; ask for it again")
    if approval.kind is ApprovalKind.CLOSURE:
        _check_closure(s, at, approving=approval.approval_id)
        return e.CaseClosed, {"outcome": approval.outcome, "rationale": approval.rationale}
    if approval.kind is ApprovalKind.RISK_ASSESSMENT:
        _check_still_critical(s, approval)
        return e.RiskAssessed, {"level": approval.level, "rationale": approval.rationale}
    return e.ModerationActionTaken, {
        "action": approval.action,
        "target_ref": approval.target_ref,
        "rationale": approval.rationale,
        "policy_ref": approval.policy_ref,
        "duration_hours": approval.duration_hours,
    }


def _check_still_critical(s: CaseState, approval: Approval) -> None:
    """Lowering a critical risk is approved against the assessment it was asked over: not if
    the risk is no longer critical, nor if the risk was assessed again since the request."""
    asked_at = version_in(s.id, approval.approval_id)
    assessed = s.risk_assessed_version
    if s.risk_level is not RiskLevel.CRITICAL or assessed is None or asked_at is None:
        stale = True
    else:
        stale = assessed > asked_at
    if stale:
        raise RuleViolation(
            "the risk was assessed again since this lowering was asked for (or is no longer "
            "critical): reject this request, and assess the risk afresh if it should be lower"
        )


def _reopen(s: CaseState, cmd: c.ReopenCase, ctx: CaseContext, at: datetime) -> Fields:
    if s.closed_at is None:
        raise RuleViolation("the case is not closed")
    _not_before(at, s.closed_at, "closure")
    return cmd.model_dump(exclude={"occurred_at"})


def _erasure(s: CaseState, cmd: c.RecordErasure, ctx: CaseContext, at: datetime) -> Fields:
    lead = ctx.decision.actor.role is Role.SAFEGUARDING_LEAD
    if cmd.trigger is ErasureTrigger.REQUEST and not lead:
        raise NotPermitted("only a safeguarding lead may erase a subject's personal data")
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
    c.ReviewReferral: _referral_review,
    c.UpdateReferral: _referral_update,
    c.EscalateCase: _escalate,
    c.AcknowledgeEscalation: _acknowledge,
    c.ResolveEscalation: _resolve,
    c.AddNote: _same,
    c.CorrectRecord: _correct,
    c.CloseCase: _close,
    c.ReopenCase: _reopen,
    c.RecordErasure: _erasure,
    c.LinkContact: _same,
    c.AssessSeriousIncident: assess_serious_incident,
    c.ReportSeriousIncident: report_serious_incident,
    c.ExplainSlaBreach: explain_sla_breach,
}

_EVENT_FOR: dict[type[c.Command], type[e.CaseEvent]] = {
    c.RaiseFlag: e.FlagRaised,
    c.AssessRisk: e.RiskAssessed,
    c.AssignCase: e.CaseAssigned,
    c.TakeModerationAction: e.ModerationActionTaken,
    c.RecordOutOfHoursDecision: e.OutOfHoursDecisionRecorded,
    c.ReviewOutOfHoursDecision: e.OutOfHoursDecisionReviewed,
    c.MakeReferral: e.ReferralMade,
    c.ReviewReferral: e.ReferralReviewed,
    c.UpdateReferral: e.ReferralUpdated,
    c.EscalateCase: e.CaseEscalated,
    c.AcknowledgeEscalation: e.EscalationAcknowledged,
    c.ResolveEscalation: e.EscalationResolved,
    c.AddNote: e.NoteAdded,
    c.CorrectRecord: e.RecordCorrected,
    c.CloseCase: e.CaseClosed,
    c.ReopenCase: e.CaseReopened,
    c.RecordErasure: e.PersonalDataErased,
    c.LinkContact: e.ContactJoined,
    c.AssessSeriousIncident: e.SeriousIncidentAssessed,
    c.ReportSeriousIncident: e.SeriousIncidentReported,
    c.ExplainSlaBreach: e.SlaBreachExplained,
}
