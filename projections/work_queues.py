"""``work_queues``: open work items, each with the time it is due, for coordinators and leads.

One row per open item per queue. Rows are a pure function of each case's state (folded with the
domain's own ``evolve``, see ``projections.case_folds``): whenever a case has events in a batch,
its rows are deleted and written again from its state after the batch. So an item leaves its
queue exactly when the case's state says the work is done, and a rebuild gives the same rows.

Queues and due times (all from event times, at fold time, never from the clock at replay):

* ``out_of_hours_reviews``: out-of-hours decisions awaiting review; due at the decision's
  ``review_due`` (the end of the next working day, fixed when it was recorded).
* ``unacknowledged_escalations``: due at ``raised_at`` (its occurred_at) plus the
  acknowledgement target for its urgency (by default immediate 30 min, urgent 4 h, routine 1
  working day).
* ``referrals_awaiting_acknowledgement``: due the acknowledgement target (by default 1 working
  day) after the referral was made; never a referral to an agency that does not acknowledge (a
  crisis line: see the case vocabulary).
* ``referrals_awaiting_follow_up``: acknowledged, outcome not yet received: chase due the chase
  target (by default 5 working days) after the later of the acknowledgement and the last
  follow-up (a follow-up restarts it).
* ``approvals_awaiting_decision``: decisions held for a second safeguarding lead's approval
  (four-eyes: a ban, closing a critical case); due the approval target (by default 1 working
  day) after the request.
* ``flags_awaiting_action``: flags (a ``FlagRaised``, or a case opened from a flag) awaiting the
  first action on their case at or after them; due the first-action target for the case's risk
  when the flag was raised (unassessed: medium) after the flag.
* ``referrals_awaiting_review``: referrals made without consent (emergency actions, recorded at
  once) awaiting a lead's review; due at the referral's ``review_due`` (end of the next working
  day, fixed when it was recorded).
* ``high_risk_open``: open cases assessed high or critical; no due time; critical first, then
  the longest without action (last action, or opening) first.
* ``no_recent_action``: open cases whose last action (or opening, if none) is more than N days
  before the moment asked about (N per request, default 7); due N days after that last action.

Closing a case takes all its items out; reopening puts back whatever is still open. Targets
are the SLA policy version in force when each clock started, and working days follow the
calendar of the case's service in force then, both as the log held their versions at the case's
latest event (``projections.sla_policies``, ``projections.service_calendars``: never today's
policy or services, so a rebuild gives the same due times and a new policy version never moves
a due time already set; ``projections.sla``). Which
rows a state gives, and the queues' names and read shapes, are in ``projections.queue_rows``;
this module keeps them in a view, reads them, and replays them as of a past moment. Rows hold
no personal data: ids, enums, usernames of staff and times only (no names, summaries, agency
names or free text).

Beside the rows, ``work_queue_counts`` keeps how many rows each (queue, category) holds, moved
in the same transaction as the rows (a rebuild counts them once its fill is done), so
``counts()`` does not count every open item: totals are read from it, and only the overdue
items and idle cases (which depend on the moment asked about) are counted, by index ranges.
"""

# SQL here names only this module's own tables and columns (constants, quoted by the store);
# every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson

from domain.case.events import CaseAssigned, CaseEvent
from domain.case.state import CaseState, apply_in_place
from domain.errors import DomainError, ItemNotFound
from domain.policy.sla import first_version
from infrastructure.calendar import bank_holidays, default_service_calendar
from infrastructure.event_log import EventLog
from infrastructure.persistence import view_decoder
from infrastructure.settings import Settings
from projections.bulk_write import bulk_delete, bulk_insert
from projections.case_folds import CaseFolds, case_folds_for
from projections.paging import (
    DEFAULT_LIMIT,
    InvalidQuery,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from projections.queue_counts import count_queues
from projections.queue_rows import (
    COLUMNS,
    DEFAULT_IDLE_DAYS,
    MAX_IDLE_DAYS,
    QUEUE_DESCRIPTIONS,
    READ_COLUMNS,
    TABLE,
    Queue,
    QueueCount,
    QueueItem,
    queue_rows,
)
from projections.read_model import ReadModel
from projections.restricted import restriction_clause
from projections.runner import DEFAULT_BATCH_SIZE, Positioned, Statement, View
from projections.service_calendars import ServiceCalendars
from projections.sla_policies import SlaPolicies
from projections.store import Row, ViewStore

if TYPE_CHECKING:
    from domain.access.rules import Visibility
    from projections.projector import Projector


COUNTS_TABLE = "work_queue_counts"
"""Rows of ``work_queue_items`` per queue and category, kept by the view with them."""


def orjson_list(values: list[Any]) -> str:
    """A JSON array parameter (SQLite reads it with ``json_each``)."""
    return orjson.dumps(values).decode()


class WorkQueuesView(View):
    name = "work_queues"
    # 2: four-eyes approvals and referrals awaiting review; 3: referrals to agencies that never
    # acknowledge (a crisis line) do not wait for an acknowledgement; 4: each case judged by its
    # service's calendar versions (issue 13), days of several ranges working only in them; 5: the
    # SLA policy in force at each clock start, and flags awaiting action (issue 15); 6: kept
    # counts per queue and category, and items by assignee (issue 18)
    version = 6

    def __init__(
        self,
        event_log: EventLog,
        *,
        calendars: ServiceCalendars | None = None,
        policies: SlaPolicies | None = None,
        folds: CaseFolds | None = None,
        fingerprint: str = "",
    ) -> None:
        # The settings' policy and calendar (the defaults until they are recorded) are part of
        # the fold: a view built with others must be rebuilt, so a fingerprint of the settings
        # behind them is part of the stored version.
        self._calendars = calendars if calendars is not None else default_calendars(event_log)
        self._policies = policies if policies is not None else default_policies(event_log)
        self.feeds = (self._calendars, self._policies)
        self._folds = folds if folds is not None else case_folds_for(event_log)
        self._fingerprint = fingerprint

    def rows_of(self, state: CaseState, position: int) -> list[dict[str, Any]]:
        """The queue rows of one case state whose latest event is at ``position`` in the log:
        judged by its service's calendar versions and the SLA policy's as the log held them
        there."""
        return queue_rows(
            state,
            self._calendars.history(state.service, position),
            self._policies.history(position),
        )

    def stored_version(self) -> int:
        if not self._fingerprint:
            return self.version
        # Fits PostgreSQL's INTEGER: the schema version, then 6 digits of the fingerprint.
        return self.version * 1_000_000 + zlib.crc32(self._fingerprint.encode()) % 1_000_000

    # Table and index names go through these, so the runtime may place the view elsewhere.
    def table(self, store: ViewStore) -> str:
        return store.table(TABLE)

    def index_name(self, store: ViewStore, suffix: str) -> str:
        return store.index(f"{TABLE}_{suffix}")

    def counts_table(self, store: ViewStore) -> str:
        return store.table(COUNTS_TABLE)

    def create_statements(self, store: ViewStore) -> list[str]:
        table = self.table(store)
        ts, uid = store.time_type, store.uuid_type
        return [
            f"CREATE TABLE IF NOT EXISTS {table} ("
            "queue TEXT NOT NULL, "
            f"item_id {uid} NOT NULL, "
            f"case_id {uid} NOT NULL, "
            "kind TEXT NOT NULL, "
            "category TEXT NOT NULL, "
            "risk_level TEXT, "
            "risk_rank INTEGER, "
            "assignee TEXT, "
            "urgency TEXT, "
            "agency_kind TEXT, "
            f"since_at {ts} NOT NULL, "
            f"due_at {ts}, "
            "position BIGINT NOT NULL, "
            "PRIMARY KEY (queue, item_id))",
            f"CREATE INDEX IF NOT EXISTS {self.index_name(store, 'by_due')} "
            f"ON {table} (queue, due_at, item_id)",
            f"CREATE INDEX IF NOT EXISTS {self.index_name(store, 'by_since')} "
            f"ON {table} (queue, since_at, item_id)",
            f"CREATE INDEX IF NOT EXISTS {self.index_name(store, 'by_risk')} "
            f"ON {table} (queue, risk_rank, since_at, item_id)",
            f"CREATE INDEX IF NOT EXISTS {self.index_name(store, 'by_case')} ON {table} (case_id)",
            # A caseworker's own items (counts with ``assignee``, a restricted reader's own).
            f"CREATE INDEX IF NOT EXISTS {self.index_name(store, 'by_assignee')} "
            f"ON {table} (assignee, queue, due_at)",
            # The rows counted per queue and category, kept with them (see ``changes``).
            f"CREATE TABLE IF NOT EXISTS {self.counts_table(store)} ("
            "queue TEXT NOT NULL, "
            "category TEXT NOT NULL, "
            "total BIGINT NOT NULL, "
            "PRIMARY KEY (queue, category))",
        ]

    def drop_statements(self, store: ViewStore) -> list[str]:
        return [
            f"DROP TABLE IF EXISTS {self.table(store)}",
            f"DROP TABLE IF EXISTS {self.counts_table(store)}",
        ]

    def filled_statements(self, store: ViewStore) -> list[str]:
        """The kept counts counted from the rows (a rebuild's fill holds rows back)."""
        table, counts = self.table(store), self.counts_table(store)
        return [
            f"DELETE FROM {counts}",
            f"INSERT INTO {counts} (queue, category, total) "
            f"SELECT queue, category, COUNT(*) FROM {table} GROUP BY queue, category",
        ]

    def reset(self) -> None:
        self._folds.forget()

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        folded = self._folds.fold_batch(batch)
        if not folded:
            return []
        table = self.table(store)
        statements: list[Statement] = []
        case_ids = [store.encode_uuid(f.state.id) for f in folded]
        keep_counts = store.buffer is None  # else counted once filled (filled_statements)
        if keep_counts:
            statements += self._uncount(store, case_ids)
        statements += bulk_delete(store, table, "case_id", case_ids, sql_type="uuid")
        rows = [
            self._encode(store, row, f.position)
            for f in folded
            for row in self.rows_of(f.state, f.position)
        ]
        statements += bulk_insert(store, table, COLUMNS, rows)
        if keep_counts:
            statements += self._count(store, rows)
        return statements

    # The kept counts (``work_queue_counts``): rows per (queue, category), moved in the batch's
    # own transaction: the cases' rows about to be deleted are subtracted (counted by the SQL,
    # from the rows themselves, before the delete), the rows inserted added, and groups left
    # at zero removed, so they always equal a COUNT over the rows (``vigil verify`` compares
    # them with a rebuild's, which counts them from its rows). Fixed SQL text, as bulk_write.
    def _uncount(self, store: ViewStore, case_ids: list[Any]) -> list[Statement]:
        ids: Any = case_ids
        chosen = "case_id = ANY(%(ids)s::uuid[])"
        if store.dialect == "sqlite":
            ids = orjson_list(case_ids)
            chosen = "case_id IN (SELECT value FROM json_each(%(ids)s))"
        return [
            (
                f"UPDATE {self.counts_table(store)} AS c SET total = c.total - d.n FROM ("
                f"SELECT queue, category, COUNT(*) AS n FROM {self.table(store)} "
                f"WHERE {chosen} GROUP BY queue, category) AS d "
                "WHERE c.queue = d.queue AND c.category = d.category",
                {"ids": ids},
            )
        ]

    def _count(self, store: ViewStore, rows: list[dict[str, Any]]) -> list[Statement]:
        added: dict[tuple[str, str], int] = {}
        for row in rows:
            key = (row["queue"], row["category"])
            added[key] = added.get(key, 0) + 1
        counts = self.counts_table(store)
        upsert = (
            f"INSERT INTO {counts} AS c (queue, category, total) "
            "VALUES (%(queue)s, %(category)s, %(total)s) "
            "ON CONFLICT (queue, category) DO UPDATE SET total = c.total + excluded.total"
        )
        statements: list[Statement] = [
            (upsert, {"queue": queue, "category": category, "total": total})
            for (queue, category), total in sorted(added.items())
        ]
        statements.append((f"DELETE FROM {counts} WHERE total = 0", {}))
        return statements

    @staticmethod
    def _encode(store: ViewStore, row: dict[str, Any], position: int) -> dict[str, Any]:
        return {
            **row,
            "item_id": store.encode_uuid(row["item_id"]),
            "case_id": store.encode_uuid(row["case_id"]),
            "since_at": store.encode_time(row["since_at"]),
            "due_at": store.encode_time(row["due_at"]),
            "position": position,
        }


# Listing order of each queue: the columns of its keyset, and their types (for the cursor).
_ORDER: dict[Queue, tuple[tuple[str, ...], tuple[type, ...]]] = {
    **{
        queue: (("due_at", "item_id"), (datetime, UUID))
        for queue in (
            Queue.OUT_OF_HOURS_REVIEWS,
            Queue.UNACKNOWLEDGED_ESCALATIONS,
            Queue.REFERRALS_AWAITING_ACKNOWLEDGEMENT,
            Queue.REFERRALS_AWAITING_FOLLOW_UP,
            Queue.APPROVALS_AWAITING_DECISION,
            Queue.REFERRALS_AWAITING_REVIEW,
            Queue.FLAGS_AWAITING_ACTION,
        )
    },
    Queue.HIGH_RISK_OPEN: (("risk_rank", "since_at", "item_id"), (int, datetime, UUID)),
    Queue.NO_RECENT_ACTION: (("since_at", "item_id"), (datetime, UUID)),
}


# Queues whose items have a due time (high_risk_open has none; no_recent_action's is per
# request): their overdue items are counted by the (queue, due_at) index.
_DUE_QUEUES = tuple(q for q in _ORDER if _ORDER[q][0][0] == "due_at")


class UnknownQueue(ItemNotFound):
    """No queue of that name: HTTP 404 (the name is in the URL)."""

    title = "No such queue"


def parse_queue(name: str) -> Queue:
    try:
        return Queue(name)
    except ValueError:
        allowed = ", ".join(q.value for q in Queue)
        raise UnknownQueue(
            f"there is no queue named {name!r}; the queues are: {allowed}",
            errors={"name": f"must be one of: {allowed}"},
        ) from None


REPLAY_SLOT = threading.BoundedSemaphore(1)
"""One replay of the past at a time in this process: each reads the whole log."""
REPLAYS_KEPT = 8
"""Replays kept per process (most recently used), each until the log grows."""


class ReplayBusy(DomainError):
    """Another replay of the past is running in this process: HTTP 503, retry later."""

    title = "Another replay is running"
    retry_after = 5


class WorkQueues(ReadModel[WorkQueuesView]):
    """The work queues: kept up to date with ``catch_up()``, read with ``counts()``/``items()``.

    With the shared ``projector`` its ``work_queues`` view is read (and the calendars and policy
    are the ones that view was built with); alone, a view of its own is built with them.
    """

    def __init__(
        self,
        event_log: EventLog,
        *,
        projector: Projector | None = None,
        calendars: ServiceCalendars | None = None,
        policies: SlaPolicies | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        super().__init__(
            event_log,
            WorkQueuesView,
            lambda: WorkQueuesView(event_log, calendars=calendars, policies=policies),
            projector=projector,
            batch_size=batch_size,
        )
        self._event_log = event_log
        self._replays: OrderedDict[tuple[datetime, int], Replayed] = OrderedDict()
        self._replays_lock = threading.Lock()

    # --- as Vigil knew it at a past moment --------------------------------------------------------

    def replayed(self, as_of: datetime, *, wait_seconds: float) -> Replayed:
        """``replay(as_of)``, kept until the log grows, one at a time in this process: a caller
        waits up to ``wait_seconds`` for the one running, then gets ``ReplayBusy``. Check the
        query's other parameters first: a refused query must not cost a replay."""
        key = (as_of, int(self._event_log.recorder.max_notification_id() or 0))
        kept = self._kept(key)
        if kept is not None:
            return kept
        if not REPLAY_SLOT.acquire(timeout=wait_seconds):
            raise ReplayBusy(
                "another replay of the past is running; retry after Retry-After seconds",
                errors={"as_of": "a replay of the past is already running"},
            )
        try:
            kept = self._kept(key)  # the one we waited for may have been this one
            if kept is None:
                kept = self.replay(as_of)
                with self._replays_lock:
                    self._replays[key] = kept
                    while len(self._replays) > REPLAYS_KEPT:
                        self._replays.popitem(last=False)
            return kept
        finally:
            REPLAY_SLOT.release()

    def _kept(self, key: tuple[datetime, int]) -> Replayed | None:
        with self._replays_lock:
            kept = self._replays.get(key)
            if kept is not None:
                self._replays.move_to_end(key)
            return kept

    def check_replay_query(
        self,
        queue: Queue | None = None,
        *,
        idle_days: int = DEFAULT_IDLE_DAYS,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> None:
        """Refuse a replayed query's bad parameters (InvalidQuery) before anything is read."""
        _check_idle_days(idle_days)
        check_limit(limit)
        if queue is not None and cursor is not None:
            decode_cursor(queue.value, cursor, _ORDER[queue][1])

    def replay(self, as_of: datetime) -> Replayed:
        """Every queue row as Vigil knew it at ``as_of`` (recorded basis).

        The view holds only today's rows, so the past is read from the log: every case folded
        from the events recorded by ``as_of``, the rule of a case read as of that moment
        (``CaseService.get(as_of=)``), then given the view's own rows. It reads the whole log
        (events without personal data), so it costs what a rebuild of this view costs."""
        recorder = self._event_log.recorder
        decode = view_decoder(self._event_log)
        head = int(recorder.max_notification_id() or 0)
        states: dict[UUID, CaseState] = {}
        positions: dict[UUID, int] = {}  # of each case's latest event recorded by as_of
        assignees: dict[UUID, str | None] = {}
        start = 1
        while start <= head:
            notifications = recorder.select_notifications(
                start=start, limit=_REPLAY_BATCH, stop=head
            )
            if not notifications:
                break
            for notification in notifications:
                event = decode(notification)
                if not isinstance(event, CaseEvent):
                    continue
                if isinstance(event, CaseAssigned):
                    assignees[event.originator_id] = event.assignee
                if event.recorded_at <= as_of:
                    # Owned here: folded in place, one event at a time.
                    state = apply_in_place(states.get(event.originator_id), event)
                    if state is not None:
                        states[state.id] = state
                        positions[state.id] = notification.id
            start = notifications[-1].id + 1
        rows = [
            row
            for state in states.values()
            for row in self.view.rows_of(state, positions[state.id])
        ]
        return Replayed(rows=rows, assignees=assignees)

    def replayed_counts(
        self,
        replayed: Replayed,
        *,
        as_of: datetime,
        idle_days: int = DEFAULT_IDLE_DAYS,
        assignee: str | None = None,
        visibility: Visibility | None = None,
    ) -> list[QueueCount]:
        """``counts()`` over replayed rows: each queue's total and overdue at ``as_of``."""
        _check_idle_days(idle_days)
        cutoff = as_of - timedelta(days=idle_days)
        totals: dict[str, list[int]] = {}
        for row in replayed.visible(visibility, assignee):
            if row["queue"] == Queue.NO_RECENT_ACTION.value:
                if row["since_at"] < cutoff:
                    counted = totals.setdefault(row["queue"], [0, 0])
                    counted[0] += 1
                    counted[1] += 1
                continue
            counted = totals.setdefault(row["queue"], [0, 0])
            counted[0] += 1
            counted[1] += int(row["due_at"] is not None and row["due_at"] < as_of)
        return [
            QueueCount(
                name=queue,
                description=QUEUE_DESCRIPTIONS[queue],
                total=totals.get(queue.value, [0, 0])[0],
                overdue=None
                if queue is Queue.HIGH_RISK_OPEN
                else totals.get(queue.value, [0, 0])[1],
            )
            for queue in Queue
        ]

    def replayed_items(
        self,
        replayed: Replayed,
        queue: Queue | str,
        *,
        as_of: datetime,
        idle_days: int = DEFAULT_IDLE_DAYS,
        assignee: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        visibility: Visibility | None = None,
    ) -> tuple[list[QueueItem], str | None]:
        """``items()`` over replayed rows: a page of one queue in due order at ``as_of``."""
        queue = parse_queue(queue) if not isinstance(queue, Queue) else queue
        check_limit(limit)
        _check_idle_days(idle_days)
        order, types = _ORDER[queue]
        cutoff = as_of - timedelta(days=idle_days)
        rows = [
            row
            for row in replayed.visible(visibility, assignee)
            if row["queue"] == queue.value
            and (queue is not Queue.NO_RECENT_ACTION or row["since_at"] < cutoff)
        ]

        def key(row: dict[str, Any]) -> tuple[Any, ...]:
            # As the SQL orders them; a missing due time sorts last.
            return tuple(
                (row[column] is None, row[column] if row[column] is not None else 0)
                for column in order
            )

        rows.sort(key=key)
        if cursor is not None:
            after = decode_cursor(queue.value, cursor, types)
            after_key = tuple((False, value) for value in after)
            rows = [row for row in rows if key(row) > after_key]
        page = rows[:limit]
        items = [_replayed_item(row, as_of, idle_days) for row in page]
        next_cursor = None
        if len(rows) > limit:
            last = page[-1]
            next_cursor = encode_cursor(queue.value, [last[column] for column in order])
        return items, next_cursor

    def counts(
        self,
        *,
        as_of: datetime,
        idle_days: int = DEFAULT_IDLE_DAYS,
        assignee: str | None = None,
        visibility: Visibility | None = None,
    ) -> list[QueueCount]:
        """Every queue with its total and how many items are overdue at ``as_of``
        (``visibility``: without the restricted cases a reader may not see).

        Nothing here counts every open item. Totals come from the kept counts (per queue and
        category), plus, for a reader kept out of restricted categories, the restricted items
        they may see anyway (assigned to them, or granted: by the assignee and case indexes).
        With ``assignee``, the assignee's own items are counted (the assignee index). Overdue
        items and idle cases depend on the moment, so they are counted, by index ranges on
        (queue, due_at) and (queue, since_at): the cost grows with the overdue items only."""
        _check_idle_days(idle_days)
        return count_queues(
            self.store,
            self.view.table(self.store),
            self.view.counts_table(self.store),
            _DUE_QUEUES,
            as_of=as_of,
            idle_days=idle_days,
            assignee=assignee,
            visibility=visibility,
        )

    def kept_counts(self) -> dict[tuple[str, str], int]:
        """The kept counts, (queue, category) -> rows (for checks; not for requests)."""
        store = self.store
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT queue, category, total FROM {self.view.counts_table(store)}"
            )
        return {(row["queue"], row["category"]): int(row["total"]) for row in rows}

    def items(
        self,
        queue: Queue | str,
        *,
        as_of: datetime,
        idle_days: int = DEFAULT_IDLE_DAYS,
        assignee: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        visibility: Visibility | None = None,
    ) -> tuple[list[QueueItem], str | None]:
        """A page of one queue in due order, and the cursor of the next page (None at the end).
        ``overdue`` (and, for no_recent_action, which cases are idle) is judged at ``as_of``."""
        queue = parse_queue(queue) if not isinstance(queue, Queue) else queue
        check_limit(limit)
        _check_idle_days(idle_days)
        store = self.store
        order, types = _ORDER[queue]
        where = ["queue = %(queue)s"]
        params: dict[str, Any] = {"queue": queue.value, "limit": limit + 1}
        if assignee is not None:
            where.append("assignee = %(assignee)s")
            params["assignee"] = assignee
        restricted = restriction_clause(store, visibility, params)
        if restricted is not None:
            where.append(restricted)
        if queue is Queue.NO_RECENT_ACTION:
            where.append("since_at < %(cutoff)s")
            params["cutoff"] = store.encode_time(as_of - timedelta(days=idle_days))
        if cursor is not None:
            key = decode_cursor(queue.value, cursor, types)
            names = [f"k{n}" for n in range(len(key))]
            for name, value, kind in zip(names, key, types, strict=True):
                params[name] = _encode_key(store, value, kind)
            where.append(f"({', '.join(order)}) > ({', '.join(f'%({name})s' for name in names)})")
        statement = (
            f"SELECT {READ_COLUMNS}, risk_rank FROM {self.view.table(store)} "
            f"WHERE {' AND '.join(where)} ORDER BY {', '.join(order)} LIMIT %(limit)s"
        )
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(statement, params)
        page = rows[:limit]
        items = [self._item(store, row, as_of, idle_days) for row in page]
        next_cursor = None
        if len(rows) > limit:
            last = page[-1]
            next_cursor = encode_cursor(
                queue.value,
                [_decode_key(store, last[c], t) for c, t in zip(order, types, strict=True)],
            )
        return items, next_cursor

    def all(self) -> list[Row]:
        """Every row, decoded, in (queue, item id) order (for comparisons; not for requests)."""
        store = self.store
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(f"SELECT {', '.join(COLUMNS)} FROM {self.view.table(store)}")
        decoded = [
            {
                **row,
                "item_id": store.decode_uuid(row["item_id"]),
                "case_id": store.decode_uuid(row["case_id"]),
                "since_at": store.decode_time(row["since_at"]),
                "due_at": store.decode_time(row["due_at"]),
            }
            for row in rows
        ]
        return sorted(decoded, key=lambda r: (r["queue"], str(r["item_id"])))

    @staticmethod
    def _item(store: ViewStore, row: Row, as_of: datetime, idle_days: int) -> QueueItem:
        since = store.decode_time(row["since_at"])
        assert since is not None
        due = store.decode_time(row["due_at"])
        if row["queue"] == Queue.NO_RECENT_ACTION.value:
            due = since + timedelta(days=idle_days)
        return QueueItem(
            queue=row["queue"],
            case_id=store.decode_uuid(row["case_id"]),
            item_id=store.decode_uuid(row["item_id"]),
            kind=row["kind"],
            category=row["category"],
            risk_level=row["risk_level"],
            assignee=row["assignee"],
            urgency=row["urgency"],
            agency_kind=row["agency_kind"],
            since=since,
            due_at=due,
            overdue=due is not None and due < as_of,
        )


_REPLAY_BATCH = 1000


def default_calendars(event_log: EventLog) -> ServiceCalendars:
    """Services' calendars for a view built alone (a test, a tool): the default settings'
    calendar for the default service until it is recorded, bank holidays from the
    infrastructure."""
    return ServiceCalendars(
        event_log,
        default_first=default_service_calendar(Settings.model_construct()),
        holidays=bank_holidays,
    )


def default_policies(event_log: EventLog) -> SlaPolicies:
    """The SLA policy for a view built alone (a test, a tool): the default settings' targets as
    version 1 until it is recorded."""
    return SlaPolicies(
        event_log, default_first=first_version(Settings.model_construct().sla_targets)
    )


@dataclass(frozen=True)
class Replayed:
    """Queue rows as known at a past moment, and each case's assignee now (who may see it)."""

    rows: list[dict[str, Any]]
    assignees: dict[UUID, str | None]

    def visible(self, visibility: Visibility | None, assignee: str | None) -> list[dict[str, Any]]:
        """The rows one reader may see (by the access rule of today, as every list applies it),
        on cases assigned to ``assignee`` at the time if given."""
        restricted = set(visibility.restricted) if visibility is not None else set()
        granted = set(visibility.granted_case_ids) if visibility is not None else set()
        return [
            row
            for row in self.rows
            if (assignee is None or row["assignee"] == assignee)
            and (
                row["category"] not in restricted
                or self.assignees.get(row["case_id"]) == getattr(visibility, "username", None)
                or row["case_id"] in granted
            )
        ]


def _replayed_item(row: dict[str, Any], as_of: datetime, idle_days: int) -> QueueItem:
    due: datetime | None = row["due_at"]
    if row["queue"] == Queue.NO_RECENT_ACTION.value:
        due = row["since_at"] + timedelta(days=idle_days)
    return QueueItem(
        queue=row["queue"],
        case_id=row["case_id"],
        item_id=row["item_id"],
        kind=row["kind"],
        category=row["category"],
        risk_level=row["risk_level"],
        assignee=row["assignee"],
        urgency=row["urgency"],
        agency_kind=row["agency_kind"],
        since=row["since_at"],
        due_at=due,
        overdue=due is not None and due < as_of,
    )


def _check_idle_days(idle_days: int) -> None:
    if not 1 <= idle_days <= MAX_IDLE_DAYS:
        raise InvalidQuery(
            f"idle_days must be between 1 and {MAX_IDLE_DAYS}",
            errors={"idle_days": f"must be between 1 and {MAX_IDLE_DAYS}"},
        )


def _encode_key(store: ViewStore, value: Any, kind: type) -> Any:
    if kind is datetime:
        return store.encode_time(value)
    if kind is UUID:
        return store.encode_uuid(value)
    return value


def _decode_key(store: ViewStore, value: Any, kind: type) -> Any:
    if kind is datetime:
        return store.decode_time(value)
    if kind is UUID:
        return store.decode_uuid(value)
    return value
