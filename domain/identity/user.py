"""The User aggregate: decide and evolve for registration, roles, tokens and deactivation.

Rules kept here, whoever asks (CLI or admin endpoint):
- a user holds at least one role (revoking the last one is refused: deactivate instead);
- the last active admin can neither lose the role nor be deactivated, so someone can always
  manage users (the caller counts the other active admins; the domain does no I/O). Each
  removal of an admin is also recorded on one administrators' stream (``admin_removed``) at
  the version the caller read before counting, so two removals from one count cannot both land;
- a deactivated user has no live token: deactivation ends every token for good, and a
  reactivated user signs in with tokens issued afterwards;
- a token is live until it expires or is revoked; only the SHA-256 of its secret is stored;
- no single person gains case access or acts as another: a person (not the host operator,
  whose shell reaches the store anyway) who grants a role that reads case content, or any role
  to themselves, only asks for it (``RoleGrantRequested``); it takes effect when a second
  person approves it, one who stands apart from the requester and the grantee
  (``domain.shared.stand_apart`` over ``persons_behind`` each);
- tokens go to their user: a person issues tokens for themselves, and whoever enrolled a user
  issues their first credential while the user is fresh (nothing recorded on them since but the
  decision on the enrolment's grant), never another; every token records who issued it.

The persons behind a user are found by following the record back: whoever issued a credential
(a token the user issued themselves traces to the one they used), whoever gave a role alone,
and the same for each of those, to the end of every chain. The host operator and an identity
provider are not persons (no user by that name): the chain stops there.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict

from domain.errors import InvalidCommand, ItemNotFound, NotPermitted, RuleViolation
from domain.identity.events import (
    AdministratorRemoved,
    IdentityEvent,
    RoleGrantDecided,
    RoleGranted,
    RoleGrantRequested,
    RoleRevoked,
    TokenIssued,
    TokenRevoked,
    UserDeactivated,
    UserReactivated,
    UserRegistered,
)
from domain.shared import Actor, Role, primary_role

USERS_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/users")
# The administrators' stream (no username can be this name: a unit separator is not allowed).
ADMINISTRATORS_ID = uuid5(USERS_NAMESPACE, "\x1fadministrators")


class UserChange(BaseModel):
    """A change to an existing user's record (the admin writes after registration)."""

    model_config = ConfigDict(frozen=True)


class GrantRole(UserChange):
    role: Role


class DecideRoleGrant(UserChange):
    """A second person approves or rejects a requested role grant."""

    grant_id: UUID
    decision: Literal["approved", "rejected"]


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
    issued_by: str | None = None
    # Who else has held the secret's line: the issuer, or for a token the user issued
    # themselves, the origin of the token they were signed in with.
    origin: str | None = None

    def live_at(self, at: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)


class PendingGrant(BaseModel):
    """A role asked for by one person, awaiting a second person's decision."""

    grant_id: UUID
    role: Role
    requested_by: str
    requested_at: datetime


class User(BaseModel):
    id: UUID
    version: int
    username: str
    roles: frozenset[Role]  # in force (empty while an enrolment's only role awaits approval)
    registered_at: datetime
    active: bool = True
    # When the user was last deactivated (a single sign-on session begun before it ends).
    deactivated_at: datetime | None = None
    tokens: list[IssuedToken] = []
    pending_grants: dict[str, PendingGrant] = {}
    # Roles in force that one person gave alone (no second person approved them): role -> who.
    granted_alone_by: dict[Role, str] = {}
    # Who enrolled the user, and whether nothing has happened to the record since but the
    # decision on the enrolment's grant: only then may the enroller issue the first credential.
    enrolled_by: str | None = None
    enrolment_grant_id: UUID | None = None
    fresh: bool = False

    @property
    def role(self) -> Role:
        """The primary role: the one recorded on the events this user writes (while nothing
        is in force yet, the role asked for at enrolment)."""
        return primary_role(self.roles or {g.role for g in self.pending_grants.values()})

    def actor(
        self, token: IssuedToken | None = None, behind: frozenset[str] = frozenset()
    ) -> Actor | None:
        """The user as an actor signed in with ``token`` (None: through single sign-on), with
        the persons ``behind`` that sign-in (``persons_behind``), or None when they may not act
        (deactivated, or no role in force yet)."""
        if not self.active or not self.roles:
            return None
        return Actor(
            username=self.username,
            role=primary_role(self.roles),
            roles=self.roles,
            credential_id=None if token is None else token.token_id,
            credential_issued_by=None if token is None else token.origin,
            roles_granted_alone_by=tuple(sorted(self.granted_alone_by.items())),
            behind=behind,
        )

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


