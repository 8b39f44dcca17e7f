"""The rota, read: shifts with their attendance, one shift, its log, off-rota actions, who was
on call, the rota's gaps and a person's calendar feed. Writes (planning, attendance, handovers)
are in ``interfaces/http/shifts.py``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel

from domain.access.permissions import Permission
from domain.errors import NotPermitted
from domain.service.commands import DEFAULT_SERVICE
from domain.shared import Actor, Moment, Role
from domain.shift.vocabulary import ShiftRole
from interfaces.http.dependencies import (
    MinPosition,
    RotaDep,
    ShiftLogsDep,
    VigilDep,
    require,
)
from interfaces.http.docs import LIST_ERRORS
from interfaces.http.problems import error_responses
from projections.paging import DEFAULT_LIMIT, MAX_LIMIT
from projections.rota import OnCall, RotaShift, ShiftDetail
from projections.rota_feed import MEDIA_TYPE, rota_calendar
from projections.rota_gaps import RotaGaps, check_gaps_range, rota_gaps, weeks_around
from projections.shift_logs import (
    SHIFT_LOG_DEFAULT_LIMIT,
    SHIFT_LOG_MAX_LIMIT,
    ShiftAction,
    ShiftLog,
)

router = APIRouter(prefix="/api/v1", tags=["shifts"])

RotaReader = Annotated[Actor, Depends(require(Permission.ROTA_READ))]
LogReader = Annotated[Actor, Depends(require(Permission.SHIFT_LOG_READ))]
ShiftId = Annotated[UUID, Path(description="The shift id (a UUID).")]
Username = Annotated[str, Query(min_length=1, max_length=63, description="A username.")]
Cursor = Annotated[str | None, Query(max_length=1000)]
# Who may read someone else's calendar feed: the people who manage the rota.
FEED_MANAGERS = frozenset({Role.COORDINATOR, Role.SAFEGUARDING_LEAD})
FEED_HISTORY = timedelta(days=31)  # a feed starts this long before now


class ShiftPage(BaseModel):
    """A page of the rota in start order; pass ``next_cursor`` back as ``cursor``."""

    items: list[RotaShift]
    next_cursor: str | None


class ActionPage(BaseModel):
    """A page of actions by occurred_at; pass ``next_cursor`` back as ``cursor``."""

    items: list[ShiftAction]
    next_cursor: str | None


@router.get("/shifts", responses=error_responses(*LIST_ERRORS))
def list_shifts(
    rota: RotaDep,
    actor: RotaReader,
    caught_up: MinPosition,
    from_: Annotated[
        Moment | None, Query(alias="from", description="Shifts ending after this moment.")
    ] = None,
    to: Annotated[Moment | None, Query(description="Shifts starting before this moment.")] = None,
    assignee: Annotated[
        str | None,
        Query(max_length=63, description="Shifts with a part that is theirs (cover included)."),
    ] = None,
    service: Annotated[str | None, Query(max_length=63)] = None,
    role: ShiftRole | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ShiftPage:
    """List the rota in start order, cancelled shifts included, each with its attendance on
    both clocks."""
    items, next_cursor = rota.shifts(
        start=from_,
        end=to,
        assignee=None if assignee is None else assignee.strip().lower(),
        service=service,
        role=role,
        limit=limit,
        cursor=cursor,
    )
    return ShiftPage(items=items, next_cursor=next_cursor)


@router.get("/shifts/off-rota", responses=error_responses(*LIST_ERRORS))
def list_off_rota_actions(
    vigil: VigilDep,
    logs: ShiftLogsDep,
    actor: LogReader,
    caught_up: MinPosition,
    from_: Annotated[Moment, Query(alias="from", description="From (occurred, inclusive).")],
    to: Annotated[Moment, Query(description="Until (occurred, exclusive); at most 92 days.")],
    limit: Annotated[int, Query(ge=1, le=SHIFT_LOG_MAX_LIMIT)] = SHIFT_LOG_DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ActionPage:
    """List off-rota actions: actions on cases (and contacts) whose actor had no open
    check-in when they occurred, by occurred_at, for oversight.

    Each is marked `late` when recorded more than VIGIL_SHIFT_LOG_LATE_MINUTES after it
    occurred. Actions on restricted cases are listed only to those who may see them."""
    items, next_cursor = logs.off_rota(
        from_,
        to,
        reader=actor.username,
        visibility=vigil.access.visibility(actor),
        limit=limit,
        cursor=cursor,
    )
    return ActionPage(items=items, next_cursor=next_cursor)


@router.get(
    "/shifts.ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}, "description": "An iCalendar feed (RFC 5545)."},
        **error_responses(*LIST_ERRORS),
    },
)
def read_shift_feed(
    vigil: VigilDep,
    rota: RotaDep,
    actor: RotaReader,
    caught_up: MinPosition,
    assignee: Annotated[
        str | None, Query(max_length=63, description="Whose shifts (default: yours).")
    ] = None,
) -> Response:
    """Read a person's shifts as an iCalendar feed (from a month ago on).

    One event per shift (UID stable per shift, times in UTC, the role and the service only;
    STATUS:CANCELLED for a cancelled one). Your own feed, or, for coordinators and
    safeguarding leads, anyone's (403 otherwise)."""
    person = actor.username if assignee is None else assignee.strip().lower()
    if person != actor.username and not FEED_MANAGERS & (actor.roles | {actor.role}):
        raise NotPermitted(
            "only coordinators and safeguarding leads read someone else's shifts feed"
        )
    shifts = rota.shifts_of(person, start=vigil.clock() - FEED_HISTORY)
    return Response(content=rota_calendar(person, shifts), media_type=MEDIA_TYPE)


