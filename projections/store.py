"""Where views live: the ledger's own database (the SQLite file, or the PostgreSQL schema).

A view shares the ledger's datastore (its connection pool), so view tables sit beside the
event log and need no configuration of their own. SQL is written once, with psycopg's
``%(name)s`` parameters; the SQLite store rewrites them to ``:name``. Types that the two
dialects store differently (UUIDs, timestamps) go through ``encode_*``/``decode_*``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from projections.bulk_write import WriteBuffer

Params = Mapping[str, Any]
Row = dict[str, Any]


class Tx(Protocol):
    """One open transaction."""

    def execute(self, statement: str, params: Params | None = None) -> None: ...

    def fetchall(self, statement: str, params: Params | None = None) -> list[Row]: ...

    def fetchone(self, statement: str, params: Params | None = None) -> Row | None: ...

    def executemany(self, statement: str, params: Sequence[Params]) -> None: ...

    def copy_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        types: dict[str, list[int] | None] | None = None,
    ) -> None:
        """Insert rows in bulk (``COPY`` on PostgreSQL). ``types``: a cache of the tables'
        column types, kept by the caller for as long as the tables keep their types."""
        ...


def in_utc(value: datetime) -> datetime:
    """The time in UTC, as views store it. Only a time stored before client times were bounded
    (domain.shared.Moment) can fall before year 1 or after 9999 in UTC: it takes the edge of the
    range, rather than failing on that event for good (the log cannot be changed)."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if value.year < 5000 else datetime.max
        return edge.replace(tzinfo=UTC)


class ViewStore(ABC):
    """The ledger's database, seen by a view.

    A store may carry a ``suffix``: every table and index name a view asks for (``table()``,
    ``index()``) then ends with it. That is how a view is rebuilt aside: the runtime hands the
    view a store with the suffix ``__rebuild``, the view fills tables of that name, and the
    runtime renames them over the live ones in one transaction (``promote``). So a view must
    name its tables and indexes through ``table()``/``index()``, never spell them out.
    """

    dialect: Literal["sqlite", "postgresql"]
    # Column types that differ between the dialects.
    uuid_type: str
    time_type: str

    def __init__(self, suffix: str = "") -> None:
        self.suffix = suffix
        # Every table name a view asked for (without the suffix): what to rename on promotion.
        self.tables_seen: set[str] = set()
        # Set on a store that holds bulk writes back (see ``buffered``); None: write through.
        self.buffer: WriteBuffer | None = None

    def buffered(self) -> ViewStore:
        """The same tables, with ``bulk_insert``/``bulk_delete`` held in a ``WriteBuffer``.

        For filling tables that start EMPTY (a rebuild aside): what the buffer holds is then
        the tables' whole content, so an upsert or a delete is applied in memory and each row
        is written once, in bulk, when the buffer is flushed. The twin shares ``tables_seen``
        with this store, so promoting this store renames what the twin filled.
        """
        twin = self.with_suffix(self.suffix)
        twin.tables_seen = self.tables_seen
        twin.buffer = WriteBuffer(self.dialect)
        return twin

    @abstractmethod
    def table(self, name: str) -> str:
        """The table's name as it must appear in SQL (quoted, schema-qualified on PostgreSQL)."""

    def index(self, name: str) -> str:
        """An index's name as it must appear in ``CREATE INDEX`` (quoted, never qualified)."""
        return quote(name + self.suffix)

    @abstractmethod
    def with_suffix(self, suffix: str) -> ViewStore:
        """The same database, naming tables and indexes with ``suffix`` appended."""

    @abstractmethod
    def promote(self, tx: Tx, names: Iterable[str]) -> None:
        """Rename this (suffixed) store's tables ``names`` to their live names, with their
        indexes. The live tables must have been dropped in ``tx`` first; the view's own
        ``create_statements`` on the live store should then run, to recreate any index it
        could not name with the suffix."""

    @abstractmethod
    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Tx]:
        """A transaction: committed on leaving if ``commit``, rolled back on error or if not."""

    @contextmanager
    def session(self) -> Iterator[Callable[..., AbstractContextManager[Tx]]]:
        """``transaction``, for many transactions one after another: on PostgreSQL all on one
        connection taken from the pool once (a checkout, and its check that the server has not
        closed the connection, per transaction saved)."""
        yield self.transaction

    @abstractmethod
    def encode_time(self, value: datetime | None) -> Any: ...

    @abstractmethod
    def decode_time(self, value: Any) -> datetime | None: ...

    @abstractmethod
    def encode_uuid(self, value: UUID) -> Any: ...

    @abstractmethod
    def decode_uuid(self, value: Any) -> UUID: ...

    def setup_lock(self, tx: Tx) -> None:  # noqa: B027 - optional hook
        """Serialise concurrent set-ups of views (processes starting together)."""


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


_PARAM = re.compile(r"%\((\w+)\)s")


