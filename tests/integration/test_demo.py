"""The demo tells its story through the real services: every rule holds, whatever day it runs."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from application.demo import DEMO_USERS, StoreNotEmpty, load_demo, store_is_empty
from domain.access.permissions import Permission, is_allowed
from domain.case import events as e
from domain.case.vocabulary import (
    CaseSource,
    CaseStatus,
    Category,
    Consent,
    DecisionStatus,
    EscalationStatus,
    ModerationAction,
    NoteKind,
    ReferralStatus,
)
from domain.shared import Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from tests.conftest import Clock

# What each event asks of its actor's role, as the HTTP API would check it.
PERMISSION_FOR: dict[type[e.CaseEvent], Permission] = {
    e.CaseOpened: Permission.OPEN,
    e.FlagRaised: Permission.FLAG,
    e.RiskAssessed: Permission.ASSESS_RISK,
    e.CaseAssigned: Permission.ASSIGN,
    e.ModerationActionTaken: Permission.MODERATE,
    e.OutOfHoursDecisionRecorded: Permission.OOH_DECIDE,
    e.OutOfHoursDecisionReviewed: Permission.OOH_REVIEW,
    e.ReferralMade: Permission.REFER,
    e.ReferralUpdated: Permission.UPDATE_REFERRAL,
    e.CaseEscalated: Permission.ESCALATE,
    e.EscalationAcknowledged: Permission.ACKNOWLEDGE_ESCALATION,
    e.EscalationResolved: Permission.RESOLVE_ESCALATION,
    e.NoteAdded: Permission.NOTE,
    e.RecordCorrected: Permission.CORRECT,
    e.CaseClosed: Permission.CLOSE,
    e.CaseReopened: Permission.REOPEN,
    e.ApprovalRequested: Permission.MODERATE,  # the demo's only held decision is a ban
    e.ApprovalDecided: Permission.APPROVE,
    e.ReferralReviewed: Permission.REVIEW_REFERRAL,
}


def timelines(vigil: Vigil, case_ids: list[UUID]) -> dict[UUID, list[e.CaseEvent]]:
    return {case_id: vigil.cases.timeline(case_id) for case_id in case_ids}


def test_the_demo_fills_an_empty_store_with_every_kind_of_record(vigil: Vigil) -> None:
    assert store_is_empty(vigil)

    loaded = load_demo(vigil, actor="cli")

    assert [user for user, _ in loaded.tokens] == list(DEMO_USERS)
    for user, token in loaded.tokens:
        actor = vigil.identity.authenticate(token)
        assert actor is not None
        assert (actor.username, actor.role) == (user.username, user.role)
    assert {u.role for u in DEMO_USERS} == set(Role)
    assert Counter(u.role for u in DEMO_USERS)[Role.SAFEGUARDING_LEAD] >= 2

    states = [vigil.cases.get(case_id) for case_id in loaded.case_ids]
    assert {s.category for s in states} >= {
        Category.SELF_HARM_RISK,
        Category.HARASSMENT,
        Category.HATE_INCIDENT,
        Category.MEDICAL_MISINFORMATION,
        Category.SPAM,
        Category.ACCOUNT_ISSUE,
    }
    assert [s.status for s in states].count(CaseStatus.CLOSED) == 1
    assert all(
        s.flag_count >= 1 for s in states if s.source in (CaseSource.FLAG, CaseSource.AUTOMATED)
    )

    decisions = [d for s in states for d in s.decisions.values()]
    assert loaded.out_of_hours
    assert len(decisions) == 1
    (decision,) = decisions
    assert decision.status is DecisionStatus.RATIFIED
    assert decision.reviewed_by not in (None, decision.decided_by)
    assert vigil.calendar.is_out_of_hours(decision.decided_at)

    referrals = [r for s in states for r in s.referrals.values()]
    assert any(
        r.consent is Consent.NOT_SOUGHT
        and r.lawful_basis
        and r.status is ReferralStatus.ACKNOWLEDGED
        for r in referrals
    )
    escalations = [x for s in states for x in s.escalations.values()]
    assert any(x.status is EscalationStatus.RESOLVED for x in escalations)

    events = [
        event for timeline in timelines(vigil, loaded.case_ids).values() for event in timeline
    ]
    assert {n.kind for n in events if isinstance(n, e.NoteAdded)} == set(NoteKind)
    assert any(isinstance(x, e.RecordCorrected) for x in events)
    assert all(
        x.policy_ref
        for x in events
        if isinstance(x, e.ModerationActionTaken | e.OutOfHoursDecisionRecorded)
    )
    # Four-eyes: the ban was proposed by one person and approved by a lead who is someone else.
    [ban] = [
        x
        for x in events
        if isinstance(x, e.ModerationActionTaken) and x.action is ModerationAction.BAN_MEMBER
    ]
    assert ban.approval_id is not None
    assert ban.requested_by not in (None, ban.actor)
    assert ban.actor_role is Role.SAFEGUARDING_LEAD
    # The referral made without consent was reviewed by a lead other than the referrer.
    assert all(r.review_status is DecisionStatus.RATIFIED for r in referrals if r.review_due)
    assert any(r.review_due and r.reviewed_by not in (None, r.made_by) for r in referrals)
    assert all(not s.pending_approvals() and not s.referrals_awaiting_review() for s in states)


def test_every_demo_event_is_back_dated_sensibly_and_allowed_for_its_actor(vigil: Vigil) -> None:
    loaded = load_demo(vigil, actor="cli")

    for timeline in timelines(vigil, loaded.case_ids).values():
        opened = timeline[0].occurred_at
        for event in timeline:
            assert opened <= event.occurred_at <= event.recorded_at
            assert is_allowed(event.actor_role, PERMISSION_FOR[type(event)]), (
                f"{event.actor} ({event.actor_role}) may not record {type(event).__name__}"
            )


def test_the_demo_refuses_a_store_that_is_not_empty(vigil: Vigil) -> None:
    vigil.identity.register("someone.real", Role.COORDINATOR, actor="cli")
    before = vigil.event_log.recorder.max_notification_id()

    with pytest.raises(StoreNotEmpty):
        load_demo(vigil, actor="cli")

    assert vigil.event_log.recorder.max_notification_id() == before


# Server clocks (UTC) and calendars the demo must cope with.
SATURDAY_AFTERNOON = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
MONDAY_BEFORE_OPENING = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
AFTER_CHRISTMAS = datetime(2026, 12, 28, 12, 0, tzinfo=UTC)  # bank holiday Monday (Boxing Day)
CLOCKS_CHANGE = datetime(2027, 3, 29, 10, 30, tzinfo=UTC)  # Monday after British Summer Time starts
WEDNESDAY_EVENING = datetime(2026, 11, 18, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "hours", "expect_out_of_hours"),
    [
        (SATURDAY_AFTERNOON, "mon-fri 09:00-17:00", True),
        (MONDAY_BEFORE_OPENING, "mon-fri 09:00-17:00", True),
        (AFTER_CHRISTMAS, "mon-fri 09:00-17:00", True),
        (CLOCKS_CHANGE, "mon-fri 09:00-17:00", True),
        (WEDNESDAY_EVENING, "mon-sun 08:00-00:00", True),
        (WEDNESDAY_EVENING, "always", False),
        (WEDNESDAY_EVENING, "", False),
    ],
)
def test_the_demo_loads_whatever_the_day_and_calendar(
    tmp_path: Path, now: datetime, hours: str, expect_out_of_hours: bool
) -> None:
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'vigil.db'}",
        operating_hours=hours,
    )
    vigil = bootstrap(settings, clock=Clock(now))
    try:
        loaded = load_demo(vigil, actor="cli")

        assert loaded.out_of_hours is expect_out_of_hours
        for case_id in loaded.case_ids:
            for event in vigil.cases.timeline(case_id):
                assert event.occurred_at <= now
                if isinstance(event, e.OutOfHoursDecisionRecorded):
                    assert vigil.calendar.is_out_of_hours(event.occurred_at)
                    assert now - event.occurred_at < timedelta(days=14)
        # The rota, recorded as it happened: each shift's events in order, none after now.
        assert loaded.rota.night is not None
        assert loaded.rota.night.handover_id is not None
        for shift_id in loaded.rota.shift_ids:
            recorded = [x.recorded_at for x in vigil.shifts.events(shift_id)]
            assert recorded == sorted(recorded)
            assert recorded[-1] <= now
    finally:
        vigil.close()


def test_the_demo_records_a_week_of_the_seed_rota_and_the_night_that_handled_its_case(
    vigil: Vigil,
) -> None:
    loaded = load_demo(vigil, actor="cli")
    now = vigil.clock()
    night = loaded.rota.night
    assert night is not None
    assert night.handover_id is not None
    [case_id] = [i for i in loaded.case_ids if vigil.cases.get(i).decisions]
    [decision] = vigil.cases.get(case_id).decisions.values()

    vigil.shift_logs.catch_up()
    log = vigil.shift_logs.log(night.shift_id, now=now)

    # The services beside `default`, each with its own calendar.
    names = [s.name for s in vigil.services.list_services()]
    assert names == ["default", "forum", "helpline"]
    forum = vigil.services.history("forum")
    assert forum.is_out_of_hours(datetime(2026, 11, 18, 7, 59, tzinfo=UTC))
    assert forum.is_open(datetime(2026, 11, 18, 23, 59, tzinfo=UTC))
    helpline = vigil.services.history("helpline")
    assert helpline.is_open(datetime(2026, 11, 18, 9, 0, tzinfo=UTC))  # a Wednesday
    assert not helpline.is_open(datetime(2026, 11, 19, 9, 0, tzinfo=UTC))  # a Thursday
    # The night's on-call shift, held by the lead who made the decision within it.
    assert (log.shift.service, log.shift.role.value) == ("default", "on_call")
    assert log.shift.starts_at <= decision.decided_at < log.shift.ends_at
    [person] = log.people
    assert person.person == decision.decided_by == "jude.lead"
    assert person.status.value == "on_time"
    # The check-in logged late: it happened before it was recorded.
    assert person.check_in_logged_late
    assert person.checked_in_at is not None
    assert person.checked_in_recorded_at is not None
    assert person.checked_in_recorded_at - person.checked_in_at > timedelta(minutes=15)
    assert person.checked_out_at == log.shift.ends_at
    # The out-of-hours decision is among the night's actions, recorded as it happened.
    decisions = [a for a in log.actions if a.type == "OutOfHoursDecisionRecorded"]
    assert [a.case_id for a in decisions] == [case_id]
    assert [a.case_id for a in log.out_of_hours_decisions] == [case_id]
    assert not decisions[0].late
    assert {a.actor for a in log.actions} == {"jude.lead"}
    # The handover at check-out, naming the case, acknowledged the next morning by the lead
    # who then reviewed the decision.
    [handover] = log.handovers_given
    assert handover.handover_id == night.handover_id
    assert (handover.given_by, handover.given_to, handover.case_ids) == (
        "jude.lead",
        "priya.lead",
        [case_id],
    )
    assert handover.acknowledged_by == "priya.lead" == decision.reviewed_by
    assert handover.acknowledged_at is not None
    assert decision.reviewed_at is not None
    assert handover.given_at <= handover.acknowledged_at <= decision.reviewed_at
    # A week of the seed's rota each side of today: the coordinator's 13 hours a week.
    shifts = vigil.shifts.planned(now - timedelta(days=8), now + timedelta(days=8))
    kit = [s for s in shifts if s.assignee == "kit.coordinator"]
    assert {s.role.value for s in kit} == {"coordinator"}
    assert sum((s.ends_at - s.starts_at for s in kit), timedelta()) >= timedelta(hours=2 * 13)
    assert {s.assignee for s in shifts} == {
        "kit.coordinator",
        "ola.moderator",
        "sam.volunteer",
        "rowan.coordinator",
        "jude.lead",
    }
    # Every shift that has ended was attended and checked out of: no missed check-out.
    ended = [s for s in shifts if s.ends_at + timedelta(minutes=2) <= now]
    assert ended
    assert all(s.attendance and not any(a.open for a in s.attendance.values()) for s in ended)
