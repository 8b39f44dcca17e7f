"""``shift_board``: the rota and its attendance, one shift at a time, on both clocks.

Folded from the shift events (``domain.shift.events``) of the one log with the domain's own
``evolve``, plus what only a reader needs (when each version of the plan became known, when a
cancellation and each handover were recorded). Whenever a shift has events in a batch, its rows
are deleted and written again from its record after the batch, so a rebuild gives the same rows.
Four tables, none holding personal data (no handover note, no reason: usernames of staff, ids,
enums and times only):

* ``shift_rota``: one row per shift: service, role, its own assignee, start and end, status
  (``planned``/``cancelled``), when it was planned and cancelled (recorded clock), and its
  current parts (``segments``: who has which part, cover included; JSON).
* ``shift_plan_segments``: every part of every version of the plan, with ``known_from`` and
  ``known_until`` on the recorded clock (the version's recording, and the next one's) and the
  cancellation's recording: "who was planned at T" is answered as recorded by then and as known
  now. Indexed on ``starts_at`` (a part lasts at most the longest part in the table, so a lookup
  at T scans only the parts starting in that span before T).
* ``shift_attendance``: one row per person and shift: check-in and check-out on both clocks,
  who recorded the check-out (a lead, for a forgotten one), and the end of the person's part.
* ``shift_handovers``: one row per handover: who to whom, the case ids, given and acknowledged
  on both clocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from domain.shift.events import (
    HandoverAcknowledged,
    HandoverRecorded,
    ShiftCancelled,
    ShiftEvent,
    ShiftPlanned,
    ShiftReassigned,
)
from domain.shift.state import Segment, ShiftState, evolve
from infrastructure.event_log import EventLog
from projections.bulk_write import bulk_delete, bulk_insert
from projections.runner import Positioned, Statement, View
from projections.store import ViewStore
from projections.stream_folds import StreamFolds

ROTA_TABLE = "shift_rota"
SEGMENTS_TABLE = "shift_plan_segments"
ATTENDANCE_TABLE = "shift_attendance"
HANDOVERS_TABLE = "shift_handovers"

PLANNED = "planned"
CANCELLED = "cancelled"

ROTA_COLUMNS = (
    "shift_id",
    "service",
    "role",
    "assignee",
    "starts_at",
    "ends_at",
    "length_seconds",
    "status",
    "pattern_id",
    "planned_at",
    "planned_by",
    "cancelled_at",
    "cancelled_by",
    "segments",
    "version",
    "position",
)
SEGMENT_COLUMNS = (
    "shift_id",
    "plan_no",
    "seq",
    "service",
    "role",
    "assignee",
    "starts_at",
    "ends_at",
    "length_seconds",
    "known_from",
    "known_until",
    "cancelled_at",
)
ATTENDANCE_COLUMNS = (
    "shift_id",
    "person",
    "service",
    "role",
    "part_starts_at",
    "part_ends_at",
    "checked_in_at",
    "checked_in_recorded_at",
    "checked_out_at",
    "checked_out_recorded_at",
    "checked_out_by",
    "until_at",
    "span_seconds",
)
HANDOVER_COLUMNS = (
    "handover_id",
    "shift_id",
    "service",
    "given_by",
    "given_to",
    "case_ids",
    "given_at",
    "given_recorded_at",
    "acknowledged_by",
    "acknowledged_at",
    "acknowledged_recorded_at",
)


@dataclass(frozen=True)
class PlanVersion:
    """One version of a shift's plan: its parts, known from ``known_from`` (recorded clock)."""

    plan_no: int
    known_from: datetime
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class ShiftRecord:
    """A shift's state (the domain's fold) and what only readers need: the plan's versions and
    when cancellations and handovers were recorded."""

    state: ShiftState
    plans: tuple[PlanVersion, ...] = ()
    planned_at: datetime | None = None  # recorded
    planned_by: str | None = None
    cancelled_at: datetime | None = None  # recorded
    cancelled_by: str | None = None
    # handover id -> (given, recorded; acknowledged, recorded)
    handovers_recorded: Mapping[UUID, tuple[datetime, datetime | None]] = field(
        default_factory=dict
    )

    @property
    def version(self) -> int:
        return self.state.version


