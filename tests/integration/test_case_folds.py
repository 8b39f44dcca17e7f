"""Views never decrypt: a case state a view loads (to fold a batch onto) comes from the latest
verified snapshot and the events after it with every personal field withheld, on SQLite and
PostgreSQL alike."""

from __future__ import annotations

from domain.case.commands import AddNote, OpenCase, SubjectInput
from domain.shared import Actor, Role
from infrastructure.persistence import WITHHELD
from interfaces.composition import Vigil
from projections.case_folds import CaseFolds

CORA = Actor(username="cora", role=Role.COORDINATOR)
NAME = "Jo Bloggs-Secretname"
SUMMARY = "Posted that they feel unsafe at home tonight"
NOTE = "Called back at 23:40, safe with a friend"


def test_a_view_loads_a_case_from_its_snapshot_without_decrypting(vigil: Vigil) -> None:
    opened = vigil.cases.execute(
        None,
        OpenCase(
            subject=SubjectInput(kind="member", ref="member-1", display_name=NAME),
            source="flag",
            category="harassment",
            summary=SUMMARY,
            channel="forum",
        ),
        CORA,
    )
    case_id = opened.state.id
    vigil.cases.execute(case_id, AddNote(kind="fact", text=NOTE), CORA)
    vigil.cases.take_snapshot(case_id)
    vigil.cases.execute(case_id, AddNote(kind="note", text=NOTE), CORA)

    # The service (which may decrypt) reads the personal fields back...
    assert vigil.cases.get(case_id).summary == SUMMARY
    # ...the state a view folds onto, from the snapshot at version 2 and event 3, has none.
    state = CaseFolds(vigil.event_log)._state_before(case_id, 4)
    assert state is not None
    assert state.version == 3
    assert state.summary == WITHHELD
    assert state.subject.display_name == WITHHELD
    assert NAME not in repr(state)
    assert SUMMARY not in repr(state)
    assert NOTE not in repr(state)
