"""The bulk writer: a view's inserts and deletes as statements whose SQL text is the same for
every batch, and, while a rebuild fills tables that start empty, held in memory and sent once.

A view writes with ``bulk_insert``/``bulk_delete``. On a live store they return the statements
to run at once; on a buffered store (``ViewStore.buffered``, what a rebuild's fill hands each
view) they return ``BUFFERED_WRITE`` markers that the store's ``WriteBuffer`` applies to an
in-memory image of each table, sending each row once, by ``COPY`` (``COPY_ROWS``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from projections.store import Params, ViewStore

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
