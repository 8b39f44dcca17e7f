"""Commands to the Contact aggregate: field rules are checked when a command is built (422);
rules that depend on the contact, the clock, the person or the scorecard in ``decide``.

Ids named in a path (a review's, a follow-up's) are fields of the command; ids of things the
command creates (the contact, a review, a follow-up) are not: they come from the context."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.case.commands import AgencyInput, LawfulBasis, OpenCase
from domain.case.vocabulary import CaseSource, Category, Consent
from domain.contact.vocabulary import (
    ANONYMOUS_CONTACT_REF_PREFIX,
    AttemptOutcome,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    DisputeOutcome,
    FollowUpKind,
    ParticipantRole,
)
from domain.referral import check_referral_consent
from domain.service.commands import DEFAULT_SERVICE, ServiceName
from domain.shared import (
    Line,
    Moment,
    PersonalText,
    Rationale,
    Ref,
    ShortPersonalText,
    Username,
)
from domain.sla_clocks import BreachCause, SlaClock

MAX_PARTICIPANTS = 20
MAX_CRITERIA = 100
MAX_MEETING_ITEMS = 100
# A contact lasts at most a day (a long BSL relay or an in-person visit included).
MAX_DURATION_SECONDS = 24 * 60 * 60

Name = Annotated[Line, StringConstraints(min_length=1, max_length=200)]
AgencyName = Annotated[Line, StringConstraints(min_length=1, max_length=200)]
CriterionKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class ContactCommand(_Input):
    occurred_at: Moment | None = Field(
        default=None,
        description="When it happened (RFC 3339 with offset); default now; never in the "
        "future, never before the contact; from 1900 on.",
    )


class CallerInput(_Input):
    """``{"anonymous": true}``, or ``{"anonymous": false, "ref": ..., "display_name"?: ...}``."""

    anonymous: bool
    ref: Ref | None = Field(
        default=None, description="The caller's reference in the helpline's own system."
    )
    display_name: Name | None = Field(default=None, description="Personal: sealed.")

    @model_validator(mode="after")
    def _anonymous_or_named(self) -> Self:
        if self.anonymous and (self.ref is not None or self.display_name is not None):
            raise ValueError("an anonymous caller has no ref and no display_name")
        if not self.anonymous and self.ref is None:
            raise ValueError("a named caller needs a ref (or make the caller anonymous)")
        if self.ref is not None and self.ref.startswith(ANONYMOUS_CONTACT_REF_PREFIX):
            raise ValueError(
                f"a named caller's ref may not begin {ANONYMOUS_CONTACT_REF_PREFIX!r}: that names "
                "an anonymous contact's own data subject"
            )
        return self


class ParticipantInput(_Input):
    role: ParticipantRole
    name: Name | None = Field(default=None, description="Personal: sealed.")
    agency: AgencyName | None = None


class LogContact(ContactCommand):
    channel: ContactChannel
    direction: ContactDirection
    service: ServiceName = Field(
        default=DEFAULT_SERVICE, description="The service it came to (GET /services)."
    )
    duration_seconds: int | None = Field(default=None, ge=0, le=MAX_DURATION_SECONDS)
    caller: CallerInput
    participants: list[ParticipantInput] = Field(default=[], max_length=MAX_PARTICIPANTS)
    category: Category
    summary: PersonalText
    outcome: ContactOutcome
    case_id: UUID | None = Field(
        default=None, description="An existing case the contact joins (it names the contact)."
    )


class CaseFromContact(OpenCase):
    """The body of ``POST /cases`` for a case a contact opens: its source is the helpline
    contact (the default; any other is refused)."""

    source: CaseSource = CaseSource.HELPLINE_CONTACT

    @model_validator(mode="after")
    def _from_a_contact(self) -> Self:
        if self.source is not CaseSource.HELPLINE_CONTACT:
            raise ValueError("a case opened from a contact has the source 'helpline_contact'")
        return self


class LinkCase(ContactCommand):
    """Join an existing case (``case_id``) or open one (``open_case``): exactly one of them."""

    case_id: UUID | None = None
    open_case: CaseFromContact | None = None

    @model_validator(mode="after")
    def _one_case(self) -> Self:
        if (self.case_id is None) == (self.open_case is None):
            raise ValueError("give either case_id (a case to join) or open_case (a case to open)")
        return self


class ReviewContact(ContactCommand):
    scores: dict[CriterionKey, int] = Field(
        max_length=MAX_CRITERIA,
        description="Every criterion of the scorecard version in force at the contact: "
        "{key: score from 0 to its max_score}.",
    )
    feedback: PersonalText = Field(description="For the handler. Personal: sealed.")
    rationale: Rationale = Field(
        description="Why the scores are what they are. Personal: sealed (it speaks of the call)."
    )


class FeedbackNote(ContactCommand):
    """The body of an acknowledgement."""

    note: PersonalText | None = Field(default=None, description="Personal: sealed.")


class AcknowledgeFeedback(FeedbackNote):
    review_id: UUID


class DisputeReason(ContactCommand):
    """The body of a dispute."""

    reason: Rationale = Field(description="Why the handler disputes it. Personal: sealed.")


class DisputeFeedback(DisputeReason):
    review_id: UUID


class DisputeResolution(ContactCommand):
    """The body of a dispute's resolution."""

    outcome: DisputeOutcome
    rationale: Rationale = Field(description="Why (sealed under the contact's subject).")


