"""Weekly patterns expanded into shifts in the service's time zone, right across clock changes,
and the coverage arithmetic the rota's gaps are made of."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.calendar import EARLIEST_VERSION, WEEKDAYS, CalendarHistory, CalendarVersion
from domain.shared import Actor, DecisionContext, Role
from domain.shift.decide import ShiftContext
from domain.shift.errors import RotaInvalid
from domain.shift.hours import WeekHours, over_cap, uncovered_out_of_hours, weekly_hours
from domain.shift.rota import PlanRota, WeeklySlot, expand_weekly, plan_rota, rota_shift_id

LONDON = ZoneInfo("Europe/London")
PATTERN = UUID("00000000-0000-4000-8000-0000000000a1")
# The seed's rota: Tuesday 10:00-12:00 and 19:00-23:00; Saturday 09:00-11:00, 15:00-17:00 and
# 20:00-23:00.
SEED = [
    {"weekday": "tue", "start": "10:00", "end": "12:00"},
    {"weekday": "tue", "start": "19:00", "end": "23:00"},
    {"weekday": "sat", "start": "09:00", "end": "11:00"},
    {"weekday": "sat", "start": "15:00", "end": "17:00"},
    {"weekday": "sat", "start": "20:00", "end": "23:00"},
]


def slots(raw: list[dict[str, str]]) -> list[WeeklySlot]:
    return [WeeklySlot.model_validate(s) for s in raw]


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[arg-type,misc]


def test_a_shift_is_at_the_same_local_time_on_both_sides_of_each_clock_change() -> None:
    tuesday_night = slots([{"weekday": "tue", "start": "19:00", "end": "23:00"}])
    # March: the clocks go forward on Sunday 29 March 2026.
    march = expand_weekly(tuesday_night, date(2026, 3, 20), date(2026, 4, 3), LONDON)
    assert march == [
        (datetime(2026, 3, 24, 19, tzinfo=UTC), datetime(2026, 3, 24, 23, tzinfo=UTC)),
        (datetime(2026, 3, 31, 18, tzinfo=UTC), datetime(2026, 3, 31, 22, tzinfo=UTC)),
    ]
    # October: back on Sunday 25 October 2026.
    october = expand_weekly(tuesday_night, date(2026, 10, 20), date(2026, 10, 27), LONDON)
    assert october == [
        (datetime(2026, 10, 20, 18, tzinfo=UTC), datetime(2026, 10, 20, 22, tzinfo=UTC)),
        (datetime(2026, 10, 27, 19, tzinfo=UTC), datetime(2026, 10, 27, 23, tzinfo=UTC)),
    ]
    for start, _ in march + october:
        assert start.astimezone(LONDON).time() == time(19)


def test_a_night_shift_across_the_change_is_shorter_or_longer() -> None:
    night = slots([{"weekday": "sat", "start": "22:00", "end": "06:00"}])
    [(s, e)] = expand_weekly(night, date(2026, 3, 28), date(2026, 3, 28), LONDON)
    assert e - s == timedelta(hours=7)
    assert e.astimezone(LONDON) == london(2026, 3, 29, 6)
    [(s, e)] = expand_weekly(night, date(2026, 10, 24), date(2026, 10, 24), LONDON)
    assert e - s == timedelta(hours=9)


def test_a_time_the_clocks_skip_or_repeat_is_taken_deliberately() -> None:
    small_hours = slots([{"weekday": "sun", "start": "01:30", "end": "03:00"}])
    # 29 March 2026: 01:00 GMT jumps to 02:00 BST. 01:30 does not exist: taken as 01:30 GMT.
    [(s, e)] = expand_weekly(small_hours, date(2026, 3, 29), date(2026, 3, 29), LONDON)
    assert s == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert s.astimezone(LONDON).time() == time(2, 30)
    assert e == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)  # 03:00 BST
    # 25 October 2026: 01:30 happens twice; the first (BST, 00:30 UTC) is taken.
    [(s, e)] = expand_weekly(small_hours, date(2026, 10, 25), date(2026, 10, 25), LONDON)
    assert s == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert e == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)  # 03:00 GMT


def test_an_end_at_midnight() -> None:
    late = slots([{"weekday": "sat", "start": "20:00", "end": "24:00"}])
    [(s, e)] = expand_weekly(late, date(2026, 11, 21), date(2026, 11, 21), LONDON)
    assert (s.astimezone(LONDON), e.astimezone(LONDON)) == (
        london(2026, 11, 21, 20),
        london(2026, 11, 22),
    )


@pytest.mark.parametrize(
    "slot",
    [
        {"weekday": "tuesday", "start": "19:00", "end": "23:00"},
        {"weekday": "tue", "start": "7pm", "end": "23:00"},
        {"weekday": "tue", "start": "24:00", "end": "23:00"},
        {"weekday": "tue", "start": "19:00", "end": "24:30"},
        {"weekday": "tue", "start": "19:00", "end": "19:00"},
        {"weekday": "tue", "start": "00:00", "end": "24:00"},
        {"weekday": "tue", "start": "19:00"},
    ],
)
def test_a_slot_it_cannot_read_is_refused(slot: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        WeeklySlot.model_validate(slot)


NOW = datetime(2026, 11, 16, 12, tzinfo=UTC)
CASEY = Actor(username="casey", role=Role.COORDINATOR)


def rota(**fields: Any) -> PlanRota:
    body = {
        "role": "coordinator",
        "assignee": "kit",
        "weekly": SEED,
        "from": "2026-11-17",
        "until": "2026-11-30",
        **fields,
    }
    return PlanRota.model_validate(body)


def ctx(now: datetime = NOW) -> ShiftContext:
    return ShiftContext(decision=DecisionContext(actor=CASEY, now=now))


def test_the_seeds_rota_is_planned_one_event_per_shift() -> None:
    events = plan_rota(rota(), PATTERN, LONDON, ctx())
    assert len(events) == 2 * 2 + 2 * 3  # two Tuesdays, two Saturdays
    assert {e.pattern_id for e in events} == {PATTERN}
    assert [e.originator_id for e in events] == [
        rota_shift_id(PATTERN, e.starts_at) for e in events
    ]
    assert len({e.originator_id for e in events}) == len(events)
    assert all(e.originator_version == 1 and e.assignee == "kit" for e in events)
    first = events[0]
    assert (first.starts_at.astimezone(LONDON), first.ends_at.astimezone(LONDON)) == (
        london(2026, 11, 17, 10),
        london(2026, 11, 17, 12),
    )


def test_a_rota_whose_first_shift_has_started_is_refused() -> None:
    with pytest.raises(RotaInvalid, match="has started"):
        plan_rota(rota(), PATTERN, LONDON, ctx(now=datetime(2026, 11, 17, 10, 30, tzinfo=UTC)))


def test_a_rota_that_plans_nothing_or_overlaps_is_refused() -> None:
    with pytest.raises(RotaInvalid, match="no shift"):
        plan_rota(
            rota(weekly=[SEED[0]], until="2026-11-18", **{"from": "2026-11-18"}),
            PATTERN,
            LONDON,
            ctx(),
        )
    overlapping = [SEED[1], {"weekday": "tue", "start": "22:00", "end": "02:00"}]
    with pytest.raises(RotaInvalid, match="overlap"):
        plan_rota(rota(weekly=overlapping), PATTERN, LONDON, ctx())


@pytest.mark.parametrize(
    "fields",
    [
        {"until": "2026-11-16"},
        {"until": "2027-11-18"},
        {"weekly": []},
        {"role": "lead"},
        {"assignee": "Kit Smith"},
    ],
)
def test_a_rota_command_it_cannot_read_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        rota(**fields)


slot_strategy = st.builds(
    lambda day, start, length: {
        "weekday": day,
        "start": f"{start // 60:02d}:{start % 60:02d}",
        "end": "24:00"
        if (start + length) == 1440
        else f"{(start + length) % 1440 // 60:02d}:{(start + length) % 60:02d}",
    },
    st.sampled_from(WEEKDAYS),
    st.integers(0, 95).map(lambda q: q * 15),
    st.integers(1, 95).map(lambda q: q * 15),
)


@given(
    slot=slot_strategy,
    first=st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31)),
    days=st.integers(0, 120),
    zone=st.sampled_from(["Europe/London", "America/New_York", "Australia/Sydney", "UTC"]),
)
def test_every_shift_starts_at_the_patterns_local_time_once_per_matching_date(
    slot: dict[str, str], first: date, days: int, zone: str
) -> None:
    tz = ZoneInfo(zone)
    last = first + timedelta(days=days)
    weekly = slots([slot])
    spans = expand_weekly(weekly, first, last, tz)
    matching = [
        first + timedelta(days=i)
        for i in range(days + 1)
        if WEEKDAYS[(first + timedelta(days=i)).weekday()] == slot["weekday"]
    ]
    assert len(spans) == len(matching)
    start = time.fromisoformat(slot["start"])
    for (s, e), day in zip(spans, matching, strict=True):
        local = s.astimezone(tz)
        assert e > s
        assert e - s <= timedelta(hours=25)
        # On the pattern's date at the pattern's time, except when the clocks skip that time.
        naive = datetime.combine(day, start)
        exists = (
            datetime.combine(day, start, tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
            == naive
        )
        if exists:
            assert (local.date(), local.time()) == (day, start)
        else:
            assert local.replace(tzinfo=None) > naive


# --- hours and gaps -----------------------------------------------------------------------------


def test_weekly_hours_count_each_persons_union_in_local_weeks() -> None:
    mon = london(2026, 11, 16)
    spans = [
        ("kit", mon + timedelta(hours=19), mon + timedelta(hours=23)),
        ("kit", mon + timedelta(hours=21), mon + timedelta(hours=24)),  # overlaps: counts once
        (
            "kit",
            mon + timedelta(days=6, hours=22),
            mon + timedelta(days=7, hours=4),
        ),  # into next week
        ("sam", mon + timedelta(days=1, hours=10), mon + timedelta(days=1, hours=12)),
    ]
    hours = weekly_hours(spans, LONDON, mon, mon + timedelta(days=14))
    assert hours == [
        WeekHours("kit", date(2026, 11, 16), timedelta(hours=5 + 2)),
        WeekHours("kit", date(2026, 11, 23), timedelta(hours=4)),
        WeekHours("sam", date(2026, 11, 16), timedelta(hours=2)),
    ]
    assert over_cap(hours, timedelta(hours=6)) == [hours[0]]
    assert over_cap(hours) == []


def test_a_week_with_the_clocks_going_back_has_169_hours() -> None:
    mon = london(2026, 10, 19)
    whole_week = [("kit", mon, mon + timedelta(days=8))]
    [week, _] = weekly_hours(whole_week, LONDON, mon, mon + timedelta(days=7))
    assert week.hours == timedelta(hours=169)


def test_out_of_hours_periods_no_on_call_shift_covers() -> None:
    weekdays = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    version = CalendarVersion(
        timezone="Europe/London",
        operating_hours=weekdays,
        bank_holidays="none",
        effective_from=EARLIEST_VERSION,
    )
    history = CalendarHistory.of([version], lambda region: frozenset())
    start, end = london(2026, 11, 17), london(2026, 11, 18)
    covered = [(london(2026, 11, 17, 17), london(2026, 11, 17, 23))]
    assert uncovered_out_of_hours(history, start, end, covered) == [
        (london(2026, 11, 17), london(2026, 11, 17, 9)),
        (london(2026, 11, 17, 23), london(2026, 11, 18)),
    ]


def test_a_slot_the_clocks_skip_starts_when_they_land_and_keeps_its_length() -> None:
    # New York springs forward at 02:00 on Sunday 9 March 2025: 02:00-03:00 never happens.
    [(start, end)] = expand_weekly(
        slots([{"weekday": "sun", "start": "02:00", "end": "03:00"}]),
        date(2025, 3, 9),
        date(2025, 3, 9),
        ZoneInfo("America/New_York"),
    )
    assert start == datetime(2025, 3, 9, 7, 0, tzinfo=UTC)  # 03:00 EDT
    assert end - start == timedelta(hours=1)
