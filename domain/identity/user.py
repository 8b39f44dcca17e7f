"""The User aggregate: decide and evolve for registration and tokens."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel

from domain.errors import RuleViolation
from domain.identity.events import IdentityEvent, TokenIssued, UserRegistered
from domain.shared import Role

USERS_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/users")


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


class User(BaseModel):
    id: UUID
    version: int
    username: str
    role: Role
    registered_at: datetime
    tokens: list[IssuedToken] = []

    def token_matches(self, secret: str, at: datetime) -> bool:
        """Constant-time comparison against every live token's hash."""
        candidate = hash_secret(secret)
        matched = False
        for token in self.tokens:
            live = token.expires_at is None or at < token.expires_at
            matched |= hmac.compare_digest(candidate, token.token_hash) and live
        return matched


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
    return TokenIssued(
        originator_id=user.id,
        originator_version=user.version + 1,
        event_id=event_id,
        recorded_at=now,
        actor=actor,
        token_id=token_id,
        token_hash=hash_secret(secret),
        expires_at=expires_at,
    )


def project_user(state: User | None, events: Iterable[IdentityEvent]) -> User | None:
    for event in events:
        if isinstance(event, UserRegistered):
            state = User(
                id=event.originator_id,
                version=event.originator_version,
                username=event.username,
                role=event.role,
                registered_at=event.recorded_at,
                tokens=[],
            )
        elif state is not None and isinstance(event, TokenIssued):
            state = state.model_copy(
                update={
                    "version": event.originator_version,
                    "tokens": [
                        *state.tokens,
                        IssuedToken(
                            token_id=event.token_id,
                            token_hash=event.token_hash,
                            issued_at=event.recorded_at,
                            expires_at=event.expires_at,
                        ),
                    ],
                }
            )
    return state
