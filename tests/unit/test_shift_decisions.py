"""Shifts as stories: given a shift's events, when a command, then these events (or this
error). Every rule has its refusal, named by its error type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.case.ids import event_id_for
from domain.errors import DomainError, InvalidCommand, ItemNotFound, NotPermitted, RuleViolation
from domain.personal import OwnStream, declared_subject, plan_for
from domain.shared import Actor, DecisionContext, Role
from domain.shift import commands as c
from domain.shift import errors as x
from domain.shift.decide import ShiftContext, ShiftPolicy, decide, decide_and_fold
from domain.shift.events import (
    CheckedIn,
    CheckedOut,
    HandoverAcknowledged,
    HandoverRecorded,
    ShiftEvent,
    ShiftPlanned,
    ShiftReassigned,
)
from domain.shift.state import Segment, ShiftState, evolve, fold
from domain.shift.vocabulary import ShiftRole

# Tuesday 17 November 2026: planned in the morning, the night shift from 19:00 to 23:00 (GMT).
MORNING = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
START = datetime(2026, 11, 17, 19, 0, tzinfo=UTC)
END = datetime(2026, 11, 17, 23, 0, tzinfo=UTC)
SHIFT = UUID("00000000-0000-4000-8000-000000000013")

KIT = Actor(username="kit", role=Role.VOLUNTEER)
SAM = Actor(username="sam", role=Role.MODERATOR)
CASEY = Actor(username="casey", role=Role.COORDINATOR)
LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
REASON = "Swap agreed with the coordinator for this week."


def ctx(by: Actor = CASEY, now: datetime = MORNING, **fields: Any) -> ShiftContext:
    return ShiftContext(decision=DecisionContext(actor=by, now=now), shift_id=SHIFT, **fields)


def planned(**fields: Any) -> c.PlanShift:
    body = {"role": "on_call", "assignee": "kit", "starts_at": START, "ends_at": END, **fields}
    return c.PlanShift.model_validate(body)


class Story:
    """A shift's history, built by deciding commands with the real ``decide``."""

    def __init__(self) -> None:
        self.events: list[ShiftEvent] = []

    @property
    def state(self) -> ShiftState | None:
        return fold(self.events)

    def given(
        self, command: c.ShiftCommand, by: Actor = CASEY, now: datetime = MORNING, **kw: Any
    ) -> Story:
        self.events += decide(self.state, command, ctx(by, now, **kw))
        return self

    def when(
        self, command: c.ShiftCommand, by: Actor = CASEY, now: datetime = MORNING, **kw: Any
    ) -> list[ShiftEvent]:
        return decide(self.state, command, ctx(by, now, **kw))

    def refused(
        self,
        error: type[DomainError],
        command: c.ShiftCommand,
        by: Actor = CASEY,
        now: datetime = MORNING,
        **kw: Any,
    ) -> DomainError:
        before = list(self.events)
        with pytest.raises(error) as refused:
            self.when(command, by, now, **kw)
        assert self.events == before
        return refused.value


def on_shift() -> Story:
    return Story().given(planned())


def checked_in(at: datetime = START) -> Story:
    return on_shift().given(c.CheckIn(occurred_at=at), by=KIT, now=at)


# --- planning -----------------------------------------------------------------------------------


def test_a_shift_is_planned() -> None:
    [event] = Story().when(planned())
    assert event == ShiftPlanned(
        originator_id=SHIFT,
        originator_version=1,
        event_id=event_id_for(SHIFT, 1),
        occurred_at=MORNING,
        recorded_at=MORNING,
        actor="casey",
        actor_role=Role.COORDINATOR,
        service="default",
        role=ShiftRole.ON_CALL,
        assignee="kit",
        starts_at=START,
        ends_at=END,
    )


