"""The Shift aggregate's decisions: plan, reassign, cancel, check in and out, hand over.

Pure: the actor, the clock, the new shift's id, the attendance policy and the one fact about
other shifts a check-in needs (does this person have an open check-in elsewhere?) come in on
the context. The rules, each with its own error (``domain.shift.errors``):

* A shift ends after it starts, lasts at most ``max_length``, and starts now or later; cover
  already happening may be planned with a start up to ``max_cover_lookback`` ago, still
  running, with a reason.
* What has started (its start has passed, or someone checked in early) is never re-timed,
  re-assigned or cancelled: only attendance is recorded against it.
* A check-in is by an assignee of the shift for the part that is theirs, at most
  ``early_check_in`` before it and before its end; once per person per shift (a second one,
  even after checking out, is refused: the log keeps one window per person); never into a
  cancelled shift, never while checked in elsewhere.
* A check-out is by the person checked in, after their check-in. A coordinator or a
  safeguarding lead (coordinators manage check-in times for their moderators and hosts) may
  record someone's forgotten check-out, naming them, with a reason, without a handover.
* A handover is by someone checked in (or with their check-out), to anyone but themselves;
  acknowledged once, by the person it is to (by anyone but its giver, when it names nobody).
* ``occurred_at`` is never in the future beyond the clock skew.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.case.ids import event_id_for
from domain.errors import InvalidCommand
from domain.shared import DecisionContext, Role, resolve_occurred_at
from domain.shift import commands as c
from domain.shift import errors as x
from domain.shift.events import (
    CheckedIn,
    CheckedOut,
    HandoverAcknowledged,
    HandoverRecorded,
    ShiftCancelled,
    ShiftEvent,
    ShiftPlanned,
    ShiftReassigned,
)
from domain.shift.state import ShiftState, evolve

LEAD_ROLES = frozenset({Role.COORDINATOR, Role.SAFEGUARDING_LEAD})


@dataclass(frozen=True)
class ShiftPolicy:
    """The settings the rules read (defaults: the issue's)."""

    early_check_in: timedelta = timedelta(minutes=30)
    max_length: timedelta = timedelta(hours=24)
    max_cover_lookback: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class ShiftContext:
    decision: DecisionContext
    shift_id: UUID | None = None  # for PlanShift: the new shift's id
    policy: ShiftPolicy = field(default_factory=ShiftPolicy)
    # For CheckIn: the shift where the actor has an open check-in now, if any (from a view).
    open_check_in_elsewhere: UUID | None = None


def decide(
    state: ShiftState | None, command: c.ShiftCommand, ctx: ShiftContext
) -> list[ShiftEvent]:
    """The events ``command`` makes of the shift, or a DomainError."""
    dc = ctx.decision
    occurred_at = resolve_occurred_at(command.occurred_at, dc)
    if isinstance(command, c.PlanShift):
        if state is not None:
            raise x.ShiftAlreadyPlanned(f"shift {state.id} is already planned")
        if ctx.shift_id is None:
            raise InvalidCommand("no id given for the new shift")
        return [plan(ctx.shift_id, command, ctx)]
    if state is None:
        raise x.ShiftNotFound("no such shift")
    if state.cancelled:
        raise x.ShiftIsCancelled("the shift was cancelled: nothing more is recorded against it")
    if isinstance(command, c.ReassignShift):
        return [_reassign(state, command, ctx)]
    if isinstance(command, c.CancelShift):
        _not_started(state, dc.now, "cancelled")
        return [ShiftCancelled(**_envelope(state, dc.now, dc), reason=command.reason)]
    if isinstance(command, c.CheckIn):
        return [_check_in(state, occurred_at, ctx)]
    if isinstance(command, c.CheckOut):
        return _check_out(state, command, occurred_at, dc)
    if isinstance(command, c.RecordHandover):
        return [_handover(state, command, occurred_at, dc)]
    if isinstance(command, c.AcknowledgeHandover):
        return [_acknowledge(state, command, occurred_at, dc)]
    raise TypeError(f"not a shift command: {type(command).__name__}")  # pragma: no cover


def plan(shift_id: UUID, command: c.PlanShift, ctx: ShiftContext) -> ShiftPlanned:
    """A new shift's plan, checked (also used for each shift of a weekly pattern)."""
    dc, policy = ctx.decision, ctx.policy
    # In UTC: the same zone's datetimes subtract by wall clock, wrong across a clock change.
    starts_at, ends_at = command.starts_at.astimezone(UTC), command.ends_at.astimezone(UTC)
    if ends_at <= starts_at:
        raise x.ShiftEndsBeforeStart(
            "a shift ends after it starts", errors={"ends_at": "not after starts_at"}
        )
    if ends_at - starts_at > policy.max_length:
        raise x.ShiftTooLong(
            f"a shift lasts at most {_hours(policy.max_length)}",
            errors={"ends_at": f"more than {_hours(policy.max_length)} after starts_at"},
        )
    if starts_at < dc.now:
        if dc.now - starts_at > policy.max_cover_lookback or ends_at <= dc.now:
            raise x.ShiftStartInPast(
                "a shift starts now or later; cover already happening may be planned with a "
                f"start at most {_hours(policy.max_cover_lookback)} ago, while it runs",
                errors={"starts_at": f"earlier than now ({dc.now.isoformat()})"},
            )
        if command.reason is None:
            raise x.ShiftStartInPast(
                "a shift planned after its start records cover: say why",
                errors={"reason": "required when starts_at has passed"},
            )
    return ShiftPlanned(
        **_envelope_new(shift_id, dc),
        service=command.service,
        role=command.role,
        assignee=command.assignee,
        starts_at=starts_at,
        ends_at=ends_at,
        pattern_id=command.pattern_id,
        reason=command.reason,
    )


def decide_and_fold(
    state: ShiftState | None, command: c.ShiftCommand, ctx: ShiftContext
) -> tuple[list[ShiftEvent], ShiftState]:
    """``decide``, and the state after its events (what a 201 answers with)."""
    events = decide(state, command, ctx)
    for event in events:
        state = evolve(state, event)
    assert state is not None
    return events, state


def _not_started(state: ShiftState, now: datetime, what: str) -> None:
    if state.has_started(now):
        raise x.ShiftAlreadyStarted(
            f"the shift has started: it is never {what}; only attendance is recorded against it"
        )


def _reassign(state: ShiftState, cmd: c.ReassignShift, ctx: ShiftContext) -> ShiftReassigned:
    dc = ctx.decision
    _not_started(state, dc.now, "re-assigned")
    partial = cmd.from_at is not None or cmd.until is not None
    from_at = cmd.from_at or state.starts_at
    until = cmd.until or state.ends_at
    if partial and not (state.starts_at <= from_at < until <= state.ends_at):
        raise x.CoverWindowInvalid(
            "cover runs from from_at to until, both within the shift "
            f"({state.starts_at.isoformat()} to {state.ends_at.isoformat()})",
            errors={"from_at": "outside the shift or not before until"},
        )
    whole = from_at == state.starts_at and until == state.ends_at
    segments = state.segments()
    if all(
        s.assignee == cmd.assignee for s in segments if s.starts_at < until and s.ends_at > from_at
    ):
        raise x.AlreadyAssigned(f"{cmd.assignee} already has that part of the shift")
    return ShiftReassigned(
        **_envelope(state, dc.now, dc),
        assignee=cmd.assignee,
        reason=cmd.reason,
        from_at=None if whole else from_at,
        until=None if whole else until,
    )


def _check_in(state: ShiftState, at: datetime, ctx: ShiftContext) -> CheckedIn:
    dc, margin = ctx.decision, ctx.policy.early_check_in
    person = dc.actor.username
    if person in state.attendance:
        raise x.AlreadyCheckedIn(f"{person} has already checked in to this shift")
    if ctx.open_check_in_elsewhere is not None and ctx.open_check_in_elsewhere != state.id:
        raise x.CheckedInElsewhere(
            f"{person} is checked in to shift {ctx.open_check_in_elsewhere}: check out first"
        )
    theirs = [s for s in state.segments() if s.assignee == person]
    if not theirs:
        raise x.NotTheAssignee(f"the shift is not {person}'s: only its assignee checks in")
    if not any(s.starts_at - margin <= at < s.ends_at for s in theirs):
        first = theirs[0]
        raise x.CheckInOutsideShift(
            f"a check-in falls within {person}'s part of the shift "
            f"({first.starts_at.isoformat()} to {theirs[-1].ends_at.isoformat()}), "
            f"at most {_minutes(margin)} early",
            errors={"occurred_at": "outside the shift"},
        )
    return CheckedIn(**_envelope(state, at, dc))


def _check_out(
    state: ShiftState, cmd: c.CheckOut, at: datetime, dc: DecisionContext
) -> list[ShiftEvent]:
    actor = dc.actor.username
    on_behalf = cmd.on_behalf_of is not None and cmd.on_behalf_of != actor
    person = cmd.on_behalf_of if on_behalf and cmd.on_behalf_of else actor
    if on_behalf:
        if not dc.actor.roles & LEAD_ROLES:
            raise x.NotALead(
                "only a coordinator or a safeguarding lead records someone else's check-out"
            )
        if cmd.reason is None:
            raise InvalidCommand(
                "a check-out recorded for someone else says why",
                errors={"reason": "required with on_behalf_of"},
            )
        if cmd.handover is not None:
            raise InvalidCommand(
                "a handover is given by the person handing over, not recorded for them",
                errors={"handover": "not with on_behalf_of"},
            )
    attendance = state.attendance.get(person)
    if attendance is None:
        raise x.NotCheckedIn(f"{person} has not checked in to this shift")
    if not attendance.open:
        raise x.AlreadyCheckedOut(f"{person} has already checked out of this shift")
    if at <= attendance.checked_in_at:
        raise x.CheckOutBeforeCheckIn(
            "a check-out comes after the check-in",
            errors={"occurred_at": f"not after the check-in ({attendance.checked_in_at})"},
        )
    events: list[ShiftEvent] = []
    if cmd.handover is not None:
        handover = c.RecordHandover(
            note=cmd.handover.note, case_ids=cmd.handover.case_ids, to=cmd.handover.to
        )
        events.append(_handover(state, handover, at, dc))
        state = evolve(state, events[0])
    events.append(
        CheckedOut(
            **_envelope(state, at, dc),
            on_behalf_of=person if on_behalf else None,
            reason=cmd.reason if on_behalf else None,
        )
    )
    return events


def _handover(
    state: ShiftState, cmd: c.RecordHandover, at: datetime, dc: DecisionContext
) -> HandoverRecorded:
    person = dc.actor.username
    attendance = state.attendance.get(person)
    if attendance is None or not attendance.open:
        raise x.NotCheckedIn(f"{person} hands over while checked in to the shift (or on leaving)")
    if at < attendance.checked_in_at:
        raise InvalidCommand(
            "a handover comes after the check-in",
            errors={"occurred_at": f"before the check-in ({attendance.checked_in_at})"},
        )
    if cmd.to == person:
        raise InvalidCommand("a handover is to someone else", errors={"to": "yourself"})
    envelope = _envelope(state, at, dc)
    return HandoverRecorded(
        **envelope,
        handover_id=envelope["event_id"],
        note=cmd.note,
        case_ids=list(dict.fromkeys(cmd.case_ids)),
        to=cmd.to,
    )


def _acknowledge(
    state: ShiftState, cmd: c.AcknowledgeHandover, at: datetime, dc: DecisionContext
) -> HandoverAcknowledged:
    person = dc.actor.username
    handover = state.handovers.get(cmd.handover_id)
    if handover is None:
        raise x.HandoverNotFound(
            "no such handover in this shift", errors={"handover_id": str(cmd.handover_id)}
        )
    if handover.to is not None and handover.to != person:
        raise x.NotTheRecipient(f"the handover is to {handover.to}: only they acknowledge it")
    if handover.to is None and handover.by == person:
        raise x.NotTheRecipient("a handover is acknowledged by the person taking it on")
    if handover.acknowledged_at is not None:
        raise x.HandoverAlreadyAcknowledged(
            f"acknowledged by {handover.acknowledged_by} at {handover.acknowledged_at}"
        )
    if at < handover.given_at:
        raise InvalidCommand(
            "an acknowledgement comes after the handover",
            errors={"occurred_at": f"before the handover ({handover.given_at})"},
        )
    return HandoverAcknowledged(**_envelope(state, at, dc), handover_id=cmd.handover_id)


def _envelope_new(shift_id: UUID, dc: DecisionContext) -> dict[str, Any]:
    return _fields(shift_id, 1, dc.now, dc)


def _envelope(state: ShiftState, occurred_at: datetime, dc: DecisionContext) -> dict[str, Any]:
    return _fields(state.id, state.version + 1, occurred_at, dc)


def _fields(
    shift_id: UUID, version: int, occurred_at: datetime, dc: DecisionContext
) -> dict[str, Any]:
    return {
        "originator_id": shift_id,
        "originator_version": version,
        "event_id": event_id_for(shift_id, version),
        "occurred_at": occurred_at,
        "recorded_at": dc.now,
        "actor": dc.actor.username,
        "actor_role": dc.actor.role,
    }


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:g} hours"


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g} minutes"
