"""The shift log and off-rota actions: the shift board (``projections.shift_board``) against the
actions index (``projections.actor_activity``, one row per event recorded by someone, both
clocks), read from the one log's views in one transaction (the projector moves them together).

* A shift's log: its plan against its attendance (late start, missed, cover); every action its
  people recorded whose ``occurred_at`` falls in their checked-in window (from their check-in
  until their check-out, or on while they are still checked in), each marked ``late`` when it was
  recorded more than a set time after it occurred; the out-of-hours decisions among them; the
  handovers given and received. Attendance and handover events are shown in their own sections,
  not among the actions.
* Off-rota actions: actions on the work contexts (cases, and contacts when they exist) whose
  actor had no open check-in at their ``occurred_at``, for oversight.

Actions on restricted cases are shown only to those who may see them (or to the person who
recorded them).
"""

# SQL here names only the views' own tables and columns (constants, quoted by the store); every
# value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from domain.community.decide import INTAKE_ACTOR_PREFIX
from domain.shared import Role
from domain.shift.events import EVENT_TYPES as SHIFT_EVENT_TYPES
from infrastructure.event_log import EventLog
from projections.actor_activity import TABLE as ACTIVITY_TABLE
from projections.paging import InvalidQuery, decode_cursor, encode_cursor
from projections.read_model import ReadModel
from projections.restricted import hidden_cases_clause
from projections.rota import (
    HandoverEntry,
    Part,
    Rota,
    RotaShift,
    check_range,
    in_list,
)
from projections.runner import DEFAULT_BATCH_SIZE
from projections.shift_board import ATTENDANCE_TABLE, CANCELLED, ShiftBoardView
from projections.store import Row, ViewStore

if TYPE_CHECKING:
    from domain.access.rules import Visibility
    from projections.projector import Projector

DEFAULT_LATE_AFTER = timedelta(minutes=15)
SHIFT_LOG_DEFAULT_LIMIT = 200
SHIFT_LOG_MAX_LIMIT = 1000
MAX_OFF_ROTA_SPAN = timedelta(days=92)
# The contexts whose events are work on the record (a contact context adds "contact").
ACTION_CONTEXTS = ("case", "contact")
# Shown in the log's own sections (attendance, handovers), not among its actions.
NOT_ACTIONS = ("CheckedIn", "CheckedOut", "HandoverRecorded", "HandoverAcknowledged")
OUT_OF_HOURS_DECISION = "OutOfHoursDecisionRecorded"
MAX_DECISIONS = 1000

assert set(NOT_ACTIONS) <= set(SHIFT_EVENT_TYPES)


class ShiftAction(BaseModel):
    """An event recorded by a person (no payload): which, on what, by whom, on both clocks."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID | None
    aggregate_id: UUID = Field(description="The case, contact, shift... the event belongs to.")
    context: str = Field(examples=["case"], description="case, contact, shift, identity...")
    case_id: UUID | None
    contact_id: UUID | None
    type: str = Field(examples=["OutOfHoursDecisionRecorded"])
    actor: str
    actor_role: Role | None
    occurred_at: datetime
    recorded_at: datetime
    late: bool = Field(description="Recorded more than the late-logging threshold after it.")
    position: int = Field(description="The event's place in the log.")


class AttendanceStatus(StrEnum):
    UPCOMING = "upcoming"  # their part has not started
    ON_TIME = "on_time"  # checked in by the start of their part (early is allowed)
    LATE = "late"  # checked in after the start of their part
    NOT_CHECKED_IN = "not_checked_in"  # their part is running, no check-in
    MISSED = "missed"  # their part ended with no check-in
    CANCELLED = "cancelled"  # the shift was cancelled (before it started)


class PersonOnShift(BaseModel):
    """One person of a shift: their parts (plan) against their attendance."""

    model_config = ConfigDict(frozen=True)

    person: str
    parts: list[Part]
    cover: bool = Field(description="They cover part of someone else's shift.")
    status: AttendanceStatus
    minutes_late: int | None = Field(description="After the start of their first part.")
    checked_in_at: datetime | None
    checked_in_recorded_at: datetime | None
    check_in_logged_late: bool = Field(description="The check-in was recorded late.")
    checked_out_at: datetime | None
    checked_out_recorded_at: datetime | None
    checked_out_by: str | None


class ShiftLog(BaseModel):
    """A shift's log: plan against attendance, actions, decisions, handovers."""

    model_config = ConfigDict(frozen=True)

    shift: RotaShift
    people: list[PersonOnShift]
    actions: list[ShiftAction] = Field(
        description="A page of the actions, by occurred_at; pass next_cursor back as cursor."
    )
    next_cursor: str | None
    out_of_hours_decisions: list[ShiftAction]
    handovers_given: list[HandoverEntry]
    handovers_received: list[HandoverEntry]
    late_after_minutes: float = Field(description="The late-logging threshold used.")
    as_of: datetime = Field(description="The moment the people's status was judged at.")


_ACTIONS = TypeAdapter(list[ShiftAction])

_ACTION_COLUMNS = (
    "position, event_id, aggregate_id, context, case_id, event_type, actor, actor_role, "
    "occurred_at, recorded_at"
)


