"""``vigil retention``: list the subjects whose retention period has run out; erase them."""

from __future__ import annotations

from typing import Annotated

import typer

from interfaces.cli.common import open_vigil


def retention(
    apply: Annotated[
        bool,
        typer.Option("--apply", help="Erase what is due (default: a dry run that only lists)."),
    ] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every subject, not only due and held ones.")
    ] = False,
) -> None:
    """List the subjects whose retention period has run out; with --apply, erase them.

    A subject is due once every one of its cases has been closed for its category's period
    (VIGIL_RETENTION_YEARS, VIGIL_RETENTION_DEFAULT_YEARS), counted from the closure's
    occurred_at, and a named caller's every helpline contact is past the contact period
    (VIGIL_RETENTION_CONTACT_YEARS) from when it occurred; a contact linked to a case follows
    its case. An anonymous contact is its own subject (ref anonymous:<contact id>), due on
    its own at the same age. Subjects under a legal hold are listed as held and skipped. Each
    erasure is recorded (SubjectErased, and PersonalDataErased on each case) as made by
    vigil-retention.
    """
    with open_vigil() as vigil:
        items = vigil.data_protection.retention_review()
        shown = [i for i in items if show_all or i.status in ("due", "held")]
        typer.echo(f"{'STATUS':<8}  {'KIND':<8}  {'CASES':>5}  {'CONTACTS':>8}  {'DUE':<10}  REF")
        for item in shown:
            due = item.due_at.date().isoformat() if item.due_at else "-"
            typer.echo(
                f"{item.status:<8}  {item.subject.kind.value:<8}  {len(item.case_ids):>5}  "
                f"{len(item.contact_ids):>8}  {due:<10}  {item.subject.ref}"
            )
        due_count = sum(1 for i in items if i.status == "due")
        held = sum(1 for i in items if i.status == "held")
        if held:
            typer.echo(f"{held} due but under a legal hold: skipped.", err=True)
        if not apply:
            typer.echo(
                f"{due_count} due; dry run, nothing erased (vigil retention --apply erases).",
                err=True,
            )
            return
        for result in vigil.data_protection.apply_retention():
            typer.echo(
                f"erased {result.subject.kind.value} {result.subject.ref}: "
                f"{len(result.case_ids)} case(s), {len(result.contact_ids)} contact(s), "
                f"{len(result.key_ids)} key(s) destroyed",
                err=True,
            )
        typer.echo(f"{due_count} erased.", err=True)
