"""``vigil db init``: set a store up, as its owner, so that Vigil can run as a role that may
only append to the event log.

On PostgreSQL, connected as the owner (``VIGIL_DB_OWNER_URL``, else ``VIGIL_DATABASE_URL``):

1. the schema (``?schema=``), and the application role (LOGIN; created if missing);
2. the event and snapshot tables, as eventsourcing's recorder makes them, with their
   append-only triggers (``infrastructure.recorders``) and the lock function;
3. the owner keeps those tables, the triggers' function and the lock function (a role that
   owns them could disable or redefine the guard);
4. the application role gets SELECT and INSERT on the two tables, USAGE on the notification
   id sequence, EXECUTE on the lock function, and USAGE and CREATE on the schema (views,
   tracking and the other tables it keeps are its own: it creates, fills, renames and drops
   them); nothing else (no UPDATE, DELETE, TRUNCATE, TRIGGER or REFERENCES);
5. tables the owner made earlier in the schema for the application (views, tracking, by a
   Vigil that ran as the owner) are handed to the application role;
6. with ``create_tables`` and ``append_only_tables`` (``vigil db init`` passes the hash
   ledger's set-up and its leaves, nodes and checkpoints tables), further tables are created
   by the owner and guarded and granted like the log (SELECT and INSERT only); the others it
   creates (the hash ledger's state row, updated by compare-and-set) are handed over.

Each step is idempotent: running it again changes nothing and says so.

On SQLite there are no roles and no TRUNCATE: ``init`` creates the tables with triggers that
refuse UPDATE and DELETE, which is what Vigil does at every start anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlparse, urlunparse

import psycopg
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment
from psycopg import sql
from psycopg.rows import tuple_row

from infrastructure.availability import check_postgres, check_sqlite_directory
from infrastructure.files import make_private_dir
from infrastructure.persistence import is_postgres, postgres_conninfo, recorder_env
from infrastructure.recorders import (
    APPEND_ONLY_FUNCTION,
    SETUP_LOCK_KEY,
    install_append_only,
    install_lock_function,
    lock_function_name,
    qualified,
    row_trigger_name,
    truncate_trigger_name,
)
from infrastructure.settings import Settings


class InitRefused(Exception):
    """``db init`` will not go on: the set-up asked for would not make the log append-only."""


@dataclass
class InitReport:
    store: str
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"Store: {self.store}"]
        out += [f"  created: {item}" for item in self.created]
        out += [f"  set: {item}" for item in self.changed]
        if not self.created and not self.changed:
            out.append("  nothing to change: already set up")
        out += self.notes
        return out


@dataclass(frozen=True)
class InitPlan:
    owner_url: str
    app_role: str | None
    app_password: str | None


def _schema_of(url: str) -> str:
    return parse_qs(urlparse(url).query).get("schema", [""])[0]


def _with_schema(url: str, schema: str) -> str:
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    query["schema"] = [schema]
    return urlunparse(parsed._replace(query=urlencode(query, doseq=True)))


def plan_init(
    settings: Settings,
    *,
    owner_url: str | None = None,
    app_role: str | None = None,
    app_password: str | None = None,
) -> InitPlan:
    """Who connects and which role is set up: options first, then settings, then what
    ``VIGIL_DATABASE_URL`` says (its user is the application role when it is not the owner)."""
    app_url = settings.resolved_database_url
    owner = owner_url or settings.db_owner_url or app_url
    if not is_postgres(owner):
        return InitPlan(owner_url=owner, app_role=None, app_password=None)
    owner_schema, app_schema = (
        _schema_of(owner),
        _schema_of(app_url) if is_postgres(app_url) else "",
    )
    if owner_schema and app_schema and owner_schema != app_schema:
        raise InitRefused(
            f"the owner's URL names schema {owner_schema!r} but VIGIL_DATABASE_URL names "
            f"{app_schema!r}: they must be the same store"
        )
    if app_schema and not owner_schema:
        owner = _with_schema(owner, app_schema)
    owner_user = unquote(urlparse(owner).username or "postgres")
    app_user = unquote(urlparse(app_url).username or "postgres") if is_postgres(app_url) else ""
    role = app_role or settings.db_app_role
    if role is None and app_user and app_user != owner_user:
        role = app_user
    password = app_password
    if password is None and settings.db_app_password is not None:
        password = settings.db_app_password.get_secret_value()
    if password is None and role is not None and role == app_user:
        password = unquote(urlparse(app_url).password or "") or None
    if role is not None and role == owner_user:
        raise InitRefused(
            f"the application role {role!r} is the owner: Vigil must run as another role, "
            "which may not update or delete the event log"
        )
    return InitPlan(owner_url=owner, app_role=role, app_password=password)


def init_store(
    settings: Settings,
    *,
    log_name: str,
    owner_url: str | None = None,
    app_role: str | None = None,
    app_password: str | None = None,
    append_only_tables: Sequence[str] = (),
    create_tables: Callable[[Any], None] | None = None,
    owner_tables: Sequence[str] = (),
    owner_functions: Sequence[str] = (),
) -> InitReport:
    """Set the store up (see the module's docstring) and say what was created or changed.

    ``append_only_tables``: further tables to guard and grant like the log (already created,
    or created by ``create_tables``).
    ``create_tables``: run as the owner with the log's application recorder, after the log's
    tables, to create further tables in the store (the hash ledger's); any of them not in
    ``append_only_tables`` is then handed to the application role like a view. PostgreSQL
    only: on SQLite (no roles) Vigil makes them at start, guarded, as before.
    ``owner_tables``: tables ``create_tables`` made that the owner keeps, granting the
    application role SELECT and INSERT only, without the append-only guard (the subject keys:
    destroyed only through ``owner_functions``, signatures such as ``f(text)``, which the
    application role may EXECUTE).
    """
    plan = plan_init(settings, owner_url=owner_url, app_role=app_role, app_password=app_password)
    # One connection is all the set-up needs (the settings' pool is sized for serving).
    owner_settings = settings.model_copy(
        update={"database_url": plan.owner_url, "db_pool_size": 1, "db_max_overflow": 1}
    )
    env = recorder_env(owner_settings)
    if not is_postgres(plan.owner_url):
        # No roles to keep the ledger's tables from: the notary makes them, guarded, at start.
        return _init_sqlite(env, log_name, asked_for_role=bool(app_role or settings.db_app_role))
    schema = env["POSTGRES_SCHEMA"] or "public"
    report = InitReport(store=f"PostgreSQL schema {schema}")
    protected = [f"{log_name}_events", f"{log_name}_snapshots", *append_only_tables]
    conninfo = postgres_conninfo(plan.owner_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        before = _inventory(conn, schema, protected)
        if plan.app_role is not None:  # first: it may refuse the role, before any change
            _ensure_role(conn, plan.app_role, plan.app_password, report)
        found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
        if found.fetchone() is None:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            report.created.append(f"schema {schema}")
    _create_log_tables(env, log_name, create_tables)
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (SETUP_LOCK_KEY, schema))
        for table in protected[2:]:
            install_append_only(conn, schema, table)
        _keep_ownership(conn, schema, log_name, protected, report)
        _keep_owned(conn, schema, owner_tables, owner_functions, report)
        report.created += [
            item for item in _inventory(conn, schema, protected) if item not in before
        ]
        if plan.app_role is None:
            report.notes.append(
                "No application role (VIGIL_DATABASE_URL's user is the owner): the triggers "
                "refuse UPDATE, DELETE and TRUNCATE, but an owner may drop them. Name a role "
                "with --app-role or VIGIL_DB_APP_ROLE, or give VIGIL_DATABASE_URL another user."
            )
        else:
            _grant(conn, schema, log_name, [*protected, *owner_tables], plan.app_role, report)
            for function in owner_functions:
                target = sql.SQL(_signature(schema, function))
                conn.execute(sql.SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(target))
                conn.execute(
                    sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
                        target, sql.Identifier(plan.app_role)
                    )
                )
            _hand_over(conn, schema, [*protected, *owner_tables], plan.app_role, report)
    if plan.app_role is not None:
        report.notes.append(
            f"Vigil can now run as {plan.app_role!r}: it may SELECT and INSERT the event log "
            "and snapshots, never UPDATE, DELETE or TRUNCATE them."
        )
    return report


def _create_log_tables(
    env: dict[str, str], log_name: str, create_tables: Callable[[Any], None] | None = None
) -> None:
    """The event and snapshot tables as eventsourcing makes them, with the append-only guard
    (the recorders of ``infrastructure.recorders`` add it), created by the owner; then
    ``create_tables``' own, by the owner too."""
    factory: Any = InfrastructureFactory.construct(Environment(log_name, env))
    try:
        recorder = factory.application_recorder()
        factory.aggregate_recorder(purpose="snapshots")
        if create_tables is not None:
            create_tables(recorder)
    finally:
        factory.close()


def _init_sqlite(env: dict[str, str], log_name: str, *, asked_for_role: bool) -> InitReport:
    path = Path(env["SQLITE_DBNAME"])
    make_private_dir(path.parent)
    existed = path.exists()
    _create_log_tables(env, log_name)
    report = InitReport(store=f"SQLite {path}")
    if not existed:
        report.created.append("the store with its event and snapshot tables")
    report.notes.append(
        "SQLite: triggers refuse UPDATE and DELETE on stored_events and stored_snapshots "
        "(Vigil creates them at every start too). SQLite has no TRUNCATE and no roles, so "
        "there is no application role: Vigil creates the file (and its -wal and -shm) "
        "readable and writable by its own user only (0600); keep it so."
    )
    if asked_for_role:
        report.notes.append("The application role applies to PostgreSQL only; ignored here.")
    return report


def _inventory(conn: psycopg.Connection[Any], schema: str, tables: Sequence[str]) -> list[str]:
    """What of the guarded store is there, one line per object (to report what init made)."""
    items: list[str] = []
    cur = conn.cursor(row_factory=tuple_row)
    for table in tables:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified(schema, table),))
        found = cur.fetchone()
        if not (found and found[0]):
            continue
        items.append(f"table {schema}.{table}")
        cur.execute(
            "SELECT tgname::text FROM pg_trigger WHERE tgrelid = to_regclass(%s) "
            "AND tgenabled = 'A' AND tgname = ANY(%s)",
            (qualified(schema, table), [row_trigger_name(table), truncate_trigger_name(table)]),
        )
        items += [f"trigger {name} (enabled always)" for (name,) in cur.fetchall()]
    for function in (APPEND_ONLY_FUNCTION, lock_function_name(tables[0])):
        cur.execute("SELECT to_regprocedure(%s) IS NOT NULL", (f"{qualified(schema, function)}()",))
        found = cur.fetchone()
        if found and found[0]:
            items.append(f"function {schema}.{function}()")
    return items