class ResolveDispute(DisputeResolution):
    review_id: UUID


class ScheduleFollowUp(ContactCommand):
    kind: FollowUpKind
    due_at: Moment
    assignee: Username | None = Field(
        default=None, description="Who does it (an active user); default: whoever schedules it."
    )
    detail: PersonalText
    # A referral's (the case referral's rules: domain.referral).
    agency: AgencyInput | None = None
    consent: Consent | None = None
    consent_rationale: Rationale | None = None
    lawful_basis: LawfulBasis | None = None

    @model_validator(mode="after")
    def _referral_fields(self) -> Self:
        referral = ("agency", "consent", "consent_rationale", "lawful_basis")
        if self.kind is not FollowUpKind.REFERRAL:
            given = [name for name in referral if getattr(self, name) is not None]
            if given:
                raise ValueError(f"only a referral takes {', '.join(given)}")
            return self
        missing = [name for name in ("agency", "consent") if getattr(self, name) is None]
        if missing:
            raise ValueError("a referral needs " + " and ".join(missing))
        assert self.consent is not None
        check_referral_consent(self.consent, self.consent_rationale, self.lawful_basis)
        return self


class Attempt(ContactCommand):
    """The body of an attempt."""

    outcome: AttemptOutcome
    note: PersonalText | None = Field(default=None, description="Personal: sealed.")


class RecordAttempt(Attempt):
    follow_up_id: UUID


class AttendeeInput(_Input):
    name: Name = Field(description="Personal: sealed.")
    agency: AgencyName | None = None


class ActionInput(_Input):
    owner: Name = Field(description="Who carries it out (a person's role, or an agency).")
    action: ShortPersonalText
    due: date


class Completion(ContactCommand):
    """Complete a follow-up, once: a letter takes ``letter_text``; a multi-agency meeting takes
    ``attendees``, ``decisions`` and ``actions``."""

    outcome: ShortPersonalText
    note: PersonalText | None = None
    letter_text: PersonalText | None = None
    attendees: list[AttendeeInput] | None = Field(default=None, max_length=MAX_MEETING_ITEMS)
    decisions: list[PersonalText] | None = Field(default=None, max_length=MAX_MEETING_ITEMS)
    actions: list[ActionInput] | None = Field(default=None, max_length=MAX_MEETING_ITEMS)


class CompleteFollowUp(Completion):
    follow_up_id: UUID


class ExplainContactSlaBreach(ContactCommand):
    """A safeguarding lead explains a breached SLA clock on the contact (``contact_reviewed``:
    the item is the contact itself; ``follow_up``: one of its follow-ups): why, and what will
    be done."""

    clock: SlaClock
    item_id: UUID
    cause: BreachCause
    explanation: PersonalText
    action: PersonalText


ContactWrite = (
    LinkCase
    | ReviewContact
    | AcknowledgeFeedback
    | DisputeFeedback
    | ResolveDispute
    | ScheduleFollowUp
    | RecordAttempt
    | CompleteFollowUp
    | ExplainContactSlaBreach
)
"""The commands to an existing contact (``LogContact`` makes one)."""

ContactCommandType = LogContact | ContactWrite
