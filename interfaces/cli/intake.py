"""``vigil intake``: a forum's webhooks as a source (issue 16).

``vigil intake add discourse SERVICE --secret-file FILE [--forum-url URL]`` sets the service's
Discourse webhook secret (read from a file, never from the command line, where other users and
the shell's history would see it; at least 16 characters, surrounding whitespace ignored) and the
forum's address (for links to flagged posts). Run it again to change the secret; the earlier one
stops working at once.

``vigil intake link SERVICE FORUM_USERNAME USERNAME`` maps a forum account to a Vigil user (a
host, moderator or volunteer): their replies in a new member's first topic and their private
messages to a new member welcome them. ``vigil intake unlink SERVICE FORUM_USERNAME`` undoes it;
``vigil intake accounts SERVICE`` lists the map (forum username, Vigil user: tab-separated).
Each is recorded as the host operator (``cli``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from domain.community.decide import (
    ConfigureDiscourseIntake,
    LinkForumAccount,
    UnlinkForumAccount,
)
from domain.shared import Actor, Role
from interfaces.cli.common import CLI_ACTOR, EXIT_USAGE, fail, open_vigil

intake_app = typer.Typer(help="Community intake: a forum's signed webhooks.", no_args_is_help=True)
add_app = typer.Typer(help="Add (or re-key) a forum's intake.", no_args_is_help=True)
intake_app.add_typer(add_app, name="add")

OPERATOR = Actor(username=CLI_ACTOR, role=Role.ADMIN)


def _words(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in error.errors()
    )


@add_app.command("discourse")
def add_discourse(
    service: Annotated[str, typer.Argument(help="The service the forum is (GET /services).")],
    secret_file: Annotated[
        Path, typer.Option("--secret-file", help="A file holding the webhook's secret.")
    ],
    forum_url: Annotated[
        str | None,
        typer.Option("--forum-url", help="The forum's address, e.g. https://forum.example.org"),
    ] = None,
) -> None:
    """Set a service's Discourse webhook secret (and the forum's address)."""
    try:
        secret = secret_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read the secret file {secret_file}: {error}", EXIT_USAGE)
    try:
        command = ConfigureDiscourseIntake(secret=secret, forum_url=forum_url)
    except ValidationError as error:
        # Never echo the secret: name the rule only.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        fail(f"refused: {problems}", EXIT_USAGE)
    with open_vigil() as vigil:
        written = vigil.community.configure_discourse(service, command, OPERATOR)
    typer.echo(
        f"Discourse intake for {service!r} set (version {written.intake.version}). Point the "
        f"forum's webhook at /api/v1/intake/discourse/{service} with this secret.",
        err=True,
    )


@intake_app.command("link")
def link(
    service: Annotated[str, typer.Argument(help="The forum's service.")],
    forum_username: Annotated[str, typer.Argument(help="The account's username on the forum.")],
    username: Annotated[str, typer.Argument(help="The Vigil user it belongs to.")],
) -> None:
    """Map a forum account to a Vigil user: its replies and messages welcome new members."""
    try:
        command = LinkForumAccount(forum_username=forum_username, username=username)
    except ValidationError as error:
        fail(f"refused: {_words(error)}", EXIT_USAGE)
    with open_vigil() as vigil:
        written = vigil.community.link_account(service, command, OPERATOR)
    state = "mapped" if written.events else "already mapped"
    typer.echo(f"{command.forum_username} -> {command.username}: {state}.", err=True)


@intake_app.command("unlink")
def unlink(
    service: Annotated[str, typer.Argument(help="The forum's service.")],
    forum_username: Annotated[str, typer.Argument(help="The account's username on the forum.")],
) -> None:
    """Remove a forum account from the map."""
    try:
        command = UnlinkForumAccount(forum_username=forum_username)
    except ValidationError as error:
        fail(f"refused: {_words(error)}", EXIT_USAGE)
    with open_vigil() as vigil:
        vigil.community.unlink_account(service, command, OPERATOR)
    typer.echo(f"{command.forum_username}: unmapped.", err=True)


@intake_app.command("accounts")
def accounts(service: Annotated[str, typer.Argument(help="The forum's service.")]) -> None:
    """List the forum accounts mapped to Vigil users."""
    with open_vigil() as vigil:
        intake = vigil.community.intake(service)
        if intake is None:
            fail(f"no intake for the service {service!r}: vigil intake add discourse {service}")
        for forum_username, username in sorted(intake.accounts.items()):
            typer.echo(f"{forum_username}\t{username}")
        configured = "configured" if intake.configured else "no secret set"
        typer.echo(f"{len(intake.accounts)} account(s); {configured}.", err=True)
