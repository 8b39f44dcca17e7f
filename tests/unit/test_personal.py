"""What is personal in a model, and how it reads once erased."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from domain.case import commands as c
from domain.case.events import CaseOpened, OutOfHoursDecisionRecorded, PersonalDataErased, Subject
from domain.case.snapshot import CaseSnapshot
from domain.case.state import fold
from domain.case.vocabulary import CaseStatus, NoteKind
from domain.errors import NotPermitted
from domain.personal import ERASED, ErasureTrigger, erased_paths, plan_for, redacted
from domain.shared import Actor, PolicyRef, Role
from tests.story import COORDINATOR, LEAD, Story, add_note, close

NOW = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)
ENVELOPE = {
    "originator_id": uuid4(),
    "originator_version": 1,
    "event_id": uuid4(),
    "occurred_at": NOW,
    "recorded_at": NOW,
    "actor": "kit",
    "actor_role": "coordinator",
}


def test_a_snapshot_seals_what_the_case_state_holds_about_people() -> None:
    [state] = plan_for(CaseSnapshot)
    steps = {step.name: step for step in state.plan}

    assert set(steps) == {"subject", "summary", "approvals"}
    assert [s.name for s in steps["subject"].plan] == ["display_name"]
    assert {s.name for s in steps["approvals"].plan} == {"rationale", "outcome"}


def test_an_erased_event_is_still_a_valid_event_that_says_what_was_erased() -> None:
    opened = CaseOpened(
        **ENVELOPE,
        subject=Subject(kind="member", ref="m-1", display_name="Sam"),
        source="flag",
        category="harassment",
        summary="Sam was threatened",
    )
    decision = OutOfHoursDecisionRecorded(
        **{**ENVELOPE, "originator_version": 2},
        decision_id=uuid4(),
        decision="Called Sam",
        immediate_actions=["Hid the post"],
        rationale="Sam was at risk tonight",
        policy_ref=PolicyRef(policy="p", version="1", clause="2"),
        review_due=NOW,
    )

    blank_opened, blank_decision = redacted(opened), redacted(decision)

    assert (blank_opened.summary, blank_opened.subject.display_name) == (ERASED, ERASED)
    assert blank_opened.subject.ref == "m-1"
    assert blank_decision.immediate_actions == [ERASED]
    assert erased_paths(blank_opened) == ["subject.display_name", "summary"]
    assert erased_paths(blank_decision) == ["decision", "immediate_actions", "rationale"]
    assert erased_paths(opened) == []
    assert CaseOpened.model_validate(blank_opened.model_dump()) == blank_opened


# --- recording an erasure on a case ----------------------------------------------------------

ERASURE = c.RecordErasure(
    erasure_id=uuid4(),
    trigger=ErasureTrigger.REQUEST,
    lawful_basis="UK GDPR Art 17(1)(a)",
    erasure_reason="The member asked for their data to be erased.",
)


def test_a_closed_case_records_an_erasure_and_its_state_reads_erased() -> None:
    story = Story.opened()
    story.given(add_note(NoteKind.FACT))
    story.given(close(), by=LEAD)
    assert story.state is not None
    last_action = story.state.last_action_at

    [event] = story.when(ERASURE, by=LEAD)

    assert isinstance(event, PersonalDataErased)
    assert event.erasure_id == ERASURE.erasure_id
    after = fold(story.state, [event])
    assert after is not None
    assert (after.summary, after.subject.display_name) == (ERASED, ERASED)
    assert after.personal_data_erased_at == event.occurred_at
    assert after.last_action_at == last_action  # erasing is not acting on the concern
    assert after.status is CaseStatus.CLOSED


def test_only_a_lead_records_an_erasure_on_request_but_retention_may() -> None:
    story = Story.opened()

    story.refuses(ERASURE, NotPermitted, by=COORDINATOR, match="safeguarding lead")
    retention = ERASURE.model_copy(update={"trigger": ErasureTrigger.RETENTION})
    [event] = story.when(retention, by=Actor(username="vigil-retention", role=Role.ADMIN))
    assert event.trigger is ErasureTrigger.RETENTION