def test_a_shift_is_planned_once() -> None:
    on_shift().refused(x.ShiftAlreadyPlanned, planned())


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"ends_at": START}, x.ShiftEndsBeforeStart),
        ({"ends_at": START - timedelta(hours=1)}, x.ShiftEndsBeforeStart),
        ({"ends_at": START + timedelta(hours=24, seconds=1)}, x.ShiftTooLong),
        ({"starts_at": MORNING - timedelta(minutes=1)}, x.ShiftStartInPast),  # no reason
        (
            {"starts_at": MORNING - timedelta(hours=3), "ends_at": MORNING, "reason": REASON},
            x.ShiftStartInPast,
        ),
    ],
)
def test_a_plan_that_cannot_be_a_shift_is_refused(
    fields: dict[str, Any], error: type[DomainError]
) -> None:
    refusal = Story().refused(error, planned(**fields))
    assert isinstance(refusal, InvalidCommand)  # 422


def test_cover_starts_at_most_a_day_ago() -> None:
    long_shifts = ShiftPolicy(max_length=timedelta(hours=48))
    cover = planned(
        starts_at=MORNING - timedelta(hours=25), ends_at=MORNING + timedelta(hours=1), reason=REASON
    )
    Story().refused(x.ShiftStartInPast, cover, policy=long_shifts)


def test_cover_already_happening_may_be_planned_with_a_reason() -> None:
    [event] = Story().when(
        planned(
            starts_at=MORNING - timedelta(hours=2),
            ends_at=MORNING + timedelta(hours=2),
            reason=REASON,
        )
    )
    assert isinstance(event, ShiftPlanned)
    assert event.reason == REASON


def test_a_longer_shift_under_another_policy() -> None:
    policy = ShiftPolicy(max_length=timedelta(hours=4))
    Story().refused(x.ShiftTooLong, planned(ends_at=START + timedelta(hours=5)), policy=policy)


def test_a_plan_needs_an_id() -> None:
    with pytest.raises(InvalidCommand, match="no id"):
        decide(None, planned(), ShiftContext(decision=DecisionContext(actor=CASEY, now=MORNING)))


# --- reassignment and cancellation --------------------------------------------------------------


def test_a_swap_gives_the_whole_shift_to_someone_else() -> None:
    [event] = on_shift().when(c.ReassignShift(assignee="sam", reason=REASON))
    assert isinstance(event, ShiftReassigned)
    assert (event.assignee, event.from_at, event.until) == ("sam", None, None)
    state = fold([*on_shift().events, event])
    assert state is not None
    assert state.assignee == "sam"
    assert state.segments() == [Segment(assignee="sam", starts_at=START, ends_at=END)]


def test_cover_for_part_of_a_shift() -> None:
    story = on_shift().given(
        c.ReassignShift(assignee="sam", reason=REASON, from_at=START + timedelta(hours=2))
    )
    state = story.state
    assert state is not None
    assert state.segments() == [
        Segment(assignee="kit", starts_at=START, ends_at=START + timedelta(hours=2)),
        Segment(assignee="sam", starts_at=START + timedelta(hours=2), ends_at=END),
    ]
    assert state.assignee_at(START + timedelta(hours=3)) == "sam"
    assert state.assignee_at(END) is None
    # Cover in the middle of a cover: three parts, then back to kit.
    story.given(
        c.ReassignShift(
            assignee="kit", reason=REASON, from_at=START + timedelta(hours=3), until=END
        )
    )
    state = story.state
    assert state is not None
    assert [s.assignee for s in state.segments()] == ["kit", "sam", "kit"]


def test_cover_that_changes_nothing_is_refused() -> None:
    on_shift().refused(x.AlreadyAssigned, c.ReassignShift(assignee="kit", reason=REASON))


@pytest.mark.parametrize(
    "window",
    [
        {"from_at": START - timedelta(minutes=1)},
        {"until": END + timedelta(minutes=1)},
        {"from_at": START + timedelta(hours=2), "until": START + timedelta(hours=1)},
        {"from_at": END},
    ],
)
def test_cover_outside_the_shift_is_refused(window: dict[str, datetime]) -> None:
    on_shift().refused(
        x.CoverWindowInvalid, c.ReassignShift(assignee="sam", reason=REASON, **window)
    )


