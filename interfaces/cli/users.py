"""``vigil users``: register users, issue and revoke their API tokens, grant and revoke roles."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Annotated
from uuid import UUID

import typer

from domain.access.permissions import reads_case_content
from domain.identity.user import roles_given_alone
from domain.shared import ROLE_PRECEDENCE, Role
from interfaces.cli.common import CLI_ACTOR, EXIT_USAGE, fail, open_vigil, parse_username

users_app = typer.Typer(help="Users and their API tokens.", no_args_is_help=True)


@users_app.command("add")
def add_user(
    username: Annotated[str, typer.Argument(help="Lower-case letters, digits, '.', '_', '-'.")],
    role: Annotated[Role, typer.Option("--role", help="The user's role.", case_sensitive=False)],
) -> None:
    """Register a user and print a new API token (the last line)."""
    name = parse_username(username)
    with open_vigil() as vigil:
        vigil.identity.register(name, role, actor=CLI_ACTOR)
        token = vigil.identity.issue_token(name, actor=CLI_ACTOR)
    typer.echo(f"Registered {name} as {role.value}. API token (shown once):", err=True)
    typer.echo(token)


@users_app.command("token")
def issue_token(
    username: Annotated[str, typer.Argument(help="An existing user.")],
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in",
            help="Expire after this long: e.g. 90d, 12h, 30m (default: never).",
        ),
    ] = None,
) -> None:
    """Issue another API token for an existing user (the last line)."""
    name = parse_username(username)
    lifetime = None if expires_in is None else _duration(expires_in)
    with open_vigil() as vigil:
        issued = vigil.identity.issue(name, actor=CLI_ACTOR, expires_in=lifetime)
    expires_at = issued.expires_at
    until = "never expires" if expires_at is None else f"expires {expires_at.isoformat()}"
    typer.echo(f"New API token for {name} (id {issued.token_id}, {until}; shown once):", err=True)
    typer.echo(issued.token)


_DURATION = re.compile(r"^(\d{1,6})([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        fail(f"invalid duration {text!r}: use a number and d, h or m, e.g. 90d", EXIT_USAGE)
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@users_app.command("grant")
def grant_role(
    username: Annotated[str, typer.Argument(help="An existing user.")],
    role: Annotated[Role, typer.Argument(help="The role to add.", case_sensitive=False)],
) -> None:
    """Grant a user one more role."""
    name = parse_username(username)
    with open_vigil() as vigil:
        user = vigil.identity.grant_role(name, role, actor=CLI_ACTOR)
    typer.echo(f"{name} now holds: {_roles(user.roles)}.", err=True)


@users_app.command("revoke")
def revoke_role(
    username: Annotated[str, typer.Argument(help="An existing user.")],
    role: Annotated[Role, typer.Argument(help="The role to take away.", case_sensitive=False)],
) -> None:
    """Revoke a role (never a user's only role, nor the last active admin's)."""
    name = parse_username(username)
    with open_vigil() as vigil:
        user = vigil.identity.revoke_role(name, role, actor=CLI_ACTOR)
    typer.echo(f"{name} now holds: {_roles(user.roles)}.", err=True)


@users_app.command("revoke-token")
def revoke_token(
    username: Annotated[str, typer.Argument(help="The token's user.")],
    token_id: Annotated[str, typer.Argument(help="The token's id (see `vigil users list`).")],
) -> None:
    """Revoke one token by its id: it stops working at once."""
    name = parse_username(username)
    try:
        parsed = UUID(token_id)
    except ValueError:
        fail(f"invalid token id {token_id!r}: a UUID, as `vigil users list` shows", EXIT_USAGE)
    with open_vigil() as vigil:
        vigil.identity.revoke_token(name, parsed, actor=CLI_ACTOR)
    typer.echo(f"Revoked token {parsed} of {name}.", err=True)


@users_app.command("deactivate")
def deactivate_user(username: Annotated[str, typer.Argument(help="An existing user.")]) -> None:
    """Deactivate a user: all their tokens stop working at once, for good."""
    name = parse_username(username)
    with open_vigil() as vigil:
        vigil.identity.deactivate(name, actor=CLI_ACTOR)
    typer.echo(f"Deactivated {name}; their tokens no longer work.", err=True)


@users_app.command("reactivate")
def reactivate_user(username: Annotated[str, typer.Argument(help="A deactivated user.")]) -> None:
    """Reactivate a user (issue them a new token: the old ones stay revoked)."""
    name = parse_username(username)
    with open_vigil() as vigil:
        vigil.identity.reactivate(name, actor=CLI_ACTOR)
    typer.echo(f"Reactivated {name}. Issue a token with: vigil users token {name}", err=True)


@users_app.command("list")
def list_users(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per user.")] = False,
) -> None:
    """List users: roles, whether active, live tokens (ids and expiry, never the secret), and
    roles one person gave alone where a second person is now needed."""
    with open_vigil() as vigil:
        now = vigil.clock()
        found = vigil.identity.list_users()
    persons = {user.username for user in found}
    for user in found:
        live = [t for t in user.tokens if t.live_at(now)]
        # Given before a second person was needed: in force until revoked (docs/access.md).
        alone = roles_given_alone(user, persons.__contains__, reads_case_content)
        if as_json:
            record = {
                "username": user.username,
                "roles": sorted(r.value for r in user.roles),
                "awaiting_approval": sorted(g.role.value for g in user.pending_grants.values()),
                "active": user.active,
                "live_tokens": [
                    {
                        "token_id": str(t.token_id),
                        "expires_at": None if t.expires_at is None else t.expires_at.isoformat(),
                    }
                    for t in live
                ],
                "granted_alone": [{"role": r.value, "by": by} for r, by in alone],
            }
            typer.echo(json.dumps(record))
            continue
        state = "active" if user.active else "deactivated"
        tokens = ", ".join(
            f"{t.token_id}" + ("" if t.expires_at is None else f" (until {t.expires_at:%Y-%m-%d})")
            for t in live
        )
        waiting = _roles(frozenset(g.role for g in user.pending_grants.values()))
        awaiting = f"  awaiting approval: {waiting}" if waiting else ""
        flagged = "".join(
            f"  {role.value} granted alone by {'themselves' if by == user.username else by}"
            for role, by in alone
        )
        typer.echo(
            f"{user.username}  {_roles(user.roles)}{awaiting}{flagged}  {state}  "
            f"tokens: {tokens or 'none'}"
        )


def _roles(roles: frozenset[Role]) -> str:
    return ",".join(role.value for role in ROLE_PRECEDENCE if role in roles)
