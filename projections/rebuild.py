"""Rebuilding views aside and swapping them in, and comparing a rebuild with the live views.

``Rebuilds.rebuild`` gives each view a store whose table and index names end in ``__rebuild``
(its own tracking row too), builds those side tables from the start of the log while the live
tables keep answering reads and keep following, and then, in one transaction: moves the live
tracking row to the side table's position (only forwards: if the live view got further, the
side table catches up again first), deletes the side tracking row, drops the live tables,
renames the side tables (and their indexes) to the live names, and lets the view create
anything missing. Readers see the old complete view until that commit, then the new one. One
rebuild of a view at a time (the side tables have one name). On PostgreSQL the side tables are
filled by ``projections.parallel_rebuild``; on SQLite by the views' own catch-up.

``Rebuilds.compare`` (``vigil verify``) builds the views aside the same way under
``__verify``, compares them with the live views at the same position, and drops them.
"""

# SQL here names only the tracking table (a constant, quoted by the store); every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from projections.batches import Slot, ViewSet
from projections.catch_up import Raced
from projections.parallel_rebuild import (
    Parallelism,
    build_indexes,
    fill_parallel,
    fill_pipelined,
    tuned_for_bulk,
)
from projections.runner import TRACKING_TABLE, View, reset_view
from projections.view_check import Difference, differences, log_head, tracking_rows

logger = structlog.get_logger(__name__)

REBUILD_SUFFIX = "__rebuild"
VERIFY_SUFFIX = "__verify"  # views rebuilt aside by ``vigil verify`` to compare with the live
COMPARE_ATTEMPTS = 20  # catch-ups of a verify's side tables chasing live views that move on
DEFAULT_REBUILD_BATCH_SIZE = 10_000


class Rebuilds:
    """Rebuilds of a projector's views aside (one at a time: the projector holds its lock)."""

    def __init__(self, views: ViewSet, *, batch_size: int, parallelism: Parallelism) -> None:
        self._views = views
        self._store = views.store
        self._tracking = views.tracking
        self._batch_size = batch_size
        self._parallelism = parallelism

    def rebuild(
        self, targets: list[View], progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Rebuild ``targets`` from the start of the log into side tables, then swap them in;
        ``progress(done, total)`` as the side tables fill (log positions). Events read."""
        slots = [self._prepare_aside(view) for view in targets]
        total = self._views.head()
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
        return consumed

    def _fill_aside(
        self,
        slots: list[Slot],
        total: int,
        report: Callable[[int], None],
        *,
        parallel: bool,
    ) -> int:
        """Fill freshly prepared side tables from the start of the log; events read."""
        if self._store.dialect == "postgresql" and parallel and self._parallelism.applies_to(total):
            deferred = {slot.tracking_name: list(slot.deferred_indexes) for slot in slots}
            consumed = fill_parallel(
                self._views,
                slots,
                report,
                total,
                deferred,
                parallelism=self._parallelism,
                batch_size=self._batch_size,
                suffix=REBUILD_SUFFIX,
                discard=lambda: self._discard_aside(slots),
            )
            build_indexes(self._store, [s for statements in deferred.values() for s in statements])
        elif self._store.dialect == "postgresql":
            deferred = {slot.tracking_name: list(slot.deferred_indexes) for slot in slots}
            with tuned_for_bulk():
                consumed = fill_pipelined(self._views, slots, self._batch_size, report, deferred)
            build_indexes(self._store, [s for statements in deferred.values() for s in statements])
        else:
            consumed = self._views.catch_up(slots, None, self._batch_size, report)[0]
        with self._store.transaction(commit=True) as tx:
            for slot in slots:
                for statement in slot.view.filled_statements(slot.store):
                    tx.execute(statement)
        return consumed

    def compare(
        self,
        targets: list[View],
        catch_up_live: Callable[[], object],
        *,
        attempts: int = COMPARE_ATTEMPTS,
    ) -> tuple[list[Difference], list[str]]:
        """Rebuild ``targets`` aside from the log (tables ending in ``__verify``), compare each
        with the live view at the same position, drop the side tables. Returns the
        differences, and the views that could not be compared: their live position stayed out
        of the rebuild's reach (beyond the log's head, or moving faster than ``attempts``
        catch-ups). ``catch_up_live``: moves the live views on when they lag the rebuild."""
        found: list[Difference] = []
        slots = [self._prepare_aside(view, VERIFY_SUFFIX) for view in targets]
        try:
            self._fill_aside(slots, self._views.head(), lambda _: None, parallel=False)
            pending = list(slots)
            for _ in range(attempts):
                if not pending:
                    break
                self._views.catch_up(pending, None, self._batch_size)
                behind, ahead = self._compare_settled(pending, found)
                if behind:
                    catch_up_live()  # the live views lag the rebuild: move them on
                pending = [s for s in pending if s.tracking_name in behind | ahead]
        finally:
            self._discard_aside(slots)
            for view in targets:
                view.reset()  # what a fold cached came from the side tables
        return found, [slot.view.name for slot in pending]

    def _compare_settled(
        self, slots: list[Slot], found: list[Difference]
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

    def _discard_aside(self, slots: list[Slot]) -> None:
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

    def _prepare_aside(self, view: View, suffix: str = REBUILD_SUFFIX) -> Slot:
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
        return Slot(side, view, aside, tuple(deferred))

    def _swap_in(self, slot: Slot) -> int:
        view, aside = slot.view, slot.store
        consumed = 0
        while True:
            consumed += self._views.catch_up([slot], None, self._batch_size)[0]
            position = self._views.positions_of([slot.tracking_name])[slot.tracking_name]
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
                    if moved is None and position >= log_head(tx, self._views.event_log.recorder):
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
                        raise Raced  # the live view is further on: catch the side tables up
                    gone = tx.fetchone(
                        f"DELETE FROM {self._tracking} "
                        "WHERE view_name = %(name)s AND notification_id = %(position)s "
                        "RETURNING view_name",
                        {"name": slot.tracking_name, "position": position},
                    )
                    if gone is None:
                        raise Raced
                    for statement in view.drop_statements(self._store):
                        tx.execute(statement)
                    aside.promote(tx, aside.tables_seen - {TRACKING_TABLE})
                    for statement in view.create_statements(self._store):
                        tx.execute(statement)
            except Raced:
                continue
            logger.info("view_swapped_in", view=view.name, position=position)
            return consumed
