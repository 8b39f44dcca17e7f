"""A service's calendar: operating hours per weekday, time zone and closed dates.

It decides, from an event's ``occurred_at``, whether a moment was out of hours,
and when "the end of the next working day" falls (the default review deadline
for out-of-hours decisions). Pure: holidays arrive as a container of dates.

A weekday may hold several ranges (``{"sat": ["09:00-11:00", "15:00-17:00", "20:00-24:00"]}``,
the API's shape, read by ``parse_operating_hours``). A *working day* is one local date with at
least one range: ``window(day)`` spans it from its first opening to its last close (the one
window, on a day with one range), ``windows(day)`` lists its ranges.

Calendars change, and a change must never rewrite what was judged before it: a
``CalendarHistory`` holds a service's ``CalendarVersion``s and judges each moment by the version
in force at that moment (the latest whose ``effective_from`` is not after it).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain import intervals

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


DayHours = OpeningHours | tuple[OpeningHours, ...]
"""One weekday's hours: one range, or several (in the order they open)."""


@dataclass(frozen=True)
class ServiceCalendar:
    timezone: ZoneInfo
    # weekday (0 = Monday) -> its range or ranges; absent (or an empty tuple) = closed all day
    hours: Mapping[int, DayHours]
    closed_dates: Container[date] = field(default_factory=frozenset)

    def ranges(self, weekday: int) -> tuple[OpeningHours, ...]:
        """The ranges of a weekday (0 = Monday), in the order they open."""
        hours = self.hours.get(weekday)
        if hours is None:
            return ()
        return (hours,) if isinstance(hours, OpeningHours) else hours

    def windows(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """Every working window of a local date, in order (none when the service is closed)."""
        if day in self.closed_dates:
            return ()
        found = [r.window(day, self.timezone) for r in self.ranges(day.weekday())]
        return tuple(sorted(found))

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working day of a local date, from its first opening to its last close (its one
        window, on a day with one range), or None when the service is closed that day."""
        windows = self.windows(day)
        if not windows:
            return None
        return windows[0][0], max(end for _, end in windows)

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.timezone)
        # A window that runs past midnight belongs to the day it opened.
        for day in (local.date() - timedelta(days=1), local.date()):
            for start, end in self.windows(day):
                if start <= local < end:
                    return True
        return False

    def is_out_of_hours(self, at: datetime) -> bool:
        return not self.is_open(at)

    def end_of_next_working_day(self, after: datetime) -> datetime:
        """The close of the first working day that opens after ``after`` (the close of its last
        range: the end of that working day).

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


# --- the API's shape: {"mon": ["09:00-17:00"], "sat": ["08:00-24:00"]} ---------------------------

MINUTES_PER_DAY = 24 * 60
MAX_RANGES_PER_DAY = 12
MAX_CLOSED_DATES = 1000
_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_RANGE_HELP = "write HH:MM-HH:MM, e.g. 09:00-17:00 (a range may end at 24:00)"


class CalendarSpecError(ValueError):
    """Operating hours, a time zone or a bank-holiday region that cannot be used: the message says
    which part and how to write it (a ValueError, so a command's validation answers 422)."""


def _range_minutes(day: str, text: object) -> tuple[int, int]:
    """A range as minutes from the day's midnight: (start, end), start < end <= start + 24 h.
    An end not after the start runs past midnight into the next day (``22:00-06:00``)."""
    found = _RANGE.match(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise CalendarSpecError(f"{day}: cannot read {text!r}: {_RANGE_HELP}")
    sh, sm, eh, em = (int(g) for g in found.groups())
    if sh > 23 or sm > 59 or eh > 24 or em > 59 or (eh == 24 and em != 0):
        raise CalendarSpecError(f"{day}: {text!r} is not a time of day: {_RANGE_HELP}")
    start, end = sh * 60 + sm, eh * 60 + em
    if start == end or (start == 0 and end == 0):
        raise CalendarSpecError(
            f"{day}: {text!r} opens and closes at the same time: write 00:00-24:00 for the "
            "whole day"
        )
    return start, end if end > start else end + MINUTES_PER_DAY


def _clock(minutes: int) -> time:
    minutes %= MINUTES_PER_DAY
    return time(minutes // 60, minutes % 60)


def parse_operating_hours(spec: Mapping[str, Sequence[str]]) -> dict[int, tuple[OpeningHours, ...]]:
    """Read operating hours in the API's shape (weekday -> ranges), refusing with a
    ``CalendarSpecError`` a weekday it does not know, a range it cannot read, ranges that
    overlap (on one day, or one running past midnight into the next day's) and more than
    ``MAX_RANGES_PER_DAY`` a day. A weekday left out, or given no range, is closed all day."""
    if not isinstance(spec, Mapping):
        raise CalendarSpecError(
            'operating hours are per weekday: {"mon": ["09:00-17:00"], "sat": ["08:00-24:00"]}'
        )
    result: dict[int, tuple[OpeningHours, ...]] = {}
    week: list[tuple[int, int, str]] = []  # minutes from Monday 00:00, and what the user wrote
    for key, ranges in spec.items():
        name = key.strip().lower() if isinstance(key, str) else key
        if name not in WEEKDAYS:
            raise CalendarSpecError(f"unknown weekday {key!r}: use {', '.join(WEEKDAYS)}")
        assert isinstance(name, str)
        if isinstance(ranges, str) or not isinstance(ranges, Sequence):
            raise CalendarSpecError(f'{name}: give a list of ranges, e.g. ["09:00-17:00"]')
        if len(ranges) > MAX_RANGES_PER_DAY:
            raise CalendarSpecError(f"{name}: at most {MAX_RANGES_PER_DAY} ranges a day")
        weekday = WEEKDAYS.index(name)
        if weekday in result:
            raise CalendarSpecError(f"{name} is given twice")
        spans = sorted(_range_minutes(name, text) for text in ranges)
        result[weekday] = tuple(OpeningHours(_clock(s), _clock(e)) for s, e in spans)
        base = weekday * MINUTES_PER_DAY
        week.extend((base + s, base + e, f"{name} {_format(s, e)}") for s, e in spans)
    # A range past Sunday midnight runs into Monday: compare the week with its next copy too.
    week_minutes = 7 * MINUTES_PER_DAY
    line = sorted(week + [(s + week_minutes, e + week_minutes, text) for s, e, text in week])
    reach: tuple[int, str] | None = None  # the latest end so far, and its range
    for start, end, this in line:
        if reach is not None and start < reach[0]:
            raise CalendarSpecError(f"{reach[1]} overlaps {this}: ranges may touch, not overlap")
        if reach is None or end > reach[0]:
            reach = (end, this)
    return {d: result[d] for d in sorted(result) if result[d]}


def _format(start: int, end: int) -> str:
    def hhmm(m: int) -> str:
        return f"{m // 60:02d}:{m % 60:02d}"

    return f"{hhmm(start)}-{'24:00' if end == MINUTES_PER_DAY else hhmm(end % MINUTES_PER_DAY)}"


def format_operating_hours(hours: Mapping[int, DayHours]) -> dict[str, list[str]]:
    """Hours in the API's shape, weekdays in order, closed days left out (the inverse of
    ``parse_operating_hours``; a close at midnight reads 24:00)."""
    calendar = ServiceCalendar(timezone=ZoneInfo("UTC"), hours=hours)
    shaped: dict[str, list[str]] = {}
    for weekday in range(7):
        ranges = calendar.ranges(weekday)
        if ranges:
            shaped[WEEKDAYS[weekday]] = [
                _format(
                    r.opens.hour * 60 + r.opens.minute,
                    (r.closes.hour * 60 + r.closes.minute)
                    + (MINUTES_PER_DAY if r.closes <= r.opens else 0),
                )
                for r in ranges
            ]
    return shaped


def normalise_operating_hours(spec: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Hours checked and written one way (weekdays in order, ranges sorted, closed days left
    out): what an event stores."""
    return format_operating_hours(parse_operating_hours(spec))


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/London``), or a ``CalendarSpecError``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise CalendarSpecError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/London"
        ) from exc


# --- bank holidays ------------------------------------------------------------------------------

NO_BANK_HOLIDAYS = "none"
ENGLAND_AND_WALES = "england_and_wales"
# Named regions; a country's ISO 3166 code (``IE``, ``AU-NSW``) also names its public holidays.
BANK_HOLIDAY_REGIONS = (NO_BANK_HOLIDAYS, ENGLAND_AND_WALES, "scotland", "northern_ireland")
_REGION = re.compile(r"^(?:[a-z][a-z0-9_]{1,63}|[A-Z]{2}(?:-[A-Z0-9]{1,3})?)$")
_SETTINGS_REGIONS = {
    "": NO_BANK_HOLIDAYS,
    "GB-ENG": ENGLAND_AND_WALES,
    "GB-WLS": ENGLAND_AND_WALES,
    "GB-EAW": ENGLAND_AND_WALES,
    "GB-SCT": "scotland",
    "GB-NIR": "northern_ireland",
}

HolidayLookup = Callable[[str], Container[date]]
"""The bank holidays of a region (``england_and_wales``): supplied by the infrastructure, so the
domain reads no calendar of its own. ``none`` is never asked for."""


def bank_holiday_region(value: str) -> str:
    """A region's name as versions store it, or a ``CalendarSpecError``."""
    if not isinstance(value, str) or not _REGION.match(value.strip()):
        raise CalendarSpecError(
            f"cannot read bank holidays {value!r}: use {', '.join(BANK_HOLIDAY_REGIONS)} "
            "or a country code such as IE or AU-NSW"
        )
    return value.strip()


def region_from_settings(value: str) -> str:
    """The region the settings' ``bank_holidays`` (``GB-ENG``, ``''``...) names."""
    code = value.strip().upper()
    return _SETTINGS_REGIONS.get(code, code)


class _AnyOf(Container[date]):
    def __init__(self, *containers: Container[date]) -> None:
        self._containers = containers

    def __contains__(self, day: object) -> bool:
        return any(day in c for c in self._containers)


# --- versions -----------------------------------------------------------------------------------


class CalendarVersion(BaseModel):
    """One version of a service's calendar, in force from ``effective_from`` until the next
    version's. Read back from stored events, so it carries no rules of its own (the commands
    check the fields; ``calendar`` reads them)."""

    model_config = ConfigDict(frozen=True)

    timezone: str
    operating_hours: dict[str, list[str]]
    bank_holidays: str
    closed_dates: list[date] = []
    effective_from: AwareDatetime
    rationale: str | None = None

    def calendar(self, holidays: HolidayLookup) -> ServiceCalendar:
        """The calendar this version describes, bank holidays from ``holidays``."""
        closed: Container[date] = frozenset(self.closed_dates)
        if self.bank_holidays != NO_BANK_HOLIDAYS:
            closed = _AnyOf(closed, holidays(self.bank_holidays))
        return ServiceCalendar(
            timezone=time_zone(self.timezone),
            hours=parse_operating_hours(self.operating_hours),
            closed_dates=closed,
        )


def first_version_from_settings(
    *,
    timezone: str,
    operating_hours: str,
    bank_holidays: str,
    closed_dates: Iterable[date] = (),
    effective_from: datetime | None = None,
    rationale: str = "The calendar in the settings when services were introduced.",
) -> CalendarVersion:
    """The first version of the ``default`` service from the settings' plain values
    (``operating_hours`` in the settings' form, ``mon-fri 09:00-17:00``; ``bank_holidays`` as
    ``GB-ENG`` or ``''``). In force from the start of time by default, so every moment judged by
    the settings before services existed is judged the same way after."""
    hours = parse_weekly_hours(operating_hours)
    shaped = format_operating_hours(hours)
    parse_operating_hours(shaped)  # refuses what the API could not take (09:00-09:00)
    always = operating_hours.strip().lower() in ("always", "24/7")
    return CalendarVersion(
        timezone=time_zone(timezone).key,
        operating_hours=shaped,
        # A 24/7 service does not close for bank holidays (as the settings' calendar never did).
        bank_holidays=NO_BANK_HOLIDAYS if always else region_from_settings(bank_holidays),
        closed_dates=sorted(set(closed_dates)),
        effective_from=effective_from or EARLIEST_VERSION,
        rationale=rationale,
    )


EARLIEST_VERSION = datetime(1900, 1, 1, tzinfo=UTC)
"""The ``effective_from`` of a calendar that has always been in force (the settings' calendar)."""


@dataclass(frozen=True)
class CalendarHistory:
    """A service's calendars over time. A moment is judged by the version in force at it: the
    latest whose ``effective_from`` is not after it (the first version, for a moment before
    every version: the service has no earlier calendar). A new version therefore never changes
    the judgement of a moment before its ``effective_from``."""

    starts: tuple[datetime, ...]
    calendars: tuple[ServiceCalendar, ...]

    def __post_init__(self) -> None:
        if not self.calendars or len(self.starts) != len(self.calendars):
            raise ValueError("a calendar history needs one start per calendar, and one at least")
        if list(self.starts) != sorted(self.starts):
            raise ValueError("a calendar history is in the order its versions take effect")

    @classmethod
    def of(cls, versions: Iterable[CalendarVersion], holidays: HolidayLookup) -> CalendarHistory:
        ordered = sorted(versions, key=lambda v: v.effective_from)
        return cls(
            starts=tuple(v.effective_from for v in ordered),
            calendars=tuple(v.calendar(holidays) for v in ordered),
        )

    @classmethod
    def always(cls, calendar: ServiceCalendar) -> CalendarHistory:
        """One calendar for all time (what Vigil had before services)."""
        return cls(starts=(EARLIEST_VERSION,), calendars=(calendar,))

    def index_at(self, at: datetime) -> int:
        """The index of the version in force at ``at``."""
        return max(bisect_right(self.starts, at) - 1, 0)

    def in_force(self, at: datetime) -> ServiceCalendar:
        return self.calendars[self.index_at(at)]

    def is_open(self, at: datetime) -> bool:
        return self.in_force(at).is_open(at)

    def is_out_of_hours(self, at: datetime) -> bool:
        return self.in_force(at).is_out_of_hours(at)

    def end_of_next_working_day(self, after: datetime) -> datetime:
        """By the version in force at ``after`` alone: a due time, once set, stays the same
        whatever versions come later (even one taking effect before the due time)."""
        return self.in_force(after).end_of_next_working_day(after)

    def out_of_hours_periods(self, start: datetime, end: datetime) -> list[intervals.Interval]:
        """The out-of-hours periods between ``start`` and ``end`` (clipped to them), each moment
        judged by the version in force at it; in UTC, in order, touching periods joined."""
        periods: list[intervals.Interval] = []
        bounds = [*self.starts[1:]]
        for i, calendar in enumerate(self.calendars):
            seg_start = start if i == 0 else max(start, self.starts[i])
            seg_end = min(end, bounds[i]) if i < len(bounds) else end
            if seg_start >= seg_end:
                continue
            seg_start, seg_end = seg_start.astimezone(UTC), seg_end.astimezone(UTC)
            open_ = _open_windows(calendar, seg_start, seg_end)
            periods.extend(intervals.subtract([(seg_start, seg_end)], open_))
        return [(s.astimezone(UTC), e.astimezone(UTC)) for s, e in intervals.merge(periods)]


def _open_windows(
    calendar: ServiceCalendar, start: datetime, end: datetime
) -> list[intervals.Interval]:
    day = start.astimezone(calendar.timezone).date() - timedelta(days=1)
    last = end.astimezone(calendar.timezone).date()
    found: list[intervals.Interval] = []
    while day <= last:
        found.extend((s.astimezone(UTC), e.astimezone(UTC)) for s, e in calendar.windows(day))
        day += timedelta(days=1)
    return intervals.clip(found, start, end)
