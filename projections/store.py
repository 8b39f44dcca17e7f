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
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Literal, Protocol
from uuid import UUID

import orjson
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

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
        connection taken from the pool once (the pool checks a connection each time it hands
        one out: a round trip per transaction saved)."""
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


# Statements a buffered store hands back instead of SQL (see ``WriteBuffer``). Deliberately not
# SQL: sent to a database by mistake, they fail loudly instead of doing nothing.
BUFFERED_WRITE = "VIGIL BUFFERED WRITE"
COPY_ROWS = "VIGIL COPY ROWS"


def bulk_insert(
    store: ViewStore,
    table: str,
    columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    suffix: str = "",
    upsert_key: Sequence[str] = (),
) -> list[tuple[str, Params]]:
    """Statements inserting ``rows``, whose SQL text is the same for every batch.

    With ``upsert_key``, a row replaces the row with the same key (every column in ``columns``
    is set from it): ``ON CONFLICT (key) DO UPDATE``. ``suffix`` is raw SQL after the insert
    (a buffered store cannot see into it, so it is written through).

    The text matters: psycopg parses each new statement text for its placeholders, which for
    multi-row VALUES lists (thousands of placeholders, different every batch) cost more than
    PostgreSQL's own work. On PostgreSQL the rows go as ONE JSON parameter, unpacked by
    ``json_populate_recordset`` into the table's own row type (so no types to repeat here);
    on SQLite, a one-row INSERT repeated, which the runner sends as one ``executemany``.
    """
    if not rows:
        return []
    if upsert_key:
        if suffix:
            raise ValueError("give upsert_key or suffix, not both")
        missing = [k for k in upsert_key if k not in columns]
        if missing:
            raise ValueError(f"the upsert key {missing} is not among the columns")
    if store.buffer is not None and not suffix:
        get = _row_getter(columns)
        insert = BufferedInsert(
            table, tuple(columns), [get(row) for row in rows], tuple(upsert_key)
        )
        return [(BUFFERED_WRITE, {"write": insert})]
    return _insert_statements(
        store.dialect, table, columns, rows, suffix or _upsert(columns, upsert_key)
    )


def bulk_delete(
    store: ViewStore, table: str, column: str, values: Sequence[Any], *, sql_type: str
) -> list[tuple[str, Params]]:
    """Statements deleting the rows whose ``column`` is one of ``values`` (fixed SQL text)."""
    if not values:
        return []
    if store.buffer is not None:
        delete = BufferedDelete(table, column, list(values), sql_type)
        return [(BUFFERED_WRITE, {"write": delete})]
    return _delete_statements(store.dialect, table, column, values, sql_type)


def _upsert(columns: Sequence[str], key: Sequence[str]) -> str:
    if not key:
        return ""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    action = f"UPDATE SET {updates}" if updates else "NOTHING"
    return f"ON CONFLICT ({', '.join(key)}) DO {action}"


def _insert_statements(
    dialect: str,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    suffix: str,
) -> list[tuple[str, Params]]:
    names = ", ".join(columns)
    tail = f" {suffix}" if suffix else ""
    if dialect == "postgresql":
        statement = (
            f"INSERT INTO {table} ({names}) SELECT {names} "  # noqa: S608
            f"FROM json_populate_recordset(NULL::{table}, %(rows)s::json){tail}"
        )
        payload = orjson.dumps([{c: row[c] for c in columns} for row in rows])
        return [(statement, {"rows": payload.decode()})]
    placeholders = ", ".join(f"%({c})s" for c in columns)
    statement = f"INSERT INTO {table} ({names}) VALUES ({placeholders}){tail}"  # noqa: S608
    return [(statement, row) for row in rows]


def _delete_statements(
    dialect: str, table: str, column: str, values: Sequence[Any], sql_type: str
) -> list[tuple[str, Params]]:
    if dialect == "postgresql":
        statement = f"DELETE FROM {table} WHERE {column} = ANY(%(values)s::{sql_type}[])"  # noqa: S608
        return [(statement, {"values": list(values)})]
    statement = f"DELETE FROM {table} WHERE {column} = %(value)s"  # noqa: S608
    return [(statement, {"value": value}) for value in values]


def _row_getter(columns: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(columns) == 1:
        (column,) = columns
        return lambda row: (row[column],)
    return itemgetter(*columns)  # a tuple for 2+ columns


# --- holding writes back while tables are filled from empty -------------------------------------


@dataclass(frozen=True)
class BufferedInsert:
    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    key: tuple[str, ...]  # upsert key; empty: a plain insert


@dataclass(frozen=True)
class BufferedDelete:
    table: str
    column: str
    values: list[Any]
    sql_type: str


class _MixedTypes(Exception):
    """A column compared in memory (an upsert key, a delete's column) got values of two Python
    types (a UUID and its text, say), which the database would compare as one type."""


_NONE = type(None)


class _Overlay:
    """One table's writes not yet sent: its rows (by upsert key, or in insertion order), and
    deletes that must reach rows already written to the database."""

    def __init__(self, written: bool) -> None:
        self.columns: tuple[str, ...] | None = None
        self.key: tuple[str, ...] = ()
        self.rows: dict[Any, tuple[Any, ...]] = {}
        self.serial = 0
        # Column position -> value -> ids of the rows holding it (built on the first delete).
        self.indexes: dict[int, dict[Any, set[Any]]] = {}
        # Column position -> the one Python type its values have (columns compared in memory).
        self.kinds: dict[int, type] = {}
        self.deletes: list[BufferedDelete] = []
        # The database may hold rows of this table (rows were flushed, or a raw statement ran).
        self.written = written
        # Only plain inserts so far: nothing will be replaced or deleted in memory, so the rows
        # are sent at every batch instead of held.
        self.streaming = True
        # Held no more (after _MixedTypes): every write to the table is sent as it comes.
        self.through = False

    def check(self, position: int, types: set[type]) -> None:
        """Values of ``types`` are about to be compared in column ``position``."""
        types.discard(_NONE)
        if not types:
            return
        kind = self.kinds.get(position)
        if kind is None:
            if len(types) > 1:
                raise _MixedTypes
            self.kinds[position] = types.pop()
        elif len(types) > 1 or kind not in types:
            raise _MixedTypes

    def unindex(self, row_id: Any, row: tuple[Any, ...]) -> None:
        for position, index in self.indexes.items():
            ids = index.get(row[position])
            if ids is not None:
                ids.discard(row_id)

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        assert self.columns is not None
        at = tuple(self.columns.index(k) for k in self.key)
        for position in (*at, *self.indexes):
            self.check(position, {type(row[position]) for row in rows})
        for row in rows:
            if len(at) == 1:
                row_id = row[at[0]]
            elif at:
                row_id = tuple(row[i] for i in at)
            if not at or row_id is None or (len(at) > 1 and None in row_id):
                # No key, or a NULL in it (NULLs never conflict): a row of its own.
                row_id = (_NONE, self.serial)
                self.serial += 1
            else:
                old = self.rows.get(row_id)
                if old is not None and self.indexes:
                    self.unindex(row_id, old)
            self.rows[row_id] = row
            for position, index in self.indexes.items():
                index.setdefault(row[position], set()).add(row_id)

    def remove(self, position: int, values: list[Any]) -> None:
        self.check(position, {type(value) for value in values})
        index = self.indexes.get(position)
        if index is None:
            self.check(position, {type(row[position]) for row in self.rows.values()})
            index = self.indexes[position] = {}
            for row_id, row in self.rows.items():
                index.setdefault(row[position], set()).add(row_id)
        for value in values:
            if value is None:
                continue  # = NULL matches no row
            for row_id in index.pop(value, ()):
                if row_id in self.rows:
                    self.unindex(row_id, self.rows.pop(row_id))


class WriteBuffer:
    """Bulk writes to tables that start empty, held in memory and sent in bulk.

    A view's ``bulk_insert``/``bulk_delete`` on a buffered store (``ViewStore.buffered``) return
    ``BUFFERED_WRITE`` markers; ``route`` applies them, in the view's order, to an in-memory
    image of each table: an upsert replaces the row with its key, a delete removes the rows with
    those values. So a case written at every batch of a rebuild reaches the database once, as
    one row of a ``COPY``, instead of as an upsert per batch. Tables that only ever get plain
    inserts (append-only views) are sent at every batch (``flush_streaming``), so memory stays
    bounded by the live rows of the keyed tables. A statement the buffer cannot see into (raw
    SQL from the view) first sends everything held, so every write still lands in the view's
    order. Once a table has reached the database, later deletes of it are sent too, before the
    rows held, and later upserts go as ``ON CONFLICT`` statements.
    """

    def __init__(self, dialect: str, *, max_rows: int = 2_000_000) -> None:
        self._dialect = dialect
        self._max_rows = max_rows
        self._tables: dict[str, _Overlay] = {}
        self._raw_seen = False  # a raw statement ran: any table may hold rows in the database
        # Column types of the tables copied into, found by the first COPY (see copy_rows).
        self._types: dict[str, list[int] | None] = {}

    def route(self, statements: Sequence[tuple[str, Params]]) -> list[tuple[str, Params]]:
        """Apply the markers among ``statements``; the statements to run now, in order."""
        out: list[tuple[str, Params]] = []
        for statement, params in statements:
            if statement == BUFFERED_WRITE:
                write = params["write"]
                if isinstance(write, BufferedInsert):
                    out += self._insert(write)
                else:
                    out += self._delete(write)
            else:
                out += self.flush()
                self._raw_seen = True
                out.append((statement, params))
        for name, overlay in self._tables.items():
            if len(overlay.rows) > self._max_rows:
                out += self._flush_table(name, overlay)
        return out

    def flush_streaming(self) -> list[tuple[str, Params]]:
        """Statements sending the rows of append-only tables."""
        out: list[tuple[str, Params]] = []
        for name, overlay in self._tables.items():
            if overlay.streaming and overlay.rows:
                out += self._flush_table(name, overlay)
        return out

    def flush(self) -> list[tuple[str, Params]]:
        """Statements sending everything held."""
        out: list[tuple[str, Params]] = []
        for name, overlay in self._tables.items():
            out += self._flush_table(name, overlay)
        return out

    def _overlay(self, table: str) -> _Overlay:
        overlay = self._tables.get(table)
        if overlay is None:
            overlay = self._tables[table] = _Overlay(written=self._raw_seen)
        return overlay

    def _insert(self, write: BufferedInsert) -> list[tuple[str, Params]]:
        overlay = self._overlay(write.table)
        out: list[tuple[str, Params]] = []
        if overlay.columns != write.columns or overlay.key != write.key:
            if overlay.columns is not None:
                # Another shape of row for this table: send the rows held, then hold these.
                out += self._flush_table(write.table, overlay)
                overlay.indexes, overlay.kinds = {}, {}
            overlay.columns, overlay.key = write.columns, write.key
        if write.key:
            overlay.streaming = False
        if not overlay.through:
            try:
                overlay.add(write.rows)
                return out
            except _MixedTypes:
                out += self._write_through(write.table, overlay)
        dicts = [dict(zip(write.columns, row, strict=True)) for row in write.rows]
        suffix = _upsert(write.columns, write.key)
        return out + _insert_statements(self._dialect, write.table, write.columns, dicts, suffix)

    def _delete(self, write: BufferedDelete) -> list[tuple[str, Params]]:
        overlay = self._overlay(write.table)
        overlay.streaming = False
        out: list[tuple[str, Params]] = []
        if not overlay.through and overlay.rows:
            assert overlay.columns is not None
            if write.column not in overlay.columns:
                # The rows held do not say (a column with a default): send them, delete there.
                out += self._flush_table(write.table, overlay)
            else:
                try:
                    overlay.remove(overlay.columns.index(write.column), write.values)
                except _MixedTypes:
                    out += self._write_through(write.table, overlay)
        if overlay.through:
            return out + _delete_statements(
                self._dialect, write.table, write.column, write.values, write.sql_type
            )
        if overlay.written:
            overlay.deletes.append(write)
        return out

    def _write_through(self, table: str, overlay: _Overlay) -> list[tuple[str, Params]]:
        """Send what the table holds; from now on its writes go to the database as they come."""
        out = self._flush_table(table, overlay)
        overlay.through = True
        overlay.streaming = False
        return out

    def _flush_table(self, table: str, overlay: _Overlay) -> list[tuple[str, Params]]:
        out: list[tuple[str, Params]] = []
        for d in overlay.deletes:
            out += _delete_statements(self._dialect, d.table, d.column, d.values, d.sql_type)
        overlay.deletes = []
        if overlay.rows:
            assert overlay.columns is not None
            rows = list(overlay.rows.values())
            if overlay.written and overlay.key:
                # Rows with these keys may be in the database already: upsert them.
                columns = overlay.columns
                dicts = [dict(zip(columns, row, strict=True)) for row in rows]
                out += _insert_statements(
                    self._dialect, table, columns, dicts, _upsert(columns, overlay.key)
                )
            else:
                out.append(
                    (
                        COPY_ROWS,
                        {
                            "table": table,
                            "columns": overlay.columns,
                            "rows": rows,
                            "types": self._types,
                        },
                    )
                )
        overlay.rows = {}
        overlay.indexes = {position: {} for position in overlay.indexes}
        overlay.written = True
        return out
