"""Users, roles and tokens, for admins: list, register, grant and revoke roles, issue and revoke
tokens, deactivate and reactivate. Everything here is an event (actor: the admin who asked);
nothing here shows case content, and no token is ever shown twice.

No single person gains case access or acts as another: a role that reads case content, or any
role for oneself, is only asked for here and takes effect when a second person (another admin
or a safeguarding lead) approves it; the admin who enrolled a user issues their first
credential at enrolment, while nothing else is recorded on them, and no other (later tokens:
``POST /users/me/tokens``, by the user).

Every write accepts Idempotency-Key: a retry with the same key and request answers as the first
time (same status and body) and appends nothing; the same key with another request is 422. The
exception is issuing a token: its secret is never stored, so a retry cannot show it again and is
refused with 409 ``token-already-issued`` (naming the token's id), appending nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from application.identity import NewToken, UserWrite
from domain.access.permissions import Permission
from domain.errors import InvalidCommand
from domain.identity.errors import UserNotFound
from domain.identity.user import (
    DeactivateUser,
    DecideRoleGrant,
    GrantRole,
    IssuedToken,
    ReactivateUser,
    RevokeRole,
    RevokeToken,
    User,
)
from domain.shared import ROLE_PRECEDENCE, Actor, Moment, Role, Username
from interfaces.http.dependencies import Keyed, VigilDep, keyed_answer, require
from interfaces.http.problems import Problem, error_responses

router = APIRouter(prefix="/api/v1", tags=["users"])

Reader = Annotated[Actor, Depends(require(Permission.USERS_READ))]
Manager = Annotated[Actor, Depends(require(Permission.USERS_MANAGE))]
GrantApprover = Annotated[Actor, Depends(require(Permission.USERS_APPROVE_GRANT))]
TokenHolder = Annotated[Actor, Depends(require(Permission.OWN_TOKENS))]
UsernamePath = Annotated[
    str,
    Path(
        max_length=63, description="The username (case-insensitive).", examples=["kit.coordinator"]
    ),
]

READ_ERRORS = (401, 403, 404)
WRITE_ERRORS = (401, 403, 404, 409, 413, 422, 503)
# The longest a token may live, whether asked as a lifetime or as a moment.
MAX_TOKEN_DAYS = 3650


class TokenRead(BaseModel):
    """A token as admins see it: never its secret nor its hash."""

    token_id: UUID
    issued_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    status: Literal["live", "expired", "revoked"]
    issued_by: str | None = Field(
        default=None,
        description="Who issued it: the user, the admin who enrolled them (first credential), "
        "or the host operator (`cli`).",
    )


class PendingGrantRead(BaseModel):
    """A role asked for, not in force until a second person approves it."""

    grant_id: UUID
    role: Role
    requested_by: str
    requested_at: datetime


class UserRead(BaseModel):
    username: str
    role: Role = Field(description="The primary role, recorded on the events the user writes.")
    roles: list[Role] = Field(
        description="Every role in force; permissions are their union. Empty while the role "
        "asked for at enrolment awaits a second person's approval."
    )
    active: bool
    registered_at: datetime
    version: int = Field(description="How many events the user's record holds.")
    tokens: list[TokenRead]
    pending_grants: list[PendingGrantRead] = Field(
        default_factory=list,
        description="Roles asked for, awaiting a second person's decision "
        "(`POST /users/{username}/role-grants/{grant_id}/decisions`).",
    )


class UserList(BaseModel):
    """Every user, by username; ``next_cursor`` is always null (the list is short)."""

    items: list[UserRead]
    next_cursor: str | None = None


class UserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"username": "amara.volunteer", "role": "volunteer"}]},
    )

    username: Username = Field(
        description="2-63 characters: lower-case letters, digits, '.', '_' or '-'; not 'me' "
        "(reserved: /users/me/... is the signed-in user)."
    )
    role: Role


class RoleGrantDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"decision": "approved"}]}
    )

    decision: Literal["approved", "rejected"]


class RoleGrant(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "auditor"}]})

    role: Role


class TokenCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"expires_in_days": 90}, {}]}
    )

    expires_in_days: int | None = Field(
        default=None, ge=1, le=MAX_TOKEN_DAYS, description="Expire this many days from now."
    )
    expires_at: Moment | None = Field(
        default=None,
        description="Expire at this moment (RFC 3339 with offset): in the future, and at most "
        f"{MAX_TOKEN_DAYS} days from now.",
    )

    @model_validator(mode="after")
    def _one_expiry(self) -> TokenCreate:
        if self.expires_in_days is not None and self.expires_at is not None:
            raise ValueError("give expires_in_days or expires_at, not both")
        return self


class TokenIssuedAnswer(BaseModel):
    token: str = Field(description="The bearer token. Shown once: Vigil keeps only its hash.")
    token_id: UUID = Field(description="Revoke the token by this id.")
    expires_at: datetime | None
    user: UserRead


def _status(token: IssuedToken, now: datetime) -> Literal["live", "expired", "revoked"]:
    if token.revoked_at is not None:
        return "revoked"
    return "live" if token.live_at(now) else "expired"


def user_read(user: User, now: datetime) -> UserRead:
    return UserRead(
        username=user.username,
        role=user.role,
        roles=[role for role in ROLE_PRECEDENCE if role in user.roles],
        active=user.active,
        registered_at=user.registered_at,
        version=user.version,
        tokens=[
            TokenRead(
                token_id=t.token_id,
                issued_at=t.issued_at,
                expires_at=t.expires_at,
                revoked_at=t.revoked_at,
                status=_status(t, now),
                issued_by=t.issued_by,
            )
            for t in user.tokens
        ],
        pending_grants=[
            PendingGrantRead(**g.model_dump())
            for g in sorted(user.pending_grants.values(), key=lambda g: g.requested_at)
        ],
    )


@router.get("/users", responses=error_responses(401, 403))
def list_users(vigil: VigilDep, actor: Reader) -> UserList:
    """List every user with their roles, whether active, and their tokens (ids and dates)."""
    now = vigil.clock()
    return UserList(items=[user_read(u, now) for u in vigil.identity.list_users()])


@router.get("/users/{username}", responses=error_responses(*READ_ERRORS))
def get_user(vigil: VigilDep, actor: Reader, username: UsernamePath) -> UserRead:
    """One user: roles, whether active, and their tokens (ids and dates, never the secret)."""
    user = vigil.identity.get(username.lower())
    if user is None:
        raise UserNotFound(f"no user {username!r}", errors={"username": "unknown user"})
    return user_read(user, vigil.clock())


def _answer(write: UserWrite, keyed: Keyed) -> UserRead:
    # Judged when the write was recorded (token status), so a retry gets the same answer.
    keyed.answered(replayed=write.replayed)
    return user_read(write.user, write.at)


def _write_doc(status: int, done: str) -> dict[int | str, dict[str, Any]]:
    return {**keyed_answer(status, done), **error_responses(*WRITE_ERRORS)}


@router.post(
    "/users",
    status_code=201,
    responses={
        **keyed_answer(201, "Registered: the new user."),
        **error_responses(401, 403, 409, 413, 422, 503),
    },
)
def register_user(
    vigil: VigilDep,
    actor: Manager,
    body: Annotated[UserCreate, Body()],
    response: Response,
    keyed: Keyed,
) -> UserRead:
    """Register a user with a role (409 if the name is taken); a role that reads case content
    awaits a second person's approval. Issue their first token with POST .../tokens."""
    write = vigil.identity.register_user(
        body.username, body.role, actor=actor, request=keyed.request_for(body)
    )
    response.headers["Location"] = f"/api/v1/users/{write.user.username}"
    return _answer(write, keyed)


