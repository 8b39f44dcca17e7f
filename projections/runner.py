"""Views and their tracking rows; one view followed alone (``ViewRunner``).

A view turns a batch of events into SQL statements; its tracking row (in ``projection_tracking``)
holds the notification id of the last event applied, moved with the statements in one
transaction by the compare-and-set catch-up every follower shares (``projections.catch_up``).
So every event is applied exactly once, and the view is always the fold of the log up to its
tracking position. The ``Projector`` (``projections.projector``) moves every view together;
``ViewRunner`` moves one, for tests and tools.

**Continuity.** The same compare-and-set adds the number of events the batch held to the
row's ``applied_events``: every event of the log from the start up to the position passed
through the view's fold exactly once, so ``applied_events`` equals the number of events the
log holds up to ``notification_id`` (notification ids may have gaps: a PostgreSQL sequence
skips on rollback; the count is of events, not of ids). A position moved by anything else
(an UPDATE of the tracking row) breaks that equality: ``tracking_findings`` names the view and
its position, ``vigil verify`` and ``/ready`` report it.

Following is by polling: eventsourcing 9.5.6's SQLite recorder cannot ``subscribe``, and
``catch_up`` is what a request calls to read its own writes.

The runner implements eventsourcing's ``TrackingRecorder`` (``max_tracking_id``,
``insert_tracking``), so the library's ``wait()``/``has_tracking_id()`` work on a view.
"""

# SQL here names only this module's own tables and columns (constants, quoted by the store);
# every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, NamedTuple, Protocol

import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Notification, Tracking, TrackingRecorder

from infrastructure.persistence import view_decoder
from projections.catch_up import Raced, Tracked, advance, catch_up, run_statements
from projections.store import Params, Tx, ViewStore, view_store_for

logger = structlog.get_logger(__name__)

TRACKING_TABLE = "projection_tracking"
DEFAULT_BATCH_SIZE = 500


class Positioned(NamedTuple):
    """A domain event at its place in the log (its notification id). A named tuple: a
    rebuild makes one per event of the log, and a tuple is the cheapest thing to make."""

    position: int
    event: Any


Statement = tuple[str, Params]


class SeesBatches(Protocol):
    """What keeps part of the log in memory and is fed the batches a projector reads
    (``projections.topic_reader.TopicReader``: the SLA policies, services' calendars)."""

    def saw(self, after: int, batch: Sequence[Positioned]) -> None: ...


class View(ABC):
    """A read model: its own tables, and how a batch of events changes them.

    Name every table with ``store.table(name)`` and every index with ``store.index(name)``,
    in all four methods: the runtime rebuilds a view aside by handing it a store whose names
    carry a suffix (``projections.rebuild``), then renames the tables over the live ones. The
    shared ``Projector`` (``projections.projector``) runs every view; ``ViewRunner`` runs one.
    """

    name: ClassVar[str]
    """Names the view's tracking row; also the usual prefix of its tables."""
    version: ClassVar[int]
    """Bump when the tables or the fold change: a view stored at another version is rebuilt."""
    feeds: tuple[SeesBatches, ...] = ()
    """What the view's fold looks up other aggregates' events in (the SLA policies, services'
    calendars), kept in memory: each is handed every batch the view is shown (``saw``), so a
    view declares what it feeds rather than passing the batches on itself."""

    def stored_version(self) -> int:
        """The version kept with the view's tracking row; a view stored at another is rebuilt.

        A view whose fold depends on configuration (the work queues on the service calendar
        and SLA targets) folds a fingerprint of it in, so changing it rebuilds the view.
        """
        return self.version

    @abstractmethod
    def create_statements(self, store: ViewStore) -> list[str]:
        """DDL creating the view's tables and indexes if absent."""

    @abstractmethod
    def drop_statements(self, store: ViewStore) -> list[str]:
        """DDL dropping the view's tables if present."""

    @abstractmethod
    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        """The statements applying ``batch`` (in log order) to the view.

        Called outside the transaction (it may read the ledger); the statements run inside it,
        after the tracking position has moved, so they must not depend on reading the view.
        """

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Forget anything cached in memory about the view's contents (before a rebuild)."""

    def saw(self, after: int, batch: Sequence[Positioned]) -> None:
        """Every event of the log past ``after`` up to ``batch``'s last was read, in log order
        (a projector's batch, before any view's ``changes`` with it): what the view ``feeds``
        takes those events from here rather than reading the log for them again."""
        for fed in self.feeds:
            fed.saw(after, batch)

    def filled_statements(self, store: ViewStore) -> list[str]:
        """Statements run once a rebuild's fill has written every row of its side tables, before
        they catch up further (``projections.rebuild``). A fill may hold rows back and write
        them at its end (a ``WriteBuffer``), so a view keeping aggregates of its own rows (the
        work queues' kept counts) cannot keep them during it: it computes them here, from
        the rows, and keeps them from then on. Must give the same tables run at any point
        between batches (SQLite's fill writes through)."""
        return []


