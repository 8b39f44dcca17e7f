"""A safeguarding lead's look at a quality review that failed a safeguarding criterion.

A review whose critical safeguarding criterion scored 0 (``ContactReviewed.safeguarding_fail``)
is a safeguarding matter, not only a quality one: it waits in the ``qa_safeguarding_fails``
queue until a safeguarding lead has looked at it and recorded what they did about it. That look
is this event, on the contact's own stream.

THIS CLASS IS THE STORAGE FORMAT (topic ``domain.contact.lead_review:SafeguardingFailReviewed``):
never rename or move it, never remove or retype a field; add fields only with defaults. It
holds nothing personal: ``rationale`` says why, as a review's rationale does, without describing
anyone (what was said to the caller is on the contact, sealed). Like every event of the stream
it belongs to the contact's subject (``ContactEvent.__data_subject__``).
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from domain.contact.events import ContactEvent


class LeadReviewOutcome(StrEnum):
    """What the lead did about a safeguarding fail."""

    # The contact was handled safely after all (e.g. the question was asked in other words).
    NO_FURTHER_ACTION = "no_further_action"
    # The practice is taken up with the handler: supervision, training, a rerun of the script.
    PRACTICE_ADDRESSED = "practice_addressed"
    # The caller may be at risk: a case opened or joined, a referral or a call-back made.
    SAFEGUARDING_ACTION_TAKEN = "safeguarding_action_taken"


class SafeguardingFailReviewed(ContactEvent):
    """A safeguarding lead looked at a review that failed a safeguarding criterion."""

    review_id: UUID
    outcome: LeadReviewOutcome
    rationale: str
