"""The web UI's words and times for people: plain words instead of enum names, times in the
service's time zone with the offset."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.shared import Role
from domain.shift.vocabulary import ShiftRole
from interfaces.web.render import Renderer, plain


def test_enum_names_read_as_plain_words() -> None:
    assert plain("open_overdue") == "overdue"
    assert plain(ShiftRole.ON_CALL) == "on call"
    assert plain(Role.SAFEGUARDING_LEAD) == "safeguarding lead"
    assert plain("flags_awaiting_action") == "flags awaiting a first action"
    assert plain("something_new") == "something new"


def test_times_show_the_service_zone_and_offset_on_both_sides_of_the_clock_change() -> None:
    london = Renderer("Europe/London")
    winter = datetime(2026, 11, 17, 23, 10, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 22, 10, tzinfo=UTC)
    assert london.when(winter) == (
        '<time datetime="2026-11-17T23:10:00+00:00">Tue 17 Nov 2026, 23:10 (UTC+00:00)</time>'
    )
    assert london.when(summer) == (
        '<time datetime="2026-07-01T22:10:00+00:00">Wed 01 Jul 2026, 23:10 (UTC+01:00)</time>'
    )
    assert "(UTC-05:00)" in Renderer("America/New_York").when(winter)
    assert london.when(None) == ""
