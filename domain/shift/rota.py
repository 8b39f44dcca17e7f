"""Weekly patterns: a rota planned from ``[{"weekday": "tue", "start": "19:00", "end": "23:00"},
...]`` over a range of dates, in the service's time zone.

Each shift starts at its local wall-clock time on every matching date, on both sides of a clock
change (19:00 in London is 18:00 UTC in summer, 19:00 UTC in winter), so a shift's length in
hours may differ on the night the clocks change (22:00-06:00 is 7 hours in March, 9 in October).
An ``end`` not after the ``start`` runs into the next day; ``24:00`` is midnight.

A local time the clocks skip (01:30 on the last Sunday of March in London) is taken as the
wall clock reads it an hour later (02:30 BST: the same instant as 01:30 GMT); a local time the
clocks repeat (01:30 on the last Sunday of October) is its first occurrence (fold=0, BST). Both
are what ``zoneinfo`` gives with fold=0, resolved once through UTC so the stored times are
unambiguous instants.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Self
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.calendar import WEEKDAYS
from domain.service.commands import DEFAULT_SERVICE, ServiceName
from domain.shared import Reason, Username
from domain.shift.commands import PlanShift
from domain.shift.decide import ShiftContext, plan
from domain.shift.errors import RotaInvalid
from domain.shift.events import ShiftPlanned
from domain.shift.vocabulary import ShiftRole

MAX_ROTA_DAYS = 366
MAX_ROTA_SHIFTS = 1000
ROTA_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/rota")
_CLOCK = re.compile(r"^(\d{2}):(\d{2})$")


def _clock_minutes(value: str, *, end: bool) -> int:
    found = _CLOCK.match(value.strip())
    hours, minutes = (int(g) for g in found.groups()) if found else (99, 99)
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not end)):
        raise ValueError(f"cannot read {value!r}: write HH:MM, e.g. 19:00 (an end may be 24:00)")
    return hours * 60 + minutes


class WeeklySlot(BaseModel):
    """One shift a week: on ``weekday``, from ``start`` to ``end`` (local time)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    weekday: str
    start: str
    end: str

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        day = value.lower()
        if day not in WEEKDAYS:
            raise ValueError(f"unknown weekday {value!r}: use {', '.join(WEEKDAYS)}")
        return day

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        _clock_minutes(value, end=False)  # HH:MM, named on the field itself
        return value

    @field_validator("end")
    @classmethod
    def _end(cls, value: str) -> str:
        _clock_minutes(value, end=True)
        return value

    @model_validator(mode="after")
    def _times(self) -> Self:
        if _clock_minutes(self.start, end=False) == _clock_minutes(self.end, end=True) % (24 * 60):
            raise ValueError(
                "a shift's start and end differ (an end before the start runs past midnight)"
            )
        return self

    def span(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The shift on local date ``day`` (which falls on ``weekday``), as UTC instants."""
        start = _clock_minutes(self.start, end=False)
        end = _clock_minutes(self.end, end=True)
        end_day = day + timedelta(days=1) if end <= start or end == 24 * 60 else day
        begins, ends = local_instant(day, start, tz), local_instant(end_day, end % (24 * 60), tz)
        if ends <= begins:
            # The clocks skipped the whole slot (02:00-03:00 on a spring-forward night): it
            # starts when the clocks land and lasts as long as the pattern says.
            ends = begins + timedelta(minutes=(end - start) % (24 * 60) or 24 * 60)
        return begins, ends


def local_instant(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """``minutes`` past local midnight of ``day`` as a UTC instant (fold=0: see the module)."""
    wall = datetime.combine(day, time(minutes // 60, minutes % 60), tz)  # fold=0
    return wall.astimezone(UTC)


def expand_weekly(
    weekly: list[WeeklySlot], first: date, last: date, tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """Every shift of the pattern on the dates ``first`` to ``last`` (both included), in
    order of start, as UTC instants."""
    spans: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        name = WEEKDAYS[day.weekday()]
        spans.extend(slot.span(day, tz) for slot in weekly if slot.weekday == name)
        day += timedelta(days=1)
    return sorted(spans)


class PlanRota(BaseModel):
    """Plan each shift of a weekly pattern from ``from`` to ``until`` (dates, both included)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, populate_by_name=True
    )

    service: ServiceName = DEFAULT_SERVICE
    role: ShiftRole
    assignee: Username
    weekly: list[WeeklySlot] = Field(min_length=1, max_length=50)
    from_: date = Field(alias="from")
    until: date
    reason: Reason | None = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.until < self.from_:
            raise ValueError("until is not before from")
        if (self.until - self.from_).days >= MAX_ROTA_DAYS:
            raise ValueError(f"a rota covers at most {MAX_ROTA_DAYS} days")
        return self


def rota_shift_id(pattern_id: UUID, starts_at: datetime) -> UUID:
    """A pattern's shift's id, from the pattern and the shift's start (a retry plans the same
    shifts again, not more of them)."""
    return uuid5(ROTA_NAMESPACE, f"{pattern_id}/{starts_at.astimezone(UTC).isoformat()}")


def plan_rota(
    command: PlanRota, pattern_id: UUID, tz: ZoneInfo, ctx: ShiftContext
) -> list[ShiftPlanned]:
    """The plan of every shift of the pattern (one event per shift, each its own stream), in
    ``tz`` (the service's time zone, from its calendar in force then), or ``RotaInvalid``: no
    shift in the range, more than ``MAX_ROTA_SHIFTS``, shifts of the pattern that overlap, or a
    shift whose start has passed (plan from a later date, or that one shift as cover)."""
    spans = expand_weekly(command.weekly, command.from_, command.until, tz)
    if not spans:
        raise RotaInvalid(
            "the pattern plans no shift between from and until", errors={"weekly": "no shift"}
        )
    if len(spans) > MAX_ROTA_SHIFTS:
        raise RotaInvalid(
            f"a rota plans at most {MAX_ROTA_SHIFTS} shifts", errors={"until": "too far"}
        )
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise RotaInvalid(
                f"two shifts of the pattern overlap at {start.isoformat()}",
                errors={"weekly": "overlapping shifts"},
            )
    now = ctx.decision.now
    if spans[0][0] < now:
        raise RotaInvalid(
            f"the shift at {spans[0][0].isoformat()} has started: plan from a later date",
            errors={"from": "a shift in the range has started"},
        )
    events: list[ShiftPlanned] = []
    for starts_at, ends_at in spans:
        shift = PlanShift(
            service=command.service,
            role=command.role,
            assignee=command.assignee,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=command.reason,
            pattern_id=pattern_id,
        )
        events.append(plan(rota_shift_id(pattern_id, starts_at), shift, ctx))
    return events
