"""Services as stories: given a service's events, when a command, then these events (or this
error). A calendar is versioned; a version never takes effect in the past."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.calendar import EARLIEST_VERSION, first_version_from_settings
from domain.case.ids import event_id_for
from domain.errors import InvalidCommand, ItemNotFound, RuleViolation
from domain.service.commands import (
    DEFAULT_SERVICE,
    RegisterService,
    ServiceCommand,
    VersionCalendar,
    register_default_service,
)
from domain.service.decide import ServiceContext, decide
from domain.service.errors import (
    CalendarVersionClash,
    CalendarVersionInPast,
    ServiceAlreadyExists,
    ServiceNotFound,
    UnknownBankHolidays,
)
from domain.service.events import ServiceCalendarVersioned, ServiceEvent, ServiceRegistered
from domain.service.state import ServiceState, evolve, fold, service_id_for
from domain.shared import Actor, DecisionContext, Role

NOW = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)
LEAD = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
FORUM = service_id_for("peer-forum")
EVENINGS = {d: ["08:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
REASON = "Volunteers now moderate the forum until midnight every day."


def ctx(now: datetime = NOW, **fields: Any) -> ServiceContext:
    return ServiceContext(decision=DecisionContext(actor=LEAD, now=now), **fields)


def register(**fields: Any) -> RegisterService:
    body = {
        "name": "peer-forum",
        "timezone": "Europe/London",
        "operating_hours": EVENINGS,
        "bank_holidays": "none",
        **fields,
    }
    return RegisterService.model_validate(body)


def new_version(**fields: Any) -> VersionCalendar:
    body = {
        "timezone": "Europe/London",
        "operating_hours": {"mon": ["09:00-17:00"]},
        "rationale": REASON,
        "effective_from": NOW + timedelta(days=7),
        **fields,
    }
    return VersionCalendar.model_validate(body)


def given_events(*commands: ServiceCommand, now: datetime = NOW) -> list[ServiceEvent]:
    events: list[ServiceEvent] = []
    for command in commands:
        events += decide(fold(events), command, ctx(now))
    return events


def when(events: list[ServiceEvent], command: ServiceCommand, **context: Any) -> ServiceEvent:
    [event] = decide(fold(events), command, ctx(**context))
    return event


def test_registering_a_service_records_its_first_calendar() -> None:
    event = when([], register(effective_from="2026-11-17T00:00:00Z"))
    assert event == ServiceRegistered(
        originator_id=FORUM,
        originator_version=1,
        event_id=event_id_for(FORUM, 1),
        occurred_at=NOW,
        recorded_at=NOW,
        actor="lee",
        actor_role=Role.SAFEGUARDING_LEAD,
        name="peer-forum",
        timezone="Europe/London",
        operating_hours=EVENINGS,
        bank_holidays="none",
        closed_dates=[],
        effective_from=datetime(2026, 11, 17, tzinfo=UTC),
        rationale=None,
    )
    state = fold([event])
    assert state is not None
    assert state.name == "peer-forum"
    assert [v.operating_hours for v in state.versions] == [EVENINGS]


def test_the_first_calendar_takes_effect_now_by_default_and_hours_are_stored_one_way() -> None:
    event = when([], register(operating_hours={"SAT": ["20:00-24:00", "09:00-11:00"]}))
    assert isinstance(event, ServiceRegistered)
    assert event.effective_from == NOW
    assert event.operating_hours == {"sat": ["09:00-11:00", "20:00-24:00"]}
    assert event.bank_holidays == "none"
    assert register(bank_holidays="england_and_wales").bank_holidays == "england_and_wales"
    assert (
        RegisterService.model_validate(
            {"name": "x1", "timezone": "UTC", "operating_hours": {}}
        ).bank_holidays
        == "england_and_wales"
    )


def test_a_service_id_derives_from_its_name() -> None:
    assert service_id_for("Peer-Forum") == service_id_for("peer-forum") == FORUM
    assert service_id_for("helpline") != FORUM
    assert register(name="  Peer-Forum ").name == "peer-forum"


def test_a_second_service_of_the_same_name_is_refused() -> None:
    events = given_events(register())
    with pytest.raises(ServiceAlreadyExists, match="peer-forum") as refused:
        when(events, register())
    assert isinstance(refused.value, RuleViolation)  # 409


def test_a_calendar_version_takes_effect_from_its_moment_with_a_rationale() -> None:
    events = given_events(register(effective_from=EARLIEST_VERSION))
    event = when(events, new_version())
    assert isinstance(event, ServiceCalendarVersioned)
    assert event.originator_version == 2
    assert event.rationale == REASON
    state = fold([*events, event])
    assert state is not None
    assert state.version_in_force(NOW).operating_hours == EVENINGS
    assert state.version_in_force(NOW + timedelta(days=8)).operating_hours == {
        "mon": ["09:00-17:00"]
    }
    history = state.history(lambda region: frozenset())
    monday_evening = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)
    assert not history.is_out_of_hours(monday_evening - timedelta(days=7))
    assert history.is_out_of_hours(monday_evening)


def test_a_version_takes_effect_now_by_default() -> None:
    events = given_events(register())
    later = NOW + timedelta(hours=1)
    event = when(events, new_version(effective_from=None), now=later)
    assert isinstance(event, ServiceCalendarVersioned)
    assert event.effective_from == later


def test_a_version_may_not_take_effect_in_the_past() -> None:
    events = given_events(register(effective_from=EARLIEST_VERSION))
    with pytest.raises(CalendarVersionInPast, match="never in the past") as refused:
        when(events, new_version(effective_from=NOW - timedelta(seconds=1)))
    assert isinstance(refused.value, RuleViolation)
    assert "effective_from" in refused.value.errors


def test_a_version_may_come_before_one_scheduled_later_but_not_at_the_same_moment() -> None:
    month = NOW + timedelta(days=30)
    events = given_events(
        register(effective_from=EARLIEST_VERSION), new_version(effective_from=month)
    )
    week = when(events, new_version(effective_from=NOW + timedelta(days=7), operating_hours={}))
    assert isinstance(week, ServiceCalendarVersioned)
    state = fold([*events, week])
    assert state is not None
    starts = [v.effective_from for v in state.versions]
    assert starts == [EARLIEST_VERSION, week.effective_from, month]
    with pytest.raises(CalendarVersionClash):
        when(events, new_version(effective_from=month))


def test_a_version_of_a_service_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ServiceNotFound) as refused:
        when([], new_version())
    assert isinstance(refused.value, ItemNotFound)  # 404


def test_bank_holidays_the_infrastructure_does_not_know_are_refused() -> None:
    known = {"england_and_wales"}
    with pytest.raises(UnknownBankHolidays) as refused:
        when([], register(bank_holidays="scotland"), bank_holiday_regions=known)
    assert isinstance(refused.value, InvalidCommand)  # 422
    assert when([], register(bank_holidays="none"), bank_holiday_regions=known)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "Peer Forum"}, "name"),
        ({"name": "peer_forum"}, "name"),
        ({"name": "-forum"}, "name"),
        ({"name": "a--b"}, "name"),
        ({"name": "x" * 64}, "name"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"operating_hours": {"mon": ["9-5"]}}, "operating_hours"),
        ({"operating_hours": {"mon": ["09:00-12:00", "11:00-13:00"]}}, "operating_hours"),
        ({"bank_holidays": "England and Wales"}, "bank_holidays"),
        ({"closed_dates": [date(2026, 1, d % 28 + 1) for d in range(1001)]}, "closed_dates"),
        ({"effective_from": "tomorrow"}, "effective_from"),
        ({"rationale": "n/a"}, "rationale"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_command_it_cannot_read_is_refused_field_by_field(
    fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        register(**fields)
    assert [e["loc"][0] for e in refused.value.errors()] == [field]


def test_a_new_version_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match="rationale"):
        new_version(rationale=None)


def test_the_default_service_starts_with_the_settings_calendar() -> None:
    first = first_version_from_settings(
        timezone="Europe/London", operating_hours="mon-fri 09:00-17:00", bank_holidays="GB-ENG"
    )
    event = when([], register_default_service(first))
    assert isinstance(event, ServiceRegistered)
    assert event.originator_id == service_id_for(DEFAULT_SERVICE)
    assert event.version() == first


events_strategy = st.lists(
    st.builds(
        ServiceCalendarVersioned,
        originator_id=st.just(FORUM),
        originator_version=st.integers(1, 5),
        event_id=st.uuids(),
        occurred_at=st.just(NOW),
        recorded_at=st.just(NOW),
        actor=st.text(max_size=3),
        actor_role=st.sampled_from(Role),
        timezone=st.text(max_size=20),
        operating_hours=st.dictionaries(st.text(max_size=4), st.lists(st.text(max_size=12))),
        bank_holidays=st.text(max_size=5),
        effective_from=st.datetimes(timezones=st.just(UTC)),
    ),
    max_size=5,
)


@given(events=events_strategy)
def test_evolve_never_raises(events: list[ServiceEvent]) -> None:
    state: ServiceState | None = None
    for event in events:
        state = evolve(state, event)
