"""Four-eyes and emergency reviews through the case service, on SQLite and on PostgreSQL (the
``vigil`` fixture runs every test on both): requests, approvals and reviews as they are stored,
read back, retried and queued.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.case import events as e
from domain.case.vocabulary import (
    ApprovalDecision,
    ApprovalStatus,
    CaseStatus,
    Consent,
    DecisionStatus,
    ModerationAction,
    RiskLevel,
)
from domain.errors import RuleViolation
from domain.shared import Basis
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from projections.queue_rows import ItemKind
from projections.work_queues import Queue, QueueItem, WorkQueues
from tests.conftest import Clock
from tests.story import (
    COORDINATOR,
    LEAD,
    MODERATOR,
    OTHER_LEAD,
    assess_risk,
    close,
    decide_approval,
    moderate,
    open_case,
    refer,
    review_referral,
)

TUESDAY_MORNING = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)


def logged(vigil: Vigil) -> int:
    return vigil.event_log.recorder.max_notification_id() or 0  # type: ignore[attr-defined]


def opened(vigil: Vigil, **fields: Any) -> UUID:
    return vigil.cases.execute(None, open_case(**fields), COORDINATOR).state.id


def ban() -> Any:
    return moderate(ModerationAction.BAN_MEMBER, "member-4411")


@pytest.fixture
def queues(vigil: Vigil) -> WorkQueues:
    return WorkQueues(vigil.event_log, projector=vigil.projector)


def queued(queues: WorkQueues, queue: Queue, as_of: datetime) -> list[QueueItem]:
    queues.catch_up()
    items, _ = queues.items(queue, as_of=as_of, limit=100)
    return items


def test_a_ban_is_stored_as_a_request_and_takes_effect_on_another_leads_approval(
    vigil: Vigil, clock: Clock, settings: Settings
) -> None:
    case_id = opened(vigil)
    clock.advance(minutes=5)
    requested = vigil.cases.execute(case_id, ban(), MODERATOR)
    [request] = requested.events
    assert isinstance(request, e.ApprovalRequested)
    assert [a.approval_id for a in requested.state.pending_approvals()] == [request.approval_id]
    assert requested.state.sanctions == []

    clock.advance(hours=2)
    approved = vigil.cases.execute(case_id, decide_approval(request.approval_id), LEAD)

    decided, effect = approved.events
    assert isinstance(decided, e.ApprovalDecided)
    assert isinstance(effect, e.ModerationActionTaken)
    assert (effect.actor, effect.requested_by, effect.approval_id) == (
        "lee",
        "morgan",
        request.approval_id,
    )
    assert effect.occurred_at == clock() == effect.recorded_at
    # Read back by another process (no shared cache): the same story, in the same order.
    other = bootstrap(settings, clock=clock)
    try:
        timeline = other.cases.timeline(case_id)
        state = other.cases.get(case_id)
    finally:
        other.close()
    assert [type(x).__name__ for x in timeline] == [
        "CaseOpened",
        "ApprovalRequested",
        "ApprovalDecided",
        "ModerationActionTaken",
    ]
    assert timeline[1:] == [request, decided, effect]
    assert state.approvals[str(request.approval_id)].status is ApprovalStatus.APPROVED
    [sanction] = state.active_sanctions(clock())
    assert sanction.imposed_at == effect.occurred_at
    # As it had happened before the approval: requested, not in force.
    before = vigil.cases.get(
        case_id, as_of=effect.occurred_at - timedelta(seconds=1), basis=Basis.OCCURRED
    )
    assert before.sanctions == []
    assert [a.approval_id for a in before.pending_approvals()] == [request.approval_id]


def test_self_approval_and_a_second_decision_are_refused_and_write_nothing(
    vigil: Vigil, clock: Clock
) -> None:
    case_id = opened(vigil)
    [request] = vigil.cases.execute(case_id, ban(), LEAD).events
    assert isinstance(request, e.ApprovalRequested)
    before = logged(vigil)

    with pytest.raises(RuleViolation, match="other than"):
        vigil.cases.execute(case_id, decide_approval(request.approval_id), LEAD)
    assert logged(vigil) == before

    vigil.cases.execute(
        case_id, decide_approval(request.approval_id, ApprovalDecision.REJECTED), OTHER_LEAD
    )
    after_rejection = logged(vigil)
    with pytest.raises(RuleViolation, match="already been decided"):
        vigil.cases.execute(case_id, decide_approval(request.approval_id), OTHER_LEAD)
    assert logged(vigil) == after_rejection
    assert vigil.cases.get(case_id).sanctions == []


def test_a_retried_approval_answers_both_events_again_and_appends_nothing(
    vigil: Vigil, clock: Clock
) -> None:
    case_id = opened(vigil)
    [request] = vigil.cases.execute(case_id, ban(), MODERATOR).events
    assert isinstance(request, e.ApprovalRequested)
    command = decide_approval(request.approval_id)

    first = vigil.cases.execute(case_id, command, LEAD, idempotency_key="k-1", request_hash="h")
    position = logged(vigil)
    clock.advance(minutes=1)
    again = vigil.cases.execute(case_id, command, LEAD, idempotency_key="k-1", request_hash="h")

    assert again.replayed
    assert list(again.events) == list(first.events)
    assert len(again.events) == 2
    assert logged(vigil) == position


def test_a_critical_case_closes_on_sign_off_and_a_second_request_is_refused(
    vigil: Vigil, clock: Clock
) -> None:
    case_id = opened(vigil)
    vigil.cases.execute(case_id, assess_risk(RiskLevel.CRITICAL), LEAD)
    [request] = vigil.cases.execute(case_id, close(), COORDINATOR).events
    assert isinstance(request, e.ApprovalRequested)
    assert vigil.cases.get(case_id).status is CaseStatus.OPEN
    before = logged(vigil)

    with pytest.raises(RuleViolation, match="sign-off"):
        vigil.cases.execute(case_id, close(), OTHER_LEAD)
    assert logged(vigil) == before

    result = vigil.cases.execute(case_id, decide_approval(request.approval_id), LEAD)
    assert result.state.status is CaseStatus.CLOSED
    assert isinstance(result.events[-1], e.CaseClosed)


def test_four_eyes_is_a_setting(database_url: str, clock: Clock) -> None:
    settings = Settings(_env_file=None, environment="test", database_url=database_url, four_eyes="")
    vigil = bootstrap(settings, clock=clock)
    try:
        case_id = opened(vigil, risk_level=RiskLevel.CRITICAL)
        [banned] = vigil.cases.execute(case_id, ban(), MODERATOR).events
        [closed] = vigil.cases.execute(case_id, close(), COORDINATOR).events
    finally:
        vigil.close()
    assert isinstance(banned, e.ModerationActionTaken)
    assert isinstance(closed, e.CaseClosed)


def test_held_decisions_and_emergency_referrals_queue_until_a_lead_deals_with_them(
    vigil: Vigil, clock: Clock, queues: WorkQueues
) -> None:
    night = datetime(2026, 11, 16, 23, 20, tzinfo=UTC)
    case_id = opened(vigil, occurred_at=night - timedelta(minutes=30))
    [referral] = vigil.cases.execute(
        case_id, refer(Consent.NOT_SOUGHT, occurred_at=night), COORDINATOR
    ).events
    [request] = vigil.cases.execute(case_id, ban(), MODERATOR).events
    assert isinstance(referral, e.ReferralMade)
    assert isinstance(request, e.ApprovalRequested)

    [waiting_review] = queued(queues, Queue.REFERRALS_AWAITING_REVIEW, TUESDAY_MORNING)
    [waiting_approval] = queued(queues, Queue.APPROVALS_AWAITING_DECISION, TUESDAY_MORNING)
    # The referral at 23:20 on Monday: reviewed by the end of Tuesday (17:00 GMT).
    assert (waiting_review.item_id, waiting_review.kind, waiting_review.due_at) == (
        referral.referral_id,
        ItemKind.REFERRAL,
        datetime(2026, 11, 17, 17, 0, tzinfo=UTC),
    )
    # The ban requested at 09:30 on Tuesday: due a working day later.
    assert (waiting_approval.item_id, waiting_approval.kind, waiting_approval.due_at) == (
        request.approval_id,
        ItemKind.APPROVAL,
        datetime(2026, 11, 18, 9, 30, tzinfo=UTC),
    )
    assert not waiting_review.overdue
    [late] = queued(queues, Queue.REFERRALS_AWAITING_REVIEW, TUESDAY_MORNING + timedelta(hours=8))
    assert late.overdue

    with pytest.raises(RuleViolation, match="made without consent await review"):
        vigil.cases.execute(case_id, close(), COORDINATOR)

    vigil.cases.execute(case_id, review_referral(referral.referral_id), LEAD)
    vigil.cases.execute(case_id, decide_approval(request.approval_id), OTHER_LEAD)

    assert queued(queues, Queue.REFERRALS_AWAITING_REVIEW, TUESDAY_MORNING) == []
    assert queued(queues, Queue.APPROVALS_AWAITING_DECISION, TUESDAY_MORNING) == []
    state = vigil.cases.get(case_id)
    assert state.referrals[str(referral.referral_id)].review_status is DecisionStatus.RATIFIED
    assert vigil.cases.execute(case_id, close(), COORDINATOR).state.status is CaseStatus.CLOSED


def test_the_queue_view_with_approvals_equals_a_rebuild(
    vigil: Vigil, clock: Clock, queues: WorkQueues
) -> None:
    for n in range(3):
        case_id = opened(vigil, subject={"kind": "member", "ref": f"member-{n}"})
        [request] = vigil.cases.execute(case_id, ban(), MODERATOR).events
        vigil.cases.execute(case_id, refer(Consent.REFUSED), COORDINATOR)
        if n == 1:
            assert isinstance(request, e.ApprovalRequested)
            vigil.cases.execute(case_id, decide_approval(request.approval_id), LEAD)
    queues.catch_up()
    live = queues.all()

    alone = WorkQueues(vigil.event_log, batch_size=1000)
    alone.rebuild()

    assert alone.all() == live
    assert sum(r["queue"] == Queue.APPROVALS_AWAITING_DECISION.value for r in live) == 2
    assert sum(r["queue"] == Queue.REFERRALS_AWAITING_REVIEW.value for r in live) == 3
