"""The case ledger's vocabulary, as enums whose values are those the API takes and answers and
the stored events hold (so a value, once used, never changes)."""

from __future__ import annotations

from enum import StrEnum


class SubjectKind(StrEnum):
    MEMBER = "member"
    CONTENT = "content"
    CONTACT = "contact"


class CaseSource(StrEnum):
    FLAG = "flag"
    HELPLINE_CONTACT = "helpline_contact"
    STAFF_CONCERN = "staff_concern"
    AUTOMATED = "automated"


class Category(StrEnum):
    SELF_HARM_RISK = "self_harm_risk"
    HARM_TO_OTHERS = "harm_to_others"
    HATE_INCIDENT = "hate_incident"
    HARASSMENT = "harassment"
    MEDICAL_MISINFORMATION = "medical_misinformation"
    SPAM = "spam"
    OFFENSIVE_CONTENT = "offensive_content"
    ACCOUNT_ISSUE = "account_issue"
    COMPLAINT = "complaint"
    OTHER = "other"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class CaseStatus(StrEnum):
    OPEN = "open"
    ESCALATED = "escalated"
    CLOSED = "closed"


class ModerationAction(StrEnum):
    HIDE_CONTENT = "hide_content"
    REMOVE_CONTENT = "remove_content"
    RESTORE_CONTENT = "restore_content"
    WARN_MEMBER = "warn_member"
    MUTE_MEMBER = "mute_member"
    SUSPEND_MEMBER = "suspend_member"
    BAN_MEMBER = "ban_member"
    REINSTATE_MEMBER = "reinstate_member"
    LOCK_THREAD = "lock_thread"


# Sanctions on a member stay in force until they expire or are lifted; the value lifts them.
MEMBER_SANCTIONS: dict[ModerationAction, ModerationAction] = {
    ModerationAction.MUTE_MEMBER: ModerationAction.REINSTATE_MEMBER,
    ModerationAction.SUSPEND_MEMBER: ModerationAction.REINSTATE_MEMBER,
    ModerationAction.BAN_MEMBER: ModerationAction.REINSTATE_MEMBER,
}
TIMED_ACTIONS = {ModerationAction.MUTE_MEMBER, ModerationAction.SUSPEND_MEMBER}


class ReviewOutcome(StrEnum):
    RATIFIED = "ratified"
    VARIED = "varied"
    OVERTURNED = "overturned"


class AgencyKind(StrEnum):
    POLICE = "police"
    CHILDRENS_SOCIAL_CARE = "childrens_social_care"
    ADULT_SOCIAL_CARE = "adult_social_care"
    LADO = "lado"
    MASH = "mash"
    HEALTH = "health"
    CRISIS_LINE = "crisis_line"
    CHARITY = "charity"
    OTHER = "other"


# Agencies that take a referral and never acknowledge it (a crisis line answers the person, not
# us): their referrals do not wait for an acknowledgement that will never come.
AGENCIES_THAT_NEVER_ACKNOWLEDGE: frozenset[AgencyKind] = frozenset({AgencyKind.CRISIS_LINE})


class Consent(StrEnum):
    GIVEN = "given"
    REFUSED = "refused"
    NOT_SOUGHT = "not_sought"


class ReferralStatus(StrEnum):
    AWAITING_ACKNOWLEDGEMENT = "awaiting_acknowledgement"
    ACKNOWLEDGED = "acknowledged"
    OUTCOME_RECEIVED = "outcome_received"
    FOLLOWED_UP = "followed_up"
    CLOSED = "closed"


class ReferralUpdateStatus(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    OUTCOME_RECEIVED = "outcome_received"
    FOLLOWED_UP = "followed_up"
    CLOSED = "closed"


class EscalationLevel(StrEnum):
    """1 coordinator -> 2 safeguarding lead -> 3 senior/designated lead, or external."""

    COORDINATOR = "coordinator"
    SAFEGUARDING_LEAD = "safeguarding_lead"
    DESIGNATED_LEAD = "designated_lead"
    EXTERNAL = "external"


ESCALATION_LEVEL_NUMBERS = {
    "1": EscalationLevel.COORDINATOR,
    "2": EscalationLevel.SAFEGUARDING_LEAD,
    "3": EscalationLevel.DESIGNATED_LEAD,
}


class Urgency(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    IMMEDIATE = "immediate"


class EscalationStatus(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class DecisionStatus(StrEnum):
    AWAITING_REVIEW = "awaiting_review"
    RATIFIED = "ratified"
    VARIED = "varied"
    OVERTURNED = "overturned"


class ApprovalKind(StrEnum):
    """What a four-eyes approval, once granted, puts into effect."""

    MODERATION_ACTION = "moderation_action"
    CLOSURE = "closure"
    RISK_ASSESSMENT = "risk_assessment"  # lowering a critical risk


class ApprovalDecision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class NoteKind(StrEnum):
    FACT = "fact"
    ASSESSMENT = "assessment"
    NOTE = "note"


class Regulator(StrEnum):
    """Whom a serious incident is reported to (the Charity Commission for charities in England
    and Wales, OSCR in Scotland, CCNI in Northern Ireland, or another regulator or the police)."""

    CHARITY_COMMISSION = "charity_commission"
    OSCR = "oscr"
    CCNI = "ccni"
    OFSTED = "ofsted"
    CQC = "cqc"
    ICO = "ico"
    POLICE = "police"
    OTHER = "other"


class SeriousIncidentGround(StrEnum):
    """Why an incident is (or is not) a serious incident: the Charity Commission's categories
    of a reportable serious incident, and ``below_threshold`` for a decision not to report."""

    HARM_TO_BENEFICIARY = "harm_to_beneficiary"
    HARM_TO_STAFF_OR_VOLUNTEER = "harm_to_staff_or_volunteer"
    ABUSE_OR_MISTREATMENT_ALLEGATION = "abuse_or_mistreatment_allegation"
    POLICE_INVOLVEMENT = "police_involvement"
    DATA_BREACH = "data_breach"
    FRAUD_OR_FINANCIAL_CRIME = "fraud_or_financial_crime"
    SIGNIFICANT_OPERATIONAL_DISRUPTION = "significant_operational_disruption"
    OTHER_SIGNIFICANT = "other_significant"
    BELOW_THRESHOLD = "below_threshold"
