"""Services and their calendars: list them, register one, give a calendar a new version.

A service (a forum, a helpline) has a calendar (operating hours per weekday, time zone, bank
holidays, closed dates) in versions, each in force from its ``effective_from`` until the next
one's. A moment is judged by the version in force at it, so a new version never rewrites what
was judged before it: it may only take effect now or later (409 otherwise). The ``default``
service exists from the start with the settings' calendar (``application.services``).

Every write accepts Idempotency-Key: a retry with the same key and body answers as the first
time (same status and body, header Idempotent-Replayed) and appends nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Response
from pydantic import BaseModel, Field

from application.services import ServiceWrite
from domain.access.permissions import Permission
from domain.calendar import CalendarVersion
from domain.service.commands import RegisterService, VersionCalendar
from domain.service.events import CalendarFields, ServiceEvent
from domain.service.state import ServiceState
from domain.shared import Actor, Role
from interfaces.http.dependencies import Keyed, VigilDep, keyed_answer, require
from interfaces.http.problems import error_responses

TAG = {
    "name": "services",
    "description": "Services (a forum, a helpline) and their calendars in versions: a moment is "
    "judged by the version in force at it, so a new version never rewrites a past judgement.",
}
router = APIRouter(prefix="/api/v1", tags=["services"])

ServiceReader = Annotated[Actor, Depends(require(Permission.SERVICES_READ))]
ServiceManager = Annotated[Actor, Depends(require(Permission.SERVICES_MANAGE))]
NamePath = Annotated[
    str,
    Path(max_length=63, description="The service's name (a slug).", examples=["peer-forum"]),
]
WRITE_ERRORS = (401, 403, 404, 409, 413, 422, 503)

REGISTER_EXAMPLES = {
    "helpline": {
        "summary": "A helpline open Monday to Wednesday mornings",
        "value": {
            "name": "helpline",
            "timezone": "Europe/London",
            "operating_hours": {
                "mon": ["08:00-14:00"],
                "tue": ["08:00-14:00"],
                "wed": ["08:00-14:00"],
            },
            "bank_holidays": "england_and_wales",
        },
    },
    "forum": {
        "summary": "A forum moderated 08:00 to midnight every day",
        "value": {
            "name": "peer-forum",
            "timezone": "Europe/London",
            "operating_hours": {
                day: ["08:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            },
            "bank_holidays": "none",
        },
    },
}
VERSION_EXAMPLES = {
    "longer": {
        "summary": "Open on Thursdays too, from next month",
        "value": {
            "timezone": "Europe/London",
            "operating_hours": {
                "mon": ["08:00-14:00"],
                "tue": ["08:00-14:00"],
                "wed": ["08:00-14:00"],
                "thu": ["08:00-14:00"],
            },
            "bank_holidays": "england_and_wales",
            "effective_from": "2027-01-04T00:00:00+00:00",
            "rationale": "Volunteers recruited for Thursday mornings.",
        },
    }
}


class CalendarVersionRead(BaseModel):
    """One version of a service's calendar, in force from ``effective_from`` until the next
    version's (the first is in force before every other, too)."""

    timezone: str = Field(description="IANA time zone.")
    operating_hours: dict[str, list[str]] = Field(
        description='Per weekday, e.g. {"mon": ["09:00-17:00"]}; a weekday left out is closed.'
    )
    bank_holidays: str = Field(description="Whose bank holidays close it (or none).")
    closed_dates: list[date]
    effective_from: datetime
    rationale: str | None = None


class ServiceRead(BaseModel):
    """A service with the calendar in force at ``evaluated_at`` and every other version."""

    id: UUID
    name: str
    recorded: bool = Field(
        description="Whether the service is in the log: the default service is recorded with "
        "the first write that needs it (until then it is the settings' calendar)."
    )
    version: int = Field(description="How many events the service holds (0: not recorded).")
    registered_at: datetime | None
    calendar: CalendarVersionRead = Field(description="The version in force at evaluated_at.")
    earlier_versions: list[CalendarVersionRead] = Field(
        description="The versions before it, oldest first."
    )
    scheduled_versions: list[CalendarVersionRead] = Field(
        description="Versions taking effect after evaluated_at, soonest first."
    )
    evaluated_at: datetime = Field(
        description="The moment the calendar in force is judged at: now for a read, the write's "
        "recorded_at in a write's answer (so a retry answers the same)."
    )


