"""``vigil quality``: the quality scorecard.

``vigil quality scorecards`` lists every version of the scorecard, oldest first, one
tab-separated line each on stdout: version, effective from, pass mark, number of criteria (of
which critical), name, and ``in force`` on the version in force now (``scheduled`` on those
still to take effect). ``--criteria`` follows each version with its criteria, indented: key,
weight, maximum score, ``critical``/``safeguarding``, label. It reads only: the default
scorecard, while not yet recorded, is listed as the code gives it (and said so on stderr).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from domain.quality.scoring import Criterion, ScorecardVersion
from interfaces.cli.common import open_vigil

quality_app = typer.Typer(help="Quality review: the scorecard.", no_args_is_help=True)


def _status(version: ScorecardVersion, current: ScorecardVersion | None, now: datetime) -> str:
    if current is not None and version.version == current.version:
        return "in force"
    return "scheduled" if version.effective_from > now else "earlier"


def _line(version: ScorecardVersion, status: str) -> str:
    critical = sum(1 for c in version.criteria if c.critical)
    return "\t".join(
        [
            str(version.version),
            version.effective_from.isoformat(),
            f"{version.pass_mark:g}",
            f"{len(version.criteria)} criteria ({critical} critical)",
            version.name,
            status,
        ]
    )


def _criterion_line(criterion: Criterion) -> str:
    flags = [name for name in ("critical", "safeguarding") if getattr(criterion, name)]
    return "\t".join(
        [
            "",
            criterion.key,
            f"weight {criterion.weight:g}",
            f"0-{criterion.max_score}",
            ",".join(flags) or "-",
            criterion.label,
        ]
    )


@quality_app.command("scorecards")
def scorecards(
    criteria: Annotated[
        bool, typer.Option("--criteria", help="Follow each version with its criteria.")
    ] = False,
) -> None:
    """List the scorecard's versions, oldest first, marking the one in force now."""
    with open_vigil() as vigil:
        now = vigil.clock()
        state = vigil.scorecards.current()
        current = state.in_force(now)
        for version in state.versions:
            typer.echo(_line(version, _status(version, current, now)))
            if criteria:
                for criterion in version.criteria:
                    typer.echo(_criterion_line(criterion))
    note = (
        ""
        if state.version > 0
        else " (the default, not yet recorded: the first review or new version records it)"
    )
    typer.echo(f"{len(state.versions)} version(s){note}.", err=True)
