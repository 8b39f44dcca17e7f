"""The User aggregate: decide and evolve for registration, roles, tokens and deactivation.

Rules kept here, whoever asks (CLI or admin endpoint):
- a user holds at least one role (revoking the last one is refused: deactivate instead);
- the last active admin can neither lose the role nor be deactivated, so someone can always
  manage users (the caller counts the other active admins; the domain does no I/O). Each
  removal of an admin is also recorded on one administrators' stream (``admin_removed``) at
  the version the caller read before counting, so two removals from one count cannot both land;
- a deactivated user has no live token: deactivation ends every token for good, and a
  reactivated user signs in with tokens issued afterwards;
- a token is live until it expires or is revoked; only the SHA-256 of its secret is stored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict

from domain.errors import InvalidCommand, ItemNotFound, RuleViolation
from domain.identity.events import (
    AdministratorRemoved,
    IdentityEvent,
    RoleGranted,
    RoleRevoked,
    TokenIssued,
    TokenRevoked,
    UserDeactivated,
    UserReactivated,
    UserRegistered,
)
from domain.shared import Role, primary_role

USERS_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/users")
# The administrators' stream (no username can be this name: a unit separator is not allowed).
ADMINISTRATORS_ID = uuid5(USERS_NAMESPACE, "\x1fadministrators")


class UserChange(BaseModel):
    """A change to an existing user's record (the admin writes after registration)."""

    model_config = ConfigDict(frozen=True)


class GrantRole(UserChange):
    role: Role


class RevokeRole(UserChange):
    role: Role


class RevokeToken(UserChange):
    token_id: UUID


class DeactivateUser(UserChange):
    pass


class ReactivateUser(UserChange):
    pass


def user_id_for(username: str) -> UUID:
    """Users are found by name without an index: the id is derived from the username."""
    return uuid5(USERS_NAMESPACE, username.lower())


def hash_secret(secret: str) -> str:
    # Tokens are 256-bit random secrets, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()


class IssuedToken(BaseModel):
    token_id: UUID
    token_hash: str
    issued_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def live_at(self, at: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)


class User(BaseModel):
    id: UUID
    version: int
    username: str
    roles: frozenset[Role]
    registered_at: datetime
    active: bool = True
    tokens: list[IssuedToken] = []

    @property
    def role(self) -> Role:
        """The primary role: the one recorded on the events this user writes."""
        return primary_role(self.roles)

    def token_matches(self, secret: str, at: datetime) -> bool:
        return self.matching_token(secret, at) is not None

    def matching_token(self, secret: str, at: datetime) -> IssuedToken | None:
        """The live token with this secret, compared in constant time against every token."""
        candidate = hash_secret(secret)
        found: IssuedToken | None = None
        for token in self.tokens:
            # No early exit: the time taken does not say which token, or whether one, matched.
            if hmac.compare_digest(candidate, token.token_hash) and token.live_at(at):
                found = token
        return found if self.active else None

    def token(self, token_id: UUID) -> IssuedToken | None:
        return next((t for t in self.tokens if t.token_id == token_id), None)


def _envelope(user: User, event_id: UUID, now: datetime, actor: str) -> dict[str, Any]:
    return {
        "originator_id": user.id,
        "originator_version": user.version + 1,
        "event_id": event_id,
        "recorded_at": now,
        "actor": actor,
    }


def register(
    existing: User | None, username: str, role: Role, *, event_id: UUID, now: datetime, actor: str
) -> UserRegistered:
    if existing is not None:
        raise RuleViolation(f"user {username!r} already exists")
    return UserRegistered(
        originator_id=user_id_for(username),
        originator_version=1,
        event_id=event_id,
        recorded_at=now,
        actor=actor,
        username=username.lower(),
        role=role,
    )


def _require_active(user: User, doing: str) -> None:
    if not user.active:
        raise RuleViolation(f"user {user.username!r} is deactivated: reactivate them to {doing}")


def grant_role(user: User, role: Role, *, event_id: UUID, now: datetime, actor: str) -> RoleGranted:
    _require_active(user, "grant a role")
    if role in user.roles:
        raise RuleViolation(f"user {user.username!r} already holds the role '{role.value}'")
    return RoleGranted(**_envelope(user, event_id, now, actor), role=role)


