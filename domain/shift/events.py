"""Events of the Shift aggregate: a shift planned, reassigned (wholly or in part) or cancelled,
the attendance against it, and the handovers of the people on it.

THESE CLASSES ARE THE STORAGE FORMAT (topic ``domain.shift.events:<Class>``): never rename or
move them, never remove or retype a field; add fields only with defaults.

One stream per shift. Plan events (planned, reassigned, cancelled) occur when recorded; the
attendance and handover events carry the client's ``occurred_at`` (a late log) beside the
server's ``recorded_at``. ``actor`` is always the authenticated user who recorded the event: the
person checking in or out, or the lead recording a forgotten check-out (``on_behalf_of``).

Only a handover's ``note`` is personal (sealed under a key of the handover's own,
``DataSubjectOf.handover``). Reasons must say why without describing anyone's health or
circumstances ("swap agreed with the coordinator", not a diagnosis): they are never sealed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.personal import DataSubjectOf
from domain.shared import PERSONAL, Role
from domain.shift.vocabulary import ShiftRole


class ShiftEvent(BaseModel):
    """Envelope shared by every shift event."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID = Field(description="The shift's id.")
    originator_version: int = Field(ge=1)
    event_id: UUID
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: str
    actor_role: Role

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at


class ShiftPlanned(ShiftEvent):
    service: str = Field(description="The service's name.")
    role: ShiftRole
    assignee: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    pattern_id: UUID | None = Field(
        default=None, description="The weekly pattern (POST /rota) that planned it, if any."
    )
    reason: str | None = Field(
        default=None, description="Why, for a shift planned after its start (cover happening)."
    )


class ShiftReassigned(ShiftEvent):
    """A swap (the whole shift: ``from_at`` and ``until`` are None) or cover for part of it
    (``from_at`` to ``until``, within the shift): that part is the new assignee's."""

    assignee: str
    reason: str
    from_at: AwareDatetime | None = None
    until: AwareDatetime | None = None


class ShiftCancelled(ShiftEvent):
    reason: str


class CheckedIn(ShiftEvent):
    """The actor (an assignee of the shift) started working at ``occurred_at``."""


class CheckedOut(ShiftEvent):
    """``on_behalf_of`` (or, when None, the actor) stopped working at ``occurred_at``. A lead
    recording someone's forgotten check-out names them and gives a ``reason``."""

    on_behalf_of: str | None = None
    reason: str | None = None

    @property
    def person(self) -> str:
        return self.on_behalf_of or self.actor


class HandoverRecorded(ShiftEvent):
    """The actor, checked in, handed over: a note, the open cases, to whom (None: to whoever
    comes next)."""

    handover_id: UUID = Field(description="The id of the event itself.")
    note: Annotated[str, PERSONAL]
    case_ids: list[UUID] = []
    to: str | None = None

    __data_subject__ = DataSubjectOf.handover


class HandoverAcknowledged(ShiftEvent):
    """The incoming person (the actor) read and took on the handover."""

    handover_id: UUID


EVENT_TYPES: dict[str, type[ShiftEvent]] = {
    cls.__name__: cls
    for cls in (
        ShiftPlanned,
        ShiftReassigned,
        ShiftCancelled,
        CheckedIn,
        CheckedOut,
        HandoverRecorded,
        HandoverAcknowledged,
    )
}