def ensure_tracking_table(tx: Tx, store: ViewStore) -> None:
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {store.table(TRACKING_TABLE)} ("
        "view_name TEXT PRIMARY KEY, "
        "view_version INTEGER NOT NULL, "
        "notification_id BIGINT NOT NULL, "
        "applied_events BIGINT)"
    )
    # A tracking table made before positions were counted: the column is added NULL, and
    # ``setup_view`` rebuilds each such view from the start, which counts it.
    if store.dialect == "postgresql":
        found = tx.fetchone(
            "SELECT 1 AS found FROM pg_attribute WHERE attrelid = %(table)s::regclass "
            "AND attname = 'applied_events' AND NOT attisdropped",
            {"table": store.table(TRACKING_TABLE)},
        )
    else:
        table = _sqlite_literal(TRACKING_TABLE + store.suffix)
        found = tx.fetchone(
            f"SELECT 1 AS found FROM pragma_table_info({table}) WHERE name = 'applied_events'"
        )
    if found is None:
        tx.execute(f"ALTER TABLE {store.table(TRACKING_TABLE)} ADD COLUMN applied_events BIGINT")


def _sqlite_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def setup_view(store: ViewStore, view: View) -> None:
    """In one transaction: the tracking table and the view's row and tables, created if absent;
    a view stored at another version is dropped and made again (empty, at position 0)."""
    tracking = store.table(TRACKING_TABLE)
    with store.transaction(commit=True) as tx:
        store.setup_lock(tx)
        ensure_tracking_table(tx, store)
        tx.execute(
            f"INSERT INTO {tracking} (view_name, view_version, notification_id, applied_events) "
            "VALUES (%(name)s, %(version)s, 0, 0) ON CONFLICT (view_name) DO NOTHING",
            {"name": view.name, "version": view.stored_version()},
        )
        row = tx.fetchone(
            f"SELECT view_version, applied_events FROM {tracking} WHERE view_name = %(name)s",
            {"name": view.name},
        )
        assert row is not None
        if row["applied_events"] is None:
            logger.info("view_not_counted", view=view.name)
            reset_view(tx, store, view, tracking=tracking, tracking_name=view.name)
        elif row["view_version"] != view.stored_version():
            logger.info(
                "view_version_changed",
                view=view.name,
                stored=row["view_version"],
                current=view.stored_version(),
            )
            reset_view(tx, store, view, tracking=tracking, tracking_name=view.name)
        for statement in view.create_statements(store):
            tx.execute(statement)


_CREATE_INDEX = re.compile(r"\s*CREATE\s+INDEX\b", re.IGNORECASE)


def reset_view(
    tx: Tx,
    store: ViewStore,
    view: View,
    *,
    tracking: str,
    tracking_name: str,
    defer_indexes: bool = False,
) -> list[str]:
    """Drop and recreate the view's tables in ``store``; its tracking row (``tracking_name`` in
    the table ``tracking``, as quoted SQL) back to 0. With ``defer_indexes``, the view's
    (non-unique) ``CREATE INDEX`` statements are not run but returned, to build each index
    once the tables are filled (one sort, instead of an index entry per row inserted)."""
    deferred: list[str] = []
    for statement in view.drop_statements(store):
        tx.execute(statement)
    for statement in view.create_statements(store):
        if defer_indexes and _CREATE_INDEX.match(statement):
            deferred.append(statement)
        else:
            tx.execute(statement)
    tx.execute(
        f"UPDATE {tracking} SET notification_id = 0, applied_events = 0, "
        "view_version = %(version)s WHERE view_name = %(name)s",
        {"name": tracking_name, "version": view.stored_version()},
    )
    view.reset()
    return deferred


