"""evolve, as stories: given these events, the case reads like this."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from domain.case import events as e
from domain.case.snapshot import CaseSnapshot
from domain.case.state import CaseState, evolve, fold
from domain.case.vocabulary import (
    CaseStatus,
    DecisionStatus,
    EscalationStatus,
    ModerationAction,
    ReferralStatus,
    ReferralUpdateStatus,
    ReviewOutcome,
    RiskLevel,
)
from tests.story import (
    LEAD,
    MODERATOR,
    MONDAY_NIGHT,
    TUESDAY_MORNING,
    Story,
    acknowledge,
    add_note,
    assess_risk,
    assign,
    close,
    correct,
    decide_approval,
    escalate,
    moderate,
    ooh_decision,
    raise_flag,
    refer,
    reopen,
    replay,
    resolve,
    review,
    suspend,
    update_referral,
)

HOUR = timedelta(hours=1)


# --- status -------------------------------------------------------------------------------------


def test_status_follows_escalations_closure_and_reopening() -> None:
    story = Story.opened()
    assert story.case.status is CaseStatus.OPEN

    first = story.given(escalate())
    assert story.case.status is CaseStatus.ESCALATED
    second = story.given(escalate())
    story.given(acknowledge(first.event_id), by=LEAD)
    assert story.case.status is CaseStatus.ESCALATED  # acknowledged is not resolved

    story.given(resolve(first.event_id), by=LEAD)
    assert story.case.status is CaseStatus.ESCALATED  # the second is still unresolved

    story.given(acknowledge(second.event_id), by=LEAD)
    story.given(resolve(second.event_id), by=LEAD)
    assert story.case.status is CaseStatus.OPEN

    story.given(close(), by=LEAD)
    assert story.case.status is CaseStatus.CLOSED
    story.given(reopen(), by=LEAD)
    assert story.case.status is CaseStatus.OPEN


def test_a_case_closed_with_an_unresolved_escalation_reopens_escalated() -> None:
    story = Story.opened()
    escalation = story.given(escalate())
    story.given(acknowledge(escalation.event_id), by=LEAD)

    story.given(close(), by=LEAD)
    assert story.case.status is CaseStatus.CLOSED
    assert story.case.closed_at == story.events[-1].occurred_at

    reopened = story.given(reopen(), by=LEAD)
    assert story.case.status is CaseStatus.ESCALATED
    assert story.case.closed_at is None
    assert story.case.reopened_at == reopened.occurred_at


def test_notes_and_corrections_on_a_closed_case_leave_it_closed() -> None:
    story = Story.opened()
    story.given(close(), by=LEAD)
    story.given(add_note())
    story.given(correct(story.events[0].event_id))
    assert story.case.status is CaseStatus.CLOSED
    assert story.case.version == 4


# --- what the case holds ----------------------------------------------------------------------


def test_the_opening_sets_the_case_up() -> None:
    story = Story.opened()
    case = story.case
    opened = story.events[0]
    assert isinstance(opened, e.CaseOpened)
    assert (case.id, case.version, case.status) == (story.case_id, 1, CaseStatus.OPEN)
    assert (case.subject, case.category, case.summary) == (
        opened.subject,
        opened.category,
        opened.summary,
    )
    assert (case.opened_at, case.opened_by, case.risk_level) == (
        TUESDAY_MORNING,
        "casey",
        RiskLevel.HIGH,
    )
    assert case.last_action_at is None
    assert case.first_action_at is None


def test_risk_assignment_flags_and_notes() -> None:
    story = Story.opened()
    story.given(assess_risk(RiskLevel.LOW), by=LEAD)
    story.given(assess_risk(RiskLevel.CRITICAL), by=LEAD)
    story.given(assign("lee"))
    story.given(raise_flag())
    story.given(raise_flag(category="harassment"))
    story.given(raise_flag())
    story.given(add_note())

    case = story.case
    assert case.risk_level is RiskLevel.CRITICAL
    assert case.assignee == "lee"
    assert case.flag_count == 3
    assert case.flag_categories == {"self_harm_risk": 2, "harassment": 1}
    assert case.notes == 1
    assert case.version == 8


def test_corrections_are_indexed_by_the_event_they_correct() -> None:
    story = Story.opened()
    flag = story.given(raise_flag())
    first = story.given(correct(flag.event_id))
    second = story.given(correct(flag.event_id))
    assert story.case.corrections == {
        str(flag.event_id): [str(first.event_id), str(second.event_id)]
    }


def test_pending_out_of_hours_reviews() -> None:
    story = Story.opened(start=MONDAY_NIGHT - HOUR)
    decision = story.given(ooh_decision(), now=MONDAY_NIGHT)

    [pending] = story.case.pending_reviews()
    assert pending.decision_id == decision.event_id
    assert pending.decided_by == "casey"
    assert pending.decided_at == MONDAY_NIGHT
    assert pending.review_due == datetime(2026, 11, 17, 17, 0, tzinfo=UTC)

    story.given(review(decision.event_id, ReviewOutcome.VARIED), by=LEAD, now=TUESDAY_MORNING)
    assert story.case.pending_reviews() == []
    reviewed = story.case.decisions[str(decision.event_id)]
    assert (reviewed.status, reviewed.reviewed_by, reviewed.reviewed_at) == (
        DecisionStatus.VARIED,
        "lee",
        TUESDAY_MORNING,
    )


def test_unacknowledged_escalations() -> None:
    story = Story.opened()
    first = story.given(escalate())
    second = story.given(escalate())
    assert {x.escalation_id for x in story.case.unacknowledged_escalations()} == {
        first.event_id,
        second.event_id,
    }

    ack = story.given(acknowledge(first.event_id), by=LEAD)
    assert [x.escalation_id for x in story.case.unacknowledged_escalations()] == [second.event_id]
    escalation = story.case.escalations[str(first.event_id)]
    assert (escalation.status, escalation.acknowledged_by, escalation.acknowledged_at) == (
        EscalationStatus.ACKNOWLEDGED,
        "lee",
        ack.occurred_at,
    )


def test_referrals_awaiting_acknowledgement() -> None:
    story = Story.opened()
    referral = story.given(refer())
    other = story.given(refer())
    assert len(story.case.referrals_awaiting_acknowledgement()) == 2

    chase = story.given(update_referral(referral.event_id, ReferralUpdateStatus.FOLLOWED_UP))
    assert len(story.case.referrals_awaiting_acknowledgement()) == 2  # a chase is not an answer
    assert story.case.referrals[str(referral.event_id)].last_followed_up_at == chase.occurred_at

    ack = story.given(
        update_referral(referral.event_id, ReferralUpdateStatus.ACKNOWLEDGED, reference="LA-1")
    )
    [waiting] = story.case.referrals_awaiting_acknowledgement()
    assert waiting.referral_id == other.event_id
    acknowledged = story.case.referrals[str(referral.event_id)]
    assert acknowledged.status is ReferralStatus.ACKNOWLEDGED
    assert acknowledged.acknowledged_at == ack.occurred_at
    assert acknowledged.reference == "LA-1"


def test_an_outcome_received_implies_the_referral_was_acknowledged() -> None:
    story = Story.opened()
    referral = story.given(refer())
    outcome = story.given(update_referral(referral.event_id, ReferralUpdateStatus.OUTCOME_RECEIVED))
    held = story.case.referrals[str(referral.event_id)]
    assert held.status is ReferralStatus.OUTCOME_RECEIVED
    assert held.acknowledged_at == held.outcome_received_at == outcome.occurred_at
    assert story.case.referrals_awaiting_acknowledgement() == []


# --- sanctions: time-derived state comes from event times --------------------------------------


def test_a_suspension_expires_its_duration_after_it_occurred() -> None:
    story = Story.opened()
    suspended = story.given(suspend(hours=48), by=MODERATOR)
    expires = suspended.occurred_at + timedelta(hours=48)

    [sanction] = story.case.active_sanctions(suspended.occurred_at)
    assert (sanction.action, sanction.target_ref, sanction.expires_at) == (
        ModerationAction.SUSPEND_MEMBER,
        "member-4411",
        expires,
    )
    assert story.case.active_sanctions(expires - timedelta(seconds=1)) == [sanction]
    assert story.case.active_sanctions(expires) == []
    assert story.case.active_sanctions(suspended.occurred_at - timedelta(seconds=1)) == []


def test_a_suspension_logged_late_expires_from_when_it_happened_not_when_it_was_logged() -> None:
    story = Story.opened(start=MONDAY_NIGHT - HOUR)
    # Suspended at 23:10 Monday, written up at 09:30 Tuesday.
    story.given(suspend(hours=24, occurred_at=MONDAY_NIGHT), by=MODERATOR, now=TUESDAY_MORNING)

    [sanction] = story.case.active_sanctions(TUESDAY_MORNING)
    assert sanction.expires_at == MONDAY_NIGHT + timedelta(hours=24)


def test_replaying_the_same_events_later_gives_the_same_state() -> None:
    story = Story.opened()
    story.given(suspend(hours=1), by=MODERATOR)
    story.given(moderate(ModerationAction.MUTE_MEMBER, "member-2", duration_hours=72), by=MODERATOR)
    story.given(add_note())

    # A replay a year on reads the same: nothing in the fold looks at the clock.
    first, later = replay(story.events), replay(list(story.events))
    assert first == later == story.case
    assert first is not None
    assert [s.action for s in first.active_sanctions(TUESDAY_MORNING + 2 * HOUR)] == [
        ModerationAction.MUTE_MEMBER
    ]


def test_a_ban_has_no_expiry() -> None:
    story = Story.opened()
    requested = story.given(moderate(ModerationAction.BAN_MEMBER, "member-4411"), by=MODERATOR)
    story.given(decide_approval(requested.event_id), by=LEAD)  # four-eyes
    [ban] = story.case.active_sanctions(TUESDAY_MORNING + timedelta(days=3650))
    assert ban.expires_at is None


def test_reinstating_a_member_lifts_their_sanctions_only() -> None:
    story = Story.opened()
    story.given(suspend(hours=48, target_ref="member-4411"), by=MODERATOR)
    story.given(moderate(ModerationAction.MUTE_MEMBER, "member-4411"), by=MODERATOR)
    ban = story.given(moderate(ModerationAction.BAN_MEMBER, "member-9"), by=MODERATOR)
    story.given(decide_approval(ban.event_id), by=LEAD)  # four-eyes

    lifted = story.given(moderate(ModerationAction.REINSTATE_MEMBER, "member-4411"), by=MODERATOR)

    later = lifted.occurred_at + HOUR
    assert [(s.action, s.target_ref) for s in story.case.active_sanctions(later)] == [
        (ModerationAction.BAN_MEMBER, "member-9")
    ]


def test_a_reinstatement_back_dated_before_a_suspension_does_not_lift_it() -> None:
    story = Story.opened()
    story.given(suspend(hours=48), by=MODERATOR, now=TUESDAY_MORNING + 2 * HOUR)
    story.given(
        moderate(
            ModerationAction.REINSTATE_MEMBER, "member-4411", occurred_at=TUESDAY_MORNING + HOUR
        ),
        by=MODERATOR,
    )
    assert len(story.case.active_sanctions(TUESDAY_MORNING + 3 * HOUR)) == 1


def test_content_actions_are_not_member_sanctions() -> None:
    story = Story.opened()
    story.given(moderate(ModerationAction.HIDE_CONTENT, "post-77"), by=MODERATOR)
    story.given(moderate(ModerationAction.LOCK_THREAD, "thread-3"), by=MODERATOR)
    assert story.case.active_sanctions(TUESDAY_MORNING + HOUR) == []


# --- SLA clocks ---------------------------------------------------------------------------------


def test_time_to_first_action_counts_actions_not_notes_or_flags() -> None:
    story = Story.opened()
    story.given(add_note(), now=TUESDAY_MORNING + timedelta(minutes=5))
    story.given(raise_flag(), now=TUESDAY_MORNING + timedelta(minutes=6))
    assert story.case.time_to_first_action() is None

    story.given(assess_risk(), by=LEAD, now=TUESDAY_MORNING + timedelta(minutes=20))
    assert story.case.time_to_first_action() == timedelta(minutes=20)

    # An action logged later but back-dated to before the assessment becomes the first action.
    story.given(
        moderate(occurred_at=TUESDAY_MORNING + timedelta(minutes=12)),
        by=MODERATOR,
        now=TUESDAY_MORNING + timedelta(minutes=40),
    )
    assert story.case.time_to_first_action() == timedelta(minutes=12)
    assert story.case.first_action_at == TUESDAY_MORNING + timedelta(minutes=12)


def test_last_action_time_is_the_latest_occurrence_not_the_latest_write() -> None:
    story = Story.opened()
    story.given(add_note(), now=TUESDAY_MORNING + timedelta(minutes=30))
    story.given(
        raise_flag(occurred_at=TUESDAY_MORNING + timedelta(minutes=10)),
        now=TUESDAY_MORNING + timedelta(minutes=45),
    )
    assert story.case.last_action_at == TUESDAY_MORNING + timedelta(minutes=30)


# --- evolve never fails -----------------------------------------------------------------------


def _rich_story() -> Story:
    story = Story.opened(start=MONDAY_NIGHT - HOUR)
    decision = story.given(ooh_decision(), now=MONDAY_NIGHT)
    story.now = TUESDAY_MORNING
    story.given(review(decision.event_id), by=LEAD)
    referral = story.given(refer())
    story.given(update_referral(referral.event_id, ReferralUpdateStatus.ACKNOWLEDGED))
    escalation = story.given(escalate())
    story.given(acknowledge(escalation.event_id), by=LEAD)
    story.given(resolve(escalation.event_id), by=LEAD)
    story.given(suspend(hours=2), by=MODERATOR)
    story.given(moderate(ModerationAction.REINSTATE_MEMBER, "member-4411"), by=MODERATOR)
    story.given(correct(referral.event_id))
    story.given(close(), by=LEAD)
    story.given(reopen(), by=LEAD)
    return story


def test_evolve_ignores_events_about_items_the_history_lacks() -> None:
    story = _rich_story()
    opening = story.events[0]
    creators = {
        e.OutOfHoursDecisionRecorded,
        e.ReferralMade,
        e.CaseEscalated,
        e.ModerationActionTaken,
    }
    # As if filtered by time: the opening and everything but the events that created items.
    filtered = [opening, *(x for x in story.events[1:] if type(x) not in creators)]

    state = replay(filtered)

    assert state is not None
    assert state.decisions == state.referrals == state.escalations == {}
    assert state.sanctions == []
    assert state.version == story.case.version
    assert state.status is CaseStatus.OPEN


def test_evolve_ignores_events_before_the_opening_and_events_of_another_case() -> None:
    story = _rich_story()
    other = Story.opened()
    other.given(escalate())

    assert replay(story.events[1:]) is None
    mixed = fold(other.state, story.events[1:])
    assert mixed == other.state


@pytest.mark.parametrize("cut", range(1, 16))
def test_evolve_accepts_every_prefix_and_suffix(cut: int) -> None:
    story = _rich_story()
    assert replay(story.events[:cut]) is not None
    suffix = fold(replay(story.events[:1]), story.events[cut:])
    assert suffix is not None


def test_fold_does_not_change_the_state_it_is_given() -> None:
    story = _rich_story()
    before = story.case
    frozen = copy.deepcopy(before)
    escalation = story.given(escalate())
    story.given(acknowledge(escalation.event_id), by=LEAD)
    story.given(suspend(hours=5), by=MODERATOR)
    story.given(refer())
    story.given(raise_flag())
    story.given(correct(escalation.event_id))

    assert before == frozen
    assert story.case != before
    assert before.escalations is not story.case.escalations


def test_evolve_one_event_equals_fold() -> None:
    story = _rich_story()
    state: CaseState | None = None
    for event in story.events:
        state = evolve(state, event)
    assert state == replay(story.events) == story.case


# --- snapshots --------------------------------------------------------------------------------


def test_a_snapshot_round_trips_through_json() -> None:
    story = _rich_story()
    story.given(suspend(hours=500), by=MODERATOR)
    story.given(raise_flag())
    escalation = story.given(escalate())
    story.given(acknowledge(escalation.event_id), by=LEAD)
    story.given(assign("lee"))
    snapshot = CaseSnapshot(
        originator_id=story.case_id,
        originator_version=story.case.version,
        recorded_at=TUESDAY_MORNING,
        state=story.case,
    )

    restored = CaseSnapshot.model_validate_json(snapshot.model_dump_json())

    assert restored.state == story.case
    assert restored == snapshot
    # ... and folding on from the restored state gives what folding on from the original gives.
    more = Story.opened()  # an unrelated case's events are ignored either way
    assert fold(restored.state, more.events) == fold(story.case, more.events)
