"""Work queues: items enter when work is opened, leave when it is done, and are due at times
computed from the events' own times (never from the clock at replay).

Every test runs on SQLite and on PostgreSQL (the ``vigil`` fixture), with real commands through
the case service and the server clock set by the ``clock`` fixture.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.case.commands import (
    AcknowledgeEscalation,
    AddNote,
    AgencyInput,
    AssessRisk,
    AssignCase,
    CloseCase,
    DecideApproval,
    EscalateCase,
    MakeReferral,
    OpenCase,
    RecordOutOfHoursDecision,
    ReopenCase,
    ReviewOutOfHoursDecision,
    SubjectInput,
    UpdateReferral,
)
from domain.case.events import (
    CaseEscalated,
    CaseEvent,
    OutOfHoursDecisionRecorded,
    ReferralMade,
)
from domain.errors import ItemNotFound
from domain.shared import Actor, PolicyRef, Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from projections.paging import InvalidCursor, InvalidQuery
from projections.work_queues import Queue, QueueItem, WorkQueues
from tests import story
from tests.conftest import Clock

CORA = Actor(username="cora", role=Role.COORDINATOR)
SAM = Actor(username="sam", role=Role.SAFEGUARDING_LEAD)
POLICY = PolicyRef(policy="out-of-hours-safeguarding", version="2025-01", clause="3.1")
SECRET_NAME = "Jo Bloggs-Secretname"
SECRET_SUMMARY = "Posted that they feel unsafe at home tonight"
SECRET_REASON = "Member says their partner threatened them with a knife"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def open_case(
    vigil: Vigil,
    *,
    risk_level: str | None = None,
    ref: str = "member-1",
    occurred_at: datetime | None = None,
) -> UUID:
    result = vigil.cases.execute(
        None,
        OpenCase(
            subject=SubjectInput(kind="member", ref=ref, display_name=SECRET_NAME),
            source="flag",
            category="self_harm_risk",
            summary=SECRET_SUMMARY,
            risk_level=risk_level,
            channel="forum",
            occurred_at=occurred_at,
        ),
        CORA,
    )
    return result.state.id


def act(vigil: Vigil, case_id: UUID, command: Any, actor: Actor = CORA) -> CaseEvent:
    return vigil.cases.execute(case_id, command, actor).events[-1]


def escalate(vigil: Vigil, case_id: UUID, urgency: str, **kw: Any) -> CaseEscalated:
    event = act(vigil, case_id, EscalateCase(level=2, reason=SECRET_REASON, urgency=urgency, **kw))
    assert isinstance(event, CaseEscalated)
    return event


def refer(vigil: Vigil, case_id: UUID, **kw: Any) -> ReferralMade:
    event = act(
        vigil,
        case_id,
        MakeReferral(
            agency=AgencyInput(name="Hillside MASH", kind="mash"),
            reason=SECRET_REASON,
            consent="given",
            **kw,
        ),
    )
    assert isinstance(event, ReferralMade)
    return event


@pytest.fixture
def queues(vigil: Vigil) -> WorkQueues:
    # The view the app reads: the one the composition root's projector keeps.
    return WorkQueues(vigil.event_log, projector=vigil.projector)


def items(queues: WorkQueues, queue: Queue, *, as_of: datetime, **kw: Any) -> list[QueueItem]:
    queues.catch_up()
    found, cursor = queues.items(queue, as_of=as_of, limit=200, **kw)
    assert cursor is None
    return found


def counts(queues: WorkQueues, as_of: datetime, **kw: Any) -> dict[str, tuple[int, int | None]]:
    queues.catch_up()
    return {c.name.value: (c.total, c.overdue) for c in queues.counts(as_of=as_of, **kw)}


# --- out-of-hours reviews -----------------------------------------------------------------------


def test_an_out_of_hours_decision_logged_next_morning_is_due_at_the_end_of_that_day(
    vigil: Vigil, clock: Clock, queues: WorkQueues
) -> None:
    # Logged on Tuesday at 09:30 for a call taken at 23:10 on Monday: due by Tuesday's close.
    vigil.identity.register("sam", Role.SAFEGUARDING_LEAD, actor="admin")
    monday_night = utc(2026, 11, 16, 23, 10)
    case_id = open_case(vigil, occurred_at=monday_night - timedelta(minutes=20))
    decision = act(
        vigil,
        case_id,
        RecordOutOfHoursDecision(
            decision="called the crisis line with the member",
            rationale="member said they would act on it tonight",
            policy_ref=POLICY,
            occurred_at=monday_night,
        ),
    )
    assert isinstance(decision, OutOfHoursDecisionRecorded)

    (item,) = items(queues, Queue.OUT_OF_HOURS_REVIEWS, as_of=clock())
    assert item.item_id == decision.decision_id
    assert item.case_id == case_id
    assert item.kind == "out_of_hours_decision"
    assert item.since == monday_night
    assert item.due_at == utc(2026, 11, 17, 17, 0)
    assert item.overdue is False
    # Overdue is judged at the moment asked about, not when the row was written.
    (late,) = items(queues, Queue.OUT_OF_HOURS_REVIEWS, as_of=utc(2026, 11, 17, 17, 1))
    assert late.overdue is True
    assert counts(queues, utc(2026, 11, 17, 17, 1))["out_of_hours_reviews"] == (1, 1)

    clock.advance(hours=2)
    act(
        vigil,
        case_id,
        ReviewOutOfHoursDecision(
            decision_id=decision.decision_id,
            outcome="ratified",
            rationale="the right call given the risk described",
        ),
        SAM,
    )
    assert items(queues, Queue.OUT_OF_HOURS_REVIEWS, as_of=clock()) == []


# --- escalations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("urgency", "due"),
    [
        ("immediate", utc(2026, 11, 17, 8, 30)),
        ("urgent", utc(2026, 11, 17, 12, 0)),
        # 08:00 is before opening: one working day ends at Tuesday's close.
        ("routine", utc(2026, 11, 17, 17, 0)),
    ],
)
def test_an_escalation_is_due_by_its_urgency_from_when_it_was_raised_even_if_logged_late(
    vigil: Vigil, clock: Clock, queues: WorkQueues, urgency: str, due: datetime
) -> None:
    raised = utc(2026, 11, 17, 8, 0)
    case_id = open_case(vigil, occurred_at=raised - timedelta(hours=1))
    escalation = escalate(vigil, case_id, urgency, occurred_at=raised)  # logged at 09:30

    (item,) = items(queues, Queue.UNACKNOWLEDGED_ESCALATIONS, as_of=clock())
    assert (item.item_id, item.urgency, item.since, item.due_at) == (
        escalation.escalation_id,
        urgency,
        raised,
        due,
    )
    assert item.overdue is (due < clock())


def test_a_routine_escalation_in_hours_is_due_the_same_time_next_working_day(
    vigil: Vigil, clock: Clock, queues: WorkQueues
) -> None:
    clock.set(utc(2026, 11, 20, 15, 0))  # Friday 15:00
    case_id = open_case(vigil)
    escalate(vigil, case_id, "routine")
    (item,) = items(queues, Queue.UNACKNOWLEDGED_ESCALATIONS, as_of=clock())
    assert item.due_at == utc(2026, 11, 23, 15, 0)  # Monday 15:00


def test_an_acknowledged_escalation_leaves_the_queue(
    vigil: Vigil, clock: Clock, queues: WorkQueues
) -> None:
    case_id = open_case(vigil)
    first = escalate(vigil, case_id, "urgent")
    second = escalate(vigil, case_id, "immediate")
    assert {i.item_id for i in items(queues, Queue.UNACKNOWLEDGED_ESCALATIONS, as_of=clock())} == {
        first.escalation_id,
        second.escalation_id,
    }
    # Soonest due first: the immediate one.
    ordered = items(queues, Queue.UNACKNOWLEDGED_ESCALATIONS, as_of=clock())
    assert [i.item_id for i in ordered] == [second.escalation_id, first.escalation_id]

    act(vigil, case_id, AcknowledgeEscalation(escalation_id=second.escalation_id), SAM)
    remaining = items(queues, Queue.UNACKNOWLEDGED_ESCALATIONS, as_of=clock())
    assert [i.item_id for i in remaining] == [first.escalation_id]


# --- referrals ----------------------------------------------------------------------------------


def test_a_referral_waits_for_acknowledgement_then_for_its_outcome(
    vigil: Vigil, clock: Clock, queues: WorkQueues
) -> None:
    case_id = open_case(vigil)
    referral = refer(vigil, case_id)  # Tuesday 09:30

    (waiting,) = items(queues, Queue.REFERRALS_AWAITING_ACKNOWLEDGEMENT, as_of=clock())
    assert (waiting.item_id, waiting.agency_kind, waiting.due_at) == (
        referral.referral_id,
        "mash",
        utc(2026, 11, 18, 9, 30),
    )
    assert items(queues, Queue.REFERRALS_AWAITING_FOLLOW_UP, as_of=clock()) == []
    assert items(queues, Queue.REFERRALS_AWAITING_ACKNOWLEDGEMENT, as_of=utc(2026, 11, 18, 10))[
        0
    ].overdue

    clock.set(utc(2026, 11, 18, 11, 0))  # Wednesday 11:00
    act(vigil, case_id, UpdateReferral(referral_id=referral.referral_id, status="acknowledged"))
    assert items(queues, Queue.REFERRALS_AWAITING_ACKNOWLEDGEMENT, as_of=clock()) == []
    (chase,) = items(queues, Queue.REFERRALS_AWAITING_FOLLOW_UP, as_of=clock())
    assert (chase.since, chase.due_at) == (clock(), utc(2026, 11, 25, 11, 0))

    # A follow-up restarts the chase clock.
    clock.set(utc(2026, 11, 26, 10, 0))
    act(vigil, case_id, UpdateReferral(referral_id=referral.referral_id, status="followed_up"))
    (chased,) = items(queues, Queue.REFERRALS_AWAITING_FOLLOW_UP, as_of=clock())
    assert chased.due_at == utc(2026, 12, 3, 10, 0)

    act(vigil, case_id, UpdateReferral(referral_id=referral.referral_id, status="outcome_received"))
    assert items(queues, Queue.REFERRALS_AWAITING_FOLLOW_UP, as_of=clock()) == []


def test_closing_a_case_takes_its_items_out_and_reopening_brings_them_back(
    vigil: Vigil, clock: Clock, queues: WorkQueues
) -> None:
    case_id = open_case(vigil, risk_level="critical")
    referral = refer(vigil, case_id)
    assert len(items(queues, Queue.REFERRALS_AWAITING_ACKNOWLEDGEMENT, as_of=clock())) == 1
    assert len(items(queues, Queue.HIGH_RISK_OPEN, as_of=clock())) == 1

    clock.advance(hours=1)
    # A critical case closes on a second lead's sign-off (four-eyes).
    request = act(vigil, case_id, CloseCase(outcome="referred", rationale="the MASH has taken it"))
    approval = DecideApproval(
        approval_id=request.event_id, decision="approved", rationale="the MASH has it in hand"
    )
    act(vigil, case_id, approval, SAM)
    for queue in Queue:
        assert items(queues, queue, as_of=clock() + timedelta(days=30)) == []

    clock.advance(hours=1)
    act(vigil, case_id, ReopenCase(reason="new posts after the referral was made"))
    (back,) = items(queues, Queue.REFERRALS_AWAITING_ACKNOWLEDGEMENT, as_of=clock())
    assert back.item_id == referral.referral_id
    assert back.due_at == utc(2026, 11, 18, 9, 30)  # the same due time: from the referral


# --- case queues --------------------------------------------------------------------------------


def test_high_risk_cases_are_listed_critical_first_until_the_risk_is_lowered(
    vigil: Vigil, clock: Clock, queues: WorkQueues
) -> None:
    vigil.identity.register("cora", Role.COORDINATOR, actor="admin")
    high_old = open_case(vigil, risk_level="high", ref="member-1")
    clock.advance(minutes=10)
    critical = open_case(vigil, risk_level="critical", ref="member-2")
    clock.advance(minutes=10)
    high_new = open_case(vigil, risk_level="high", ref="member-3")
    open_case(vigil, risk_level="medium", ref="member-4")
    open_case(vigil, ref="member-5")
    act(vigil, high_new, AssignCase(assignee="cora"))

    listed = items(queues, Queue.HIGH_RISK_OPEN, as_of=clock())
    assert [i.case_id for i in listed] == [critical, high_old, high_new]
    assert [i.risk_level for i in listed] == ["critical", "high", "high"]
    assert all(i.due_at is None and not i.overdue for i in listed)
    assert listed[2].assignee == "cora"
    assert [
        i.case_id for i in items(queues, Queue.HIGH_RISK_OPEN, as_of=clock(), assignee="cora")
    ] == [high_new]
    assert counts(queues, clock())["high_risk_open"] == (3, None)

    # Lowering a critical risk takes effect on a second lead's approval (four-eyes).
    request = act(
        vigil, critical, AssessRisk(level="low", rationale="the member is safe with family now")
    )
    still = items(queues, Queue.HIGH_RISK_OPEN, as_of=clock())
    assert (still[0].case_id, still[0].risk_level) == (critical, "critical")
    approval = DecideApproval(
        approval_id=request.event_id, decision="approved", rationale="safe with family, agreed"
    )
    act(vigil, critical, approval, SAM)
    listed = items(queues, Queue.HIGH_RISK_OPEN, as_of=clock())
    assert [i.case_id for i in listed] == [high_old, high_new]


def test_cases_with_no_action_for_n_days(vigil: Vigil, clock: Clock, queues: WorkQueues) -> None:
    quiet = open_case(vigil, ref="member-1")
    busy = open_case(vigil, ref="member-2")
    clock.advance(days=5)
    act(vigil, busy, AddNote(kind="note", text=SECRET_REASON))
    opened_at = clock() - timedelta(days=5)

    now = opened_at + timedelta(days=8)
    (idle,) = items(queues, Queue.NO_RECENT_ACTION, as_of=now)
    assert (idle.case_id, idle.kind, idle.since) == (quiet, "case", opened_at)
    assert idle.due_at == opened_at + timedelta(days=7)
    assert idle.overdue is True
    assert {i.case_id for i in items(queues, Queue.NO_RECENT_ACTION, as_of=now, idle_days=2)} == {
        quiet,
        busy,
    }
    assert items(queues, Queue.NO_RECENT_ACTION, as_of=now, idle_days=30) == []
    assert counts(queues, now)["no_recent_action"] == (1, 1)
    assert counts(queues, now, idle_days=2)["no_recent_action"] == (2, 2)

    act(vigil, quiet, CloseCase(outcome="no action", rationale="resolved by the member themself"))
    later = now + timedelta(days=30)
    assert [i.case_id for i in items(queues, Queue.NO_RECENT_ACTION, as_of=later)] == [busy]


# --- the view as a whole ------------------------------------------------------------------------


def a_busy_log(vigil: Vigil, clock: Clock) -> None:
    vigil.identity.register("sam", Role.SAFEGUARDING_LEAD, actor="admin")
    vigil.identity.register("cora", Role.COORDINATOR, actor="admin")
    for n in range(4):
        clock.advance(minutes=7)
        case_id = open_case(vigil, risk_level=["high", "critical", None, "low"][n], ref=f"m-{n}")
        escalation = escalate(vigil, case_id, ["urgent", "routine", "immediate", "urgent"][n])
        referral = refer(vigil, case_id)
        if n % 2:
            act(vigil, case_id, AcknowledgeEscalation(escalation_id=escalation.escalation_id), SAM)
            act(
                vigil,
                case_id,
                UpdateReferral(referral_id=referral.referral_id, status="acknowledged"),
            )
            act(vigil, case_id, AssignCase(assignee="cora"))
        if n == 3:
            act(vigil, case_id, CloseCase(outcome="done", rationale="work finished on this one"))


def test_the_view_equals_a_rebuild_from_scratch(
    vigil: Vigil, clock: Clock, queues: WorkQueues
) -> None:
    a_busy_log(vigil, clock)
    for _ in range(vigil.event_log.recorder.max_notification_id() or 0):
        queues.catch_up(max_events=1)  # one event at a time, then compare with one big batch
    incremental = queues.all()
    assert incremental

    alone = WorkQueues(vigil.event_log, batch_size=1000)
    alone.rebuild()
    assert alone.all() == incremental
    queues.rebuild()
    assert queues.all() == incremental


def test_no_personal_data_reaches_the_table(vigil: Vigil, clock: Clock, queues: WorkQueues) -> None:
    a_busy_log(vigil, clock)
    queues.catch_up()
    store = queues.store
    with store.transaction(commit=False) as tx:
        rows = tx.fetchall(f"SELECT * FROM {store.table('work_queue_items')}")
    assert rows
    stored = repr(rows)
    for secret in (SECRET_NAME, SECRET_SUMMARY, SECRET_REASON, "Hillside MASH"):
        assert secret not in stored


def test_pagination_visits_every_item_once_in_due_order(
    vigil: Vigil, clock: Clock, queues: WorkQueues
) -> None:
    expected = []
    for n in range(7):
        case_id = open_case(vigil, ref=f"member-{n}")
        # Same urgency at the same instant for some: the item id breaks the tie.
        expected.append(escalate(vigil, case_id, "urgent" if n % 3 else "immediate"))
        if n % 2:
            clock.advance(minutes=3)
    queues.catch_up()
    everything, _ = queues.items(Queue.UNACKNOWLEDGED_ESCALATIONS, as_of=clock(), limit=200)
    dues = [(i.due_at, str(i.item_id)) for i in everything]
    assert dues == sorted(dues)
    for limit in (1, 2, 3, 7, 8):
        walked: list[UUID] = []
        cursor = None
        while True:
            page, cursor = queues.items(
                Queue.UNACKNOWLEDGED_ESCALATIONS, as_of=clock(), limit=limit, cursor=cursor
            )
            walked += [i.item_id for i in page]
            if cursor is None:
                break
        assert walked == [i.item_id for i in everything]
        assert sorted(map(str, walked)) == sorted(str(e.escalation_id) for e in expected)


def test_high_risk_pagination(vigil: Vigil, clock: Clock, queues: WorkQueues) -> None:
    for n in range(5):
        open_case(vigil, risk_level="critical" if n % 2 else "high", ref=f"m-{n}")
    queues.catch_up()
    everything, _ = queues.items(Queue.HIGH_RISK_OPEN, as_of=clock())
    walked: list[UUID] = []
    cursor = None
    while True:
        page, cursor = queues.items(Queue.HIGH_RISK_OPEN, as_of=clock(), limit=2, cursor=cursor)
        walked += [i.item_id for i in page]
        if cursor is None:
            break
    assert walked == [i.item_id for i in everything]
    assert len(walked) == 5


def test_bad_queries_are_refused(vigil: Vigil, clock: Clock, queues: WorkQueues) -> None:
    with pytest.raises(ItemNotFound):
        queues.items("overdue_things", as_of=clock())
    with pytest.raises(InvalidQuery):
        queues.items(Queue.HIGH_RISK_OPEN, as_of=clock(), limit=0)
    with pytest.raises(InvalidQuery):
        queues.counts(as_of=clock(), idle_days=0)
    for cursor in ("", "junk", "WyJ4Il0"):
        with pytest.raises(InvalidCursor):
            queues.items(Queue.HIGH_RISK_OPEN, as_of=clock(), cursor=cursor)
    # A cursor of one queue is refused by another.
    for n in range(3):
        escalate(vigil, open_case(vigil, ref=f"m-{n}"), "urgent")
    queues.catch_up()
    _, cursor = queues.items(Queue.UNACKNOWLEDGED_ESCALATIONS, as_of=clock(), limit=1)
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        queues.items(Queue.OUT_OF_HOURS_REVIEWS, as_of=clock(), cursor=cursor)


def test_the_service_calendar_and_sla_settings_reach_the_queues_and_changing_them_rebuilds(
    settings: Settings, clock: Clock
) -> None:
    """A service open 08:00-midnight every day with a 1-hour urgent target: the queue folds with
    those, and a view stored under other settings is rebuilt on start."""
    custom = settings.model_copy(
        update={"operating_hours": "mon-sun 08:00-00:00", "sla_escalation_urgent_minutes": 60}
    )
    vigil = bootstrap(custom, clock=clock)
    try:
        lead = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
        case = vigil.cases.execute(None, story.open_case(), lead).state
        vigil.cases.execute(case.id, story.escalate(urgency="urgent"), lead)
        [view] = [v for v in vigil.views if v.name == "work_queues"]
        found = items(
            WorkQueues(vigil.event_log, projector=vigil.projector),
            Queue.UNACKNOWLEDGED_ESCALATIONS,
            as_of=clock(),
        )
        assert [item.due_at for item in found] == [clock() + timedelta(hours=1)]
        stored = view.stored_version()
    finally:
        vigil.close()
    default = bootstrap(settings, clock=clock)
    try:
        [view] = [v for v in default.views if v.name == "work_queues"]
        assert view.stored_version() != stored
    finally:
        default.close()
