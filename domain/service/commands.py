"""Commands to the Service aggregate. Field rules (a readable calendar, a known time zone, a
slug for a name) are checked when a command is built (422); rules that depend on the service's
versions in ``decide``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from domain.calendar import (
    ENGLAND_AND_WALES,
    MAX_CLOSED_DATES,
    CalendarVersion,
    bank_holiday_region,
    normalise_operating_hours,
    time_zone,
)
from domain.shared import Moment, Reason

DEFAULT_SERVICE = "default"
SERVICE_NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
_SERVICE_NAME = re.compile(SERVICE_NAME_PATTERN)


def _service_name(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    name = value.strip().lower()
    if not _SERVICE_NAME.match(name) or "--" in name:
        raise ValueError(
            "a service's name is a slug: lower-case Latin letters and digits, words joined by "
            "single hyphens, at most 63 characters (e.g. peer-forum, helpline)"
        )
    return name


ServiceName = Annotated[
    str,
    BeforeValidator(_service_name),
    Field(json_schema_extra={"pattern": SERVICE_NAME_PATTERN}),
]


def _zone(value: str) -> str:
    return time_zone(value.strip()).key


def _hours(value: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return normalise_operating_hours(value)


def _dates(value: list[date]) -> list[date]:
    if len(value) > MAX_CLOSED_DATES:
        raise ValueError(f"at most {MAX_CLOSED_DATES} closed dates")
    return sorted(set(value))


TimeZoneName = Annotated[str, AfterValidator(_zone)]
OperatingHours = Annotated[dict[str, list[str]], AfterValidator(_hours)]
BankHolidays = Annotated[str, AfterValidator(bank_holiday_region)]
ClosedDates = Annotated[list[date], AfterValidator(_dates)]


class ServiceCommand(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    timezone: TimeZoneName = Field(description="IANA time zone, e.g. Europe/London.")
    operating_hours: OperatingHours = Field(
        description='Per weekday, e.g. {"mon": ["09:00-17:00"], "sat": ["08:00-24:00"]}; a '
        "range may end at 24:00, one whose end is not after its start runs past midnight; a "
        "weekday left out is closed."
    )
    bank_holidays: BankHolidays = Field(
        default=ENGLAND_AND_WALES,
        description="Whose bank holidays close the service: england_and_wales, scotland, "
        "northern_ireland, a country code (IE, AU-NSW), or none.",
    )
    closed_dates: ClosedDates = Field(default_factory=list, description="Extra closed dates.")
    effective_from: Moment | None = Field(
        default=None, description="When this calendar takes effect (default: now)."
    )


class RegisterService(ServiceCommand):
    """Register a service with its first calendar version."""

    name: ServiceName
    rationale: Reason | None = None


class VersionCalendar(ServiceCommand):
    """Give a service a new calendar version, from ``effective_from`` (not in the past)."""

    rationale: Reason


def register_default_service(first: CalendarVersion) -> RegisterService:
    """The command registering the ``default`` service with ``first`` (from the settings:
    ``domain.calendar.first_version_from_settings``)."""
    return RegisterService(
        name=DEFAULT_SERVICE,
        timezone=first.timezone,
        operating_hours=first.operating_hours,
        bank_holidays=first.bank_holidays,
        closed_dates=first.closed_dates,
        effective_from=first.effective_from,
        rationale=first.rationale,
    )
