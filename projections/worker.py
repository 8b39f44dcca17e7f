"""One projector for every view: the log read once per batch, every view moved in one transaction.

**Transactions.** A batch of notifications is read once from the ledger's log (from the lowest
position of the views being caught up), decoded once, and handed to every view that has not
applied it yet, each view getting only the events past its own position. Then ONE transaction
of the ledger's database moves every such view's tracking row from the position it was read
at to the batch's end (compare-and-set, in view-name order so two projectors cannot deadlock)
and runs every view's statements. If any compare-and-set matches no row, another projector got
there first: the transaction is rolled back and the batch read again. If a view fails (in
``changes`` or in its SQL) nothing of the batch is committed, for any view. So each event is
applied to each view exactly once, and a view that is behind (new, or rebuilt) catches up
alone while the others skip the events they already hold.

**Following.** ``run_forever`` catches up, then sleeps until woken. On PostgreSQL the ledger's
recorder issues ``NOTIFY <events table>`` inside every insert (eventsourcing 9.5.6 does so even
without its database functions), so a listener thread on a connection of its own (not the pool's)
``LISTEN``s on that channel and wakes the follower on commit; a poll every
``fallback_interval`` seconds covers a lost connection or a missed notification. The recorder's
``subscribe`` is not used: it iterates one notification at a time and takes a pooled connection
for as long as it runs. On SQLite, which cannot notify, the follower polls every
``poll_interval`` seconds. A reader waiting for a position (``wait_for``) wakes a follower of
the same process at once.

**Rebuild aside.** ``rebuild`` gives each view a store whose table and index names end in
``__rebuild`` (its own tracking row too), builds those side tables from the start of the log
while the live tables keep answering reads and keep following, and then, in one transaction:
moves the live tracking row to the side table's position (only forwards: if the live view got
further, the side table catches up again first), deletes the side tracking row, drops the live
tables, renames the side tables (and their indexes) to the live names, and lets the view
create anything missing. Readers see the old complete view until that commit, then the new one.
One rebuild of a view at a time (the side tables have one name).

**Filling the side tables fast (PostgreSQL).** One thread reads the log ahead, one decodes and
folds, one commits (``_fill_pipelined``); each view writes through a ``WriteBuffer``, so a
row replaced or deleted by later batches (a case's summary, its queue items) is written once,
by ``COPY``, at the end, and append-only rows go by ``COPY`` with their batch; secondary indexes
of tables filled at the end are built after their rows; the garbage collector is paused for the
fill (``tuned_for_bulk``). With ``rebuild_processes`` > 1 and a log of at least
``parallel_min_events`` events, the fill runs in that many processes (``_fill_parallel``), each
reading, decoding, folding and writing the events of its share of the aggregates (the last byte
of the aggregate's id, chosen in the query); the rebuilding process moves the side tracking
rows once every share is done. Measured by ``bench/projections.py``.
"""

# SQL here names only the tracking table (a constant, quoted by the store); every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import psycopg
import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from psycopg import sql

from infrastructure.persistence import view_decoder
from projections.runner import (
    DEFAULT_BATCH_SIZE,
    TRACKING_TABLE,
    Positioned,
    Statement,
    View,
    reset_view,
    run_statements,
    setup_view,
)
from projections.store import (
    COPY_ROWS,
    Tx,
    ViewStore,
    listen_connection_kwargs,
    view_store_for,
)
from projections.view_check import (
    Continuity,
    Difference,
    continuity,
    differences,
    log_head,
    tracking_rows,
)

logger = structlog.get_logger(__name__)

REBUILD_SUFFIX = "__rebuild"
VERIFY_SUFFIX = "__verify"  # views rebuilt aside by ``vigil verify`` to compare with the live
COMPARE_ATTEMPTS = 20  # catch-ups of a verify's side tables chasing live views that move on
RATE_WINDOW_SECONDS = 60.0
DEFAULT_POLL_INTERVAL = 0.2
DEFAULT_FALLBACK_INTERVAL = 1.0
DEFAULT_REBUILD_BATCH_SIZE = 10_000
DEFAULT_PARALLEL_MIN_EVENTS = 50_000  # smaller logs: one process (starting another costs ~1 s)
DEFAULT_PARALLEL_HEAD_START = 20_000  # events the rebuilding process applies as workers start
# How long the rebuilding process, its own share done, waits for its worker processes.
DEFAULT_REBUILD_WORKER_TIMEOUT = 1800.0
PROGRESS_LOG_INTERVAL = 10.0
INDEX_BUILD_THREADS = 2
INDEX_BUILD_MEMORY = "256MB"  # maintenance_work_mem for a side table's index build
BULK_SWITCH_INTERVAL = 0.001  # seconds (see tuned_for_bulk)


class UnknownView(ValueError):
    """A view name the projector does not run."""


@dataclass(frozen=True)
class ViewStatus:
    """Where one view stands against the log."""

    name: str
    position: int
    """Notification id of the last event applied to the view."""
    head: int
    """The log's last notification id."""
    lag_events: int
    """head - position."""
    lag_seconds: float
    """How long the oldest event the view has not applied has been in the log, as observed by
    this process (0 when up to date; observed at each ``status()`` and batch)."""
    events_applied_total: int
    """Events this process applied to the view (since it started)."""
    rate: float
    """Log positions per second the view advanced over the last minute (as observed here)."""
    last_batch_seconds: float | None
    """How long this process's last batch for the view took (None: none yet)."""


@dataclass(frozen=True)
class _Slot:
    """A view, the store it writes to, and the tracking row of that pair."""

    tracking_name: str
    view: View
    store: ViewStore
    deferred_indexes: tuple[str, ...] = ()
    """``CREATE INDEX`` statements of side tables, to run once they are filled."""


RebuildParts = Callable[[], tuple[Application[Any], list[View]]]
"""Makes a ledger and the views anew, in a rebuild's worker process: a picklable callable (a
module-level function, or a ``functools.partial`` of one), e.g. from the settings."""


# One view's share of a batch: its slot, the position it was read from, its statements, and
# how many events it was handed.
_Work = tuple[_Slot, int, list[Statement], int]