def _leads(user: User, credentials: Iterable[IssuedToken]) -> set[str]:
    """Who the record names as able to act as ``user`` through these credentials or a role
    given alone (the user themselves left out)."""
    named = {t.origin or t.issued_by for t in credentials} | set(user.granted_alone_by.values())
    return {name for name in named if name is not None and name != user.username}


def persons_behind(
    user: User, credentials: Iterable[IssuedToken], load: Callable[[str], User | None]
) -> frozenset[str]:
    """Every person who could be acting as ``user`` signed in with ``credentials`` (one
    token, none for single sign-on, or all the user ever held): whoever issued one of them,
    whoever gave one of the user's roles alone, and, transitively, everyone behind each of
    those over every credential they ever held. ``load`` finds a user by name; a name with no
    user (the host operator, ``cli``) is not a person and ends that chain."""
    found: set[str] = set()
    waiting = _leads(user, credentials)
    while waiting:
        name = waiting.pop()
        if name in found or name == user.username:
            continue
        person = load(name)
        if person is None:
            continue
        found.add(name)
        waiting |= _leads(person, person.tokens) - found
    return frozenset(found)


def _envelope(
    user: User, event_id: UUID, now: datetime, actor: str, *, step: int = 1
) -> dict[str, Any]:
    return {
        "originator_id": user.id,
        "originator_version": user.version + step,
        "event_id": event_id,
        "recorded_at": now,
        "actor": actor,
    }


def _name(by: Actor | str) -> str:
    """Who acts: a signed-in person, or the host operator by name ("cli")."""
    return by.username if isinstance(by, Actor) else by


def register(
    existing: User | None,
    username: str,
    role: Role,
    *,
    by: Actor | str,
    reads_cases: bool,
    grant_id: UUID,
    event_id: UUID,
    now: datetime,
) -> UserRegistered:
    """Enrol a user. A person enrolling someone with a role that reads case content only asks
    for the role (``grant_id``): it is in force once a second person approves it."""
    if existing is not None:
        raise RuleViolation(f"user {username!r} already exists")
    return UserRegistered(
        originator_id=user_id_for(username),
        originator_version=1,
        event_id=event_id,
        recorded_at=now,
        actor=_name(by),
        username=username.lower(),
        role=role,
        grant_id=grant_id if isinstance(by, Actor) and reads_cases else None,
    )


def _require_active(user: User, doing: str) -> None:
    if not user.active:
        raise RuleViolation(f"user {user.username!r} is deactivated: reactivate them to {doing}")


def grant_role(
    user: User,
    role: Role,
    *,
    by: Actor | str,
    reads_cases: bool,
    grant_id: UUID,
    event_id: UUID,
    now: datetime,
) -> RoleGranted | RoleGrantRequested:
    """Grant a role, or, when a person grants one that reads case content or any role to
    themselves, record the request for a second person to decide."""
    _require_active(user, "grant a role")
    if role in user.roles:
        raise RuleViolation(f"user {user.username!r} already holds the role '{role.value}'")
    if isinstance(by, Actor) and any(g.role is role for g in user.pending_grants.values()):
        raise RuleViolation(
            f"the role '{role.value}' for {user.username!r} already awaits a second person's "
            "approval"
        )
    envelope = _envelope(user, event_id, now, _name(by))
    if isinstance(by, Actor) and (reads_cases or by.username == user.username):
        return RoleGrantRequested(**envelope, grant_id=grant_id, role=role)
    return RoleGranted(**envelope, role=role)


def decide_role_grant(
    user: User,
    grant_id: UUID,
    decision: Literal["approved", "rejected"],
    *,
    by: Actor,
    event_ids: tuple[UUID, UUID],
    now: datetime,
    requester_behind: frozenset[str] = frozenset(),
    grantee_behind: frozenset[str] = frozenset(),
) -> list[IdentityEvent]:
    """A second person's decision on a requested grant: approved, the role is in force in the
    same write (``RoleGranted`` naming the request); rejected, nothing more. The decider must
    stand apart from the requester and from the grantee, each with the persons behind them
    (over every credential they have held)."""
    grant = user.pending_grants.get(str(grant_id))
    if grant is None:
        raise ItemNotFound(
            f"user {user.username!r} has no role grant awaiting a decision with that id",
            errors={"grant_id": "not found"},
        )
    sides = (
        (grant.requested_by, requester_behind, "asked for it"),
        (user.username, grantee_behind, "would hold it"),
    )
    for other, behind, who in sides:
        if not by.stands_apart_from(other, behind):
            raise RuleViolation(
                f"a role grant is decided by a second person: not whoever {who}, nor anyone "
                "behind either of you (who issued a credential, or gave a role alone, to one "
                "of you or to someone behind you)"
            )
    decided = RoleGrantDecided(
        **_envelope(user, event_ids[0], now, by.username), grant_id=grant_id, decision=decision
    )
    if decision == "rejected":
        return [decided]
    _require_active(user, "grant a role")
    if grant.role in user.roles:
        raise RuleViolation(
            f"user {user.username!r} already holds the role '{grant.role.value}': reject the "
            "request instead"
        )
    granted = RoleGranted(
        **_envelope(user, event_ids[1], now, by.username, step=2),
        role=grant.role,
        grant_id=grant_id,
        requested_by=grant.requested_by,
    )
    return [decided, granted]