def _ensure_role(
    conn: psycopg.Connection[Any], role: str, password: str | None, report: InitReport
) -> None:
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute("SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = %s", (role,))
    found = cur.fetchone()
    if found is None:
        statement = sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role))
        if password:
            statement += sql.SQL(" PASSWORD {}").format(sql.Literal(password))
        conn.execute(statement)
        report.created.append(f"role {role} (LOGIN{', with a password' if password else ''})")
        return
    superuser, can_login = found
    if superuser:
        raise InitRefused(
            f"the application role {role!r} is a superuser: no privilege or trigger binds it"
        )
    cur.execute("SELECT pg_has_role(%s, current_user, 'MEMBER')", (role,))
    member = cur.fetchone()
    if member and member[0]:
        raise InitRefused(
            f"the application role {role!r} is a member of the owner's role, so it could act "
            "as the owner (and drop the triggers): use a role outside it"
        )
    if not can_login:
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(role)))
        report.changed.append(f"role {role} may log in")
    if password:
        # Set every time (it may have changed); PostgreSQL stores only its hash.
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )


def _keep_ownership(
    conn: psycopg.Connection[Any],
    schema: str,
    log_name: str,
    tables: Sequence[str],
    report: InitReport,
) -> None:
    """The owner, not the application, owns the guarded tables and the functions the guard
    runs: an owner may disable a trigger, and may redefine a function (CREATE OR REPLACE)."""
    _keep_owned(conn, schema, tables, (), report)
    cur = conn.cursor(row_factory=tuple_row)
    # The row type the recorder's insert casts to (its owner could alter or drop it).
    cur.execute(
        "SELECT t.oid::regtype::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = %s AND t.typname LIKE 'stored\\_event\\_%%' AND t.typtype = 'c' "
        "AND pg_get_userbyid(t.typowner) <> current_user",
        (schema,),
    )
    for (type_name,) in cur.fetchall():
        conn.execute(sql.SQL("ALTER TYPE {} OWNER TO CURRENT_USER").format(sql.SQL(type_name)))
        report.changed.append(f"type {type_name} owned by the owner")
    for function in (APPEND_ONLY_FUNCTION, lock_function_name(f"{log_name}_events")):
        signature = f"{qualified(schema, function)}()"
        cur.execute(
            "SELECT pg_get_userbyid(proowner) <> current_user FROM pg_proc "
            "WHERE oid = to_regprocedure(%s)",
            (signature,),
        )
        found = cur.fetchone()
        if found and found[0]:
            conn.execute(
                sql.SQL("ALTER FUNCTION {} OWNER TO CURRENT_USER").format(sql.SQL(signature))
            )
            report.changed.append(f"function {schema}.{function}() owned by the owner")
    # Write the functions' bodies again, as this owner: whoever made them before may not have
    # been (the role that made them could have changed them).
    install_append_only(conn, schema, tables[0], replace=True)
    install_lock_function(conn, schema, tables[0], replace=True)


