"""Builds the service calendar from settings (bank holidays from the `holidays` package), and
supplies the bank holidays of the regions services' calendar versions name."""

from __future__ import annotations

from collections.abc import Container
from datetime import date
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from domain.calendar import (
    ENGLAND_AND_WALES,
    NO_BANK_HOLIDAYS,
    CalendarVersion,
    ServiceCalendar,
    first_version_from_settings,
    parse_weekly_hours,
)
from infrastructure.settings import Settings


class _ClosedDates(Container[date]):
    def __init__(self, public_holidays: Container[date] | None, extra: frozenset[date]) -> None:
        self._public = public_holidays
        self._extra = extra

    def __contains__(self, day: object) -> bool:
        return day in self._extra or (self._public is not None and day in self._public)


def build_calendar(settings: Settings) -> ServiceCalendar:
    public = None
    always_open = settings.operating_hours.strip().lower() in ("always", "24/7")
    # A 24/7 service does not close for bank holidays.
    if settings.bank_holidays.strip() and not always_open:
        country, _, subdiv = settings.bank_holidays.strip().partition("-")
        public = holidays.country_holidays(country, subdiv=subdiv or None)
    return ServiceCalendar(
        timezone=ZoneInfo(settings.timezone),
        hours=parse_weekly_hours(settings.operating_hours),
        closed_dates=_ClosedDates(public, frozenset(settings.closed_dates)),
    )


def default_calendar() -> ServiceCalendar:
    """The calendar of the default settings, without reading the environment: what a view built
    alone (a test, a tool) judges by when it is given no calendar."""
    return build_calendar(Settings.model_construct())


# --- services' calendars (issue 13): bank holidays by region, the default service's first version

# The regions a calendar version names, as the `holidays` package knows them (country, subdivision).
_NAMED_REGIONS: dict[str, tuple[str, str | None]] = {
    ENGLAND_AND_WALES: ("GB", "ENG"),
    "scotland": ("GB", "SCT"),
    "northern_ireland": ("GB", "NIR"),
}


def _country_and_subdivision(region: str) -> tuple[str, str | None]:
    named = _NAMED_REGIONS.get(region)
    if named is not None:
        return named
    country, _, subdivision = region.partition("-")
    return country, subdivision or None


@lru_cache(maxsize=256)
def bank_holidays(region: str) -> Container[date]:
    """The bank holidays of ``region`` (``england_and_wales``, ``scotland``, ``northern_ireland``,
    or a country code with an optional subdivision: ``IE``, ``AU-NSW``): the domain's
    ``HolidayLookup``. ``none`` (and a region no longer known) closes nothing."""
    if region == NO_BANK_HOLIDAYS or region not in KNOWN_REGIONS:
        return frozenset()
    country, subdivision = _country_and_subdivision(region)
    return holidays.country_holidays(country, subdiv=subdivision)


class _KnownRegions(Container[str]):
    """The regions whose bank holidays ``bank_holidays`` can supply."""

    def __contains__(self, region: object) -> bool:
        if not isinstance(region, str):
            return False
        if region == NO_BANK_HOLIDAYS or region in _NAMED_REGIONS:
            return True
        country, subdivision = _country_and_subdivision(region)
        supported = holidays.list_supported_countries()
        return country in supported and (subdivision is None or subdivision in supported[country])


KNOWN_REGIONS: Container[str] = _KnownRegions()


def default_service_calendar(settings: Settings) -> CalendarVersion:
    """The ``default`` service's first version: the settings' calendar, in force from the start
    of time (until that service is recorded in the log, and never after: see
    ``application.services``)."""
    return first_version_from_settings(
        timezone=settings.timezone,
        operating_hours=settings.operating_hours,
        bank_holidays=settings.bank_holidays,
        closed_dates=settings.closed_dates,
    )
