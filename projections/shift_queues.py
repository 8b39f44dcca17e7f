"""The shift queues, read from the shift board (``projections.shift_board``) at a moment:

* ``uncovered_shifts``: shifts running at the moment (started, not ended, not cancelled) with
  nobody checked in; due at the start.
* ``missed_check_outs``: people still checked in after the end of their part of a shift; due at
  that end.
* ``handovers_unacknowledged``: handovers nobody has acknowledged yet; no due time.

The board holds no moment of its own (a view never reads the clock): which shifts are uncovered
and which check-outs missed is decided by the query, at the moment asked about. For a past
moment, ``replayed(as_of)`` gives them over the board and the case list as Vigil knew them then
(recorded basis, ``projections.replay``): the same queries, on the views folded from the events
recorded by that moment. So a check-in logged after that moment (whenever it occurred) does not
cover the shift in the answer about it: Vigil did not know of it then.
"""

# SQL here names only the shift board's own tables and columns (constants, quoted by the store);
# every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

import orjson
from pydantic import BaseModel, ConfigDict, Field

from domain.shift.vocabulary import ShiftRole
from infrastructure.event_log import EventLog
from projections.case_folds import CaseFolds
from projections.case_summaries import CaseSummariesView
from projections.paging import DEFAULT_LIMIT, check_limit, decode_cursor, encode_cursor
from projections.read_model import ReadModel
from projections.replay import ViewReplays
from projections.rota import hidden_cases
from projections.runner import DEFAULT_BATCH_SIZE
from projections.shift_board import (
    ATTENDANCE_TABLE,
    HANDOVERS_TABLE,
    PLANNED,
    ROTA_TABLE,
    ShiftBoardView,
)
from projections.store import Row, Tx, ViewStore

if TYPE_CHECKING:
    from domain.access.rules import Visibility
    from projections.projector import Projector


class ShiftQueue(StrEnum):
    UNCOVERED_SHIFTS = "uncovered_shifts"
    MISSED_CHECK_OUTS = "missed_check_outs"
    HANDOVERS_UNACKNOWLEDGED = "handovers_unacknowledged"


SHIFT_QUEUE_DESCRIPTIONS: dict[ShiftQueue, str] = {
    ShiftQueue.UNCOVERED_SHIFTS: "Shifts that have started and not ended with nobody checked "
    "in; due at the shift's start.",
    ShiftQueue.MISSED_CHECK_OUTS: "People still checked in after the end of their part of a "
    "shift (a lead may record the check-out for them); due at that end.",
    ShiftQueue.HANDOVERS_UNACKNOWLEDGED: "Handovers not yet acknowledged by the person taking "
    "them on. No due time.",
}


def parse_shift_queue(name: str) -> ShiftQueue | None:
    try:
        return ShiftQueue(name)
    except ValueError:
        return None


class ShiftQueueCount(BaseModel):
    """A shift queue's size at the moment asked about."""

    model_config = ConfigDict(frozen=True)

    name: ShiftQueue
    description: str
    total: int
    overdue: int | None = Field(description="Items past due (null: the queue has no due times).")


class ShiftQueueItem(BaseModel):
    """One item of a shift queue: the shift, or the handover, and who it is about."""

    model_config = ConfigDict(frozen=True)

    queue: ShiftQueue
    item_id: UUID = Field(
        description="The shift id (uncovered), the handover id, or for a missed check-out an id "
        "of the shift and the person."
    )
    shift_id: UUID
    service: str
    role: ShiftRole | None = Field(description="The shift's role (null for a handover).")
    person: str | None = Field(
        description="The assignee (uncovered), the person still checked in (missed check-out), "
        "the person a handover is to (null: whoever comes next)."
    )
    case_ids: list[UUID] = Field(description="A handover's cases (that you may see).")
    since: datetime = Field(
        description="The shift's start, the end of the person's part, or the handover."
    )
    due_at: datetime | None
    overdue: bool