@router.get("/shifts/{shift_id}", responses=error_responses(401, 403, 404, 422))
def read_shift(
    vigil: VigilDep, rota: RotaDep, shift_id: ShiftId, actor: RotaReader, caught_up: MinPosition
) -> ShiftDetail:
    """Read one shift: its plan, its attendance on both clocks, the handovers given in it and
    received by its people (ids, from, to, cases, acknowledgement; never the note)."""
    return rota.shift(shift_id, visibility=vigil.access.visibility(actor))


@router.get(
    "/shifts/{shift_id}/log",
    response_model=ShiftLog,
    responses=error_responses(401, 403, 404, 422),
)
def read_shift_log(
    vigil: VigilDep,
    logs: ShiftLogsDep,
    shift_id: ShiftId,
    actor: LogReader,
    caught_up: MinPosition,
    limit: Annotated[int, Query(ge=1, le=SHIFT_LOG_MAX_LIMIT)] = SHIFT_LOG_DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """Read a shift's log: plan against attendance (late, missed, cover), every action its
    people recorded while checked in (judged on occurred_at, `late` when recorded more than
    VIGIL_SHIFT_LOG_LATE_MINUTES after), the out-of-hours decisions among them, and the
    handovers given and received. Actions are paged (`limit`, `cursor`)."""
    log = logs.log(
        shift_id,
        now=vigil.clock(),
        reader=actor.username,
        visibility=vigil.access.visibility(actor),
        limit=limit,
        cursor=cursor,
    )
    # Serialised once, as built (up to a thousand actions: no second validation on the way out).
    return Response(content=log.model_dump_json(), media_type="application/json")


@router.get("/on-call", responses=error_responses(*LIST_ERRORS))
def read_on_call(
    vigil: VigilDep,
    rota: RotaDep,
    actor: RotaReader,
    caught_up: MinPosition,
    at: Annotated[Moment | None, Query(description="The moment (default now).")] = None,
    service: Annotated[str | None, Query(max_length=63)] = None,
) -> OnCall:
    """Who was planned and who was checked in at a moment, on both clocks: as recorded by
    then (events recorded by `at` only) and as known now."""
    return rota.on_call(at if at is not None else vigil.clock(), service=service)


@router.get("/rota/gaps", responses=error_responses(*LIST_ERRORS))
def read_rota_gaps(
    vigil: VigilDep,
    rota: RotaDep,
    actor: RotaReader,
    caught_up: MinPosition,
    from_: Annotated[Moment, Query(alias="from")],
    to: Annotated[Moment, Query(description="At most 92 days after from.")],
    service: Annotated[str, Query(max_length=63)] = DEFAULT_SERVICE,
) -> RotaGaps:
    """List the rota's gaps for a service: out-of-hours periods with no on-call shift planned,
    those with no coordinator or safeguarding lead on call, and people planned for more than
    VIGIL_ROTA_WEEKLY_HOURS_CAP hours in a week (422 for a service that does not exist)."""
    check_gaps_range(from_, to)
    history = vigil.service_calendars(service)
    weeks = weeks_around(history, from_, to)

    def lead_or_coordinator(username: str) -> bool:
        user = vigil.identity.get(username)
        return user is not None and bool(user.roles & FEED_MANAGERS)

    return rota_gaps(
        service=service,
        history=history,
        parts=rota.planned_parts(weeks.starts_at, weeks.ends_at),
        start=from_,
        end=to,
        lead_or_coordinator=lead_or_coordinator,
        cap=timedelta(hours=vigil.settings.rota_weekly_hours_cap),
    )
