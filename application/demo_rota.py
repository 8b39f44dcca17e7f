"""The demo's people, services and a week of the seed's rota, with the night on call.

The seed coordinator works "Tuesday 10:00-12:00 and 19:00-23:00; Saturday 09:00-11:00,
15:00-17:00 and 20:00-23:00" (13 hours a week: over the 12-hour cap, which ``GET /rota/gaps``
points out); beside them a moderator, an evening host and the helpline's coordinator. The forum
is moderated 08:00 to midnight every day, the helpline open Monday to Wednesday 08:00-14:00,
beside the ``default`` service (the settings' calendar) on which the night's case is judged.

**Recorded as it happened.** A rota is planned before its shifts start and attendance is
recorded against it as the week goes: the write side refuses anything else. So this part of the
demo is recorded on a *story clock* (``StoryClock``), moved to each moment before the write
(``with_clock`` on the services): the services and the rota a few days before the week, each
check-in and check-out at its time, and the night's out-of-hours case (``application.demo``) as
the on-call lead worked it. Those who take the helpline day's contacts beside its coordinator
are put on the line for that day too (``plan_helpline_day``). Each aggregate's events are
recorded in order, never after the present; only the on-call lead's check-in is logged late
(``occurred_at`` earlier than its ``recorded_at``). A day of the helpline
(``application.demo_helpline``) and the hate-incident case one of its calls joins are recorded
on it too (each contact logged as it ended, so its ``occurred_at`` is when it began); the
demo's other cases are logged at the server's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from application.services import ServiceService
from application.shifts import ShiftService
from domain.service.commands import DEFAULT_SERVICE, RegisterService
from domain.shared import Actor, Role
from domain.shift import commands as sc
from domain.shift.events import HandoverRecorded
from domain.shift.rota import PlanRota, WeeklySlot
from domain.shift.vocabulary import ShiftRole


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role

    @property
    def actor(self) -> Actor:
        return Actor(username=self.username, role=self.role)


SAM = DemoUser("sam.volunteer", Role.VOLUNTEER)  # evening forum host
OLA = DemoUser("ola.moderator", Role.MODERATOR)
KIT = DemoUser("kit.coordinator", Role.COORDINATOR)  # the seed coordinator and their rota
ROWAN = DemoUser("rowan.coordinator", Role.COORDINATOR)  # helpline
JUDE = DemoUser("jude.lead", Role.SAFEGUARDING_LEAD)  # on call out of hours
PRIYA = DemoUser("priya.lead", Role.SAFEGUARDING_LEAD)
MORGAN = DemoUser("morgan.auditor", Role.AUDITOR)
ALEX = DemoUser("alex.admin", Role.ADMIN)
# A trustee: reads the trustee pack and signs the serious-incident register off (issue 15).
TESS = DemoUser("tess.trustee", Role.TRUSTEE)
DEMO_USERS: tuple[DemoUser, ...] = (SAM, OLA, KIT, ROWAN, JUDE, PRIYA, MORGAN, ALEX, TESS)

LONDON = "Europe/London"
FORUM = "forum"
HELPLINE = "helpline"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _slots(*spec: tuple[str, str, str]) -> list[WeeklySlot]:
    return [WeeklySlot(weekday=day, start=start, end=end) for day, start, end in spec]


# The seed's rota: who, in which role, on which service, every week.
SEED_ROTA: tuple[tuple[DemoUser, ShiftRole, str, list[WeeklySlot]], ...] = (
    (
        KIT,
        ShiftRole.COORDINATOR,
        FORUM,
        _slots(
            ("tue", "10:00", "12:00"),
            ("tue", "19:00", "23:00"),
            ("sat", "09:00", "11:00"),
            ("sat", "15:00", "17:00"),
            ("sat", "20:00", "23:00"),
        ),
    ),
    (OLA, ShiftRole.MODERATOR, FORUM, _slots(("tue", "19:00", "23:00"))),
    (SAM, ShiftRole.HOST, FORUM, _slots(("sat", "20:00", "23:00"))),
    (
        ROWAN,
        ShiftRole.HELPLINE,
        HELPLINE,
        _slots(("mon", "08:00", "14:00"), ("wed", "08:00", "14:00")),
    ),
)


class StoryClock:
    """The clock the demo's week is recorded on: moved forward through the story, never past
    the present (``now``)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._at = now

    def __call__(self) -> datetime:
        return self._at

    def set(self, moment: datetime) -> datetime:
        self._at = min(moment, self.now)
        return self._at


