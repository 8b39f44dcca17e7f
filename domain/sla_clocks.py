"""The SLA clocks (DOMAIN.md's SLA table) and why one was missed."""

from __future__ import annotations

from enum import StrEnum


class SlaClock(StrEnum):
    FIRST_ACTION = "first_action"
    ESCALATION_ACKNOWLEDGED = "escalation_acknowledged"
    OUT_OF_HOURS_REVIEW = "out_of_hours_review"
    REFERRAL_ACKNOWLEDGED = "referral_acknowledged"
    APPROVAL_DECIDED = "approval_decided"
    CONTACT_REVIEWED = "contact_reviewed"
    FOLLOW_UP = "follow_up"
    NEW_MEMBER_WELCOMED = "new_member_welcomed"


class BreachCause(StrEnum):
    STAFFING = "staffing"
    VOLUME = "volume"
    OUT_OF_HOURS = "out_of_hours"
    LATE_LOGGING = "late_logging"
    AGENCY_DELAY = "agency_delay"
    SYSTEM_OUTAGE = "system_outage"
    HUMAN_ERROR = "human_error"
    OTHER = "other"
