"""The one permission matrix: which roles may take which action on a case.

Every interface (HTTP routes, CLI) asks this module and nothing else, so a change of
policy is one edit here. The domain keeps its own last line of defence for rules that
are part of the record itself (only a safeguarding lead may review an out-of-hours
decision), which this matrix agrees with.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from domain.errors import NotPermitted
from domain.shared import Actor, Role


class Permission(StrEnum):
    OPEN = "case.open"
    FLAG = "case.flag"
    ASSESS_RISK = "case.assess_risk"
    ASSIGN = "case.assign"
    MODERATE = "case.moderate"
    OOH_DECIDE = "case.ooh_decide"
    OOH_REVIEW = "case.ooh_review"
    APPROVE = "case.approve"  # four-eyes: approve or reject a decision held for a second lead
    REVIEW_REFERRAL = "case.review_referral"  # review a referral made without consent
    REFER = "case.refer"
    UPDATE_REFERRAL = "case.update_referral"
    ESCALATE = "case.escalate"
    ACKNOWLEDGE_ESCALATION = "case.acknowledge_escalation"
    RESOLVE_ESCALATION = "case.resolve_escalation"
    NOTE = "case.note"
    CORRECT = "case.correct"
    CLOSE = "case.close"
    REOPEN = "case.reopen"
    READ = "case.read"
    # Restricted cases (domain/access/rules.py): the access log and break-glass.
    ACCESS_LOG_READ = "access.log_read"
    BREAK_GLASS = "access.break_glass"
    BREAK_GLASS_REVIEW = "access.break_glass_review"
    USERS_READ = "users.read"
    USERS_MANAGE = "users.manage"
    # The second person on a role grant that needs one (domain/identity/user.py).
    USERS_APPROVE_GRANT = "users.approve_grant"
    # Issue oneself a token (tokens after the first go to their user only).
    OWN_TOKENS = "users.own_tokens"
    # Integrity (application/integrity.py): the hash ledger's key and checkpoints, case exports.
    AUDIT_READ = "audit.read"
    CASE_EXPORT = "case.export"
    # Data protection (application/data_protection.py): erasure, legal holds, subject access.
    ERASE = "subject.erase"
    LEGAL_HOLD = "subject.legal_hold"
    SUBJECT_ACCESS = "subject.access_export"
    # Shifts and on-call (issue 13; domain/shift/): planning the rota (plan, a weekly pattern,
    # reassign, cancel); attending a shift of one's own (check in and out, hand over,
    # acknowledge a handover); recording someone else's forgotten check-out; reading the rota
    # (who is on when, on call); reading shift logs (everything a shift's people did).
    SHIFT_PLAN = "shift.plan"
    SHIFT_ATTEND = "shift.attend"
    SHIFT_CHECK_OUT_OTHERS = "shift.check_out_others"
    ROTA_READ = "shift.rota_read"
    SHIFT_LOG_READ = "shift.log_read"
    # Services and their calendars (issue 13, services): who may read the services and their
    # calendar versions (everyone who reads cases, whose due times they judge, and admins), and
    # who may register a service or give its calendar a new version. Managing is for admins
    # (they configure the system) and safeguarding leads (they answer for out-of-hours cover
    # and reviews, which the hours decide); not coordinators, who plan the rota within them. A
    # version only ever takes effect from now on, so neither can rewrite a past judgement.
    SERVICES_READ = "services.read"
    SERVICES_MANAGE = "services.manage"
    # The quality scorecard (issue 14; domain/quality/): reading it is for everyone a review
    # concerns: those judged by it (volunteers and moderators handle contacts: they may see what
    # they are judged by), the coordinators and leads who review with it, auditors, and admins.
    # Giving it a new version is for safeguarding leads only: it decides what counts as a
    # safeguarding failure, which is a lead's call; not coordinators, who review by it (the
    # reviewer does not also set the bar), nor admins, who configure the system but do not
    # judge practice. A version only ever takes effect from now on, so no past review changes.
    SCORECARDS_READ = "scorecards.read"
    SCORECARDS_VERSION = "scorecards.version"
    # Helpline contacts (issue 14; domain/contact/): whoever takes contacts logs them, links
    # them to a case, reads their own (contact.read) and answers their own feedback
    # (acknowledge or dispute: the domain keeps that to the handler); coordinators and leads
    # read every contact (contact.read_all), review them and manage follow-ups (an assignee
    # records their own follow-up's attempts and completion: the domain checks); leads resolve
    # disputed reviews; auditors read.
    CONTACT_LOG = "contact.log"
    CONTACT_READ = "contact.read"  # read a contact: one's own (handled, or a follow-up's)
    CONTACT_READ_ALL = "contact.read_all"  # ...and every other one
    CONTACT_LINK_CASE = "contact.link_case"
    CONTACT_ANSWER_FEEDBACK = "contact.answer_feedback"
    CONTACT_REVIEW = "contact.review"
    CONTACT_FOLLOW_UP = "contact.follow_up"
    CONTACT_RESOLVE_DISPUTE = "contact.resolve_dispute"
    # A review that failed a safeguarding criterion is a safeguarding matter: a safeguarding
    # lead looks at it and records what was done (domain/contact/lead_review.py).
    CONTACT_LEAD_REVIEW = "contact.lead_review"
    # The SLA policy (issue 15; domain/policy/): every member of staff may read the targets
    # their work is due by; safeguarding leads (they answer for the service's response times)
    # and admins (they configure the system, as they manage services) give it a new version,
    # which only ever takes effect from now on, so no due time already set moves.
    POLICY_READ = "policy.read"
    POLICY_MANAGE = "policy.manage"
    # Compliance (issue 15): reading the reports (numbers, never people: they read no personal
    # field) is for those who answer for the service (trustees, leads, coordinators), auditors
    # and admins; signing the serious-incident register off for a period is the trustees' own
    # act. A safeguarding lead explains a breached SLA clock (the cause and what will be done)
    # and decides and reports serious incidents (case.serious_incident).
    REPORT_READ = "report.read"  # every report
    # The trustee pack alone (its small counts suppressed) and the register's sign-offs: what a
    # trustee reads. The other reports list cases and staff by clock, unsuppressed.
    TRUSTEE_PACK_READ = "report.read_trustee_pack"
    REGISTER_SIGN_OFF = "register.sign_off"
    SLA_EXPLAIN_BREACH = "sla.explain_breach"
    SERIOUS_INCIDENT = "case.serious_incident"
    # Community intake (issue 16; domain/community/): the members who joined through a forum's
    # intake and the members_awaiting_welcome queue are read by everyone who works the queues
    # (hosts and volunteers welcome new members, as moderators, coordinators and leads do),
    # auditors and admins (they configure the intake); a welcome made outside the forum is
    # recorded by whoever made it: staff who welcome, not auditors (they read, never write).
    MEMBERS_READ = "members.read"
    MEMBERS_WELCOME = "members.welcome"


# Each role builds on the one below it: whoever is on shift can record what they saw and raise
# the alarm; judgement calls about members need a moderator; decisions that commit the service
# (referrals, out-of-hours calls, closing) need a coordinator; checking those decisions needs a
# safeguarding lead. Auditors read, never write. Admins manage users, not cases.
_VOLUNTEER = frozenset(
    {
        Permission.OWN_TOKENS,
        Permission.OPEN,
        Permission.FLAG,
        Permission.NOTE,
        Permission.ESCALATE,
        Permission.CORRECT,
        Permission.READ,
        Permission.BREAK_GLASS,
        # Shifts: whoever can be on a shift attends their own and reads the rota.
        Permission.SHIFT_ATTEND,
        Permission.ROTA_READ,
        Permission.SERVICES_READ,
        Permission.SCORECARDS_READ,
        Permission.POLICY_READ,
        # Helpline contacts: log, link to a case, read one's own, answer one's own feedback.
        Permission.CONTACT_LOG,
        Permission.CONTACT_READ,
        Permission.CONTACT_LINK_CASE,
        Permission.CONTACT_ANSWER_FEEDBACK,
        # Community intake: hosts and volunteers welcome new members.
        Permission.MEMBERS_READ,
        Permission.MEMBERS_WELCOME,
    }
)
_MODERATOR = _VOLUNTEER | {Permission.MODERATE, Permission.ASSESS_RISK}
_COORDINATOR = _MODERATOR | {
    Permission.ASSIGN,
    Permission.OOH_DECIDE,
    Permission.REFER,
    Permission.UPDATE_REFERRAL,
    Permission.ACKNOWLEDGE_ESCALATION,
    Permission.RESOLVE_ESCALATION,
    Permission.CLOSE,
    Permission.REOPEN,
    # Shifts: coordinators manage the rota and check-in times (their own, moderators', hosts').
    Permission.SHIFT_PLAN,
    Permission.SHIFT_CHECK_OUT_OTHERS,
    Permission.SHIFT_LOG_READ,
    # Helpline contacts: the coordinator reviews every contact and manages the follow-ups.
    Permission.CONTACT_READ_ALL,
    Permission.CONTACT_REVIEW,
    Permission.CONTACT_FOLLOW_UP,
    Permission.REPORT_READ,
    Permission.TRUSTEE_PACK_READ,
}
# Leads see every restricted case already: they review break-glass use instead of making it.
_SAFEGUARDING_LEAD = (_COORDINATOR - {Permission.BREAK_GLASS}) | {
    Permission.ACCESS_LOG_READ,
    Permission.BREAK_GLASS_REVIEW,
    Permission.OOH_REVIEW,
    Permission.APPROVE,
    Permission.REVIEW_REFERRAL,
    Permission.AUDIT_READ,
    Permission.CASE_EXPORT,
    Permission.ERASE,
    Permission.LEGAL_HOLD,
    Permission.SUBJECT_ACCESS,
    Permission.USERS_APPROVE_GRANT,
    Permission.SERVICES_MANAGE,
    Permission.SCORECARDS_VERSION,
    Permission.CONTACT_RESOLVE_DISPUTE,
    Permission.CONTACT_LEAD_REVIEW,
    Permission.POLICY_MANAGE,
    Permission.SLA_EXPLAIN_BREACH,
    Permission.SERIOUS_INCIDENT,
}

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.VOLUNTEER: _VOLUNTEER,
    Role.MODERATOR: _MODERATOR,
    Role.COORDINATOR: _COORDINATOR,
    Role.SAFEGUARDING_LEAD: _SAFEGUARDING_LEAD,
    Role.AUDITOR: frozenset(
        {
            Permission.READ,
            Permission.ACCESS_LOG_READ,
            Permission.AUDIT_READ,
            Permission.CASE_EXPORT,
            Permission.OWN_TOKENS,
            Permission.ROTA_READ,
            Permission.SHIFT_LOG_READ,
            Permission.SERVICES_READ,
            Permission.SCORECARDS_READ,
            Permission.CONTACT_READ,
            Permission.CONTACT_READ_ALL,
            Permission.REPORT_READ,
            Permission.TRUSTEE_PACK_READ,
            Permission.POLICY_READ,
            Permission.MEMBERS_READ,
        }
    ),
    Role.ADMIN: frozenset(
        {
            Permission.USERS_READ,
            Permission.USERS_MANAGE,
            Permission.USERS_APPROVE_GRANT,
            Permission.OWN_TOKENS,
            Permission.SERVICES_READ,
            Permission.SERVICES_MANAGE,
            Permission.SCORECARDS_READ,
            Permission.REPORT_READ,
            Permission.TRUSTEE_PACK_READ,
            Permission.POLICY_READ,
            Permission.POLICY_MANAGE,
            # Admins read the members list; recording a welcome is the welcoming roles' (whose
            # forum accounts welcome: application.community.WELCOMING_ROLES).
            Permission.MEMBERS_READ,
        }
    ),
    # Trustees see numbers, not people: the reports and the register's sign-off, and nothing
    # else (no case, contact, shift or queue read of any kind; their own token only). Granting
    # the role needs no second person: it reads no case content (reads_case_content).
    Role.TRUSTEE: frozenset(
        {Permission.TRUSTEE_PACK_READ, Permission.REGISTER_SIGN_OFF, Permission.OWN_TOKENS}
    ),
}

# The same matrix read the other way, for documentation (OpenAPI) and checks.
ALLOWED_ROLES: Mapping[Permission, tuple[Role, ...]] = {
    permission: tuple(role for role in Role if permission in ROLE_PERMISSIONS[role])
    for permission in Permission
}


def is_allowed(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def reads_case_content(role: Role) -> bool:
    """Whether a role reads case content: granting it gives case access, so a second person
    must approve it (domain/identity/user.py)."""
    return is_allowed(role, Permission.READ)


def roles_allowed(permissions: frozenset[Permission]) -> tuple[Role, ...]:
    """The roles that hold every one of these permissions: who may call a route needing them."""
    return tuple(role for role in Role if all(is_allowed(role, p) for p in permissions))


def permits(actor: Actor, permission: Permission) -> bool:
    """Whether any of the actor's roles may do this (a user may hold several roles)."""
    return any(is_allowed(role, permission) for role in actor.roles | {actor.role})


def check(actor: Actor, permission: Permission) -> None:
    """Refuse with NotPermitted unless one of the actor's roles may do this."""
    if not permits(actor, permission):
        allowed = ", ".join(role.value for role in ALLOWED_ROLES[permission]) or "no role"
        held = sorted(role.value for role in actor.roles | {actor.role})
        who = f"the role '{held[0]}'" if len(held) == 1 else f"the roles '{', '.join(held)}'"
        raise NotPermitted(f"{who} may not do '{permission.value}' (allowed: {allowed})")


def permission_table_markdown() -> str:
    """The matrix as a Markdown table (permissions x roles), for docs/access.md."""
    roles = list(Role)
    lines = [
        "| Permission | " + " | ".join(f"`{role.value}`" for role in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for permission in Permission:
        marks = " | ".join("yes" if is_allowed(role, permission) else "" for role in roles)
        lines.append(f"| `{permission.value}` | {marks} |")
    return "\n".join(lines) + "\n"