@contextmanager
def tuned_for_bulk() -> Iterator[None]:
    """The interpreter tuned for a rebuild's fill, for as long as it runs.

    The cyclic garbage collector off: a fill allocates millions of objects that reference
    counting frees (decoded events, rows), and the collector's passes over them (and over
    everything else alive) took most of the time spent decoding. Nothing in the fill makes
    reference cycles to speak of (a 100,000-event rebuild leaves a few dozen objects for the
    collector). And a shorter switch interval: the reading and writing threads mostly wait on
    PostgreSQL, and with the default 5 ms each of their round trips could wait that long for
    the decoding thread to let go of the interpreter.
    """
    enabled = gc.isenabled()
    interval = sys.getswitchinterval()
    gc.disable()
    sys.setswitchinterval(BULK_SWITCH_INTERVAL)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        if enabled:
            gc.enable()


@dataclass
class _Stats:
    applied_total: int = 0
    last_batch_seconds: float | None = None
    samples: deque[tuple[float, int]] = field(default_factory=deque)

    def sample(self, now: float, position: int) -> None:
        self.samples.append((now, position))
        while self.samples and now - self.samples[0][0] > RATE_WINDOW_SECONDS:
            self.samples.popleft()

    def rate(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        (t0, p0), (t1, p1) = self.samples[0], self.samples[-1]
        return (p1 - p0) / (t1 - t0) if t1 > t0 else 0.0


class Follower:
    """A projector following the log in a background thread."""

    def __init__(self, projector: Projector) -> None:
        self.stop_event = threading.Event()
        self._projector = projector
        self._thread = threading.Thread(
            target=projector.run_forever,
            args=(self.stop_event,),
            name="vigil-projector",
            daemon=True,
        )

    def start(self) -> Follower:
        self._thread.start()
        return self

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following (after the batch in hand, if any) and wait for the thread."""
        self.stop_event.set()
        self._projector.wake()
        if self._thread.is_alive():
            self._thread.join(timeout)


class Projector:
    """Keeps every view up to date with the ledger's log, exactly once."""

    def __init__(
        self,
        ledger: Application[Any],
        views: Sequence[View],
        *,
        store: ViewStore | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        rebuild_batch_size: int = DEFAULT_REBUILD_BATCH_SIZE,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        fallback_interval: float = DEFAULT_FALLBACK_INTERVAL,
        listen: bool = True,
        rebuild_processes: int = 1,
        rebuild_parts: RebuildParts | None = None,
        parallel_min_events: int = DEFAULT_PARALLEL_MIN_EVENTS,
        parallel_head_start: int = DEFAULT_PARALLEL_HEAD_START,
        rebuild_worker_timeout: float = DEFAULT_REBUILD_WORKER_TIMEOUT,
        set_up: bool = True,
    ) -> None:
        """``rebuild_processes`` > 1 (PostgreSQL, with ``rebuild_parts``): a rebuild of a log
        of at least ``parallel_min_events`` events fills the side tables in that many processes
        (see ``_fill_parallel``; ``parallel_head_start``: see ``share_bounds``); once its own
        share is done, the rebuilding process waits at most ``rebuild_worker_timeout`` seconds
        for the others, then fails the rebuild.
        ``set_up=False``: leave the tables alone (a rebuild's worker process, which only fills
        side tables the rebuilding process made)."""
        if batch_size < 1 or rebuild_batch_size < 1:
            raise ValueError("batch sizes must be at least 1")
        if rebuild_processes < 1:
            raise ValueError("rebuild_processes must be at least 1")
        if not rebuild_worker_timeout > 0:
            raise ValueError("rebuild_worker_timeout must be positive")
        names = [view.name for view in views]
        if len(set(names)) != len(names):
            raise ValueError(f"view names must be unique: {names}")
        if any(name.endswith((REBUILD_SUFFIX, VERIFY_SUFFIX)) for name in names):
            raise ValueError(f"a view name may not end in {REBUILD_SUFFIX!r} or {VERIFY_SUFFIX!r}")
        self._ledger = ledger
        self._views = list(views)
        self._store = store if store is not None else view_store_for(ledger.recorder)
        self._tracking = self._store.table(TRACKING_TABLE)
        self._batch_size = batch_size
        self._rebuild_batch_size = rebuild_batch_size
        self._poll_interval = poll_interval
        self._fallback_interval = fallback_interval
        self._listen = listen
        self._rebuild_processes = rebuild_processes
        self._rebuild_parts = rebuild_parts
        self._parallel_min_events = parallel_min_events
        self._parallel_head_start = parallel_head_start
        self._rebuild_worker_timeout = rebuild_worker_timeout
        self._lock = threading.RLock()  # one batch (or rebuild) at a time in this process
        self._applied = threading.Condition()  # notified after every committed batch
        self._wake_event = threading.Event()
        self._stats_lock = threading.Lock()
        self._stats: dict[str, _Stats] = {name: _Stats() for name in names}
        self._heads: deque[tuple[float, int]] = deque()  # (when, head) as observed, ascending
        self._follower: Follower | None = None
        # view -> (position, events the log holds up to it), as last counted (``continuity``).
        self._known_counts: dict[str, tuple[int, int]] = {}
        self._known_lock = threading.Lock()
        if set_up:
            self.setup()

    # --- set-up and inspection --------------------------------------------------------------

    @property
    def views(self) -> list[View]:
        return list(self._views)

    @property
    def store(self) -> ViewStore:
        return self._store

    @property
    def is_postgres(self) -> bool:
        return self._store.dialect == "postgresql"

    def view(self, name: str) -> View:
        for view in self._views:
            if view.name == name:
                return view
        raise UnknownView(
            f"no view named {name!r}; views: {', '.join(v.name for v in self._views)}"
        )

    def setup(self) -> None:
        """Create the tracking rows and the views' tables if absent (a stale version: rebuilt)."""
        with self._lock:
            for view in self._views:
                setup_view(self._store, view)

    def head(self) -> int:
        """The log's last notification id (0: empty)."""
        return int(self._ledger.recorder.max_notification_id() or 0)

    def positions(self) -> dict[str, int]:
        """Each view's position (notification id of the last event applied)."""
        return self._positions_of([view.name for view in self._views])

    def position(self, name: str | None = None) -> int:
        """A view's position; without a name, the lowest of all (what every view has applied)."""
        if name is not None:
            self.view(name)
            return self._positions_of([name])[name]
        positions = self.positions()
        return min(positions.values()) if positions else self.head()

    def _positions_of(self, names: Sequence[str]) -> dict[str, int]:
        params = {f"n{i}": name for i, name in enumerate(names)}
        placeholders = ", ".join(f"%({key})s" for key in params)
        with self._store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT view_name, notification_id FROM {self._tracking} "
                f"WHERE view_name IN ({placeholders})",
                params,
            )
        found = {row["view_name"]: int(row["notification_id"]) for row in rows}
        missing = [name for name in names if name not in found]
        if missing:
            raise RuntimeError(f"views not set up: {missing}")
        return {name: found[name] for name in names}

    def status(self) -> list[ViewStatus]:
        """Every view's position, the log's head, lag (events and seconds) and rates."""
        positions = self.positions()
        head = self.head()
        now = time.monotonic()
        self._observe(now, head, positions)
        with self._stats_lock:
            return [
                ViewStatus(
                    name=name,
                    position=position,
                    head=max(head, position),
                    lag_events=max(0, head - position),
                    lag_seconds=self._lag_seconds(now, position),
                    events_applied_total=self._stats[name].applied_total,
                    rate=self._stats[name].rate(),
                    last_batch_seconds=self._stats[name].last_batch_seconds,
                )
                for name, position in positions.items()
            ]

    def _observe(self, now: float, head: int, positions: dict[str, int]) -> None:
        with self._stats_lock:
            if not self._heads or head > self._heads[-1][1]:
                self._heads.append((now, head))
            lowest = min(positions.values(), default=head)
            # Observations every view has passed tell nothing more about lag.
            while len(self._heads) > 1 and self._heads[1][1] <= lowest:
                self._heads.popleft()
            for name, position in positions.items():
                stats = self._stats.get(name)
                if stats is not None:
                    stats.sample(now, position)

    def _lag_seconds(self, now: float, position: int) -> float:
        # The earliest moment a head beyond the position was seen: an event the view has not
        # applied has been in the log at least since then.
        for seen_at, head in self._heads:
            if head > position:
                return round(now - seen_at, 3)
        return 0.0

    # --- catching up ------------------------------------------------------------------------

    def _live_slots(self) -> list[_Slot]:
        return [_Slot(view.name, view, self._store) for view in self._views]

    def catch_up(self, max_events: int | None = None) -> int:
        """Apply everything recorded since each view's position (at most ``max_events`` events
        of the log), in batches of one transaction each. Returns how many events of the log were
        read (events no view cares about count too)."""
        with self._lock:
            return self._catch_up(self._live_slots(), max_events, self._batch_size)[0]

    def catch_up_counts(self, max_events: int | None = None) -> dict[str, int]:
        """``catch_up``, answering how many events each view was handed (0: it was up to date)."""
        with self._lock:
            return self._catch_up(self._live_slots(), max_events, self._batch_size)[1]

    def _catch_up(
        self,
        slots: list[_Slot],
        max_events: int | None,
        batch_size: int,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[int, dict[str, int]]:
        consumed = 0
        counts = dict.fromkeys((slot.tracking_name for slot in slots), 0)
        while max_events is None or consumed < max_events:
            limit = batch_size if max_events is None else min(batch_size, max_events - consumed)
            applied = self._apply_next_batch(slots, limit)
            if applied is None:
                break
            read, end, handed = applied
            consumed += read
            for name, count in handed.items():
                counts[name] += count
            if progress is not None:
                progress(end)
        return consumed, counts

    def _apply_next_batch(
        self, slots: list[_Slot], limit: int
    ) -> tuple[int, int, dict[str, int]] | None:
        """Read and apply one batch to the slots behind: (events read, end position, events
        handed to each slot), or None when every slot is up to date."""
        while True:
            starts = self._positions_of([slot.tracking_name for slot in slots])
            low = min(starts.values())
            notifications = self._ledger.recorder.select_notifications(start=low + 1, limit=limit)
            if not notifications:
                return None
            started = time.perf_counter()
            end = notifications[-1].id
            decode = view_decoder(self._ledger)
            batch = [Positioned(n.id, decode(n)) for n in notifications]
            work: list[_Work] = []
            for slot in slots:
                start = starts[slot.tracking_name]
                if start >= end:
                    continue  # already holds this batch (e.g. the others while one catches up)
                items = batch if start <= low else [p for p in batch if p.position > start]
                work.append((slot, start, slot.view.changes(slot.store, items), len(items)))
            work.sort(key=lambda w: w[0].tracking_name)  # one lock order for every projector
            try:
                self._commit_batch(work, end)
            except _Raced:
                logger.debug("view_position_moved", read_from=low)
                continue
            self._applied_batch(work, end, time.perf_counter() - started)
            return len(notifications), end, {w[0].tracking_name: w[3] for w in work}

    def _applied_batch(self, work: list[_Work], end: int, seconds: float) -> None:
        now = time.monotonic()
        with self._stats_lock:
            for slot, _, _, count in work:
                stats = self._stats.setdefault(slot.tracking_name, _Stats())
                stats.applied_total += count
                stats.last_batch_seconds = seconds
                stats.sample(now, end)
        with self._applied:
            self._applied.notify_all()

    # --- rebuilding aside -------------------------------------------------------------------

    def rebuild(
        self,
        names: list[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Rebuild views (all, or those named) from the start of the log into side tables, then
        swap them in; reads keep using the old tables until the swap. ``progress(done, total)``
        is called as the side tables fill (log positions). Returns events read."""
        targets = self._views if names is None else [self.view(name) for name in names]
        if not targets:
            return 0
        with self._lock:
            slots = [self._prepare_aside(view) for view in targets]
            total = self.head()
            if progress is not None:
                progress(0, total)

            def report(done: int) -> None:
                nonlocal total
                total = max(total, done)
                if progress is not None:
                    progress(done, total)

            started = time.perf_counter()
            consumed = self._fill_aside(slots, total, report, parallel=True)
            for slot in slots:
                consumed += self._swap_in(slot)
            logger.info(
                "views_rebuilt",
                views=[view.name for view in targets],
                events=consumed,
                seconds=round(time.perf_counter() - started, 3),
            )
        with self._applied:
            self._applied.notify_all()
        return consumed

    def _fill_aside(
        self,
        slots: list[_Slot],
        total: int,
        report: Callable[[int], None],
        *,
        parallel: bool,
    ) -> int:
        """Fill freshly prepared side tables from the start of the log; events read."""
        if self._store.dialect == "postgresql" and parallel and self._parallel_for(total):
            deferred = {slot.tracking_name: list(slot.deferred_indexes) for slot in slots}
            consumed = self._fill_parallel(slots, report, total, deferred)
            self._build_indexes([s for statements in deferred.values() for s in statements])
        elif self._store.dialect == "postgresql":
            deferred = {slot.tracking_name: list(slot.deferred_indexes) for slot in slots}
            with tuned_for_bulk():
                consumed = self._fill_pipelined(slots, self._rebuild_batch_size, report, deferred)
            self._build_indexes([s for statements in deferred.values() for s in statements])
        else:
            consumed = self._catch_up(slots, None, self._rebuild_batch_size, report)[0]
        return consumed

    # --- checking the live views against the log --------------------------------------------

    def continuity(self) -> list[Continuity]:
        """Each view's tracking row against the log (see ``projections.view_check``): the log
        is counted from where this process last looked, so a look costs what the log gained."""
        with self._known_lock:
            return continuity(
                self._store,
                self._ledger.recorder,
                [view.name for view in self._views],
                self._known_counts,
            )

    def compare_with_rebuild(
        self, names: list[str] | None = None, *, attempts: int = COMPARE_ATTEMPTS
    ) -> tuple[list[Difference], list[str]]:
        """Rebuild views (all, or those named) aside from the log (tables ending in
        ``__verify``), compare each with the live view at the same position, drop the side
        tables. Returns the differences, and the views that could not be compared: their live
        position stayed out of the rebuild's reach (beyond the log's head, or moving faster
        than ``attempts`` catch-ups; ``continuity`` says which)."""
        targets = self._views if names is None else [self.view(name) for name in names]
        found: list[Difference] = []
        with self._lock:
            slots = [self._prepare_aside(view, VERIFY_SUFFIX) for view in targets]
            try:
                self._fill_aside(slots, self.head(), lambda _: None, parallel=False)
                pending = list(slots)
                for _ in range(attempts):
                    if not pending:
                        break
                    self._catch_up(pending, None, self._rebuild_batch_size)
                    behind, ahead = self._compare_settled(pending, found)
                    if behind:
                        self.catch_up()  # the live views lag the rebuild: move them on
                    pending = [s for s in pending if s.tracking_name in behind | ahead]
            finally:
                self._discard_aside(slots)
                for view in targets:
                    view.reset()  # what a fold cached came from the side tables
        return found, [slot.view.name for slot in pending]

    def _compare_settled(
        self, slots: list[_Slot], found: list[Difference]
    ) -> tuple[set[str], set[str]]:
        """In one snapshot, compare every slot whose live view stands where its rebuild does;
        the side names of the others: those whose live view is behind, and ahead."""
        behind: set[str] = set()
        ahead: set[str] = set()
        with self._store.transaction(commit=False) as tx:
            if self._store.dialect == "postgresql":
                tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            names = [s.view.name for s in slots] + [s.tracking_name for s in slots]
            rows = tracking_rows(tx, self._store, names)
            for slot in slots:
                live = rows[slot.view.name][0]
                side = rows[slot.tracking_name][0]
                if live == side:
                    tables = sorted(slot.store.tables_seen - {TRACKING_TABLE})
                    found.extend(differences(tx, slot.view.name, self._store, slot.store, tables))
                elif live < side:
                    behind.add(slot.tracking_name)
                else:
                    ahead.add(slot.tracking_name)
        return behind, ahead

    def _fill_pipelined(
        self,
        slots: list[_Slot],
        batch_size: int,
        progress: Callable[[int], None],
        deferred: dict[str, list[str]],
        *,
        part: _Share | None = None,
        until: int | None = None,
        watch: Callable[[], None] | None = None,
    ) -> int:
        """Fill freshly reset side tables from the log, writing one batch while the next is
        read, decoded and folded: PostgreSQL executes on one core while Python works on the
        other (psycopg releases the GIL while it waits). Batches still commit in log order, each
        with its compare-and-set on the side tracking rows.

        Each view writes through a ``WriteBuffer`` (the side tables start empty): rows that a
        later batch would replace or delete (a case's summary, its queue items) are held in
        memory and written once, by ``COPY``, in a last transaction; append-only rows go by
        ``COPY`` with their batch. So until the fill ends the side tables lag their tracking
        rows; nothing reads them meanwhile, and a rebuild that fails leaves them to be reset
        by the next one.

        ``deferred`` holds each slot's ``CREATE INDEX`` statements not yet run: those of tables
        written at every batch are run before their first rows (PostgreSQL then keeps them up to
        date on its own core while this thread decodes); the others are left for after the
        fill (one sort each, instead of an entry per row). Returns events read.

        ``part``: only the events of the aggregates of that share (``_Share``)
        are read (chosen by the query, so before decoding), and the tracking rows are left
        alone (the rebuilding process moves them once every share is done; see
        ``_fill_parallel``). ``until``: read no further than that position. ``watch``: called
        before each batch is decoded; what it raises stops the fill at once (nothing more is
        committed) and is raised."""
        pending: queue.Queue[tuple[list[_Work], int] | None] = queue.Queue(maxsize=2)
        failure: list[BaseException] = []
        buffered = {slot.tracking_name: slot.store.buffered() for slot in slots}
        ordered = sorted(slots, key=lambda slot: slot.tracking_name)  # the lock order

        def commit_in_order() -> None:
            try:
                with self._store.session() as transaction:
                    while (item := pending.get()) is not None:
                        if failure:
                            continue  # drain: the reader is about to see the failure and stop
                        work, end = item
                        started = time.perf_counter()
                        try:
                            # Side tables are thrown away if the rebuild does not finish: their
                            # batches need not wait for the disk (the swap's transaction does).
                            self._commit_batch(
                                work,
                                end,
                                durable=False,
                                transaction=transaction,
                                track=part is None,
                            )
                        except _Raced:
                            raise RuntimeError(
                                "side tables moved during the rebuild: only one rebuild at a time"
                            ) from None
                        self._applied_batch(work, end, time.perf_counter() - started)
                        progress(end)
            except BaseException as exc:  # reported to the reading thread
                failure.append(exc)
                while pending.get() is not None:
                    pass  # drain, so the reading thread never blocks on a full queue

        committer = threading.Thread(target=commit_in_order, name="vigil-rebuild-writer")
        committer.start()
        consumed, position = 0, 0
        reader = _ReadAhead(self._ledger.recorder, batch_size, until, part)
        try:
            for notifications in reader:
                if failure:
                    break
                if watch is not None:
                    watch()
                decode = view_decoder(self._ledger)
                batch = [Positioned(n.id, decode(n)) for n in notifications]
                end = notifications[-1].id
                work: list[_Work] = []
                for slot in ordered:
                    store = buffered[slot.tracking_name]
                    assert store.buffer is not None
                    statements = store.buffer.route(slot.view.changes(store, batch))
                    streamed = store.buffer.flush_streaming()
                    waiting = deferred[slot.tracking_name]
                    if streamed and waiting:
                        tables = {params["table"] for sql, params in streamed if sql == COPY_ROWS}
                        now = [s for s in waiting if any(f" ON {t} " in s for t in tables)]
                        deferred[slot.tracking_name] = [s for s in waiting if s not in now]
                        statements = [(s, {}) for s in now] + statements
                    work.append((slot, position, statements + streamed, len(batch)))
                pending.put((work, end))
                consumed += len(notifications)
                position = end
            if not failure:
                # What the buffers still hold, in a last transaction (its compare-and-set
                # moves nothing: every slot is at the end already).
                final: list[_Work] = []
                for slot in ordered:
                    held = buffered[slot.tracking_name].buffer
                    assert held is not None
                    final.append((slot, position, held.flush(), 0))
                if any(statements for _, _, statements, _ in final):
                    pending.put((final, position))
        except BaseException as exc:
            failure.append(exc)  # the writing thread commits nothing more
            raise
        finally:
            reader.close()
            pending.put(None)
            committer.join()
        if failure:
            raise failure[0]
        return consumed

    def _parallel_for(self, events: int) -> bool:
        return (
            self._rebuild_processes > 1
            and self._rebuild_parts is not None
            and events >= max(1, self._parallel_min_events)
        )

    def _fill_parallel(
        self,
        slots: list[_Slot],
        progress: Callable[[int], None],
        until: int,
        deferred: dict[str, list[str]],
    ) -> int:
        """Fill freshly reset side tables up to position ``until`` in ``rebuild_processes``
        processes: each reads (the query picks them), decodes, folds and writes only the
        events of its share of the aggregates (``share_bounds``); this process does the first,
        worker processes (``spawn``ed, each with its own connections, ledger and views made by
        ``rebuild_parts``) the others. Every view's rows are those of one aggregate (a case's
        summary, queue items and history from the case's own events; a break-glass grant and
        its review in one stream) or of one event (actor activity, access log entries), so the
        shares write disjoint rows and together exactly what one process would. Once every
        share is done, the side tracking rows move from 0 to ``until`` in one transaction;
        ``_swap_in`` catches up from there. Any failure ends the other processes and drops
        the side tables: a worker's failure is noticed between this process's batches (its
        own share is abandoned at once), and a worker not done ``rebuild_worker_timeout``
        seconds after this process's share is taken as hung. Returns events read (every share
        together)."""
        count = self._rebuild_processes
        shares = share_bounds(count, until, self._parallel_head_start)
        parts = self._rebuild_parts
        assert parts is not None
        versions = {slot.view.name: slot.view.stored_version() for slot in slots}
        context = multiprocessing.get_context("spawn")
        workers = _Workers()
        started = time.perf_counter()
        try:
            for index in range(1, count):
                receiving, sending = context.Pipe(duplex=False)
                process = context.Process(
                    target=_fill_share,
                    args=(
                        parts,
                        versions,
                        shares[index],
                        until,
                        self._rebuild_batch_size,
                        sending,
                    ),
                    name=f"vigil-rebuild-{index}",
                    daemon=True,
                )
                process.start()
                sending.close()
                workers.add(index, shares[index], process, receiving)
            with tuned_for_bulk():
                consumed = self._fill_pipelined(
                    slots,
                    self._rebuild_batch_size,
                    progress,
                    deferred,  # this process creates those of streamed tables early
                    part=shares[0],
                    until=until,
                    watch=workers.check,
                )
            consumed += workers.wait(self._rebuild_worker_timeout)
            with self._store.transaction(commit=True) as tx:
                # The shares hold disjoint events that together are the log up to ``until``.
                moved = tx.fetchall(
                    f"UPDATE {self._tracking} SET notification_id = %(until)s, "
                    "applied_events = %(count)s "
                    "WHERE view_name = ANY(%(names)s) AND notification_id = 0 "
                    "RETURNING view_name",
                    {
                        "until": until,
                        "count": consumed,
                        "names": [slot.tracking_name for slot in slots],
                    },
                )
                if len(moved) != len(slots):
                    raise RuntimeError(
                        "side tables moved during the rebuild: only one rebuild at a time"
                    )
        except BaseException as exc:
            workers.stop()
            self._discard_aside(slots)
            logger.warning("rebuild_failed", error=type(exc).__name__)
            raise
        workers.stop()
        logger.info(
            "rebuild_filled_in_parallel",
            processes=count,
            position=until,
            seconds=round(time.perf_counter() - started, 3),
        )
        return consumed

    def _discard_aside(self, slots: list[_Slot]) -> None:
        """Drop the side tables and their tracking rows (a rebuild that failed)."""
        try:
            with self._store.transaction(commit=True) as tx:
                for slot in slots:
                    for statement in slot.view.drop_statements(slot.store):
                        tx.execute(statement)
                    tx.execute(
                        f"DELETE FROM {self._tracking} WHERE view_name = %(name)s",
                        {"name": slot.tracking_name},
                    )
        except Exception:
            logger.exception("rebuild_discard_failed")

    def _build_indexes(self, statements: list[str]) -> None:
        """Create the side tables' deferred indexes, two at a time (PostgreSQL sorts each
        table once; two connections keep both cores busy)."""
        if not statements:
            return
        started = time.perf_counter()

        def build(statement: str) -> None:
            with self._store.transaction(commit=True) as tx:
                tx.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
                tx.execute(statement)

        with ThreadPoolExecutor(max_workers=INDEX_BUILD_THREADS) as pool:
            # list(): re-raise the first failure here.
            list(pool.map(build, statements))
        logger.info(
            "rebuild_indexes_built",
            indexes=len(statements),
            seconds=round(time.perf_counter() - started, 3),
        )

    def _commit_batch(
        self,
        work: list[_Work],
        end: int,
        *,
        durable: bool = True,
        transaction: Callable[..., AbstractContextManager[Tx]] | None = None,
        track: bool = True,
    ) -> None:
        """One transaction: every slot's tracking row moved from its start to ``end`` (raising
        ``_Raced`` if another projector moved one first), then every slot's statements.

        ``durable=False`` is for side tables being filled (PostgreSQL): the commit does not wait
        for the WAL to reach the disk (a crash may lose the transaction, whole, never part of
        it), and the tracking rows move in one statement (one rebuild at a time fills them, so
        no lock order to keep). ``transaction``: where to open it (default: the store's).
        ``track=False`` (with ``durable=False``): the tracking rows are not moved (a part of a
        parallel fill)."""
        with (transaction or self._store.transaction)(commit=True) as tx:
            # Compare-and-set first: it takes the write lock (SQLite) or the tracking rows'
            # locks (PostgreSQL) before anything else is done.
            if not track:
                assert not durable
                assert self._store.dialect == "postgresql"
                tx.execute("SET LOCAL synchronous_commit TO OFF")
            elif not durable and self._store.dialect == "postgresql":
                moved = tx.fetchall(
                    f"UPDATE {self._tracking} AS t SET notification_id = %(end)s, "
                    "applied_events = t.applied_events + w.count "
                    "FROM unnest(%(names)s::text[], %(starts)s::bigint[], %(counts)s::bigint[]) "
                    "AS w(name, start, count) "
                    "WHERE t.view_name = w.name AND t.notification_id = w.start "
                    "RETURNING t.view_name",
                    {
                        "end": end,
                        "names": [slot.tracking_name for slot, _, _, _ in work],
                        "starts": [start for _, start, _, _ in work],
                        "counts": [count for _, _, _, count in work],
                    },
                )
                if len(moved) != len(work):
                    raise _Raced
                tx.execute("SET LOCAL synchronous_commit TO OFF")
            else:
                for slot, start, _, count in work:
                    if not self._move(tx, slot.tracking_name, start, end, count):
                        raise _Raced
            for _, _, statements, _ in work:
                run_statements(tx, statements)

    def _move(self, tx: Tx, name: str, start: int, end: int, count: int) -> bool:
        """Compare-and-set one tracking row from ``start`` to ``end``, counting the ``count``
        events of the log it was handed in between (False: it was not at ``start``)."""
        moved = tx.fetchone(
            f"UPDATE {self._tracking} SET notification_id = %(end)s, "
            "applied_events = applied_events + %(count)s "
            "WHERE view_name = %(name)s AND notification_id = %(start)s "
            "RETURNING notification_id",
            {"name": name, "start": start, "end": end, "count": count},
        )
        return moved is not None

    def _prepare_aside(self, view: View, suffix: str = REBUILD_SUFFIX) -> _Slot:
        aside = self._store.with_suffix(suffix)
        side = view.name + suffix
        with self._store.transaction(commit=True) as tx:
            self._store.setup_lock(tx)
            tx.execute(
                f"INSERT INTO {self._tracking} "
                "(view_name, view_version, notification_id, applied_events) "
                "VALUES (%(name)s, %(version)s, 0, 0) ON CONFLICT (view_name) DO NOTHING",
                {"name": side, "version": view.stored_version()},
            )
            # Left-overs of an interrupted rebuild go too: it starts from the beginning.
            deferred = reset_view(
                tx,
                aside,
                view,
                tracking=self._tracking,
                tracking_name=side,
                # The pipelined fill (PostgreSQL) builds the indexes once the tables are full.
                defer_indexes=self._store.dialect == "postgresql",
            )
        return _Slot(side, view, aside, tuple(deferred))

    def _swap_in(self, slot: _Slot) -> int:
        view, aside = slot.view, slot.store
        consumed = 0
        while True:
            consumed += self._catch_up([slot], None, self._rebuild_batch_size)[0]
            position = self._positions_of([slot.tracking_name])[slot.tracking_name]
            try:
                with self._store.transaction(commit=True) as tx:
                    moved = tx.fetchone(
                        f"UPDATE {self._tracking} SET notification_id = %(position)s, "
                        "view_version = %(version)s, applied_events = ("
                        f"SELECT applied_events FROM {self._tracking} WHERE view_name = %(side)s) "
                        "WHERE view_name = %(name)s AND notification_id <= %(position)s "
                        "RETURNING notification_id",
                        {
                            "name": view.name,
                            "side": slot.tracking_name,
                            "position": position,
                            "version": view.stored_version(),
                        },
                    )
                    if moved is None and position >= log_head(tx, self._ledger.recorder):
                        # The live position is beyond the log's last event (moved there by
                        # hand, or the log was rolled back under it): the side tables are the
                        # whole log's fold, so they go in, and the position moves back to them.
                        logger.warning("view_position_beyond_log", view=view.name)
                        moved = tx.fetchone(
                            f"UPDATE {self._tracking} SET notification_id = %(position)s, "
                            "view_version = %(version)s, applied_events = ("
                            f"SELECT applied_events FROM {self._tracking} "
                            "WHERE view_name = %(side)s) "
                            "WHERE view_name = %(name)s RETURNING notification_id",
                            {
                                "name": view.name,
                                "side": slot.tracking_name,
                                "position": position,
                                "version": view.stored_version(),
                            },
                        )
                    if moved is None:
                        raise _Raced  # the live view is further on: catch the side tables up
                    gone = tx.fetchone(
                        f"DELETE FROM {self._tracking} "
                        "WHERE view_name = %(name)s AND notification_id = %(position)s "
                        "RETURNING view_name",
                        {"name": slot.tracking_name, "position": position},
                    )
                    if gone is None:
                        raise _Raced
                    for statement in view.drop_statements(self._store):
                        tx.execute(statement)
                    aside.promote(tx, aside.tables_seen - {TRACKING_TABLE})
                    for statement in view.create_statements(self._store):
                        tx.execute(statement)
            except _Raced:
                continue
            logger.info("view_swapped_in", view=view.name, position=position)
            return consumed

    # --- waiting and following --------------------------------------------------------------

    def wake(self) -> None:
        """Make a follower of this process catch up now rather than at its next poll."""
        self._wake_event.set()

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wait until every view has applied ``position`` (True), or ``timeout`` seconds pass
        (False). Waits on this process's follower, or polls the tracking rows (another process
        may be the one following)."""
        deadline = time.monotonic() + max(0.0, timeout)
        self.wake()
        while True:
            if self.position() >= position:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._applied:
                self._applied.wait(timeout=min(remaining, 0.05))

    @property
    def follower(self) -> Follower | None:
        return self._follower if self._follower and self._follower.is_alive() else None

    def start_in_thread(self) -> Follower:
        """Follow the log in a background thread (stop it with ``.stop()``)."""
        if self.follower is not None:
            raise RuntimeError("this projector is already following the log")
        self._follower = Follower(self).start()
        return self._follower

    def stop_following(self, timeout: float = 10.0) -> None:
        if self._follower is not None:
            self._follower.stop(timeout)
            self._follower = None

    def run_forever(
        self, stop: threading.Event, *, report_interval: float = PROGRESS_LOG_INTERVAL
    ) -> None:
        """Catch up, then follow new events until ``stop`` is set: woken by NOTIFY on
        PostgreSQL (with a poll every ``fallback_interval`` s), by polling on SQLite."""
        listener: _Listener | None = None
        interval = self._poll_interval
        kwargs = listen_connection_kwargs(self._store) if self._listen else None
        if kwargs is not None:
            channel = str(getattr(self._ledger.recorder, "channel_name", ""))
            if channel:
                listener = _Listener(kwargs, channel, self._wake_event, stop)
                listener.start()
                interval = self._fallback_interval
        logger.info(
            "projector_following",
            views=[view.name for view in self._views],
            wake="listen/notify" if listener else "poll",
            interval_seconds=interval,
        )
        # Caught up in chunks, so a stop request is seen within one chunk even on a long log.
        chunk = self._batch_size * 10
        failures = 0
        last_report = time.monotonic()
        applied_since_report = 0
        try:
            while not stop.is_set():
                self._wake_event.clear()
                try:
                    read = self.catch_up(max_events=chunk)
                    failures = 0
                except Exception:
                    failures += 1
                    # Nothing of a failed batch was committed; try again, backing off.
                    logger.exception("projection_failed", attempt=failures)
                    stop.wait(min(30.0, interval * 2**failures))
                    continue
                applied_since_report += read
                now = time.monotonic()
                if now - last_report >= report_interval:
                    if applied_since_report:
                        self._log_progress(applied_since_report, now - last_report)
                    last_report, applied_since_report = now, 0
                if read < chunk:
                    # Wake for the next progress line too, if there is progress to report.
                    due = report_interval - (now - last_report)
                    self._wake_event.wait(min(interval, due) if applied_since_report else interval)
        finally:
            if listener is not None:
                listener.join()
            logger.info("projector_stopped")

    def _log_progress(self, applied: int, seconds: float) -> None:
        try:
            statuses = self.status()
        except Exception:
            logger.exception("projection_status_failed")
            return
        for status in statuses:
            logger.info(
                "projection_progress",
                view=status.name,
                position=status.position,
                head=status.head,
                lag_events=status.lag_events,
                events_per_second=round(applied / seconds, 1) if seconds > 0 else None,
            )


class _Raced(Exception):
    """Another projector moved a position first; roll back and read again."""


class _Share(NamedTuple):
    """The aggregates one process of a parallel rebuild applies the events of: those whose id's
    last byte is from ``low`` to ``high`` (stable, and even for random or name-based UUIDs)."""

    low: int
    high: int

    def holds(self, aggregate_id: Any) -> bool:
        return bool(self.low <= (aggregate_id.int & 0xFF) <= self.high)


# ``_Share.holds`` in SQL (PostgreSQL).
_SHARE_CONDITION = "get_byte(uuid_send(originator_id), 15) BETWEEN %s AND %s"


def share_bounds(count: int, events: int, head_start: int) -> list[_Share]:
    """``count`` shares of the aggregates for a rebuild of ``events`` events. The first (the
    rebuilding process's) is larger by what it can do while the worker processes start
    (``head_start`` events' worth, spread over them), so all finish together; the others are
    even."""
    first = 1 / count + (count - 1) * head_start / (count * max(1, events))
    cut = min(256 - (count - 1), max(1, round(256 * min(first, 0.9))))
    rest = 256 - cut
    shares = [_Share(0, cut - 1)]
    low = cut
    for n in range(count - 1):
        size = rest // (count - 1) + (1 if n < rest % (count - 1) else 0)
        shares.append(_Share(low, low + size - 1))
        low += size
    return shares


def _fill_share(
    parts: RebuildParts,
    versions: dict[str, int],
    part: _Share,
    until: int,
    batch_size: int,
    report: Any,
) -> None:
    """A rebuild's worker process: fill the side tables with one share of the aggregates'
    events (``Projector._fill_parallel``), then report ("ok", events read) or ("error", what)
    through the pipe ``report``; exits non-zero on failure."""
    try:
        ledger, views = parts()
        try:
            chosen = [view for view in views if view.name in versions]
            found = {view.name: view.stored_version() for view in chosen}
            if found != versions:
                raise RuntimeError(
                    f"the worker's views are not the rebuilding process's: {found} != {versions}"
                )
            projector = Projector(
                ledger, chosen, rebuild_batch_size=batch_size, listen=False, set_up=False
            )
            aside = projector.store.with_suffix(REBUILD_SUFFIX)
            slots = [_Slot(view.name + REBUILD_SUFFIX, view, aside) for view in chosen]
            with tuned_for_bulk():
                read = projector._fill_pipelined(
                    slots,
                    batch_size,
                    lambda _: None,
                    {slot.tracking_name: [] for slot in slots},
                    part=part,
                    until=until,
                )
        finally:
            close = getattr(ledger, "close", None)
            if close is not None:
                close()
        report.send(("ok", read))
    except BaseException as exc:
        logger.exception("rebuild_share_failed", share=part.low)
        report.send(("error", f"{type(exc).__name__}: {exc}"))
        report.close()
        raise SystemExit(1) from None
    report.close()
    # Done: leave without freeing the fill's millions of objects one by one (seconds, while
    # the rebuilding process waits); everything was committed and the ledger closed.
    os._exit(0)


class _Workers:
    """A parallel rebuild's worker processes, as the rebuilding process sees them: each reports
    ("ok", events read) or ("error", what) through its pipe (``_fill_share``)."""

    def __init__(self) -> None:
        self._children: list[tuple[int, _Share, Any, Any]] = []  # index, share, process, pipe
        self._read: dict[int, int] = {}  # the events each worker that is done read

    def add(self, index: int, share: _Share, process: Any, receiving: Any) -> None:
        self._children.append((index, share, process, receiving))

    def _pending(self) -> list[tuple[int, _Share, Any, Any]]:
        return [child for child in self._children if child[0] not in self._read]

    def check(self) -> None:
        """Raise if a worker reported a failure or died without a report; note those done.
        Cheap (a poll of each pipe and of each process's exit, no waiting): called between
        the rebuilding process's batches."""
        for index, share, process, receiving in self._pending():
            if receiving.poll(0):
                try:
                    outcome, detail = receiving.recv()
                except EOFError:
                    outcome, detail = (
                        "error",
                        f"exited with code {process.exitcode} without a report",
                    )
                if outcome != "ok":
                    raise _worker_failed(index, share, detail)
                self._read[index] = int(detail)
            elif process.exitcode is not None and not receiving.poll(0):
                raise _worker_failed(
                    index, share, f"exited with code {process.exitcode} without a report"
                )

    def wait(self, timeout: float) -> int:
        """Wait for every worker, at most ``timeout`` seconds: the events they read together;
        raise if one failed, died or is not done in time (hung)."""
        deadline = time.monotonic() + timeout
        while True:
            self.check()
            pending = self._pending()
            if not pending:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                index, share, _, _ = pending[0]
                raise _worker_failed(
                    index,
                    share,
                    f"not done {timeout:g} s after the rebuilding process's share "
                    "(VIGIL_REBUILD_WORKER_TIMEOUT_SECONDS)",
                )
            waiting = [c[3] for c in pending] + [c[2].sentinel for c in pending]
            multiprocessing.connection.wait(waiting, timeout=remaining)
        return sum(self._read.values())

    def stop(self) -> None:
        """End every worker still running (a rebuild that failed) and release them."""
        for index, _, process, receiving in self._children:
            if index in self._read:
                process.join(5.0)  # done: it is leaving on its own
            if process.is_alive():
                process.terminate()
                process.join(5.0)
                if process.is_alive():
                    process.kill()
            process.join()
            receiving.close()


def _worker_failed(index: int, share: _Share, detail: str) -> RuntimeError:
    return RuntimeError(
        f"rebuild worker process {index} failed: {detail} (its share: the aggregates whose "
        f"id ends in a byte from {share.low} to {share.high})"
    )


class _ReadAhead:
    """The log from its start, in batches, read one or two batches ahead in a thread of its
    own: PostgreSQL runs the next query while this process decodes and folds the last one.
    Iterate for the batches; ``close()`` when done (also after a failure)."""

    def __init__(
        self,
        recorder: Any,
        batch_size: int,
        until: int | None = None,
        part: _Share | None = None,
    ) -> None:
        self._recorder = recorder
        self._batch_size = batch_size
        self._until = until
        self._part = part
        self._queue: queue.Queue[Sequence[Notification] | BaseException] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vigil-rebuild-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        position = 0
        try:
            while not self._stop.is_set():
                if self._part is not None:
                    # A share: windows of positions holding about a batch of its events.
                    assert self._until is not None
                    if position >= self._until:
                        self._put([])
                        return
                    span = self._part.high - self._part.low + 1
                    upto = min(self._until, position + self._batch_size * 256 // span)
                    notifications = self._select_share(position + 1, upto, self._part)
                    position = upto
                    if notifications:
                        self._put(notifications)
                    continue
                notifications = self._recorder.select_notifications(
                    start=position + 1, limit=self._batch_size, stop=self._until
                )
                self._put(notifications)
                if not notifications:
                    return
                position = notifications[-1].id
        except BaseException as exc:  # handed to the iterating thread
            self._put(exc)

    def _select_share(self, start: int, stop: int, part: _Share) -> Sequence[Notification]:
        """``select_notifications(start, stop=stop)`` (eventsourcing 9.5.6, PostgreSQL: the same
        statement and rows), for the events of one share of the aggregates only (``_Share``).
        A range of positions, not a LIMIT: with a LIMIT, PostgreSQL would sort every row of
        the share up to ``stop`` for each batch."""
        recorder = self._recorder
        statement = sql.SQL(
            "SELECT * FROM {schema}.{table} WHERE notification_id>=%s AND notification_id <= %s"
            f" AND {_SHARE_CONDITION} ORDER BY notification_id"
        ).format(
            schema=sql.Identifier(recorder.datastore.schema),
            table=sql.Identifier(recorder.events_table_name),
        )
        params = [start, stop, part.low, part.high]
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return [
                Notification(
                    id=row["notification_id"],
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    def _put(self, item: Sequence[Notification] | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Sequence[Notification]]:
        while True:
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class _Listener(threading.Thread):
    """LISTENs on the ledger's channel on a connection of its own; every NOTIFY wakes the
    follower. Reconnects after a failure (the follower polls meanwhile)."""

    def __init__(
        self,
        kwargs: dict[str, Any],
        channel: str,
        wake: threading.Event,
        stop: threading.Event,
    ) -> None:
        super().__init__(name="vigil-projector-listen", daemon=True)
        self._kwargs = kwargs
        self._channel = channel
        self._wake = wake
        self._stopping = stop

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(**self._kwargs, autocommit=True) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    # Anything committed before LISTEN took effect is found by this catch-up.
                    self._wake.set()
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=0.25, stop_after=1):
                            self._wake.set()
            except psycopg.Error as exc:
                logger.warning("projection_listen_failed", error=type(exc).__name__)
                self._stopping.wait(2.0)
