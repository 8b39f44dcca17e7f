"""Where views live: the ledger's own database (the SQLite file, or the PostgreSQL schema).

A view shares the ledger's datastore (its connection pool), so view tables sit beside the
event log and need no configuration of their own. SQL is written once, with psycopg's
``%(name)s`` parameters; the SQLite store rewrites them to ``:name``. Types that the two
dialects store differently (UUIDs, timestamps) go through ``encode_*``/``decode_*``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
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
        return value.astimezone(UTC).isoformat(timespec="microseconds")

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

    def setup_lock(self, tx: Tx) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": _SETUP_LOCK_KEY})

    def encode_time(self, value: datetime | None) -> Any:
        return value

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


def bulk_insert(
    store: ViewStore,
    table: str,
    columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    suffix: str = "",
) -> list[tuple[str, Params]]:
    """Statements inserting ``rows``, whose SQL text is the same for every batch.

    The text matters: psycopg parses each new statement text for its placeholders, which for
    multi-row VALUES lists (thousands of placeholders, different every batch) cost more than
    PostgreSQL's own work. On PostgreSQL the rows go as ONE JSON parameter, unpacked by
    ``json_populate_recordset`` into the table's own row type (so no types to repeat here);
    on SQLite, a one-row INSERT repeated, which the runner sends as one ``executemany``.
    """
    if not rows:
        return []
    names = ", ".join(columns)
    tail = f" {suffix}" if suffix else ""
    if store.dialect == "postgresql":
        statement = (
            f"INSERT INTO {table} ({names}) SELECT {names} "  # noqa: S608
            f"FROM json_populate_recordset(NULL::{table}, %(rows)s::json){tail}"
        )
        payload = orjson.dumps([{c: row[c] for c in columns} for row in rows])
        return [(statement, {"rows": payload.decode()})]
    placeholders = ", ".join(f"%({c})s" for c in columns)
    statement = f"INSERT INTO {table} ({names}) VALUES ({placeholders}){tail}"  # noqa: S608
    return [(statement, row) for row in rows]


def bulk_delete(
    store: ViewStore, table: str, column: str, values: Sequence[Any], *, sql_type: str
) -> list[tuple[str, Params]]:
    """Statements deleting the rows whose ``column`` is one of ``values`` (fixed SQL text)."""
    if not values:
        return []
    if store.dialect == "postgresql":
        statement = f"DELETE FROM {table} WHERE {column} = ANY(%(values)s::{sql_type}[])"  # noqa: S608
        return [(statement, {"values": list(values)})]
    statement = f"DELETE FROM {table} WHERE {column} = %(value)s"  # noqa: S608
    return [(statement, {"value": value}) for value in values]