def revoke_role(
    user: User,
    role: Role,
    *,
    other_active_admins: int,
    event_id: UUID,
    now: datetime,
    actor: str,
) -> RoleRevoked:
    if role not in user.roles:
        raise RuleViolation(f"user {user.username!r} does not hold the role '{role.value}'")
    if user.roles == {role}:
        raise RuleViolation(
            f"'{role.value}' is the only role of {user.username!r}: a user keeps at least one "
            "role (deactivate the user instead)"
        )
    if role is Role.ADMIN and user.active and other_active_admins == 0:
        raise RuleViolation(
            f"{user.username!r} is the last active admin: grant the role to someone else first"
        )
    return RoleRevoked(**_envelope(user, event_id, now, actor), role=role)


def issue_token(
    user: User,
    *,
    token_id: UUID,
    secret: str,
    event_id: UUID,
    now: datetime,
    actor: str,
    expires_at: datetime | None = None,
) -> TokenIssued:
    _require_active(user, "issue a token")
    if expires_at is not None and expires_at <= now:
        raise InvalidCommand(
            "a token must expire in the future", errors={"expires_at": "not in the future"}
        )
    return TokenIssued(
        **_envelope(user, event_id, now, actor),
        token_id=token_id,
        token_hash=hash_secret(secret),
        expires_at=expires_at,
    )


def revoke_token(
    user: User, token_id: UUID, *, event_id: UUID, now: datetime, actor: str
) -> TokenRevoked:
    token = user.token(token_id)
    if token is None:
        raise ItemNotFound(
            f"user {user.username!r} has no token with that id", errors={"token_id": "not found"}
        )
    if token.revoked_at is not None:
        raise RuleViolation("the token is already revoked")
    return TokenRevoked(**_envelope(user, event_id, now, actor), token_id=token_id)


def deactivate(
    user: User, *, other_active_admins: int, event_id: UUID, now: datetime, actor: str
) -> UserDeactivated:
    if not user.active:
        raise RuleViolation(f"user {user.username!r} is already deactivated")
    if Role.ADMIN in user.roles and other_active_admins == 0:
        raise RuleViolation(
            f"{user.username!r} is the last active admin: grant the role to someone else first"
        )
    return UserDeactivated(**_envelope(user, event_id, now, actor))


def reactivate(user: User, *, event_id: UUID, now: datetime, actor: str) -> UserReactivated:
    if user.active:
        raise RuleViolation(f"user {user.username!r} is active")
    return UserReactivated(**_envelope(user, event_id, now, actor))


def removes_an_admin(user: User, event: IdentityEvent) -> bool:
    """Whether the event takes an active admin away: what the last-admin rule guards."""
    if not (user.active and Role.ADMIN in user.roles):
        return False
    if isinstance(event, RoleRevoked):
        return event.role is Role.ADMIN
    return isinstance(event, UserDeactivated)


def admin_removed(
    user: User, event: IdentityEvent, *, administrators_version: int, event_id: UUID
) -> AdministratorRemoved:
    """The administrators' stream's record of the removal, at the version after the one read
    before the other active admins were counted."""
    return AdministratorRemoved(
        originator_id=ADMINISTRATORS_ID,
        originator_version=administrators_version + 1,
        event_id=event_id,
        recorded_at=event.recorded_at,
        actor=event.actor,
        username=user.username,
    )


def _evolve(state: User, event: IdentityEvent) -> User:
    """Never raises: it runs on every replay. Unknown events only move the version."""
    update: dict[str, object] = {"version": event.originator_version}
    if isinstance(event, TokenIssued):
        update["tokens"] = [
            *state.tokens,
            IssuedToken(
                token_id=event.token_id,
                token_hash=event.token_hash,
                issued_at=event.recorded_at,
                expires_at=event.expires_at,
            ),
        ]
    elif isinstance(event, TokenRevoked):
        update["tokens"] = [
            t.model_copy(update={"revoked_at": event.recorded_at})
            if t.token_id == event.token_id and t.revoked_at is None
            else t
            for t in state.tokens
        ]
    elif isinstance(event, RoleGranted):
        update["roles"] = state.roles | {event.role}
    elif isinstance(event, RoleRevoked):
        update["roles"] = state.roles - {event.role} or state.roles
    elif isinstance(event, UserDeactivated):
        update["active"] = False
        update["tokens"] = [
            t.model_copy(update={"revoked_at": t.revoked_at or event.recorded_at})
            for t in state.tokens
        ]
    elif isinstance(event, UserReactivated):
        update["active"] = True
    return state.model_copy(update=update)


def project_user(state: User | None, events: Iterable[IdentityEvent]) -> User | None:
    for event in events:
        if isinstance(event, UserRegistered):
            state = User(
                id=event.originator_id,
                version=event.originator_version,
                username=event.username,
                roles=frozenset({event.role}),
                registered_at=event.recorded_at,
                tokens=[],
            )
        elif state is not None:
            state = _evolve(state, event)
    return state
