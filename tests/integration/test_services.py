"""The service service and the views that judge by services' calendars, on SQLite and
PostgreSQL: the default service recorded once and never rewritten by the settings, views equal
to a rebuild whatever the batches, and a refusal that writes nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.case import commands as c
from domain.errors import DomainError
from domain.service.commands import RegisterService, VersionCalendar
from domain.service.errors import CalendarVersionInPast
from domain.service.events import ServiceRegistered
from domain.service.state import service_id_for
from domain.shared import Actor, Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from projections.work_queues import WorkQueues
from tests.conftest import Clock

LEAD = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
COORDINATOR = Actor(username="casey", role=Role.COORDINATOR)
OOH_POLICY = {"policy": "out-of-hours-safeguarding", "version": "2025-01", "clause": "3.1"}
MONDAY_2300 = datetime(2026, 11, 16, 23, 0, tzinfo=UTC)  # out of hours: mon-fri 09:00-17:00


def log_length(vigil: Vigil) -> int:
    return vigil.event_log.recorder.max_notification_id() or 0


def open_case(vigil: Vigil, *, service: str = "default", at: datetime | None = None) -> Any:
    command = c.OpenCase.model_validate(
        {
            "subject": {"kind": "member", "ref": "member-7"},
            "source": "flag",
            "category": "harassment",
            "summary": "Unwanted messages after a thread was locked.",
            "service": service,
            "occurred_at": at,
        }
    )
    return vigil.cases.execute(None, command, COORDINATOR).state.id


def decide_out_of_hours(vigil: Vigil, case_id: Any, at: datetime) -> Any:
    command = c.RecordOutOfHoursDecision.model_validate(
        {
            "decision": "Asked the police for a welfare check",
            "rationale": "The member stated a plan and stopped replying",
            "policy_ref": OOH_POLICY,
            "occurred_at": at,
        }
    )
    return vigil.cases.execute(case_id, command, COORDINATOR).events[0]


def default_registrations(vigil: Vigil) -> list[ServiceRegistered]:
    return [
        e
        for e in vigil.event_log.events_of(service_id_for("default"))
        if isinstance(e, ServiceRegistered)
    ]


@pytest.fixture
def reopened(settings: Settings, clock: Clock) -> Iterator[list[Vigil]]:
    """Vigils opened on the test's store later, closed at the end."""
    opened: list[Vigil] = []
    yield opened
    for vigil in opened:
        vigil.close()


def test_changing_the_settings_never_changes_the_recorded_default_service(
    vigil: Vigil, settings: Settings, clock: Clock, reopened: list[Vigil]
) -> None:
    # Given the default service recorded with the first case, from the settings (mon-fri
    # 09:00-17:00), and a decision at 23:00 on Monday judged out of hours by it
    clock.set(datetime(2026, 11, 17, 9, 30, tzinfo=UTC))
    case_id = open_case(vigil, at=datetime(2026, 11, 16, 22, 0, tzinfo=UTC))
    decision = decide_out_of_hours(vigil, case_id, MONDAY_2300)
    escalated = c.EscalateCase(
        level=2, reason="A lead must see it", urgency="routine", occurred_at=MONDAY_2300
    )
    vigil.cases.execute(case_id, escalated, COORDINATOR)
    vigil.projector.catch_up()
    recorded = vigil.services.get("default")
    queues = vigil.work_queues.all()
    assert [r["due_at"] for r in queues if r["queue"] == "unacknowledged_escalations"] == [
        datetime(2026, 11, 17, 17, 0, tzinfo=UTC)
    ]

    # When Vigil starts again with other settings: open round the clock, in another zone
    other = settings.model_copy(
        update={"operating_hours": "always", "timezone": "America/New_York"}
    )
    again = bootstrap(other, clock=clock)
    reopened.append(again)

    # Then the default service is the one recorded, not the settings'
    assert again.services.get("default") == recorded
    assert again.services.history("default").is_out_of_hours(MONDAY_2300)
    # and what was judged by it stays judged the same: the case, and the queues rebuilt
    assert again.cases.get(case_id).decisions[str(decision.decision_id)].review_due == (
        decision.review_due
    )
    again.projector.rebuild()
    assert again.work_queues.all() == queues
    # and a new moment is still judged by the recorded calendar (23:00 is out of hours)
    clock.set(datetime(2026, 11, 17, 23, 30, tzinfo=UTC))
    later = decide_out_of_hours(again, case_id, datetime(2026, 11, 17, 23, 0, tzinfo=UTC))
    assert later.review_due == datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
    assert len(default_registrations(again)) == 1


