"""Users, their roles and API tokens, all recorded as events. Tokens are shown once and stored
only as hashes; optionally, an identity provider's JWTs (OpenID Connect) sign users in too."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn, Protocol
from uuid import UUID, uuid4

from pydantic import TypeAdapter, ValidationError

from application.idempotency import KeyedRequest, WriteKeys
from application.write_path import WritePath, Written
from domain.access.permissions import reads_case_content
from domain.errors import InvalidCommand, RuleViolation
from domain.idempotency import IdempotencyKeyUsed
from domain.identity import user as users
from domain.identity.errors import TokenAlreadyIssued, UserNotFound, UserRuleViolation
from domain.identity.events import IdentityEvent, TokenIssued, UserRegistered
from domain.identity.user import (
    ADMINISTRATORS_ID,
    DeactivateUser,
    DecideRoleGrant,
    GrantRole,
    ReactivateUser,
    RevokeRole,
    RevokeToken,
    User,
    UserChange,
    project_user,
    user_id_for,
)
from domain.shared import Actor, Role, Username
from infrastructure.event_log import EventLog

TOKEN_PREFIX = "vgl"  # noqa: S105 - a prefix, not a secret
# The credential a web UI session names when it began through the identity provider (OpenID
# Connect) rather than with a Vigil token: no token ever has this id (theirs are random).
SINGLE_SIGN_ON = UUID("00000000-0000-0000-0000-000000000000")
_USERNAME: TypeAdapter[str] = TypeAdapter(Username)
_REGISTERED_TOPIC = f"{UserRegistered.__module__}:{UserRegistered.__qualname__}"
_PAGE = 1000


@contextmanager
def _user_rules() -> Iterator[None]:
    # The user rules (domain.identity.user) raise the domain's plain RuleViolation, whose title
    # speaks of a case; subclasses (TokenAlreadyIssued) carry their own title and pass through.
    try:
        yield
    except RuleViolation as exc:
        if type(exc) is not RuleViolation:
            raise
        raise UserRuleViolation(exc.detail, errors=exc.errors) from exc


class JwtVerifier(Protocol):
    def username(self, token: str) -> str | None: ...


@dataclass(frozen=True)
class NewToken:
    """A token as its holder receives it: the secret string is here once and nowhere else."""

    token: str
    token_id: UUID
    expires_at: datetime | None


@dataclass(frozen=True)
class UserWrite:
    """A write to a user's record as answered: the user just after it, when it was recorded
    (answers are judged then, so a retry gets the same one), and whether this answers a
    retried Idempotency-Key."""

    user: User
    at: datetime
    replayed: bool = False


def _version(user: User) -> int:
    return user.version


def _name(actor: Actor | str) -> str:
    return actor.username if isinstance(actor, Actor) else actor


def token_user_id(token: str) -> UUID | None:
    """The user id a Vigil token names (without checking it), for rate limiting; else None."""
    prefix, _, rest = token.partition("_")
    user_hex, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or not secret or len(user_hex) != 32:
        return None
    try:
        return UUID(hex=user_hex)
    except ValueError:
        return None


# Users whose states one process keeps (a user's state is a few kB).
USER_CACHE_SIZE = 1000


class IdentityService:
    def __init__(
        self,
        event_log: EventLog,
        *,
        clock: Callable[[], datetime],
        write_retries: int,
        jwt_verifier: JwtVerifier | None = None,
    ) -> None:
        self._event_log = event_log
        self._clock = clock
        self._jwt = jwt_verifier
        self._keys = WriteKeys(event_log)
        # Every request authenticates: a user's state comes from this process's cache brought up
        # to date with one read of their newer events (a revocation or deactivation written by
        # any process is seen at once), not from a replay of all their events.
        self._users = WritePath[User](
            event_log,
            name="user",
            fold=project_user,
            version=_version,
            retries=write_retries,
            cache_size=USER_CACHE_SIZE,
        )

    # --- reads ----------------------------------------------------------------------------------

    def get(self, username: str) -> User | None:
        return self._load(user_id_for(username))

    def exists(self, username: str) -> bool:
        return self.get(username) is not None

    def is_active(self, username: str) -> bool:
        """Whether the user exists and may act (cases are assigned only to such users)."""
        user = self.get(username)
        return user is not None and user.active

    def list_users(self) -> list[User]:
        """Every user ever registered, by username (deactivated ones included)."""
        found = [u for u in (self._load(i) for i in self._user_ids()) if u is not None]
        return sorted(found, key=lambda u: u.username)

    def active_admins(self) -> list[str]:
        return [u.username for u in self.list_users() if u.active and Role.ADMIN in u.roles]

    # --- writes ---------------------------------------------------------------------------------

    def register(self, username: str, role: Role, *, actor: Actor | str) -> User:
        """Record a new user with a role."""
        return self.register_user(username, role, actor=actor).user

    def register_user(
        self,
        username: str,
        role: Role,
        *,
        actor: Actor | str,
        request: KeyedRequest | None = None,
    ) -> UserWrite:
        """Record a new user with a role (only asked for, when a person enrols someone with a
        role that reads case content); a retried keyed request answers the first time.
        ``actor`` is a signed-in person, or the host operator by name (the CLI)."""
        username = self._valid_username(username)

        def decide(user: User | None) -> list[IdentityEvent]:
            # Another registration of the name (the id derives from it), or this request's own
            # retry, may get there first: then this is decided again, and refused or answered.
            with _user_rules():
                return [
                    users.register(
                        user,
                        username,
                        role,
                        by=actor,
                        reads_cases=reads_case_content(role),
                        grant_id=uuid4(),
                        event_id=uuid4(),
                        now=self._clock(),
                    )
                ]

        return self._users.write(
            user_id_for(username),
            decide,
            self._answer,
            recall=self._keys.recall(_name(actor), request, self._replay),
        )

    def grant_role(self, username: str, role: Role, *, actor: Actor | str) -> User:
        """Give a user one more role (or ask a second person to, see ``change``)."""
        return self.change(username, GrantRole(role=role), actor=actor).user

    def revoke_role(self, username: str, role: Role, *, actor: Actor | str) -> User:
        """Take a role away (never a user's last role, never the last active admin's)."""
        return self.change(username, RevokeRole(role=role), actor=actor).user

    def deactivate(self, username: str, *, actor: Actor | str) -> User:
        """Stop a user signing in; every token they hold stops working at once."""
        return self.change(username, DeactivateUser(), actor=actor).user

    def reactivate(self, username: str, *, actor: Actor | str) -> User:
        """Let a deactivated user sign in again (with tokens issued from now on)."""
        return self.change(username, ReactivateUser(), actor=actor).user

    def revoke_token(self, username: str, token_id: UUID, *, actor: Actor | str) -> User:
        """End one token for good."""
        return self.change(username, RevokeToken(token_id=token_id), actor=actor).user

    def change(
        self,
        username: str,
        change: UserChange,
        *,
        actor: Actor | str,
        request: KeyedRequest | None = None,
    ) -> UserWrite:
        """Grant or revoke a role, decide a requested grant, revoke a token, deactivate or
        reactivate a user; a retried keyed request answers as the first time and appends
        nothing. A person granting a role that reads case content, or any role to themselves,
        records a request that a second person decides (``DecideRoleGrant``)."""
        name = _name(actor)

        def decide(user: User) -> IdentityEvent | list[IdentityEvent]:
            now = self._clock()
            if isinstance(change, GrantRole):
                return users.grant_role(
                    user,
                    change.role,
                    by=actor,
                    reads_cases=reads_case_content(change.role),
                    grant_id=uuid4(),
                    event_id=uuid4(),
                    now=now,
                )
            if isinstance(change, DecideRoleGrant):
                if not isinstance(actor, Actor):
                    raise TypeError("a role grant is decided by a signed-in person")
                grant = user.pending_grants.get(str(change.grant_id))
                return users.decide_role_grant(
                    user,
                    change.grant_id,
                    change.decision,
                    by=actor,
                    event_ids=(uuid4(), uuid4()),
                    now=now,
                    requester_behind=self.behind(grant.requested_by) if grant else frozenset(),
                    grantee_behind=users.persons_behind(user, user.tokens, self.get),
                )
            if isinstance(change, RevokeRole):
                return users.revoke_role(
                    user,
                    change.role,
                    other_active_admins=self._other_active_admins(user),
                    event_id=uuid4(),
                    now=now,
                    actor=name,
                )
            if isinstance(change, RevokeToken):
                return users.revoke_token(
                    user, change.token_id, event_id=uuid4(), now=now, actor=name
                )
            if isinstance(change, DeactivateUser):
                return users.deactivate(
                    user,
                    other_active_admins=self._other_active_admins(user),
                    event_id=uuid4(),
                    now=now,
                    actor=name,
                )
            if isinstance(change, ReactivateUser):
                return users.reactivate(user, event_id=uuid4(), now=now, actor=name)
            raise TypeError(f"not a user change: {type(change).__name__}")

        return self._change(username, decide, actor=actor, request=request)

    def issue_token(
        self,
        username: str,
        *,
        actor: Actor | str,
        expires_at: datetime | None = None,
        expires_in: timedelta | None = None,
    ) -> str:
        """Issue a new bearer token; the plaintext is returned once and never stored."""
        return self.issue(username, actor=actor, expires_at=expires_at, expires_in=expires_in).token

    def issue(
        self,
        username: str,
        *,
        actor: Actor | str,
        expires_at: datetime | None = None,
        expires_in: timedelta | None = None,
        request: KeyedRequest | None = None,
    ) -> NewToken:
        """Issue a new bearer token with its id (to revoke it by) and expiry: at a moment, or
        a lifetime from the moment it is issued. A person issues tokens for themselves, or a
        user's first credential at enrolment; the host operator (a name: "cli") any. A
        retried keyed request is refused (TokenAlreadyIssued): the secret is not kept."""
        secret = secrets.token_urlsafe(32)
        token_id = uuid4()

        def decide(user: User) -> IdentityEvent:
            now = self._clock()
            return users.issue_token(
                user,
                by=actor,
                token_id=token_id,
                secret=secret,
                event_id=uuid4(),
                now=now,
                expires_at=expires_at if expires_in is None else now + expires_in,
            )

        user = self._change(
            username, decide, actor=actor, request=request, replay=self._token_already_issued
        ).user
        issued = user.token(token_id)
        assert issued is not None
        return NewToken(f"{TOKEN_PREFIX}_{user.id.hex}_{secret}", token_id, issued.expires_at)

    # --- authentication -------------------------------------------------------------------------

    def authenticate(self, token: str) -> Actor | None:
        """The active user a bearer token belongs to, or None. Never says which part was wrong."""
        if self._jwt is not None and not token.startswith(f"{TOKEN_PREFIX}_"):
            username = self._jwt.username(token)
            return None if username is None else self.single_sign_on_actor(username)
        user_id = token_user_id(token)
        if user_id is None:
            return None
        user = self._load(user_id)
        secret = token.split("_", 2)[2]
        matched = None if user is None else user.matching_token(secret, self._clock())
        if user is None or matched is None:
            return None
        return user.actor(matched, behind=self._behind(user, [matched]))

    def single_sign_on_actor(self, username: str) -> Actor | None:
        """The user an identity provider has proved someone to be (OpenID Connect), as an
        actor: their roles from Vigil's own record, never the provider's; None if there is no
        such user or they may not act (deactivated, no role in force)."""
        user = self._load_by_name(username)
        return None if user is None else user.actor(behind=self._behind(user, []))

    def credential_actor(
        self, username: str, credential_id: UUID, *, signed_in_at: datetime | None = None
    ) -> Actor | None:
        """The user as an actor signed in with the token ``credential_id``, if that token is
        still live (not revoked, not expired) and the user may still act; else None. For a
        session begun with that token (the web UI): checked on every request, so a revoked
        token or a deactivated user ends the session at once.

        ``SINGLE_SIGN_ON`` names a session begun through the identity provider at
        ``signed_in_at``: it holds while single sign-on is configured and the user may act and
        has not been deactivated since (as a deactivation revokes every token, so a reactivated
        user signs in again)."""
        if credential_id == SINGLE_SIGN_ON:
            if self._jwt is None or signed_in_at is None:
                return None
            found = self._load_by_name(username)
            if found is None or (
                found.deactivated_at is not None and found.deactivated_at >= signed_in_at
            ):
                return None
            return found.actor(behind=self._behind(found, []))
        user = self._load_by_name(username)
        token = None if user is None else user.token(credential_id)
        if user is None or token is None or not user.active or not token.live_at(self._clock()):
            return None
        return user.actor(token, behind=self._behind(user, [token]))

    def behind(self, username: str) -> frozenset[str]:
        """Every person who could act as this one, over every credential they have held."""
        user = self.get(username)
        return frozenset() if user is None else self._behind(user, user.tokens)

    def _behind(self, user: User, credentials: list[users.IssuedToken]) -> frozenset[str]:
        return users.persons_behind(user, credentials, self.get)

    # --- internals ------------------------------------------------------------------------------

    def _valid_username(self, username: str) -> str:
        try:
            return _USERNAME.validate_python(username)
        except ValidationError as exc:
            reason = str(exc.errors()[0].get("ctx", {}).get("error", "not a valid username"))
            raise InvalidCommand(
                "a username is 2-63 characters: lower-case letters, digits, '.', '_' or '-' "
                "(and not a reserved name such as 'me')",
                errors={"username": reason},
            ) from None

    def _load_by_name(self, username: str) -> User | None:
        return self.get(username) if self._known_name(username) else None

    @staticmethod
    def _known_name(username: str) -> bool:
        """Whether the name could be a user's (ids derive from names folded to lower case)."""
        try:
            _USERNAME.validate_python(username)
        except ValidationError:
            return False
        return True

    def _other_active_admins(self, user: User) -> int:
        return sum(1 for name in self.active_admins() if name != user.username)

    def _change(
        self,
        username: str,
        decide: Callable[[User], IdentityEvent | list[IdentityEvent]],
        *,
        actor: Actor | str,
        request: KeyedRequest | None = None,
        replay: Callable[[IdempotencyKeyUsed], UserWrite] | None = None,
    ) -> UserWrite:
        known = self._known_name(username)

        def decide_change(user: User | None) -> list[IdentityEvent]:
            if user is None or not known:
                raise UserNotFound(f"no user {username!r}", errors={"username": "unknown user"})
            # Removals of two admins race for the administrators' stream's next version (read
            # before the other admins are counted), so the loser is decided again from a count
            # that includes the other.
            administrators = self._administrators_version()
            with _user_rules():
                decided = decide(user)
            written = decided if isinstance(decided, list) else [decided]
            event = written[-1]
            guard = (
                [
                    users.admin_removed(
                        user, event, administrators_version=administrators, event_id=uuid4()
                    )
                ]
                if users.removes_an_admin(user, event)
                else []
            )
            return [*written, *guard]

        return self._users.write(
            user_id_for(username),
            decide_change,
            self._answer,
            recall=self._keys.recall(_name(actor), request, replay or self._replay),
        )

    @staticmethod
    def _answer(written: Written[User]) -> UserWrite:
        assert written.after is not None
        return UserWrite(written.after, written.events[-1].recorded_at)

    def _written(self, earlier: IdempotencyKeyUsed) -> list[IdentityEvent]:
        """The user's events up to the one a keyed write made."""
        events = list(self._event_log.events_of(earlier.target_id, lte=earlier.target_version))
        return [e for e in events if isinstance(e, IdentityEvent)]

    def _replay(self, earlier: IdempotencyKeyUsed) -> UserWrite:
        """The first answer to a keyed write: the user as that write left them."""
        events = self._written(earlier)
        user = project_user(None, events)
        assert user is not None  # so events holds at least its registration
        return UserWrite(user, events[-1].recorded_at, replayed=True)

    def _token_already_issued(self, earlier: IdempotencyKeyUsed) -> NoReturn:
        issued = self._written(earlier)[-1]
        token = f" (token id {issued.token_id})" if isinstance(issued, TokenIssued) else ""
        raise TokenAlreadyIssued(
            f"a token was issued for this Idempotency-Key{token}; it cannot be shown again: "
            "issue another (with a new key), and revoke that one if it was lost"
        )

    def _administrators_version(self) -> int:
        last = self._event_log.recorder.select_events(ADMINISTRATORS_ID, desc=True, limit=1)
        return last[0].originator_version if last else 0

    def _user_ids(self) -> Iterator[UUID]:
        # The registrations in the log (the set of users only grows); read in pages.
        recorder = self._event_log.recorder
        start: int | None = None
        while True:
            page = recorder.select_notifications(
                start, _PAGE, topics=[_REGISTERED_TOPIC], inclusive_of_start=start is None
            )
            for notification in page:
                originator = notification.originator_id
                yield originator if isinstance(originator, UUID) else UUID(str(originator))
            if len(page) < _PAGE:
                return
            start = page[-1].id

    def _load(self, user_id: UUID) -> User | None:
        return self._users.load(user_id)