@router.post(
    "/users/{username}/roles", status_code=201, responses=_write_doc(201, "The user after it.")
)
def grant_role(
    vigil: VigilDep,
    actor: Manager,
    username: UsernamePath,
    body: Annotated[RoleGrant, Body()],
    keyed: Keyed,
) -> UserRead:
    """Grant one more role (409 if held already, or the user is deactivated). A role that reads
    case content, or any role for oneself, is only asked for: it is listed under
    `pending_grants` until a second person decides it."""
    write = vigil.identity.change(
        username, GrantRole(role=body.role), actor=actor, request=keyed.request_for(body)
    )
    return _answer(write, keyed)


@router.post(
    "/users/{username}/role-grants/{grant_id}/decisions",
    status_code=201,
    responses=_write_doc(201, "The user after it."),
)
def decide_role_grant(
    vigil: VigilDep,
    actor: GrantApprover,
    username: UsernamePath,
    grant_id: Annotated[UUID, Path(description="The grant's id (from `pending_grants`).")],
    body: Annotated[RoleGrantDecision, Body()],
    keyed: Keyed,
) -> UserRead:
    """Approve or reject a requested role, as the second person: not whoever asked for it or
    would hold it, nor anyone behind either of them or behind you both (409)."""
    write = vigil.identity.change(
        username,
        DecideRoleGrant(grant_id=grant_id, decision=body.decision),
        actor=actor,
        request=keyed.request_for(body),
    )
    return _answer(write, keyed)


@router.delete("/users/{username}/roles/{role}", responses=_write_doc(200, "The user after it."))
def revoke_role(
    vigil: VigilDep,
    actor: Manager,
    username: UsernamePath,
    role: Annotated[Role, Path(description="The role to take away.")],
    keyed: Keyed,
) -> UserRead:
    """Revoke a role: recorded as an event (nothing is deleted). Refused (409) for a role not
    held, a user's only role (deactivate instead) and the last active admin's admin role."""
    write = vigil.identity.change(
        username, RevokeRole(role=role), actor=actor, request=keyed.request_for()
    )
    return _answer(write, keyed)


