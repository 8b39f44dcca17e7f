"""Shifts, the write side: the rota (plan a shift, plan a weekly pattern, reassign, cancel) and
attendance against it (check in, hand over, check out, acknowledge a handover, a lead's
record of a forgotten check-out). The reads of shifts (the rota, a shift, its log, who is on
call) are another router's.

Every write answers 201 ``{"shift": {...}, "events": [...], "position": N}`` (``POST /rota``:
``{"shifts": [...], ...}``) with the ``Vigil-Position`` header, and accepts an
Idempotency-Key; attendance writes take ``occurred_at`` (a late log: when it happened, never in
the future). Every refusal is a problem and writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Union
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from application.shifts import RotaWrite, ShiftWrite
from domain.access.permissions import Permission
from domain.personal import erased_paths
from domain.service.commands import DEFAULT_SERVICE, ServiceName
from domain.shared import Actor, Moment, Reason, Role, Username
from domain.shift import commands as c
from domain.shift.events import EVENT_TYPES, ShiftEvent
from domain.shift.rota import PlanRota
from domain.shift.state import ShiftState
from domain.shift.vocabulary import ShiftRole
from interfaces.http.dependencies import POSITION_HEADER, Keyed, VigilDep, keyed_answer, require
from interfaces.http.middleware import note_for_log
from interfaces.http.problems import error_responses
from interfaces.http.schemas import Read, event_read_model

TAG = {
    "name": "shifts",
    "description": "The rota (shifts planned one by one or from a weekly pattern in the "
    "service's time zone, reassigned, cancelled) and attendance against it: check-in and "
    "check-out by the assignee, handovers and their acknowledgement.",
}

router = APIRouter(prefix="/api/v1", tags=["shifts"])

# --- what the writes answer ------------------------------------------------------------------


class SegmentRead(Read):
    """A part of the shift and whose it is (a partial cover splits a shift into parts)."""

    assignee: str
    starts_at: datetime
    ends_at: datetime


class AttendanceRead(Read):
    """One person's check-in and check-out, on both clocks (occurred, and recorded)."""

    person: str
    checked_in_at: datetime = Field(description="When they checked in (occurred_at).")
    checked_in_recorded_at: datetime
    checked_out_at: datetime | None = Field(description="When they checked out (occurred_at).")
    checked_out_recorded_at: datetime | None
    checked_out_by: str | None = Field(
        description="The lead who recorded a forgotten check-out on their behalf, if so."
    )


class HandoverRead(Read):
    """A handover (its note is in its HandoverRecorded event: personal, sealed)."""

    handover_id: UUID
    by: str
    to: str | None = Field(description="Who it is to; null: whoever comes next.")
    case_ids: list[UUID]
    given_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class ShiftRead(Read):
    """A shift as it stands: the plan (whose each part is), the attendance, the handovers."""

    id: UUID
    version: int = Field(description="Number of events of the shift.")
    service: str
    role: ShiftRole
    assignee: str = Field(description="The shift's own assignee (a swap changes it).")
    starts_at: datetime
    ends_at: datetime
    pattern_id: UUID | None = Field(description="The weekly pattern that planned it, if any.")
    cancelled: bool
    segments: list[SegmentRead] = Field(description="Whose each part of the shift is, in order.")
    attendance: list[AttendanceRead]
    handovers: list[HandoverRead]


def shift_read(state: ShiftState) -> ShiftRead:
    return ShiftRead(
        id=state.id,
        version=state.version,
        service=state.service,
        role=state.role,
        assignee=state.assignee,
        starts_at=state.starts_at,
        ends_at=state.ends_at,
        pattern_id=state.pattern_id,
        cancelled=state.cancelled,
        segments=[SegmentRead.model_validate(s) for s in state.segments()],
        attendance=[
            AttendanceRead.model_validate(a)
            for a in sorted(state.attendance.values(), key=lambda a: a.checked_in_recorded_at)
        ],
        handovers=[
            HandoverRead(
                handover_id=h.handover_id,
                by=h.by,
                to=h.to,
                case_ids=list(h.case_ids),
                given_at=h.given_at,
                acknowledged_at=h.acknowledged_at,
                acknowledged_by=h.acknowledged_by,
            )
            for h in sorted(state.handovers.values(), key=lambda h: h.given_at)
        ],
    )


