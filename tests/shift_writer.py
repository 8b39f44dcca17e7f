"""Shift events for the read side's tests, written without the shift service: each command is
decided by the domain's own ``decide`` and appended through the one write path (``WritePath``),
as the service does. The write side's service and its HTTP routes (``POST /shifts``...) land
separately; a story written with these methods switches to them one call for one call."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from application.write_path import WritePath, Written
from domain.shared import Actor, DecisionContext, Role
from domain.shift import commands as c
from domain.shift.decide import ShiftContext, decide
from domain.shift.events import HandoverRecorded, ShiftEvent
from domain.shift.state import ShiftState, evolve
from interfaces.composition import Vigil

CASEY = Actor(username="casey", role=Role.COORDINATOR)
LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
KIT = Actor(username="kit", role=Role.VOLUNTEER)
SAM = Actor(username="sam", role=Role.MODERATOR)
COVER_REASON = "Cover agreed with the coordinator for tonight."


def _fold(state: ShiftState | None, events: Iterable[Any]) -> ShiftState | None:
    for event in events:
        state = evolve(state, event)
    return state


class ShiftWriter:
    """Plans shifts and records attendance and handovers on a Vigil container's log."""

    def __init__(self, vigil: Vigil) -> None:
        self.vigil = vigil
        self.path = WritePath[ShiftState](
            vigil.event_log,
            name="shift",
            fold=_fold,
            version=lambda state: state.version,
            retries=5,
        )

    def run(
        self, shift_id: UUID, command: c.ShiftCommand, actor: Actor, *, new: bool = False
    ) -> list[ShiftEvent]:
        ctx = ShiftContext(
            decision=DecisionContext(actor=actor, now=self.vigil.clock()),
            shift_id=shift_id if new else None,
        )

        def answer(written: Written[ShiftState]) -> list[ShiftEvent]:
            return list(written.events)

        return self.path.write(shift_id, lambda state: decide(state, command, ctx), answer)

    def plan(
        self,
        assignee: str,
        starts_at: datetime,
        ends_at: datetime,
        *,
        role: str = "on_call",
        service: str = "default",
        by: Actor = CASEY,
        reason: str | None = None,
    ) -> UUID:
        shift_id = uuid4()
        command = c.PlanShift(
            service=service,
            role=role,
            assignee=assignee,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
        )
        self.run(shift_id, command, by, new=True)
        return shift_id

    def reassign(
        self,
        shift_id: UUID,
        assignee: str,
        *,
        from_at: datetime | None = None,
        until: datetime | None = None,
        by: Actor = CASEY,
    ) -> None:
        command = c.ReassignShift(
            assignee=assignee, reason=COVER_REASON, from_at=from_at, until=until
        )
        self.run(shift_id, command, by)

    def cancel(self, shift_id: UUID, *, by: Actor = CASEY) -> None:
        self.run(shift_id, c.CancelShift(reason="Not needed this week."), by)

    def check_in(
        self, shift_id: UUID, person: Actor, *, occurred_at: datetime | None = None
    ) -> None:
        self.run(shift_id, c.CheckIn(occurred_at=occurred_at), person)

    def check_out(
        self,
        shift_id: UUID,
        person: Actor,
        *,
        occurred_at: datetime | None = None,
        on_behalf_of: str | None = None,
    ) -> None:
        reason = None if on_behalf_of is None else "Forgot to check out; confirmed by phone."
        command = c.CheckOut(occurred_at=occurred_at, on_behalf_of=on_behalf_of, reason=reason)
        self.run(shift_id, command, person)

    def hand_over(
        self,
        shift_id: UUID,
        person: Actor,
        *,
        case_ids: Sequence[UUID] = (),
        to: str | None = None,
        occurred_at: datetime | None = None,
    ) -> UUID:
        command = c.RecordHandover(
            note="Member in case 1 may post again overnight; crisis line details sent.",
            case_ids=list(case_ids),
            to=to,
            occurred_at=occurred_at,
        )
        (event,) = self.run(shift_id, command, person)
        assert isinstance(event, HandoverRecorded)
        return event.handover_id

    def acknowledge(
        self,
        shift_id: UUID,
        handover_id: UUID,
        person: Actor,
        *,
        occurred_at: datetime | None = None,
    ) -> None:
        command = c.AcknowledgeHandover(handover_id=handover_id, occurred_at=occurred_at)
        self.run(shift_id, command, person)