@dataclass
class NightShift:
    """The on-call lead's shift the night of the out-of-hours case."""

    shift_id: UUID
    starts_at: datetime
    ends_at: datetime
    handover_id: UUID | None = None


@dataclass
class DemoRota:
    """What the rota part of the demo recorded."""

    services: list[str] = field(default_factory=list)
    shift_ids: list[UUID] = field(default_factory=list)
    night: NightShift | None = None
    helpline_shift_ids: list[UUID] = field(default_factory=list)  # the helpline day's handlers


def _quarter(moment: datetime, *, up: bool = False) -> datetime:
    floor = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    return floor + timedelta(minutes=15) if up and floor < moment else floor


def night_window(decided: datetime, reopened: datetime | None) -> tuple[datetime, datetime]:
    """The on-call shift around the night's decision: from three hours before it to when the
    service reopened (at least an hour after the decision, at most three), on quarter hours."""
    end = decided + timedelta(hours=3)
    if reopened is not None:
        end = max(decided + timedelta(hours=1), min(end, reopened))
    return _quarter(decided - timedelta(hours=3)), _quarter(end, up=True)


class RotaStory:
    """Records the services and the rota on the story clock."""

    def __init__(
        self,
        services: ServiceService,
        shifts: ShiftService,
        clock: StoryClock,
        *,
        decided: datetime,
        reopened: datetime | None,
    ) -> None:
        self.clock = clock
        self.services = services.with_clock(clock)
        self.shifts = shifts.with_clock(clock)
        self.now = clock.now
        starts, ends = night_window(decided, reopened)
        self.night_window = (starts, min(ends, self.now - timedelta(minutes=2)))
        london = ZoneInfo(LONDON)
        today = self.now.astimezone(london).date()
        self.first_day, self.last_day = today - timedelta(days=7), today + timedelta(days=7)
        week_starts = datetime.combine(self.first_day, time(0, 0), tzinfo=london).astimezone(UTC)
        # Planned two days before the first shift of the week or of the night, whichever is first.
        self.planned_at = min(week_starts, starts) - timedelta(days=2)
        self.recorded = DemoRota()

    def plan(self) -> DemoRota:
        """Record the services, then plan the seed's rota and the night on call."""
        self.clock.set(self.planned_at - timedelta(hours=1))
        self.services.record_default()
        self.services.register(
            RegisterService(
                name=FORUM,
                timezone=LONDON,
                operating_hours={day: ["08:00-24:00"] for day in WEEKDAYS},
                bank_holidays="none",
                rationale="The peer-support forum is moderated 08:00 to midnight, every day.",
            ),
            ALEX.actor,
        )
        self.services.register(
            RegisterService(
                name=HELPLINE,
                timezone=LONDON,
                operating_hours={day: ["08:00-14:00"] for day in ("mon", "tue", "wed")},
                bank_holidays="england_and_wales",
                rationale="The hate-crime helpline answers Monday to Wednesday mornings.",
            ),
            ALEX.actor,
        )
        self.recorded.services = [DEFAULT_SERVICE, FORUM, HELPLINE]
        self.clock.set(self.planned_at)
        for who, role, service, weekly in SEED_ROTA:
            written = self.shifts.plan_rota(
                PlanRota(
                    service=service,
                    role=role,
                    assignee=who.username,
                    weekly=weekly,
                    **{"from": self.first_day},
                    until=self.last_day,
                ),
                KIT.actor,
            )
            self.recorded.shift_ids += [s.id for s in written.shifts]
        starts, ends = self.night_window
        night = self.shifts.plan(
            sc.PlanShift(
                service=DEFAULT_SERVICE,
                role=ShiftRole.ON_CALL,
                assignee=JUDE.username,
                starts_at=starts,
                ends_at=ends,
            ),
            KIT.actor,
        )
        self.recorded.shift_ids.append(night.state.id)
        self.recorded.night = NightShift(night.state.id, starts, ends)
        return self.recorded

    def plan_helpline_day(self, day: date, handlers: tuple[DemoUser, ...]) -> list[UUID]:
        """The helpline's coordinator puts the day's contact handlers on the line for its
        opening hours (a ``helpline`` shift, 08:00-14:00 London), two days before the day at
        the latest: those the seed's rota does not already have on the helpline that day.
        ``attend`` then checks them in and out like every other shift."""
        london = ZoneInfo(LONDON)
        opens = datetime.combine(day, time(8, 0), tzinfo=london).astimezone(UTC)
        closes = datetime.combine(day, time(14, 0), tzinfo=london).astimezone(UTC)
        on_the_line = {
            shift.assignee
            for shift in map(self.shifts.get, self.recorded.shift_ids)
            if shift.service == HELPLINE and shift.starts_at <= opens and closes <= shift.ends_at
        }
        self.clock.set(min(self.clock(), opens - timedelta(days=2)))
        planned = []
        for who in handlers:
            if who.username in on_the_line:
                continue
            written = self.shifts.plan(
                sc.PlanShift(
                    service=HELPLINE,
                    role=ShiftRole.HELPLINE,
                    assignee=who.username,
                    starts_at=opens,
                    ends_at=closes,
                ),
                ROWAN.actor,
            )
            planned.append(written.state.id)
        self.recorded.shift_ids += planned
        self.recorded.helpline_shift_ids = planned
        return planned

    def attend(self) -> None:
        """The week's attendance so far: each person checks in five minutes early and out on
        the hour's end, in the order it happened (a shift running now is still checked in)."""
        steps: list[tuple[datetime, UUID, DemoUser, sc.ShiftCommand]] = []
        people = {who.username: who for who, *_ in SEED_ROTA}
        night = self.recorded.night
        for shift_id in self.recorded.shift_ids:
            shift = self.shifts.get(shift_id)
            if (night is not None and shift_id == night.shift_id) or shift.starts_at > self.now:
                continue
            who = people[shift.assignee]
            steps.append((shift.starts_at - timedelta(minutes=5), shift_id, who, sc.CheckIn()))
            out = shift.ends_at + timedelta(minutes=2)
            if out <= self.now:
                steps.append((out, shift_id, who, sc.CheckOut()))
        for at, shift_id, who, command in sorted(steps, key=lambda s: (s[0], str(s[1]))):
            self.clock.set(at)
            self.shifts.execute(shift_id, command, who.actor)

    def check_in_night(self) -> None:
        """The on-call lead checks in as the night starts, and logs it 25 minutes later."""
        night = self.recorded.night
        assert night is not None
        self.clock.set(night.starts_at + timedelta(minutes=25))
        self.shifts.execute(
            night.shift_id,
            sc.CheckIn(occurred_at=night.starts_at - timedelta(minutes=2)),
            JUDE.actor,
        )

    def hand_over(self, case_id: UUID, acknowledge_by: datetime) -> None:
        """At the end of the night the lead checks out, handing the case over to the morning's
        lead, who acknowledges it before reviewing the night's decisions."""
        night = self.recorded.night
        assert night is not None
        self.clock.set(night.ends_at)
        written = self.shifts.execute(
            night.shift_id,
            sc.CheckOut(
                handover=sc.HandoverNote(
                    note="Member at risk overnight: police welfare check done, member safe with "
                    "family. Please review my out-of-hours decision and the referral made "
                    "without consent this morning.",
                    case_ids=[case_id],
                    to=PRIYA.username,
                )
            ),
            JUDE.actor,
        )
        [given] = [e for e in written.events if isinstance(e, HandoverRecorded)]
        night.handover_id = given.handover_id
        self.clock.set(max(night.ends_at + timedelta(minutes=5), acknowledge_by))
        self.shifts.execute(
            night.shift_id, sc.AcknowledgeHandover(handover_id=night.handover_id), PRIYA.actor
        )
