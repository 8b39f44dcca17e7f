"""Properties of decide and evolve over random histories.

Hypothesis draws a sequence of intentions (flag, escalate, review the second decision, close, ...,
each by someone, some time later, sometimes back-dated); they are decided one after another
against the case as it stands. Refused commands write nothing, so what is left is a history the
domain accepted, on which the properties below must hold.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.case import commands as c
from domain.case import events as e
from domain.case.snapshot import CaseSnapshot
from domain.case.state import CaseState, evolve, fold
from domain.case.vocabulary import (
    CaseStatus,
    DecisionStatus,
    EscalationStatus,
    ModerationAction,
    NoteKind,
    ReferralUpdateStatus,
    ReviewOutcome,
    RiskLevel,
)
from domain.errors import DomainError
from domain.shared import Actor
from tests.story import (
    COORDINATOR,
    LEAD,
    MODERATOR,
    OTHER_LEAD,
    VOLUNTEER,
    Story,
    acknowledge,
    add_note,
    assess_risk,
    assign,
    close,
    correct,
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

ACTORS = [COORDINATOR, LEAD, OTHER_LEAD, MODERATOR, VOLUNTEER]
# Friday 20 November 2026, 15:00: the histories run over a weekend, in and out of hours.
START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def _pick(ids: list[UUID], n: int) -> UUID | None:
    return ids[n % len(ids)] if ids else None


def _ids(story: Story, event_type: type[e.CaseEvent]) -> list[UUID]:
    return [x.event_id for x in story.events if isinstance(x, event_type)]


def _ids_in(story: Story, items: str, status: str, n: int) -> list[UUID]:
    held = getattr(story.case, items)
    fitting = [UUID(k) for k, item in held.items() if item.status == status]
    return fitting if fitting and n % 5 else [UUID(k) for k in held]


Build = Callable[[Story, int], c.CaseCommand | None]

INTENTIONS: dict[str, Build] = {
    "flag": lambda s, n: raise_flag(category=["spam", "harassment", "self_harm_risk"][n % 3]),
    "assess": lambda s, n: assess_risk(list(RiskLevel)[n % 4]),
    "assign": lambda s, n: assign(["lee", "casey"][n % 2]),
    "hide": lambda s, n: moderate(ModerationAction.HIDE_CONTENT, f"post-{n % 3}"),
    "suspend": lambda s, n: suspend(hours=1 + n % 72, target_ref=f"member-{n % 2}"),
    "mute": lambda s, n: moderate(ModerationAction.MUTE_MEMBER, f"member-{n % 2}"),
    "ban": lambda s, n: moderate(ModerationAction.BAN_MEMBER, f"member-{n % 2}"),
    "reinstate": lambda s, n: moderate(ModerationAction.REINSTATE_MEMBER, f"member-{n % 2}"),
    "ooh_decision": lambda s, n: ooh_decision(),
    # Items are picked mostly among those in a state that allows the command, sometimes not.
    "review": lambda s, n: (
        None
        if (d := _pick(_ids_in(s, "decisions", "awaiting_review", n), n)) is None
        else review(d, list(ReviewOutcome)[n % 3])
    ),
    "refer": lambda s, n: refer(),
    "update_referral": lambda s, n: (
        None
        if (r := _pick(_ids(s, e.ReferralMade), n)) is None
        else update_referral(r, list(ReferralUpdateStatus)[n % 4])
    ),
    "escalate": lambda s, n: escalate(),
    "acknowledge": lambda s, n: (
        None if (x := _pick(_ids_in(s, "escalations", "raised", n), n)) is None else acknowledge(x)
    ),
    "resolve": lambda s, n: (
        None
        if (x := _pick(_ids_in(s, "escalations", "acknowledged", n), n)) is None
        else resolve(x)
    ),
    "note": lambda s, n: add_note(list(NoteKind)[n % 3]),
    "correct": lambda s, n: correct(s.events[n % len(s.events)].event_id),
    "close": lambda s, n: close(),
    "reopen": lambda s, n: reopen(),
    # Compliance decisions (issue 15): open or closed cases, by leads only.
    "serious_incident": lambda s, n: c.AssessSeriousIncident(
        reportable=n % 2 == 0,
        regulator=["charity_commission", "police"][n % 2],
        grounds=["harm_to_beneficiary"] if n % 2 == 0 else ["below_threshold"],
        rationale="A member was harmed after meeting another member; the police attended.",
    ),
    "report_serious_incident": lambda s, n: (
        None
        if (a := _pick(_ids(s, e.SeriousIncidentAssessed), n)) is None
        else c.ReportSeriousIncident(assessment_id=a)
    ),
    "explain_breach": lambda s, n: (
        None
        if (x := _pick(_ids(s, e.CaseEscalated), n)) is None
        else c.ExplainSlaBreach(
            clock="escalation_acknowledged",
            item_id=x,
            cause="volume",
            explanation="Three escalations came in within the same ten minutes.",
            action="A second lead takes escalations on busy evenings.",
        )
    ),
}

intentions = st.lists(
    st.tuples(
        st.sampled_from(sorted(INTENTIONS)),
        st.integers(min_value=0, max_value=1000),  # which item, which variant
        st.sampled_from(ACTORS),
        st.integers(min_value=1, max_value=16 * 60),  # minutes until it is written
        st.one_of(st.none(), st.integers(min_value=0, max_value=600)),  # back-dated by (minutes)
    ),
    min_size=6,
    max_size=40,
)


def _live(steps: list[tuple[str, int, Actor, int, int | None]]) -> tuple[Story, int]:
    """Decide each intention in turn; keep what is accepted. Returns the story and refusals."""
    story = Story.opened(start=START)
    refused = 0
    for name, n, actor, minutes, back in steps:
        now = story.now + timedelta(minutes=minutes)
        command = INTENTIONS[name](story, n)
        if command is None:
            continue
        if back is not None:
            happened = max(story.case.opened_at, now - timedelta(minutes=back))
            command = command.model_copy(update={"occurred_at": happened})
        try:
            story.given(command, by=actor, now=now)
        except DomainError:
            story.now = now
            refused += 1
    return story, refused


PROPERTY_SETTINGS = settings(
    max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(intentions)
def test_versions_count_the_events_and_folds_agree(steps: Any) -> None:
    story, _ = _live(steps)

    assert [x.originator_version for x in story.events] == list(range(1, len(story.events) + 1))
    assert story.case.version == len(story.events)
    assert len({x.event_id for x in story.events}) == len(story.events)

    one_at_a_time: CaseState | None = None
    for event in story.events:
        one_at_a_time = evolve(one_at_a_time, event)
    assert one_at_a_time == replay(story.events) == story.case

    # Folding in two halves from a snapshot gives the same state as folding the lot.
    half = len(story.events) // 2
    head = replay(story.events[: max(half, 1)])
    assert head is not None
    restored = CaseSnapshot.model_validate_json(
        CaseSnapshot(
            originator_id=head.id,
            originator_version=head.version,
            recorded_at=START,
            state=head,
        ).model_dump_json()
    ).state
    assert fold(restored, story.events[max(half, 1) :]) == story.case


@PROPERTY_SETTINGS
@given(intentions, st.lists(st.booleans(), min_size=40, max_size=40), st.integers(0, 4 * 24 * 60))
def test_evolve_never_raises_on_any_prefix_or_filtered_history(
    steps: Any, keep: list[bool], minutes: int
) -> None:
    story, _ = _live(steps)
    cut = START + timedelta(minutes=minutes)

    for end in range(len(story.events) + 1):
        replay(story.events[:end])
    # Arbitrary subsequences, and the two as-of filters an auditor uses.
    replay([x for x, k in zip(story.events, keep, strict=False) if k])
    as_recorded = replay([x for x in story.events if x.recorded_at <= cut])
    as_occurred = replay([x for x in story.events if x.occurred_at <= cut])
    assert (as_recorded is None) == (as_occurred is None) == (cut < START)


@PROPERTY_SETTINGS
@given(intentions)
def test_status_follows_the_lifecycle(steps: Any) -> None:
    story, _ = _live(steps)
    state: CaseState | None = None
    closed = False
    escalations: dict[UUID, str] = {}
    for event in story.events:
        state = evolve(state, event)
        assert state is not None
        if isinstance(event, e.CaseClosed):
            closed = True
        elif isinstance(event, e.CaseReopened):
            closed = False
        elif isinstance(event, e.CaseEscalated):
            escalations[event.escalation_id] = "raised"
        elif isinstance(event, e.EscalationResolved):
            escalations[event.escalation_id] = "resolved"
        unresolved = any(v != "resolved" for v in escalations.values())

        expected = (
            CaseStatus.CLOSED if closed else CaseStatus.ESCALATED if unresolved else CaseStatus.OPEN
        )
        assert state.status is expected
        assert (state.closed_at is not None) is closed


@PROPERTY_SETTINGS
@given(intentions)
def test_accepted_histories_keep_the_invariants(steps: Any) -> None:
    story, _ = _live(steps)
    closed = False
    decided_by: dict[UUID, str] = {}
    escalation_status: dict[UUID, EscalationStatus] = {}
    reviews_pending: set[UUID] = set()
    for event in story.events[1:]:
        assert event.occurred_at >= story.events[0].occurred_at
        assert event.occurred_at <= event.recorded_at + timedelta(minutes=5)
        if closed:
            assert isinstance(
                event,
                e.NoteAdded
                | e.RecordCorrected
                | e.CaseReopened
                | e.SeriousIncidentAssessed
                | e.SeriousIncidentReported
                | e.SlaBreachExplained,
            )
        if isinstance(event, e.CaseClosed):
            assert not reviews_pending
            assert EscalationStatus.RAISED not in escalation_status.values()
            closed = True
        elif isinstance(event, e.CaseReopened):
            closed = False
        elif isinstance(event, e.OutOfHoursDecisionRecorded):
            assert story.calendar.is_out_of_hours(event.occurred_at)
            assert event.review_due > event.occurred_at
            decided_by[event.decision_id] = event.actor
            reviews_pending.add(event.decision_id)
        elif isinstance(event, e.OutOfHoursDecisionReviewed):
            assert event.actor_role == "safeguarding_lead"
            assert event.actor != decided_by[event.decision_id]
            reviews_pending.remove(event.decision_id)  # reviewed once
        elif isinstance(event, e.CaseEscalated):
            escalation_status[event.escalation_id] = EscalationStatus.RAISED
        elif isinstance(event, e.EscalationAcknowledged):
            assert escalation_status[event.escalation_id] is EscalationStatus.RAISED
            escalation_status[event.escalation_id] = EscalationStatus.ACKNOWLEDGED
        elif isinstance(event, e.EscalationResolved):
            assert escalation_status[event.escalation_id] is EscalationStatus.ACKNOWLEDGED
            escalation_status[event.escalation_id] = EscalationStatus.RESOLVED
        elif isinstance(event, e.RecordCorrected):
            assert event.corrects_event_id in {x.event_id for x in story.events}

    case = story.case
    assert {d.decision_id for d in case.pending_reviews()} == reviews_pending
    assert all(
        d.status is not DecisionStatus.AWAITING_REVIEW
        for d in case.decisions.values()
        if d.decision_id not in reviews_pending
    )
    assert {x.escalation_id: x.status for x in case.escalations.values()} == escalation_status


@PROPERTY_SETTINGS
@given(intentions)
def test_sanctions_in_force_agree_with_a_model_of_the_timeline(steps: Any) -> None:
    story, _ = _live(steps)
    # At the latest moment anything happened, compute from the timeline what is in force.
    at = max(x.occurred_at for x in story.events)
    in_force: list[tuple[ModerationAction, str, datetime, datetime | None]] = []
    for event in story.events:
        if not isinstance(event, e.ModerationActionTaken):
            continue
        if event.action in {
            ModerationAction.MUTE_MEMBER,
            ModerationAction.SUSPEND_MEMBER,
            ModerationAction.BAN_MEMBER,
        }:
            expiry = (
                None
                if event.duration_hours is None
                else event.occurred_at + timedelta(hours=event.duration_hours)
            )
            in_force.append((event.action, event.target_ref, event.occurred_at, expiry))
        elif event.action is ModerationAction.REINSTATE_MEMBER:
            in_force = [
                s
                for s in in_force
                if not (
                    s[1] == event.target_ref
                    and s[2] <= event.occurred_at
                    and (s[3] is None or event.occurred_at < s[3])
                )
            ]
    expected = sorted(
        (a.value, t, i) for a, t, i, x in in_force if i <= at and (x is None or at < x)
    )
    actual = sorted(
        (s.action.value, s.target_ref, s.imposed_at) for s in story.case.active_sanctions(at)
    )
    assert actual == expected
