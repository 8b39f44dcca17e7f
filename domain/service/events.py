"""Events of the Service aggregate: a service registered, its calendar versioned.

THESE CLASSES ARE THE STORAGE FORMAT (topic ``domain.service.events:<Class>``): never rename
or move them, never remove or retype a field; add fields only with defaults.

A service's id derives from its name (``domain.service.state.service_id_for``). Its calendar
is a list of versions, each in force from its ``effective_from`` until the next one's; the
first comes with the registration. Nothing here is personal data: a rationale says why the
organisation's hours changed, not anything about a person.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.calendar import CalendarVersion
from domain.shared import Role


class ServiceEvent(BaseModel):
    """Envelope shared by every service event."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID = Field(description="The service's id (derived from its name).")
    originator_version: int = Field(ge=1)
    event_id: UUID
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: str
    actor_role: Role

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at


class CalendarFields(BaseModel):
    """A calendar version as events store it (checked by the command that made it)."""

    model_config = ConfigDict(frozen=True)

    timezone: str = Field(description="IANA time zone, e.g. Europe/London.")
    operating_hours: dict[str, list[str]] = Field(
        description='Per weekday, e.g. {"mon": ["09:00-17:00"], "sat": ["08:00-24:00"]}.'
    )
    bank_holidays: str = Field(description="england_and_wales, none, ...")
    closed_dates: list[date] = []
    effective_from: AwareDatetime
    rationale: str | None = None

    def version(self) -> CalendarVersion:
        return CalendarVersion(
            timezone=self.timezone,
            operating_hours=self.operating_hours,
            bank_holidays=self.bank_holidays,
            closed_dates=self.closed_dates,
            effective_from=self.effective_from,
            rationale=self.rationale,
        )


class ServiceRegistered(CalendarFields, ServiceEvent):
    """A service exists from now on, with its first calendar version."""

    name: str


class ServiceCalendarVersioned(CalendarFields, ServiceEvent):
    """A new calendar version, in force from ``effective_from`` until the next one's."""


EVENT_TYPES: dict[str, type[ServiceEvent]] = {
    cls.__name__: cls for cls in (ServiceRegistered, ServiceCalendarVersioned)
}
