"""Reading the rota (``projections.shift_board``): the shifts in a period with their attendance,
one shift with its handovers, who was on call at a moment on both clocks, a person's shifts (for
their calendar feed), and the shift queues. Answers hold no personal data: usernames of staff,
ids, enums and times."""

# SQL here names only the shift board's own tables and columns (constants, quoted by the store)
# and the case list's table; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field

from domain.shift.errors import ShiftNotFound
from domain.shift.vocabulary import ShiftRole
from infrastructure.event_log import EventLog
from projections.paging import (
    DEFAULT_LIMIT,
    InvalidQuery,
    check_limit,
    decode_cursor,
    encode_cursor,
    enum_value,
)
from projections.read_model import ReadModel
from projections.restricted import restriction_clause
from projections.runner import DEFAULT_BATCH_SIZE
from projections.shift_board import (
    ATTENDANCE_TABLE,
    CANCELLED,
    HANDOVERS_TABLE,
    PLANNED,
    ROTA_COLUMNS,
    ROTA_TABLE,
    SEGMENTS_TABLE,
    ShiftBoardView,
)
from projections.store import Row, Tx, ViewStore

if TYPE_CHECKING:
    from domain.access.rules import Visibility
    from projections.projector import Projector

# Handovers a shift "received": to one of its people, given at most this long before it starts.
HANDOVER_LOOKBACK = timedelta(hours=24)
FEED_LIMIT = 1000  # shifts in one calendar feed
# Far enough apart that any shift of the rota lies between (a person's shifts for their feed).
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class Part(_Answer):
    """A part of a shift and whose it is (cover shows as a part of someone else's)."""

    assignee: str
    starts_at: datetime
    ends_at: datetime


class ShiftAttendance(_Answer):
    """One person's attendance on a shift, on both clocks: when it happened and when Vigil
    was told (a late log shows a recorded time after the occurred one)."""

    person: str
    checked_in_at: datetime = Field(description="When they checked in (occurred).")
    checked_in_recorded_at: datetime
    checked_out_at: datetime | None = Field(description="When they checked out (occurred).")
    checked_out_recorded_at: datetime | None
    checked_out_by: str | None = Field(
        description="Who recorded the check-out: the person, or a lead for a forgotten one."
    )


class RotaShift(_Answer):
    """A shift of the rota with its attendance."""

    id: UUID
    service: str
    role: ShiftRole
    assignee: str = Field(description="The shift's own assignee (a swap changes it).")
    starts_at: datetime
    ends_at: datetime
    status: str = Field(examples=[PLANNED, CANCELLED])
    pattern_id: UUID | None
    planned_at: datetime | None = Field(description="When the plan was recorded.")
    planned_by: str | None
    cancelled_at: datetime | None = Field(description="When the cancellation was recorded.")
    cancelled_by: str | None
    parts: list[Part] = Field(description="Who has which part now, in order (cover included).")
    cover: bool = Field(description="Someone other than the assignee covers part of it.")
    version: int
    attendance: list[ShiftAttendance]


class HandoverEntry(_Answer):
    """A handover (never its note): who to whom, the cases, given and acknowledged."""

    handover_id: UUID
    shift_id: UUID = Field(description="The shift it was given in.")
    service: str
    given_by: str
    given_to: str | None = Field(description="Null: to whoever comes next.")
    case_ids: list[UUID] = Field(description="The cases handed over (that you may see).")
    given_at: datetime
    given_recorded_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    acknowledged_recorded_at: datetime | None


class ShiftDetail(RotaShift):
    """One shift: its plan, attendance on both clocks, and the handovers given and received."""

    handovers_given: list[HandoverEntry]
    handovers_received: list[HandoverEntry] = Field(
        description="Handovers to one of its people (or acknowledged by one of them) given "
        "from a day before its start until its end, in other shifts."
    )


class OnCallPart(_Answer):
    shift_id: UUID
    service: str
    role: ShiftRole
    assignee: str
    starts_at: datetime = Field(description="The part of the shift running at the moment.")
    ends_at: datetime


class OnCallCheckIn(_Answer):
    shift_id: UUID
    service: str
    role: ShiftRole
    person: str
    checked_in_at: datetime
    checked_in_recorded_at: datetime
    checked_out_at: datetime | None
    checked_out_recorded_at: datetime | None