def fold_record(record: ShiftRecord | None, event: ShiftEvent) -> ShiftRecord:
    """One event onto a shift's record (never raises: it runs on every replay)."""
    state = evolve(None if record is None else record.state, event)
    if record is None:
        record = ShiftRecord(state=state)
    changes: dict[str, Any] = {"state": state}
    if isinstance(event, ShiftPlanned | ShiftReassigned):
        if isinstance(event, ShiftPlanned):
            changes |= {"planned_at": event.recorded_at, "planned_by": event.actor}
        plan = PlanVersion(len(record.plans) + 1, event.recorded_at, tuple(state.segments()))
        changes["plans"] = (*record.plans, plan)
    elif isinstance(event, ShiftCancelled):
        changes |= {"cancelled_at": event.recorded_at, "cancelled_by": event.actor}
    elif isinstance(event, HandoverRecorded):
        changes["handovers_recorded"] = {
            **record.handovers_recorded,
            event.handover_id: (event.recorded_at, None),
        }
    elif isinstance(event, HandoverAcknowledged):
        given = record.handovers_recorded.get(event.handover_id)
        if given is not None:
            changes["handovers_recorded"] = {
                **record.handovers_recorded,
                event.handover_id: (given[0], event.recorded_at),
            }
    return replace(record, **changes)


class ShiftFolds(StreamFolds[ShiftEvent, ShiftRecord]):
    """Shift records after a batch's events (``projections/stream_folds.py``)."""

    def __init__(self, event_log: EventLog, *, cache_size: int = 20_000) -> None:
        super().__init__(
            event_log,
            event_type=ShiftEvent,
            fold=fold_record,
            originator=lambda event: event.originator_id,
            version=lambda event: event.originator_version,
            cache_size=cache_size,
        )


def _seconds(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds())


def segments_json(segments: Sequence[Segment]) -> str:
    return orjson.dumps(
        [
            {
                "assignee": s.assignee,
                "starts_at": s.starts_at.astimezone(UTC),
                "ends_at": s.ends_at.astimezone(UTC),
            }
            for s in segments
        ]
    ).decode()


def shift_rows(record: ShiftRecord) -> dict[str, list[dict[str, Any]]]:
    """The rows of one shift in each table (times and ids not yet encoded for the store)."""
    state = record.state
    current = state.segments()
    rota = {
        "shift_id": state.id,
        "service": state.service,
        "role": state.role.value,
        "assignee": state.assignee,
        "starts_at": state.starts_at,
        "ends_at": state.ends_at,
        "length_seconds": _seconds(state.starts_at, state.ends_at),
        "status": CANCELLED if state.cancelled else PLANNED,
        "pattern_id": state.pattern_id,
        "planned_at": record.planned_at,
        "planned_by": record.planned_by,
        "cancelled_at": record.cancelled_at,
        "cancelled_by": record.cancelled_by,
        "segments": segments_json(current),
        "version": state.version,
    }
    segments: list[dict[str, Any]] = []
    for n, plan in enumerate(record.plans):
        later = record.plans[n + 1].known_from if n + 1 < len(record.plans) else None
        for seq, part in enumerate(plan.segments):
            segments.append(
                {
                    "shift_id": state.id,
                    "plan_no": plan.plan_no,
                    "seq": seq,
                    "service": state.service,
                    "role": state.role.value,
                    "assignee": part.assignee,
                    "starts_at": part.starts_at,
                    "ends_at": part.ends_at,
                    "length_seconds": _seconds(part.starts_at, part.ends_at),
                    "known_from": plan.known_from,
                    "known_until": later,
                    "cancelled_at": record.cancelled_at,
                }
            )
    attendance: list[dict[str, Any]] = []
    for person, seen in sorted(state.attendance.items()):
        theirs = [s for s in current if s.assignee == person]
        part_start = min((s.starts_at for s in theirs), default=state.starts_at)
        part_end = max((s.ends_at for s in theirs), default=state.ends_at)
        until = None
        if seen.checked_out_at is not None and seen.checked_out_recorded_at is not None:
            until = max(seen.checked_out_at, seen.checked_out_recorded_at)
        attendance.append(
            {
                "shift_id": state.id,
                "person": person,
                "service": state.service,
                "role": state.role.value,
                "part_starts_at": part_start,
                "part_ends_at": part_end,
                "checked_in_at": seen.checked_in_at,
                "checked_in_recorded_at": seen.checked_in_recorded_at,
                "checked_out_at": seen.checked_out_at,
                "checked_out_recorded_at": seen.checked_out_recorded_at,
                "checked_out_by": seen.checked_out_by or (person if seen.checked_out_at else None),
                "until_at": until,
                "span_seconds": None if until is None else _seconds(seen.checked_in_at, until),
            }
        )
    handovers: list[dict[str, Any]] = []
    for handover in state.handovers.values():
        given_recorded, acknowledged_recorded = record.handovers_recorded.get(
            handover.handover_id, (handover.given_at, None)
        )
        handovers.append(
            {
                "handover_id": handover.handover_id,
                "shift_id": state.id,
                "service": state.service,
                "given_by": handover.by,
                "given_to": handover.to,
                "case_ids": orjson.dumps([str(c) for c in handover.case_ids]).decode(),
                "given_at": handover.given_at,
                "given_recorded_at": given_recorded,
                "acknowledged_by": handover.acknowledged_by,
                "acknowledged_at": handover.acknowledged_at,
                "acknowledged_recorded_at": acknowledged_recorded,
            }
        )
    return {
        ROTA_TABLE: [rota],
        SEGMENTS_TABLE: segments,
        ATTENDANCE_TABLE: attendance,
        HANDOVERS_TABLE: handovers,
    }


