"""Vigil's recorders: eventsourcing's own, with the event and snapshot tables append-only in
the database itself, not only by convention in the code.

Every store gets triggers that refuse UPDATE, DELETE (and, on PostgreSQL, TRUNCATE) on the
event and snapshot tables. On PostgreSQL they are ``ENABLE ALWAYS``, so they fire even under
``session_replication_role = replica``. The recorder creates whatever is missing when it
starts, as eventsourcing creates its tables; a role that may not create them (the
application role of ``vigil db init``) finds them made and only checks they are there.

On PostgreSQL the application role also lacks the UPDATE, DELETE and TRUNCATE privileges.
That takes away the one privilege eventsourcing's insert needs beyond INSERT: it runs
``LOCK TABLE <events> IN EXCLUSIVE MODE`` so that notification ids are issued in commit order,
and PostgreSQL allows EXCLUSIVE mode only to a role holding UPDATE, DELETE or TRUNCATE on the
table (a column-level UPDATE grant does not count; tested on PostgreSQL 15). So the lock is
taken by ``<events>_lock()``, a ``SECURITY DEFINER`` function owned by the tables' owner that
does exactly that ``LOCK TABLE`` and nothing else. The lock is the same lock on the same table,
held to the end of the writer's transaction, so every property of eventsourcing's scheme
holds: writers through this recorder are serialised, and a plain INSERT by anyone (which
takes ROW EXCLUSIVE) still conflicts with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError, ProgrammingError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType
from psycopg import sql
from psycopg.rows import DictRow, tuple_row

from infrastructure.availability import (
    StoreUnavailable,
    is_pool_timeout,
    is_sqlite_not_passing,
    is_sqlite_unavailable,
)
from infrastructure.files import create_private_file
from infrastructure.group_commit import GroupCommit

APPEND_ONLY_FUNCTION = "vigil_append_only"
REFUSAL = "the table is append-only: Vigil never updates or deletes a recorded event"
HINT = "Record a correction (a RecordCorrected event) instead."
# pg_advisory_xact_lock(key, hashtext(schema)): one set-up of the guards per schema at a time,
# so processes starting together do not race on CREATE TRIGGER ("vigilimm" in ASCII, low half).
SETUP_LOCK_KEY = 0x6C696D6D


class _GroupCommitting:
    """The log's appends gathered into shared transactions (``infrastructure.group_commit``)."""

    group_commit: GroupCommit

    def _start_group_commit(self) -> None:
        self.group_commit = GroupCommit(self._insert_alone)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if any(value is not None for value in kwargs.values()):
            # More than events (a tracking record): not gathered. (The application passes
            # ``tracking=None`` with every plain append.)
            return super().insert_events(stored_events, **kwargs)  # type: ignore[misc,no-any-return]
        return self.group_commit.insert(stored_events)

    def _insert_alone(self, stored_events: Sequence[StoredEvent]) -> Sequence[int] | None:
        return super().insert_events(stored_events)  # type: ignore[misc,no-any-return]


class StoreNotInitialised(PersistenceError):
    """The store lacks a table, trigger or function this role may not create itself."""


# --- PostgreSQL ---------------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def row_trigger_name(table: str) -> str:
    return f"{table}_append_only"


def truncate_trigger_name(table: str) -> str:
    return f"{table}_no_truncate"


def lock_function_name(events_table: str) -> str:
    return f"{events_table}_lock"