class ShiftLogs(ReadModel[ShiftBoardView]):
    """Shift logs and off-rota actions (the shift board with the actions index)."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        projector: Projector | None = None,
        late_after: timedelta = DEFAULT_LATE_AFTER,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """Read with the shared ``projector`` (as the composition root wires it): it moves the
        shift board and the actions index together, so a log reads both at one position."""
        super().__init__(
            event_log,
            ShiftBoardView,
            lambda: ShiftBoardView(event_log),
            projector=projector,
            batch_size=batch_size,
        )
        self._rota = Rota(event_log, projector=projector, batch_size=batch_size)
        self.late_after = late_after

    def log(
        self,
        shift_id: UUID,
        *,
        now: datetime,
        reader: str | None = None,
        visibility: Visibility | None = None,
        limit: int = SHIFT_LOG_DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> ShiftLog:
        """The shift's log (ShiftNotFound if there is none); the people's status judged at
        ``now``; actions paged (``limit``, ``cursor``)."""
        _check_limit(limit)
        tag = f"shift-log:{shift_id}"
        after = None if cursor is None else decode_cursor(tag, cursor, (datetime, int))
        detail = self._rota.shift(shift_id, visibility=visibility)
        shift = RotaShift.model_validate(detail.model_dump())
        people = _people(shift, now, self.late_after)
        windows = [(a.person, a.checked_in_at, a.checked_out_at) for a in shift.attendance]
        store = self.store
        actions: list[ShiftAction] = []
        decisions: list[ShiftAction] = []
        next_cursor = None
        if windows:
            with store.transaction(commit=False) as tx:
                params: dict[str, Any] = {}
                where = [_windows_clause(store, windows, params)]
                where.append(f"event_type NOT IN {in_list(store, 'na', NOT_ACTIONS, params)}")
                _restrict(store, where, params, visibility, reader)
                base = " AND ".join(where)
                table = store.table(ACTIVITY_TABLE)
                page_where = base
                if after is not None:
                    page_where += " AND (occurred_at, position) > (%(k0)s, %(k1)s)"
                    params |= {"k0": store.encode_time(after[0]), "k1": after[1]}
                rows = tx.fetchall(
                    f"SELECT {_ACTION_COLUMNS} FROM {table} WHERE {page_where} "
                    "ORDER BY occurred_at, position LIMIT %(limit)s",
                    {**params, "limit": limit + 1},
                )
                found = tx.fetchall(
                    f"SELECT {_ACTION_COLUMNS} FROM {table} WHERE {base} "
                    "AND event_type = %(ooh)s ORDER BY occurred_at, position LIMIT %(most)s",
                    {**params, "ooh": OUT_OF_HOURS_DECISION, "most": MAX_DECISIONS},
                )
            actions = self._actions(store, rows[:limit])
            decisions = self._actions(store, found)
            if len(rows) > limit:
                last = actions[-1]
                next_cursor = encode_cursor(tag, [last.occurred_at, last.position])
        return ShiftLog(
            shift=shift,
            people=people,
            actions=actions,
            next_cursor=next_cursor,
            out_of_hours_decisions=decisions,
            handovers_given=detail.handovers_given,
            handovers_received=detail.handovers_received,
            late_after_minutes=self.late_after.total_seconds() / 60,
            as_of=now,
        )

    def off_rota(
        self,
        start: datetime,
        end: datetime,
        *,
        reader: str | None = None,
        visibility: Visibility | None = None,
        limit: int = SHIFT_LOG_DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> tuple[list[ShiftAction], str | None]:
        """Actions on the work contexts occurring in ``[start, end)`` whose actor had no open
        check-in at that moment, by occurred_at, a page at a time (a forum's intake, which
        records flags from the forum's deliveries, is nobody's shift: not listed)."""
        _check_limit(limit)
        check_range(start, end)
        if end - start > MAX_OFF_ROTA_SPAN:
            raise InvalidQuery(
                f"off-rota actions are listed for at most {MAX_OFF_ROTA_SPAN.days} days at once",
                errors={"to": f"more than {MAX_OFF_ROTA_SPAN.days} days after from"},
            )
        tag = "off-rota"
        store = self.store
        params: dict[str, Any] = {
            "start": store.encode_time(start),
            "end": store.encode_time(end),
            "limit": limit + 1,
            "intake": INTAKE_ACTOR_PREFIX + "%",
        }
        where = [
            "a.actor NOT LIKE %(intake)s",
            "a.occurred_at >= %(start)s",
            "a.occurred_at < %(end)s",
            f"a.context IN {in_list(store, 'cx', ACTION_CONTEXTS, params)}",
            f"NOT EXISTS (SELECT 1 FROM {store.table(ATTENDANCE_TABLE)} s "
            "WHERE s.person = a.actor AND s.checked_in_at <= a.occurred_at "
            "AND (s.checked_out_at IS NULL OR s.checked_out_at > a.occurred_at))",
        ]
        _restrict(store, where, params, visibility, reader, prefix="a.")
        if cursor is not None:
            after = decode_cursor(tag, cursor, (datetime, int))
            where.append("(a.occurred_at, a.position) > (%(k0)s, %(k1)s)")
            params |= {"k0": store.encode_time(after[0]), "k1": after[1]}
        columns = ", ".join(f"a.{c.strip()}" for c in _ACTION_COLUMNS.split(","))
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT {columns} FROM {store.table(ACTIVITY_TABLE)} a "
                f"WHERE {' AND '.join(where)} ORDER BY a.occurred_at, a.position "
                "LIMIT %(limit)s",
                params,
            )
        items = self._actions(store, rows[:limit])
        next_cursor = None
        if len(rows) > limit:
            next_cursor = encode_cursor(tag, [items[-1].occurred_at, items[-1].position])
        return items, next_cursor

    def _actions(self, store: ViewStore, rows: list[Row]) -> list[ShiftAction]:
        """The rows as actions, validated in one pass by pydantic-core (a page holds up to a
        thousand of them: a model built per row in Python cost five times as much)."""
        late_after = self.late_after
        actions = []
        for row in rows:
            occurred = store.decode_time(row["occurred_at"])
            recorded = store.decode_time(row["recorded_at"])
            assert occurred is not None
            assert recorded is not None
            aggregate = row["aggregate_id"]
            actions.append(
                {
                    "event_id": row["event_id"],
                    "aggregate_id": aggregate,
                    "context": row["context"],
                    "case_id": row["case_id"],
                    "contact_id": aggregate if row["context"] == "contact" else None,
                    "type": row["event_type"],
                    "actor": row["actor"],
                    "actor_role": row["actor_role"],
                    "occurred_at": occurred,
                    "recorded_at": recorded,
                    "late": recorded - occurred > late_after,
                    "position": row["position"],
                }
            )
        return _ACTIONS.validate_python(actions)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= SHIFT_LOG_MAX_LIMIT:
        raise InvalidQuery(
            f"limit must be between 1 and {SHIFT_LOG_MAX_LIMIT}",
            errors={"limit": f"must be between 1 and {SHIFT_LOG_MAX_LIMIT}"},
        )


def _windows_clause(
    store: ViewStore,
    windows: list[tuple[str, datetime, datetime | None]],
    params: dict[str, Any],
) -> str:
    """Each person's actions within their window: the index (actor, occurred_at) per window."""
    parts = []
    for n, (person, start, end) in enumerate(windows):
        params[f"w{n}p"] = person
        params[f"w{n}a"] = store.encode_time(start)
        clause = f"actor = %(w{n}p)s AND occurred_at >= %(w{n}a)s"
        if end is not None:
            params[f"w{n}b"] = store.encode_time(end)
            clause += f" AND occurred_at < %(w{n}b)s"
        parts.append(f"({clause})")
    return "(" + " OR ".join(parts) + ")"