_ON_RETRY = (
    "A retry with the same Idempotency-Key and body is refused with 409 "
    "`token-already-issued` (naming the token's id) and appends nothing: the secret is never "
    "stored, so it cannot be shown again. Issue another token with a new key, and revoke the "
    "first if its answer was lost. The same key with another body is 422."
)


def _issue(
    vigil: VigilDep, actor: Actor, username: str, body: TokenCreate, keyed: Keyed
) -> TokenIssuedAnswer:
    lifetime = None if body.expires_in_days is None else timedelta(days=body.expires_in_days)
    longest = timedelta(days=MAX_TOKEN_DAYS)
    if body.expires_at is not None and body.expires_at - vigil.clock() > longest:
        raise InvalidCommand(
            f"a token expires at most {MAX_TOKEN_DAYS} days from now",
            errors={"expires_at": f"more than {MAX_TOKEN_DAYS} days from now"},
        )
    issued: NewToken = vigil.identity.issue(
        username,
        actor=actor,
        expires_at=body.expires_at,
        expires_in=lifetime,
        request=keyed.request_for(body),
    )
    user = vigil.identity.get(username.lower())
    assert user is not None
    return TokenIssuedAnswer(
        token=issued.token,
        token_id=issued.token_id,
        expires_at=issued.expires_at,
        user=user_read(user, vigil.clock()),
    )


@router.post(
    "/users/me/tokens",
    status_code=201,
    description="Issue yourself another bearer token, shown in this answer and never again. "
    "It records the token you signed in with, so it is traced to whoever issued that one.\n\n"
    + _ON_RETRY,
    responses={
        **error_responses(*WRITE_ERRORS),
        409: {
            "model": Problem,
            "description": "This is a retry of a request that issued a token "
            "(`token-already-issued`).",
        },
    },
)
def issue_own_token(
    vigil: VigilDep, actor: TokenHolder, body: Annotated[TokenCreate, Body()], keyed: Keyed
) -> TokenIssuedAnswer:
    """Issue yourself a bearer token, shown in this answer and never again."""
    return _issue(vigil, actor, actor.username, body, keyed)


@router.post(
    "/users/{username}/tokens",
    status_code=201,
    description="Issue a user's first bearer token at enrolment (or your own), shown in this "
    "answer and never again: only the admin who enrolled the user, and only while nothing "
    "else is recorded on them (but the decision on the enrolment's role grant). Otherwise "
    "403: tokens come from the user themselves (`POST /users/me/tokens`) or the host "
    "operator (`vigil users token`).\n\n" + _ON_RETRY,
    responses={
        **error_responses(*WRITE_ERRORS),
        409: {
            "model": Problem,
            "description": "The user is deactivated (`rule-violation`), or this is a retry of a "
            "request that issued a token (`token-already-issued`).",
        },
    },
)
def issue_token(
    vigil: VigilDep,
    actor: Manager,
    username: UsernamePath,
    body: Annotated[TokenCreate, Body()],
    keyed: Keyed,
) -> TokenIssuedAnswer:
    """Issue a user's first bearer token at enrolment, shown in this answer and never again."""
    return _issue(vigil, actor, username, body, keyed)


@router.delete(
    "/users/{username}/tokens/{token_id}", responses=_write_doc(200, "The user after it.")
)
def revoke_token(
    vigil: VigilDep,
    actor: Manager,
    username: UsernamePath,
    token_id: Annotated[UUID, Path(description="The token's id (from the user's tokens).")],
    keyed: Keyed,
) -> UserRead:
    """Revoke one token: it stops working at once (409 if already revoked)."""
    write = vigil.identity.change(
        username,
        RevokeToken(token_id=token_id),
        actor=actor,
        request=keyed.request_for(),
    )
    return _answer(write, keyed)


@router.post(
    "/users/{username}/deactivation",
    status_code=201,
    responses=_write_doc(201, "The user, deactivated."),
)
def deactivate_user(
    vigil: VigilDep, actor: Manager, username: UsernamePath, keyed: Keyed
) -> UserRead:
    """Deactivate a user: every token stops working at once, for good (409 for the last admin)."""
    write = vigil.identity.change(
        username, DeactivateUser(), actor=actor, request=keyed.request_for()
    )
    return _answer(write, keyed)


@router.post(
    "/users/{username}/reactivation",
    status_code=201,
    responses=_write_doc(201, "The user, active again."),
)
def reactivate_user(
    vigil: VigilDep, actor: Manager, username: UsernamePath, keyed: Keyed
) -> UserRead:
    """Reactivate a user; their old tokens stay revoked: issue a new one."""
    write = vigil.identity.change(
        username, ReactivateUser(), actor=actor, request=keyed.request_for()
    )
    return _answer(write, keyed)