class _SQLiteTx:
    def __init__(self, cursor: SQLiteCursor) -> None:
        self._cursor = cursor

    def execute(self, statement: str, params: Params | None = None) -> None:
        self._cursor.execute(_PARAM.sub(r":\1", statement), params or {})

    def fetchall(self, statement: str, params: Params | None = None) -> list[Row]:
        self.execute(statement, params)
        return [dict(row) for row in self._cursor.fetchall()]

    def fetchone(self, statement: str, params: Params | None = None) -> Row | None:
        rows = self.fetchall(statement, params)
        return rows[0] if rows else None

    def executemany(self, statement: str, params: Sequence[Params]) -> None:
        self._cursor.executemany(_PARAM.sub(r":\1", statement), params)

    def copy_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        types: dict[str, list[int] | None] | None = None,
    ) -> None:
        placeholders = ", ".join("?" for _ in columns)
        self._cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608
            [tuple(row) for row in rows],
        )


class SQLiteViewStore(ViewStore):
    dialect = "sqlite"
    uuid_type = "TEXT"
    time_type = "TEXT"  # ISO 8601 in UTC, fixed width, so text order is time order

    def __init__(self, datastore: SQLiteDatastore, suffix: str = "") -> None:
        super().__init__(suffix)
        self._datastore = datastore

    def table(self, name: str) -> str:
        self.tables_seen.add(name)
        return quote(name + self.suffix)

    def with_suffix(self, suffix: str) -> SQLiteViewStore:
        return SQLiteViewStore(self._datastore, suffix)

    def promote(self, tx: Tx, names: Iterable[str]) -> None:
        for name in sorted(names):
            # SQLite cannot rename an index: drop the suffixed ones; create_statements on the
            # live store builds them again under their live names.
            for row in tx.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %(table)s "
                "AND sql IS NOT NULL",
                {"table": name + self.suffix},
            ):
                tx.execute(f"DROP INDEX IF EXISTS {quote(row['name'])}")
            tx.execute(f"ALTER TABLE {quote(name + self.suffix)} RENAME TO {quote(name)}")

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Tx]:
        # A writing transaction takes the pool's writer lock (shared with the ledger), and its
        # first statement should write, so SQLite takes its write lock before anything is read.
        with self._datastore.transaction(commit=commit) as cursor:
            yield _SQLiteTx(cursor)

    def encode_time(self, value: datetime | None) -> Any:
        if value is None:
            return None
        return in_utc(value).isoformat(timespec="microseconds")

    def decode_time(self, value: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)

    def encode_uuid(self, value: UUID) -> Any:
        return str(value)

    def decode_uuid(self, value: Any) -> UUID:
        return value if isinstance(value, UUID) else UUID(value)


class _PostgresTx:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, statement: str, params: Params | None = None) -> None:
        self._cursor.execute(statement, params)

    def fetchall(self, statement: str, params: Params | None = None) -> list[Row]:
        self._cursor.execute(statement, params)
        return [dict(row) for row in self._cursor.fetchall()]

    def fetchone(self, statement: str, params: Params | None = None) -> Row | None:
        self._cursor.execute(statement, params)
        row = self._cursor.fetchone()
        return None if row is None else dict(row)

    def executemany(self, statement: str, params: Sequence[Params]) -> None:
        self._cursor.executemany(statement, params)

    def copy_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        types: dict[str, list[int] | None] | None = None,
    ) -> None:
        """``COPY`` the rows in. In the binary format (no text to render and parse: several
        times cheaper in Python) when every value is of the Python type the column's binary
        form takes; a value that is not (a UUID given as text, say) fails in psycopg before
        anything is stored, and the rows go again in the text format, read as an INSERT would."""
        key = f"{table} ({', '.join(columns)})"
        oids = types.get(key) if types is not None else None
        if oids is None:
            found = self.fetchall(
                "SELECT attname, atttypid::int AS oid FROM pg_attribute "
                "WHERE attrelid = %(table)s::regclass AND attnum > 0 AND NOT attisdropped",
                {"table": table},
            )
            by_name = {row["attname"]: row["oid"] for row in found}
            if all(column in by_name for column in columns):
                oids = [by_name[column] for column in columns]
            if types is not None:
                types[key] = oids
        if oids is not None and _binary_safe(oids, rows):
            try:
                with self._cursor.connection.transaction():  # a savepoint
                    self._copy(table, columns, rows, oids)
                return
            except (TypeError, AttributeError, ValueError, OverflowError):
                pass  # rolled back to the savepoint: nothing of it stored
        self._copy(table, columns, rows, None)

    def _copy(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        types: list[int] | None,
    ) -> None:
        binary = " (FORMAT BINARY)" if types is not None else ""
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN{binary}"
        with self._cursor.copy(statement) as copy:
            if types is not None:
                copy.set_types(types)
            write = copy.write_row
            for row in rows:
                write(row)