class OnCallClock(_Answer):
    planned: list[OnCallPart] = Field(description="Who the rota had on at the moment.")
    checked_in: list[OnCallCheckIn] = Field(description="Who was checked in at the moment.")


class OnCall(_Answer):
    """Who was on at a moment, on both clocks."""

    at: datetime
    service: str | None
    as_recorded_then: OnCallClock = Field(
        description="From the events recorded by `at` only: what the rota and the check-ins "
        "said then (a cover shift planned later, or a check-in logged late, is not in it)."
    )
    as_known_now: OnCallClock = Field(
        description="From every event recorded so far: who is known now to have been on."
    )


def check_range(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise InvalidQuery("'to' must be after 'from'", errors={"to": "not after from"})


class RotaDecoder:
    """Rows of the shift board's tables as answers."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def time(self, value: Any) -> datetime | None:
        return self.store.decode_time(value)

    def must_time(self, value: Any) -> datetime:
        decoded = self.store.decode_time(value)
        assert decoded is not None
        return decoded

    def uuid(self, value: Any) -> UUID | None:
        return None if value is None else self.store.decode_uuid(value)

    def attendance(self, row: Row) -> ShiftAttendance:
        return ShiftAttendance(
            person=row["person"],
            checked_in_at=self.must_time(row["checked_in_at"]),
            checked_in_recorded_at=self.must_time(row["checked_in_recorded_at"]),
            checked_out_at=self.time(row["checked_out_at"]),
            checked_out_recorded_at=self.time(row["checked_out_recorded_at"]),
            checked_out_by=row["checked_out_by"],
        )

    def shift(self, row: Row, attendance: Sequence[Row]) -> RotaShift:
        parts = [Part.model_validate(part) for part in orjson.loads(row["segments"])]
        return RotaShift(
            id=self.store.decode_uuid(row["shift_id"]),
            service=row["service"],
            role=ShiftRole(row["role"]),
            assignee=row["assignee"],
            starts_at=self.must_time(row["starts_at"]),
            ends_at=self.must_time(row["ends_at"]),
            status=row["status"],
            pattern_id=self.uuid(row["pattern_id"]),
            planned_at=self.time(row["planned_at"]),
            planned_by=row["planned_by"],
            cancelled_at=self.time(row["cancelled_at"]),
            cancelled_by=row["cancelled_by"],
            parts=parts,
            cover=any(part.assignee != row["assignee"] for part in parts),
            version=int(row["version"]),
            attendance=[self.attendance(a) for a in attendance],
        )

    def handover(self, row: Row, hidden: set[UUID]) -> HandoverEntry:
        case_ids = [UUID(c) for c in orjson.loads(row["case_ids"])]
        return HandoverEntry(
            handover_id=self.store.decode_uuid(row["handover_id"]),
            shift_id=self.store.decode_uuid(row["shift_id"]),
            service=row["service"],
            given_by=row["given_by"],
            given_to=row["given_to"],
            case_ids=[c for c in case_ids if c not in hidden],
            given_at=self.must_time(row["given_at"]),
            given_recorded_at=self.must_time(row["given_recorded_at"]),
            acknowledged_by=row["acknowledged_by"],
            acknowledged_at=self.time(row["acknowledged_at"]),
            acknowledged_recorded_at=self.time(row["acknowledged_recorded_at"]),
        )


def in_list(store: ViewStore, prefix: str, values: Sequence[Any], params: dict[str, Any]) -> str:
    """``(%(p0)s, %(p1)s...)`` for values bound into ``params`` (never empty: pass a value)."""
    names = []
    for n, value in enumerate(values):
        params[f"{prefix}{n}"] = value
        names.append(f"%({prefix}{n})s")
    return f"({', '.join(names)})"


def hidden_cases(
    tx: Tx, store: ViewStore, visibility: Visibility | None, case_ids: Sequence[UUID]
) -> set[UUID]:
    """Which of ``case_ids`` the reader may not see (restricted cases of others)."""
    if visibility is None or not visibility.restricted or not case_ids:
        return set()
    params: dict[str, Any] = {}
    visible = restriction_clause(store, visibility, params)
    if visible is None:
        return set()
    ids = in_list(store, "hc", [store.encode_uuid(c) for c in dict.fromkeys(case_ids)], params)
    rows = tx.fetchall(
        f"SELECT case_id FROM {store.table('case_summaries')} "
        f"WHERE case_id IN {ids} AND NOT COALESCE({visible}, FALSE)",
        params,
    )
    return {store.decode_uuid(row["case_id"]) for row in rows}


def handover_case_ids(rows: Sequence[Row]) -> list[UUID]:
    return [UUID(c) for row in rows for c in orjson.loads(row["case_ids"])]


_ROTA_READ = ", ".join(ROTA_COLUMNS)
_ROTA_TAG = "rota"


class Rota(ReadModel[ShiftBoardView]):
    """The rota and its attendance: kept up to date by the projector, read here."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        projector: Projector | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        super().__init__(
            event_log,
            ShiftBoardView,
            lambda: ShiftBoardView(event_log),
            projector=projector,
            batch_size=batch_size,
        )

    # --- the rota ---------------------------------------------------------------------------

    def shifts(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        assignee: str | None = None,
        service: str | None = None,
        role: ShiftRole | str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> tuple[list[RotaShift], str | None]:
        """A page of the shifts meeting ``[start, end)`` in start order (cancelled ones too),
        each with its attendance, and the next page's cursor. ``assignee``: shifts with a part
        that is theirs now (their own, or cover)."""
        check_limit(limit)
        check_range(start, end)
        store = self.store
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit + 1}
        if start is not None:
            where.append("ends_at > %(start)s")
            params["start"] = store.encode_time(start)
        if end is not None:
            where.append("starts_at < %(end)s")
            params["end"] = store.encode_time(end)
        if service is not None:
            where.append("service = %(service)s")
            params["service"] = service
        if role is not None:
            where.append("role = %(role)s")
            params["role"] = enum_value(ShiftRole, role, "role")
        if assignee is not None:
            where.append(
                f"shift_id IN (SELECT shift_id FROM {store.table(SEGMENTS_TABLE)} "
                "WHERE assignee = %(assignee)s AND known_until IS NULL)"
            )
            params["assignee"] = assignee
        if cursor is not None:
            after, after_id = decode_cursor(_ROTA_TAG, cursor, (datetime, UUID))
            where.append("(starts_at, shift_id) > (%(k0)s, %(k1)s)")
            params |= {"k0": store.encode_time(after), "k1": store.encode_uuid(after_id)}
        statement = (
            f"SELECT {_ROTA_READ} FROM {store.table(ROTA_TABLE)}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY starts_at, shift_id LIMIT %(limit)s"
        )
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(statement, params)
            page = rows[:limit]
            attendance = self._attendance(tx, [row["shift_id"] for row in page])
        decode = RotaDecoder(store)
        items = [decode.shift(row, attendance.get(row["shift_id"], [])) for row in page]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = encode_cursor(_ROTA_TAG, [items[-1].starts_at, items[-1].id])
        return items, next_cursor

    def shift(self, shift_id: UUID, *, visibility: Visibility | None = None) -> ShiftDetail:
        """One shift with its attendance and handovers (ShiftNotFound if there is none)."""
        store = self.store
        decode = RotaDecoder(store)
        with store.transaction(commit=False) as tx:
            row = self._rota_row(tx, shift_id)
            attendance = self._attendance(tx, [row["shift_id"]]).get(row["shift_id"], [])
            shift = decode.shift(row, attendance)
            given, received = self._handovers(tx, shift)
            hidden = hidden_cases(tx, store, visibility, handover_case_ids([*given, *received]))
        return ShiftDetail(
            **shift.model_dump(),
            handovers_given=[decode.handover(h, hidden) for h in given],
            handovers_received=[decode.handover(h, hidden) for h in received],
        )

    def _rota_row(self, tx: Tx, shift_id: UUID) -> Row:
        store = self.store
        row = tx.fetchone(
            f"SELECT {_ROTA_READ} FROM {store.table(ROTA_TABLE)} WHERE shift_id = %(id)s",
            {"id": store.encode_uuid(shift_id)},
        )
        if row is None:
            raise ShiftNotFound("no such shift", errors={"shift_id": str(shift_id)})
        return row

    def _attendance(self, tx: Tx, shift_ids: Sequence[Any]) -> dict[Any, list[Row]]:
        if not shift_ids:
            return {}
        params: dict[str, Any] = {}
        ids = in_list(self.store, "s", list(shift_ids), params)
        rows = tx.fetchall(
            f"SELECT * FROM {self.store.table(ATTENDANCE_TABLE)} WHERE shift_id IN {ids} "
            "ORDER BY checked_in_at, person",
            params,
        )
        found: dict[Any, list[Row]] = {}
        for row in rows:
            found.setdefault(row["shift_id"], []).append(row)
        return found

    def _handovers(self, tx: Tx, shift: RotaShift) -> tuple[list[Row], list[Row]]:
        store = self.store
        table = store.table(HANDOVERS_TABLE)
        own = store.encode_uuid(shift.id)
        given = tx.fetchall(
            f"SELECT * FROM {table} WHERE shift_id = %(id)s ORDER BY given_at, handover_id",
            {"id": own},
        )
        people = sorted({part.assignee for part in shift.parts} | {shift.assignee})
        params: dict[str, Any] = {
            "id": own,
            "lo": store.encode_time(shift.starts_at - HANDOVER_LOOKBACK),
            "hi": store.encode_time(shift.ends_at),
        }
        names = in_list(store, "p", people, params)
        received = tx.fetchall(
            f"SELECT * FROM {table} WHERE shift_id <> %(id)s "
            f"AND (given_to IN {names} OR acknowledged_by IN {names}) "
            "AND given_at >= %(lo)s AND given_at < %(hi)s ORDER BY given_at, handover_id",
            params,
        )
        return given, received

    def handovers_of(
        self, shift: RotaShift, *, visibility: Visibility | None = None
    ) -> tuple[list[HandoverEntry], list[HandoverEntry]]:
        """The handovers given in a shift and received by its people."""
        decode = RotaDecoder(self.store)
        with self.store.transaction(commit=False) as tx:
            given, received = self._handovers(tx, shift)
            ids = handover_case_ids([*given, *received])
            hidden = hidden_cases(tx, self.store, visibility, ids)
        return (
            [decode.handover(h, hidden) for h in given],
            [decode.handover(h, hidden) for h in received],
        )

    # --- on call ----------------------------------------------------------------------------

    def on_call(self, at: datetime, *, service: str | None = None) -> OnCall:
        """Who the rota had on at ``at``, and who was checked in, on both clocks."""
        store = self.store
        t = store.encode_time(at)
        params: dict[str, Any] = {"t": t}
        only = ""
        if service is not None:
            only = " AND service = %(service)s"
            params["service"] = service
        segments, attendance = store.table(SEGMENTS_TABLE), store.table(ATTENDANCE_TABLE)
        with store.transaction(commit=False) as tx:
            # Both lookbacks in one round trip (each an index lookup).
            found = tx.fetchone(
                f"SELECT (SELECT MAX(length_seconds) FROM {segments}) AS longest, "
                f"(SELECT MAX(span_seconds) FROM {attendance}) AS span"
            )
            longest = int(found["longest"] or 0) if found is not None else 0
            span = int(found["span"] or 0) if found is not None else 0
            params["lo"] = store.encode_time(at - timedelta(seconds=longest))
            parts = tx.fetchall(
                "SELECT shift_id, service, role, assignee, starts_at, ends_at, known_from, "
                f"known_until, cancelled_at FROM {segments} "
                "WHERE starts_at <= %(t)s AND starts_at >= %(lo)s AND ends_at > %(t)s"
                f"{only} ORDER BY starts_at, shift_id, assignee",
                params,
            )
            params["in_lo"] = store.encode_time(at - timedelta(seconds=span))
            columns = (
                "shift_id, service, role, person, checked_in_at, checked_in_recorded_at, "
                "checked_out_at, checked_out_recorded_at"
            )
            seen = tx.fetchall(
                f"SELECT {columns} FROM {attendance} "
                f"WHERE until_at IS NULL AND checked_in_at <= %(t)s{only} "
                f"UNION ALL SELECT {columns} FROM {attendance} "
                "WHERE checked_in_at <= %(t)s AND checked_in_at >= %(in_lo)s "
                f"AND until_at > %(t)s{only}",
                params,
            )
        return _on_call(store, at, service, parts, seen)

    # --- a person's shifts (their calendar feed) -----------------------------------------------

    def shifts_of(
        self, person: str, *, start: datetime | None = None, limit: int = FEED_LIMIT
    ) -> list[RotaShift]:
        """The shifts with a part that is ``person``'s now (cancelled ones too), ending after
        ``start``, in start order, at most ``limit``."""
        store = self.store
        params = {
            "p": person,
            "start": store.encode_time(start or _EARLIEST),
            "limit": limit,
        }
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT {_ROTA_READ} FROM {store.table(ROTA_TABLE)} WHERE ends_at > %(start)s "
                f"AND shift_id IN (SELECT shift_id FROM {store.table(SEGMENTS_TABLE)} "
                "WHERE assignee = %(p)s AND known_until IS NULL) "
                "ORDER BY starts_at, shift_id LIMIT %(limit)s",
                params,
            )
        decode = RotaDecoder(store)
        return [decode.shift(row, []) for row in rows]

    # --- the parts planned over a period (rota gaps) ------------------------------------------

    def planned_parts(
        self, start: datetime, end: datetime
    ) -> list[tuple[str, str, ShiftRole, datetime, datetime]]:
        """Every part of every shift planned now (not cancelled) meeting ``[start, end)``:
        (assignee, service, role, start, end)."""
        store = self.store
        table = store.table(SEGMENTS_TABLE)
        with store.transaction(commit=False) as tx:
            longest = _longest(tx, table, "length_seconds")
            rows = tx.fetchall(
                f"SELECT assignee, service, role, starts_at, ends_at FROM {table} "
                "WHERE known_until IS NULL AND cancelled_at IS NULL AND starts_at < %(end)s "
                "AND starts_at >= %(lo)s AND ends_at > %(start)s ORDER BY starts_at, assignee",
                {
                    "start": store.encode_time(start),
                    "end": store.encode_time(end),
                    "lo": store.encode_time(start - timedelta(seconds=longest)),
                },
            )
        decode = RotaDecoder(store)
        return [
            (
                row["assignee"],
                row["service"],
                ShiftRole(row["role"]),
                decode.must_time(row["starts_at"]),
                decode.must_time(row["ends_at"]),
            )
            for row in rows
        ]