def test_the_default_service_is_recorded_once_however_many_open_cases_at_once(
    vigil: Vigil,
) -> None:
    errors: list[BaseException] = []

    def open_some() -> None:
        try:
            for _ in range(3):
                open_case(vigil)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    (registered,) = default_registrations(vigil)
    assert registered.actor == "vigil"
    assert registered.effective_from == datetime(1900, 1, 1, tzinfo=UTC)
    # Twelve cases, the default service and the SLA policy's first version (counted:
    # PostgreSQL's ids skip a lost race's).
    assert len(vigil.event_log.recorder.select_notifications(start=1, limit=100)) == 14


def test_versioning_the_default_service_records_it_first_and_a_refusal_writes_nothing(
    vigil: Vigil, clock: Clock
) -> None:
    hours = {"mon": ["09:00-20:00"], "tue": ["09:00-20:00"]}
    past = VersionCalendar(
        timezone="Europe/London",
        operating_hours=hours,
        effective_from=datetime(2026, 11, 1, tzinfo=UTC),
        rationale="Longer hours for the winter.",
    )
    with pytest.raises(CalendarVersionInPast):
        vigil.services.add_version("default", past, LEAD)
    assert log_length(vigil) == 0

    write = vigil.services.add_version(
        "default", past.model_copy(update={"effective_from": clock()}), LEAD
    )

    assert [type(e).__name__ for e in write.events] == ["ServiceCalendarVersioned"]
    assert log_length(vigil) == 2
    service = vigil.services.get("default")
    assert [v.operating_hours["mon"] for v in service.versions] == [
        ["09:00-17:00"],
        ["09:00-20:00"],
    ]
    assert default_registrations(vigil)[0].actor == "vigil"


def test_the_work_queues_equal_a_rebuild_across_a_new_calendar_version(
    vigil: Vigil, clock: Clock
) -> None:
    # A view following one event at a time, the shared one in whatever batches, and a rebuild
    # all judge each clock by the version the log held at the case's event.
    one_by_one = WorkQueues(vigil.event_log, batch_size=1)
    vigil.services.register(
        RegisterService(
            name="helpline",
            timezone="Europe/London",
            operating_hours={day: ["08:00-14:00"] for day in ("mon", "tue", "wed")},
        ),
        LEAD,
    )
    clock.set(datetime(2026, 11, 23, 15, 30, tzinfo=UTC))
    case_id = open_case(vigil, service="helpline", at=datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    for urgency in ("routine", "urgent"):
        vigil.cases.execute(
            case_id,
            c.EscalateCase(level=2, reason="A lead must see it", urgency=urgency),
            COORDINATOR,
        )
    one_by_one.catch_up()
    vigil.services.add_version(
        "helpline",
        VersionCalendar(
            timezone="Europe/London",
            operating_hours={day: ["08:00-20:00"] for day in ("mon", "tue", "wed", "thu")},
            effective_from=datetime(2026, 11, 23, 16, 0, tzinfo=UTC),
            rationale="Afternoon volunteers recruited.",
        ),
        LEAD,
    )
    clock.set(datetime(2026, 11, 23, 16, 30, tzinfo=UTC))
    vigil.cases.execute(
        case_id,
        c.EscalateCase(level=2, reason="A second concern tonight", urgency="routine"),
        COORDINATOR,
    )
    one_by_one.catch_up()
    vigil.projector.catch_up()

    routine = sorted(
        r["due_at"]
        for r in vigil.work_queues.all()
        if r["queue"] == "unacknowledged_escalations" and r["urgency"] == "routine"
    )
    # Monday 15:30 by the first version (closed): Tuesday's close, 14:00; Monday 16:30 by the
    # second (open until 20:00): Tuesday 16:30.
    assert routine == [
        datetime(2026, 11, 24, 14, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 16, 30, tzinfo=UTC),
    ]
    assert one_by_one.all() == vigil.work_queues.all()
    vigil.projector.rebuild()
    assert vigil.work_queues.all() == one_by_one.all()
    replayed = vigil.work_queues.replay(clock())
    assert sorted(r["due_at"] for r in replayed.rows if r["due_at"] is not None) == sorted(
        r["due_at"] for r in one_by_one.all() if r["due_at"] is not None
    )


def test_an_unknown_service_is_refused_and_nothing_is_written(vigil: Vigil) -> None:
    with pytest.raises(DomainError) as refused:
        open_case(vigil, service="nowhere")
    assert refused.value.errors == {"service": "unknown service"}
    assert log_length(vigil) == 0
