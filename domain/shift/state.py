"""A shift's state: the plan (who, for which part, when), its attendance and its handovers,
folded from its events. ``evolve`` never raises (it runs on every replay). A handover's note is
not kept here: it is only read, from the events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.shift.events import (
    CheckedIn,
    CheckedOut,
    HandoverAcknowledged,
    HandoverRecorded,
    ShiftCancelled,
    ShiftEvent,
    ShiftPlanned,
    ShiftReassigned,
)
from domain.shift.vocabulary import ShiftRole


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True)


class Segment(_Value):
    """A part of a shift and whose it is."""

    assignee: str
    starts_at: datetime
    ends_at: datetime


class Cover(_Value):
    """Part of the shift covered by someone else (a partial reassignment)."""

    assignee: str
    from_at: datetime
    until: datetime


class Attendance(_Value):
    person: str
    checked_in_at: datetime  # occurred
    checked_in_recorded_at: datetime
    checked_out_at: datetime | None = None  # occurred
    checked_out_recorded_at: datetime | None = None
    checked_out_by: str | None = None  # a lead, for a forgotten check-out

    @property
    def open(self) -> bool:
        return self.checked_out_at is None


class Handover(_Value):
    handover_id: UUID
    by: str
    to: str | None
    case_ids: tuple[UUID, ...]
    given_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None


class ShiftState(_Value):
    id: UUID
    version: int
    service: str
    role: ShiftRole
    assignee: str  # the shift's own assignee (a whole-shift swap changes it)
    starts_at: datetime
    ends_at: datetime
    pattern_id: UUID | None = None
    covers: tuple[Cover, ...] = ()  # partial reassignments, in the order recorded
    cancelled: bool = False
    attendance: dict[str, Attendance] = {}
    handovers: dict[UUID, Handover] = {}

    def segments(self) -> list[Segment]:
        """Who the shift is for, part by part, in order (later cover over earlier)."""
        parts = [(self.starts_at, self.ends_at, self.assignee)]
        for cover in self.covers:
            carved: list[tuple[datetime, datetime, str]] = []
            for start, end, who in parts:
                if end <= cover.from_at or start >= cover.until:
                    carved.append((start, end, who))
                    continue
                if start < cover.from_at:
                    carved.append((start, cover.from_at, who))
                if cover.until < end:
                    carved.append((cover.until, end, who))
            carved.append(
                (max(cover.from_at, self.starts_at), min(cover.until, self.ends_at), cover.assignee)
            )
            parts = sorted(p for p in carved if p[0] < p[1])
        joined: list[Segment] = []
        for start, end, who in parts:
            if joined and joined[-1].assignee == who and joined[-1].ends_at == start:
                joined[-1] = joined[-1].model_copy(update={"ends_at": end})
            else:
                joined.append(Segment(assignee=who, starts_at=start, ends_at=end))
        return joined

    def assignee_at(self, at: datetime) -> str | None:
        """Whose the shift is at ``at`` (None outside it)."""
        for segment in self.segments():
            if segment.starts_at <= at < segment.ends_at:
                return segment.assignee
        return None

    def assignees(self) -> set[str]:
        return {s.assignee for s in self.segments()}

    def has_started(self, now: datetime) -> bool:
        """Its start has passed, or someone checked in (early)."""
        return self.starts_at <= now or bool(self.attendance)

    def open_check_ins(self) -> list[Attendance]:
        return [a for a in self.attendance.values() if a.open]


def evolve(state: ShiftState | None, event: ShiftEvent) -> ShiftState:
    """Fold one event (never raises on a stored event)."""
    if isinstance(event, ShiftPlanned):
        return ShiftState(
            id=event.originator_id,
            version=event.originator_version,
            service=event.service,
            role=event.role,
            assignee=event.assignee,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            pattern_id=event.pattern_id,
        )
    if state is None:  # a stream that lost its plan: keep what can be kept
        state = ShiftState(
            id=event.originator_id,
            version=0,
            service="",
            role=ShiftRole.ON_CALL,
            assignee="",
            starts_at=event.occurred_at,
            ends_at=event.occurred_at,
        )
    update: dict[str, Any] = {"version": event.originator_version}
    if isinstance(event, ShiftReassigned):
        if event.from_at is None and event.until is None:
            update |= {"assignee": event.assignee, "covers": ()}
        else:
            cover = Cover(
                assignee=event.assignee,
                from_at=event.from_at or state.starts_at,
                until=event.until or state.ends_at,
            )
            update["covers"] = (*state.covers, cover)
    elif isinstance(event, ShiftCancelled):
        update["cancelled"] = True
    elif isinstance(event, CheckedIn):
        attendance = Attendance(
            person=event.actor,
            checked_in_at=event.occurred_at,
            checked_in_recorded_at=event.recorded_at,
        )
        update["attendance"] = {**state.attendance, event.actor: attendance}
    elif isinstance(event, CheckedOut):
        found = state.attendance.get(event.person)
        if found is not None:
            out = found.model_copy(
                update={
                    "checked_out_at": event.occurred_at,
                    "checked_out_recorded_at": event.recorded_at,
                    "checked_out_by": event.actor if event.on_behalf_of else None,
                }
            )
            update["attendance"] = {**state.attendance, event.person: out}
    elif isinstance(event, HandoverRecorded):
        handover = Handover(
            handover_id=event.handover_id,
            by=event.actor,
            to=event.to,
            case_ids=tuple(event.case_ids),
            given_at=event.occurred_at,
        )
        update["handovers"] = {**state.handovers, event.handover_id: handover}
    elif isinstance(event, HandoverAcknowledged):
        given = state.handovers.get(event.handover_id)
        if given is not None:
            acknowledged = given.model_copy(
                update={"acknowledged_at": event.occurred_at, "acknowledged_by": event.actor}
            )
            update["handovers"] = {**state.handovers, event.handover_id: acknowledged}
    return state.model_copy(update=update)


def fold(events: Iterable[ShiftEvent]) -> ShiftState | None:
    state: ShiftState | None = None
    for event in events:
        state = evolve(state, event)
    return state
