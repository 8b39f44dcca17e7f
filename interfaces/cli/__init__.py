"""The ``vigil`` command line: the table of its commands, in the order ``vigil --help`` lists
them; each command group lives in its own module.

``run`` serves the API and runs the projector, ``users`` manages users and tokens, ``db`` sets
the database up, ``verify`` checks the log and case exports, and ``demo``, ``retention`` and
``permissions`` do what they say; ``rota`` plans and lists shifts; ``quality`` lists the
scorecard's versions; ``policies`` the SLA policy's; ``intake`` sets a forum's webhooks up.
How a command ends when refused is in ``common``.
"""

from __future__ import annotations

import typer

from interfaces.cli import (
    db,
    demo,
    intake,
    permissions,
    policies,
    quality,
    report,
    retention,
    rota,
    run,
    users,
    verify,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="vigil",
    help="Vigil: the system of record for safeguarding and escalation decisions.",
    no_args_is_help=True,
    add_completion=False,
    # Our own errors end in one line; anything else prints a plain traceback without locals
    # (locals can hold tokens and database passwords).
    pretty_exceptions_enable=False,
)
app.command()(run.serve)
app.command()(run.project)
app.command()(run.rebuild)
app.command()(run.status)
app.command()(demo.demo)
app.command()(permissions.permissions)
app.command()(verify.verify)
app.command("verify-export")(verify.verify_export)
app.command()(retention.retention)
app.add_typer(users.users_app, name="users")
app.add_typer(db.db_app, name="db")
# Shifts (issue 13): plan a weekly pattern, list the rota.
app.add_typer(rota.rota_app, name="rota")
# Quality review (issue 14): the scorecard's versions.
app.add_typer(quality.quality_app, name="quality")
# Compliance reports (issue 15): write one, or check a saved one against the log.
app.command()(report.report)
# The SLA policy (issue 15): its versions and targets.
app.add_typer(policies.policies_app, name="policies")
# Community intake (issue 16): a forum's webhook secret and the accounts that welcome.
app.add_typer(intake.intake_app, name="intake")


def main() -> None:
    app(prog_name="vigil")