class ServiceList(BaseModel):
    """Every service, by name; ``next_cursor`` is always null (the list is short)."""

    items: list[ServiceRead]
    next_cursor: str | None = None


class ServiceEventRead(BaseModel):
    """A service event: its envelope and the calendar version it records."""

    event_id: UUID
    type: str = Field(examples=["ServiceRegistered", "ServiceCalendarVersioned"])
    service_id: UUID
    version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    actor_role: Role
    name: str | None = Field(default=None, description="ServiceRegistered: the name.")
    calendar: CalendarVersionRead = Field(description="The calendar version it records.")


class ServiceWriteAnswer(BaseModel):
    """A write's answer: the service after it and the events it appended."""

    service: ServiceRead
    events: list[ServiceEventRead]
    position: int = Field(
        description="The log position of the write's last event (pass as min_position)."
    )


def _version_read(version: CalendarVersion) -> CalendarVersionRead:
    return CalendarVersionRead(**version.model_dump())


def service_read(state: ServiceState, at: datetime) -> ServiceRead:
    """The service as read at ``at``: the version in force then, the earlier and later ones."""
    current = state.version_in_force(at)
    index = state.versions.index(current)
    return ServiceRead(
        id=state.id,
        name=state.name,
        recorded=state.version > 0,
        version=state.version,
        registered_at=state.registered_at if state.version > 0 else None,
        calendar=_version_read(current),
        earlier_versions=[_version_read(v) for v in state.versions[:index]],
        scheduled_versions=[_version_read(v) for v in state.versions[index + 1 :]],
        evaluated_at=at,
    )


def event_read(event: ServiceEvent) -> ServiceEventRead:
    fields: dict[str, Any] = event.model_dump()
    return ServiceEventRead(
        calendar=CalendarVersionRead(
            **{k: v for k, v in fields.items() if k in CalendarFields.model_fields}
        ),
        event_id=event.event_id,
        type=type(event).__name__,
        service_id=event.originator_id,
        version=event.originator_version,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        actor=event.actor,
        actor_role=event.actor_role,
        name=fields.get("name"),
    )


def _answer(write: ServiceWrite, keyed: Keyed, response: Response) -> ServiceWriteAnswer:
    keyed.answered(replayed=write.replayed)
    response.headers["Location"] = f"/api/v1/services/{write.service.name}"
    at = write.events[-1].recorded_at
    return ServiceWriteAnswer(
        service=service_read(write.service, at),
        events=[event_read(e) for e in write.events],
        position=write.position,
    )


@router.get("/services", responses=error_responses(401, 403, 422))
def list_services(vigil: VigilDep, actor: ServiceReader) -> ServiceList:
    """List every service with the calendar in force now and its other versions."""
    now = vigil.clock()
    return ServiceList(items=[service_read(s, now) for s in vigil.services.list_services()])


@router.get("/services/{name}", responses=error_responses(401, 403, 404, 422))
def read_service(vigil: VigilDep, actor: ServiceReader, name: NamePath) -> ServiceRead:
    """Read one service: the calendar in force now and its other versions (404: none)."""
    return service_read(vigil.services.get(name), vigil.clock())


@router.post(
    "/services",
    status_code=201,
    responses={
        **keyed_answer(201, "Registered: the service and its ServiceRegistered event."),
        **error_responses(401, 403, 409, 413, 422, 503),
    },
)
def register_service(
    body: Annotated[RegisterService, Body(openapi_examples=REGISTER_EXAMPLES)],
    vigil: VigilDep,
    actor: ServiceManager,
    keyed: Keyed,
    response: Response,
) -> ServiceWriteAnswer:
    """Register a service with its first calendar (409: the name is taken)."""
    write = vigil.services.register(body, actor, request=keyed.request_for(body))
    return _answer(write, keyed, response)


@router.post(
    "/services/{name}/calendars",
    status_code=201,
    responses={
        **keyed_answer(201, "The service after it and its ServiceCalendarVersioned event."),
        **error_responses(*WRITE_ERRORS),
    },
)
def version_calendar(
    name: NamePath,
    body: Annotated[VersionCalendar, Body(openapi_examples=VERSION_EXAMPLES)],
    vigil: VigilDep,
    actor: ServiceManager,
    keyed: Keyed,
    response: Response,
) -> ServiceWriteAnswer:
    """Give a service's calendar a new version from effective_from (now or later; 409 if in the
    past or at the very moment of another version)."""
    write = vigil.services.add_version(name, body, actor, request=keyed.request_for(body))
    return _answer(write, keyed, response)