def _signature(schema: str, function: str) -> str:
    """``f(text)`` in ``schema``, as SQL."""
    name, arguments = function.split("(", 1)
    return f"{qualified(schema, name)}({arguments}"


def _keep_owned(
    conn: psycopg.Connection[Any],
    schema: str,
    tables: Sequence[str],
    functions: Sequence[str],
    report: InitReport,
) -> None:
    """The owner owns ``tables`` and ``functions`` (taken back from a role that made them)."""
    cur = conn.cursor(row_factory=tuple_row)
    for table in tables:
        cur.execute(
            "SELECT pg_get_userbyid(relowner) <> current_user FROM pg_class "
            "WHERE oid = to_regclass(%s)",
            (qualified(schema, table),),
        )
        found = cur.fetchone()
        if found and found[0]:
            conn.execute(
                sql.SQL("ALTER TABLE {} OWNER TO CURRENT_USER").format(
                    sql.SQL(qualified(schema, table))
                )
            )
            report.changed.append(f"table {schema}.{table} owned by the owner")
    for function in functions:
        signature = _signature(schema, function)
        cur.execute(
            "SELECT pg_get_userbyid(proowner) <> current_user FROM pg_proc "
            "WHERE oid = to_regprocedure(%s)",
            (signature,),
        )
        found = cur.fetchone()
        if found and found[0]:
            conn.execute(
                sql.SQL("ALTER FUNCTION {} OWNER TO CURRENT_USER").format(sql.SQL(signature))
            )
            report.changed.append(f"function {schema}.{function} owned by the owner")


