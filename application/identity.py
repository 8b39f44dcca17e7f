"""Users and their API tokens. Tokens are shown once and stored only as hashes."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import TypeAdapter, ValidationError

from application.cases import Contention
from application.ledger import Ledger
from domain.errors import InvalidCommand, RuleViolation
from domain.identity.user import User, issue_token, project_user, register, user_id_for
from domain.shared import Actor, Role, Username

TOKEN_PREFIX = "vgl"  # noqa: S105 - a prefix, not a secret
_TOKEN_RETRIES = 25
_USERNAME: TypeAdapter[str] = TypeAdapter(Username)


class UnknownUser(InvalidCommand):
    title = "Unknown user"


class IdentityService:
    def __init__(self, ledger: Ledger, *, clock: Callable[[], datetime]) -> None:
        self._ledger = ledger
        self._clock = clock

    def get(self, username: str) -> User | None:
        return self._load(user_id_for(username))

    def exists(self, username: str) -> bool:
        return self.get(username) is not None

    def register(self, username: str, role: Role, *, actor: str) -> User:
        """Record a new user with a role."""
        try:
            username = _USERNAME.validate_python(username)
        except ValidationError:
            raise InvalidCommand(
                "a username is 2-63 characters: lower-case letters, digits, '.', '_' or '-'",
                errors={"username": "not a valid username"},
            ) from None
        event = register(
            self.get(username), username, role, event_id=uuid4(), now=self._clock(), actor=actor
        )
        try:
            self._ledger.save(event)
        except IntegrityError:
            # Another registration of the same name won the race (the id derives from the name).
            raise RuleViolation(f"user {username!r} already exists") from None
        user = project_user(None, [event])
        assert user is not None
        return user

    def issue_token(self, username: str, *, actor: str) -> str:
        """Issue a new bearer token; the plaintext is returned once and never stored."""
        secret = secrets.token_urlsafe(32)
        # Tokens issued at the same moment race for the user's next version: reload and retry.
        for _ in range(_TOKEN_RETRIES):
            user = self.get(username)
            if user is None:
                raise UnknownUser(f"no user {username!r}", errors={"username": "unknown user"})
            event = issue_token(
                user,
                token_id=uuid4(),
                secret=secret,
                event_id=uuid4(),
                now=self._clock(),
                actor=actor,
            )
            try:
                self._ledger.save(event)
            except IntegrityError:
                continue
            return f"{TOKEN_PREFIX}_{user.id.hex}_{secret}"
        raise Contention("too many tokens issued for this user at once; try again")

    def authenticate(self, token: str) -> Actor | None:
        """The user a bearer token belongs to, or None. Never says which part was wrong."""
        prefix, _, rest = token.partition("_")
        user_hex, _, secret = rest.partition("_")
        if prefix != TOKEN_PREFIX or not secret:
            return None
        try:
            user_id = UUID(hex=user_hex)
        except ValueError:
            return None
        user = self._load(user_id)
        if user is None or not user.token_matches(secret, self._clock()):
            return None
        return Actor(username=user.username, role=user.role)

    def _load(self, user_id: UUID) -> User | None:
        try:
            return self._ledger.repository.get(user_id, projector_func=project_user)
        except AggregateNotFoundError:
            return None
