"""Who may see how much of a case: the access rule, pure, in one place.

Restricted cases are those whose category is one of the service's restricted categories
(``VIGIL_RESTRICTED_CATEGORIES``, default self-harm risk and harm to others). A case's category
is fixed when it is opened (no event changes it), so a case is restricted for all its life.
``case_access`` decides, from the actor, the case's facts and any break-glass grant:

* an unrestricted case: everyone who may read cases sees all of it;
* safeguarding leads, auditors and the case's current assignee: all of it (``full``);
* a user holding an active break-glass grant on it: all of it (``break_glass``);
* a user who has recorded an event on it ("involved"): only the events they recorded
  (``own_records``), and they may keep adding the frontline kinds (``FRONTLINE_COMMANDS``);
* anyone else: ``none``, answered exactly like a case that does not exist (404).

The service that applies it, records every read and grants break-glass is
``application.access.AccessService``; views filter their lists with ``Visibility``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.access.permissions import Permission, permits
from domain.access.vocabulary import AccessLevel
from domain.case.commands import (
    AddNote,
    CaseCommand,
    EscalateCase,
    LinkContact,
    MakeReferral,
    RaiseFlag,
    RecordOutOfHoursDecision,
    TakeModerationAction,
)
from domain.case.events import CaseEvent
from domain.case.state import CaseState
from domain.shared import Actor, Role

# Roles that see every restricted case in full.
FULL_READERS: frozenset[Role] = frozenset({Role.SAFEGUARDING_LEAD, Role.AUDITOR})

# What an involved user (or a break-glass holder) may keep adding to a restricted case: the work
# that must not stop at the wall. The role's own permissions still apply on top. A referral is
# among them: whoever may act on a restricted case out of hours (record the decision, escalate)
# must be able to call in a crisis line or the police from it there and then, not wait for a
# lead; a referral without consent is reviewed by a lead afterwards, like the decision itself.
FRONTLINE_COMMANDS: tuple[type[CaseCommand], ...] = (
    RaiseFlag,
    AddNote,
    TakeModerationAction,
    RecordOutOfHoursDecision,
    EscalateCase,
    LinkContact,
    MakeReferral,
)


@dataclass(frozen=True)
class Grant:
    """A break-glass grant: who, which case, from when until when (from the event's times)."""

    grant_id: UUID
    case_id: UUID
    username: str
    granted_at: datetime
    expires_at: datetime

    def is_active(self, at: datetime) -> bool:
        return self.granted_at <= at < self.expires_at


def is_restricted(category: str, restricted: Collection[str]) -> bool:
    return category in restricted


def reads_every_case(actor: Actor) -> bool:
    """Safeguarding leads and auditors (by any role the user holds) see restricted cases."""
    return bool(FULL_READERS & ({actor.role} | set(actor.roles)))


def case_access(
    actor: Actor,
    *,
    category: str,
    assignee: str | None,
    participants: Collection[str],
    restricted: Collection[str],
    grant: Grant | None,
    at: datetime,
) -> AccessLevel:
    """How much of one case ``actor`` may see at ``at``: the whole rule, in one place."""
    if not permits(actor, Permission.READ):
        return AccessLevel.NONE
    if not is_restricted(category, restricted):
        return AccessLevel.FULL
    if reads_every_case(actor) or (assignee is not None and assignee == actor.username):
        return AccessLevel.FULL
    if grant is not None and grant.is_active(at):
        return AccessLevel.BREAK_GLASS
    if actor.username in participants:
        return AccessLevel.OWN_RECORDS
    return AccessLevel.NONE


def contact_access(
    actor: Actor,
    *,
    handled_by: str,
    assignees: Collection[str],
    case_level: AccessLevel | None,
) -> AccessLevel:
    """How much of one helpline contact ``actor`` may see: the rule for contacts, in one place.

    * Its handler, and whoever a follow-up of it is assigned to, see it: their own record
      (``contact.read``).
    * Otherwise only those who read every contact (``contact.read_all``: coordinators, leads,
      auditors); and a contact linked to a restricted case (``case_level``: the actor's access
      to that case; None when the contact has no case or the case is not restricted) only with
      full access to the case (its assignee, a lead, an auditor, a break-glass holder): a
      contact linked to a restricted case is restricted with it.
    * Anyone else: ``none``, answered like a contact that does not exist (404).
    """
    own = actor.username == handled_by or actor.username in assignees
    reads_all = permits(actor, Permission.CONTACT_READ_ALL)
    if own and permits(actor, Permission.CONTACT_READ):
        return AccessLevel.FULL
    if not reads_all:
        return AccessLevel.NONE
    if case_level is None or case_level in (AccessLevel.FULL, AccessLevel.BREAK_GLASS):
        return case_level or AccessLevel.FULL
    return AccessLevel.NONE


def own_events(events: Sequence[CaseEvent], username: str) -> list[CaseEvent]:
    """The events ``username`` recorded: all an involved user may read of a restricted case."""
    return [e for e in events if e.actor == username]


@dataclass(frozen=True)
class CaseGate:
    """The outcome of an access check: the case now, how much the actor may see, any grant."""

    state: CaseState
    level: AccessLevel
    grant: Grant | None

    @property
    def full(self) -> bool:
        return self.level in (AccessLevel.FULL, AccessLevel.BREAK_GLASS)


@dataclass(frozen=True)
class Visibility:
    """Which restricted cases a list may show one actor: the ones assigned to them and the ones
    they hold an active break-glass grant on. Lists hide every other restricted case."""

    restricted: tuple[str, ...]
    username: str
    granted_case_ids: tuple[UUID, ...]
