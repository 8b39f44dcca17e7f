"""Due times from SLA targets, and the working-day arithmetic they need.

Every due time is computed from an event's own time (``occurred_at``) when the event is folded,
never from the clock at replay, so rebuilding a view gives the same due times. The targets are
the SLA policy's (``domain.policy.sla.SlaTargets``): the version in force when each clock
started, as the log held the policy at the event (``projections.sla_policies``), so a new
version never moves a due time already set.

"N working days after T" follows the calendar of the case's service in force at T (a later
version never changes a due time: ``projections.service_calendars``):

* T inside a working day (from its first opening to its last close): as much working time into
  the working day N working days later (capped at that day's close, for a day that closes
  earlier). On days of one range that is the same wall-clock time: Friday 16:00 + 1 working day
  = Monday 16:00 (Tuesday 16:00 after a bank holiday Monday). A day of several ranges works
  only in its ranges: the gaps between them are not working time (09:00-12:00 and 14:00-17:00:
  Monday 15:00 and Monday 12:30 + 1 working day = Tuesday 15:00 and Tuesday 12:00).
* T out of hours: the clock starts at the next opening, so one working day ends at the close of
  the next working day (as the out-of-hours review deadline does): Saturday 02:00 + 1 working
  day = Monday 17:00; each further day adds a working day, ending at its close.
* A service never open has no working days: each counts as 24 hours.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.calendar import ServiceCalendar
from domain.policy.sla import (
    DEFAULT_TARGETS,
    SlaPolicyHistory,
    Target,
    first_version,
)

__all__ = ["DEFAULT_HISTORY", "Target", "due", "working_days_after"]

# Look this far ahead for a working day before deciding the service is never open.
_HORIZON_DAYS = 400

DEFAULT_HISTORY = SlaPolicyHistory(versions=(first_version(DEFAULT_TARGETS),))
"""The default targets for all time (a view or a test built without a policy)."""


def due(target: Target, calendar: ServiceCalendar, start: datetime) -> datetime:
    """When work whose clock started at ``start`` is due under ``target`` (UTC)."""
    if target.minutes is not None:
        return (start + timedelta(minutes=target.minutes)).astimezone(UTC)
    assert target.working_days is not None
    return working_days_after(calendar, start, target.working_days)


Windows = tuple[tuple[datetime, datetime], ...]


def _working_day_containing(calendar: ServiceCalendar, at: datetime) -> tuple[date, Windows] | None:
    """The working day ``at`` falls in (between its first opening and its last close: in one of
    its ranges, or in a gap between them), with its ranges."""
    local = at.astimezone(calendar.timezone)
    # A window that runs past midnight belongs to the day it opened.
    for day in (local.date() - timedelta(days=1), local.date()):
        windows = calendar.windows(day)
        if windows and windows[0][0] <= local < max(end for _, end in windows):
            return day, windows
    return None


def _wall(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def _worked(windows: Windows, local: datetime) -> timedelta:
    """Working time of a day's ranges before ``local`` (wall clock; a gap between ranges is not
    working time)."""
    now = _wall(local)
    return sum(
        (min(_wall(end), now) - _wall(start) for start, end in windows if _wall(start) < now),
        timedelta(),
    )


def _after_working(windows: Windows, worked: timedelta, calendar: ServiceCalendar) -> datetime:
    """The moment of a day at which ``worked`` working time has passed (wall clock), or its last
    close for a day with less working time than that."""
    for start, end in windows:
        length = _wall(end) - _wall(start)
        if worked <= length:
            return (_wall(start) + worked).replace(tzinfo=calendar.timezone)
        worked -= length
    return max(end for _, end in windows)


def _next_working_day(calendar: ServiceCalendar, after_day: date) -> tuple[date, Windows]:
    day = after_day
    for _ in range(_HORIZON_DAYS):
        day += timedelta(days=1)
        windows = calendar.windows(day)
        if windows:
            return day, windows
    raise LookupError("no working day")


def _next_working_window(calendar: ServiceCalendar, after_day: date) -> tuple[datetime, datetime]:
    day = after_day
    for _ in range(_HORIZON_DAYS):
        day += timedelta(days=1)
        window = calendar.window(day)
        if window is not None:
            return window
    raise LookupError("no working day")


def _first_window_opening_after(calendar: ServiceCalendar, at: datetime) -> tuple[date, datetime]:
    local = at.astimezone(calendar.timezone)
    day = local.date() - timedelta(days=1)
    for _ in range(_HORIZON_DAYS):
        window = calendar.window(day)
        if window is not None and window[0] > local:
            return day, window[1]
        day += timedelta(days=1)
    raise LookupError("no working day")


def working_days_after(calendar: ServiceCalendar, at: datetime, days: int) -> datetime:
    """``days`` working days after ``at`` on the service calendar (see the module notes), UTC."""
    if days <= 0:
        return at.astimezone(UTC)
    try:
        inside = _working_day_containing(calendar, at)
        if inside is None:
            # Out of hours: the first working day starts at the next opening and ends at its close.
            day, end = _first_window_opening_after(calendar, at)
            for _ in range(days - 1):
                opens, end = _next_working_window(calendar, day)
                day = opens.date()
            return end.astimezone(UTC)
        day, windows = inside
        # Working time into the working day (wall clock, in the service's time zone).
        worked = _worked(windows, at.astimezone(calendar.timezone))
        for _ in range(days):
            day, windows = _next_working_day(calendar, day)
        return _after_working(windows, worked, calendar).astimezone(UTC)
    except LookupError:
        # A service that is never open has no working days: a day each.
        return (at + timedelta(days=days)).astimezone(UTC)
