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
"""

# SQL here names only the tracking table (a constant, quoted by the store); every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import structlog
from eventsourcing.application import Application
from psycopg import sql

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
from projections.store import ViewStore, listen_connection_kwargs, view_store_for

logger = structlog.get_logger(__name__)

REBUILD_SUFFIX = "__rebuild"
RATE_WINDOW_SECONDS = 60.0
DEFAULT_POLL_INTERVAL = 0.2
DEFAULT_FALLBACK_INTERVAL = 1.0
DEFAULT_REBUILD_BATCH_SIZE = 5000
PROGRESS_LOG_INTERVAL = 10.0


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
    ) -> None:
        if batch_size < 1 or rebuild_batch_size < 1:
            raise ValueError("batch sizes must be at least 1")
        names = [view.name for view in views]
        if len(set(names)) != len(names):
            raise ValueError(f"view names must be unique: {names}")
        if any(name.endswith(REBUILD_SUFFIX) for name in names):
            raise ValueError(f"a view name may not end in {REBUILD_SUFFIX!r}")
        self._ledger = ledger
        self._views = list(views)
        self._store = store if store is not None else view_store_for(ledger.recorder)
        self._tracking = self._store.table(TRACKING_TABLE)
        self._batch_size = batch_size
        self._rebuild_batch_size = rebuild_batch_size
        self._poll_interval = poll_interval
        self._fallback_interval = fallback_interval
        self._listen = listen
        self._lock = threading.RLock()  # one batch (or rebuild) at a time in this process
        self._applied = threading.Condition()  # notified after every committed batch
        self._wake_event = threading.Event()
        self._stats_lock = threading.Lock()
        self._stats: dict[str, _Stats] = {name: _Stats() for name in names}
        self._heads: deque[tuple[float, int]] = deque()  # (when, head) as observed, ascending
        self._follower: Follower | None = None
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
            decode = self._ledger.mapper.to_domain_event
            batch = [Positioned(n.id, decode(n)) for n in notifications]
            work: list[tuple[_Slot, int, list[Statement], int]] = []
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

    def _applied_batch(
        self, work: list[tuple[_Slot, int, list[Statement], int]], end: int, seconds: float
    ) -> None:
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
            if self._store.dialect == "postgresql":
                consumed = self._fill_pipelined(slots, self._rebuild_batch_size, report)
            else:
                consumed = self._catch_up(slots, None, self._rebuild_batch_size, report)[0]
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

    def _fill_pipelined(
        self, slots: list[_Slot], batch_size: int, progress: Callable[[int], None]
    ) -> int:
        """Fill freshly reset side tables from the log, writing one batch while the next is
        read, decoded and folded: PostgreSQL executes on one core while Python works on the
        other (psycopg releases the GIL while it waits). Batches still commit in log order, each
        with its compare-and-set on the side tracking rows, so a failure leaves the side
        tables at a batch boundary (``_swap_in`` then catches them up, or the next rebuild
        resets them). Returns events read."""
        pending: queue.Queue[tuple[list[tuple[_Slot, int, list[Statement], int]], int] | None]
        pending = queue.Queue(maxsize=2)
        failure: list[BaseException] = []

        def commit_in_order() -> None:
            while (item := pending.get()) is not None:
                if failure:
                    continue  # drain: the reader is about to see the failure and stop
                work, end = item
                try:
                    started = time.perf_counter()
                    try:
                        self._commit_batch(work, end)
                    except _Raced:
                        raise RuntimeError(
                            "side tables moved during the rebuild: only one rebuild at a time"
                        ) from None
                    self._applied_batch(work, end, time.perf_counter() - started)
                    progress(end)
                except BaseException as exc:  # reported to the reading thread
                    failure.append(exc)

        committer = threading.Thread(target=commit_in_order, name="vigil-rebuild-writer")
        committer.start()
        consumed, position = 0, 0
        try:
            while not failure:
                notifications = self._ledger.recorder.select_notifications(
                    start=position + 1, limit=batch_size
                )
                if not notifications:
                    break
                decode = self._ledger.mapper.to_domain_event
                batch = [Positioned(n.id, decode(n)) for n in notifications]
                end = notifications[-1].id
                work = sorted(
                    (
                        (slot, position, slot.view.changes(slot.store, batch), len(batch))
                        for slot in slots
                    ),
                    key=lambda w: w[0].tracking_name,
                )
                pending.put((work, end))
                consumed += len(notifications)
                position = end
        finally:
            pending.put(None)
            committer.join()
        if failure:
            raise failure[0]
        return consumed

    def _commit_batch(self, work: list[tuple[_Slot, int, list[Statement], int]], end: int) -> None:
        """One transaction: every slot's tracking row moved from its start to ``end`` (raising
        ``_Raced`` if another projector moved one first), then every slot's statements."""
        with self._store.transaction(commit=True) as tx:
            # Compare-and-set first: it takes the write lock (SQLite) or the tracking rows'
            # locks (PostgreSQL) before anything else is done.
            for slot, start, _, _ in work:
                moved = tx.fetchone(
                    f"UPDATE {self._tracking} SET notification_id = %(end)s "
                    "WHERE view_name = %(name)s AND notification_id = %(start)s "
                    "RETURNING notification_id",
                    {"name": slot.tracking_name, "start": start, "end": end},
                )
                if moved is None:
                    raise _Raced
            for _, _, statements, _ in work:
                run_statements(tx, statements)

    def _prepare_aside(self, view: View) -> _Slot:
        aside = self._store.with_suffix(REBUILD_SUFFIX)
        side = view.name + REBUILD_SUFFIX
        with self._store.transaction(commit=True) as tx:
            self._store.setup_lock(tx)
            tx.execute(
                f"INSERT INTO {self._tracking} (view_name, view_version, notification_id) "
                "VALUES (%(name)s, %(version)s, 0) ON CONFLICT (view_name) DO NOTHING",
                {"name": side, "version": view.stored_version()},
            )
            # Left-overs of an interrupted rebuild go too: it starts from the beginning.
            reset_view(tx, aside, view, tracking=self._tracking, tracking_name=side)
        return _Slot(side, view, aside)

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
                        "view_version = %(version)s "
                        "WHERE view_name = %(name)s AND notification_id <= %(position)s "
                        "RETURNING notification_id",
                        {"name": view.name, "position": position, "version": view.stored_version()},
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