def test_what_has_started_is_never_reassigned_or_cancelled() -> None:
    for command in (c.ReassignShift(assignee="sam", reason=REASON), c.CancelShift(reason=REASON)):
        refusal = on_shift().refused(x.ShiftAlreadyStarted, command, now=START)
        assert isinstance(refusal, RuleViolation)  # 409
        # Someone checked in early: it has started too.
        early = on_shift().given(c.CheckIn(), by=KIT, now=START - timedelta(minutes=10))
        early.refused(x.ShiftAlreadyStarted, command, now=START - timedelta(minutes=5))


def test_a_cancelled_shift_takes_nothing_more() -> None:
    story = on_shift().given(c.CancelShift(reason=REASON))
    assert story.state is not None
    assert story.state.cancelled
    for command, by in [
        (c.CheckIn(), KIT),
        (c.CancelShift(reason=REASON), CASEY),
        (c.ReassignShift(assignee="sam", reason=REASON), CASEY),
        (c.RecordHandover(note="Nothing open."), KIT),
    ]:
        story.refused(x.ShiftIsCancelled, command, by=by, now=START)


def test_a_shift_that_does_not_exist() -> None:
    refusal = Story().refused(x.ShiftNotFound, c.CheckIn(), by=KIT)
    assert isinstance(refusal, ItemNotFound)


# --- attendance ---------------------------------------------------------------------------------


def test_the_assignee_checks_in_and_out() -> None:
    story = on_shift()
    [event] = story.when(c.CheckIn(), by=KIT, now=START + timedelta(minutes=2))
    assert event == CheckedIn(
        originator_id=SHIFT,
        originator_version=2,
        event_id=event_id_for(SHIFT, 2),
        occurred_at=START + timedelta(minutes=2),
        recorded_at=START + timedelta(minutes=2),
        actor="kit",
        actor_role=Role.VOLUNTEER,
    )
    story.events.append(event)
    [out] = story.when(c.CheckOut(), by=KIT, now=END)
    assert isinstance(out, CheckedOut)
    assert (out.person, out.on_behalf_of, out.occurred_at) == ("kit", None, END)
    state = fold([*story.events, out])
    assert state is not None
    assert state.attendance["kit"].checked_out_at == END


def test_a_late_logged_check_in_keeps_both_clocks() -> None:
    story = on_shift().given(c.CheckIn(occurred_at=START), by=KIT, now=START + timedelta(hours=1))
    state = story.state
    assert state is not None
    attendance = state.attendance["kit"]
    assert (attendance.checked_in_at, attendance.checked_in_recorded_at) == (
        START,
        START + timedelta(hours=1),
    )


def test_only_the_assignee_checks_in() -> None:
    refusal = on_shift().refused(x.NotTheAssignee, c.CheckIn(), by=SAM, now=START)
    assert isinstance(refusal, NotPermitted)  # 403
    # A lead checks in nobody else either.
    on_shift().refused(x.NotTheAssignee, c.CheckIn(), by=LEE, now=START)


def test_cover_checks_in_for_its_part_only() -> None:
    story = on_shift().given(
        c.ReassignShift(assignee="sam", reason=REASON, from_at=START + timedelta(hours=2))
    )
    story.refused(x.CheckInOutsideShift, c.CheckIn(), by=SAM, now=START)
    assert story.when(c.CheckIn(), by=SAM, now=START + timedelta(hours=1, minutes=45))
    story.refused(x.CheckInOutsideShift, c.CheckIn(), by=KIT, now=START + timedelta(hours=2))


def test_early_check_in_within_the_margin() -> None:
    on_shift().refused(
        x.CheckInOutsideShift, c.CheckIn(), by=KIT, now=START - timedelta(minutes=31)
    )
    assert on_shift().when(c.CheckIn(), by=KIT, now=START - timedelta(minutes=30))
    wider = ShiftPolicy(early_check_in=timedelta(hours=1))
    assert on_shift().when(c.CheckIn(), by=KIT, now=START - timedelta(minutes=50), policy=wider)


def test_a_check_in_long_before_the_shift_or_after_it_is_refused() -> None:
    on_shift().refused(
        x.CheckInOutsideShift,
        c.CheckIn(occurred_at=START - timedelta(hours=2)),
        by=KIT,
        now=START + timedelta(hours=1),
    )
    on_shift().refused(x.CheckInOutsideShift, c.CheckIn(), by=KIT, now=END)