# Each queue's keyset: the moment, then the id (and, for a check-out, the person).
_ORDER_TYPES: dict[ShiftQueue, tuple[type, ...]] = {
    ShiftQueue.UNCOVERED_SHIFTS: (datetime, UUID),
    ShiftQueue.MISSED_CHECK_OUTS: (datetime, UUID, str),
    ShiftQueue.HANDOVERS_UNACKNOWLEDGED: (datetime, UUID),
}
MISSED_CHECK_OUT_IDS = UUID("5b0c8a52-7d4e-4f7a-9a51-3c1c6f0e8d21")
"""Namespace of a missed check-out's item id: uuid5 of the shift id and the person."""


class ShiftQueues(ReadModel[ShiftBoardView]):
    """The three shift queues at a moment (now or later; a past one through ``replayed``)."""

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
        self._replays = ViewReplays(
            event_log,
            lambda: [
                CaseSummariesView(event_log, folds=CaseFolds(event_log)),
                ShiftBoardView(event_log),
            ],
        )

    def replayed(self, as_of: datetime, *, wait_seconds: float) -> ShiftQueues:
        """These queues as Vigil knew them at ``as_of`` (recorded basis): ``counts``/``items``
        of the answer read the board and the case list replayed to that moment
        (``projections.replay``: kept until the log grows, one replay at a time in this
        process, ``ReplayBusy`` after ``wait_seconds``). Check the query first (``check_query``):
        a refused query must not cost a replay."""
        replica = self._replays.replayed(as_of, wait_seconds=wait_seconds)
        past = copy.copy(self)
        past.store = replica.store
        return past

    @staticmethod
    def check_query(
        queue: ShiftQueue, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> None:
        """Refuse a page's bad parameters (``InvalidQuery``) before anything is read."""
        check_limit(limit)
        if cursor is not None:
            decode_cursor(queue.value, cursor, _ORDER_TYPES[queue])

    def counts(self, *, as_of: datetime) -> list[ShiftQueueCount]:
        store = self.store
        with store.transaction(commit=False) as tx:
            uncovered = len(self._rows(tx, ShiftQueue.UNCOVERED_SHIFTS, as_of, None, None))
            missed = len(self._rows(tx, ShiftQueue.MISSED_CHECK_OUTS, as_of, None, None))
            row = tx.fetchone(
                f"SELECT COUNT(*) AS total FROM {store.table(HANDOVERS_TABLE)} "
                "WHERE acknowledged_at IS NULL"
            )
        handovers = int(row["total"]) if row is not None else 0
        totals = {
            ShiftQueue.UNCOVERED_SHIFTS: (uncovered, uncovered),
            ShiftQueue.MISSED_CHECK_OUTS: (missed, missed),
            ShiftQueue.HANDOVERS_UNACKNOWLEDGED: (handovers, None),
        }
        return [
            ShiftQueueCount(
                name=queue,
                description=SHIFT_QUEUE_DESCRIPTIONS[queue],
                total=totals[queue][0],
                overdue=totals[queue][1],
            )
            for queue in ShiftQueue
        ]

    def items(
        self,
        queue: ShiftQueue,
        *,
        as_of: datetime,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        visibility: Visibility | None = None,
    ) -> tuple[list[ShiftQueueItem], str | None]:
        """A page of one shift queue, oldest first, and the next page's cursor."""
        check_limit(limit)
        types = _ORDER_TYPES[queue]
        after = None if cursor is None else decode_cursor(queue.value, cursor, types)
        store = self.store
        with store.transaction(commit=False) as tx:
            rows = self._rows(tx, queue, as_of, after, limit + 1)
            page = rows[:limit]
            ids = [UUID(c) for row in page for c in orjson.loads(row.get("case_ids") or "[]")]
            hidden = hidden_cases(tx, store, visibility, ids)
        items = [_item(store, queue, row, as_of, hidden) for row in page]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            key: list[Any] = [last.since, last.item_id]
            if queue is ShiftQueue.MISSED_CHECK_OUTS:
                key = [last.since, last.shift_id, last.person]
            next_cursor = encode_cursor(queue.value, key)
        return items, next_cursor

    def _rows(
        self,
        tx: Tx,
        queue: ShiftQueue,
        at: datetime,
        after: list[Any] | None,
        limit: int | None,
    ) -> list[Row]:
        store = self.store
        rota, attendance = store.table(ROTA_TABLE), store.table(ATTENDANCE_TABLE)
        params: dict[str, Any] = {"at": store.encode_time(at)}
        if queue is ShiftQueue.UNCOVERED_SHIFTS:
            found = tx.fetchone(f"SELECT MAX(length_seconds) AS longest FROM {rota}")
            longest = int(found["longest"] or 0) if found is not None else 0
            params |= {
                "lo": store.encode_time(at - timedelta(seconds=longest)),
                "planned": PLANNED,
            }
            key = "r.starts_at"
            statement = (
                "SELECT r.shift_id AS item_id, r.shift_id, r.service, r.role, "
                "r.assignee AS person, r.starts_at AS since "
                f"FROM {rota} r WHERE r.status = %(planned)s AND r.starts_at <= %(at)s "
                "AND r.starts_at >= %(lo)s AND r.ends_at > %(at)s AND NOT EXISTS ("
                f"SELECT 1 FROM {attendance} a WHERE a.shift_id = r.shift_id "
                "AND a.checked_in_at <= %(at)s "
                "AND (a.checked_out_at IS NULL OR a.checked_out_at > %(at)s))"
            )
            order = "r.starts_at, r.shift_id"
            id_column = "r.shift_id"
        elif queue is ShiftQueue.MISSED_CHECK_OUTS:
            key = "part_ends_at"
            statement = (
                "SELECT shift_id AS item_id, shift_id, service, role, person, "
                f"part_ends_at AS since FROM {attendance} "
                "WHERE until_at IS NULL AND part_ends_at <= %(at)s"
            )
            order = "part_ends_at, shift_id, person"
            id_column = "shift_id, person"
        else:
            key = "given_at"
            statement = (
                "SELECT handover_id AS item_id, shift_id, service, NULL AS role, "
                "given_to AS person, case_ids, given_at AS since "
                f"FROM {store.table(HANDOVERS_TABLE)} WHERE acknowledged_at IS NULL"
            )
            order = "given_at, handover_id"
            id_column = "handover_id"
        if after is not None:
            extra = ", %(k2)s" if len(after) > 2 else ""
            statement += f" AND ({key}, {id_column}) > (%(k0)s, %(k1)s{extra})"
            params |= {"k0": store.encode_time(after[0]), "k1": store.encode_uuid(after[1])}
            if extra:
                params["k2"] = after[2]
        statement += f" ORDER BY {order}"
        if limit is not None:
            statement += " LIMIT %(limit)s"
            params["limit"] = limit
        return tx.fetchall(statement, params)


def _item(
    store: ViewStore, queue: ShiftQueue, row: Row, at: datetime, hidden: set[UUID]
) -> ShiftQueueItem:
    since = store.decode_time(row["since"])
    assert since is not None
    due = None if queue is ShiftQueue.HANDOVERS_UNACKNOWLEDGED else since
    case_ids = [UUID(c) for c in orjson.loads(row.get("case_ids") or "[]")]
    item_id = store.decode_uuid(row["item_id"])
    if queue is ShiftQueue.MISSED_CHECK_OUTS:
        item_id = uuid5(MISSED_CHECK_OUT_IDS, f"{item_id}:{row['person']}")
    return ShiftQueueItem(
        queue=queue,
        item_id=item_id,
        shift_id=store.decode_uuid(row["shift_id"]),
        service=row["service"],
        role=None if row["role"] is None else ShiftRole(row["role"]),
        person=row["person"],
        case_ids=[c for c in case_ids if c not in hidden],
        since=since,
        due_at=due,
        overdue=due is not None and due < at,
    )
