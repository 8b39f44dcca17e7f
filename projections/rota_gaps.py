"""The rota's gaps over a period, for one service: its out-of-hours periods with no on-call
shift planned, those with no coordinator or safeguarding lead on call, and the people planned
for more than the weekly hours cap. Pure arithmetic (``domain.shift.hours``) over the parts the
rota plans now (``Rota.planned_parts``), judged by the service's calendar in force at each moment
(``CalendarHistory``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field

from domain.calendar import CalendarHistory
from domain.shift.hours import DEFAULT_WEEKLY_CAP, over_cap, uncovered_out_of_hours, week_start
from domain.shift.hours import weekly_hours as hours_per_week
from domain.shift.vocabulary import ShiftRole
from projections.paging import InvalidQuery
from projections.rota import check_range

MAX_GAPS_SPAN = timedelta(days=92)
# Shift roles whose holder is "on call" for out-of-hours decisions.
ON_CALL_ROLES = frozenset({ShiftRole.ON_CALL, ShiftRole.COORDINATOR})

PlannedPart = tuple[str, str, ShiftRole, datetime, datetime]
"""(assignee, service, role, start, end): a part of a shift planned now (not cancelled)."""


class Period(BaseModel):
    model_config = ConfigDict(frozen=True)

    starts_at: datetime
    ends_at: datetime


class OverCap(BaseModel):
    model_config = ConfigDict(frozen=True)

    person: str
    week_of: date = Field(description="The Monday the week starts on (the service's time zone).")
    hours: float


class RotaGaps(BaseModel):
    """Where the rota leaves the service without cover, and who is planned for too much."""

    model_config = ConfigDict(frozen=True)

    service: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    timezone: str = Field(description="The service's time zone at `from` (weeks are local).")
    uncovered_out_of_hours: list[Period] = Field(
        description="Out-of-hours periods of the service with no on_call shift planned."
    )
    no_coordinator_or_lead_on_call: list[Period] = Field(
        description="Out-of-hours periods with no coordinator or safeguarding lead on call (an "
        "on_call or coordinator shift held by a user with either role)."
    )
    over_weekly_cap: list[OverCap] = Field(
        description="People planned (across every service) for more than the cap in a week "
        "meeting the period."
    )
    weekly_cap_hours: float


def check_gaps_range(start: datetime, end: datetime) -> None:
    check_range(start, end)
    if end - start > MAX_GAPS_SPAN:
        raise InvalidQuery(
            f"gaps are computed for at most {MAX_GAPS_SPAN.days} days at once",
            errors={"to": f"more than {MAX_GAPS_SPAN.days} days after from"},
        )


def weeks_around(history: CalendarHistory, start: datetime, end: datetime) -> Period:
    """From the local Monday of ``start``'s week to the Monday after ``end``'s: the span whose
    planned parts the weekly hours need."""
    tz = history.in_force(start).timezone
    first = week_start(start.astimezone(tz).date())
    last = week_start(end.astimezone(tz).date()) + timedelta(days=7)
    return Period(
        starts_at=datetime.combine(first, time(0), tz), ends_at=datetime.combine(last, time(0), tz)
    )


def rota_gaps(
    *,
    service: str,
    history: CalendarHistory,
    parts: Sequence[PlannedPart],
    start: datetime,
    end: datetime,
    lead_or_coordinator: Callable[[str], bool],
    cap: timedelta = DEFAULT_WEEKLY_CAP,
) -> RotaGaps:
    """The gaps of ``service`` in ``[start, end)``; ``parts`` span ``weeks_around`` it."""
    check_gaps_range(start, end)
    own = [p for p in parts if p[1] == service]
    on_call = [(s, e) for _, _, role, s, e in own if role is ShiftRole.ON_CALL]
    deciders: dict[str, bool] = {}

    def decides(person: str) -> bool:
        if person not in deciders:
            deciders[person] = lead_or_coordinator(person)
        return deciders[person]

    leads = [(s, e) for who, _, role, s, e in own if role in ON_CALL_ROLES and decides(who)]
    tz = history.in_force(start).timezone
    weeks = hours_per_week([(who, s, e) for who, _, _, s, e in parts], tz, start, end)
    return RotaGaps(
        service=service,
        start=start,
        end=end,
        timezone=tz.key,
        uncovered_out_of_hours=[
            Period(starts_at=s, ends_at=e)
            for s, e in uncovered_out_of_hours(history, start, end, on_call)
        ],
        no_coordinator_or_lead_on_call=[
            Period(starts_at=s, ends_at=e)
            for s, e in uncovered_out_of_hours(history, start, end, leads)
        ],
        over_weekly_cap=[
            OverCap(person=w.person, week_of=w.week_of, hours=w.hours.total_seconds() / 3600)
            for w in over_cap(weeks, cap)
        ],
        weekly_cap_hours=cap.total_seconds() / 3600,
    )