def test_a_check_in_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidCommand, match="future"):
        on_shift().when(c.CheckIn(occurred_at=START + timedelta(minutes=6)), by=KIT, now=START)


def test_no_second_check_in() -> None:
    checked_in().refused(x.AlreadyCheckedIn, c.CheckIn(), by=KIT, now=START + timedelta(minutes=5))
    out = checked_in().given(c.CheckOut(), by=KIT, now=START + timedelta(hours=1))
    out.refused(x.AlreadyCheckedIn, c.CheckIn(), by=KIT, now=START + timedelta(hours=2))


def test_one_open_check_in_per_person() -> None:
    elsewhere = uuid4()
    on_shift().refused(
        x.CheckedInElsewhere, c.CheckIn(), by=KIT, now=START, open_check_in_elsewhere=elsewhere
    )
    # The fact about this very shift is no obstacle (the view may already show it).
    assert on_shift().when(c.CheckIn(), by=KIT, now=START, open_check_in_elsewhere=SHIFT)


def test_no_check_out_before_check_in() -> None:
    on_shift().refused(x.NotCheckedIn, c.CheckOut(), by=KIT, now=START)
    refusal = checked_in().refused(
        x.CheckOutBeforeCheckIn,
        c.CheckOut(occurred_at=START),
        by=KIT,
        now=START + timedelta(hours=1),
    )
    assert "occurred_at" in refusal.errors
    later = checked_in().given(c.CheckOut(), by=KIT, now=END)
    later.refused(x.AlreadyCheckedOut, c.CheckOut(), by=KIT, now=END + timedelta(minutes=1))


def test_a_lead_records_a_forgotten_check_out_with_a_reason() -> None:
    next_morning = END + timedelta(hours=10)
    for lead in (CASEY, LEE):
        [event] = checked_in().when(
            c.CheckOut(
                occurred_at=END, on_behalf_of="kit", reason="Kit forgot to check out at 23:00."
            ),
            by=lead,
            now=next_morning,
        )
        assert isinstance(event, CheckedOut)
        assert (event.actor, event.person, event.occurred_at) == (lead.username, "kit", END)
        state = fold([*checked_in().events, event])
        assert state is not None
        assert state.attendance["kit"].checked_out_by == lead.username


def test_only_a_lead_checks_someone_else_out_and_says_why() -> None:
    body = {"on_behalf_of": "kit", "reason": "Kit forgot to check out at 23:00."}
    checked_in().refused(x.NotALead, c.CheckOut(**body), by=SAM, now=END)
    checked_in().refused(InvalidCommand, c.CheckOut(on_behalf_of="kit"), by=CASEY, now=END)
    handover = c.HandoverNote(note="Case 12 needs a call back.")
    checked_in().refused(InvalidCommand, c.CheckOut(**body, handover=handover), by=CASEY, now=END)
    checked_in().refused(
        x.NotCheckedIn, c.CheckOut(**{**body, "on_behalf_of": "sam"}), by=CASEY, now=END
    )


# --- handovers ----------------------------------------------------------------------------------

CASE = uuid4()


def test_a_handover_while_checked_in_and_its_acknowledgement() -> None:
    story = checked_in()
    at = START + timedelta(hours=3)
    [given_] = story.when(
        c.RecordHandover(note="Case 12: call back at 08:00.", case_ids=[CASE, CASE], to="sam"),
        by=KIT,
        now=at,
    )
    assert isinstance(given_, HandoverRecorded)
    assert given_.handover_id == given_.event_id
    assert given_.case_ids == [CASE]
    story.events.append(given_)
    handover = c.AcknowledgeHandover(handover_id=given_.handover_id)
    story.refused(x.NotTheRecipient, handover, by=LEE, now=at)
    [ack] = story.when(handover, by=SAM, now=at + timedelta(hours=9))
    assert isinstance(ack, HandoverAcknowledged)
    story.events.append(ack)
    story.refused(x.HandoverAlreadyAcknowledged, handover, by=SAM, now=at + timedelta(hours=10))
    state = story.state
    assert state is not None
    assert state.handovers[given_.handover_id].acknowledged_by == "sam"


