"""The helpline contact context's vocabulary, as enums whose values are those the API takes
and answers and the stored events hold (so a value, once used, never changes)."""

from __future__ import annotations

from enum import StrEnum


class ContactChannel(StrEnum):
    CALL = "call"
    CHAT = "chat"
    SMS = "sms"
    EMAIL = "email"
    WEB_FORM = "web_form"
    BSL_VIDEO = "bsl_video"  # British Sign Language video relay
    LETTER = "letter"
    IN_PERSON = "in_person"


class ContactDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class ContactOutcome(StrEnum):
    INFORMATION_GIVEN = "information_given"
    SIGNPOSTED = "signposted"
    REFERRAL_MADE = "referral_made"
    SAFEGUARDING_CONCERN = "safeguarding_concern"
    CALL_BACK_ARRANGED = "call_back_arranged"
    ABANDONED = "abandoned"
    SILENT = "silent"
    ABUSIVE = "abusive"
    OTHER = "other"


class ParticipantRole(StrEnum):
    """Someone on the contact besides the caller and the handler."""

    THIRD_PARTY = "third_party"
    INTERPRETER = "interpreter"  # e.g. the BSL relay's
    ADVOCATE = "advocate"
    OTHER = "other"


class ReviewResult(StrEnum):
    PASS = "pass"  # noqa: S105 - a review's result, not a password
    FAIL = "fail"


class FeedbackStatus(StrEnum):
    """Where a review's feedback stands with the handler."""

    AWAITING = "awaiting"  # given, neither acknowledged nor disputed yet
    ACKNOWLEDGED = "acknowledged"
    DISPUTED = "disputed"  # awaiting a lead's resolution
    UPHELD = "upheld"  # the dispute resolved: the review stands
    REVISED = "revised"  # the dispute resolved: the review is revised


class DisputeOutcome(StrEnum):
    UPHELD = "upheld"
    REVISED = "revised"


class FollowUpKind(StrEnum):
    CALL_BACK = "call_back"
    ADVOCACY_LETTER = "advocacy_letter"
    MULTI_AGENCY_MEETING = "multi_agency_meeting"
    REFERRAL = "referral"
    SIGNPOSTING = "signposting"


class AttemptOutcome(StrEnum):
    NO_ANSWER = "no_answer"
    LEFT_MESSAGE = "left_message"
    REACHED = "reached"
    WRONG_NUMBER = "wrong_number"
    DECLINED = "declined"


# An anonymous contact is its own data subject, kind ``contact``, ref ``anonymous:<contact id>``
# (its legal hold, erasure and subject access name it so): no named caller's ref begins so.
ANONYMOUS_CONTACT_REF_PREFIX = "anonymous:"
