"""The hash ledger read all at once, for ``vigil verify``: one consistent, read-only snapshot of
the events table and the ledger's tables (``projections.notary``), read straight through the
driver in large batches (``log_snapshot``)."""

# SQL here names only the log's and the ledger's own tables (constants, quoted by the store).
# ruff: noqa: S608

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.types.string import ByteaBinaryLoader

from domain.integrity.ledger import Checkpoint, originator_bytes
from projections.notary import (
    CHECKPOINTS_TABLE,
    LEAVES_TABLE,
    LEDGER_NAME,
    NODES_TABLE,
    STATE_TABLE,
)
from projections.store import PostgresViewStore, ViewStore, quote

EventRow = tuple[int, bytes, int, str, bytes]
"""(notification id, originator id as leaf bytes, version, topic, state)"""
LeafRow = tuple[int, int, bytes]
"""(tree index, notification id, leaf hash)"""


class LogSnapshot:
    """One consistent, read-only snapshot of the events table and the ledger's tables, read
    straight through the driver in large batches (no per-row objects beyond tuples)."""

    def __init__(
        self,
        events: Callable[[int], Iterator[list[EventRow]]],
        leaves: Any,
        run: Any,
        *,
        store: ViewStore,
        head_statement: str,
    ):
        self.event_batches = events
        self.leaf_batches = leaves
        self._run = run
        self._store = store
        self._head_statement = head_statement

    def _fetchall(self, statement: str) -> list[tuple[Any, ...]]:
        result: list[tuple[Any, ...]] = self._run(statement)
        return result

    def ledger_state(self) -> tuple[int, int, bytes] | None:
        """The ledger's stored state: tree size, log position reached, frontier (None: none)."""
        rows = self._fetchall(
            f"SELECT tree_size, notification_id, frontier FROM {self._store.table(STATE_TABLE)} "
            f"WHERE name = '{LEDGER_NAME}'"
        )
        return (int(rows[0][0]), int(rows[0][1]), bytes(rows[0][2])) if rows else None

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint, by tree size."""
        return [
            Checkpoint(int(r[0]), bytes(r[1]), int(r[2]), str(r[3]), bytes(r[4]))
            for r in self._fetchall(
                "SELECT tree_size, root_hash, timestamp_ms, key_id, signature "
                f"FROM {self._store.table(CHECKPOINTS_TABLE)} ORDER BY tree_size"
            )
        ]

    def log_head(self) -> int:
        """The log position of the last event in the snapshot (0: none)."""
        rows = self._fetchall(self._head_statement)
        return int(rows[0][0] or 0) if rows else 0

    def nodes(self) -> list[tuple[int, int, bytes]]:
        """Every stored node of the tree: level, index, hash."""
        return [
            (int(level), int(index), bytes(stored))
            for level, index, stored in self._fetchall(
                f"SELECT level, node_index, hash FROM {self._store.table(NODES_TABLE)} "
                "ORDER BY level, node_index"
            )
        ]


@contextmanager
def log_snapshot(event_log: Application[Any], store: ViewStore) -> Iterator[LogSnapshot]:
    """A snapshot of the log and the ledger on a connection of its own (REPEATABLE READ on
    PostgreSQL, one read transaction on SQLite), so the notary may go on meanwhile."""
    recorder: Any = event_log.recorder
    if isinstance(recorder, PostgresApplicationRecorder) and isinstance(store, PostgresViewStore):
        events = f"{quote(recorder.datastore.schema)}.{quote(recorder.events_table_name)}"
        with psycopg.connect(**store.connection_kwargs()) as conn:
            # The originator id as its 16 stored bytes, without building a UUID per row.
            conn.adapters.register_loader("uuid", ByteaBinaryLoader)
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            names = itertools.count()

            def pg_batches(statement: str, size: int) -> Iterator[list[Any]]:
                name = f"vigil_verify_{next(names)}"
                with conn.cursor(name=name, binary=True) as cursor:
                    cursor.itersize = size
                    cursor.execute(statement)
                    while rows := cursor.fetchmany(size):
                        yield rows

            def pg_run(statement: str) -> list[tuple[Any, ...]]:
                with conn.cursor(binary=True) as cursor:
                    cursor.execute(statement)
                    return cursor.fetchall()

            yield LogSnapshot(
                lambda size: pg_batches(
                    "SELECT notification_id, originator_id, originator_version, topic, state "
                    f"FROM {events} ORDER BY notification_id",
                    size,
                ),
                lambda size: pg_batches(
                    "SELECT tree_index, notification_id, leaf_hash "
                    f"FROM {store.table(LEAVES_TABLE)} ORDER BY tree_index",
                    size,
                ),
                pg_run,
                store=store,
                head_statement=f"SELECT MAX(notification_id) FROM {events}",
            )
        return
    if isinstance(recorder, SQLiteApplicationRecorder):
        path = recorder.datastore.pool.db_name
        conn_sqlite = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            conn_sqlite.execute("BEGIN")
            events_table = quote(recorder.events_table_name)

            def sqlite_batches(statement: str, size: int, convert: bool) -> Iterator[list[Any]]:
                cursor = conn_sqlite.execute(statement)
                while rows := cursor.fetchmany(size):
                    if convert:
                        rows = [
                            (nid, originator_bytes(oid), ver, topic, state)
                            for nid, oid, ver, topic, state in rows
                        ]
                    yield rows

            def sqlite_run(statement: str) -> list[tuple[Any, ...]]:
                return conn_sqlite.execute(statement).fetchall()

            yield LogSnapshot(
                lambda size: sqlite_batches(
                    "SELECT rowid, originator_id, originator_version, topic, state "
                    f"FROM {events_table} ORDER BY rowid",
                    size,
                    True,
                ),
                lambda size: sqlite_batches(
                    "SELECT tree_index, notification_id, leaf_hash "
                    f"FROM {store.table(LEAVES_TABLE)} ORDER BY tree_index",
                    size,
                    False,
                ),
                sqlite_run,
                store=store,
                head_statement=f"SELECT MAX(rowid) FROM {events_table}",
            )
        finally:
            conn_sqlite.close()
        return
    raise TypeError(f"cannot read the log of {type(recorder).__name__}")