_STORAGE_ONLY = {"originator_id", "originator_version"}


class ShiftEventReadBase(Read):
    """Every shift event: who, when (both clocks), which shift and version, its own fields."""

    event_id: UUID
    type: str = Field(description="The event's kind, e.g. CheckedIn.")
    shift_id: UUID
    version: int = Field(description="The shift version this event made.")
    occurred_at: datetime = Field(description="When it happened (client-supplied, default now).")
    recorded_at: datetime = Field(description="When Vigil wrote it (server clock).")
    actor: str = Field(description="The authenticated user who recorded it.")
    actor_role: Role
    erased_fields: list[str] = Field(
        default=[],
        description='Personal fields erased (crypto-shredded): each reads "[erased]".',
    )


SHIFT_EVENT_READ_MODELS: dict[str, type[ShiftEventReadBase]] = {
    name: event_read_model(cls, ShiftEventReadBase, _STORAGE_ONLY)
    for name, cls in EVENT_TYPES.items()
}

if TYPE_CHECKING:
    ShiftEventRead = ShiftEventReadBase
else:
    ShiftEventRead = Annotated[
        Union[tuple(SHIFT_EVENT_READ_MODELS.values())],  # noqa: UP007 - built at runtime
        Field(discriminator="type"),
    ]


def shift_event_read(event: ShiftEvent) -> ShiftEventReadBase:
    name = type(event).__name__
    return SHIFT_EVENT_READ_MODELS[name].model_validate(
        {
            **event.model_dump(exclude=_STORAGE_ONLY),
            "type": name,
            "shift_id": event.originator_id,
            "version": event.originator_version,
            "erased_fields": erased_paths(event),
        }
    )


class ShiftWriteAnswer(BaseModel):
    """The shift after the write, and the write's events."""

    shift: ShiftRead
    events: list[ShiftEventRead]
    position: int = Field(description="The log position of the write (for ?min_position=).")


class RotaWriteAnswer(BaseModel):
    """Every shift of the pattern, in order of start, and their ShiftPlanned events."""

    shifts: list[ShiftRead]
    events: list[ShiftEventRead]
    position: int = Field(description="The log position of the write (for ?min_position=).")


def _shift_answer(written: ShiftWrite, response: Response, keyed: Keyed) -> ShiftWriteAnswer:
    response.headers[POSITION_HEADER] = str(written.position)
    keyed.answered(replayed=written.replayed)
    return ShiftWriteAnswer(
        shift=shift_read(written.state),
        events=[shift_event_read(e) for e in written.events],
        position=written.position,
    )


# --- bodies ----------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class ShiftPlan(_Body):
    service: ServiceName = Field(default=DEFAULT_SERVICE, description="The service's name.")
    role: ShiftRole
    assignee: Username = Field(description="Who is on it: an active user who can be on a shift.")
    starts_at: Moment
    ends_at: Moment
    reason: Reason | None = Field(
        default=None,
        description="Required when starts_at has passed (at most 24 hours ago, the shift still "
        "running): the cover this records, and why. Not about anyone's health or circumstances.",
    )


class Reassignment(_Body):
    assignee: Username = Field(description="Who takes it over: an active user.")
    reason: Reason = Field(description="Why (a swap agreed, cover): never about health.")
    from_at: Moment | None = Field(
        default=None, description="Cover for part of the shift: from (default: its start)."
    )
    until: Moment | None = Field(
        default=None, description="Cover for part of the shift: until (default: its end)."
    )


class Cancellation(_Body):
    reason: Reason


class Acknowledgement(_Body):
    occurred_at: Moment | None = Field(
        default=None, description="When it was read (RFC 3339 with offset); default now."
    )


# --- examples --------------------------------------------------------------------------------

