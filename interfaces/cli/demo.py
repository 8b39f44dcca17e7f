"""``vigil demo``: fill an empty store with a realistic demo and print each user's token."""

from __future__ import annotations

from typing import Annotated

import typer

from application.demo import DEMO_USERS, load_demo, store_is_empty
from application.demo_forum import load_forum
from interfaces.cli.common import CLI_ACTOR, open_vigil
from interfaces.http.in_process import discourse_sender


def demo(
    if_empty: Annotated[
        bool,
        typer.Option(
            "--if-empty", help="If the store already holds data, say so and exit 0 (for scripts)."
        ),
    ] = False,
) -> None:
    """Fill an empty store with a realistic demo; print '<username> <role> <token>' per user."""
    with open_vigil() as vigil:
        if if_empty and not store_is_empty(vigil):
            present = [u.username for u in DEMO_USERS if vigil.identity.exists(u.username)]
            example = present[0] if present else "USERNAME"
            typer.echo(
                "The store already holds data, so the demo was not loaded. "
                f"Get a token with: vigil users token {example}",
                err=True,
            )
            if present:
                typer.echo(f"Demo users: {', '.join(present)}", err=True)
            return
        loaded = load_demo(vigil, actor=CLI_ACTOR)
        # The forum's month of webhook deliveries, signed and posted to the real endpoint.
        forum = load_forum(vigil, discourse_sender(vigil))
    typer.echo(
        f"Loaded the demo: {len(loaded.case_ids)} cases and {len(loaded.tokens)} users. "
        "Their API tokens are shown once; get another with: vigil users token USERNAME",
        err=True,
    )
    rota = loaded.rota
    typer.echo(
        f"Services: {', '.join(rota.services)}; {len(rota.shift_ids)} shifts of the seed's rota "
        "(see: vigil rota list --from <a week ago>)"
        + (
            ""
            if rota.night is None
            else f"; the night on call's log: GET /api/v1/shifts/{rota.night.shift_id}/log"
        ),
        err=True,
    )
    helpline, day = loaded.helpline, loaded.helpline.day
    failed = helpline.failed_review
    typer.echo(
        f"The helpline's day ({day:%A} {day.day} {day:%B}): {len(helpline.contact_ids)} "
        f"contacts, {len(helpline.reviews)} reviews, {len(helpline.follow_ups)} follow-ups"
        + (
            "" if failed is None else f"; a failed review: GET /api/v1/contacts/{failed.contact_id}"
        ),
        err=True,
    )
    typer.echo(
        f"The forum's Discourse intake: {forum.delivered} signed deliveries accepted, "
        f"{len(forum.members)} new members"
        + ("" if forum.case_id is None else f", a case from two flags: {forum.case_id}"),
        err=True,
    )
    if not loaded.out_of_hours:
        typer.echo(
            "The service calendar has no recent out-of-hours period, so the demo has no "
            "out-of-hours decision.",
            err=True,
        )
    for user, token in loaded.tokens:
        typer.echo(f"{user.username} {user.role.value} {token}")
