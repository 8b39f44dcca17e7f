"""Four-eyes and emergency reviews, as stories: given a case, when a command, then events or
this error.

Held decisions (a ban, closing a critical case) are recorded as requests and take effect only
when a second safeguarding lead approves them; emergency actions (a referral made without
consent) are recorded at once and reviewed afterwards.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.case import commands as c
from domain.case import events as e
from domain.case.approvals import (
    DEFAULT_FOUR_EYES,
    NO_FOUR_EYES,
    FourEyesPolicy,
)
from domain.case.decide import decide
from domain.case.state import fold
from domain.case.vocabulary import (
    ApprovalDecision,
    ApprovalKind,
    ApprovalStatus,
    Consent,
    DecisionStatus,
    ModerationAction,
    ReviewOutcome,
    RiskLevel,
)
from domain.errors import InvalidCommand, ItemNotFound, NotPermitted, RuleViolation
from domain.shared import Actor
from tests.story import (
    COORDINATOR,
    LEAD,
    MODERATOR,
    MONDAY_NIGHT,
    OTHER_LEAD,
    POLICY,
    TUESDAY_MORNING,
    Story,
    acknowledge,
    assess_risk,
    close,
    decide_approval,
    escalate,
    moderate,
    new_id,
    ooh_decision,
    open_case,
    refer,
    replay,
    review,
    review_referral,
    suspend,
)

HOUR = timedelta(hours=1)
BAN_RATIONALE = "Sent threats to three members after two warnings; the account must go."


def ban(**fields: Any) -> c.TakeModerationAction:
    return moderate(ModerationAction.BAN_MEMBER, "member-4411", rationale=BAN_RATIONALE, **fields)


def requested_ban(story: Story, *, by: Actor = MODERATOR) -> e.ApprovalRequested:
    event = story.given(ban(), by=by)
    assert isinstance(event, e.ApprovalRequested)
    return event


def critical_case() -> Story:
    story = Story.opened()
    story.given(assess_risk(RiskLevel.CRITICAL), by=LEAD)
    return story


# --- a ban is held until a second lead approves it ---------------------------------------------


def test_a_ban_is_recorded_as_a_request_for_approval_not_as_a_ban() -> None:
    story = Story.opened()

    [event] = story.when(ban(), by=MODERATOR)

    now = story.now + story.step
    assert event == e.ApprovalRequested(
        **story.envelope(by=MODERATOR, now=now),
        approval_id=story.next_event_id,
        kind=ApprovalKind.MODERATION_ACTION,
        rule="ban_member",
        rationale=BAN_RATIONALE,
        action=ModerationAction.BAN_MEMBER,
        target_ref="member-4411",
        policy_ref=POLICY,
        duration_hours=None,
    )


def test_a_requested_ban_is_pending_and_not_in_force() -> None:
    story = Story.opened()

    requested = requested_ban(story)

    case = story.case
    [pending] = case.pending_approvals()
    assert (pending.approval_id, pending.requested_by, pending.status) == (
        requested.approval_id,
        "morgan",
        ApprovalStatus.PENDING,
    )
    assert case.active_sanctions(story.now + HOUR) == []
    assert case.moderation_actions == 0


def test_another_lead_approving_puts_the_ban_into_effect_in_the_same_write() -> None:
    story = Story.opened()
    requested = requested_ban(story)
    approved_at = story.now + 2 * HOUR

    events = story.when(
        decide_approval(requested.approval_id, occurred_at=approved_at), by=LEAD, now=approved_at
    )

    decided, effect = events
    assert decided == e.ApprovalDecided(
        **story.envelope(by=LEAD, now=approved_at),
        approval_id=requested.approval_id,
        decision=ApprovalDecision.APPROVED,
        rationale="Proportionate to what the member did, and consistent with the policy.",
    )
    # The ban: recorded by the approver, in force from the approval, naming who proposed it and
    # carrying the proposal's own rationale and policy.
    assert isinstance(effect, e.ModerationActionTaken)
    assert (effect.originator_version, effect.actor, effect.occurred_at) == (
        story.version + 2,
        "lee",
        approved_at,
    )
    assert (effect.action, effect.target_ref, effect.rationale, effect.policy_ref) == (
        ModerationAction.BAN_MEMBER,
        "member-4411",
        BAN_RATIONALE,
        POLICY,
    )
    assert (effect.approval_id, effect.requested_by) == (requested.approval_id, "morgan")


def test_once_approved_the_ban_is_in_force_from_the_approval_and_the_proposal_is_dropped() -> None:
    story = Story.opened()
    requested = requested_ban(story)

    story.given(decide_approval(requested.approval_id), by=LEAD)

    case = story.case
    assert case.pending_approvals() == []
    approval = case.approvals[str(requested.approval_id)]
    assert (approval.status, approval.decided_by) == (ApprovalStatus.APPROVED, "lee")
    assert (approval.rationale, approval.policy_ref) == (None, None)  # the timeline keeps them
    [sanction] = case.active_sanctions(story.now + HOUR)
    assert (sanction.action, sanction.imposed_at) == (ModerationAction.BAN_MEMBER, story.now)
    assert case.moderation_actions == 1
    # What had happened just before the approval: a request, no ban.
    before = replay(x for x in story.events if x.occurred_at < story.now)
    assert before is not None
    assert before.sanctions == []


def test_a_rejected_ban_never_takes_effect() -> None:
    story = Story.opened()
    requested = requested_ban(story)

    events = story.when(decide_approval(requested.approval_id, ApprovalDecision.REJECTED), by=LEAD)

    [rejected] = events
    assert isinstance(rejected, e.ApprovalDecided)
    assert rejected.decision is ApprovalDecision.REJECTED
    after = fold(story.state, events)
    assert after is not None
    assert after.approvals[str(requested.approval_id)].status is ApprovalStatus.REJECTED
    assert after.pending_approvals() == []
    assert after.sanctions == []


def test_the_requester_cannot_approve_their_own_decision() -> None:
    story = Story.opened()
    requested = requested_ban(story, by=LEAD)

    story.refuses(
        decide_approval(requested.approval_id), RuleViolation, by=LEAD, match="other than"
    )
    story.refuses(
        decide_approval(requested.approval_id, ApprovalDecision.REJECTED),
        RuleViolation,
        by=LEAD,
        match="other than",
    )
    assert story.when(decide_approval(requested.approval_id), by=OTHER_LEAD)


@pytest.mark.parametrize("actor", [MODERATOR, COORDINATOR], ids=lambda a: a.role.value)
def test_only_a_safeguarding_lead_may_approve(actor: Actor) -> None:
    story = Story.opened()
    requested = requested_ban(story)

    story.refuses(decide_approval(requested.approval_id), NotPermitted, by=actor)


@pytest.mark.parametrize("first", list(ApprovalDecision))
def test_an_approval_is_decided_once(first: ApprovalDecision) -> None:
    story = Story.opened()
    requested = requested_ban(story)
    story.given(decide_approval(requested.approval_id, first), by=LEAD)

    story.refuses(
        decide_approval(requested.approval_id),
        RuleViolation,
        by=OTHER_LEAD,
        match=f"already been decided \\({first.value}\\)",
    )


def test_an_unknown_approval_is_not_found() -> None:
    story = Story.opened()
    requested_ban(story)

    error = story.refuses(decide_approval(new_id()), ItemNotFound, by=LEAD)
    assert error.errors == {"approval_id": "not found"}


def test_an_approval_cannot_predate_the_request() -> None:
    story = Story.opened()
    requested = requested_ban(story)

    story.refuses(
        decide_approval(requested.approval_id, occurred_at=requested.occurred_at - HOUR),
        InvalidCommand,
        by=LEAD,
    )


def test_other_moderation_actions_are_not_held() -> None:
    story = Story.opened()

    [event] = story.when(suspend(hours=48), by=MODERATOR)

    assert isinstance(event, e.ModerationActionTaken)
    assert event.approval_id is None


# --- the policy is configuration ---------------------------------------------------------------


def test_with_four_eyes_off_a_ban_is_taken_at_once() -> None:
    story = Story.opened()
    ctx = replace(story._context(MODERATOR, story.now + HOUR), four_eyes=NO_FOUR_EYES)

    [event] = decide(story.state, ban(), ctx)

    assert isinstance(event, e.ModerationActionTaken)
    assert event.action is ModerationAction.BAN_MEMBER


def test_a_policy_can_hold_suspensions_too_and_let_critical_closures_through() -> None:
    story = critical_case()
    policy = FourEyesPolicy.parse("suspend_member")
    ctx = replace(story._context(MODERATOR, story.now + HOUR), four_eyes=policy)

    [held] = decide(story.state, suspend(hours=24), ctx)
    [closed] = decide(story.state, close(), ctx)

    assert isinstance(held, e.ApprovalRequested)
    assert held.duration_hours == 24
    assert isinstance(closed, e.CaseClosed)


def test_the_policy_reads_rule_names_and_refuses_unknown_ones() -> None:
    assert (
        FourEyesPolicy.parse("ban_member, close_critical, lower_critical, long_sanction")
        == DEFAULT_FOUR_EYES
    )
    assert FourEyesPolicy.parse("") == NO_FOUR_EYES
    assert FourEyesPolicy.parse("close_critical,suspend_member").rules == [
        "suspend_member",
        "close_critical",
    ]
    with pytest.raises(ValueError, match="unknown four-eyes rule"):
        FourEyesPolicy.parse("ban_member,delete_case")


# --- closing a critical case is a sign-off -----------------------------------------------------


def test_closing_a_critical_case_asks_for_sign_off_and_leaves_it_open() -> None:
    story = critical_case()

    requested = story.given(close(), by=COORDINATOR)

    assert isinstance(requested, e.ApprovalRequested)
    assert (requested.kind, requested.rule, requested.outcome) == (
        ApprovalKind.CLOSURE,
        "close_critical",
        "Member supported; referral made",
    )
    assert story.case.status.value == "open"
    assert story.case.closed_at is None


def test_a_second_lead_signs_the_closure_off() -> None:
    story = critical_case()
    requested = story.given(close(), by=COORDINATOR)

    decided = story.given(decide_approval(requested.event_id), by=LEAD)

    effect = story.events[-1]
    assert isinstance(decided, e.ApprovalDecided)
    assert isinstance(effect, e.CaseClosed)
    assert (effect.actor, effect.requested_by, effect.approval_id) == (
        "lee",
        "casey",
        requested.event_id,
    )
    assert story.case.status.value == "closed"
    assert story.case.closed_at == story.now


def test_closing_a_case_that_is_not_critical_needs_no_sign_off() -> None:
    story = Story.opened()  # high risk
    [event] = story.when(close())
    assert isinstance(event, e.CaseClosed)
    assert event.approval_id is None


def test_a_second_closure_is_refused_while_one_awaits_sign_off() -> None:
    story = critical_case()
    story.given(close(), by=COORDINATOR)

    story.refuses(close(), RuleViolation, by=OTHER_LEAD, match="already awaits .* sign-off")


def test_a_pending_ban_blocks_closing_until_a_lead_decides_it() -> None:
    story = Story.opened()
    requested = requested_ban(story)

    story.refuses(close(), RuleViolation, match="await a second safeguarding lead's approval")

    story.given(decide_approval(requested.approval_id, ApprovalDecision.REJECTED), by=LEAD)
    [event] = story.when(close())
    assert isinstance(event, e.CaseClosed)


def test_a_sign_off_is_refused_when_the_case_has_moved_on() -> None:
    story = Story.opened(start=MONDAY_NIGHT - HOUR)
    story.given(assess_risk(RiskLevel.CRITICAL), by=LEAD, now=MONDAY_NIGHT - HOUR)
    requested = story.given(close(), by=COORDINATOR, now=MONDAY_NIGHT - HOUR + timedelta(minutes=5))
    # Then, before any lead signs it off, an out-of-hours decision is taken on the case.
    decision = story.given(ooh_decision(), now=MONDAY_NIGHT)
    escalation = story.given(escalate(), now=MONDAY_NIGHT + timedelta(minutes=5))

    error = story.refuses(
        decide_approval(requested.event_id), RuleViolation, by=LEAD, now=TUESDAY_MORNING
    )
    assert "await review" in error.detail
    assert "unacknowledged" in error.detail
    assert "sign-off" not in error.detail  # the closure being approved does not block itself

    story.given(review(decision.event_id), by=OTHER_LEAD, now=TUESDAY_MORNING)
    story.given(acknowledge(escalation.event_id), by=OTHER_LEAD)
    story.given(decide_approval(requested.event_id), by=LEAD)
    assert story.case.status.value == "closed"


def test_a_closed_case_refuses_approval_decisions() -> None:
    story = critical_case()
    requested = story.given(close(), by=COORDINATOR)
    story.given(decide_approval(requested.event_id), by=LEAD)

    story.refuses(decide_approval(requested.event_id), RuleViolation, by=OTHER_LEAD, match="closed")


# --- emergency actions are never held back: reviewed afterwards -------------------------------


def test_a_referral_without_consent_is_recorded_at_once_and_due_for_review() -> None:
    story = Story.opened(start=MONDAY_NIGHT - HOUR)

    [event] = story.when(refer(Consent.NOT_SOUGHT), now=MONDAY_NIGHT)

    assert isinstance(event, e.ReferralMade)
    # Monday 23:10 in London: due by the end of the next working day, Tuesday 17:00 (GMT).
    assert event.review_due == datetime(2026, 11, 17, 17, 0, tzinfo=UTC)
    after = fold(story.state, [event])
    assert after is not None
    [waiting] = after.referrals_awaiting_review()
    assert (waiting.referral_id, waiting.review_status) == (
        event.referral_id,
        DecisionStatus.AWAITING_REVIEW,
    )


def test_a_referral_with_consent_needs_no_review() -> None:
    story = Story.opened()
    [event] = story.when(refer(Consent.GIVEN))
    assert isinstance(event, e.ReferralMade)
    assert event.review_due is None


def test_another_lead_reviews_a_referral_made_without_consent() -> None:
    story = Story.opened(start=MONDAY_NIGHT - HOUR)
    referral = story.given(refer(Consent.REFUSED), by=LEAD, now=MONDAY_NIGHT)

    reviewed = story.given(
        review_referral(referral.event_id, ReviewOutcome.VARIED), by=OTHER_LEAD, now=TUESDAY_MORNING
    )

    assert reviewed == e.ReferralReviewed(
        originator_id=story.case_id,
        originator_version=story.version,
        event_id=reviewed.event_id,
        occurred_at=TUESDAY_MORNING,
        recorded_at=TUESDAY_MORNING,
        actor="lou",
        actor_role=OTHER_LEAD.role,
        referral_id=referral.event_id,
        outcome=ReviewOutcome.VARIED,
        rationale="Sharing without consent was necessary to protect the member's life.",
    )
    referral_state = story.case.referrals[str(referral.event_id)]
    assert (referral_state.review_status, referral_state.reviewed_by) == (
        DecisionStatus.VARIED,
        "lou",
    )
    assert story.case.referrals_awaiting_review() == []


def test_the_referrer_cannot_review_their_own_referral() -> None:
    story = Story.opened()
    referral = story.given(refer(Consent.NOT_SOUGHT), by=LEAD)
    story.refuses(review_referral(referral.event_id), RuleViolation, by=LEAD, match="other than")
    stand_in = OTHER_LEAD.model_copy(
        update={"credential_issued_by": LEAD.username, "behind": frozenset({LEAD.username})}
    )
    story.refuses(
        review_referral(referral.event_id), RuleViolation, by=stand_in, match="second person"
    )


def test_only_a_safeguarding_lead_reviews_a_referral() -> None:
    story = Story.opened()
    referral = story.given(refer(Consent.NOT_SOUGHT), by=LEAD)
    story.refuses(review_referral(referral.event_id), NotPermitted, by=COORDINATOR)


def test_a_referral_is_reviewed_once_and_only_when_made_without_consent() -> None:
    story = Story.opened()
    without = story.given(refer(Consent.NOT_SOUGHT))
    with_consent = story.given(refer(Consent.GIVEN))
    story.given(review_referral(without.event_id), by=LEAD)

    story.refuses(review_referral(without.event_id), RuleViolation, by=OTHER_LEAD, match="already")
    story.refuses(
        review_referral(with_consent.event_id), RuleViolation, by=LEAD, match="with consent"
    )
    story.refuses(review_referral(new_id()), ItemNotFound, by=LEAD)


def test_a_referral_awaiting_review_blocks_closure_like_an_out_of_hours_decision() -> None:
    story = Story.opened()
    referral = story.given(refer(Consent.NOT_SOUGHT))

    story.refuses(close(), RuleViolation, match="made without consent await review")

    story.given(review_referral(referral.event_id, ReviewOutcome.OVERTURNED), by=LEAD)
    [event] = story.when(close())
    assert isinstance(event, e.CaseClosed)


def test_a_referral_recorded_before_reviews_existed_is_not_queued_for_review() -> None:
    story = Story.opened()
    legacy = story.given(refer(Consent.NOT_SOUGHT))
    assert isinstance(legacy, e.ReferralMade)
    old = legacy.model_copy(update={"review_due": None})

    state = replay([story.events[0], old])

    assert state is not None
    assert state.referrals_awaiting_review() == []
    assert state.referrals[str(old.referral_id)].review_status is None


# --- issue 11: lowering a critical risk, a case critical once, long sanctions, people -----------


def test_lowering_a_critical_risk_is_held_for_a_second_lead() -> None:
    story = critical_case()

    [event] = story.when(assess_risk(RiskLevel.LOW), by=COORDINATOR)

    assert isinstance(event, e.ApprovalRequested)
    assert (event.kind, event.rule, event.level) == (
        ApprovalKind.RISK_ASSESSMENT,
        "lower_critical",
        RiskLevel.LOW,
    )


def test_an_approved_lowering_takes_effect_recorded_by_the_approver() -> None:
    story = critical_case()
    requested = story.given(assess_risk(RiskLevel.LOW), by=COORDINATOR)

    story.given(decide_approval(requested.event_id), by=OTHER_LEAD)

    effect = story.events[-1]
    assert isinstance(effect, e.RiskAssessed)
    assert (effect.level, effect.actor, effect.requested_by, effect.approval_id) == (
        RiskLevel.LOW,
        "lou",
        "casey",
        requested.event_id,
    )
    assert story.case.risk_level is RiskLevel.LOW


def test_a_case_that_was_critical_once_still_closes_only_on_a_sign_off() -> None:
    story = critical_case()
    requested = story.given(assess_risk(RiskLevel.LOW), by=COORDINATOR)
    story.given(decide_approval(requested.event_id), by=OTHER_LEAD)

    [event] = story.when(close(), by=COORDINATOR)

    assert isinstance(event, e.ApprovalRequested)
    assert event.rule == "close_critical"


def test_a_case_opened_critical_counts_as_critical_once() -> None:
    story = Story.opened()
    story.given(assess_risk(RiskLevel.HIGH), by=LEAD)
    assert story.case.ever_critical is False
    opened_critical = Story.opened(open_case(risk_level=RiskLevel.CRITICAL))

    assert opened_critical.case.ever_critical is True


def test_raising_a_risk_to_critical_or_keeping_it_there_is_not_held() -> None:
    story = critical_case()

    [again] = story.when(assess_risk(RiskLevel.CRITICAL), by=COORDINATOR)

    assert isinstance(again, e.RiskAssessed)


@pytest.mark.parametrize(
    ("command", "held"),
    [
        (suspend(hours=30 * 24), False),
        (suspend(hours=30 * 24 + 1), True),
        (suspend(hours=5 * 365 * 24), True),
        (moderate(ModerationAction.MUTE_MEMBER, "member-4411", duration_hours=24), False),
        (moderate(ModerationAction.MUTE_MEMBER, "member-4411"), True),  # indefinite
    ],
)
def test_a_mute_or_suspension_beyond_the_set_length_needs_a_second_lead(
    command: c.TakeModerationAction, held: bool
) -> None:
    story = Story.opened()

    [event] = story.when(command, by=MODERATOR)

    assert isinstance(event, e.ApprovalRequested) is held
    if held:
        assert isinstance(event, e.ApprovalRequested)
        assert event.rule == "long_sanction"


def test_the_set_length_is_the_policys() -> None:
    story = Story.opened()
    policy = FourEyesPolicy.parse("long_sanction", sanction_days=7)
    ctx = replace(story._context(MODERATOR, story.now + HOUR), four_eyes=policy)

    [held] = decide(story.state, suspend(hours=8 * 24), ctx)

    assert isinstance(held, e.ApprovalRequested)


def test_a_lead_signed_in_with_a_credential_the_requester_issued_is_not_a_second_person() -> None:
    story = Story.opened()
    requested = requested_ban(story, by=COORDINATOR)
    puppet = LEAD.model_copy(
        update={"credential_issued_by": "casey", "behind": frozenset({"casey"})}
    )

    error = story.refuses(decide_approval(requested.approval_id), RuleViolation, by=puppet)

    assert "second person" in error.detail


def test_a_lead_by_the_requesters_grant_alone_is_not_a_second_person() -> None:
    story = Story.opened()
    requested = requested_ban(story, by=COORDINATOR)
    made_lead = LEAD.model_copy(
        update={"roles_granted_alone_by": ((LEAD.role, "casey"),), "behind": frozenset({"casey"})}
    )

    story.refuses(decide_approval(requested.approval_id), RuleViolation, by=made_lead)
    # A lead whose role a second person approved, signed in with a credential of their own, is.
    [decided, _] = story.when(decide_approval(requested.approval_id), by=LEAD)
    assert isinstance(decided, e.ApprovalDecided)


def test_a_lead_who_issued_the_requesters_credential_is_not_a_second_person() -> None:
    # The lead enrolled the coordinator and kept their first token: the request may be theirs.
    story = Story.opened()
    puppet = COORDINATOR.model_copy(
        update={"credential_issued_by": "lee", "behind": frozenset({"lee"})}
    )
    requested = requested_ban(story, by=puppet)
    assert (requested.requester_credential_issued_by, requested.actor_behind) == ("lee", ["lee"])

    story.refuses(decide_approval(requested.approval_id), RuleViolation, by=LEAD)
    [decided, _] = story.when(decide_approval(requested.approval_id), by=OTHER_LEAD)
    assert isinstance(decided, e.ApprovalDecided)


def test_a_case_from_a_snapshot_older_than_the_critical_history_closes_only_on_a_sign_off() -> None:
    # Such a snapshot cannot say whether the case was ever critical: the safe answer is yes.
    story = Story.opened()
    older = story.case.model_copy(update={"ever_critical": None})

    [event] = decide(older, close(), story._context(COORDINATOR, story.now + HOUR))

    assert isinstance(event, e.ApprovalRequested)
    assert event.rule == "close_critical"
