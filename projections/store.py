"""Where views live: the ledger's own database (the SQLite file, or the PostgreSQL schema).

A view shares the ledger's datastore (its connection pool), so view tables sit beside the
event log and need no configuration of their own. SQL is written once, with psycopg's
``%(name)s`` parameters; the SQLite store rewrites them to ``:name``. Types that the two
dialects store differently (UUIDs, timestamps) go through ``encode_*``/``decode_*``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from uuid import UUID

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


class ViewStore(ABC):
    """The ledger's database, seen by a view."""

    dialect: Literal["sqlite", "postgresql"]
    # Column types that differ between the dialects.
    uuid_type: str
    time_type: str

    @abstractmethod
    def table(self, name: str) -> str:
        """The table's name as it must appear in SQL (quoted, schema-qualified on PostgreSQL)."""

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


class SQLiteViewStore(ViewStore):
    dialect = "sqlite"
    uuid_type = "TEXT"
    time_type = "TEXT"  # ISO 8601 in UTC, fixed width, so text order is time order

    def __init__(self, datastore: SQLiteDatastore) -> None:
        self._datastore = datastore

    def table(self, name: str) -> str:
        return quote(name)

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


# pg_advisory_xact_lock key for view set-up (any constant; "vigilviw" in ASCII).
_SETUP_LOCK_KEY = 0x76696769_6C766977


class PostgresViewStore(ViewStore):
    dialect = "postgresql"
    uuid_type = "uuid"
    time_type = "timestamptz"

    def __init__(self, datastore: PostgresDatastore) -> None:
        self._datastore = datastore
        self._schema = datastore.schema

    def table(self, name: str) -> str:
        return f"{quote(self._schema)}.{quote(name)}"

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