def roles_given_alone(
    user: User, is_person: Callable[[str], bool], reads_cases: Callable[[Role], bool]
) -> list[tuple[Role, str]]:
    """Roles in force that a person gave alone where a second person is now needed (a role
    that reads case content, or any role to oneself), with who gave each: given before that
    rule, they stay in force until revoked. The host operator's grants are not listed."""
    return [
        (role, grantor)
        for role, grantor in sorted(user.granted_alone_by.items())
        if role in user.roles
        and is_person(grantor)
        and (reads_cases(role) or grantor == user.username)
    ]


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
    by: Actor | str,
    token_id: UUID,
    secret: str,
    event_id: UUID,
    now: datetime,
    expires_at: datetime | None = None,
) -> TokenIssued:
    """A token for the user: issued by the user themselves, by the host operator, or by the
    person who enrolled them while the user is fresh (their first credential, and no other)."""
    _require_active(user, "issue a token")
    for_self = isinstance(by, Actor) and by.username == user.username
    enrolling = user.fresh and not user.tokens and user.enrolled_by == _name(by)
    if isinstance(by, Actor) and not for_self and not enrolling:
        raise NotPermitted(
            f"only the person who enrolled {user.username!r} issues their first credential, "
            "at enrolment (before anything else is recorded on them); other tokens are issued "
            "by their user (POST /api/v1/users/me/tokens) or by the host operator "
            "(vigil users token)"
        )
    if expires_at is not None and expires_at <= now:
        raise InvalidCommand(
            "a token must expire in the future", errors={"expires_at": "not in the future"}
        )
    return TokenIssued(
        **_envelope(user, event_id, now, _name(by)),
        token_id=token_id,
        token_hash=hash_secret(secret),
        expires_at=expires_at,
        issued_by=_name(by),
        issued_with=by.credential_id if for_self and isinstance(by, Actor) else None,
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
    enrolment = state.enrolment_grant_id
    if not (
        isinstance(event, RoleGrantDecided | RoleGranted)
        and enrolment is not None
        and event.grant_id == enrolment
    ):
        update["fresh"] = False
    if isinstance(event, TokenIssued):
        issued_by = event.issued_by or event.actor
        parent = None if event.issued_with is None else state.token(event.issued_with)
        origin = parent.origin if issued_by == state.username and parent is not None else issued_by
        update["tokens"] = [
            *state.tokens,
            IssuedToken(
                token_id=event.token_id,
                token_hash=event.token_hash,
                issued_at=event.recorded_at,
                expires_at=event.expires_at,
                issued_by=issued_by,
                origin=origin,
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
        alone = {k: v for k, v in state.granted_alone_by.items() if k is not event.role}
        update["granted_alone_by"] = (
            alone if event.requested_by is not None else {**alone, event.role: event.actor}
        )
    elif isinstance(event, RoleGrantRequested):
        update["pending_grants"] = {
            **state.pending_grants,
            str(event.grant_id): PendingGrant(
                grant_id=event.grant_id,
                role=event.role,
                requested_by=event.actor,
                requested_at=event.recorded_at,
            ),
        }
    elif isinstance(event, RoleGrantDecided):
        update["pending_grants"] = {
            k: v for k, v in state.pending_grants.items() if k != str(event.grant_id)
        }
    elif isinstance(event, RoleRevoked):
        update["roles"] = state.roles - {event.role} or state.roles
        update["granted_alone_by"] = {
            k: v for k, v in state.granted_alone_by.items() if k is not event.role
        }
    elif isinstance(event, UserDeactivated):
        update["active"] = False
        update["deactivated_at"] = event.recorded_at
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
            held = event.grant_id is not None
            state = User(
                id=event.originator_id,
                version=event.originator_version,
                username=event.username,
                roles=frozenset() if held else frozenset({event.role}),
                registered_at=event.recorded_at,
                tokens=[],
                pending_grants={
                    str(event.grant_id): PendingGrant(
                        grant_id=event.grant_id,
                        role=event.role,
                        requested_by=event.actor,
                        requested_at=event.recorded_at,
                    )
                }
                if event.grant_id is not None
                else {},
                granted_alone_by={} if held else {event.role: event.actor},
                enrolled_by=event.actor,
                enrolment_grant_id=event.grant_id,
                fresh=True,
            )
        elif state is not None:
            state = _evolve(state, event)
    return state
