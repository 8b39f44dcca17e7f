"""The service calendar: what counts as out of hours, and when "the end of the next working day"
falls. Built the way the app builds it, from settings, with England-and-Wales bank holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from domain.calendar import OpeningHours, ServiceCalendar, parse_weekly_hours
from infrastructure.settings import Settings
from tests.story import calendar

LONDON = ZoneInfo("Europe/London")
DEFAULT = calendar()
EVENINGS = calendar(operating_hours="mon-sun 08:00-00:00")
ALWAYS = calendar(operating_hours="always", bank_holidays="")


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_the_default_calendar_is_weekdays_nine_to_five_in_london() -> None:
    assert DEFAULT.timezone == LONDON
    assert dict(DEFAULT.hours) == {d: OpeningHours(time(9), time(17)) for d in range(5)}


@pytest.mark.parametrize(
    ("moment", "out_of_hours"),
    [
        (london(2026, 11, 17, 8, 59, 59), True),
        (london(2026, 11, 17, 9, 0), False),  # opening time is in hours
        (london(2026, 11, 17, 12, 0), False),
        (london(2026, 11, 17, 16, 59, 59), False),
        (london(2026, 11, 17, 17, 0), True),  # closing time is out of hours
        (london(2026, 11, 17, 23, 10), True),
        (london(2026, 11, 21, 12, 0), True),  # Saturday
        (london(2026, 11, 22, 12, 0), True),  # Sunday
        (london(2026, 11, 16, 0, 0), True),  # Monday, midnight
    ],
)
def test_in_and_out_of_hours_at_the_boundaries(moment: datetime, out_of_hours: bool) -> None:
    assert DEFAULT.is_out_of_hours(moment) is out_of_hours
    assert DEFAULT.is_open(moment) is not out_of_hours


@pytest.mark.parametrize(
    ("moment", "out_of_hours"),
    [
        # Summer (BST, UTC+1): 09:00 London is 08:00 UTC.
        (utc(2026, 6, 16, 7, 59), True),
        (utc(2026, 6, 16, 8, 0), False),
        (utc(2026, 6, 16, 15, 59), False),
        (utc(2026, 6, 16, 16, 0), True),
        # Winter (GMT): 09:00 London is 09:00 UTC.
        (utc(2026, 11, 17, 8, 59), True),
        (utc(2026, 11, 17, 9, 0), False),
        (utc(2026, 11, 17, 16, 59), False),
        (utc(2026, 11, 17, 17, 0), True),
        # The Monday after the clocks go forward (29 March 2026) and back (25 October 2026).
        (utc(2026, 3, 30, 8, 0), False),
        (utc(2026, 3, 30, 16, 0), True),
        (utc(2026, 10, 26, 8, 30), True),
        (utc(2026, 10, 26, 9, 0), False),
        # The same instant written with another offset reads the same.
        (datetime(2026, 6, 16, 10, 0, tzinfo=timezone(timedelta(hours=2))), False),
        (datetime(2026, 6, 16, 9, 59, tzinfo=timezone(timedelta(hours=2))), True),
    ],
)
def test_hours_follow_british_summer_time(moment: datetime, out_of_hours: bool) -> None:
    assert DEFAULT.is_out_of_hours(moment) is out_of_hours


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 12, 25),  # Christmas Day (Friday)
        date(2026, 12, 28),  # Boxing Day falls on Saturday: substitute day Monday 28th
        date(2026, 8, 31),  # Summer bank holiday
        date(2026, 4, 3),  # Good Friday
        date(2026, 5, 4),  # Early May bank holiday
    ],
)
def test_bank_holidays_are_out_of_hours_all_day(day: date) -> None:
    for hour in (9, 12, 16):
        assert DEFAULT.is_out_of_hours(datetime.combine(day, time(hour), LONDON))
    assert DEFAULT.window(day) is None


def test_the_day_after_christmas_week_is_a_working_day() -> None:
    assert not DEFAULT.is_out_of_hours(london(2026, 12, 29, 11, 0))


def test_bank_holidays_can_be_switched_off_and_extra_dates_closed() -> None:
    none = calendar(bank_holidays="")
    assert not none.is_out_of_hours(london(2026, 12, 25, 11, 0))

    closed = calendar(closed_dates=[date(2026, 11, 18)])
    assert closed.is_out_of_hours(london(2026, 11, 18, 11, 0))
    assert not closed.is_out_of_hours(london(2026, 11, 19, 11, 0))


@pytest.mark.parametrize(
    ("after", "due"),
    [
        (london(2026, 11, 16, 23, 10), utc(2026, 11, 17, 17, 0)),  # Monday night -> Tuesday
        (london(2026, 11, 17, 2, 0), utc(2026, 11, 17, 17, 0)),  # small hours -> same day
        (london(2026, 11, 17, 8, 59), utc(2026, 11, 17, 17, 0)),
        (london(2026, 11, 17, 17, 0), utc(2026, 11, 18, 17, 0)),  # at closing -> tomorrow
        (london(2026, 11, 20, 22, 0), utc(2026, 11, 23, 17, 0)),  # Friday night -> Monday
        (london(2026, 11, 21, 2, 0), utc(2026, 11, 23, 17, 0)),  # Saturday small hours
        (london(2026, 12, 24, 22, 0), utc(2026, 12, 29, 17, 0)),  # Christmas Eve night
        (london(2026, 8, 28, 20, 0), utc(2026, 9, 1, 16, 0)),  # before the August bank holiday
        (london(2026, 3, 27, 20, 0), utc(2026, 3, 30, 16, 0)),  # clocks go forward on Sunday
    ],
)
def test_end_of_next_working_day(after: datetime, due: datetime) -> None:
    result = DEFAULT.end_of_next_working_day(after)
    assert result == due
    assert result.astimezone(LONDON).time() == time(17, 0)


def test_a_service_open_from_eight_until_midnight_every_day() -> None:
    assert EVENINGS.is_out_of_hours(london(2026, 11, 17, 7, 59))
    assert not EVENINGS.is_out_of_hours(london(2026, 11, 17, 8, 0))
    assert not EVENINGS.is_out_of_hours(london(2026, 11, 17, 23, 59, 59))
    assert EVENINGS.is_out_of_hours(london(2026, 11, 18, 0, 0))
    assert EVENINGS.is_out_of_hours(london(2026, 11, 18, 3, 0))
    assert not EVENINGS.is_out_of_hours(london(2026, 11, 21, 22, 0))  # Saturday evening
    # A decision at 02:00 is due by midnight that night, the close of that day's window.
    assert EVENINGS.end_of_next_working_day(london(2026, 11, 18, 2, 0)) == london(
        2026, 11, 19, 0, 0
    )


def test_a_service_open_around_the_clock_is_never_out_of_hours() -> None:
    start = london(2026, 1, 1, 0, 0)
    for hours in range(0, 24 * 365, 7):
        assert not ALWAYS.is_out_of_hours(start + timedelta(hours=hours, minutes=13))
    assert ALWAYS.is_open(london(2026, 12, 25, 3, 0))


def test_a_service_never_open_gives_a_decision_a_day_for_its_review() -> None:
    never = ServiceCalendar(timezone=LONDON, hours=parse_weekly_hours(""))
    decided = london(2026, 11, 17, 12, 0)
    assert never.is_out_of_hours(decided)
    assert never.end_of_next_working_day(decided) == decided + timedelta(days=1)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("mon-fri 09:00-17:00", {d: (time(9), time(17)) for d in range(5)}),
        ("  MON-FRI 09:00-17:00  ", {d: (time(9), time(17)) for d in range(5)}),
        (
            "mon-fri 09:00-17:00; sat 10:00-14:00",
            {**{d: (time(9), time(17)) for d in range(5)}, 5: (time(10), time(14))},
        ),
        ("sun 12:00-13:30", {6: (time(12), time(13, 30))}),
        # A range may run past Sunday: a weekend service.
        ("fri-mon 18:00-08:00", {d: (time(18), time(8)) for d in (4, 5, 6, 0)}),
        ("always", {d: (time(0), time(0)) for d in range(7)}),
        ("24/7", {d: (time(0), time(0)) for d in range(7)}),
        ("", {}),
    ],
)
def test_parse_weekly_hours(spec: str, expected: dict[int, tuple[time, time]]) -> None:
    assert parse_weekly_hours(spec) == {d: OpeningHours(*span) for d, span in expected.items()}


@pytest.mark.parametrize(
    "spec",
    [
        "mon-fri",  # no hours
        "mon-fri 9-5",  # not times
        "mon-fri 09:00",  # no closing time
        "mon-fri 09:00-17:00-18:00",
        "monday-friday 09:00-17:00",  # unknown day names
        "mon-fry 09:00-17:00",
        "mon- 09:00-17:00",
        "mon fri 09:00-17:00",
        "weekdays",
    ],
)
def test_parse_weekly_hours_refuses_what_it_cannot_read(spec: str) -> None:
    with pytest.raises(ValueError, match="cannot read opening hours"):
        parse_weekly_hours(spec)


def test_settings_refuse_unreadable_hours_and_unknown_time_zones() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, operating_hours="weekdays")
    with pytest.raises(ValidationError):
        Settings(_env_file=None, timezone="Europe/Atlantis")


def test_another_time_zone() -> None:
    sydney = calendar(timezone="Australia/Sydney", bank_holidays="AU-NSW")
    # 10:00 in Sydney on Tuesday 17 November 2026 (AEDT, UTC+11) is 23:00 UTC on Monday.
    assert not sydney.is_out_of_hours(utc(2026, 11, 16, 23, 0))
    assert DEFAULT.is_out_of_hours(utc(2026, 11, 16, 23, 0))
    assert sydney.is_out_of_hours(
        datetime(2026, 12, 25, 10, 0, tzinfo=ZoneInfo("Australia/Sydney"))
    )


def test_a_service_open_always_is_never_out_of_hours_even_on_bank_holidays() -> None:
    always = calendar(operating_hours="always")
    assert not always.is_out_of_hours(datetime(2026, 12, 25, 11, 0, tzinfo=UTC))
    assert not always.is_out_of_hours(datetime(2026, 11, 16, 23, 10, tzinfo=UTC))
