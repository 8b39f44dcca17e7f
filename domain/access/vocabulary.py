"""The access context's vocabulary."""

from __future__ import annotations

from enum import StrEnum


class AccessedRecord(StrEnum):
    """What was read."""

    CASE = "case"
    TIMELINE = "timeline"
    CHANGES = "changes"
    EXPORT = "export"
    SUBJECT_HISTORY = "subject_history"
    SUBJECT_ACCESS_EXPORT = "sar"
    CONTACT = "contact"  # a helpline contact with its reviews and follow-ups


class AccessPurpose(StrEnum):
    """Why it was read (a closed list, so the access log never holds free text)."""

    CASE_WORK = "case_work"
    SUPERVISION = "supervision"
    REVIEW = "review"
    AUDIT = "audit"
    SUBJECT_ACCESS_REQUEST = "subject_access_request"
    DATA_PROTECTION = "data_protection"
    LEGAL = "legal"
    EMERGENCY = "emergency"


class AccessLevel(StrEnum):
    """How much of a case a user may see, and under which right."""

    FULL = "full"  # safeguarding leads, auditors, the assignee; every unrestricted case
    BREAK_GLASS = "break_glass"  # full, for a limited time, by a stated reason
    OWN_RECORDS = "own_records"  # an involved user: only the events they recorded
    NONE = "none"  # answered 404, like a case that does not exist


class GrantReviewOutcome(StrEnum):
    APPROPRIATE = "appropriate"
    INAPPROPRIATE = "inappropriate"
