"""Commands to the Shift aggregate: field rules are checked when a command is built (422);
rules that depend on the shift, the clock or the person in ``decide``."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.service.commands import DEFAULT_SERVICE, ServiceName
from domain.shared import Moment, PersonalText, Reason, Username
from domain.shift.vocabulary import ShiftRole

MAX_HANDOVER_CASES = 200


class ShiftCommand(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    occurred_at: Moment | None = Field(
        default=None,
        description="When it happened (RFC 3339 with offset); default now. A check-in, "
        "check-out, handover or acknowledgement may be logged late.",
    )


class PlanShift(ShiftCommand):
    service: ServiceName = DEFAULT_SERVICE
    role: ShiftRole
    assignee: Username
    starts_at: Moment
    ends_at: Moment
    reason: Reason | None = Field(
        default=None,
        description="Required when the start has passed: the cover this records, and why.",
    )
    # Set by the application for each shift of a weekly pattern (POST /rota), never by a client.
    pattern_id: UUID | None = None


class ReassignShift(ShiftCommand):
    """A swap (no window: the whole shift) or cover for part of it (``from_at``..``until``;
    either alone runs from the shift's start or to its end)."""

    assignee: Username
    reason: Reason
    from_at: Moment | None = None
    until: Moment | None = None


class CancelShift(ShiftCommand):
    reason: Reason


class CheckIn(ShiftCommand):
    pass


CaseIds = Annotated[list[UUID], Field(max_length=MAX_HANDOVER_CASES)]


class HandoverNote(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    note: PersonalText
    case_ids: CaseIds = []
    to: Username | None = None


class RecordHandover(HandoverNote, ShiftCommand):
    pass


class CheckOut(ShiftCommand):
    handover: HandoverNote | None = None
    # A coordinator or safeguarding lead recording someone's forgotten check-out.
    on_behalf_of: Username | None = None
    reason: Reason | None = None


class AcknowledgeHandover(ShiftCommand):
    handover_id: UUID
