"""Calendars with several ranges a day, read from the API's shape, and versioned: a moment is
judged by the version in force at it, so a new version never changes an earlier judgement."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import (
    EARLIEST_VERSION,
    CalendarHistory,
    CalendarSpecError,
    CalendarVersion,
    OpeningHours,
    ServiceCalendar,
    bank_holiday_region,
    first_version_from_settings,
    format_operating_hours,
    normalise_operating_hours,
    parse_operating_hours,
    parse_weekly_hours,
    time_zone,
)

LONDON = ZoneInfo("Europe/London")
CHRISTMAS = date(2026, 12, 25)


def holidays(region: str) -> frozenset[date]:
    return frozenset({CHRISTMAS}) if region == "england_and_wales" else frozenset()


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[arg-type,misc]


def version(
    hours: dict[str, list[str]], effective_from: datetime, **fields: object
) -> CalendarVersion:
    return CalendarVersion.model_validate(
        {
            "timezone": "Europe/London",
            "operating_hours": hours,
            "bank_holidays": "england_and_wales",
            "effective_from": effective_from,
            **fields,
        }
    )


# The seed coordinator's Saturday: three ranges, the last until midnight.
SATURDAY = {"sat": ["09:00-11:00", "15:00-17:00", "20:00-24:00"]}
SAT = date(2026, 11, 21)


def test_a_weekday_may_hold_several_ranges_the_last_ending_at_midnight() -> None:
    calendar = CalendarVersion.calendar(version(SATURDAY, EARLIEST_VERSION), holidays)
    assert calendar.ranges(5) == (
        OpeningHours(time(9), time(11)),
        OpeningHours(time(15), time(17)),
        OpeningHours(time(20), time(0)),
    )
    opened = [(10, False), (12, True), (16, False), (18, True), (20, False), (23, False)]
    for hour, out_of_hours in opened:
        assert calendar.is_out_of_hours(london(2026, 11, 21, hour, 30)) is out_of_hours, hour
    assert calendar.is_out_of_hours(london(2026, 11, 22, 0, 0))  # midnight ends the range
    assert calendar.windows(SAT)[-1] == (london(2026, 11, 21, 20), london(2026, 11, 22, 0))
    # The working day spans the first opening to the last close.
    assert calendar.window(SAT) == (london(2026, 11, 21, 9), london(2026, 11, 22, 0))


def test_the_end_of_the_next_working_day_is_the_close_of_its_last_range() -> None:
    hours = {"tue": ["10:00-12:00", "19:00-23:00"], **SATURDAY}
    calendar = version(hours, EARLIEST_VERSION).calendar(holidays)
    # Friday night: the next working day is Saturday, ending at midnight.
    assert calendar.end_of_next_working_day(london(2026, 11, 20, 22, 0)) == london(
        2026, 11, 22, 0, 0
    )
    # Saturday 12:30, between ranges: Saturday has begun, so the next one is Tuesday.
    assert calendar.end_of_next_working_day(london(2026, 11, 21, 12, 30)) == london(
        2026, 11, 24, 23, 0
    )


def test_the_api_shape_is_read_and_written_one_way() -> None:
    spec = {"SAT": ["20:00-24:00", "09:00-11:00"], "mon": ["09:00-17:00"], "sun": []}
    assert normalise_operating_hours(spec) == {
        "mon": ["09:00-17:00"],
        "sat": ["09:00-11:00", "20:00-24:00"],
    }
    assert normalise_operating_hours({"fri": ["22:00-06:00"]}) == {"fri": ["22:00-06:00"]}
    assert normalise_operating_hours({"sun": ["00:00-24:00"]}) == {"sun": ["00:00-24:00"]}


def test_a_range_past_midnight_belongs_to_the_day_it_opened() -> None:
    calendar = version({"fri": ["22:00-06:00"]}, EARLIEST_VERSION).calendar(holidays)
    assert not calendar.is_out_of_hours(london(2026, 11, 21, 5, 59))
    assert calendar.is_out_of_hours(london(2026, 11, 21, 6, 0))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"monday": ["09:00-17:00"]}, "unknown weekday 'monday'"),
        ({"mon": "09:00-17:00"}, "give a list of ranges"),
        ({"mon": ["9-5"]}, "cannot read '9-5'"),
        ({"mon": ["09:00-17:00-18:00"]}, "cannot read"),
        ({"mon": ["09:00"]}, "cannot read"),
        ({"mon": ["25:00-26:00"]}, "not a time of day"),
        ({"mon": ["09:60-17:00"]}, "not a time of day"),
        ({"mon": ["09:00-24:30"]}, "not a time of day"),
        ({"mon": ["24:00-24:00"]}, "not a time of day"),
        ({"mon": ["09:00-09:00"]}, "same time"),
        ({"mon": ["00:00-00:00"]}, "00:00-24:00 for the whole day"),
        ({"mon": ["09:00-12:00", "11:00-13:00"]}, "mon 09:00-12:00 overlaps mon 11:00-13:00"),
        ({"mon": ["09:00-18:00", "10:00-11:00", "12:00-13:00"]}, "overlaps"),
        ({"mon": ["22:00-06:00"], "tue": ["05:00-09:00"]}, "mon 22:00-06:00 overlaps tue"),
        ({"sun": ["22:00-06:00"], "mon": ["05:00-09:00"]}, "sun 22:00-06:00 overlaps mon"),
        ({"mon": [f"{h:02d}:00-{h:02d}:30" for h in range(13)]}, "at most 12 ranges"),
        (["mon 09:00-17:00"], "per weekday"),
    ],
)
def test_hours_it_cannot_use_are_refused_with_what_to_write(spec: object, message: str) -> None:
    with pytest.raises(CalendarSpecError, match=message):
        parse_operating_hours(spec)  # type: ignore[arg-type]


def test_ranges_may_touch() -> None:
    hours = parse_operating_hours({"mon": ["09:00-12:00", "12:00-13:00"], "tue": ["00:00-06:00"]})
    assert len(hours[0]) == 2
    assert parse_operating_hours({"mon": ["18:00-24:00"], "tue": ["00:00-06:00"]})


def test_time_zones_and_bank_holiday_regions_are_checked() -> None:
    assert time_zone("Europe/London") == LONDON
    for bad in ("Europe/Atlantis", "", "../etc/passwd"):
        with pytest.raises(CalendarSpecError, match="unknown time zone"):
            time_zone(bad)
    assert bank_holiday_region("england_and_wales") == "england_and_wales"
    assert bank_holiday_region("AU-NSW") == "AU-NSW"
    for bad in ("England and Wales", "", "x"):
        with pytest.raises(CalendarSpecError, match="cannot read bank holidays"):
            bank_holiday_region(bad)


def test_the_settings_calendar_becomes_the_first_version_of_the_default_service() -> None:
    first = first_version_from_settings(
        timezone="Europe/London",
        operating_hours="mon-fri 09:00-17:00",
        bank_holidays="GB-ENG",
        closed_dates=[date(2026, 11, 18), date(2026, 11, 18)],
    )
    assert first.operating_hours == {
        d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")
    }
    assert first.bank_holidays == "england_and_wales"
    assert first.closed_dates == [date(2026, 11, 18)]
    assert first.effective_from == EARLIEST_VERSION
    # It judges as the settings' calendar did.
    settings_calendar = ServiceCalendar(
        timezone=LONDON,
        hours=parse_weekly_hours("mon-fri 09:00-17:00"),
        closed_dates=frozenset({CHRISTMAS, date(2026, 11, 18)}),
    )
    calendar = first.calendar(holidays)
    for hours in range(0, 24 * 60, 5):
        moment = london(2026, 11, 1) + timedelta(hours=hours)
        assert calendar.is_out_of_hours(moment) is settings_calendar.is_out_of_hours(moment)
    always = first_version_from_settings(
        timezone="UTC", operating_hours="always", bank_holidays="GB-ENG"
    )
    assert always.operating_hours == {
        d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    assert always.bank_holidays == "none"
    evenings = first_version_from_settings(
        timezone="Europe/London", operating_hours="mon-sun 08:00-00:00", bank_holidays=""
    )
    assert evenings.operating_hours["sun"] == ["08:00-24:00"]
    assert evenings.bank_holidays == "none"


def test_bank_holidays_come_from_the_lookup_it_is_given() -> None:
    weekdays = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    closed = version(weekdays, EARLIEST_VERSION).calendar(holidays)
    assert closed.is_out_of_hours(london(2026, 12, 25, 12, 0))
    asked: list[str] = []

    def lookup(region: str) -> frozenset[date]:
        asked.append(region)
        return frozenset()

    open_ = version(weekdays, EARLIEST_VERSION, bank_holidays="none").calendar(lookup)
    assert not open_.is_out_of_hours(london(2026, 12, 25, 12, 0))
    assert asked == []


# --- versions -----------------------------------------------------------------------------------

NINE_TO_FIVE = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
EIGHT_TO_MIDNIGHT = {d: ["08:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
CHANGE = london(2026, 11, 18, 12, 0)  # Wednesday noon: the forum starts being moderated late


def history() -> CalendarHistory:
    return CalendarHistory.of(
        [
            version(
                EIGHT_TO_MIDNIGHT,
                CHANGE,
                bank_holidays="none",
                rationale="Volunteers now cover the evenings.",
            ),
            version(NINE_TO_FIVE, EARLIEST_VERSION),
        ],
        holidays,
    )


def test_a_moment_is_judged_by_the_version_in_force_at_it() -> None:
    h = history()
    assert h.is_out_of_hours(london(2026, 11, 17, 20, 0))  # Tuesday evening, before the change
    assert not h.is_out_of_hours(london(2026, 11, 18, 20, 0))  # Wednesday evening, after
    assert h.is_open(CHANGE - timedelta(minutes=1))
    assert h.is_open(CHANGE)
    assert not h.is_out_of_hours(
        london(2026, 12, 25, 12, 0)
    )  # the new one opens on bank holidays too


def test_a_new_version_never_changes_an_earlier_judgement_or_due_time() -> None:
    before = CalendarHistory.of([version(NINE_TO_FIVE, EARLIEST_VERSION)], holidays)
    decided = london(2026, 11, 17, 23, 10)  # Tuesday night
    due = before.end_of_next_working_day(decided)
    assert due == london(2026, 11, 18, 17, 0)
    after = history()
    # The new version takes effect before the due time, yet the due time stays.
    assert after.end_of_next_working_day(decided) == due
    assert after.is_out_of_hours(decided) is before.is_out_of_hours(decided)


def test_before_its_first_version_a_service_is_judged_by_that_version() -> None:
    h = CalendarHistory.of([version(NINE_TO_FIVE, CHANGE)], holidays)
    assert h.in_force(london(2020, 1, 1)) is h.calendars[0]


def test_out_of_hours_periods_follow_the_versions() -> None:
    h = history()
    periods = h.out_of_hours_periods(london(2026, 11, 17, 0, 0), london(2026, 11, 19, 0, 0))
    assert periods == [
        (london(2026, 11, 17, 0, 0), london(2026, 11, 17, 9, 0)),
        (london(2026, 11, 17, 17, 0), london(2026, 11, 18, 9, 0)),
        # from noon on Wednesday, open until midnight: closed again from midnight to the end
    ]
    assert all(s.tzinfo is UTC for s, _ in periods)


def test_out_of_hours_periods_of_a_service_never_open_and_always_open() -> None:
    start, end = london(2026, 11, 17), london(2026, 11, 24)
    never = CalendarHistory.always(ServiceCalendar(timezone=LONDON, hours={}))
    assert never.out_of_hours_periods(start, end) == [(start, end)]
    always = CalendarHistory.of(
        [
            version(
                {
                    "mon": ["00:00-24:00"],
                    "tue": ["00:00-24:00"],
                    "wed": ["00:00-24:00"],
                    "thu": ["00:00-24:00"],
                    "fri": ["00:00-24:00"],
                    "sat": ["00:00-24:00"],
                    "sun": ["00:00-24:00"],
                },
                EARLIEST_VERSION,
                bank_holidays="none",
            )
        ],
        holidays,
    )
    assert always.out_of_hours_periods(start, end) == []


def test_out_of_hours_periods_across_the_clocks_going_back() -> None:
    h = CalendarHistory.of([version(NINE_TO_FIVE, EARLIEST_VERSION)], holidays)
    # Friday 23 to Monday 26 October 2026: the clocks go back on Sunday 25th.
    periods = h.out_of_hours_periods(london(2026, 10, 23, 12), london(2026, 10, 26, 12))
    assert periods == [(london(2026, 10, 23, 17), london(2026, 10, 26, 9))]
    assert periods[0][1] - periods[0][0] == timedelta(hours=64 + 1)


def test_a_history_needs_a_version() -> None:
    with pytest.raises(ValueError, match="one at least"):
        CalendarHistory.of([], holidays)


# --- properties ---------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
)


@given(starts=st.lists(moments, min_size=1, max_size=6, unique=True), at=moments)
def test_the_version_in_force_is_the_latest_not_after_the_moment(
    starts: list[datetime], at: datetime
) -> None:
    calendars = [ServiceCalendar(timezone=LONDON, hours={}) for _ in starts]
    h = CalendarHistory(starts=tuple(sorted(starts)), calendars=tuple(calendars))
    index = h.index_at(at)
    earlier = [i for i, s in enumerate(h.starts) if s <= at]
    assert index == (max(earlier) if earlier else 0)


range_texts = st.tuples(
    st.integers(0, 23), st.sampled_from([0, 15, 30, 45]), st.integers(1, 24 * 4)
).map(lambda t: (t[0] * 60 + t[1], t[0] * 60 + t[1] + t[2] * 15))


@given(spans=st.lists(range_texts, max_size=4))
def test_whatever_parses_formats_back_to_itself(spans: list[tuple[int, int]]) -> None:
    def hhmm(m: int) -> str:
        m %= 24 * 60
        return f"{m // 60:02d}:{m % 60:02d}"

    texts = [f"{hhmm(s)}-{'24:00' if e == 24 * 60 else hhmm(e)}" for s, e in spans]
    try:
        hours = parse_operating_hours({"wed": texts})
    except CalendarSpecError:
        return
    assert parse_operating_hours(format_operating_hours(hours)) == hours


@given(
    start=moments,
    length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9)),
    at=moments,
)
def test_out_of_hours_periods_hold_exactly_the_out_of_hours_moments(
    start: datetime, length: timedelta, at: datetime
) -> None:
    h = history()
    end = start + length
    periods = h.out_of_hours_periods(start, end)
    if start <= at < end:
        inside = any(s <= at < e for s, e in periods)
        assert inside is h.is_out_of_hours(at)
    for (_, e1), (s2, _) in itertools.pairwise(periods):
        assert e1 < s2
