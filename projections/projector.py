"""One projector for every view: the log read once per batch, every view moved in one
transaction, followed in the background, rebuilt aside, and reported on.

The parts, each in its own module: the compare-and-set catch-up loop (``projections.catch_up``)
over every view at once (``projections.batches``); following the log, woken by LISTEN/NOTIFY
on PostgreSQL (``projections.follow``); rebuilding aside and swapping in
(``projections.rebuild``), with the side tables filled by threads and processes on PostgreSQL
(``projections.parallel_rebuild``); status and metrics (``projections.status``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from eventsourcing.application import Application

from projections.batches import Slot, ViewSet
from projections.follow import Follower, Listener, follow
from projections.parallel_rebuild import (
    DEFAULT_PARALLEL_HEAD_START,
    DEFAULT_PARALLEL_MIN_EVENTS,
    DEFAULT_REBUILD_WORKER_TIMEOUT,
    Parallelism,
    RebuildParts,
)
from projections.rebuild import (
    COMPARE_ATTEMPTS,
    DEFAULT_REBUILD_BATCH_SIZE,
    REBUILD_SUFFIX,
    VERIFY_SUFFIX,
    Rebuilds,
)
from projections.runner import DEFAULT_BATCH_SIZE, View, setup_view
from projections.status import Metrics, ViewStatus
from projections.store import ViewStore, listen_connection_kwargs, view_store_for
from projections.view_check import Continuity, Difference, continuity

logger = structlog.get_logger(__name__)

DEFAULT_POLL_INTERVAL = 0.2
DEFAULT_FALLBACK_INTERVAL = 1.0
PROGRESS_LOG_INTERVAL = 10.0


class UnknownView(ValueError):
    """A view name the projector does not run."""


class Projector:
    """Keeps every view up to date with the ledger's log, exactly once.

    Following (``run_forever``, or ``start_in_thread``): catch up, then sleep until woken; on
    PostgreSQL a NOTIFY wakes the follower, with a poll every ``fallback_interval`` seconds; on
    SQLite it polls every ``poll_interval`` seconds (``projections.follow``). A reader waiting
    for a position (``wait_for``) wakes a follower of the same process at once.
    """

    def __init__(
        self,
        event_log: Application[Any],
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
        (``projections.parallel_rebuild``; ``parallel_head_start``: see ``share_bounds``); once
        its own share is done, the rebuilding process waits at most ``rebuild_worker_timeout``
        seconds for the others, then fails the rebuild.
        ``set_up=False``: leave the tables alone (the tables are made elsewhere)."""
        if batch_size < 1 or rebuild_batch_size < 1:
            raise ValueError("batch sizes must be at least 1")
        parallelism = Parallelism(
            processes=rebuild_processes,
            parts=rebuild_parts,
            min_events=parallel_min_events,
            head_start=parallel_head_start,
            worker_timeout=rebuild_worker_timeout,
        )
        names = [view.name for view in views]
        if len(set(names)) != len(names):
            raise ValueError(f"view names must be unique: {names}")
        if any(name.endswith((REBUILD_SUFFIX, VERIFY_SUFFIX)) for name in names):
            raise ValueError(f"a view name may not end in {REBUILD_SUFFIX!r} or {VERIFY_SUFFIX!r}")
        self._event_log = event_log
        self._views = list(views)
        self._store = store if store is not None else view_store_for(event_log.recorder)
        self._metrics = Metrics(names)
        self._set = ViewSet(event_log, self._store, self._metrics)
        self._rebuilds = Rebuilds(self._set, batch_size=rebuild_batch_size, parallelism=parallelism)
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._fallback_interval = fallback_interval
        self._listen = listen
        self._lock = threading.RLock()  # one batch (or rebuild) at a time in this process
        self._wake_event = threading.Event()
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
        return self._set.head()

    def positions(self) -> dict[str, int]:
        """Each view's position (notification id of the last event applied)."""
        return self._set.positions_of([view.name for view in self._views])

    def position(self, name: str | None = None) -> int:
        """A view's position; without a name, the lowest of all (what every view has applied)."""
        if name is not None:
            self.view(name)
            return self._set.positions_of([name])[name]
        positions = self.positions()
        return min(positions.values()) if positions else self.head()

    def status(self) -> list[ViewStatus]:
        """Every view's position, the log's head, lag (events and seconds) and rates."""
        positions = self.positions()
        return self._metrics.status(positions, self.head())

    def continuity(self) -> list[Continuity]:
        """Each view's tracking row against the log (see ``projections.view_check``): the log
        is counted from where this process last looked, so a look costs what the log gained."""
        with self._known_lock:
            return continuity(
                self._store,
                self._event_log.recorder,
                [view.name for view in self._views],
                self._known_counts,
            )

    # --- catching up ------------------------------------------------------------------------

    def _live_slots(self) -> list[Slot]:
        return [Slot(view.name, view, self._store) for view in self._views]

    def catch_up(self, max_events: int | None = None) -> int:
        """Apply everything recorded since each view's position (at most ``max_events`` events
        of the log), in batches of one transaction each. Returns how many events of the log were
        read (events no view cares about count too)."""
        with self._lock:
            return self._set.catch_up(self._live_slots(), max_events, self._batch_size)[0]

    def catch_up_counts(self, max_events: int | None = None) -> dict[str, int]:
        """``catch_up``, answering how many events each view was handed (0: it was up to date)."""
        with self._lock:
            return self._set.catch_up(self._live_slots(), max_events, self._batch_size)[1]

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
            consumed = self._rebuilds.rebuild(targets, progress)
        self._set.notify()
        return consumed

    def compare_with_rebuild(
        self, names: list[str] | None = None, *, attempts: int = COMPARE_ATTEMPTS
    ) -> tuple[list[Difference], list[str]]:
        """Rebuild views (all, or those named) aside from the log (tables ending in
        ``__verify``), compare each with the live view at the same position, drop the side
        tables. Returns the differences, and the views that could not be compared: their live
        position stayed out of the rebuild's reach (beyond the log's head, or moving faster
        than ``attempts`` catch-ups; ``continuity`` says which)."""
        targets = self._views if names is None else [self.view(name) for name in names]
        with self._lock:
            return self._rebuilds.compare(targets, self.catch_up, attempts=attempts)

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
            with self._set.applied:
                self._set.applied.wait(timeout=min(remaining, 0.05))

    @property
    def follower(self) -> Follower | None:
        return self._follower if self._follower and self._follower.is_alive() else None

    def start_in_thread(self) -> Follower:
        """Follow the log in a background thread (stop it with ``.stop()``)."""
        if self.follower is not None:
            raise RuntimeError("this projector is already following the log")
        self._follower = Follower(self.run_forever, self.wake, "vigil-projector").start()
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
        listener: Listener | None = None
        interval = self._poll_interval
        kwargs = listen_connection_kwargs(self._store) if self._listen else None
        if kwargs is not None:
            channel = str(getattr(self._event_log.recorder, "channel_name", ""))
            if channel:
                listener = Listener(kwargs, channel, self._wake_event, stop)
                listener.start()
                interval = self._fallback_interval
        logger.info(
            "projector_following",
            views=[view.name for view in self._views],
            wake="listen/notify" if listener else "poll",
            interval_seconds=interval,
        )
        try:
            follow(
                lambda chunk: self.catch_up(max_events=chunk),
                stop,
                self._wake_event,
                # In chunks, so a stop request is seen within one chunk even on a long log.
                chunk=self._batch_size * 10,
                interval=interval,
                failed="projection_failed",
                report=self._log_progress,
                report_interval=report_interval,
            )
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