def guard_triggers(conn: psycopg.Connection[Any], schema: str, table: str) -> dict[str, str]:
    """The append-only triggers present on ``schema.table``: name -> ``tgenabled`` (A=always)."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        "SELECT tgname::text, tgenabled::text FROM pg_trigger "
        "WHERE tgrelid = to_regclass(%s) AND tgname = ANY(%s)",
        (qualified(schema, table), [row_trigger_name(table), truncate_trigger_name(table)]),
    )
    return {name: enabled for name, enabled in cur.fetchall()}


def guards_complete(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    triggers = guard_triggers(conn, schema, table)
    return len(triggers) == 2 and all(enabled == "A" for enabled in triggers.values())


def install_append_only(
    conn: psycopg.Connection[Any], schema: str, table: str, *, replace: bool = False
) -> list[str]:
    """Create what is missing of the append-only guard on ``schema.table`` (in the caller's
    transaction): the refusing function, a row trigger for UPDATE and DELETE, a statement
    trigger for TRUNCATE, both ``ENABLE ALWAYS``. Returns what it did, for a report."""
    done: list[str] = []
    cur = conn.cursor(row_factory=tuple_row)
    function = qualified(schema, APPEND_ONLY_FUNCTION)
    cur.execute("SELECT to_regprocedure(%s) IS NOT NULL", (f"{function}()",))
    present = cur.fetchone()
    if replace or not (present and present[0]):
        # Not SECURITY DEFINER: it only refuses. RAISE's '%' are its own placeholders (this
        # statement is sent without parameters, so psycopg leaves them alone).
        cur.execute(
            sql.SQL(
                "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION '% on %.% refused: {refusal}', "
                "TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING HINT = {hint}; END $$"
            ).format(
                function=sql.SQL(function),
                refusal=sql.SQL(REFUSAL.replace("'", "''")),
                hint=sql.Literal(HINT),
            )
        )
        done.append(f"function {schema}.{APPEND_ONLY_FUNCTION}()")
    target = sql.SQL(qualified(schema, table))
    existing = guard_triggers(conn, schema, table)
    for name, timing in (
        (row_trigger_name(table), "BEFORE UPDATE OR DELETE ON {target} FOR EACH ROW"),
        (truncate_trigger_name(table), "BEFORE TRUNCATE ON {target} FOR EACH STATEMENT"),
    ):
        if name not in existing:
            cur.execute(
                sql.SQL(
                    "CREATE TRIGGER {name} " + timing + " EXECUTE FUNCTION {function}()"
                ).format(name=sql.Identifier(name), target=target, function=sql.SQL(function))
            )
            done.append(f"trigger {name} on {schema}.{table}")
        if existing.get(name) != "A":
            # ALWAYS: also under session_replication_role = replica (replication, pg_restore
            # --disable-triggers and the like), where ordinary triggers are skipped.
            cur.execute(
                sql.SQL("ALTER TABLE {target} ENABLE ALWAYS TRIGGER {name}").format(
                    target=target, name=sql.Identifier(name)
                )
            )
            done.append(f"trigger {name} enabled always")
    return done


def install_lock_function(
    conn: psycopg.Connection[Any], schema: str, events_table: str, *, replace: bool = False
) -> list[str]:
    """Create ``<events>_lock()`` if missing (or ``replace``): it takes eventsourcing's EXCLUSIVE
    lock on the events table for a role that may only insert. It runs as its owner, with a
    fixed search_path, and may be executed only by the roles it is granted to."""
    function = qualified(schema, lock_function_name(events_table))
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute("SELECT to_regprocedure(%s) IS NOT NULL", (f"{function}()",))
    present = cur.fetchone()
    if not replace and present and present[0]:
        return []
    cur.execute(
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {function}() RETURNS void LANGUAGE plpgsql "
            "SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ "
            "BEGIN LOCK TABLE {table} IN EXCLUSIVE MODE; END $$"
        ).format(function=sql.SQL(function), table=sql.SQL(qualified(schema, events_table)))
    )
    cur.execute(sql.SQL("REVOKE ALL ON FUNCTION {}() FROM PUBLIC").format(sql.SQL(function)))
    return [f"function {schema}.{lock_function_name(events_table)}()"]


def ensure_append_only(
    conn: psycopg.Connection[Any], schema: str, tables: Iterable[str]
) -> list[str]:
    """Guard each of ``tables`` like the log (in the caller's transaction), creating only what
    is missing: a role that does not own them finds them guarded and changes nothing. Other
    append-only tables (the hash ledger's) share the log's refusing function."""
    done: list[str] = []
    for table in tables:
        if not guards_complete(conn, schema, table):
            done += install_append_only(conn, schema, table)
    return done


def lacks_privilege(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) is PostgreSQL's insufficient privilege."""
    while exc is not None:
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return True
        exc = exc.__cause__  # type: ignore[assignment]
    return False


class _PostgresAppendOnly:
    """Start-up for the append-only recorders: create what is missing, or say what to run."""

    datastore: PostgresDatastore
    events_table_name: str
    has_lock_function = False

    def _base_objects(self) -> list[tuple[str, str]]:
        """eventsourcing's own objects, as (to_regclass or to_regtype, qualified name)."""
        schema = self.datastore.schema
        return [
            ("to_regclass", qualified(schema, self.events_table_name)),
            ("to_regtype", qualified(schema, f"stored_event_{self.datastore.originator_id_type}")),
        ]

    def _missing(self) -> tuple[bool, bool]:
        """(whether eventsourcing's own objects are missing, whether the guards are)."""
        schema = self.datastore.schema
        probes = [f"{function}(%s) IS NULL" for function, _ in self._base_objects()]
        params: list[str] = [name for _, name in self._base_objects()]
        if self.has_lock_function:
            function = qualified(schema, lock_function_name(self.events_table_name))
            probes.append("to_regprocedure(%s) IS NULL")
            params.append(f"{function}()")
        with self.datastore.transaction(commit=False) as curs:
            conn = curs.connection
            cur = conn.cursor(row_factory=tuple_row)
            cur.execute("SELECT " + ", ".join(probes), params)
            row = cur.fetchone()
            assert row is not None
            base = len(self._base_objects())
            base_missing = any(row[:base])
            guards_missing = any(row[base:]) or not guards_complete(
                conn, schema, self.events_table_name
            )
        return base_missing, guards_missing

    def _create_eventsourcing_tables(self) -> None:
        raise NotImplementedError

    def _ensure(self) -> None:
        schema = self.datastore.schema
        try:
            base_missing, guards_missing = self._missing()
            if base_missing:
                self._create_eventsourcing_tables()
            if base_missing or guards_missing:
                with self.datastore.transaction(commit=True) as curs:
                    conn = curs.connection
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (SETUP_LOCK_KEY, schema)
                    )
                    install_append_only(conn, schema, self.events_table_name)
                    if self.has_lock_function:
                        install_lock_function(conn, schema, self.events_table_name)
        except (psycopg.Error, PersistenceError) as exc:
            if lacks_privilege(exc):
                raise StoreNotInitialised(
                    f"{schema}.{self.events_table_name} is missing or lacks its append-only "
                    f"guard, and this role may not create them: run `vigil db init` as the "
                    f"owner of the store first ({exc})"
                ) from exc
            raise
        self.datastore.register_type_adapters()


class VigilPostgresApplicationRecorder(
    _GroupCommitting, _PostgresAppendOnly, PostgresApplicationRecorder
):
    """The event log: append-only, locked for inserts through ``<events>_lock()``, and its
    concurrent appends gathered into shared transactions."""

    has_lock_function = True

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        if datastore.enable_db_functions:
            # Its insert function skips the EXCLUSIVE lock, so ids would no longer follow
            # commit order (a reader tailing the log could pass over a gap filled later).
            raise ProgrammingError("Vigil never enables POSTGRES_ENABLE_DB_FUNCTIONS")
        super().__init__(datastore, events_table_name=events_table_name)
        self._start_group_commit()
        # Nor create that function: one less way to write to the log.
        del self.sql_create_statements[self.create_insert_function_statement_index]
        # Keep eventsourcing's "SET LOCAL lock_timeout", then its LOCK TABLE by the function.
        self.lock_table_statements = [
            self.lock_table_statements[0],
            sql.SQL("SELECT {}()").format(
                sql.SQL(qualified(datastore.schema, lock_function_name(events_table_name)))
            ),
        ]

    def _base_objects(self) -> list[tuple[str, str]]:
        index = qualified(self.datastore.schema, self.notification_id_index_name)
        return [*super()._base_objects(), ("to_regclass", index)]

    def _create_eventsourcing_tables(self) -> None:
        PostgresApplicationRecorder.create_table(self)

    def create_table(self) -> None:
        self._ensure()


class VigilPostgresAggregateRecorder(_PostgresAppendOnly, PostgresAggregateRecorder):
    """The snapshots: append-only too (eventsourcing only ever inserts a new version)."""

    def _create_eventsourcing_tables(self) -> None:
        PostgresAggregateRecorder.create_table(self)

    def create_table(self) -> None:
        self._ensure()


class VigilPostgresDatastore(PostgresDatastore):
    """eventsourcing's datastore, saying ``StoreUnavailable`` when no connection can be had
    within the pool's timeout, or the one in use is lost, instead of an ``OperationalError``
    that each recorder method would retry ten times (a minute of waiting per request)."""

    def __init__(self, *args: Any, connect_attempt_timeout: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each attempt the pool makes in the background gives up too: a host that swallows
        # packets would otherwise hold the pool's workers, and the pool would never recover.
        assert isinstance(self.pool.kwargs, dict)
        self.pool.kwargs["connect_timeout"] = connect_attempt_timeout

    @classmethod
    def like(
        cls, other: PostgresDatastore, *, connect_attempt_timeout: int
    ) -> VigilPostgresDatastore:
        """The same store, pool and settings as ``other`` (eventsourcing's factory makes that
        one; its pool is never opened)."""
        pool = other.pool
        kwargs = pool.kwargs
        assert isinstance(kwargs, dict)
        return cls(
            dbname=kwargs["dbname"],
            host=kwargs["host"],
            port=kwargs["port"],
            user=kwargs["user"],
            password=kwargs["password"],
            connect_timeout=pool.timeout,
            idle_in_transaction_session_timeout=other.idle_in_transaction_session_timeout,
            pool_size=pool.min_size,
            max_overflow=pool.max_size - pool.min_size,
            max_waiting=pool.max_waiting,
            conn_max_age=pool.max_lifetime,
            pre_ping=other.pre_ping,
            lock_timeout=other.lock_timeout,
            schema=other.schema,
            pool_open_timeout=other.pool_open_timeout,
            get_password_func=pool.get_password_func,
            single_row_tracking=other.single_row_tracking,
            originator_id_type="text" if other.originator_id_type == "text" else "uuid",
            enable_db_functions=other.enable_db_functions,
            connect_attempt_timeout=connect_attempt_timeout,
        )

    @contextmanager
    def get_connection(self) -> Iterator[psycopg.Connection[DictRow]]:
        conn: psycopg.Connection[DictRow] | None = None
        try:
            with super().get_connection() as conn:
                yield conn
        except StoreUnavailable:
            raise
        except PersistenceError as exc:
            lost = conn is not None and (conn.broken or conn.closed)
            if not (is_pool_timeout(exc) or lost):
                raise
            kwargs = self.pool.kwargs
            assert isinstance(kwargs, dict)
            where = f"{kwargs['host']}:{kwargs['port']}"
            if lost:
                raise StoreUnavailable(f"lost the connection to {where}: {exc}") from exc
            raise StoreUnavailable(
                f"no connection to {where} within {self.pool.timeout:g} s"
            ) from exc


class VigilPostgresFactory(PostgresFactory):
    aggregate_recorder_class = VigilPostgresAggregateRecorder
    application_recorder_class = VigilPostgresApplicationRecorder

    # Seconds each connection attempt may take (libpq's connect_timeout); POSTGRES_CONNECT_TIMEOUT
    # is how long a caller waits for the pool to hand out a connection.
    POSTGRES_CONNECT_ATTEMPT_TIMEOUT = "POSTGRES_CONNECT_ATTEMPT_TIMEOUT"

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        attempt = int(self.env.get(self.POSTGRES_CONNECT_ATTEMPT_TIMEOUT) or "5")
        self.datastore = VigilPostgresDatastore.like(
            self.datastore, connect_attempt_timeout=attempt
        )


# --- SQLite -------------------------------------------------------------------------------------


def sqlite_trigger_statements(table: str) -> list[str]:
    """BEFORE UPDATE and BEFORE DELETE triggers that abort (SQLite has no TRUNCATE, and its
    ``DELETE FROM t`` without WHERE fires them: the truncate optimisation is off with triggers)."""
    return [
        f"CREATE TRIGGER IF NOT EXISTS {quote_ident(f'{table}_no_{op.lower()}')} "
        f"BEFORE {op} ON {quote_ident(table)} "
        f"BEGIN SELECT RAISE(ABORT, '{op} on {table} refused: {REFUSAL}'); END"
        for op in ("UPDATE", "DELETE")
    ]


def _with_triggers(statements: Iterable[str], table: str) -> list[str]:
    return [*statements, *sqlite_trigger_statements(table)]


class VigilSQLiteApplicationRecorder(_GroupCommitting, SQLiteApplicationRecorder):
    """The event log: append-only, and its concurrent appends gathered into shared
    transactions (one writer at a time, as SQLite allows)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._start_group_commit()

    def construct_create_table_statements(self) -> list[str]:
        return _with_triggers(super().construct_create_table_statements(), self.events_table_name)


class VigilSQLiteAggregateRecorder(SQLiteAggregateRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return _with_triggers(super().construct_create_table_statements(), self.events_table_name)


class VigilSQLiteDatastore(SQLiteDatastore):
    """eventsourcing's datastore, saying ``StoreUnavailable`` when the file cannot be opened,
    written or locked within SQLITE_LOCK_TIMEOUT."""

    @contextmanager
    def get_connection(self, *, commit: bool) -> Iterator[SQLiteConnection]:
        try:
            with super().get_connection(commit=commit) as conn:
                yield conn
        except StoreUnavailable:
            raise
        except Exception as exc:
            if not is_sqlite_unavailable(exc):
                raise
            raise StoreUnavailable(
                f"the SQLite store {self.pool.db_name}: {exc}",
                transient=not is_sqlite_not_passing(exc),
            ) from exc


class VigilSQLiteFactory(SQLiteFactory):
    aggregate_recorder_class = VigilSQLiteAggregateRecorder
    application_recorder_class = VigilSQLiteApplicationRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        environment = env if isinstance(env, Environment) else Environment(env=env)
        name = environment.get(self.SQLITE_DBNAME)
        in_memory = name is not None and SQLiteConnectionPool.detect_memory_mode(name)
        if name and not name.startswith("file:") and not in_memory:
            # SQLite would create the store 0644 (less the umask) and gives its -wal and -shm
            # files the store's own mode: created owner-only first, all three are.
            create_private_file(Path(name))
        super().__init__(environment)
        old = self.datastore
        self.datastore = VigilSQLiteDatastore(
            db_name=old.pool.db_name,
            lock_timeout=old.pool.lock_timeout,
            single_row_tracking=old.single_row_tracking,
            originator_id_type="text" if old.originator_id_type == "text" else "uuid",
        )
        old.close()


def events_table(recorder: Any) -> tuple[str, str]:
    """The log's table as SQL, and its notification id column."""
    table = quote_ident(recorder.events_table_name)
    if isinstance(recorder, PostgresApplicationRecorder):
        return f"{quote_ident(recorder.datastore.schema)}.{table}", "notification_id"
    return table, "rowid"
