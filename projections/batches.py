"""Several views moved by one batch of the log: read once, decoded once, one transaction.

A batch of notifications is read once from the ledger's log (from the lowest position of the
views being caught up), decoded once, and handed to every view that has not applied it yet,
each view getting only the events past its own position. Then ONE transaction of the ledger's
database moves every such view's tracking row from the position it was read at to the batch's
end (compare-and-set, in view-name order so two projectors cannot deadlock) and runs every
view's statements. If any compare-and-set matches no row, another projector got there first:
the transaction is rolled back and the batch read again (``projections.catch_up``). If a view
fails (in ``changes`` or in its SQL) nothing of the batch is committed, for any view. So each
event is applied to each view exactly once, and a view that is behind (new, or rebuilt)
catches up alone while the others skip the events they already hold.

A ``Slot`` is a view with the store it writes to and its tracking row: the live tables, or
side tables being rebuilt (``projections.rebuild``).
"""

# SQL here names only the tracking table (a constant, quoted by the store); every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from infrastructure.persistence import view_decoder
from projections.catch_up import Raced, Tracked, advance_all, catch_up, run_statements
from projections.runner import TRACKING_TABLE, Positioned, Statement, View
from projections.status import Metrics
from projections.store import Tx, ViewStore


@dataclass(frozen=True)
class Slot:
    """A view, the store it writes to, and the tracking row of that pair."""

    tracking_name: str
    view: View
    store: ViewStore
    deferred_indexes: tuple[str, ...] = ()
    """``CREATE INDEX`` statements of side tables, to run once they are filled."""


# One view's share of a batch: its slot, the position it was read from, its statements, and
# how many events it was handed.
Work = tuple[Slot, int, list[Statement], int]


class ViewSet:
    """The tracking rows of a projector's views in the ledger's database, and the batches that
    move them; ``applied`` is notified after every batch committed."""

    def __init__(self, event_log: Application[Any], store: ViewStore, metrics: Metrics) -> None:
        self.event_log = event_log
        self.store = store
        self.tracking = store.table(TRACKING_TABLE)
        self.metrics = metrics
        self.applied = threading.Condition()

    def head(self) -> int:
        """The log's last notification id (0: empty)."""
        return int(self.event_log.recorder.max_notification_id() or 0)

    def positions_of(self, names: Sequence[str]) -> dict[str, int]:
        params = {f"n{i}": name for i, name in enumerate(names)}
        placeholders = ", ".join(f"%({key})s" for key in params)
        with self.store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT view_name, notification_id FROM {self.tracking} "
                f"WHERE view_name IN ({placeholders})",
                params,
            )
        found = {row["view_name"]: int(row["notification_id"]) for row in rows}
        missing = [name for name in names if name not in found]
        if missing:
            raise RuntimeError(f"views not set up: {missing}")
        return {name: found[name] for name in names}

    def catch_up(
        self,
        slots: list[Slot],
        max_events: int | None,
        batch_size: int,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[int, dict[str, int]]:
        """Apply everything recorded since each slot's position (at most ``max_events`` events
        of the log): the events read, and how many each slot was handed. ``progress(end)``
        after each batch."""
        behind = _Behind(self, slots, progress)
        consumed = catch_up(behind, self.event_log.recorder, batch_size, max_events)
        return consumed, behind.counts

    def commit(
        self,
        work: list[Work],
        end: int,
        *,
        durable: bool = True,
        transaction: Callable[..., AbstractContextManager[Tx]] | None = None,
        track: bool = True,
    ) -> None:
        """One transaction: every slot's tracking row moved from its start to ``end`` (raising
        ``Raced`` if another projector moved one first), then every slot's statements.

        ``durable=False`` is for side tables being filled (PostgreSQL): the commit does not wait
        for the WAL to reach the disk (a crash may lose the transaction, whole, never part of
        it), and the tracking rows are not locked in name order first (one rebuild at a time
        fills them). Every tracking row moves in one statement
        (``projections.catch_up.advance_all``). ``transaction``: where to open it (default:
        the store's).
        ``track=False`` (with ``durable=False``): the tracking rows are not moved (a part of a
        parallel fill)."""
        with (transaction or self.store.transaction)(commit=True) as tx:
            # Compare-and-set first: it takes the write lock (SQLite) or the tracking rows'
            # locks (PostgreSQL) before anything else is done.
            if not track:
                assert not durable
                assert self.store.dialect == "postgresql"
                tx.execute("SET LOCAL synchronous_commit TO OFF")
            else:
                moves = [(slot.tracking_name, start, count) for slot, start, _, count in work]
                if not advance_all(
                    tx,
                    self.tracking,
                    moves,
                    end,
                    dialect=self.store.dialect,
                    lock_in_order=durable,
                ):
                    raise Raced
                if not durable and self.store.dialect == "postgresql":
                    tx.execute("SET LOCAL synchronous_commit TO OFF")
            for _, _, statements, _ in work:
                run_statements(tx, statements)

    def batch_applied(self, work: list[Work], end: int, seconds: float) -> None:
        """Count a committed batch in the metrics, and wake whoever waits for a position."""
        self.metrics.batch_applied(
            ((slot.tracking_name, count) for slot, _, _, count in work), end, seconds
        )
        self.notify()

    def notify(self) -> None:
        with self.applied:
            self.applied.notify_all()


class _Behind(Tracked[dict[str, int]]):
    """Slots caught up together: each batch is read from the lowest of their positions."""

    def __init__(
        self, views: ViewSet, slots: list[Slot], progress: Callable[[int], None] | None
    ) -> None:
        self._views = views
        self._slots = slots
        self._progress = progress
        self.counts = dict.fromkeys((slot.tracking_name for slot in slots), 0)

    def where(self) -> tuple[int, dict[str, int]]:
        starts = self._views.positions_of([slot.tracking_name for slot in self._slots])
        return min(starts.values()), starts

    def apply(self, state: dict[str, int], notifications: Sequence[Notification]) -> None:
        started = time.perf_counter()
        low = min(state.values())
        end = notifications[-1].id
        decode = view_decoder(self._views.event_log)
        batch = [Positioned(n.id, decode(n)) for n in notifications]
        for slot in self._slots:
            slot.view.saw(low, batch)  # every event of the log in (low, end]
        work: list[Work] = []
        for slot in self._slots:
            start = state[slot.tracking_name]
            if start >= end:
                continue  # already holds this batch (e.g. the others while one catches up)
            items = batch if start <= low else [p for p in batch if p.position > start]
            work.append((slot, start, slot.view.changes(slot.store, items), len(items)))
        work.sort(key=lambda w: w[0].tracking_name)  # one lock order for every projector
        self._views.commit(work, end)
        self._views.batch_applied(work, end, time.perf_counter() - started)
        for slot, _, _, count in work:
            self.counts[slot.tracking_name] += count
        if self._progress is not None:
            self._progress(end)
