"""Service-level targets for the work queues, and the working-day arithmetic they need.

Every due time is computed from an event's own time (``occurred_at``) when the event is folded,
never from the clock at replay, so rebuilding a view gives the same due times. The defaults are
the service's own promises (an immediate escalation acknowledged within 30 minutes, an urgent one
within 4 hours, a routine one and a referral's acknowledgement within a working day, a referral
chased after 5); they live here, in one place, and settings may change them.

"N working days after T" follows the service calendar:

* T inside a working window: the same wall-clock time N working days later (capped at that
  day's close, for a day that closes earlier). Friday 16:00 + 1 working day = Monday 16:00
  (Tuesday 16:00 after a bank holiday Monday).
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


def _working_window_containing(
    calendar: ServiceCalendar, at: datetime
) -> tuple[date, datetime, datetime] | None:
    local = at.astimezone(calendar.timezone)
    # A window that runs past midnight belongs to the day it opened.
    for day in (local.date() - timedelta(days=1), local.date()):
        window = calendar.window(day)
        if window is not None and window[0] <= local < window[1]:
            return day, window[0], window[1]
    return None


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
        inside = _working_window_containing(calendar, at)
        if inside is None:
            # Out of hours: the first working day starts at the next opening and ends at its close.
            day, end = _first_window_opening_after(calendar, at)
            for _ in range(days - 1):
                opens, end = _next_working_window(calendar, day)
                day = opens.date()
            return end.astimezone(UTC)
        day, opens, _ = inside
        # Wall-clock offset into the working day (both ends in the service's time zone).
        offset = at.astimezone(calendar.timezone).replace(tzinfo=None) - opens.replace(tzinfo=None)
        for _ in range(days):
            opens, end = _next_working_window(calendar, day)
            day = opens.date()
        due = (opens.replace(tzinfo=None) + offset).replace(tzinfo=calendar.timezone)
        return min(due, end).astimezone(UTC)
    except LookupError:
        # A service that is never open has no working days: a day each.
        return (at + timedelta(days=days)).astimezone(UTC)
