"""The serious-incident register's sign-offs: the command, the decision and the state.

Pure: the actor and the clock come in on the ``DecisionContext``. The rules (422 each, naming
the field):

* ``period_to`` is not before ``period_from``, and the period is at most a year (up to the day
  before the same date a year on: 2026-04-01 to 2027-03-31).
* The period has ended by ``as_of``: its last day is before the day of ``as_of`` (UTC), so a
  register is never signed off while its period can still gain incidents.
* ``as_of`` (default: now) is not in the future beyond the allowed clock skew: a trustee signs
  off the register as it stood, never as it will.

Signing the same period again is allowed (another trustee, or a later ``as_of`` after late
decisions): each sign-off is on the record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.case.ids import event_id_for
from domain.compliance.events import REGISTER_ID, RegisterEvent, SeriousIncidentRegisterSignedOff
from domain.errors import InvalidCommand
from domain.shared import DecisionContext, Moment


class SignOffRegister(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    period_from: date = Field(description="The period's first day.")
    period_to: date = Field(description="The period's last day (at most a year after from).")
    as_of: Moment | None = Field(
        default=None,
        description="The moment of the register the trustee read (RFC 3339 with offset): what "
        "had been recorded by then. Default now; never in the future; after the period.",
    )


class SignOff(BaseModel):
    model_config = ConfigDict(frozen=True)

    sign_off_id: UUID = Field(description="The id of the sign-off's event.")
    period_from: date
    period_to: date
    as_of: datetime
    signed_off_by: str
    signed_off_at: datetime = Field(description="When it was signed off (server clock).")


class RegisterState(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    version: int
    sign_offs: tuple[SignOff, ...] = ()


def _year_on(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February: a year on is 1 March
        return date(day.year + 1, 3, 1)


def decide(
    state: RegisterState | None, command: SignOffRegister, ctx: DecisionContext
) -> list[RegisterEvent]:
    """The sign-off's event, or InvalidCommand naming every field at fault."""
    as_of = (command.as_of or ctx.now).astimezone(UTC)
    errors: dict[str, str] = {}
    if command.period_to < command.period_from:
        errors["period_to"] = "must be on or after period_from"
    elif command.period_to >= _year_on(command.period_from):
        errors["period_to"] = "the period is at most a year (before the same date a year on)"
    if as_of > ctx.now + ctx.max_clock_skew:
        errors["as_of"] = f"later than the server clock ({ctx.now.isoformat()})"
    elif command.period_to >= as_of.astimezone(UTC).date():
        errors["period_to"] = errors.get("period_to") or (
            f"the period has not ended by as_of ({as_of.isoformat()}): its last day must be "
            "before the day of as_of (UTC)"
        )
    if errors:
        raise InvalidCommand(
            "the register cannot be signed off for this period: "
            + "; ".join(f"{k}: {v}" for k, v in errors.items()),
            errors=errors,
        )
    version = 1 if state is None else state.version + 1
    return [
        SeriousIncidentRegisterSignedOff(
            originator_id=REGISTER_ID,
            originator_version=version,
            event_id=event_id_for(REGISTER_ID, version),
            occurred_at=ctx.now,
            recorded_at=ctx.now,
            actor=ctx.actor.username,
            actor_role=ctx.actor.role,
            period_from=command.period_from,
            period_to=command.period_to,
            as_of=as_of,
        )
    ]


def evolve(state: RegisterState | None, event: RegisterEvent) -> RegisterState:
    """Fold one event (never raises on a stored event)."""
    if state is None:
        state = RegisterState(id=event.originator_id, version=0)
    update: dict[str, object] = {"version": event.originator_version}
    if isinstance(event, SeriousIncidentRegisterSignedOff):
        sign_off = SignOff(
            sign_off_id=event.event_id,
            period_from=event.period_from,
            period_to=event.period_to,
            as_of=event.as_of,
            signed_off_by=event.actor,
            signed_off_at=event.recorded_at,
        )
        update["sign_offs"] = (*state.sign_offs, sign_off)
    return state.model_copy(update=update)


def fold(
    events: Iterable[RegisterEvent], state: RegisterState | None = None
) -> RegisterState | None:
    for event in events:
        state = evolve(state, event)
    return state
