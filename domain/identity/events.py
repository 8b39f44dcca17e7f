"""Events of the User aggregate.

THESE CLASSES ARE THE STORAGE FORMAT (topic ``domain.identity.events:<Class>``):
never rename or move them; add fields only with defaults. Tokens are stored only
as SHA-256 hashes of their secret part.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.shared import Role


class IdentityEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    originator_id: UUID
    originator_version: int
    event_id: UUID
    recorded_at: AwareDatetime
    actor: str

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at


class UserRegistered(IdentityEvent):
    username: str
    role: Role
    # Set when the role reads case content and a person (not the host) enrolled the user: the
    # role is then only requested, and in force once a second person approves this grant.
    grant_id: UUID | None = None


class TokenIssued(IdentityEvent):
    token_id: UUID
    token_hash: str
    expires_at: AwareDatetime | None = None
    # Who saw the secret: the user themselves, the admin who enrolled them (first credential
    # only), or the host operator ("cli"). None on tokens issued before this was kept: the actor.
    issued_by: str | None = None
    # A token a user issued themselves: the credential they were signed in with, so a token
    # minted from one someone else issued stays traceable to that person.
    issued_with: UUID | None = None


class RoleGranted(IdentityEvent):
    role: Role
    # Set when the grant took effect on a second person's approval (the actor is the approver).
    grant_id: UUID | None = None
    requested_by: str | None = None


class RoleRevoked(IdentityEvent):
    role: Role


class RoleGrantRequested(IdentityEvent):
    """A role that reads case content, or any role for oneself, asked for by a person: it is in
    force only once a second person (another admin or a safeguarding lead) approves it."""

    grant_id: UUID
    role: Role


class RoleGrantDecided(IdentityEvent):
    """A second person approved (a RoleGranted follows in the same write) or rejected a grant."""

    grant_id: UUID
    decision: Literal["approved", "rejected"]


class TokenRevoked(IdentityEvent):
    token_id: UUID


class UserDeactivated(IdentityEvent):
    """The user may no longer sign in; every token they held stops working at once, for good."""


class UserReactivated(IdentityEvent):
    """The user may sign in again, with tokens issued from now on."""


class AdministratorRemoved(IdentityEvent):
    """An active admin stopped being one (the role revoked, or the user deactivated). Stored on
    the administrators' stream, at its next version, in the same transaction as the user's own
    event: two removals decided from the same count of admins cannot both be stored, so a race
    between two admins removing each other cannot leave nobody to manage users."""

    username: str