_PLAN = {
    "night": {
        "summary": "An on-call shift on a Tuesday night",
        "value": {
            "role": "on_call",
            "assignee": "casey",
            "starts_at": "2026-11-24T19:00:00+00:00",
            "ends_at": "2026-11-24T23:00:00+00:00",
        },
    }
}
_ROTA = {
    "seed": {
        "summary": "The seed coordinator's week, for a month",
        "value": {
            "role": "coordinator",
            "assignee": "casey",
            "weekly": [
                {"weekday": "tue", "start": "10:00", "end": "12:00"},
                {"weekday": "tue", "start": "19:00", "end": "23:00"},
                {"weekday": "sat", "start": "09:00", "end": "11:00"},
                {"weekday": "sat", "start": "15:00", "end": "17:00"},
                {"weekday": "sat", "start": "20:00", "end": "23:00"},
            ],
            "from": "2026-12-01",
            "until": "2026-12-31",
        },
    }
}
_CHECK_OUT = {
    "own": {"summary": "Checking out", "value": {}},
    "handover": {
        "summary": "Checking out with a handover",
        "value": {
            "handover": {
                "note": "Member in the insulin thread replied at 22:40; crisis team called.",
                "case_ids": ["0f8e3c1a-4d0b-4c55-9a39-0c6f3a9d2b11"],
                "to": "lee",
            }
        },
    },
    "forgotten": {
        "summary": "A lead records a forgotten check-out",
        "value": {
            "on_behalf_of": "kit",
            "occurred_at": "2026-11-24T23:05:00+00:00",
            "reason": "Kit left at the end of the shift and forgot to check out; confirmed.",
        },
    },
}

_WRITE_ERRORS = error_responses(401, 403, 404, 409, 422, 503)
ShiftId = Annotated[UUID, Path(description="The shift's id (a UUID).")]


def _bind(request: Request, shift_id: UUID) -> None:
    note_for_log(request, shift_id=str(shift_id))


# --- the rota --------------------------------------------------------------------------------


@router.post(
    "/shifts",
    status_code=201,
    responses={**keyed_answer(201, "Planned: the shift and its ShiftPlanned."), **_WRITE_ERRORS},
    summary="Plan a shift",
)
def plan_shift(
    body: Annotated[ShiftPlan, Body(openapi_examples=_PLAN)],
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.SHIFT_PLAN))],
    request: Request,
    response: Response,
    keyed: Keyed,
) -> ShiftWriteAnswer:
    """Plan one shift of a service (default `default`) for an assignee (an active volunteer,
    moderator, coordinator or safeguarding lead) in a role: `moderator`, `host`, `coordinator`,
    `helpline` or `on_call`. It ends after it starts, lasts at most VIGIL_SHIFT_MAX_LENGTH_HOURS
    (24) and starts now or later; cover already happening may be planned with a start at most
    24 hours ago, still running, with a `reason`.

    Refused, writing nothing: 422 for times that cannot be a shift, an unknown service
    (`unknown-reference`) or an assignee who is not an active user who can be on a shift."""
    written = vigil.shifts.plan(
        c.PlanShift(**body.model_dump()), actor, request=keyed.request_for(body)
    )
    _bind(request, written.state.id)
    response.headers["Location"] = f"/api/v1/shifts/{written.state.id}"
    return _shift_answer(written, response, keyed)