# pg_advisory_xact_lock(key, hashtext(database)): a GRANT or REVOKE on the database rewrites its
# one catalog row (pg_database.datacl) without a row lock, so two sessions doing it at once (two
# `db init`s on different schemas, or dropping a role that holds CONNECT) fail with "tuple
# concurrently updated". Whoever changes the database's privileges takes this lock first.
DATABASE_PRIVILEGES_LOCK_KEY = 0x76696764  # "vigd"


def lock_database_privileges(conn: psycopg.Connection[Any]) -> None:
    """Hold the database-privileges lock until the end of the current transaction (the caller
    must be inside one, or the lock is gone before the change it guards)."""
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE and conn.autocommit:
        raise RuntimeError("lock_database_privileges needs an open transaction")
    conn.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(current_database()))",
        (DATABASE_PRIVILEGES_LOCK_KEY,),
    )


def drop_role(conn: psycopg.Connection[Any], role: str) -> None:
    """End the role's sessions, drop what it owns and its privileges (CONNECT on the database
    among them), then the role: for operators retiring an application role, and for tests."""
    with conn.transaction():
        lock_database_privileges(conn)
        cur = conn.cursor(row_factory=tuple_row)
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if cur.fetchone() is None:
            return
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _grant(
    conn: psycopg.Connection[Any],
    schema: str,
    log_name: str,
    tables: Sequence[str],
    role: str,
    report: InitReport,
) -> None:
    app = sql.Identifier(role)
    lock_database_privileges(conn)
    conn.execute(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(str(conn.info.dbname)), app
        )
    )
    conn.execute(
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(sql.Identifier(schema), app)
    )
    cur = conn.cursor(row_factory=tuple_row)
    for table in tables:
        target = sql.SQL(qualified(schema, table))
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM PUBLIC, {}").format(target, app))
        conn.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(target, app))
        # Sequences behind serial columns (the log's notification_id): nextval only, no setval.
        cur.execute(
            "SELECT s.oid::regclass::text FROM pg_depend d JOIN pg_class s ON s.oid = d.objid "
            "WHERE d.refobjid = to_regclass(%s) AND d.classid = 'pg_class'::regclass "
            "AND s.relkind = 'S'",
            (qualified(schema, table),),
        )
        for (sequence,) in cur.fetchall():
            conn.execute(
                sql.SQL("REVOKE ALL ON SEQUENCE {} FROM PUBLIC, {}").format(sql.SQL(sequence), app)
            )
            conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(sql.SQL(sequence), app))
    lock = sql.SQL(f"{qualified(schema, lock_function_name(f'{log_name}_events'))}()")
    conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(lock, app))
    report.notes.append(
        f"Granted {role}: CONNECT; USAGE and CREATE on schema {schema}; SELECT and INSERT on "
        f"{', '.join(tables)}; USAGE on their sequences; EXECUTE on "
        f"{lock_function_name(f'{log_name}_events')}()."
    )