# Integer types whose binary form psycopg fills without checking the value: a bool would be
# stored as 0/1 and (int2, int4) a value out of range stored wrapped, where an INSERT refuses
# both. Such rows go in the text format, which PostgreSQL checks. (int8 overflows raise.)
_INT_RANGES: dict[int, tuple[int, int] | None] = {
    20: None,
    21: (-(2**15), 2**15 - 1),
    23: (-(2**31), 2**31 - 1),
}


def _binary_safe(types: Sequence[int], rows: Sequence[Sequence[Any]]) -> bool:
    for position, oid in enumerate(types):
        if oid not in _INT_RANGES:
            continue
        values = [row[position] for row in rows if row[position] is not None]
        if not values:
            continue
        if bool in {type(value) for value in values}:
            return False
        limits = _INT_RANGES[oid]
        if limits is not None and (min(values) < limits[0] or max(values) > limits[1]):
            return False
    return True


# pg_advisory_xact_lock key for view set-up (any constant; "vigilviw" in ASCII).
_SETUP_LOCK_KEY = 0x76696769_6C766977


class PostgresViewStore(ViewStore):
    dialect = "postgresql"
    uuid_type = "uuid"
    time_type = "timestamptz"

    def __init__(self, datastore: PostgresDatastore, suffix: str = "") -> None:
        super().__init__(suffix)
        self._datastore = datastore
        self._schema = datastore.schema

    def table(self, name: str) -> str:
        self.tables_seen.add(name)
        return f"{quote(self._schema)}.{quote(name + self.suffix)}"

    @property
    def schema(self) -> str:
        return self._schema

    def connection_kwargs(self) -> dict[str, Any]:
        """The pool's own connection parameters, for a connection kept out of the pool."""
        kwargs = self._datastore.pool.kwargs
        if not isinstance(kwargs, dict):  # the pool's kwargs may be a callable (not here)
            raise TypeError("the PostgreSQL pool's connection parameters are not a dict")
        return {k: v for k, v in kwargs.items() if k != "row_factory"}

    def with_suffix(self, suffix: str) -> PostgresViewStore:
        return PostgresViewStore(self._datastore, suffix)

    def promote(self, tx: Tx, names: Iterable[str]) -> None:
        schema = quote(self._schema)
        for name in sorted(names):
            tx.execute(f"ALTER TABLE {schema}.{quote(name + self.suffix)} RENAME TO {quote(name)}")
            # Indexes (the primary key's too, which PostgreSQL named after the side table) and
            # sequences keep their names through a table rename: give them their live names,
            # or the next rebuild could not create them again.
            # The table's oid once, by regclass (the nested catalogue lookups this replaces
            # took ~0.13 s a table); its indexes from pg_index, its sequences from pg_depend.
            related = tx.fetchall(
                "WITH t AS (SELECT %(qualified)s::regclass::oid AS oid) "
                "SELECT c.relname AS name, c.relkind AS kind FROM pg_class c, t "
                "WHERE c.relkind IN ('i', 'S') AND ("
                "c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = t.oid) "
                "OR c.oid IN (SELECT objid FROM pg_depend "
                "WHERE refobjid = t.oid AND classid = 'pg_class'::regclass))",
                {"qualified": f"{schema}.{quote(name)}"},
            )
            for row in related:
                if self.suffix not in row["name"]:
                    continue
                kind = "INDEX" if row["kind"] == "i" else "SEQUENCE"
                live = row["name"].replace(self.suffix, "", 1)
                tx.execute(f"ALTER {kind} {schema}.{quote(row['name'])} RENAME TO {quote(live)}")

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Tx]:
        with self._datastore.transaction(commit=commit) as cursor:
            yield _PostgresTx(cursor)

    @contextmanager
    def session(self) -> Iterator[Callable[..., AbstractContextManager[Tx]]]:
        with self._datastore.get_connection() as conn:

            @contextmanager
            def transaction(*, commit: bool) -> Iterator[Tx]:
                with conn.transaction(force_rollback=not commit):
                    yield _PostgresTx(conn.cursor())

            yield transaction

    def setup_lock(self, tx: Tx) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": _SETUP_LOCK_KEY})

    def encode_time(self, value: datetime | None) -> Any:
        return None if value is None else in_utc(value)

    def decode_time(self, value: Any) -> datetime | None:
        return value if value is None else value.astimezone(UTC)

    def encode_uuid(self, value: UUID) -> Any:
        return value

    def decode_uuid(self, value: Any) -> UUID:
        return value if isinstance(value, UUID) else UUID(str(value))


def view_store_for(recorder: ApplicationRecorder) -> ViewStore:
    """The view store sharing the ledger recorder's datastore."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLiteViewStore(recorder.datastore)
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresViewStore(recorder.datastore)
    raise TypeError(f"views are not supported on {type(recorder).__name__}")


def listen_connection_kwargs(store: ViewStore) -> dict[str, Any] | None:
    """Connection parameters for a dedicated LISTEN connection (None: not PostgreSQL)."""
    if not isinstance(store, PostgresViewStore):
        return None
    return store.connection_kwargs()
