"""``vigil permissions``: the permission matrix, as a Markdown table or plain lines."""

from __future__ import annotations

from typing import Annotated

import typer

from domain.access.permissions import ALLOWED_ROLES, Permission, permission_table_markdown


def permissions(
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown/--plain", help="A Markdown table (for docs/access.md) or plain lines."
        ),
    ] = True,
) -> None:
    """Print the permission matrix: which roles hold which permission."""
    if markdown:
        typer.echo(permission_table_markdown(), nl=False)
        return
    for permission in Permission:
        allowed = ", ".join(role.value for role in ALLOWED_ROLES[permission]) or "-"
        typer.echo(f"{permission.value}  {allowed}")
