"""The SLA policy as stories: given its versions, when a new one, then this event (or this
refusal); the targets' shape, the version in force at a moment, and review deadlines on a
calendar, worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.calendar import EARLIEST_VERSION
from domain.case.ids import event_id_for
from domain.case.vocabulary import RiskLevel, Urgency
from domain.personal import plan_for
from domain.policy.commands import VersionSlaPolicy, record_default_policy
from domain.policy.decide import decide
from domain.policy.errors import SlaPolicyVersionClash, SlaPolicyVersionInPast
from domain.policy.events import SlaPolicyVersioned
from domain.policy.sla import (
    DEFAULT_RATIONALE,
    DEFAULT_TARGETS,
    SlaPolicyHistory,
    SlaPolicyVersion,
    SlaTargets,
    Target,
    first_version,
    review_deadline,
)
from domain.policy.state import SLA_POLICY_ID, SlaPolicyState, evolve, fold
from domain.shared import Actor, DecisionContext, Role
from tests import story

NOW = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)
LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
VIGIL = Actor(username="vigil", role=Role.ADMIN)
RATIONALE = "The board agreed faster responses to critical concerns."


def ctx(now: datetime = NOW, actor: Actor = LEE) -> DecisionContext:
    return DecisionContext(actor=actor, now=now)


def version(**fields: Any) -> VersionSlaPolicy:
    values: dict[str, Any] = {**DEFAULT_TARGETS.model_dump(), "rationale": RATIONALE}
    return VersionSlaPolicy.model_validate({**values, **fields})


def recorded_default() -> SlaPolicyState:
    events = decide(
        None, record_default_policy(DEFAULT_TARGETS, DEFAULT_RATIONALE), ctx(actor=VIGIL)
    )
    state = fold(events)
    assert state is not None
    return state


# --- targets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "words"),
    [
        (Target(minutes=30), "30 min"),
        (Target(minutes=240), "4 h"),
        (Target(minutes=90), "1 h 30 min"),
        (Target(working_days=1), "1 working day"),
        (Target(working_days=5), "5 working days"),
    ],
)
def test_a_target_says_itself_in_words(target: Target, words: str) -> None:
    assert target.describe() == words


@pytest.mark.parametrize(
    "fields",
    [{}, {"minutes": 30, "working_days": 1}, {"minutes": 0}, {"working_days": 0}, {"hours": 1}],
)
def test_a_target_is_exactly_one_of_minutes_and_working_days_each_at_least_one(
    fields: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError):
        Target.model_validate(fields)


def test_the_defaults_are_the_services_promises() -> None:
    assert DEFAULT_TARGETS.described() == {
        "first_action": {"low": "72 h", "medium": "24 h", "high": "4 h", "critical": "1 h"},
        "escalation_acknowledged": {
            "routine": "1 working day",
            "urgent": "4 h",
            "immediate": "30 min",
        },
        "out_of_hours_review": "1 working day",
        "referral_acknowledged": "1 working day",
        "referral_chase": "5 working days",
        "approval_decided": "1 working day",
        "contact_reviewed": "5 working days",
        "new_member_welcomed": "24 h",
    }
    # An unassessed case counts as medium
    assert DEFAULT_TARGETS.first_action_for(None) == Target(minutes=24 * 60)


def test_every_risk_level_and_urgency_has_a_target() -> None:
    fields = DEFAULT_TARGETS.model_dump()
    del fields["first_action"][RiskLevel.LOW]
    with pytest.raises(ValidationError, match="missing: low"):
        SlaTargets.model_validate(fields)
    fields = DEFAULT_TARGETS.model_dump()
    del fields["escalation_acknowledged"][Urgency.ROUTINE]
    with pytest.raises(ValidationError, match="missing: routine"):
        SlaTargets.model_validate(fields)
    fields = DEFAULT_TARGETS.model_dump()
    del fields["contact_reviewed"]
    with pytest.raises(ValidationError, match="contact_reviewed"):
        SlaTargets.model_validate(fields)


# --- decisions --------------------------------------------------------------------------------


def test_the_default_is_version_one_from_the_start_of_time_recorded_once() -> None:
    [event] = decide(
        None, record_default_policy(DEFAULT_TARGETS, DEFAULT_RATIONALE), ctx(actor=VIGIL)
    )
    assert isinstance(event, SlaPolicyVersioned)
    assert (event.originator_id, event.originator_version) == (SLA_POLICY_ID, 1)
    assert event.event_id == event_id_for(SLA_POLICY_ID, 1)
    assert (event.effective_from, event.targets, event.actor) == (
        EARLIEST_VERSION,
        DEFAULT_TARGETS,
        "vigil",
    )
    # A second recording decides nothing
    assert decide(recorded_default(), record_default_policy(DEFAULT_TARGETS, "again"), ctx()) == []


def test_a_new_version_is_numbered_by_stream_order_from_its_moment() -> None:
    state = recorded_default()
    later = NOW + timedelta(days=14)
    shorter = {**DEFAULT_TARGETS.model_dump()["first_action"], "critical": {"minutes": 30}}
    [event] = decide(state, version(first_action=shorter, effective_from=later), ctx())
    assert isinstance(event, SlaPolicyVersioned)
    assert (event.originator_version, event.effective_from, event.actor) == (2, later, "lee")
    assert event.targets.first_action[RiskLevel.CRITICAL] == Target(minutes=30)
    assert event.rationale == RATIONALE
    after = evolve(state, event)
    assert [v.version for v in after.versions] == [1, 2]
    # Now, and by default
    [now] = decide(after, version(), ctx(now=NOW + timedelta(hours=1)))
    assert (now.originator_version, now.effective_from) == (3, NOW + timedelta(hours=1))


def test_a_new_version_may_not_take_effect_in_the_past() -> None:
    for state in (None, recorded_default()):
        with pytest.raises(SlaPolicyVersionInPast) as refused:
            decide(state, version(effective_from=NOW - timedelta(seconds=1)), ctx())
        assert set(refused.value.errors) == {"effective_from"}


def test_two_versions_never_take_effect_at_one_moment_but_may_come_before_a_scheduled_one() -> None:
    state = recorded_default()
    later = NOW + timedelta(days=30)
    state = evolve(state, decide(state, version(effective_from=later), ctx())[0])
    with pytest.raises(SlaPolicyVersionClash):
        decide(state, version(effective_from=later), ctx())
    # Before the one scheduled: allowed, numbered 3, and in force only until it
    sooner = NOW + timedelta(days=7)
    state = evolve(state, decide(state, version(effective_from=sooner), ctx())[0])
    history = state.history()
    assert history.in_force(sooner + timedelta(days=1)).version == 3
    assert history.in_force(later).version == 2
    assert history.in_force(NOW).version == 1


def test_a_rationale_gives_a_reason_and_every_target_is_given() -> None:
    with pytest.raises(ValidationError):
        version(rationale="n/a")
    fields = {**DEFAULT_TARGETS.model_dump(), "rationale": RATIONALE}
    del fields["referral_chase"]
    with pytest.raises(ValidationError):
        VersionSlaPolicy.model_validate(fields)


def test_nothing_on_the_policy_is_personal_data() -> None:
    assert not plan_for(SlaPolicyVersioned)


# --- the version in force, and review deadlines -------------------------------------------------


def test_the_first_version_is_in_force_from_the_start_of_time_whatever_it_says() -> None:
    late_first = SlaPolicyVersion(version=1, effective_from=NOW, targets=DEFAULT_TARGETS)
    history = SlaPolicyHistory(versions=(late_first,))
    assert history.in_force(datetime(1800, 1, 1, tzinfo=UTC)).version == 1
    assert first_version(DEFAULT_TARGETS).effective_from == EARLIEST_VERSION


def test_a_review_deadline_is_the_close_of_the_nth_working_day_after() -> None:
    calendar = story.calendar()  # Mon-Fri 09:00-17:00, Europe/London
    tuesday_night = datetime(2026, 11, 17, 23, 10, tzinfo=UTC)
    friday_night = datetime(2026, 11, 20, 23, 10, tzinfo=UTC)
    one, two = Target(working_days=1), Target(working_days=2)
    assert review_deadline(calendar, tuesday_night, one) == datetime(2026, 11, 18, 17, tzinfo=UTC)
    assert review_deadline(calendar, tuesday_night, two) == datetime(2026, 11, 19, 17, tzinfo=UTC)
    assert review_deadline(calendar, friday_night, two) == datetime(2026, 11, 24, 17, tzinfo=UTC)
    # The default is the end of the next working day, as it always was
    assert review_deadline(calendar, friday_night, one) == calendar.end_of_next_working_day(
        friday_night
    )
    assert review_deadline(calendar, friday_night, Target(minutes=90)) == friday_night + timedelta(
        minutes=90
    )


versions_strategy = st.lists(
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    min_size=1,
    max_size=6,
)


@given(moments=versions_strategy, at=st.datetimes(timezones=st.just(UTC)))
def test_the_version_in_force_is_the_latest_to_take_effect_by_then(
    moments: list[datetime], at: datetime
) -> None:
    versions = tuple(
        SlaPolicyVersion(version=n + 1, effective_from=m, targets=DEFAULT_TARGETS)
        for n, m in enumerate(moments)
    )
    found = SlaPolicyHistory(versions=versions).in_force(at)
    taken = [v for v in versions if v.effective_from <= at]
    if not taken:
        assert found.version == 1
    else:
        assert found.effective_from == max(v.effective_from for v in taken)


# --- a case's flags awaiting action (the flags_awaiting_action queue's items) --------------------


def test_a_case_opened_from_a_flag_awaits_its_first_action_at_its_risk() -> None:
    case = story.Story.opened(story.open_case(risk_level=None))
    [flag] = case.case.flags_awaiting or []
    assert (flag.flag_id, flag.raised_at, flag.risk_level) == (
        case.events[0].event_id,
        case.events[0].occurred_at,
        None,
    )
    # A note is not an action; an assessment is
    case.given(story.add_note())
    assert len(case.case.flags_awaiting or []) == 1
    case.given(story.assess_risk(RiskLevel.HIGH))
    assert case.case.flags_awaiting == []
    # A staff concern is no flag
    concern = story.Story.opened(story.open_case(source="staff_concern"))
    assert concern.case.flags_awaiting == []


def test_a_flag_waits_at_the_risk_then_and_only_an_action_at_or_after_it_clears_it() -> None:
    case = story.Story.opened(story.open_case(source="staff_concern", risk_level=RiskLevel.LOW))
    flag = case.given(story.raise_flag())
    [waiting] = case.case.flags_awaiting or []
    assert (waiting.flag_id, waiting.risk_level) == (flag.event_id, RiskLevel.LOW)
    # An action logged late, which occurred before the flag, leaves it waiting
    case.given(story.moderate(occurred_at=flag.occurred_at - timedelta(seconds=30)))
    assert len(case.case.flags_awaiting or []) == 1
    # One at the flag's very moment clears it
    case.given(story.escalate(occurred_at=flag.occurred_at))
    assert case.case.flags_awaiting == []
    # A flag logged late, before an action already recorded after it, never waits
    case.given(story.raise_flag(occurred_at=flag.occurred_at - timedelta(seconds=10)))
    assert case.case.flags_awaiting == []