def _restrict(
    store: ViewStore,
    where: list[str],
    params: dict[str, Any],
    visibility: Visibility | None,
    reader: str | None,
    *,
    prefix: str = "",
) -> None:
    """Leave out actions on restricted cases the reader may not see (their own always show)."""
    hidden = hidden_cases_clause(store, visibility, params, case_id=f"{prefix}case_id")
    if hidden is None:
        return
    if reader is not None:
        params["me"] = reader
        hidden = f"({prefix}actor = %(me)s OR {hidden})"
    where.append(hidden)


def _people(shift: RotaShift, now: datetime, late_after: timedelta) -> list[PersonOnShift]:
    attendance = {a.person: a for a in shift.attendance}
    names = list(dict.fromkeys([p.assignee for p in shift.parts] + list(attendance)))
    people: list[PersonOnShift] = []
    for person in names:
        parts = [p for p in shift.parts if p.assignee == person]
        first = min((p.starts_at for p in parts), default=shift.starts_at)
        last = max((p.ends_at for p in parts), default=shift.ends_at)
        seen = attendance.get(person)
        minutes_late = None
        if seen is not None:
            late_by = seen.checked_in_at - first
            status = AttendanceStatus.LATE if late_by > timedelta(0) else AttendanceStatus.ON_TIME
            if late_by > timedelta(0):
                minutes_late = int(late_by.total_seconds() // 60)
        elif shift.status == CANCELLED:
            status = AttendanceStatus.CANCELLED
        elif now < first:
            status = AttendanceStatus.UPCOMING
        elif now < last:
            status = AttendanceStatus.NOT_CHECKED_IN
        else:
            status = AttendanceStatus.MISSED
        people.append(
            PersonOnShift(
                person=person,
                parts=parts,
                cover=person != shift.assignee,
                status=status,
                minutes_late=minutes_late,
                checked_in_at=None if seen is None else seen.checked_in_at,
                checked_in_recorded_at=None if seen is None else seen.checked_in_recorded_at,
                check_in_logged_late=seen is not None
                and seen.checked_in_recorded_at - seen.checked_in_at > late_after,
                checked_out_at=None if seen is None else seen.checked_out_at,
                checked_out_recorded_at=None if seen is None else seen.checked_out_recorded_at,
                checked_out_by=None if seen is None else seen.checked_out_by,
            )
        )
    return people
