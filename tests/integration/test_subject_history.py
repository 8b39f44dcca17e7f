"""Subject history: every case about one subject, newest first, with no personal data.

Every test runs on SQLite and on PostgreSQL (the ``vigil`` fixture).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.case.commands import (
    AcknowledgeEscalation,
    AssessRisk,
    CloseCase,
    EscalateCase,
    OpenCase,
    RaiseFlag,
    SubjectInput,
)
from domain.case.events import CaseEscalated
from domain.shared import Actor, Role
from interfaces.composition import Vigil
from projections.paging import InvalidCursor, InvalidQuery
from projections.subject_history import SubjectHistory
from tests.conftest import Clock

CORA = Actor(username="cora", role=Role.COORDINATOR)
SAM = Actor(username="sam", role=Role.SAFEGUARDING_LEAD)
SECRET_NAME = "Jo Bloggs-Secretname"
SECRET_SUMMARY = "Posted that they feel unsafe at home tonight"


def open_case(
    vigil: Vigil, ref: str, *, kind: str = "member", category: str = "harassment"
) -> UUID:
    return vigil.cases.execute(
        None,
        OpenCase(
            subject=SubjectInput(kind=kind, ref=ref, display_name=SECRET_NAME),
            source="flag",
            category=category,
            summary=SECRET_SUMMARY,
        ),
        CORA,
    ).state.id


def act(vigil: Vigil, case_id: UUID, command: Any, actor: Actor = CORA) -> Any:
    return vigil.cases.execute(case_id, command, actor).events[-1]


@pytest.fixture
def history(vigil: Vigil) -> SubjectHistory:
    return SubjectHistory(vigil.event_log, projector=vigil.projector)


def test_every_case_about_a_subject_newest_first(
    vigil: Vigil, clock: Clock, history: SubjectHistory
) -> None:
    first = open_case(vigil, "member-7", category="harassment")
    act(vigil, first, RaiseFlag(reason="another report", category="harassment"))
    act(vigil, first, RaiseFlag(reason="and another", category="hate_incident"))
    clock.advance(hours=1)
    act(vigil, first, CloseCase(outcome="warned", rationale="member warned about conduct"))
    clock.advance(days=3)
    open_case(vigil, "member-8")
    second = open_case(vigil, "member-7", category="self_harm_risk")
    act(vigil, second, AssessRisk(level="critical", rationale="explicit plan in a public post"))
    escalated = act(
        vigil, second, EscalateCase(level=2, reason="a lead must see this", urgency="immediate")
    )
    assert isinstance(escalated, CaseEscalated)

    history.catch_up()
    cases, cursor = history.cases("member-7")

    assert cursor is None
    assert [c.case_id for c in cases] == [second, first]
    newest, oldest = cases
    assert (newest.status, newest.risk_level, newest.category, newest.closed_at) == (
        "escalated",
        "critical",
        "self_harm_risk",
        None,
    )
    assert (oldest.status, oldest.flag_count, oldest.closed_at) == (
        "closed",
        2,
        clock() - timedelta(days=3),
    )
    assert oldest.opened_at == clock() - timedelta(days=3) - timedelta(hours=1)
    assert history.cases("member-9")[0] == []

    act(vigil, second, AcknowledgeEscalation(escalation_id=escalated.escalation_id), SAM)
    history.catch_up()
    assert history.cases("member-7")[0][0].status == "escalated"  # acknowledged, not resolved


def test_subjects_of_different_kinds_with_the_same_ref(
    vigil: Vigil, clock: Clock, history: SubjectHistory
) -> None:
    member = open_case(vigil, "48213", kind="member")
    content = open_case(vigil, "48213", kind="content")
    history.catch_up()
    assert {c.case_id for c in history.cases("48213")[0]} == {member, content}
    assert [c.case_id for c in history.cases("48213", kind="content")[0]] == [content]
    with pytest.raises(InvalidQuery):
        history.cases("48213", kind="planet")


def test_pagination_and_rebuild(vigil: Vigil, clock: Clock, history: SubjectHistory) -> None:
    opened = []
    for n in range(7):
        if n % 2:
            clock.advance(minutes=1)
        opened.append(open_case(vigil, "forum/posts/991"))
    history.catch_up()
    everything, _ = history.cases("forum/posts/991", limit=200)
    assert sorted(c.case_id for c in everything) == sorted(opened)
    for limit in (1, 2, 3, 7):
        walked: list[UUID] = []
        cursor = None
        while True:
            page, cursor = history.cases("forum/posts/991", limit=limit, cursor=cursor)
            walked += [c.case_id for c in page]
            if cursor is None:
                break
        assert walked == [c.case_id for c in everything]
    _, cursor = history.cases("forum/posts/991", limit=1)
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        history.cases("member-1", cursor=cursor)  # a cursor for another subject

    incremental = history.all()
    alone = SubjectHistory(vigil.event_log, batch_size=2)
    alone.rebuild()
    assert alone.all() == incremental
    history.rebuild()
    assert history.all() == incremental


def test_no_personal_data_reaches_the_table(
    vigil: Vigil, clock: Clock, history: SubjectHistory
) -> None:
    open_case(vigil, "member-1")
    history.catch_up()
    store = history.store
    with store.transaction(commit=False) as tx:
        rows = tx.fetchall(f"SELECT * FROM {store.table('subject_history')}")
    assert rows
    assert SECRET_NAME not in repr(rows)
    assert SECRET_SUMMARY not in repr(rows)
