"""Events of the User aggregate.

THESE CLASSES ARE THE STORAGE FORMAT (topic ``domain.identity.events:<Class>``):
never rename or move them; add fields only with defaults. Tokens are stored only
as SHA-256 hashes of their secret part.
"""

from __future__ import annotations

from datetime import datetime
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


class TokenIssued(IdentityEvent):
    token_id: UUID
    token_hash: str
    expires_at: AwareDatetime | None = None


class RoleGranted(IdentityEvent):
    role: Role


class RoleRevoked(IdentityEvent):
    role: Role


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
