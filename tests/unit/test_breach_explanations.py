"""SLA breach explanations, as stories: a safeguarding lead explains why a clock on a case or
a helpline contact was breached and what will be done. Whether it breached is the reports'
to judge; the domain checks the clock runs on that record and its item is there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.case import commands as c
from domain.case import events as e
from domain.case.ids import event_id_for
from domain.case.vocabulary import NoteKind
from domain.contact import errors as x
from domain.contact.commands import ExplainContactSlaBreach as ContactExplain
from domain.contact.events import ContactSlaBreachExplained
from domain.errors import InvalidCommand, ItemNotFound, NotPermitted
from domain.shared import personal_fields
from domain.sla_clocks import BreachCause, SlaClock, clock_id, parse_clock_id
from tests.story import (
    COORDINATOR,
    LEAD,
    Story,
    add_note,
    close,
    escalate,
    new_id,
    raise_flag,
    refer,
)
from tests.unit import test_contact_decisions as contact_story


def explain(clock: str, item_id: UUID, **fields: Any) -> c.ExplainSlaBreach:
    return c.ExplainSlaBreach.model_validate(
        {
            "clock": clock,
            "item_id": item_id,
            "cause": "staffing",
            "explanation": "Two volunteers were off sick and the flag waited in the queue.",
            "action": "Coordinator adds a standby volunteer to weekend evening shifts.",
            **fields,
        }
    )


def test_a_lead_explains_a_breached_first_action_clock_on_a_flag() -> None:
    story = Story.opened()
    flag = story.given(raise_flag())

    [event] = story.when(explain("first_action", flag.event_id), by=LEAD)

    assert isinstance(event, e.SlaBreachExplained)
    assert (event.clock, event.item_id, event.cause) == (
        SlaClock.FIRST_ACTION,
        flag.event_id,
        BreachCause.STAFFING,
    )
    assert event.action.startswith("Coordinator adds")


def test_the_opening_of_a_case_starts_a_first_action_clock() -> None:
    story = Story.opened()
    [event] = story.when(explain("first_action", event_id_for(story.case_id, 1)), by=LEAD)
    assert event.item_id == event_id_for(story.case_id, 1)


@pytest.mark.parametrize(
    ("clock", "given"),
    [("escalation_acknowledged", escalate), ("referral_acknowledged", refer)],
)
def test_each_case_clock_names_its_item(clock: str, given: Any) -> None:
    story = Story.opened()
    started = story.given(given())

    [event] = story.when(explain(clock, started.event_id, cause="agency_delay"), by=LEAD)

    assert event.item_id == started.event_id


def test_a_breach_is_explained_on_a_closed_case() -> None:
    story = Story.opened()
    flag = story.given(raise_flag())
    story.given(close(), by=LEAD)

    [event] = story.when(explain("first_action", flag.event_id), by=LEAD)

    assert isinstance(event, e.SlaBreachExplained)


def test_only_a_safeguarding_lead_explains() -> None:
    story = Story.opened()
    flag = story.given(raise_flag())
    story.refuses(explain("first_action", flag.event_id), NotPermitted, by=COORDINATOR)


def test_an_item_that_is_not_in_the_case_is_not_found() -> None:
    story = Story.opened()
    story.given(escalate())
    unknown = new_id()
    error = story.refuses(explain("escalation_acknowledged", unknown), ItemNotFound, by=LEAD)
    # Named as the clock (the URL names it: 404 over HTTP).
    assert error.errors == {"clock_id": f"no escalation_acknowledged:{unknown} in this case"}


def test_an_event_of_the_case_that_starts_no_such_clock_is_not_found() -> None:
    story = Story.opened()
    note = story.given(add_note(NoteKind.NOTE))
    # A note is an event of this case, but not a flag: it starts no first-action clock.
    story.refuses(explain("first_action", note.event_id), ItemNotFound, by=LEAD)
    # An escalation's id does not name a referral.
    escalation = story.given(escalate())
    story.refuses(explain("referral_acknowledged", escalation.event_id), ItemNotFound, by=LEAD)


def test_a_contact_clock_is_not_explained_on_a_case() -> None:
    story = Story.opened()
    error = story.refuses(explain("follow_up", new_id()), InvalidCommand, by=LEAD)
    assert "clock" in (error.errors or {})


def test_an_explanation_is_not_before_its_clock_started() -> None:
    story = Story.opened()
    escalation = story.given(escalate())
    earlier = (escalation.occurred_at - timedelta(seconds=1)).isoformat()
    story.refuses(
        explain("escalation_acknowledged", escalation.event_id, occurred_at=earlier),
        InvalidCommand,
        by=LEAD,
    )


def test_the_explanation_and_action_are_personal() -> None:
    from domain.contact.events import ContactSlaBreachExplained

    assert set(personal_fields(e.SlaBreachExplained)) == {"explanation", "action"}
    assert set(personal_fields(ContactSlaBreachExplained)) == {"explanation", "action"}


def test_a_clock_id_reads_back() -> None:
    item = new_id()
    assert parse_clock_id(clock_id(SlaClock.FOLLOW_UP, item)) == (SlaClock.FOLLOW_UP, item)
    for bad, why in [
        ("first_action", "<clock>:<item id>"),
        ("late:x", "no clock"),
        ("follow_up:x", "UUID"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_clock_id(bad)


# --- on a helpline contact -------------------------------------------------------------------


def contact_explain(clock: str, item_id: UUID, **fields: Any) -> ContactExplain:
    return ContactExplain.model_validate(
        {
            "clock": clock,
            "item_id": item_id,
            "cause": "volume",
            "explanation": "The call-back list doubled after the radio appeal that week.",
            "action": "Two extra call-back sessions a week until the list is back to normal.",
            **fields,
        }
    )


def test_a_lead_explains_a_contacts_breached_review_and_follow_up() -> None:
    story, follow_up_id = contact_story.scheduled()

    [reviewed] = story.when(
        contact_explain("contact_reviewed", contact_story.CONTACT),
        by=contact_story.LEE,
        now=contact_story.NEXT_DAY,
    )
    [followed] = story.when(
        contact_explain("follow_up", follow_up_id),
        by=contact_story.LEE,
        now=contact_story.NEXT_DAY,
    )

    assert isinstance(reviewed, ContactSlaBreachExplained)
    assert (reviewed.clock, reviewed.item_id) == (SlaClock.CONTACT_REVIEWED, contact_story.CONTACT)
    assert isinstance(followed, ContactSlaBreachExplained)
    assert (followed.clock, followed.item_id, followed.cause) == (
        SlaClock.FOLLOW_UP,
        follow_up_id,
        BreachCause.VOLUME,
    )


def test_a_contacts_breach_is_explained_by_a_lead_only() -> None:
    story, follow_up_id = contact_story.scheduled()
    with pytest.raises(NotPermitted):
        story.when(
            contact_explain("follow_up", follow_up_id),
            by=contact_story.CASEY,
            now=contact_story.NEXT_DAY,
        )


@pytest.mark.parametrize(
    ("clock", "error"),
    [("follow_up", x.FollowUpNotFound), ("contact_reviewed", x.ContactNotFound)],
)
def test_a_contacts_clock_names_an_item_of_that_contact(clock: str, error: type[Exception]) -> None:
    story, _ = contact_story.scheduled()
    with pytest.raises(error):
        story.when(
            contact_explain(clock, new_id()), by=contact_story.LEE, now=contact_story.NEXT_DAY
        )


def test_a_case_clock_is_not_explained_on_a_contact() -> None:
    story, _ = contact_story.scheduled()
    with pytest.raises(InvalidCommand, match="does not run on a helpline contact"):
        story.when(
            contact_explain("first_action", contact_story.CONTACT),
            by=contact_story.LEE,
            now=contact_story.NEXT_DAY,
        )