def _longest(tx: Tx, table: str, column: str) -> int:
    """The longest span in the table (seconds; 0 when empty): an index lookup."""
    row = tx.fetchone(f"SELECT MAX({column}) AS longest FROM {table}")
    return int(row["longest"] or 0) if row is not None else 0


def _on_call(
    store: ViewStore, at: datetime, service: str | None, parts: Sequence[Row], seen: Sequence[Row]
) -> OnCall:
    decode = RotaDecoder(store)
    then_parts: list[OnCallPart] = []
    now_parts: list[OnCallPart] = []
    for row in parts:
        part = OnCallPart(
            shift_id=store.decode_uuid(row["shift_id"]),
            service=row["service"],
            role=ShiftRole(row["role"]),
            assignee=row["assignee"],
            starts_at=decode.must_time(row["starts_at"]),
            ends_at=decode.must_time(row["ends_at"]),
        )
        known_from = decode.must_time(row["known_from"])
        known_until = decode.time(row["known_until"])
        cancelled = decode.time(row["cancelled_at"])
        if known_until is None and cancelled is None:
            now_parts.append(part)
        if (
            known_from <= at
            and (known_until is None or known_until > at)
            and (cancelled is None or cancelled > at)
        ):
            then_parts.append(part)
    then_in: list[OnCallCheckIn] = []
    now_in: list[OnCallCheckIn] = []
    for row in sorted(seen, key=lambda r: (decode.must_time(r["checked_in_at"]), r["person"])):
        checked_in = decode.must_time(row["checked_in_at"])
        in_recorded = decode.must_time(row["checked_in_recorded_at"])
        out = decode.time(row["checked_out_at"])
        out_recorded = decode.time(row["checked_out_recorded_at"])
        entry = OnCallCheckIn(
            shift_id=store.decode_uuid(row["shift_id"]),
            service=row["service"],
            role=ShiftRole(row["role"]),
            person=row["person"],
            checked_in_at=checked_in,
            checked_in_recorded_at=in_recorded,
            checked_out_at=out,
            checked_out_recorded_at=out_recorded,
        )
        if out is None or out > at:
            now_in.append(entry)
        out_known = out is not None and out_recorded is not None and out_recorded <= at
        if in_recorded <= at and (not out_known or (out is not None and out > at)):
            then_in.append(
                entry
                if out_known
                else entry.model_copy(
                    update={"checked_out_at": None, "checked_out_recorded_at": None}
                )
            )
    return OnCall(
        at=at,
        service=service,
        as_recorded_then=OnCallClock(planned=then_parts, checked_in=then_in),
        as_known_now=OnCallClock(planned=now_parts, checked_in=now_in),
    )
