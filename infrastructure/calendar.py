"""Builds the service calendar from settings (bank holidays from the `holidays` package)."""

from __future__ import annotations

from collections.abc import Container
from datetime import date
from zoneinfo import ZoneInfo

import holidays

from domain.calendar import ServiceCalendar, parse_weekly_hours
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
