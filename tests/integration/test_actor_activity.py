"""Per-actor activity: one row per event, who did what and when, on either clock.

Every test runs on SQLite and on PostgreSQL (the ``vigil`` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.access.rules import Visibility
from domain.case.commands import (
    AcknowledgeEscalation,
    AddNote,
    EscalateCase,
    OpenCase,
    RecordOutOfHoursDecision,
    SubjectInput,
)
from domain.case.events import CaseEscalated
from domain.shared import Actor, PolicyRef, Role
from interfaces.composition import Vigil
from projections.actor_activity import ActorActivity, ActorActivityView
from projections.paging import InvalidCursor, InvalidQuery
from projections.runner import Positioned
from tests.conftest import Clock

CORA = Actor(username="cora", role=Role.COORDINATOR)
SAM = Actor(username="sam", role=Role.SAFEGUARDING_LEAD)
POLICY = PolicyRef(policy="out-of-hours-safeguarding", version="2025-01", clause="3.1")
SECRET_NAME = "Jo Bloggs-Secretname"
SECRET_TEXT = "Caller said their neighbour shouts slurs at them every night"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def open_case(vigil: Vigil, actor: Actor = CORA, **kw: Any) -> UUID:
    return vigil.cases.execute(
        None,
        OpenCase(
            subject=SubjectInput(kind="contact", ref="call-1", display_name=SECRET_NAME),
            source="helpline_contact",
            category="hate_incident",
            summary=SECRET_TEXT,
            **kw,
        ),
        actor,
    ).state.id


def act(vigil: Vigil, case_id: UUID, command: Any, actor: Actor = CORA) -> Any:
    return vigil.cases.execute(case_id, command, actor).events[-1]


@pytest.fixture
def activity(vigil: Vigil) -> ActorActivity:
    return ActorActivity(vigil.event_log, projector=vigil.projector)


def test_who_did_what_when(vigil: Vigil, clock: Clock, activity: ActorActivity) -> None:
    vigil.identity.register("sam", Role.SAFEGUARDING_LEAD, actor="admin")
    case_id = open_case(vigil)
    clock.advance(minutes=5)
    escalated = act(vigil, case_id, EscalateCase(level=2, reason=SECRET_TEXT, urgency="urgent"))
    assert isinstance(escalated, CaseEscalated)
    clock.advance(minutes=5)
    act(vigil, case_id, AcknowledgeEscalation(escalation_id=escalated.escalation_id), SAM)
    act(vigil, case_id, AddNote(kind="fact", text=SECRET_TEXT))

    activity.catch_up()
    mine, cursor = activity.activity("cora")
    assert cursor is None
    assert [(a.event_type, a.version, a.case_id, a.actor_role) for a in mine] == [
        ("CaseOpened", 1, case_id, "coordinator"),
        ("CaseEscalated", 2, case_id, "coordinator"),
        ("NoteAdded", 4, case_id, "coordinator"),
    ]
    assert [a.recorded_at for a in mine] == [
        clock() - timedelta(minutes=10),
        clock() - timedelta(minutes=5),
        clock(),
    ]
    (acknowledged,) = activity.activity("sam")[0]
    assert (acknowledged.event_type, acknowledged.actor) == ("EscalationAcknowledged", "sam")
    # User management is someone's activity too; it belongs to no case.
    (registered,) = activity.activity("admin")[0]
    assert (registered.event_type, registered.case_id, registered.actor_role) == (
        "UserRegistered",
        None,
        None,
    )
    positions = [a.position for a in mine]
    assert positions == sorted(positions)


def test_a_range_on_either_clock(vigil: Vigil, clock: Clock, activity: ActorActivity) -> None:
    # An out-of-hours call taken at 23:10 on Monday, logged at 09:30 on Tuesday.
    monday_night = utc(2026, 11, 16, 23, 10)
    case_id = open_case(vigil, occurred_at=monday_night - timedelta(minutes=5))
    act(
        vigil,
        case_id,
        RecordOutOfHoursDecision(
            decision="advised the caller to contact the police",
            rationale="ongoing harassment with a threat of violence",
            policy_ref=POLICY,
            occurred_at=monday_night,
        ),
    )
    clock.advance(hours=1)
    act(vigil, case_id, AddNote(kind="note", text=SECRET_TEXT))
    activity.catch_up()

    night_shift = {"start": utc(2026, 11, 16, 22), "end": utc(2026, 11, 17, 8)}
    occurred, _ = activity.activity("cora", basis="occurred", **night_shift)
    assert [a.event_type for a in occurred] == ["CaseOpened", "OutOfHoursDecisionRecorded"]
    assert activity.activity("cora", basis="recorded", **night_shift)[0] == []
    morning, _ = activity.activity(
        "cora", start=utc(2026, 11, 17, 9, 30), end=utc(2026, 11, 17, 10)
    )
    assert [a.event_type for a in morning] == ["CaseOpened", "OutOfHoursDecisionRecorded"]
    assert morning[1].occurred_at == monday_night
    later, _ = activity.activity("cora", start=utc(2026, 11, 17, 10))
    assert [a.event_type for a in later] == ["NoteAdded"]

    with pytest.raises(InvalidQuery):
        activity.activity("cora", basis="imagined")
    with pytest.raises(InvalidQuery):
        activity.activity("cora", start=utc(2026, 11, 18), end=utc(2026, 11, 17))


def test_pagination_and_rebuild(vigil: Vigil, clock: Clock, activity: ActorActivity) -> None:
    case_id = open_case(vigil)
    for _ in range(6):
        clock.advance(minutes=1)
        act(vigil, case_id, AddNote(kind="note", text=SECRET_TEXT))
    open_case(vigil, SAM)
    activity.catch_up()
    everything, _ = activity.activity("cora", limit=200)
    assert len(everything) == 7
    for limit in (1, 2, 3, 7):
        walked: list[int] = []
        cursor = None
        while True:
            page, cursor = activity.activity("cora", limit=limit, cursor=cursor)
            walked += [a.position for a in page]
            if cursor is None:
                break
        assert walked == [a.position for a in everything]
    _, cursor = activity.activity("cora", limit=1)
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        activity.activity("sam", cursor=cursor)

    incremental = activity.all()
    assert len(incremental) == vigil.event_log.recorder.max_notification_id()
    alone = ActorActivity(vigil.event_log, batch_size=3)
    alone.rebuild()
    assert alone.all() == incremental
    activity.rebuild()
    assert activity.all() == incremental


def test_a_batch_goes_as_one_statement_text_whatever_its_size(vigil: Vigil, clock: Clock) -> None:
    """psycopg parses every new statement text; a fixed text per table keeps that off the path."""
    case_id = open_case(vigil)
    for _ in range(30):
        act(vigil, case_id, AddNote(kind="note", text=SECRET_TEXT))
    notifications = vigil.event_log.recorder.select_notifications(start=1, limit=1000)
    batch = [Positioned(n.id, vigil.event_log.mapper.to_domain_event(n)) for n in notifications]
    store = ActorActivity(vigil.event_log).store

    whole = ActorActivityView().changes(store, batch)
    part = ActorActivityView().changes(store, batch[:5])

    assert {sql for sql, _ in whole} == {sql for sql, _ in part}
    assert len({sql for sql, _ in whole}) == 1
    # PostgreSQL: one statement carrying every row; SQLite: one executemany of a row each.
    # (31 case events, the default service's registration and the SLA policy's first version,
    # recorded with the first case)
    assert len(whole) == (1 if store.dialect == "postgresql" else 33)


def test_no_personal_data_reaches_the_table(
    vigil: Vigil, clock: Clock, activity: ActorActivity
) -> None:
    case_id = open_case(vigil)
    act(vigil, case_id, AddNote(kind="fact", text=SECRET_TEXT))
    activity.catch_up()
    store = activity.store
    with store.transaction(commit=False) as tx:
        rows = tx.fetchall(f"SELECT * FROM {store.table('actor_activity')}")
    # with the default service and the SLA policy's first version, recorded with the first case
    assert len(rows) == 4
    assert SECRET_NAME not in repr(rows)
    assert SECRET_TEXT not in repr(rows)


def test_an_unassigned_restricted_case_stays_hidden_from_those_who_may_not_see_it(
    vigil: Vigil, activity: ActorActivity
) -> None:
    # Nobody is assigned: the access rule's "assigned to the reader" is unknown (NULL) in SQL,
    # which must hide the case, not show it.
    opening = OpenCase(
        subject=SubjectInput(kind="member", ref="member-7"),
        source="flag",
        category="self_harm_risk",
        summary=SECRET_TEXT,
    )
    case_id = vigil.cases.execute(None, opening, CORA).state.id
    activity.catch_up()
    outsider = Visibility(restricted=("self_harm_risk",), username="val", granted_case_ids=())

    assert activity.activity("cora", visibility=outsider)[0] == []
    granted = Visibility(
        restricted=("self_harm_risk",), username="val", granted_case_ids=(case_id,)
    )
    assert [a.case_id for a in activity.activity("cora", visibility=granted)[0]] == [case_id]
