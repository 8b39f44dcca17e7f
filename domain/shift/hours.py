"""Coverage arithmetic for the rota's gaps: a person's hours per week, and the out-of-hours
periods of a service no shift covers. Pure: the shifts come in as (person, start, end)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain import intervals
from domain.calendar import CalendarHistory

# Crisis lines advise volunteers to give no more than this a week.
DEFAULT_WEEKLY_CAP = timedelta(hours=12)


@dataclass(frozen=True)
class WeekHours:
    person: str
    week_of: date  # the local Monday the week starts on
    hours: timedelta


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_hours(
    spans: Iterable[tuple[str, datetime, datetime]], tz: ZoneInfo, start: datetime, end: datetime
) -> list[WeekHours]:
    """Each person's planned hours in every local week (Monday 00:00 to Monday 00:00 in ``tz``,
    so a week with a clock change is 167 or 169 hours long) that meets ``start``..``end``.

    A week counts the whole of it, not only the part inside the period (a cap is per week). A
    person's overlapping shifts count once (the union: two roles at once are not double
    hours). ``spans`` are (person, start, end) of the shifts' parts (``ShiftState.segments``
    of the shifts not cancelled). Weeks with no hours are left out."""
    by_person: dict[str, list[intervals.Interval]] = defaultdict(list)
    for person, s, e in spans:
        by_person[person].append((s, e))
    weeks: list[tuple[date, datetime, datetime]] = []
    monday = week_start(start.astimezone(tz).date())
    last = end.astimezone(tz).date()
    while monday <= last:
        nxt = monday + timedelta(days=7)
        weeks.append((monday, _midnight(monday, tz), _midnight(nxt, tz)))
        monday = nxt
    result: list[WeekHours] = []
    for person in sorted(by_person):
        for week_of, w_start, w_end in weeks:
            seconds = intervals.total_seconds(intervals.clip(by_person[person], w_start, w_end))
            if seconds:
                result.append(WeekHours(person, week_of, timedelta(seconds=seconds)))
    return result


def over_cap(hours: Iterable[WeekHours], cap: timedelta = DEFAULT_WEEKLY_CAP) -> list[WeekHours]:
    """The weeks in which a person is planned for more than ``cap``."""
    return [h for h in hours if h.hours > cap]


def uncovered_out_of_hours(
    history: CalendarHistory,
    start: datetime,
    end: datetime,
    covered: Iterable[intervals.Interval],
) -> list[intervals.Interval]:
    """The parts of the service's out-of-hours periods between ``start`` and ``end`` that no
    interval of ``covered`` covers (the on-call shifts planned, not cancelled), in UTC."""
    return intervals.subtract(history.out_of_hours_periods(start, end), covered)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz)
