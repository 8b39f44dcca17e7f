"""The case list (``case_summaries``): filters, pagination, and exactly-once catch-up.

Every test runs on SQLite and on PostgreSQL (the ``vigil`` fixture). Cases are made through
the real case service, then the view is caught up from the log.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from domain.case.commands import (
    AcknowledgeEscalation,
    AgencyInput,
    AssessRisk,
    AssignCase,
    CloseCase,
    EscalateCase,
    MakeReferral,
    OpenCase,
    RaiseFlag,
    RecordOutOfHoursDecision,
    ReopenCase,
    ResolveEscalation,
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
from domain.shared import Actor, PolicyRef, Role
from interfaces.composition import Vigil
from projections.case_summaries import CaseSummaries, CaseSummariesView, CaseSummary
from projections.paging import InvalidCursor, InvalidQuery
from projections.runner import Positioned, Statement, ViewRunner
from projections.store import ViewStore
from tests.conftest import Clock

CORA = Actor(username="cora", role=Role.COORDINATOR)
SAM = Actor(username="sam", role=Role.SAFEGUARDING_LEAD)
POLICY = PolicyRef(policy="community-safety", version="3", clause="4.2")
SECRET_NAME = "Jo Bloggs-Secretname"
SECRET_SUMMARY = "Posted that they feel unsafe at home tonight"


def open_case(
    vigil: Vigil,
    *,
    category: str = "harassment",
    subject_ref: str = "member-1",
    risk_level: str | None = None,
) -> UUID:
    result = vigil.cases.execute(
        None,
        OpenCase(
            subject=SubjectInput(kind="member", ref=subject_ref, display_name=SECRET_NAME),
            source="flag",
            category=category,
            summary=SECRET_SUMMARY,
            risk_level=risk_level,
            channel="forum",
        ),
        CORA,
    )
    return result.state.id


def act(vigil: Vigil, case_id: UUID, command: Any, actor: Actor = CORA) -> CaseEvent:
    return vigil.cases.execute(case_id, command, actor).events[-1]


def summary(vigil: Vigil, case_id: UUID) -> CaseSummary:
    found = vigil.case_summaries.get(case_id)
    assert found is not None
    return found


def walk(summaries: CaseSummaries, limit: int, **filters: Any) -> list[list[UUID]]:
    """Every page of a listing, following next_cursor to the end."""
    pages: list[list[UUID]] = []
    cursor: str | None = None
    while True:
        items, cursor = summaries.query(limit=limit, cursor=cursor, **filters)
        pages.append([item["case_id"] for item in items])
        if cursor is None:
            return pages


def log_length(vigil: Vigil) -> int:
    return vigil.event_log.recorder.max_notification_id() or 0


def a_busy_log(vigil: Vigil, clock: Clock) -> list[UUID]:
    """Several cases, with flags, risk, assignment, escalation, referral, closure and reopening;
    users registered in between (their events share the log)."""
    vigil.identity.register("cora", Role.COORDINATOR, actor="admin")
    cases = []
    for n, category in enumerate(["harassment", "self_harm_risk", "spam", "hate_incident"]):
        clock.advance(minutes=5)
        cases.append(open_case(vigil, category=category, subject_ref=f"member-{n}"))
    first, second, third, fourth = cases
    act(vigil, first, RaiseFlag(reason="another report", category="harassment"))
    act(vigil, first, RaiseFlag(reason="and another", category="hate_incident"))
    act(vigil, second, AssessRisk(level="high", rationale="explicit plan mentioned in post"))
    act(vigil, second, AssignCase(assignee="cora"))
    vigil.identity.register("sam", Role.SAFEGUARDING_LEAD, actor="admin")
    escalation = act(
        vigil, second, EscalateCase(level=2, reason="needs a lead's view", urgency="urgent")
    )
    assert isinstance(escalation, CaseEscalated)
    act(vigil, second, AcknowledgeEscalation(escalation_id=escalation.escalation_id), SAM)
    act(
        vigil,
        third,
        MakeReferral(
            agency=AgencyInput(name="Local crisis team", kind="crisis_line"),
            reason="risk to the member",
            consent="given",
        ),
    )
    act(vigil, third, CloseCase(outcome="referred on", rationale="the crisis team has taken it"))
    act(vigil, third, ReopenCase(reason="new posts after the referral was made"))
    act(vigil, fourth, CloseCase(outcome="no action", rationale="duplicate of an earlier case"))
    return cases


# --- listing ------------------------------------------------------------------------------------


def test_a_case_is_listed_with_its_summary_and_no_personal_data(vigil: Vigil, clock: Clock) -> None:
    case_id = open_case(
        vigil, category="self_harm_risk", subject_ref="member-42", risk_level="high"
    )

    # With the default service and the SLA policy's first version, recorded with the first case
    # (so the case is at position 3).
    assert vigil.case_summaries.catch_up() == 3
    items, next_cursor = vigil.case_summaries.query()

    assert next_cursor is None
    assert items == [
        CaseSummary(
            case_id=case_id,
            version=1,
            status="open",
            category="self_harm_risk",
            risk_level="high",
            source="flag",
            channel="forum",
            subject_kind="member",
            subject_ref="member-42",
            assignee=None,
            opened_at=clock(),
            first_action_at=None,
            last_action_at=None,
            closed_at=None,
            pending_reviews=0,
            unacknowledged_escalations=0,
            referrals_awaiting_acknowledgement=0,
            flag_count=0,
            position=3,
        ).model_dump()
    ]
    store = vigil.case_summaries.runner.store
    with store.transaction(commit=False) as tx:
        rows = tx.fetchall(f"SELECT * FROM {store.table('case_summaries')}")
    stored = repr(rows)
    assert SECRET_NAME not in stored
    assert SECRET_SUMMARY not in stored


def test_newest_case_first(vigil: Vigil, clock: Clock) -> None:
    older = open_case(vigil)
    clock.advance(hours=1)
    newer = open_case(vigil)
    vigil.case_summaries.catch_up()

    items, _ = vigil.case_summaries.query()

    assert [item["case_id"] for item in items] == [newer, older]


def test_each_filter_selects_its_cases(vigil: Vigil, clock: Clock) -> None:
    vigil.identity.register("cora", Role.COORDINATOR, actor="admin")
    spam = open_case(vigil, category="spam", subject_ref="member-1", risk_level="low")
    clock.advance(minutes=1)
    risky = open_case(vigil, category="self_harm_risk", subject_ref="member-2", risk_level="high")
    clock.advance(minutes=1)
    hateful = open_case(vigil, category="hate_incident", subject_ref="member-2")
    act(vigil, risky, AssignCase(assignee="cora"))
    act(vigil, hateful, EscalateCase(level=2, reason="a lead should see this", urgency="routine"))
    act(vigil, spam, CloseCase(outcome="removed", rationale="bot account, content removed"))
    vigil.case_summaries.catch_up()

    def ids(**filters: Any) -> set[UUID]:
        items, _ = vigil.case_summaries.query(**filters)
        return {item["case_id"] for item in items}

    assert ids() == {spam, risky, hateful}
    assert ids(status="open") == {risky}
    assert ids(status="escalated") == {hateful}
    assert ids(status="closed") == {spam}
    assert ids(risk_level="high") == {risky}
    assert ids(risk_level="low") == {spam}
    assert ids(category="hate_incident") == {hateful}
    assert ids(assignee="cora") == {risky}
    assert ids(assignee="nobody") == set()
    assert ids(subject_ref="member-2") == {risky, hateful}
    assert ids(subject_ref="member-2", status="escalated") == {hateful}


def test_pagination_visits_every_case_exactly_once(vigil: Vigil, clock: Clock) -> None:
    opened = []
    for n in range(11):
        if n % 3 == 0:  # some cases open at the same instant: the case id breaks the tie
            clock.advance(minutes=1)
        opened.append(open_case(vigil, subject_ref=f"member-{n}"))
    vigil.case_summaries.catch_up()
    everything, _ = vigil.case_summaries.query(limit=200)

    for limit in (1, 2, 3, 4, 10, 11, 12):
        pages = walk(vigil.case_summaries, limit)
        walked = [case_id for page in pages for case_id in page]
        assert walked == [item["case_id"] for item in everything]
        assert sorted(walked) == sorted(opened)
        assert all(len(page) == limit for page in pages[:-1])


def test_pagination_with_a_filter(vigil: Vigil, clock: Clock) -> None:
    wanted = []
    for n in range(7):
        clock.advance(minutes=1)
        case_id = open_case(vigil, category="spam" if n % 2 else "harassment")
        if n % 2:
            wanted.append(case_id)
    vigil.case_summaries.catch_up()

    pages = walk(vigil.case_summaries, 2, category="spam")

    assert [case_id for page in pages for case_id in page] == list(reversed(wanted))


@pytest.mark.parametrize(
    "cursor", ["", "not-a-cursor", "bm90IGpzb24", "WzEsMl0", "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwieCJd"]
)
def test_a_cursor_not_issued_by_the_api_is_refused(vigil: Vigil, cursor: str) -> None:
    with pytest.raises(InvalidCursor) as refused:
        vigil.case_summaries.query(cursor=cursor)
    assert isinstance(refused.value, ValueError)
    assert "cursor" in refused.value.errors


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"status": "pending"}, "status"),
        ({"risk_level": "extreme"}, "risk_level"),
        ({"category": "gossip"}, "category"),
    ],
)
def test_an_invalid_query_is_refused(vigil: Vigil, filters: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidQuery) as refused:
        vigil.case_summaries.query(**filters)
    assert field in refused.value.errors


# --- following the case -------------------------------------------------------------------------


def test_status_and_counts_follow_the_case(vigil: Vigil, clock: Clock) -> None:
    views = vigil.case_summaries
    case_id = open_case(vigil)
    act(vigil, case_id, RaiseFlag(reason="second report", category="harassment"))
    views.catch_up()
    assert summary(vigil, case_id).flag_count == 1

    clock.advance(minutes=10)
    escalated = act(vigil, case_id, EscalateCase(level=2, reason="lead needed", urgency="urgent"))
    views.catch_up()
    row = summary(vigil, case_id)
    assert (row.status, row.unacknowledged_escalations) == ("escalated", 1)
    assert row.first_action_at == row.last_action_at == clock()

    assert isinstance(escalated, CaseEscalated)
    escalation_id = escalated.escalation_id
    act(vigil, case_id, AcknowledgeEscalation(escalation_id=escalation_id), SAM)
    views.catch_up()
    row = summary(vigil, case_id)
    assert (row.status, row.unacknowledged_escalations) == ("escalated", 0)

    act(
        vigil,
        case_id,
        ResolveEscalation(
            escalation_id=escalation_id, outcome="advice given", rationale="lead advised a warning"
        ),
        SAM,
    )
    referral = act(
        vigil,
        case_id,
        MakeReferral(
            agency=AgencyInput(name="Hate crime unit", kind="police"),
            reason="threats made",
            consent="given",
        ),
    )
    views.catch_up()
    row = summary(vigil, case_id)
    assert (row.status, row.referrals_awaiting_acknowledgement) == ("open", 1)

    assert isinstance(referral, ReferralMade)
    referral_id = referral.referral_id
    act(vigil, case_id, UpdateReferral(referral_id=referral_id, status="acknowledged"))
    clock.advance(hours=1)
    act(vigil, case_id, CloseCase(outcome="resolved", rationale="police have it, member warned"))
    views.catch_up()
    row = summary(vigil, case_id)
    assert (row.status, row.referrals_awaiting_acknowledgement, row.closed_at) == (
        "closed",
        0,
        clock(),
    )

    clock.advance(hours=1)
    act(vigil, case_id, ReopenCase(reason="the member posted threats again"))
    views.catch_up()
    row = summary(vigil, case_id)
    assert (row.status, row.closed_at, row.version) == ("open", None, 9)
    assert row.position == log_length(vigil)


def test_pending_out_of_hours_reviews_are_counted(vigil: Vigil, clock: Clock) -> None:
    clock.set(datetime(2026, 11, 21, 22, 0, tzinfo=UTC))  # Saturday night: out of hours
    case_id = open_case(vigil, category="self_harm_risk")
    decision = act(
        vigil,
        case_id,
        RecordOutOfHoursDecision(
            decision="contacted crisis line", rationale="imminent risk stated", policy_ref=POLICY
        ),
    )
    assert isinstance(decision, OutOfHoursDecisionRecorded)
    vigil.case_summaries.catch_up()
    assert summary(vigil, case_id).pending_reviews == 1

    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    act(
        vigil,
        case_id,
        ReviewOutOfHoursDecision(
            decision_id=decision.decision_id,
            outcome="ratified",
            rationale="right call given the stated risk",
        ),
        SAM,
    )
    vigil.case_summaries.catch_up()
    assert summary(vigil, case_id).pending_reviews == 0


# --- exactly once -------------------------------------------------------------------------------


def test_catching_up_again_applies_nothing(vigil: Vigil, clock: Clock) -> None:
    a_busy_log(vigil, clock)
    assert vigil.case_summaries.catch_up() == log_length(vigil)
    before = vigil.case_summaries.all()

    assert vigil.case_summaries.catch_up() == 0
    assert vigil.case_summaries.position() == log_length(vigil)
    assert vigil.case_summaries.all() == before


def test_user_events_are_skipped_but_passed(vigil: Vigil, clock: Clock) -> None:
    vigil.identity.register("cora", Role.COORDINATOR, actor="admin")
    vigil.identity.issue_token("cora", actor="admin")
    case_id = open_case(vigil)
    vigil.identity.register("sam", Role.SAFEGUARDING_LEAD, actor="admin")

    # With the default service and the SLA policy's first version, recorded with the first case.
    assert vigil.case_summaries.catch_up() == 6
    assert vigil.case_summaries.position() == log_length(vigil) == 6
    assert [row.case_id for row in vigil.case_summaries.all()] == [case_id]
    assert summary(vigil, case_id).position == 5


def test_incremental_catch_ups_give_the_rebuilt_view(vigil: Vigil, clock: Clock) -> None:
    views = CaseSummaries(vigil.event_log, batch_size=2)
    vigil.identity.register("cora", Role.COORDINATOR, actor="admin")
    first = open_case(vigil)
    views.catch_up()
    act(vigil, first, RaiseFlag(reason="report two", category="spam"))
    second = open_case(vigil, category="spam")
    views.catch_up(max_events=1)
    act(vigil, second, AssignCase(assignee="cora"))
    act(vigil, first, AssessRisk(level="medium", rationale="repeated hostile messages"))
    views.catch_up()
    act(vigil, first, CloseCase(outcome="warned", rationale="member warned, posts removed"))
    views.catch_up()
    incremental = views.all()

    assert views.rebuild() == log_length(vigil)
    assert views.all() == incremental
    assert len(incremental) == 2


def test_the_busy_log_rebuilds_to_the_same_view(vigil: Vigil, clock: Clock) -> None:
    a_busy_log(vigil, clock)
    for _ in range(log_length(vigil)):
        vigil.case_summaries.catch_up(max_events=1)
    incremental = vigil.case_summaries.all()

    vigil.case_summaries.rebuild()

    assert vigil.case_summaries.all() == incremental
    assert {row.status for row in incremental} == {"open", "escalated", "closed"}


class Crashing(CaseSummariesView):
    """Dies in the middle of writing a batch, once."""

    crash = True

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        statements = super().changes(store, batch)
        if self.crash and statements:
            self.crash = False
            # The batch's rows are written, then the transaction fails before it commits.
            return [*statements, ("SELECT no_such_column FROM no_such_table", {})]
        return statements


def test_a_crash_mid_batch_leaves_the_view_as_it_was(vigil: Vigil, clock: Clock) -> None:
    cases = a_busy_log(vigil, clock)
    crashing = ViewRunner(vigil.event_log, Crashing(vigil.event_log), batch_size=50)

    with pytest.raises(Exception, match="no_such"):
        crashing.catch_up()

    assert crashing.position() == 0
    assert vigil.case_summaries.all() == []
    assert vigil.case_summaries.catch_up() == log_length(vigil)
    rebuilt = CaseSummaries(vigil.event_log)
    rebuilt.rebuild()
    assert vigil.case_summaries.all() == rebuilt.all()
    assert {row.case_id for row in rebuilt.all()} == set(cases)


def test_a_restart_between_batches_applies_nothing_twice(vigil: Vigil, clock: Clock) -> None:
    a_busy_log(vigil, clock)
    total = log_length(vigil)
    before_crash = CaseSummaries(vigil.event_log, batch_size=3)
    assert before_crash.catch_up(max_events=7) == 7
    del before_crash  # the process dies here

    after_restart = CaseSummaries(vigil.event_log, batch_size=3)
    assert after_restart.position() == 7
    assert after_restart.catch_up() == total - 7
    assert after_restart.catch_up() == 0
    resumed = after_restart.all()

    after_restart.rebuild()
    assert after_restart.all() == resumed
    for row in resumed:
        assert row.version == vigil.cases.get(row.case_id).version


class Overtaken(CaseSummariesView):
    """Another runner catches up between this one reading a batch and writing it."""

    rival: CaseSummaries | None = None

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        if self.rival is not None:
            rival, self.rival = self.rival, None
            rival.catch_up()
        return super().changes(store, batch)


def test_a_runner_overtaken_by_another_applies_nothing_twice(vigil: Vigil, clock: Clock) -> None:
    a_busy_log(vigil, clock)
    view = Overtaken(vigil.event_log)
    view.rival = CaseSummaries(vigil.event_log)
    slow = ViewRunner(vigil.event_log, view)

    assert slow.catch_up() == 0  # its batch was applied by the rival; it read again: nothing
    assert slow.position() == log_length(vigil)
    incremental = vigil.case_summaries.all()
    vigil.case_summaries.rebuild()
    assert vigil.case_summaries.all() == incremental


def test_a_new_view_version_rebuilds_the_view(vigil: Vigil, clock: Clock) -> None:
    open_case(vigil)
    vigil.case_summaries.catch_up()

    class NextVersion(CaseSummariesView):
        version = CaseSummariesView.version + 1

    upgraded = ViewRunner(vigil.event_log, NextVersion(vigil.event_log))

    assert upgraded.position() == 0
    assert vigil.case_summaries.all() == []
    # with the default service and the SLA policy's first version, recorded with the first case
    assert upgraded.catch_up() == 3
    assert len(vigil.case_summaries.all()) == 1


def test_the_library_can_wait_for_the_view(vigil: Vigil, clock: Clock) -> None:
    open_case(vigil)
    runner = vigil.case_summaries.runner
    assert runner.max_tracking_id(vigil.event_log.name) is None
    with pytest.raises(TimeoutError):
        runner.wait(vigil.event_log.name, 1, timeout=0.05)

    vigil.case_summaries.catch_up()

    runner.wait(vigil.event_log.name, 1, timeout=0.05)
    assert runner.has_tracking_id(vigil.event_log.name, 1)
    # With the default service and the SLA policy's first version, recorded with the first case.
    assert vigil.case_summaries.position() == 3


def test_concurrent_writers_and_runners_converge(vigil: Vigil, clock: Clock) -> None:
    # Two runners (as if two processes) catching up while four threads write and read.
    runners = [
        CaseSummaries(vigil.event_log, batch_size=3),
        CaseSummaries(vigil.event_log, batch_size=5),
    ]
    consumed = [0, 0]
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        try:
            for i in range(6):
                case_id = open_case(vigil, subject_ref=f"member-{n}-{i}")
                act(vigil, case_id, RaiseFlag(reason="another report", category="spam"))
                applied = runners[n % 2].catch_up()
                with lock:
                    consumed[n % 2] += applied
                assert runners[n % 2].get(case_id) is not None  # reads its own write
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    # Every event once: counted, as PostgreSQL's notification ids skip a lost race's (the
    # default service's registration is raced for by the first cases).
    events = vigil.event_log.recorder.select_notifications(start=1, limit=10_000)
    assert sum(consumed) + vigil.case_summaries.catch_up() == len(events)
    incremental = vigil.case_summaries.all()
    assert len(incremental) == 24
    vigil.case_summaries.rebuild()
    assert vigil.case_summaries.all() == incremental


def test_a_stored_time_before_year_one_in_utc_does_not_stop_the_views(
    vigil: Vigil, clock: Clock
) -> None:
    # Given a case opened, before client times were bounded, as occurring at a time whose UTC
    # instant is before year 1 (the command built without validation, as an older release
    # accepted it), and a case after it.
    odd = OpenCase.model_construct(
        subject=SubjectInput(kind="member", ref="member-1"),
        source="flag",
        category="spam",
        summary="Link spam.",
        occurred_at=datetime.fromisoformat("0001-01-01T00:00:00+14:00"),
    )
    odd_case = vigil.cases.execute(None, odd, CORA).state.id
    later = open_case(vigil)

    # When the views catch up, then every event is applied and both cases are listed.
    assert vigil.projector.catch_up() == log_length(vigil)
    items, _ = vigil.case_summaries.query()
    assert {item["case_id"] for item in items} == {odd_case, later}
    # And a rebuild from the log gives the same.
    vigil.projector.rebuild()
    assert vigil.case_summaries.query()[0] == items
