"""Service-level targets for the work queues, and the working-day arithmetic they need.

Every due time is computed from an event's own time (``occurred_at``) when the event is folded,
never from the clock at replay, so rebuilding a view gives the same due times. The defaults are
the service's own promises (an immediate escalation acknowledged within 30 minutes, an urgent one
within 4 hours, a routine one and a referral's acknowledgement within a working day, a referral
chased after 5); they live here, in one place, and settings may change them.

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

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from domain.calendar import ServiceCalendar
from domain.case.vocabulary import Urgency

# Look this far ahead for a working day before deciding the service is never open.
_HORIZON_DAYS = 400


@dataclass(frozen=True)
class Target:
    """A deadline: a fixed duration, or a number of working days on the service calendar."""

    duration: timedelta | None = None
    working_days: int = 0

    def due(self, calendar: ServiceCalendar, start: datetime) -> datetime:
        if self.duration is not None:
            return (start + self.duration).astimezone(UTC)
        return working_days_after(calendar, start, self.working_days)


def _default_escalation_targets() -> dict[Urgency, Target]:
    return {
        Urgency.IMMEDIATE: Target(duration=timedelta(minutes=30)),
        Urgency.URGENT: Target(duration=timedelta(hours=4)),
        Urgency.ROUTINE: Target(working_days=1),
    }


@dataclass(frozen=True)
class QueueRules:
    """The targets the work queues use (by default the service's own: see the module's note)."""

    escalation_acknowledged: Mapping[Urgency, Target] = field(
        default_factory=_default_escalation_targets
    )
    # Local authorities acknowledge a referral within one working day; chase when not.
    referral_acknowledged: Target = field(default_factory=lambda: Target(working_days=1))
    # An acknowledged referral whose outcome has not come: chase this long after the latest of
    # its acknowledgement and the last follow-up.
    referral_chase: Target = field(default_factory=lambda: Target(working_days=5))
    # Four-eyes: a decision held for a second safeguarding lead is due this long after the request.
    approval_decided: Target = field(default_factory=lambda: Target(working_days=1))

    def escalation_due(
        self, calendar: ServiceCalendar, urgency: Urgency, raised_at: datetime
    ) -> datetime:
        return self.escalation_acknowledged[urgency].due(calendar, raised_at)


DEFAULT_RULES = QueueRules()


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
