"""``vigil report KIND --from D --to D [--as-of T] [--service S] [--format F] [--output FILE]``.

Brings the views and the hash ledger up to the log's head (a progress bar on stderr when that
takes a while), then writes the report: JSON (the reference) by default, ``csv`` (a zip of one
CSV per table), ``html`` or ``pdf``; to ``--output`` or stdout. The same parameters (with
``--as-of``) write the same bytes for JSON and CSV whenever they are run.

``--check FILE`` recomputes a saved JSON report from its own parameters (kind, period, service,
``as_of``) and exits 1 naming the first difference when it does not match (0 when it does).
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from application.reports.document import to_json
from application.reports.service import ReportRequest
from interfaces.cli.common import EXIT_REFUSED, EXIT_USAGE, fail, open_vigil
from interfaces.composition import Vigil
from interfaces.reports import render_csv_zip, render_html, render_pdf

_STEP = 5_000


def _caught_up(vigil: Vigil, progress: bool) -> None:
    """Every view, then the hash ledger, at the log's head; a bar while far behind."""
    projector = vigil.projector
    head = projector.head()
    behind = head - min(projector.positions().values(), default=head)
    with typer.progressbar(
        length=max(1, behind),
        label="Bringing the views up to date",
        file=sys.stderr,
        hidden=not progress or behind < _STEP,
        show_pos=True,
    ) as bar:
        while True:
            moved = projector.catch_up(_STEP)
            done = behind - (head - min(projector.positions().values(), default=head))
            bar.update(max(0, done - bar.pos))
            if moved == 0:
                break
    vigil.integrity.notary.catch_up()


def report(
    kind: Annotated[
        str, typer.Argument(help="trustee, sla, helpline, shifts, moderation or community.")
    ],
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD, the service's date).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Count what was recorded by then (RFC 3339); default now."),
    ] = None,
    service: Annotated[
        str | None, typer.Option(help="One service's report; default every service.")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="json, csv (a zip), html or pdf.")
    ] = "json",
    output: Annotated[
        Path | None, typer.Option(help="Write here instead of stdout.", dir_okay=False)
    ] = None,
    check: Annotated[
        Path | None,
        typer.Option(
            help="Recompute this saved JSON report and exit 1 at its first difference.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")
    ] = True,
) -> None:
    """Write a compliance report, or check a saved one against the log."""
    if check is not None:
        _check(check, kind, progress)
        return
    if start is None or end is None:
        fail("--from and --to are required (or --check FILE)", EXIT_USAGE)
    if output_format not in ("json", "csv", "html", "pdf"):
        fail(f"unknown format {output_format!r}: json, csv, html or pdf", EXIT_USAGE)
    try:
        request = ReportRequest(
            kind,
            date.fromisoformat(start),
            date.fromisoformat(end),
            service,
            None if as_of is None else datetime.fromisoformat(as_of),
        )
    except ValueError as exc:
        fail(f"invalid date or moment: {exc}", EXIT_USAGE)
    with open_vigil() as vigil:
        _caught_up(vigil, progress)
        document = vigil.reports.report(request)
    if output_format == "json":
        body = to_json(document)
    elif output_format == "csv":
        body = render_csv_zip(document)
    elif output_format == "html":
        body = render_html(document).encode()
    else:
        body = render_pdf(document)
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(body)
        typer.echo(f"Wrote {output} ({len(body)} bytes).", err=True)


def _check(path: Path, kind: str, progress: bool) -> None:
    try:
        saved = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        fail(f"cannot read {path} as a JSON report: {exc}", EXIT_USAGE)
    if not isinstance(saved, dict) or saved.get("kind") != kind:
        found = saved.get("kind") if isinstance(saved, dict) else None
        fail(f"{path} is not a {kind!r} report (its kind: {found!r})", EXIT_USAGE)
    with open_vigil() as vigil:
        _caught_up(vigil, progress)
        difference = vigil.reports.check(saved)
    if difference is not None:
        typer.echo(f"{path} does not match the log: {difference}", err=True)
        raise typer.Exit(EXIT_REFUSED)
    typer.echo(f"{path} matches the log (as of {saved['parameters']['as_of']}).", err=True)
