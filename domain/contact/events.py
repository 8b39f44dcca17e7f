"""Events of the Contact aggregate: a helpline contact logged, linked to a case, reviewed for
quality (and the handler's acknowledgement or dispute of the feedback, and a lead's resolution),
and its follow-ups scheduled, attempted and completed.

THESE CLASSES ARE THE STORAGE FORMAT (topic ``domain.contact.events:<Class>``): never rename or
move them, never remove or retype a field; add fields only with defaults. Stored fields carry no
business validation (a rule tightened later must not make old events unreadable): the commands
validate.

One stream per contact (its id is the contact's). ``actor`` is always the authenticated user
who recorded the event: the handler logging the contact, the reviewer, the handler answering
the feedback, the lead resolving a dispute, whoever records a follow-up.

Whose personal data: the caller's. A named caller is a data subject of their own
(``Person("contact", ref)``); an anonymous caller's sealed fields are keyed to the contact
itself. Every event of the stream seals under the subject its ``ContactLogged`` named
(``DataSubjectOf.contact_logged`` / ``contact_subject``), so erasing a named caller erases
every contact they made, reviews and follow-ups included. Texts marked personal may speak of
the caller or of anyone else on the contact (a third party, an interpreter). A review's
``rationale``, a dispute's resolution ``rationale`` and a meeting action's ``owner`` are
sealed too: a reason for a score is a reason about a particular call (what the caller said, what
was missed), and an action's owner is usually one of the meeting's attendees.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.case.events import Agency
from domain.case.vocabulary import Category, Consent
from domain.contact.vocabulary import (
    AttemptOutcome,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    DisputeOutcome,
    FollowUpKind,
    ParticipantRole,
    ReviewResult,
)
from domain.personal import DataSubjectOf
from domain.shared import PERSONAL, Role
from domain.sla_clocks import BreachCause, SlaClock

Personal = Annotated[str, PERSONAL]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Caller(_Part):
    """Who got in touch: anonymous (no ref, no name), or named by their ref in the helpline's
    own system (pseudonymous, like a case subject's ref) and perhaps a display name."""

    anonymous: bool
    ref: str | None = None
    display_name: Annotated[str | None, PERSONAL] = None


class Participant(_Part):
    """Someone else on the contact: a third party, an interpreter, an advocate."""

    role: ParticipantRole
    name: Annotated[str | None, PERSONAL] = None
    agency: str | None = None


class MeetingAttendee(_Part):
    name: Personal
    agency: str | None = None


class MeetingAction(_Part):
    owner: Personal = Field(description="Who carries the action out (a person or an agency).")
    action: Personal
    due: date


class Meeting(_Part):
    """A multi-agency meeting's record: who attended, what was decided, who does what by when."""

    attendees: list[MeetingAttendee]
    decisions: Annotated[list[str], PERSONAL]
    actions: list[MeetingAction] = []


class ContactEvent(BaseModel):
    """Envelope shared by every contact event."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID = Field(description="The contact's id.")
    originator_version: int = Field(ge=1)
    event_id: UUID
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: str
    actor_role: Role

    # What is written about a contact is its caller's.
    __data_subject__ = DataSubjectOf.contact_subject

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at


class ContactLogged(ContactEvent):
    """A contact with the helpline, as its handler (the actor) logged it."""

    channel: ContactChannel
    direction: ContactDirection
    service: str = Field(description="The service's name.")
    duration_seconds: int | None = None
    caller: Caller
    participants: list[Participant] = []
    category: Category
    summary: Personal
    outcome: ContactOutcome
    handled_by: str = Field(description="The handler: the user who logged it.")

    # The logging names the caller: the contact's subject from now on.
    __data_subject__ = DataSubjectOf.contact_logged


class ContactLinkedToCase(ContactEvent):
    """The contact raised a concern that opened a case (``opened_case``) or joined one. The
    case names the contact too, in the same append (``CaseOpened.contact_id`` or
    ``ContactJoined``)."""

    case_id: UUID
    opened_case: bool


class ContactReviewed(ContactEvent):
    """A quality review of the contact against the scorecard version in force at the contact.
    ``score`` (0-100), ``result``, ``critical_failures`` and ``safeguarding_fail`` are computed
    by the domain from ``scores``; ``calibration``: the contact had been reviewed before."""

    review_id: UUID = Field(description="The id of the event itself.")
    reviewer: str
    scorecard_version: int
    scores: dict[str, int]
    score: float
    result: ReviewResult
    critical_failures: list[str] = []
    safeguarding_fail: bool = False
    calibration: bool = False
    feedback: Personal
    rationale: Personal


class FeedbackAcknowledged(ContactEvent):
    """The handler read the review's feedback and took it on."""

    review_id: UUID
    note: Personal | None = None


class FeedbackDisputed(ContactEvent):
    """The handler disputes the review's feedback, saying why (instead of acknowledging it)."""

    review_id: UUID
    reason: Personal


class FeedbackDisputeResolved(ContactEvent):
    """A safeguarding lead resolved a disputed review: it stands (upheld) or is revised."""

    review_id: UUID
    outcome: DisputeOutcome
    rationale: Personal


class FollowUpScheduled(ContactEvent):
    """Work the contact needs after it: a call-back, an advocacy letter, a multi-agency
    meeting, a referral (with the case referral's consent and lawful-basis rules), signposting.
    """

    follow_up_id: UUID = Field(description="The id of the event itself.")
    kind: FollowUpKind
    due_at: AwareDatetime
    assignee: str
    detail: Personal
    # A referral's: the agency, the caller's consent, and without it why and on what basis.
    agency: Agency | None = None
    consent: Consent | None = None
    consent_rationale: Personal | None = None
    lawful_basis: str | None = None


class FollowUpAttempted(ContactEvent):
    """One attempt at a follow-up (a call-back's call) and how it went."""

    follow_up_id: UUID
    outcome: AttemptOutcome
    note: Personal | None = None


class FollowUpCompleted(ContactEvent):
    """The follow-up is done (once): its outcome, and for a letter its text, for a meeting its
    record."""

    follow_up_id: UUID
    outcome: Personal
    note: Personal | None = None
    letter_text: Personal | None = None
    meeting: Meeting | None = None


class ContactSlaBreachExplained(ContactEvent):
    """A safeguarding lead's explanation of a breached SLA clock on the contact (its review, or
    one of its follow-ups: ``domain.sla_clocks``): the cause, what happened and what will be
    done. Whether the clock breached is judged by the reports."""

    clock: SlaClock
    item_id: UUID
    cause: BreachCause
    explanation: Personal
    action: Personal


EVENT_TYPES: dict[str, type[ContactEvent]] = {
    cls.__name__: cls
    for cls in (
        ContactLogged,
        ContactLinkedToCase,
        ContactReviewed,
        FeedbackAcknowledged,
        FeedbackDisputed,
        FeedbackDisputeResolved,
        FollowUpScheduled,
        FollowUpAttempted,
        FollowUpCompleted,
        ContactSlaBreachExplained,
    )
}
