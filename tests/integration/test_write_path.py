"""The one write path, on a real store: a lost race is decided again on the new state, a write
that keeps losing gives the one Contention error, a pinned version is not retried, and writes to
one aggregate queue within a process.

A second ``WritePath`` over the same store stands for another process: it has its own queues,
so its writes race with the first one's rather than wait for them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.write_path import Contention, WritePath, Written
from domain.case.vocabulary import SubjectKind
from domain.errors import VersionConflict
from domain.shared import DecisionContext
from domain.subject.events import LegalHoldLifted, LegalHoldPlaced, SubjectEvent
from domain.subject.subject import (
    LiftLegalHold,
    PlaceLegalHold,
    SubjectState,
    evolve,
    lift_hold,
    place_hold,
)
from interfaces.composition import Vigil
from tests.conftest import Clock
from tests.story import LEAD

PLACE = PlaceLegalHold(kind=SubjectKind.MEMBER, reason="Police asked us to preserve the records.")
LIFT = LiftLegalHold(kind=SubjectKind.MEMBER, reason="The police investigation has closed.")


def _fold(state: SubjectState | None, events: Iterable[Any]) -> SubjectState | None:
    for event in events:
        state = evolve(state, event)
    return state


def _path(vigil: Vigil, retries: int = 5) -> WritePath[SubjectState]:
    return WritePath[SubjectState](
        vigil.event_log,
        name="subject",
        fold=_fold,
        version=lambda state: state.version,
        retries=retries,
    )


def _answer(written: Written[SubjectState]) -> Written[SubjectState]:
    return written


class Subject:
    """One subject's legal holds, written through a path of its own (a process of its own)."""

    def __init__(self, vigil: Vigil, clock: Clock, subject_id: UUID, retries: int = 5) -> None:
        self.path = _path(vigil, retries)
        self.clock = clock
        self.id = subject_id

    def place(self, state: SubjectState | None) -> list[SubjectEvent]:
        return [place_hold(self.id, state, PLACE, DecisionContext(actor=LEAD, now=self.clock()))]

    def lift(self, state: SubjectState | None) -> list[SubjectEvent]:
        return [lift_hold(self.id, state, LIFT, DecisionContext(actor=LEAD, now=self.clock()))]

    def toggle(self) -> None:
        """Place a hold if none is in force, else lift it: one more version, whatever the state."""
        current = self.path.load(self.id)
        decide = self.lift if current is not None and current.on_hold else self.place
        self.path.write(self.id, decide, _answer)


def test_a_write_that_lost_a_race_is_decided_again_on_the_new_state(
    vigil: Vigil, clock: Clock
) -> None:
    # Given a subject, and another process that places and lifts a hold on it while this one
    # is deciding to place one on the subject as it first found it (no hold, version 0).
    subject_id = uuid4()
    here, there = Subject(vigil, clock, subject_id), Subject(vigil, clock, subject_id)
    seen: list[int] = []

    def place_while_the_other_writes(state: SubjectState | None) -> list[SubjectEvent]:
        seen.append(0 if state is None else state.version)
        if len(seen) == 1:
            there.toggle()  # placed: version 1
            there.toggle()  # lifted: version 2
        return here.place(state)

    # When this process's write is appended.
    written = here.path.write(subject_id, place_while_the_other_writes, _answer)

    # Then its first decision lost the race for version 1, and it was decided again on the
    # subject as the other process left it: the hold is placed at version 3.
    assert seen == [0, 2]
    assert written.before is not None
    assert written.before.version == 2
    assert written.after is not None
    assert (written.after.version, written.after.on_hold) == (3, True)
    [event] = written.events
    history = list(vigil.event_log.events_of(subject_id))
    assert [type(e) for e in history] == [LegalHoldPlaced, LegalHoldLifted, LegalHoldPlaced]
    assert history[-1] == event
    assert written.position == vigil.event_log.notification_id_of(subject_id, 3)


def test_a_write_that_loses_every_race_it_may_gives_contention_and_appends_nothing(
    vigil: Vigil, clock: Clock
) -> None:
    # Given another process that writes to the subject every time this one decides.
    subject_id = uuid4()
    here = Subject(vigil, clock, subject_id, retries=3)
    there = Subject(vigil, clock, subject_id)
    decided: list[int] = []

    def always_overtaken(state: SubjectState | None) -> list[SubjectEvent]:
        decided.append(0 if state is None else state.version)
        event = (here.lift if state is not None and state.on_hold else here.place)(state)
        there.toggle()
        return event

    # When this process writes, then it decides once per retry allowed and gives up with the
    # one error for a race that could not be won.
    with pytest.raises(Contention, match="lost 3 races in a row"):
        here.path.write(subject_id, always_overtaken, _answer)
    assert decided == [0, 1, 2]
    # Only the other process's writes were appended.
    assert len(list(vigil.event_log.events_of(subject_id))) == 3


def test_a_write_pinned_to_a_version_is_not_decided_again(vigil: Vigil, clock: Clock) -> None:
    subject_id = uuid4()
    here, there = Subject(vigil, clock, subject_id), Subject(vigil, clock, subject_id)
    there.toggle()  # a hold, version 1
    decided: list[int] = []

    def lift_while_the_other_writes(state: SubjectState | None) -> list[SubjectEvent]:
        decided.append(0 if state is None else state.version)
        event = here.lift(state)
        there.toggle()  # lifted first by the other process: version 2
        return event

    # A client that read version 1 (If-Match) is told the subject moved on, not re-decided.
    with pytest.raises(VersionConflict, match="changed while this write was decided"):
        here.path.write(subject_id, lift_while_the_other_writes, _answer, expected_version=1)
    assert decided == [1]
    with pytest.raises(VersionConflict, match="at version 2, not 1"):
        here.path.write(subject_id, here.place, _answer, expected_version=1)


def test_writes_to_one_aggregate_queue_within_a_process(vigil: Vigil, clock: Clock) -> None:
    # Given two threads of one process writing to one subject through the same path.
    subject_id = uuid4()
    subject = Subject(vigil, clock, subject_id)
    first_deciding, let_first_finish = threading.Event(), threading.Event()
    order: list[str] = []

    def first(state: SubjectState | None) -> list[SubjectEvent]:
        order.append("first decides")
        first_deciding.set()
        let_first_finish.wait(timeout=5)
        return subject.place(state)

    def second(state: SubjectState | None) -> list[SubjectEvent]:
        order.append("second decides")
        return subject.lift(state)

    writer = threading.Thread(target=lambda: subject.path.write(subject_id, first, _answer))
    writer.start()
    assert first_deciding.wait(timeout=5)
    other = threading.Thread(target=lambda: subject.path.write(subject_id, second, _answer))
    other.start()
    other.join(timeout=0.3)  # it waits for its turn rather than racing
    assert other.is_alive()
    let_first_finish.set()
    writer.join(timeout=5)
    other.join(timeout=5)

    # Then the second decided only once the first had been appended, on the state it left.
    assert order == ["first decides", "second decides"]
    history = list(vigil.event_log.events_of(subject_id))
    assert [type(e) for e in history] == [LegalHoldPlaced, LegalHoldLifted]
