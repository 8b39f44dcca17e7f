"""Users, roles and tokens, for admins: list, register, grant and revoke roles, issue and revoke
tokens, deactivate and reactivate. Everything here is an event (actor: the admin who asked);
nothing here shows case content, and no token is ever shown twice.

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

from application.identity import UserNotFound, UserWrite
from application.permissions import Permission
from domain.errors import InvalidCommand
from domain.identity.user import (
    DeactivateUser,
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


class UserRead(BaseModel):
    username: str
    role: Role = Field(description="The primary role, recorded on the events the user writes.")
    roles: list[Role] = Field(description="Every role held; permissions are their union.")
    active: bool
    registered_at: datetime
    version: int = Field(description="How many events the user's record holds.")
    tokens: list[TokenRead]


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
        description="2-63 characters: lower-case letters, digits, '.', '_' or '-'."
    )
    role: Role


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
            )
            for t in user.tokens
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
    """Register a user with a role (409 if the name is taken). Issue a token separately."""
    write = vigil.identity.register_user(
        body.username, body.role, actor=actor.username, request=keyed.request_for(body)
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
    """Grant one more role (409 if held already, or the user is deactivated)."""
    write = vigil.identity.change(
        username, GrantRole(role=body.role), actor=actor.username, request=keyed.request_for(body)
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
        username, RevokeRole(role=role), actor=actor.username, request=keyed.request_for()
    )
    return _answer(write, keyed)


_ON_RETRY = (
    "A retry with the same Idempotency-Key and body is refused with 409 "
    "`token-already-issued` (naming the token's id) and appends nothing: the secret is never "
    "stored, so it cannot be shown again. Issue another token with a new key, and revoke the "
    "first if its answer was lost. The same key with another body is 422."
)


@router.post(
    "/users/{username}/tokens",
    status_code=201,
    description="Issue a bearer token for the user, shown in this answer and never again.\n\n"
    + _ON_RETRY,
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
    """Issue a bearer token for the user, shown in this answer and never again."""
    lifetime = None if body.expires_in_days is None else timedelta(days=body.expires_in_days)
    longest = timedelta(days=MAX_TOKEN_DAYS)
    if body.expires_at is not None and body.expires_at - vigil.clock() > longest:
        raise InvalidCommand(
            f"a token expires at most {MAX_TOKEN_DAYS} days from now",
            errors={"expires_at": f"more than {MAX_TOKEN_DAYS} days from now"},
        )
    issued = vigil.identity.issue(
        username,
        actor=actor.username,
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
        actor=actor.username,
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
        username, DeactivateUser(), actor=actor.username, request=keyed.request_for()
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
        username, ReactivateUser(), actor=actor.username, request=keyed.request_for()
    )
    return _answer(write, keyed)