@router.post(
    "/rota",
    status_code=201,
    responses={
        **keyed_answer(201, "Planned: every shift of the pattern and its ShiftPlanned."),
        **error_responses(401, 403, 409, 422, 503),
    },
    summary="Plan a weekly pattern of shifts over a range of dates",
)
def plan_rota(
    body: Annotated[PlanRota, Body(openapi_examples=_ROTA)],
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.SHIFT_PLAN))],
    response: Response,
    keyed: Keyed,
) -> RotaWriteAnswer:
    """Plan each shift of a weekly pattern (`weekly`: `[{"weekday": "tue", "start": "19:00",
    "end": "23:00"}, ...]`, local times; an end not after the start runs past midnight; `24:00`
    is midnight) on every date from `from` to `until` (both included), in the service's time
    zone (its calendar's in force now): a 19:00 shift starts at 19:00 local time on both sides
    of a clock change (19:00Z in winter, 18:00Z in summer, in London). A local time the clocks
    skip is taken an hour later, one they repeat at its first occurrence.

    One ShiftPlanned per shift, each shift its own, all in one append: all or none. Refused,
    writing nothing: 422 (`invalid-input`) if the pattern plans no shift, more than 1000, two
    that overlap, or one whose start has passed (plan from a later date); as `POST /shifts` for
    the service and the assignee."""
    written: RotaWrite = vigil.shifts.plan_rota(body, actor, request=keyed.request_for(body))
    response.headers[POSITION_HEADER] = str(written.position)
    keyed.answered(replayed=written.replayed)
    return RotaWriteAnswer(
        shifts=[shift_read(s) for s in written.shifts],
        events=[shift_event_read(e) for e in written.events],
        position=written.position,
    )


@router.post(
    "/shifts/{shift_id}/reassignment",
    status_code=201,
    responses={
        **keyed_answer(201, "Reassigned: the shift and its ShiftReassigned."),
        **_WRITE_ERRORS,
    },
    summary="Reassign a shift (a swap), or part of it (cover), before it starts",
)
def reassign_shift(
    shift_id: ShiftId,
    body: Reassignment,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.SHIFT_PLAN))],
    request: Request,
    response: Response,
    keyed: Keyed,
) -> ShiftWriteAnswer:
    """Give the shift to another assignee (a swap), or a part of it (`from_at` to `until`,
    within the shift: cover), with a `reason`. Only before it starts: what has started (its start
    has passed, or someone checked in early) is never re-assigned (409 `rule-violation`); only
    attendance is recorded against it. 409 too if the shift is cancelled or already theirs;
    422 for a window outside the shift or an assignee who cannot be on a shift."""
    _bind(request, shift_id)
    command = c.ReassignShift(**body.model_dump())
    written = vigil.shifts.execute(shift_id, command, actor, request=keyed.request_for(body))
    return _shift_answer(written, response, keyed)


@router.post(
    "/shifts/{shift_id}/cancellation",
    status_code=201,
    responses={
        **keyed_answer(201, "Cancelled: the shift and its ShiftCancelled."),
        **_WRITE_ERRORS,
    },
    summary="Cancel a shift before it starts",
)
def cancel_shift(
    shift_id: ShiftId,
    body: Cancellation,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.SHIFT_PLAN))],
    request: Request,
    response: Response,
    keyed: Keyed,
) -> ShiftWriteAnswer:
    """Cancel a shift, with a `reason`; nothing more is recorded against it. Only before it
    starts (409 `rule-violation` once it has, or if it is cancelled already)."""
    _bind(request, shift_id)
    command = c.CancelShift(reason=body.reason)
    written = vigil.shifts.execute(shift_id, command, actor, request=keyed.request_for(body))
    return _shift_answer(written, response, keyed)


# --- attendance ------------------------------------------------------------------------------


@router.post(
    "/shifts/{shift_id}/check-in",
    status_code=201,
    responses={**keyed_answer(201, "Checked in: the shift and its CheckedIn."), **_WRITE_ERRORS},
    summary="Check in to your shift",
)
def check_in(
    shift_id: ShiftId,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.SHIFT_ATTEND))],
    request: Request,
    response: Response,
    keyed: Keyed,
    body: Annotated[c.CheckIn | None, Body()] = None,
) -> ShiftWriteAnswer:
    """Check in to a shift, or your part of it: by its assignee only (anyone else: 403
    `not-permitted`). At most VIGIL_SHIFT_EARLY_CHECK_IN_MINUTES (30) before your part starts
    and before it ends; `occurred_at` for a late log (when you really started; never in the
    future). Refused with 409 `rule-violation`, writing nothing: a second check-in to the same
    shift (even after checking out), into a cancelled shift, outside your part of the shift, or
    while checked in to another shift (check out of it first: one open check-in per person)."""
    _bind(request, shift_id)
    command = body or c.CheckIn()
    written = vigil.shifts.execute(shift_id, command, actor, request=keyed.request_for(body))
    return _shift_answer(written, response, keyed)


