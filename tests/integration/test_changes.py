"""What changed between two moments (``CaseService.changes``), on both bases, against a real
store (SQLite and PostgreSQL: the ``vigil`` fixture).

The story: a concern opened on Monday evening, an out-of-hours decision taken at 23:10 but only
logged on Tuesday morning, reviewed at 10:00, assigned at 11:00, closed at 14:00.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import combinations
from uuid import UUID, uuid4

import pytest

from domain.case import events as e
from domain.case.errors import CaseNotFound
from domain.case.state import fold
from domain.case.vocabulary import CaseStatus, RiskLevel
from domain.errors import InvalidCommand
from domain.shared import Basis, Role
from interfaces.composition import Vigil
from tests.conftest import Clock
from tests.story import (
    COORDINATOR,
    LEAD,
    assess_risk,
    assign,
    close,
    ooh_decision,
    open_case,
    review,
)


def at(hour: int, minute: int = 0, *, day: int = 17) -> datetime:
    """A moment on Monday 16 (day=16) or Tuesday 17 November 2026, UTC (= London in GMT)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


class Night:
    def __init__(self, case_id: UUID, decision_id: UUID) -> None:
        self.case_id = case_id
        self.decision_id = decision_id


@pytest.fixture
def night(vigil: Vigil, clock: Clock) -> Night:
    vigil.identity.register("lee", Role.SAFEGUARDING_LEAD, actor="test-setup")
    clock.set(at(22, 5, day=16))
    case_id = vigil.cases.execute(
        None, open_case(occurred_at=at(22, 0, day=16)), COORDINATOR
    ).state.id
    clock.set(at(22, 20, day=16))
    vigil.cases.execute(case_id, assess_risk(RiskLevel.HIGH), COORDINATOR)
    # Taken at 23:10 on Monday, logged at 09:30 on Tuesday.
    clock.set(at(9, 30))
    decision = vigil.cases.execute(
        case_id, ooh_decision(occurred_at=at(23, 10, day=16)), COORDINATOR
    ).events[0]
    clock.set(at(10, 0))
    vigil.cases.execute(case_id, review(decision.event_id), LEAD)
    clock.set(at(11, 0))
    vigil.cases.execute(case_id, assign("lee"), LEAD)
    clock.set(at(14, 0))
    vigil.cases.execute(case_id, close(), LEAD)
    return Night(case_id, decision.event_id)


def kinds(events: list[e.CaseEvent]) -> list[str]:
    return [type(event).__name__ for event in events]


def test_a_decision_logged_late_is_in_the_window_where_it_happened_on_the_occurred_basis(
    vigil: Vigil, night: Night
) -> None:
    overnight = vigil.cases.changes(night.case_id, at(23, 0, day=16), at(8, 0), Basis.OCCURRED)

    assert kinds(overnight.events) == ["OutOfHoursDecisionRecorded"]
    assert overnight.before is not None
    assert overnight.before.version == 2
    assert overnight.before.pending_reviews() == []
    assert [d.decision_id for d in overnight.after.pending_reviews()] == [night.decision_id]
    assert overnight.after.version == 3


def test_a_decision_logged_late_is_in_the_window_where_it_was_written_on_the_recorded_basis(
    vigil: Vigil, night: Night
) -> None:
    overnight = vigil.cases.changes(night.case_id, at(23, 0, day=16), at(8, 0), Basis.RECORDED)
    assert overnight.events == []
    assert overnight.before == overnight.after
    assert overnight.after.pending_reviews() == []

    morning = vigil.cases.changes(night.case_id, at(9, 0), at(10, 30), Basis.RECORDED)
    assert kinds(morning.events) == ["OutOfHoursDecisionRecorded", "OutOfHoursDecisionReviewed"]
    assert morning.events[0].occurred_at == at(23, 10, day=16)
    assert morning.events[0].recorded_at == at(9, 30)
    # On the occurred basis the morning only saw the review.
    assert kinds(
        vigil.cases.changes(night.case_id, at(9, 0), at(10, 30), Basis.OCCURRED).events
    ) == ["OutOfHoursDecisionReviewed"]


def test_a_case_closed_after_the_window_still_reads_open_at_its_end(
    vigil: Vigil, night: Night
) -> None:
    for basis in Basis:
        before_closure = vigil.cases.changes(night.case_id, at(10, 30), at(12, 0), basis)
        assert before_closure.after.status is CaseStatus.OPEN
        assert before_closure.after.assignee == "lee"
        assert kinds(before_closure.events) == ["CaseAssigned"]

        over_closure = vigil.cases.changes(night.case_id, at(12, 0), at(15, 0), basis)
        assert over_closure.before is not None
        assert over_closure.before.status is CaseStatus.OPEN
        assert over_closure.after.status is CaseStatus.CLOSED
        assert kinds(over_closure.events) == ["CaseClosed"]


def test_before_is_none_when_the_case_did_not_exist_at_from(vigil: Vigil, night: Night) -> None:
    recorded = vigil.cases.changes(night.case_id, at(21, 0, day=16), at(22, 30, day=16))
    assert recorded.before is None
    assert kinds(recorded.events) == ["CaseOpened", "RiskAssessed"]
    assert recorded.after.risk_level is RiskLevel.HIGH


def test_not_found_when_the_case_did_not_exist_at_to(vigil: Vigil, night: Night) -> None:
    # Opened (recorded) at 22:05 but it had occurred at 22:00.
    with pytest.raises(CaseNotFound):
        vigil.cases.changes(night.case_id, at(21, 0, day=16), at(22, 2, day=16), Basis.RECORDED)
    assert (
        vigil.cases.changes(
            night.case_id, at(21, 0, day=16), at(22, 2, day=16), Basis.OCCURRED
        ).after.version
        == 1
    )
    with pytest.raises(CaseNotFound):
        vigil.cases.changes(uuid4(), at(0, 0), at(23, 0))


def test_from_later_than_to_is_refused(vigil: Vigil, night: Night) -> None:
    with pytest.raises(InvalidCommand) as refused:
        vigil.cases.changes(night.case_id, at(12, 0), at(11, 0))
    assert set(refused.value.errors) == {"from", "to"}
    # An empty window is allowed.
    same = vigil.cases.changes(night.case_id, at(12, 0), at(12, 0))
    assert same.events == []
    assert same.before == same.after


def test_the_window_joins_the_two_states_on_any_pair_of_moments(vigil: Vigil, night: Night) -> None:
    moments = [
        at(21, 0, day=16),
        at(22, 3, day=16),
        at(23, 30, day=16),
        at(9, 30),
        at(10, 0),
        at(13, 0),
        at(23, 0),
    ]
    for basis in Basis:
        for start, end in combinations(moments, 2):
            try:
                window = vigil.cases.changes(night.case_id, start, end, basis)
            except CaseNotFound:
                continue
            known_then = vigil.cases.timeline(night.case_id, as_of=start, basis=basis)
            assert window.before == fold(None, known_then)
            # Before, then the window, is exactly what was known (or had happened) at the end.
            combined = sorted([*known_then, *window.events], key=lambda x: x.originator_version)
            assert combined == vigil.cases.timeline(night.case_id, as_of=end, basis=basis)
            assert window.after == vigil.cases.get(night.case_id, as_of=end, basis=basis)
