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


# Each role builds on the one below it: whoever is on shift can record what they saw and raise
# the alarm; judgement calls about members need a moderator; decisions that commit the service
# (referrals, out-of-hours calls, closing) need a coordinator; checking those decisions needs a
# safeguarding lead. Auditors read, never write. Admins manage users, not cases.
_VOLUNTEER = frozenset(
    {
        Permission.OPEN,
        Permission.FLAG,
        Permission.NOTE,
        Permission.ESCALATE,
        Permission.CORRECT,
        Permission.READ,
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
}
_SAFEGUARDING_LEAD = _COORDINATOR | {Permission.OOH_REVIEW}

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.VOLUNTEER: _VOLUNTEER,
    Role.MODERATOR: _MODERATOR,
    Role.COORDINATOR: _COORDINATOR,
    Role.SAFEGUARDING_LEAD: _SAFEGUARDING_LEAD,
    Role.AUDITOR: frozenset({Permission.READ}),
    Role.ADMIN: frozenset(),
}

# The same matrix read the other way, for documentation (OpenAPI) and checks.
ALLOWED_ROLES: Mapping[Permission, tuple[Role, ...]] = {
    permission: tuple(role for role in Role if permission in ROLE_PERMISSIONS[role])
    for permission in Permission
}


def is_allowed(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def check(actor: Actor, permission: Permission) -> None:
    """Refuse with NotPermitted unless the actor's role may do this."""
    if not is_allowed(actor.role, permission):
        allowed = ", ".join(role.value for role in ALLOWED_ROLES[permission]) or "no role"
        raise NotPermitted(
            f"the role '{actor.role.value}' may not do '{permission.value}' (allowed: {allowed})"
        )
