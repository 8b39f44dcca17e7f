"""``vigil rota``: plan a weekly pattern of shifts, and list the rota.

``vigil rota plan --role on_call --assignee casey --weekly tue=19:00-23:00,sat=20:00-23:00
--from 2026-12-01 --until 2026-12-31`` plans each shift of the pattern in the service's time
zone, as ``POST /api/v1/rota`` does, recorded as the host operator (``cli``) or, with ``--by``,
as a coordinator or safeguarding lead. ``vigil rota list`` prints the shifts meeting a range of
dates. Shift lines go to stdout (one per shift, tab-separated), everything else to stderr.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError

from domain.access.permissions import Permission, permits
from domain.service.commands import DEFAULT_SERVICE
from domain.shared import Actor, Role
from domain.shift.rota import PlanRota
from domain.shift.state import ShiftState
from domain.shift.vocabulary import ShiftRole
from interfaces.cli.common import CLI_ACTOR, EXIT_USAGE, fail, open_vigil, parse_username
from interfaces.composition import Vigil

rota_app = typer.Typer(help="The rota: shifts planned from weekly patterns.", no_args_is_help=True)

# The host operator, as plans made from the command line record it.
OPERATOR = Actor(username=CLI_ACTOR, role=Role.ADMIN)
_SLOT = re.compile(r"^([a-z]{3})=(\d{2}:\d{2})-(\d{2}:\d{2})$")


def parse_weekly(text: str) -> list[dict[str, str]]:
    """``tue=19:00-23:00,sat=20:00-23:00`` (a day may come more than once) as ``weekly``."""
    slots = []
    for part in text.split(","):
        found = _SLOT.match(part.strip().lower())
        if found is None:
            fail(
                f"cannot read {part.strip()!r} in --weekly: write DAY=HH:MM-HH:MM, comma-"
                "separated, e.g. tue=19:00-23:00,sat=20:00-23:00",
                EXIT_USAGE,
            )
        day, start, end = found.groups()
        slots.append({"weekday": day, "start": start, "end": end})
    return slots


def _as(vigil: Vigil, username: str | None) -> Actor:
    if username is None:
        return OPERATOR
    user = vigil.identity.get(parse_username(username))
    actor = None if user is None else user.actor()
    if actor is None or not permits(actor, Permission.SHIFT_PLAN):
        fail(f"{username} is not an active coordinator or safeguarding lead: they may not plan")
    return actor


def _line(shift: ShiftState, zone: ZoneInfo) -> str:
    who = "+".join(dict.fromkeys(s.assignee for s in shift.segments()))
    status = "cancelled" if shift.cancelled else "planned"
    start = shift.starts_at.astimezone(zone).isoformat(timespec="minutes")
    end = shift.ends_at.astimezone(zone).isoformat(timespec="minutes")
    return "\t".join([start, end, shift.service, shift.role.value, who, status, str(shift.id)])


@rota_app.command("plan")
def plan(
    role: Annotated[ShiftRole, typer.Option("--role", help="What the assignee does on it.")],
    assignee: Annotated[str, typer.Option("--assignee", help="Who is on the shifts.")],
    weekly: Annotated[
        str,
        typer.Option(
            "--weekly",
            help="The week's shifts, local time: DAY=HH:MM-HH:MM, comma-separated "
            "(tue=19:00-23:00,sat=20:00-23:00); an end not after the start runs past midnight.",
        ),
    ],
    from_: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First date.")],
    until: Annotated[datetime, typer.Option("--until", formats=["%Y-%m-%d"], help="Last date.")],
    service: Annotated[str, typer.Option("--service", help="The service.")] = DEFAULT_SERVICE,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Record the plan as this coordinator or lead (default: cli)."),
    ] = None,
) -> None:
    """Plan each shift of a weekly pattern from --from to --until (both included), in the
    service's time zone: one line per shift on stdout."""
    try:
        command = PlanRota.model_validate(
            {
                "service": service,
                "role": role,
                "assignee": parse_username(assignee),
                "weekly": parse_weekly(weekly),
                "from": from_.date(),
                "until": until.date(),
            }
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
        )
        fail(f"invalid rota: {problems}", EXIT_USAGE)
    with open_vigil() as vigil:
        planned = vigil.shifts.plan_rota(command, _as(vigil, by))
        zone = vigil.shifts.zone_of(command.service)
        for shift in planned.shifts:
            typer.echo(_line(shift, zone))
    typer.echo(
        f"Planned {len(planned.shifts)} shift(s) for {command.assignee} "
        f"({command.role.value}, service {command.service}).",
        err=True,
    )


@rota_app.command("list")
def list_rota(
    from_: Annotated[
        datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First date (default: today)."),
    ] = None,
    to: Annotated[
        datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last date (default: a week on)."),
    ] = None,
    assignee: Annotated[str | None, typer.Option("--assignee", help="Only theirs.")] = None,
    service: Annotated[str | None, typer.Option("--service", help="Only this service's.")] = None,
) -> None:
    """List the shifts meeting --from to --to (both included, in the service's time zone),
    by start: start, end, service, role, who (parts joined by +), status, id."""
    with open_vigil() as vigil:
        zone = vigil.shifts.zone_of(service or DEFAULT_SERVICE)
        first = from_.date() if from_ is not None else datetime.now(zone).date()
        last = to.date() if to is not None else first + timedelta(days=7)
        if last < first:
            fail("--to is before --from", EXIT_USAGE)
        shifts = vigil.shifts.planned(
            _midnight(first, zone),
            _midnight(last + timedelta(days=1), zone),
            assignee=None if assignee is None else parse_username(assignee),
            service=service,
        )
        for shift in shifts:
            typer.echo(_line(shift, zone))
    typer.echo(f"{len(shifts)} shift(s).", err=True)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)
