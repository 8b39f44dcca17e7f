"""Working-day deadlines on days of several ranges, and queue due times judged by the calendar
version in force when each clock started (``projections.sla``, ``projections.queue_rows``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import EARLIEST_VERSION, CalendarHistory, CalendarVersion
from domain.case import commands as c
from domain.case.vocabulary import Urgency
from projections.queue_rows import Queue, queue_rows
from projections.sla import working_days_after
from tests.story import Story, open_case

LONDON = ZoneInfo("Europe/London")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
SPLIT = {day: ["09:00-12:00", "14:00-17:00"] for day in WEEKDAYS}


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[arg-type,misc]


def version(hours: dict[str, list[str]], effective_from: datetime) -> CalendarVersion:
    return CalendarVersion(
        timezone="Europe/London",
        operating_hours=hours,
        bank_holidays="none",
        effective_from=effective_from,
    )


def no_holidays(region: str) -> frozenset[date]:
    return frozenset()


SPLIT_DAYS = version(SPLIT, EARLIEST_VERSION).calendar(no_holidays)


@pytest.mark.parametrize(
    ("at", "due"),
    [
        # In a range: as much working time into the next working day, i.e. the same time.
        (london(2026, 11, 16, 10, 0), london(2026, 11, 17, 10, 0)),
        (london(2026, 11, 16, 15, 0), london(2026, 11, 17, 15, 0)),
        # In the gap between ranges: the lunch hours are not working time (the clock stands at
        # 3 h worked), so not Tuesday 12:30, in Tuesday's gap, but Tuesday 12:00.
        (london(2026, 11, 16, 12, 30), london(2026, 11, 17, 12, 0)),
        (london(2026, 11, 16, 13, 59), london(2026, 11, 17, 12, 0)),
        # Out of hours between days: the close of the next working day (its last range).
        (london(2026, 11, 16, 20, 0), london(2026, 11, 17, 17, 0)),
        (london(2026, 11, 16, 7, 0), london(2026, 11, 16, 17, 0)),
        # Friday afternoon: Monday, the weekend is not working time.
        (london(2026, 11, 20, 16, 30), london(2026, 11, 23, 16, 30)),
    ],
)
def test_a_working_day_of_two_ranges_works_only_in_them(at: datetime, due: datetime) -> None:
    assert working_days_after(SPLIT_DAYS, at, 1) == due.astimezone(UTC)


def test_working_time_carries_into_a_day_of_other_ranges_and_is_capped_at_its_close() -> None:
    # Monday in two ranges (6 h), Tuesday one long range, Wednesday a short morning.
    hours = {
        "mon": ["09:00-12:00", "14:00-17:00"],
        "tue": ["10:00-18:00"],
        "wed": ["09:00-11:00"],
    }
    calendar = version(hours, EARLIEST_VERSION).calendar(no_holidays)
    # 15:00 on Monday is 4 h into its working day: Tuesday 10:00 + 4 h.
    assert working_days_after(calendar, london(2026, 11, 16, 15, 0), 1) == london(
        2026, 11, 17, 14, 0
    ).astimezone(UTC)
    # 16:30 on Tuesday is 6.5 h in; Wednesday works 2 h: capped at its close.
    assert working_days_after(calendar, london(2026, 11, 17, 16, 30), 1) == london(
        2026, 11, 18, 11, 0
    ).astimezone(UTC)
    # Two working days from Monday 10:00 (1 h in): Wednesday 10:00.
    assert working_days_after(calendar, london(2026, 11, 16, 10, 0), 2) == london(
        2026, 11, 18, 10, 0
    ).astimezone(UTC)


def test_a_queue_item_is_due_by_the_version_in_force_when_its_clock_started() -> None:
    # A helpline open Monday to Wednesday mornings, then (from Tuesday noon) every weekday
    # until 20:00.
    change = london(2026, 11, 17, 12, 0)
    history = CalendarHistory.of(
        [
            version({day: ["08:00-14:00"] for day in ("mon", "tue", "wed")}, EARLIEST_VERSION),
            version({day: ["08:00-20:00"] for day in WEEKDAYS}, change),
        ],
        no_holidays,
    )
    story = Story.opened(
        open_case(occurred_at=london(2026, 11, 16, 15, 0)),
        start=london(2026, 11, 17, 13, 0).astimezone(UTC),
    )
    for raised in (london(2026, 11, 16, 15, 0), london(2026, 11, 17, 12, 30)):
        story.given(
            c.EscalateCase(
                level=2,
                reason="A lead must see this case",
                urgency=Urgency.ROUTINE,
                occurred_at=raised,
            )
        )
    rows = [
        r for r in queue_rows(story.case, history) if r["queue"] == Queue.UNACKNOWLEDGED_ESCALATIONS
    ]

    # The first escalation, raised out of the first version's hours on Monday afternoon, is due
    # by Tuesday's close under that version (14:00), although the second version (in force since
    # Tuesday noon) would have closed at 20:00; the second is due by the second version: Tuesday
    # 12:30 is within its hours, so Wednesday 12:30.
    assert sorted(r["due_at"] for r in rows) == [
        london(2026, 11, 17, 14, 0).astimezone(UTC),
        london(2026, 11, 18, 12, 30).astimezone(UTC),
    ]
    assert all(r["due_at"] - r["since_at"] < timedelta(days=2) for r in rows)
