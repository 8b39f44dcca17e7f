"""``vigil policies``: the SLA policy.

``vigil policies show`` lists every version of the SLA policy, oldest first, one tab-separated
line each on stdout (version, effective from, ``in force``/``scheduled``/``earlier``, rationale),
each followed by its targets in words, indented (name, target). It reads only: version 1, while
not yet recorded, is listed as the settings give it (and said so on stderr).
"""

from __future__ import annotations

from datetime import datetime

import typer

from domain.policy.sla import SlaPolicyVersion
from interfaces.cli.common import open_vigil

policies_app = typer.Typer(help="The SLA policy: service-level targets.", no_args_is_help=True)


def _status(version: SlaPolicyVersion, current: SlaPolicyVersion, now: datetime) -> str:
    if version.version == current.version:
        return "in force"
    return "scheduled" if version.effective_from > now else "earlier"


@policies_app.command("show")
def show() -> None:
    """List the SLA policy's versions, oldest first, each with its targets."""
    with open_vigil() as vigil:
        now = vigil.clock()
        state = vigil.sla_policies.current()
        current = state.history().in_force(now)
        for version in state.versions:
            status = _status(version, current, now)
            rationale = version.rationale or ""
            typer.echo(
                f"{version.version}\t{version.effective_from.isoformat()}\t{status}\t{rationale}"
            )
            for name, words in version.targets.described().items():
                if isinstance(words, dict):
                    for key, each in words.items():
                        typer.echo(f"\t{name}.{key}\t{each}")
                else:
                    typer.echo(f"\t{name}\t{words}")
    note = "" if state.version > 0 else " (version 1 from the settings, not yet recorded)"
    typer.echo(f"{len(state.versions)} version(s){note}.", err=True)
