"""The shift read side as stories: a Tuesday night's rota, attendance, actions and handovers,
read back through the views (the rota, on call on both clocks, the shift log, off-rota actions,
the shift queues, the gaps and the calendar feed). Every test runs on SQLite and PostgreSQL.

Shift events are written through the domain's decide and the one write path
(``tests.shift_writer``), case events through the case service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from icalendar import Calendar

from domain.access.rules import Visibility
from domain.errors import ItemNotFound
from domain.shared import Actor, Role
from interfaces.composition import Vigil
from projections.paging import InvalidCursor, InvalidQuery
from projections.rota_feed import rota_calendar
from projections.rota_gaps import rota_gaps, weeks_around
from projections.shift_logs import AttendanceStatus
from projections.shift_queues import ShiftQueue
from tests.conftest import Clock
from tests.shift_writer import ShiftWriter
from tests.story import add_note, ooh_decision, open_case

CASEY = Actor(username="casey", role=Role.COORDINATOR)
LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
KIT = Actor(username="kit", role=Role.VOLUNTEER)
SAM = Actor(username="sam", role=Role.MODERATOR)


def utc(hour: int, minute: int = 0, day: int = 17) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@dataclass
class Night:
    """Tuesday 17 November 2026 (GMT). Planned in the morning by lee:
    casey on call 19:00-23:00, kit covering its last hour (22:00-23:00); sam moderating
    18:00-22:00 (who never checks in). casey checks in at 19:10 (late), opens a case at 20:00,
    takes an out-of-hours decision at 21:10 logged at 21:30, hands over to kit at 21:55 and
    checks out at 22:00; kit checks in at 22:00, logged at 22:40, and acknowledges. sam adds a
    note at 20:30 while not checked in (off rota); casey adds one at 22:30 after leaving."""

    on_call: UUID
    moderation: UUID
    case_id: UUID
    handover_id: UUID
    decision_position: int


def tuesday_night(vigil: Vigil, clock: Clock, writer: ShiftWriter) -> Night:
    clock.set(utc(9, 30))
    on_call = writer.plan("casey", utc(19), utc(23), by=LEE)
    moderation = writer.plan("sam", utc(18), utc(22), role="moderator", by=LEE)
    clock.advance(minutes=2)
    writer.reassign(on_call, "kit", from_at=utc(22), by=LEE)
    clock.set(utc(19, 12))
    writer.check_in(on_call, CASEY, occurred_at=utc(19, 10))
    clock.set(utc(20))
    case_id = vigil.cases.execute(None, open_case(), CASEY).state.id
    clock.set(utc(20, 30))
    vigil.cases.execute(case_id, add_note(), SAM)
    clock.set(utc(21, 30))
    decision = vigil.cases.execute(case_id, ooh_decision(occurred_at=utc(21, 10)), CASEY)
    clock.set(utc(21, 55))
    handover_id = writer.hand_over(on_call, CASEY, case_ids=[case_id], to="kit")
    clock.set(utc(22))
    writer.check_out(on_call, CASEY)
    clock.set(utc(22, 30))
    vigil.cases.execute(case_id, add_note(), CASEY)
    clock.set(utc(22, 40))
    writer.check_in(on_call, KIT, occurred_at=utc(22))
    writer.acknowledge(on_call, handover_id, KIT)
    return Night(on_call, moderation, case_id, handover_id, decision.position)


@pytest.fixture
def writer(vigil: Vigil) -> ShiftWriter:
    return ShiftWriter(vigil)


def test_the_rota_lists_each_shift_with_its_parts_and_attendance_on_both_clocks(
    vigil: Vigil, clock: Clock, writer: ShiftWriter
) -> None:
    night = tuesday_night(vigil, clock, writer)
    vigil.projector.catch_up()

    shifts, next_cursor = vigil.rota.shifts(start=utc(0), end=utc(0, day=18))

    assert next_cursor is None
    assert [s.id for s in shifts] == [night.moderation, night.on_call]  # by start
    on_call = shifts[1]
    assert (on_call.role, on_call.assignee, on_call.status) == ("on_call", "casey", "planned")
    assert [(p.assignee, p.starts_at, p.ends_at) for p in on_call.parts] == [
        ("casey", utc(19), utc(22)),
        ("kit", utc(22), utc(23)),
    ]
    assert on_call.cover
    assert on_call.planned_by == "lee"
    assert on_call.planned_at == utc(9, 30)
    seen = {a.person: a for a in on_call.attendance}
    assert (seen["casey"].checked_in_at, seen["casey"].checked_in_recorded_at) == (
        utc(19, 10),
        utc(19, 12),
    )
    assert seen["casey"].checked_out_at == utc(22)
    assert seen["casey"].checked_out_by == "casey"
    assert (seen["kit"].checked_in_at, seen["kit"].checked_in_recorded_at) == (utc(22), utc(22, 40))
    assert seen["kit"].checked_out_at is None
    assert shifts[0].attendance == []

    # Filters: a person's shifts include the part they cover; a role; a service; a period.
    mine, _ = vigil.rota.shifts(assignee="kit")
    assert [s.id for s in mine] == [night.on_call]
    assert [s.id for s in vigil.rota.shifts(role="moderator")[0]] == [night.moderation]
    assert vigil.rota.shifts(service="helpline")[0] == []
    assert [s.id for s in vigil.rota.shifts(start=utc(22, 30))[0]] == [night.on_call]
    assert vigil.rota.shifts(end=utc(17))[0] == []
    # Paging: one at a time, in the same order.
    first, cursor = vigil.rota.shifts(limit=1)
    assert cursor is not None
    second, last = vigil.rota.shifts(limit=1, cursor=cursor)
    assert [s.id for s in first + second] == [night.moderation, night.on_call]
    assert last is None
    with pytest.raises(InvalidCursor):
        vigil.rota.shifts(cursor="bm90IGEgY3Vyc29y")
    with pytest.raises(InvalidQuery):
        vigil.rota.shifts(start=utc(20), end=utc(19))

    # Cancelling a shift before it starts keeps it on the rota, marked cancelled.
    clock.set(utc(9, 0, day=18))
    later = writer.plan("sam", utc(19, day=18), utc(21, day=18), role="host")
    writer.cancel(later)
    vigil.projector.catch_up()
    cancelled = vigil.rota.shift(later)
    assert (cancelled.status, cancelled.cancelled_at, cancelled.cancelled_by) == (
        "cancelled",
        utc(9, 0, day=18),
        "casey",
    )


def test_one_shift_names_the_handovers_given_and_received_never_the_note(
    vigil: Vigil, clock: Clock, writer: ShiftWriter
) -> None:
    night = tuesday_night(vigil, clock, writer)
    # kit's own shift the next night: the handover from casey is not in it (given a day before
    # it starts, to kit, but acknowledged already... it is to kit and within a day: received).
    clock.set(utc(10, day=18))
    next_night = writer.plan("kit", utc(19, day=18), utc(23, day=18))
    vigil.projector.catch_up()

    detail = vigil.rota.shift(night.on_call)

    (given,) = detail.handovers_given
    assert given.handover_id == night.handover_id
    assert (given.given_by, given.given_to, given.case_ids) == ("casey", "kit", [night.case_id])
    assert (given.given_at, given.given_recorded_at) == (utc(21, 55), utc(21, 55))
    assert (given.acknowledged_by, given.acknowledged_at) == ("kit", utc(22, 40))
    assert detail.handovers_received == []  # given in this very shift
    assert "note" not in given.model_dump()
    (received,) = vigil.rota.shift(next_night).handovers_received
    assert received.handover_id == night.handover_id
    # A reader who may not see the case sees the handover without it.
    hidden = Visibility(restricted=("self_harm_risk",), username="sam", granted_case_ids=())
    assert vigil.rota.shift(night.on_call, visibility=hidden).handovers_given[0].case_ids == []
    with pytest.raises(ItemNotFound):
        vigil.rota.shift(uuid4())


def test_on_call_at_a_moment_on_both_clocks(
    vigil: Vigil, clock: Clock, writer: ShiftWriter
) -> None:
    night = tuesday_night(vigil, clock, writer)
    # At 23:05, cover already happening since 22:45 is planned for lee (a start in the past).
    clock.set(utc(23, 5))
    late_cover = writer.plan(
        "lee", utc(22, 45), utc(23, 59), reason="Stayed on after the decision at 21:10."
    )
    vigil.projector.catch_up()

    at_2210 = vigil.rota.on_call(utc(22, 10))
    assert [(p.shift_id, p.assignee) for p in at_2210.as_known_now.planned] == [
        (night.on_call, "kit")
    ]
    assert at_2210.as_recorded_then.planned == at_2210.as_known_now.planned
    # kit's check-in at 22:00 was recorded at 22:40: known now, not recorded by 22:10.
    assert [c.person for c in at_2210.as_known_now.checked_in] == ["kit"]
    assert at_2210.as_recorded_then.checked_in == []

    at_2050 = vigil.rota.on_call(utc(20, 50))
    assert {(p.assignee, p.role) for p in at_2050.as_known_now.planned} == {
        ("casey", "on_call"),
        ("sam", "moderator"),
    }
    assert [c.person for c in at_2050.as_known_now.checked_in] == ["casey"]
    assert [c.person for c in at_2050.as_recorded_then.checked_in] == ["casey"]
    assert vigil.rota.on_call(utc(20, 50), service="helpline").as_known_now.planned == []

    # The cover planned at 23:05 for 22:45: known now at 22:50, not as recorded then.
    at_2250 = vigil.rota.on_call(utc(22, 50))
    assert {p.shift_id for p in at_2250.as_known_now.planned} == {night.on_call, late_cover}
    assert {p.shift_id for p in at_2250.as_recorded_then.planned} == {night.on_call}

    # casey's check-out at 22:00 was recorded at once: at 22:00 only kit (known now).
    at_2200 = vigil.rota.on_call(utc(22))
    assert [c.person for c in at_2200.as_known_now.checked_in] == ["kit"]
    # Before the plan was recorded (09:30), the rota as recorded then had nobody on tonight;
    # the 19:00 shift as known now starts later than 09:00.
    assert vigil.rota.on_call(utc(9)).as_known_now.planned == []


def test_a_check_out_logged_late_leaves_the_person_checked_in_as_recorded_then(
    vigil: Vigil, clock: Clock, writer: ShiftWriter
) -> None:
    clock.set(utc(9, 30))
    shift = writer.plan("casey", utc(19), utc(23))
    clock.set(utc(19))
    writer.check_in(shift, CASEY)
    clock.set(utc(23, 50))
    writer.check_out(shift, CASEY, occurred_at=utc(23, 1))
    vigil.projector.catch_up()

    at = vigil.rota.on_call(utc(23, 30))
    assert at.as_known_now.checked_in == []
    (then,) = at.as_recorded_then.checked_in
    assert (then.person, then.checked_out_at) == ("casey", None)


def test_the_shift_log_lists_what_its_people_did_while_checked_in(
    vigil: Vigil, clock: Clock, writer: ShiftWriter
) -> None:
    night = tuesday_night(vigil, clock, writer)
    clock.set(utc(23, 30))
    vigil.projector.catch_up()

    log = vigil.shift_logs.log(night.on_call, now=clock())

    people = {p.person: p for p in log.people}
    assert people["casey"].status is AttendanceStatus.LATE
    assert people["casey"].minutes_late == 10
    assert not people["casey"].cover
    assert people["kit"].status is AttendanceStatus.ON_TIME
    assert people["kit"].cover
    assert people["kit"].check_in_logged_late  # 22:00 logged at 22:40
    # casey's case work between 19:10 and 22:00; not the note at 22:30 after leaving, nor
    # the check-ins, check-outs and handovers (in their own sections).
    assert [(a.actor, a.type) for a in log.actions] == [
        ("casey", "CaseOpened"),
        ("casey", "OutOfHoursDecisionRecorded"),
    ]
    opened, decision = log.actions
    assert (opened.case_id, opened.context, opened.contact_id) == (night.case_id, "case", None)
    assert opened.event_id is not None
    assert not opened.late
    assert (decision.occurred_at, decision.recorded_at, decision.late) == (
        utc(21, 10),
        utc(21, 30),
        True,
    )
    assert [d.position for d in log.out_of_hours_decisions] == [night.decision_position]
    assert [h.handover_id for h in log.handovers_given] == [night.handover_id]
    assert log.late_after_minutes == 15

    # Paged: one action a page.
    page = vigil.shift_logs.log(night.on_call, now=clock(), limit=1)
    assert page.next_cursor is not None
    rest = vigil.shift_logs.log(night.on_call, now=clock(), limit=1, cursor=page.next_cursor)
    assert [a.position for a in page.actions + rest.actions] == [a.position for a in log.actions]
    assert rest.next_cursor is None
    with pytest.raises(InvalidCursor):  # a cursor of another listing
        vigil.shift_logs.log(night.moderation, now=clock(), cursor=page.next_cursor)

    # sam never checked in: missed, and the shift shows no actions.
    moderation = vigil.shift_logs.log(night.moderation, now=clock())
    assert [(p.person, p.status) for p in moderation.people] == [("sam", AttendanceStatus.MISSED)]
    assert moderation.actions == []


def test_restricted_cases_leave_the_shift_log_for_those_who_may_not_see_them(
    vigil: Vigil, clock: Clock, writer: ShiftWriter
) -> None:
    night = tuesday_night(vigil, clock, writer)  # the case is a self-harm risk
    vigil.projector.catch_up()
    hidden = Visibility(restricted=("self_harm_risk",), username="sam", granted_case_ids=())

    log = vigil.shift_logs.log(night.on_call, now=clock(), reader="sam", visibility=hidden)
    assert log.actions == []
    assert log.out_of_hours_decisions == []
    # The person who recorded them still sees their own.
    own = Visibility(restricted=("self_harm_risk",), username="casey", granted_case_ids=())
    assert (
        len(
            vigil.shift_logs.log(night.on_call, now=clock(), reader="casey", visibility=own).actions
        )
        == 2
    )
    granted = Visibility(
        restricted=("self_harm_risk",), username="sam", granted_case_ids=(night.case_id,)
    )
    assert len(vigil.shift_logs.log(night.on_call, now=clock(), visibility=granted).actions) == 2


def test_off_rota_actions_are_those_recorded_outside_every_check_in(
    vigil: Vigil, clock: Clock, writer: ShiftWriter
) -> None:
    tuesday_night(vigil, clock, writer)
    vigil.projector.catch_up()

    found, next_cursor = vigil.shift_logs.off_rota(utc(0), utc(0, day=18))

    # sam's note at 20:30 (never checked in) and casey's at 22:30 (after checking out).
    assert [(a.actor, a.type, a.occurred_at) for a in found] == [
        ("sam", "NoteAdded", utc(20, 30)),
        ("casey", "NoteAdded", utc(22, 30)),
    ]
    assert next_cursor is None
    first, cursor = vigil.shift_logs.off_rota(utc(0), utc(0, day=18), limit=1)
    assert cursor is not None
    second, _ = vigil.shift_logs.off_rota(utc(0), utc(0, day=18), limit=1, cursor=cursor)
    assert first + second == found
    assert vigil.shift_logs.off_rota(utc(21), utc(22))[0] == []
    with pytest.raises(InvalidQuery):
        vigil.shift_logs.off_rota(utc(0), utc(0) + timedelta(days=93))
    hidden = Visibility(restricted=("self_harm_risk",), username="lee", granted_case_ids=())
    assert vigil.shift_logs.off_rota(utc(0), utc(0, day=18), visibility=hidden)[0] == []


def test_the_shift_queues_at_a_moment(vigil: Vigil, clock: Clock, writer: ShiftWriter) -> None:
    clock.set(utc(9, 30))
    shift = writer.plan("casey", utc(19), utc(23))
    other = writer.plan("sam", utc(18), utc(22), role="moderator")
    vigil.projector.catch_up()
    queues = vigil.shift_queues

    def sizes(at: datetime) -> dict[str, int]:
        return {c.name.value: c.total for c in queues.counts(as_of=at)}

    assert sizes(utc(17)) == {
        "uncovered_shifts": 0,
        "missed_check_outs": 0,
        "handovers_unacknowledged": 0,
    }
    # 19:05: both shifts have started and nobody is checked in.
    items, _ = queues.items(ShiftQueue.UNCOVERED_SHIFTS, as_of=utc(19, 5))
    assert [(i.item_id, i.person, i.since, i.overdue) for i in items] == [
        (other, "sam", utc(18), True),
        (shift, "casey", utc(19), True),
    ]
    clock.set(utc(19, 6))
    writer.check_in(shift, CASEY)
    clock.set(utc(21))
    handover = writer.hand_over(shift, CASEY)
    vigil.projector.catch_up()
    assert [i.item_id for i in queues.items(ShiftQueue.UNCOVERED_SHIFTS, as_of=utc(21))[0]] == [
        other
    ]
    (waiting,) = queues.items(ShiftQueue.HANDOVERS_UNACKNOWLEDGED, as_of=utc(21))[0]
    assert (waiting.item_id, waiting.person, waiting.due_at) == (handover, None, None)
    # 23:30: casey never checked out.
    (missed,) = queues.items(ShiftQueue.MISSED_CHECK_OUTS, as_of=utc(23, 30))[0]
    assert (missed.shift_id, missed.person, missed.due_at, missed.overdue) == (
        shift,
        "casey",
        utc(23),
        True,
    )
    assert sizes(utc(23, 30)) == {
        "uncovered_shifts": 0,
        "missed_check_outs": 1,
        "handovers_unacknowledged": 1,
    }
    # A lead records the forgotten check-out; the handover is acknowledged: both queues empty.
    clock.set(utc(23, 40))
    writer.check_out(shift, LEE, occurred_at=utc(23), on_behalf_of="casey")
    writer.acknowledge(shift, handover, LEE)
    vigil.projector.catch_up()
    assert sizes(utc(23, 45)) == {
        "uncovered_shifts": 0,
        "missed_check_outs": 0,
        "handovers_unacknowledged": 0,
    }
    assert vigil.rota.shift(shift).attendance[0].checked_out_by == "lee"


def test_the_gaps_of_a_night(vigil: Vigil, clock: Clock, writer: ShiftWriter) -> None:
    # Out of hours by the settings' calendar (mon-fri 09:00-17:00, Europe/London = GMT now).
    clock.set(utc(9, 30))
    writer.plan("kit", utc(17), utc(21))  # a volunteer on call 17:00-21:00
    writer.plan("casey", utc(21), utc(23, 59))  # a coordinator 21:00-23:59
    for day in (18, 19, 20):  # kit is planned for 4 + 3 x 4 = 16 hours this week
        writer.plan("kit", utc(10, day=day), utc(14, day=day), role="host")
    vigil.projector.catch_up()
    history = vigil.service_calendars("default")
    start, end = utc(17), utc(9, day=18)
    weeks = weeks_around(history, start, end)
    registered = {"casey"}

    gaps = rota_gaps(
        service="default",
        history=history,
        parts=vigil.rota.planned_parts(weeks.starts_at, weeks.ends_at),
        start=start,
        end=end,
        lead_or_coordinator=lambda who: who in registered,
    )

    assert [(p.starts_at, p.ends_at) for p in gaps.uncovered_out_of_hours] == [
        (utc(23, 59), utc(9, day=18))
    ]
    assert [(p.starts_at, p.ends_at) for p in gaps.no_coordinator_or_lead_on_call] == [
        (utc(17), utc(21)),
        (utc(23, 59), utc(9, day=18)),
    ]
    assert [(o.person, o.hours) for o in gaps.over_weekly_cap] == [("kit", 16.0)]
    assert gaps.weekly_cap_hours == 12
    with pytest.raises(ItemNotFound):
        vigil.service_calendars("helpline")


def test_a_persons_calendar_feed(vigil: Vigil, clock: Clock, writer: ShiftWriter) -> None:
    night = tuesday_night(vigil, clock, writer)
    clock.set(utc(9, day=18))
    cancelled = writer.plan("kit", utc(19, day=19), utc(21, day=19), role="host")
    writer.cancel(cancelled)
    vigil.projector.catch_up()

    feed = rota_calendar("kit", vigil.rota.shifts_of("kit"))

    events = {str(e["UID"]): e for e in Calendar.from_ical(feed).walk("VEVENT")}
    assert set(events) == {f"{night.on_call}@shifts.vigil", f"{cancelled}@shifts.vigil"}
    tonight = events[f"{night.on_call}@shifts.vigil"]
    assert tonight.decoded("DTSTART") == utc(22)  # kit's part
    assert tonight.decoded("DTEND") == utc(23)
    assert str(tonight["SUMMARY"]) == "On call shift (default)"
    assert str(tonight["STATUS"]) == "CONFIRMED"
    assert str(events[f"{cancelled}@shifts.vigil"]["STATUS"]) == "CANCELLED"
    assert b"20261117T220000Z" in feed
    assert b"kit" not in feed  # no names
    assert b"casey" not in feed
    assert rota_calendar("kit", vigil.rota.shifts_of("kit")) == feed  # stable