_UUID_COLUMNS = frozenset({"shift_id", "pattern_id", "handover_id"})
_TIME_COLUMNS = frozenset(
    {
        "starts_at",
        "ends_at",
        "planned_at",
        "cancelled_at",
        "known_from",
        "known_until",
        "part_starts_at",
        "part_ends_at",
        "checked_in_at",
        "checked_in_recorded_at",
        "checked_out_at",
        "checked_out_recorded_at",
        "until_at",
        "given_at",
        "given_recorded_at",
        "acknowledged_at",
        "acknowledged_recorded_at",
    }
)


def _encode(store: ViewStore, row: dict[str, Any]) -> dict[str, Any]:
    encoded = dict(row)
    for name, value in row.items():
        if value is None:
            continue
        if name in _UUID_COLUMNS:
            encoded[name] = store.encode_uuid(value)
        elif name in _TIME_COLUMNS:
            encoded[name] = store.encode_time(value)
    return encoded


_TABLE_COLUMNS = {
    ROTA_TABLE: ROTA_COLUMNS,
    SEGMENTS_TABLE: SEGMENT_COLUMNS,
    ATTENDANCE_TABLE: ATTENDANCE_COLUMNS,
    HANDOVERS_TABLE: HANDOVER_COLUMNS,
}


class ShiftBoardView(View):
    name = "shift_board"
    version = 1

    def __init__(self, event_log: EventLog, *, folds: ShiftFolds | None = None) -> None:
        self._folds = folds if folds is not None else ShiftFolds(event_log)

    def table(self, store: ViewStore, name: str) -> str:
        return store.table(name)

    def _index(self, store: ViewStore, table: str, suffix: str) -> str:
        return store.index(f"{table}_{suffix}")

    def create_statements(self, store: ViewStore) -> list[str]:
        ts, uid = store.time_type, store.uuid_type
        rota, segments = store.table(ROTA_TABLE), store.table(SEGMENTS_TABLE)
        attendance, handovers = store.table(ATTENDANCE_TABLE), store.table(HANDOVERS_TABLE)
        ix = self._index
        return [
            f"CREATE TABLE IF NOT EXISTS {rota} ("
            f"shift_id {uid} PRIMARY KEY, service TEXT NOT NULL, role TEXT NOT NULL, "
            f"assignee TEXT NOT NULL, starts_at {ts} NOT NULL, ends_at {ts} NOT NULL, "
            "length_seconds BIGINT NOT NULL, status TEXT NOT NULL, "
            f"pattern_id {uid}, planned_at {ts}, planned_by TEXT, cancelled_at {ts}, "
            "cancelled_by TEXT, segments TEXT NOT NULL, version INTEGER NOT NULL, "
            "position BIGINT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {ix(store, ROTA_TABLE, 'by_start')} "
            f"ON {rota} (starts_at, shift_id)",
            f"CREATE INDEX IF NOT EXISTS {ix(store, ROTA_TABLE, 'by_length')} "
            f"ON {rota} (length_seconds)",
            f"CREATE TABLE IF NOT EXISTS {segments} ("
            f"shift_id {uid} NOT NULL, plan_no INTEGER NOT NULL, seq INTEGER NOT NULL, "
            "service TEXT NOT NULL, role TEXT NOT NULL, assignee TEXT NOT NULL, "
            f"starts_at {ts} NOT NULL, ends_at {ts} NOT NULL, length_seconds BIGINT NOT NULL, "
            f"known_from {ts} NOT NULL, known_until {ts}, cancelled_at {ts}, "
            "PRIMARY KEY (shift_id, plan_no, seq))",
            f"CREATE INDEX IF NOT EXISTS {ix(store, SEGMENTS_TABLE, 'by_start')} "
            f"ON {segments} (starts_at)",
            f"CREATE INDEX IF NOT EXISTS {ix(store, SEGMENTS_TABLE, 'by_assignee')} "
            f"ON {segments} (assignee, starts_at)",
            f"CREATE INDEX IF NOT EXISTS {ix(store, SEGMENTS_TABLE, 'by_length')} "
            f"ON {segments} (length_seconds)",
            f"CREATE TABLE IF NOT EXISTS {attendance} ("
            f"shift_id {uid} NOT NULL, person TEXT NOT NULL, service TEXT NOT NULL, "
            f"role TEXT NOT NULL, part_starts_at {ts} NOT NULL, part_ends_at {ts} NOT NULL, "
            f"checked_in_at {ts} NOT NULL, checked_in_recorded_at {ts} NOT NULL, "
            f"checked_out_at {ts}, checked_out_recorded_at {ts}, checked_out_by TEXT, "
            f"until_at {ts}, span_seconds BIGINT, PRIMARY KEY (shift_id, person))",
            f"CREATE INDEX IF NOT EXISTS {ix(store, ATTENDANCE_TABLE, 'by_person')} "
            f"ON {attendance} (person, checked_in_at)",
            f"CREATE INDEX IF NOT EXISTS {ix(store, ATTENDANCE_TABLE, 'by_check_in')} "
            f"ON {attendance} (checked_in_at)",
            f"CREATE INDEX IF NOT EXISTS {ix(store, ATTENDANCE_TABLE, 'by_until')} "
            f"ON {attendance} (until_at, part_ends_at)",
            f"CREATE INDEX IF NOT EXISTS {ix(store, ATTENDANCE_TABLE, 'by_span')} "
            f"ON {attendance} (span_seconds)",
            f"CREATE TABLE IF NOT EXISTS {handovers} ("
            f"handover_id {uid} PRIMARY KEY, shift_id {uid} NOT NULL, service TEXT NOT NULL, "
            "given_by TEXT NOT NULL, given_to TEXT, case_ids TEXT NOT NULL, "
            f"given_at {ts} NOT NULL, given_recorded_at {ts} NOT NULL, acknowledged_by TEXT, "
            f"acknowledged_at {ts}, acknowledged_recorded_at {ts})",
            f"CREATE INDEX IF NOT EXISTS {ix(store, HANDOVERS_TABLE, 'by_shift')} "
            f"ON {handovers} (shift_id)",
            f"CREATE INDEX IF NOT EXISTS {ix(store, HANDOVERS_TABLE, 'by_given')} "
            f"ON {handovers} (acknowledged_at, given_at, handover_id)",
            f"CREATE INDEX IF NOT EXISTS {ix(store, HANDOVERS_TABLE, 'by_to')} "
            f"ON {handovers} (given_to, given_at)",
        ]

    def drop_statements(self, store: ViewStore) -> list[str]:
        return [
            f"DROP TABLE IF EXISTS {store.table(name)}"
            for name in (ROTA_TABLE, SEGMENTS_TABLE, ATTENDANCE_TABLE, HANDOVERS_TABLE)
        ]

    def reset(self) -> None:
        self._folds.forget()

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        folded = self._folds.fold_batch(batch)
        if not folded:
            return []
        ids = [store.encode_uuid(f.record.state.id) for f in folded]
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name in _TABLE_COLUMNS}
        for f in folded:
            for name, found in shift_rows(f.record).items():
                for row in found:
                    if name == ROTA_TABLE:
                        row["position"] = f.position
                    rows[name].append(_encode(store, row))
        statements: list[Statement] = []
        for name, columns in _TABLE_COLUMNS.items():
            table = store.table(name)
            statements += bulk_delete(store, table, "shift_id", ids, sql_type="uuid")
            statements += bulk_insert(store, table, columns, rows[name])
        return statements