class ViewRunner(TrackingRecorder):
    """Keeps one view up to date with the ledger's log."""

    def __init__(
        self,
        event_log: Application[Any],
        view: View,
        *,
        store: ViewStore | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._event_log = event_log
        self._view = view
        self._store = store if store is not None else view_store_for(event_log.recorder)
        self._batch_size = batch_size
        self._lock = threading.RLock()  # one catch-up at a time in this process
        self._tracking = self._store.table(TRACKING_TABLE)
        self.setup()

    @property
    def store(self) -> ViewStore:
        return self._store

    @property
    def view(self) -> View:
        return self._view

    # --- set-up ---------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create the tracking table and the view's tables if absent; rebuild a stale version."""
        with self._lock:
            setup_view(self._store, self._view)

    def _reset(self, tx: Tx) -> None:
        reset_view(
            tx, self._store, self._view, tracking=self._tracking, tracking_name=self._view.name
        )

    # --- following the log ----------------------------------------------------------------------

    def position(self) -> int:
        """The notification id of the last event applied to the view (0: none yet)."""
        with self._store.transaction(commit=False) as tx:
            return self._position(tx)

    def _position(self, tx: Tx) -> int:
        row = tx.fetchone(
            f"SELECT notification_id FROM {self._tracking} WHERE view_name = %(name)s",
            {"name": self._view.name},
        )
        if row is None:
            raise RuntimeError(f"the view {self._view.name!r} has not been set up")
        return int(row["notification_id"])

    def catch_up(self, max_events: int | None = None) -> int:
        """Apply every event recorded since the view's position (at most ``max_events``), in
        batches of one transaction each. Returns how many events of the log were consumed
        (events of other aggregates are consumed without changing the view)."""
        with self._lock:
            alone = _Alone(self._event_log, self._view, self._store, self.position)
            return catch_up(alone, self._event_log.recorder, self._batch_size, max_events)

    def rebuild(self) -> int:
        """Drop the view and apply the whole log again. Returns how many events were consumed.

        The reset is one transaction: readers see the old view until it commits, then an empty
        view filling up as the rebuild's batches commit.
        """
        with self._lock:
            with self._store.transaction(commit=True) as tx:
                # Write first (see ``projections.catch_up``), then drop and recreate.
                tx.execute(
                    f"UPDATE {self._tracking} SET notification_id = 0, applied_events = 0 "
                    "WHERE view_name = %(name)s",
                    {"name": self._view.name},
                )
                self._reset(tx)
            return self.catch_up()

    # --- eventsourcing's TrackingRecorder -------------------------------------------------------

    def max_tracking_id(self, application_name: str) -> int | None:
        """The view's position in the named application's log (None if nothing applied)."""
        if application_name != self._event_log.name:
            return None
        return self.position() or None

    def insert_tracking(self, tracking: Tracking) -> None:
        """Move the position forward without changing the view (positions never go back).
        The events passed over are not counted as applied: ``vigil verify`` reports the view
        as having skipped them, which it has."""
        if tracking.application_name != self._event_log.name:
            raise IntegrityError(f"this view follows {self._event_log.name!r} only")
        with self._lock, self._store.transaction(commit=True) as tx:
            moved = tx.fetchone(
                f"UPDATE {self._tracking} SET notification_id = %(end)s "
                "WHERE view_name = %(name)s AND notification_id < %(end)s "
                "RETURNING notification_id",
                {"name": self._view.name, "end": tracking.notification_id},
            )
            if moved is None:
                raise IntegrityError(
                    f"the view {self._view.name!r} is already at or past {tracking.notification_id}"
                )


class _Alone(Tracked[int]):
    """One view caught up by itself."""

    def __init__(
        self, event_log: Application[Any], view: View, store: ViewStore, position: Callable[[], int]
    ) -> None:
        self._event_log = event_log
        self._view = view
        self._store = store
        self._position = position

    def where(self) -> tuple[int, int]:
        start = self._position()
        return start, start

    def apply(self, state: int, notifications: Sequence[Notification]) -> None:
        decode = view_decoder(self._event_log)
        batch = [Positioned(n.id, decode(n)) for n in notifications]
        self._view.saw(state, batch)  # every event of the log in (state, end]
        statements = self._view.changes(self._store, batch)
        end = notifications[-1].id
        with self._store.transaction(commit=True) as tx:
            # The compare-and-set comes first: it takes the write lock (SQLite) or the
            # tracking row's lock (PostgreSQL) before anything else is done.
            tracking = self._store.table(TRACKING_TABLE)
            if not advance(tx, tracking, self._view.name, state, end, len(notifications)):
                raise Raced
            run_statements(tx, statements)