def test_a_handover_with_the_check_out() -> None:
    note = c.HandoverNote(note="Quiet night; case 12 open.", case_ids=[CASE], to="sam")
    events, state = decide_and_fold(checked_in().state, c.CheckOut(handover=note), ctx(KIT, END))
    assert [type(e) for e in events] == [HandoverRecorded, CheckedOut]
    assert [e.originator_version for e in events] == [3, 4]
    assert not state.open_check_ins()


def test_a_handover_needs_a_check_in_and_someone_else() -> None:
    on_shift().refused(x.NotCheckedIn, c.RecordHandover(note="Nothing open."), by=KIT, now=START)
    out = checked_in().given(c.CheckOut(), by=KIT, now=END)
    out.refused(x.NotCheckedIn, c.RecordHandover(note="Nothing open."), by=KIT, now=END)
    checked_in().refused(
        InvalidCommand, c.RecordHandover(note="Nothing open.", to="kit"), by=KIT, now=END
    )
    checked_in().refused(
        InvalidCommand,
        c.RecordHandover(note="Nothing open.", occurred_at=START - timedelta(minutes=1)),
        by=KIT,
        now=END,
    )


def test_a_handover_to_nobody_is_taken_on_by_anyone_but_its_giver() -> None:
    story = checked_in().given(c.RecordHandover(note="Nothing open."), by=KIT, now=END)
    state = story.state
    assert state is not None
    [handover_id] = state.handovers
    story.refused(
        x.NotTheRecipient, c.AcknowledgeHandover(handover_id=handover_id), by=KIT, now=END
    )
    assert story.when(c.AcknowledgeHandover(handover_id=handover_id), by=SAM, now=END)
    story.refused(x.HandoverNotFound, c.AcknowledgeHandover(handover_id=uuid4()), by=SAM, now=END)


def test_a_handover_note_is_personal_and_sealed_under_its_own_key() -> None:
    story = checked_in().given(c.RecordHandover(note="Sam said ..."), by=KIT, now=END)
    event = story.events[-1]
    assert isinstance(event, HandoverRecorded)
    assert [step.name for step in plan_for(HandoverRecorded)] == ["note"]
    assert declared_subject(event) == OwnStream(event.handover_id)
    for cls in (ShiftPlanned, ShiftReassigned, CheckedIn, CheckedOut, HandoverAcknowledged):
        assert plan_for(cls) == ()


# --- evolve -------------------------------------------------------------------------------------

times = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)
envelope = {
    "originator_id": st.just(SHIFT),
    "originator_version": st.integers(1, 9),
    "event_id": st.uuids(),
    "occurred_at": times,
    "recorded_at": times,
    "actor": st.sampled_from(["kit", "sam"]),
    "actor_role": st.sampled_from(Role),
}
any_event = st.one_of(
    st.builds(
        ShiftPlanned,
        **envelope,
        service=st.text(max_size=3),
        role=st.sampled_from(ShiftRole),
        assignee=st.sampled_from(["kit", "sam"]),
        starts_at=times,
        ends_at=times,
    ),
    st.builds(
        ShiftReassigned,
        **envelope,
        assignee=st.sampled_from(["kit", "sam"]),
        reason=st.text(max_size=3),
        from_at=st.none() | times,
        until=st.none() | times,
    ),
    st.builds(CheckedIn, **envelope),
    st.builds(CheckedOut, **envelope, on_behalf_of=st.none() | st.just("kit")),
    st.builds(
        HandoverRecorded,
        **envelope,
        handover_id=st.sampled_from([SHIFT, CASE]),
        note=st.text(max_size=3),
        to=st.none() | st.just("sam"),
    ),
    st.builds(HandoverAcknowledged, **envelope, handover_id=st.sampled_from([SHIFT, CASE])),
)


@given(events=st.lists(any_event, max_size=8))
def test_evolve_never_raises(events: list[ShiftEvent]) -> None:
    state: ShiftState | None = None
    for event in events:
        state = evolve(state, event)
    if state is not None:
        state.segments()
