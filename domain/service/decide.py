"""The Service aggregate's decisions: register a service, version its calendar.

Pure: the actor and the clock come in on the context, with the bank-holiday regions the
infrastructure knows. A new calendar version may not take effect in the past (a moment already
judged by the version in force at it keeps its judgement); it may take effect before a version
already scheduled for later, which then still takes effect when it said. Two versions never take
effect at the same moment.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.calendar import NO_BANK_HOLIDAYS
from domain.case.ids import event_id_for
from domain.service.commands import RegisterService, ServiceCommand, VersionCalendar
from domain.service.errors import (
    CalendarVersionClash,
    CalendarVersionInPast,
    ServiceAlreadyExists,
    ServiceNotFound,
    UnknownBankHolidays,
)
from domain.service.events import ServiceCalendarVersioned, ServiceEvent, ServiceRegistered
from domain.service.state import ServiceState, service_id_for
from domain.shared import DecisionContext


@dataclass(frozen=True)
class ServiceContext:
    """What a service decision needs from outside: who and when, and (when given) the regions
    whose bank holidays the infrastructure can supply."""

    decision: DecisionContext
    bank_holiday_regions: Container[str] | None = None


def decide(
    state: ServiceState | None, command: ServiceCommand, ctx: ServiceContext
) -> list[ServiceEvent]:
    """The events ``command`` makes of the service, or a DomainError."""
    dc = ctx.decision
    regions = ctx.bank_holiday_regions
    if (
        regions is not None
        and command.bank_holidays != NO_BANK_HOLIDAYS
        and command.bank_holidays not in regions
    ):
        raise UnknownBankHolidays(
            f"no bank holidays are known for {command.bank_holidays!r}",
            errors={"bank_holidays": "use england_and_wales, scotland, northern_ireland or none"},
        )
    effective_from = command.effective_from or dc.now
    if isinstance(command, RegisterService):
        if state is not None:
            raise ServiceAlreadyExists(f"a service named {command.name!r} already exists")
        service_id = service_id_for(command.name)
        return [
            ServiceRegistered(
                **_envelope(service_id, 1, dc),
                name=command.name,
                **_calendar(command, effective_from),
            )
        ]
    if not isinstance(command, VersionCalendar):  # pragma: no cover - every command is handled
        raise TypeError(f"not a service command: {type(command).__name__}")
    if state is None:
        raise ServiceNotFound("no such service")
    if effective_from < dc.now:
        raise CalendarVersionInPast(
            "a new calendar takes effect now or later, never in the past: what was judged "
            "before stays judged by the calendar in force then",
            errors={"effective_from": f"earlier than now ({dc.now.isoformat()})"},
        )
    if any(v.effective_from == effective_from for v in state.versions):
        raise CalendarVersionClash(
            "another version of this calendar takes effect at that moment",
            errors={"effective_from": effective_from.isoformat()},
        )
    return [
        ServiceCalendarVersioned(
            **_envelope(state.id, state.version + 1, dc), **_calendar(command, effective_from)
        )
    ]


def _envelope(service_id: UUID, version: int, dc: DecisionContext) -> dict[str, Any]:
    return {
        "originator_id": service_id,
        "originator_version": version,
        "event_id": event_id_for(service_id, version),
        "occurred_at": dc.now,
        "recorded_at": dc.now,
        "actor": dc.actor.username,
        "actor_role": dc.actor.role,
    }


def _calendar(
    command: RegisterService | VersionCalendar, effective_from: datetime
) -> dict[str, Any]:
    return {
        "timezone": command.timezone,
        "operating_hours": command.operating_hours,
        "bank_holidays": command.bank_holidays,
        "closed_dates": command.closed_dates,
        "effective_from": effective_from,
        "rationale": command.rationale,
    }