def _hand_over(
    conn: psycopg.Connection[Any],
    schema: str,
    protected: Sequence[str],
    role: str,
    report: InitReport,
) -> None:
    """Give the application role the other tables the owner holds in Vigil's schema (views and
    tracking made while Vigil ran as the owner): it rebuilds views by renaming and dropping."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.execute(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "AND pg_get_userbyid(c.relowner) = current_user AND c.relname <> ALL(%s) "
        "ORDER BY c.relname",
        (schema, list(protected)),
    )
    tables = [name for (name,) in cur.fetchall()]
    if not tables:
        return
    cur.execute(
        "SELECT rolsuper OR pg_has_role(current_user, %s, 'MEMBER') FROM pg_roles "
        "WHERE rolname = current_user",
        (role,),
    )
    may = cur.fetchone()
    if not (may and may[0]):
        # ALTER ... OWNER TO needs membership of the new owner (CREATEROLE may grant it).
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
    for table in tables:
        conn.execute(
            sql.SQL("ALTER TABLE {} OWNER TO {}").format(
                sql.SQL(qualified(schema, table)), sql.Identifier(role)
            )
        )
        report.changed.append(f"table {schema}.{table} handed to {role}")


def prepare_store(settings: Settings) -> None:
    """Make sure the store's container exists: the data directory, or the PostgreSQL schema.
    Raises ``StoreUnavailable`` saying, in one line, why the store cannot be reached."""
    url = settings.resolved_database_url
    env = recorder_env(settings)
    if is_postgres(url):
        # Once, directly: the pool would only say it got no connection in time, not why.
        check_postgres(
            postgres_conninfo(url),
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            attempt_timeout=settings.db_connect_timeout_seconds,
            within=settings.store_timeout_seconds,
        )
        schema = env.get("POSTGRES_SCHEMA")
        if schema:
            with psycopg.connect(postgres_conninfo(url), autocommit=True) as conn:
                # Look first: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even
                # when the schema exists, which the application role of `vigil db init` lacks.
                found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
                if found.fetchone() is None:
                    conn.execute(
                        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                    )
    else:
        check_sqlite_directory(Path(env["SQLITE_DBNAME"]))
