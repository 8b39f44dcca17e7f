"""Views as Vigil knew them at a past moment (recorded basis), for queues asked about the past.

A view holds only today's rows. To answer ``as_of`` a past moment, fresh instances of the views
a query reads are folded, with their own ``changes``, over the events **recorded by** ``as_of``
(``recorded_at <= as_of``), in log order, into a throwaway store in memory (SQLite, whatever the
ledger's database); the query code then runs against that store unchanged. So a replayed answer
is, by construction, what the live view answered at that moment: rows, due times (each judged by
the calendar versions the log held at the row's event, ``projections.service_calendars``) and
the case list a query joins (risk, restriction) all as recorded by then. An event recorded later
(a late-logged check-in, review or completion, whenever it occurred) is not in it.

Restriction is by today's rule, as every list applies it and as the work queues' replay does:
the replayed case list's categories are as they were at the moment, its assignees today's (a
reader who was the assignee then and is no longer does not see a restricted case's items).

A replay reads the whole log (events without personal data: ``view_decoder``), so it costs what
a rebuild of those views costs; ``ViewReplays`` keeps the last few (keyed by the moment and the
log's head, so until the log grows) and runs one at a time in this process, sharing the work
queues' guard (``ReplayBusy`` past ``wait_seconds``). The store in memory holds only view rows
(no personal data) and is dropped with the last reader of it.
"""

# SQL here names only the replayed views' tables (constants, quoted by the store); every value is
# a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.sqlite import SQLiteDatastore

from domain.case.events import CaseAssigned
from infrastructure.event_log import EventLog
from infrastructure.persistence import view_decoder
from projections.catch_up import run_statements
from projections.runner import Positioned, View
from projections.store import SQLiteViewStore
from projections.work_queues import REPLAY_SLOT, REPLAYS_KEPT, ReplayBusy

REPLAY_BATCH = 1000
"""Events folded per batch of a replay."""

_names = itertools.count(1)
_CASE_SUMMARIES = "case_summaries"


@dataclass(frozen=True)
class Replica:
    """Views folded from the events recorded by ``as_of``, in a store of their own in memory;
    ``head``: the last log position read (events recorded after ``as_of`` skipped)."""

    store: SQLiteViewStore
    as_of: datetime
    head: int
    events: int
    """How many events were folded (those recorded by ``as_of``)."""


def memory_store() -> SQLiteViewStore:
    """An empty SQLite database in memory, private to this replay (one connection: dropped with
    its last reference)."""
    name = f"file:vigil-replay-{next(_names)}?mode=memory&cache=shared"
    return SQLiteViewStore(SQLiteDatastore(name, pool_size=1, max_overflow=0, pool_timeout=30.0))


def replay_views(
    event_log: EventLog,
    views: Sequence[View],
    as_of: datetime,
    *,
    batch_size: int = REPLAY_BATCH,
) -> Replica:
    """Fold ``views`` (fresh instances: their fold caches start empty) over the events recorded
    by ``as_of`` into a new store in memory."""
    store = memory_store()
    with store.transaction(commit=True) as tx:
        for view in views:
            for statement in view.create_statements(store):
                tx.execute(statement)
    recorder = event_log.recorder
    decode = view_decoder(event_log)
    head = int(recorder.max_notification_id() or 0)
    assignees: dict[UUID, str | None] = {}  # each case's assignee at the log's head (today's)
    folded = 0
    start = 1
    while start <= head:
        notifications = recorder.select_notifications(start=start, limit=batch_size, stop=head)
        if not notifications:
            break
        batch: list[Positioned] = []
        for notification in notifications:
            event = decode(notification)
            if isinstance(event, CaseAssigned):
                assignees[event.originator_id] = event.assignee
            if event.recorded_at <= as_of:
                batch.append(Positioned(notification.id, event))
        if batch:
            folded += len(batch)
            statements = [s for view in views for s in view.changes(store, batch)]
            with store.transaction(commit=True) as tx:
                run_statements(tx, statements)
        start = notifications[-1].id + 1
    if _CASE_SUMMARIES in store.tables_seen and assignees:
        _assignees_of_today(store, assignees)
    return Replica(store=store, as_of=as_of, head=head, events=folded)


def _assignees_of_today(store: SQLiteViewStore, assignees: dict[UUID, str | None]) -> None:
    """Restriction by today's rule: the replayed case list's assignees set to today's."""
    with store.transaction(commit=True) as tx:
        tx.executemany(
            f"UPDATE {store.table(_CASE_SUMMARIES)} SET assignee = %(assignee)s "
            "WHERE case_id = %(case_id)s",
            [
                {"assignee": assignee, "case_id": store.encode_uuid(case_id)}
                for case_id, assignee in assignees.items()
            ],
        )


class ViewReplays:
    """Replays of a fixed set of views (``build`` makes fresh instances of them), the last
    ``REPLAYS_KEPT`` kept until the log grows, one running at a time in this process."""

    def __init__(self, event_log: EventLog, build: Callable[[], Sequence[View]]) -> None:
        self._event_log = event_log
        self._build = build
        self._kept: OrderedDict[tuple[datetime, int], Replica] = OrderedDict()
        self._lock = threading.Lock()

    def replayed(self, as_of: datetime, *, wait_seconds: float) -> Replica:
        """The views as known at ``as_of``: kept, or replayed now (waiting up to
        ``wait_seconds`` for a replay already running, else ``ReplayBusy``). Check the query's
        other parameters first: a refused query must not cost a replay."""
        key = (as_of, int(self._event_log.recorder.max_notification_id() or 0))
        kept = self._recall(key)
        if kept is not None:
            return kept
        if not REPLAY_SLOT.acquire(timeout=wait_seconds):
            raise ReplayBusy(
                "another replay of the past is running; retry after Retry-After seconds",
                errors={"as_of": "a replay of the past is already running"},
            )
        try:
            kept = self._recall(key)  # the one we waited for may have been this one
            if kept is None:
                kept = replay_views(self._event_log, self._build(), as_of)
                with self._lock:
                    self._kept[key] = kept
                    while len(self._kept) > REPLAYS_KEPT:
                        self._kept.popitem(last=False)
            return kept
        finally:
            REPLAY_SLOT.release()

    def _recall(self, key: tuple[datetime, int]) -> Replica | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
            return kept