@router.post(
    "/shifts/{shift_id}/handovers",
    status_code=201,
    responses={
        **keyed_answer(201, "Handed over: the shift and its HandoverRecorded."),
        **_WRITE_ERRORS,
    },
    summary="Hand over while checked in",
)
def hand_over(
    shift_id: ShiftId,
    body: c.RecordHandover,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.SHIFT_ATTEND))],
    request: Request,
    response: Response,
    keyed: Keyed,
) -> ShiftWriteAnswer:
    """Record a handover while checked in to the shift: a `note` (personal: sealed, and erased
    with the subject of any case it names), the open cases it hands over (`case_ids`: cases you
    can see; one you cannot is 422 `unknown-reference`, as a missing one) and to whom (`to`, an
    active user other than you; none: whoever comes next). Its `handover_id` is the event's id.
    409 if you are not checked in to the shift."""
    _bind(request, shift_id)
    written = vigil.shifts.execute(shift_id, body, actor, request=keyed.request_for(body))
    return _shift_answer(written, response, keyed)


@router.post(
    "/shifts/{shift_id}/check-out",
    status_code=201,
    responses={
        **keyed_answer(201, "Checked out: the shift, its CheckedOut (after the handover's)."),
        **_WRITE_ERRORS,
    },
    summary="Check out (optionally with a handover); a lead records a forgotten check-out",
)
def check_out(
    shift_id: ShiftId,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.SHIFT_ATTEND))],
    request: Request,
    response: Response,
    keyed: Keyed,
    body: Annotated[c.CheckOut | None, Body(openapi_examples=_CHECK_OUT)] = None,
) -> ShiftWriteAnswer:
    """Check out of a shift you are checked in to, after your check-in (`occurred_at` for a late
    log), optionally with a `handover` (`{note, case_ids?, to?}`, as `POST .../handovers`),
    recorded with the check-out in one write.

    **A forgotten check-out**: a coordinator or safeguarding lead (permission
    `shift.check_out_others`) records someone's check-out with `on_behalf_of` (their username),
    a `reason`, and `occurred_at` (when they really left); never with a handover (a handover is
    the leaver's own). Anyone else naming another person: 403 `not-permitted`; without a
    reason: 422.

    Refused, writing nothing: 409 if that person is not checked in to the shift (or already
    checked out); 422 for a check-out not after the check-in."""
    _bind(request, shift_id)
    command = body or c.CheckOut()
    written = vigil.shifts.execute(shift_id, command, actor, request=keyed.request_for(body))
    return _shift_answer(written, response, keyed)


@router.post(
    "/shifts/{shift_id}/handovers/{handover_id}/acknowledgement",
    status_code=201,
    responses={
        **keyed_answer(201, "Acknowledged: the shift and its HandoverAcknowledged."),
        **_WRITE_ERRORS,
    },
    summary="Acknowledge a handover given to you",
)
def acknowledge_handover(
    shift_id: ShiftId,
    handover_id: Annotated[UUID, Path(description="The handover_id of a handover.")],
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.SHIFT_ATTEND))],
    request: Request,
    response: Response,
    keyed: Keyed,
    body: Annotated[Acknowledgement | None, Body()] = None,
) -> ShiftWriteAnswer:
    """Acknowledge a handover: by the person it is to (anyone but its giver, when it names
    nobody), once. 403 `not-permitted` for anyone else, 409 if already acknowledged, 404 for
    a handover that is not this shift's. Takes it out of the `handovers_unacknowledged` queue."""
    _bind(request, shift_id)
    command = c.AcknowledgeHandover(
        handover_id=handover_id, occurred_at=None if body is None else body.occurred_at
    )
    written = vigil.shifts.execute(shift_id, command, actor, request=keyed.request_for(body))
    return _shift_answer(written, response, keyed)
