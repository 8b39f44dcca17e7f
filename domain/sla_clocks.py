"""The SLA clocks by name, and why a clock was breached: the vocabulary shared by the policy
(``domain/policy/``), the queues, the reports and a lead's explanation of a breach.

Pure and stored: these values are in events (``SlaBreachExplained``,
``ContactSlaBreachExplained``), so a value, once used, never changes.

A clock is one SLA clock on one item, named by ``clock_id``: ``f"{clock}:{item_id}"``, where the
item is what started it: for ``first_action`` the flag's event id (the ``FlagRaised`` event, or
the ``CaseOpened`` event of a case opened from a flag), for the others the escalation, the
out-of-hours decision, the referral, the four-eyes approval, the contact itself, the contact's
follow-up, or the new member.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID


class SlaClock(StrEnum):
    FIRST_ACTION = "first_action"
    ESCALATION_ACKNOWLEDGED = "escalation_acknowledged"
    OUT_OF_HOURS_REVIEW = "out_of_hours_review"
    REFERRAL_ACKNOWLEDGED = "referral_acknowledged"
    APPROVAL_DECIDED = "approval_decided"
    CONTACT_REVIEWED = "contact_reviewed"
    FOLLOW_UP = "follow_up"
    NEW_MEMBER_WELCOMED = "new_member_welcomed"


# The clocks that run on a case, and those that run on a helpline contact.
CASE_CLOCKS: frozenset[SlaClock] = frozenset(
    {
        SlaClock.FIRST_ACTION,
        SlaClock.ESCALATION_ACKNOWLEDGED,
        SlaClock.OUT_OF_HOURS_REVIEW,
        SlaClock.REFERRAL_ACKNOWLEDGED,
        SlaClock.APPROVAL_DECIDED,
    }
)
CONTACT_CLOCKS: frozenset[SlaClock] = frozenset({SlaClock.CONTACT_REVIEWED, SlaClock.FOLLOW_UP})


class BreachCause(StrEnum):
    """Why a clock was breached, as the lead who explains it judges."""

    STAFFING = "staffing"
    VOLUME = "volume"
    OUT_OF_HOURS = "out_of_hours"
    LATE_LOGGING = "late_logging"
    AGENCY_DELAY = "agency_delay"
    SYSTEM_OUTAGE = "system_outage"
    HUMAN_ERROR = "human_error"
    OTHER = "other"


def clock_id(clock: SlaClock, item_id: UUID) -> str:
    """A clock's name: ``first_action:<flag event id>``."""
    return f"{clock.value}:{item_id}"


def parse_clock_id(value: str) -> tuple[SlaClock, UUID]:
    """``clock_id``'s inverse; ValueError, saying why, on anything else."""
    clock, sep, item = value.partition(":")
    if not sep:
        raise ValueError("a clock id is '<clock>:<item id>', e.g. 'first_action:<uuid>'")
    try:
        name = SlaClock(clock)
    except ValueError:
        known = ", ".join(c.value for c in SlaClock)
        raise ValueError(f"no clock named {clock!r} (one of: {known})") from None
    try:
        item_id = UUID(item)
    except ValueError:
        raise ValueError(f"{item!r} is not an item id (a UUID)") from None
    return name, item_id
