"""A service's calendar: operating hours per weekday, time zone and closed dates.

It decides, from an event's ``occurred_at``, whether a moment was out of hours,
and when "the end of the next working day" falls (the default review deadline
for out-of-hours decisions). Pure: holidays arrive as a container of dates.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MIDNIGHT = time(0, 0)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class OpeningHours:
    """Opening and closing time on one weekday; a closing time of 00:00 means midnight."""

    opens: time
    closes: time

    def window(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime.combine(day, self.opens, tz)
        end_day = day + timedelta(days=1) if self.closes <= self.opens else day
        return start, datetime.combine(end_day, self.closes, tz)


@dataclass(frozen=True)
class ServiceCalendar:
    timezone: ZoneInfo
    hours: Mapping[int, OpeningHours]  # weekday (0 = Monday) -> hours; absent = closed all day
    closed_dates: Container[date] = field(default_factory=frozenset)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working window of a local date, or None when the service is closed that day."""
        hours = self.hours.get(day.weekday())
        if hours is None or day in self.closed_dates:
            return None
        return hours.window(day, self.timezone)

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.timezone)
        # A window that runs past midnight belongs to the day it opened.
        for day in (local.date() - timedelta(days=1), local.date()):
            window = self.window(day)
            if window is not None and window[0] <= local < window[1]:
                return True
        return False

    def is_out_of_hours(self, at: datetime) -> bool:
        return not self.is_open(at)

    def end_of_next_working_day(self, after: datetime) -> datetime:
        """The close of the first working window that opens after ``after``.

        A decision at 23:10 on Monday is due by Tuesday's close; one at 02:00 on
        Saturday by Monday's close (or Tuesday's, after a bank holiday Monday). A service
        with no working day in the coming year gets a day from the decision.
        """
        local = after.astimezone(self.timezone)
        day = local.date() - timedelta(days=1)
        for _ in range(400):
            window = self.window(day)
            if window is not None and window[0] > local:
                return window[1]
            day += timedelta(days=1)
        # A service that is never open has no working day: review within a day instead.
        return after + timedelta(days=1)


def parse_weekly_hours(spec: str) -> dict[int, OpeningHours]:
    """Parse "mon-fri 09:00-17:00; sat 10:00-14:00" (or "always", or "" for never open)."""
    spec = spec.strip().lower()
    if spec in ("always", "24/7"):
        return {d: OpeningHours(MIDNIGHT, MIDNIGHT) for d in range(7)}
    result: dict[int, OpeningHours] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        try:
            days, span = part.split()
            opens, closes = (time.fromisoformat(t) for t in span.split("-"))
            # Unknown day names must fail here too, with the same readable message.
            first_day, dash, last_day = days.partition("-")
            first = WEEKDAYS.index(first_day)
            last = WEEKDAYS.index(last_day) if dash else first
        except ValueError as exc:
            raise ValueError(
                f"cannot read opening hours {part!r}: use 'mon-fri 09:00-17:00'"
            ) from exc
        # A range may wrap past Sunday ("fri-mon"); it must never silently select no day.
        selected = [(first + i) % 7 for i in range((last - first) % 7 + 1)]
        for d in selected:
            result[d] = OpeningHours(opens, closes)
    return result
