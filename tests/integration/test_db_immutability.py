"""The event log is append-only in the database itself.

Given a store set up by ``vigil db init`` (PostgreSQL), Vigil runs as an application role that
may insert and read the event and snapshot tables but not update, delete or truncate them; and
on every store, triggers refuse UPDATE and DELETE (and TRUNCATE) to anyone, the owner too, even
under ``session_replication_role = replica``.

Roles are cluster-wide: each test makes roles of its own (``vigil_app_<random>``) and drops them
afterwards, with its own schema.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from infrastructure.db_admin import (
    InitRefused,
    drop_role,
    init_store,
    lock_database_privileges,
    plan_init,
)
from infrastructure.event_log import EventLog
from infrastructure.persistence import recorder_env
from infrastructure.recorders import StoreNotInitialised
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, Clock, postgres_available
from tests.integration.test_cli import vigil_command
from tests.story import COORDINATOR, open_case

EVENTS = "vigil_events"
SNAPSHOTS = "vigil_snapshots"
REFUSED_TO_EVERYONE = "append-only"


def make_settings(url: str) -> Settings:
    return Settings(_env_file=None, environment="test", database_url=url, db_pool_size=4)


# by write_a_case: its CaseOpened, and the default service and the SLA policy's first version,
# recorded with it
WRITTEN_EVENTS = 3


def write_a_case(vigil: Vigil) -> uuid.UUID:
    """One case in the log, and a snapshot of it: rows in both guarded tables."""
    case_id = vigil.cases.execute(None, open_case(), COORDINATOR).state.id
    vigil.cases.take_snapshot(case_id)
    return case_id


# --- every store: the triggers -------------------------------------------------------------------


def test_the_log_refuses_update_and_delete_on_either_store(database_url: str, clock: Clock) -> None:
    # Given a store Vigil set up itself at start-up (no `vigil db init`), holding a case.
    vigil = bootstrap(make_settings(database_url), clock=clock)
    try:
        write_a_case(vigil)
    finally:
        vigil.close()
    env = recorder_env(make_settings(database_url))
    attempts = {
        "UPDATE": "UPDATE {table} SET topic = 'tampered'",
        "DELETE": "DELETE FROM {table}",
    }
    if database_url.startswith("sqlite"):
        tables = ["stored_events", "stored_snapshots"]
        with sqlite3.connect(env["SQLITE_DBNAME"]) as conn:
            before = [conn.execute(f"SELECT count(*) FROM {t}").fetchone() for t in tables]
            for table in tables:
                for op, statement in attempts.items():
                    # When anyone updates or deletes a stored event, then the trigger refuses.
                    with pytest.raises(sqlite3.IntegrityError, match=f"{op} on {table} refused"):
                        conn.execute(statement.format(table=table))
            after = [conn.execute(f"SELECT count(*) FROM {t}").fetchone() for t in tables]
            topics = conn.execute("SELECT DISTINCT topic FROM stored_events").fetchall()
    else:
        schema = env["POSTGRES_SCHEMA"]
        tables = [f'"{schema}".{EVENTS}', f'"{schema}".{SNAPSHOTS}']
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            before = [conn.execute(f"SELECT count(*) FROM {t}").fetchone() for t in tables]
            for table in tables:
                for op, statement in {**attempts, "TRUNCATE": "TRUNCATE {table}"}.items():
                    with pytest.raises(psycopg.errors.RaiseException, match=f"{op} on"):
                        conn.execute(statement.format(table=table))
            after = [conn.execute(f"SELECT count(*) FROM {t}").fetchone() for t in tables]
            topics = conn.execute(f"SELECT DISTINCT topic FROM {tables[0]}").fetchall()
    # Then nothing changed.
    # (the events written, one snapshot)
    assert before == after == [(WRITTEN_EVENTS,), (1,)]
    assert ("tampered",) not in topics


# --- PostgreSQL: the application role ------------------------------------------------------------


@dataclass
class PgStore:
    schema: str
    owner_url: str  # the superuser of the test server, with ?schema=
    app_role: str
    app_url: str
    roles: list[str]

    def owner(self) -> psycopg.Connection[Any]:
        return psycopg.connect(POSTGRES_URL, autocommit=True)

    def app(self) -> psycopg.Connection[Any]:
        parsed = urlparse(POSTGRES_URL)
        return psycopg.connect(
            host=parsed.hostname,
            port=parsed.port or 5432,
            dbname=parsed.path.lstrip("/"),
            user=self.app_role,
            password="app-secret",
            autocommit=True,
        )

    def table(self, name: str) -> str:
        return f'"{self.schema}"."{name}"'

    def init(self) -> list[str]:
        return init_store(
            make_settings(self.app_url), log_name=EventLog.name, owner_url=self.owner_url
        ).lines()

    def new_role(self, *attributes: str) -> str:
        name = f"vigil_other_{uuid.uuid4().hex[:10]}"
        with self.owner() as conn:
            conn.execute(f"CREATE ROLE {name} {' '.join(attributes)}")
        self.roles.append(name)
        return name


def require_postgres() -> None:
    if not postgres_available():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but {POSTGRES_URL} is not reachable")
        pytest.skip("PostgreSQL not reachable")


def new_pg_store() -> PgStore:
    token = uuid.uuid4().hex[:10]
    schema, role = f"vigil_test_imm_{token}", f"vigil_app_{token}"
    parsed = urlparse(POSTGRES_URL)
    app_url = (
        f"postgresql://{role}:app-secret@{parsed.hostname}:{parsed.port or 5432}"
        f"{parsed.path}?schema={schema}"
    )
    return PgStore(
        schema=schema,
        owner_url=f"{POSTGRES_URL}?schema={schema}",
        app_role=role,
        app_url=app_url,
        roles=[role],
    )


def remove_pg_store(store: PgStore) -> None:
    with store.owner() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE')
        for name in store.roles:
            drop_role(conn, name)


@pytest.fixture
def pg_store() -> Iterator[PgStore]:
    require_postgres()
    store = new_pg_store()
    yield store
    remove_pg_store(store)


def count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.postgres
def test_the_application_role_writes_and_reads_through_vigil(
    pg_store: PgStore, clock: Clock
) -> None:
    # Given a store set up by its owner.
    pg_store.init()
    # When Vigil runs as the application role: it opens a case, snapshots it, reads it back,
    # and the projector makes and fills its views.
    vigil = bootstrap(make_settings(pg_store.app_url), clock=clock)
    try:
        case_id = write_a_case(vigil)
        assert vigil.cases.load(case_id) is not None
        vigil.projector.catch_up()
        summary = vigil.case_summaries.get(case_id)
        # And a rebuild (side tables, renamed over the live ones) works as that role too.
        vigil.projector.rebuild()
    finally:
        vigil.close()
    # Then the log holds what it wrote, and the views are the application role's own.
    assert summary is not None
    with pg_store.owner() as conn:
        assert count(conn, pg_store.table(EVENTS)) == WRITTEN_EVENTS
        assert count(conn, pg_store.table(SNAPSHOTS)) == 1
        owners = dict(
            conn.execute(
                "SELECT tablename::text, tableowner::text FROM pg_tables WHERE schemaname = %s",
                (pg_store.schema,),
            ).fetchall()
        )
    assert owners.pop(EVENTS) == owners.pop(SNAPSHOTS) == "postgres"
    assert owners
    assert set(owners.values()) == {pg_store.app_role}


@pytest.mark.postgres
def test_update_delete_and_truncate_are_refused_to_the_application_role(
    pg_store: PgStore, clock: Clock
) -> None:
    # Given a log holding a case and its snapshot, written by the application role.
    pg_store.init()
    vigil = bootstrap(make_settings(pg_store.app_url), clock=clock)
    try:
        write_a_case(vigil)
    finally:
        vigil.close()
    events, snapshots = pg_store.table(EVENTS), pg_store.table(SNAPSHOTS)
    with pg_store.app() as conn:
        # When the application role tries to change or empty either table, then PostgreSQL
        # refuses it the privilege (before any trigger runs).
        for table in (events, snapshots):
            for statement in (
                f"UPDATE {table} SET topic = 'tampered'",
                f"DELETE FROM {table}",
                f"TRUNCATE {table}",
                f"LOCK TABLE {table} IN EXCLUSIVE MODE",
            ):
                with (
                    pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"),
                    conn.transaction(),  # LOCK TABLE runs only inside one
                ):
                    conn.execute(statement)
        # Nor may it take the guard away, nor move the notification ids.
        for statement in (
            f"ALTER TABLE {events} DISABLE TRIGGER {EVENTS}_append_only",
            f"DROP TRIGGER {EVENTS}_append_only ON {events}",
            f'CREATE OR REPLACE FUNCTION "{pg_store.schema}".vigil_append_only() '
            "RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
            f"SELECT setval(pg_get_serial_sequence('{events}', 'notification_id'), 1)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # It may read.
        assert count(conn, events) == WRITTEN_EVENTS
    # Then the log is as it was.
    with pg_store.owner() as conn:
        assert count(conn, events) == WRITTEN_EVENTS
        assert count(conn, snapshots) == 1
        topics = conn.execute(f"SELECT DISTINCT topic FROM {events}").fetchall()
    assert ("tampered",) not in topics


@pytest.mark.postgres
@pytest.mark.parametrize("replication_role", ["origin", "replica"])
def test_the_triggers_refuse_the_owner_too(
    pg_store: PgStore, clock: Clock, replication_role: str
) -> None:
    # Given an initialised store with a case and a snapshot in it.
    pg_store.init()
    vigil = bootstrap(make_settings(pg_store.app_url), clock=clock)
    try:
        write_a_case(vigil)
    finally:
        vigil.close()
    with pg_store.owner() as conn:
        # When the owner (a superuser here) tries, also with ordinary triggers switched off by
        # session_replication_role = replica.
        conn.execute(f"SET session_replication_role = {replication_role}")
        for name in (EVENTS, SNAPSHOTS):
            table = pg_store.table(name)
            for op, statement in (
                ("UPDATE", f"UPDATE {table} SET topic = 'tampered'"),
                ("DELETE", f"DELETE FROM {table}"),
                ("TRUNCATE", f"TRUNCATE {table}"),
            ):
                # Then the trigger refuses, naming what was refused and why.
                with pytest.raises(psycopg.errors.RaiseException) as refused:
                    conn.execute(statement)
                assert str(refused.value).startswith(f"{op} on {pg_store.schema}.{name} refused")
                assert REFUSED_TO_EVERYONE in str(refused.value)
        conn.execute("RESET session_replication_role")
        assert count(conn, pg_store.table(EVENTS)) == WRITTEN_EVENTS
        assert count(conn, pg_store.table(SNAPSHOTS)) == 1


def run_db_init(pg_store: PgStore, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(
        {
            "VIGIL_DATABASE_URL": pg_store.app_url,
            "VIGIL_DB_OWNER_URL": POSTGRES_URL,  # the schema comes from VIGIL_DATABASE_URL
            "VIGIL_LOG_JSON": "true",
        }
    )
    return subprocess.run(
        [*vigil_command(), "db", "init"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def catalogue(pg_store: PgStore) -> list[tuple[Any, ...]]:
    """Everything init sets: tables and owners, privileges, triggers, functions, the role."""
    with pg_store.owner() as conn:
        return [
            *conn.execute(
                "SELECT relname::text, pg_get_userbyid(relowner)::text, relacl::text "
                "FROM pg_class WHERE relnamespace = %s::regnamespace ORDER BY relname",
                (pg_store.schema,),
            ).fetchall(),
            *conn.execute(
                "SELECT tgname::text, tgenabled::text FROM pg_trigger t JOIN pg_class c "
                "ON c.oid = t.tgrelid WHERE c.relnamespace = %s::regnamespace ORDER BY tgname",
                (pg_store.schema,),
            ).fetchall(),
            *conn.execute(
                "SELECT proname::text, pg_get_userbyid(proowner)::text, proacl::text, "
                "prosecdef FROM pg_proc WHERE pronamespace = %s::regnamespace ORDER BY proname",
                (pg_store.schema,),
            ).fetchall(),
            *conn.execute(
                "SELECT nspacl::text FROM pg_namespace WHERE nspname = %s", (pg_store.schema,)
            ).fetchall(),
            *conn.execute(
                "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s",
                (pg_store.app_role,),
            ).fetchall(),
        ]


@pytest.mark.postgres
def test_vigil_db_init_twice_changes_nothing_the_second_time(
    pg_store: PgStore, tmp_path: Path
) -> None:
    # When `vigil db init` runs on an empty database.
    first = run_db_init(pg_store, tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"created: role {pg_store.app_role}" in first.stderr
    assert f"created: trigger {EVENTS}_append_only (enabled always)" in first.stderr
    assert "app-secret" not in first.stderr + first.stdout
    set_up = catalogue(pg_store)
    # And again.
    second = run_db_init(pg_store, tmp_path)
    # Then the second run says there was nothing to do, and nothing changed.
    assert second.returncode == 0, second.stderr
    assert "nothing to change: already set up" in second.stderr
    assert "created:" not in second.stderr
    assert catalogue(pg_store) == set_up


@pytest.mark.postgres
def test_db_init_hands_tables_the_owner_made_to_the_application_role(
    pg_store: PgStore, clock: Clock
) -> None:
    # Given a store that Vigil ran on as the owner (so the owner made the views too), and
    # whose triggers an owner then switched off.
    vigil = bootstrap(make_settings(pg_store.owner_url), clock=clock)
    try:
        write_a_case(vigil)
        vigil.projector.catch_up()
    finally:
        vigil.close()
    with pg_store.owner() as conn:
        conn.execute(f"ALTER TABLE {pg_store.table(EVENTS)} DISABLE TRIGGER USER")
    # When db init runs.
    lines = pg_store.init()
    # Then the triggers are on again, and the application role owns the views and can run.
    assert any(f"table {pg_store.schema}.case_summaries handed to" in line for line in lines)
    assert f"  created: trigger {EVENTS}_append_only (enabled always)" in lines
    vigil = bootstrap(make_settings(pg_store.app_url), clock=clock)
    try:
        write_a_case(vigil)
        vigil.projector.catch_up()
        vigil.projector.rebuild()
    finally:
        vigil.close()
    with pg_store.owner() as conn, pytest.raises(psycopg.errors.RaiseException):
        conn.execute(f"DELETE FROM {pg_store.table(EVENTS)}")


@pytest.mark.postgres
def test_the_application_role_cannot_start_on_a_store_nobody_initialised(
    pg_store: PgStore, clock: Clock
) -> None:
    # Given a role that may use the schema, but the owner never ran db init.
    with pg_store.owner() as conn:
        conn.execute(f'CREATE SCHEMA "{pg_store.schema}"')
        conn.execute(f"CREATE ROLE {pg_store.app_role} LOGIN PASSWORD 'app-secret'")
        conn.execute(f'GRANT USAGE ON SCHEMA "{pg_store.schema}" TO {pg_store.app_role}')
    # When Vigil starts as that role, then it says what to run (and nothing is created).
    with pytest.raises(StoreNotInitialised, match="run `vigil db init` as the owner"):
        bootstrap(make_settings(pg_store.app_url), clock=clock)
    with pg_store.owner() as conn:
        assert conn.execute("SELECT to_regclass(%s)", (pg_store.table(EVENTS),)).fetchone() == (
            None,
        )


@pytest.mark.postgres
def test_db_init_takes_the_log_back_from_a_role_that_made_it(
    pg_store: PgStore, clock: Clock
) -> None:
    # Given a log the application role created itself (it was let create in the schema), so
    # it owned the log and could have dropped its triggers.
    with pg_store.owner() as conn:
        conn.execute(f'CREATE SCHEMA "{pg_store.schema}"')
        conn.execute(f"CREATE ROLE {pg_store.app_role} LOGIN PASSWORD 'app-secret'")
        conn.execute(f'GRANT USAGE, CREATE ON SCHEMA "{pg_store.schema}" TO {pg_store.app_role}')
    app_event_log(pg_store).close()
    # When the owner runs db init.
    lines = pg_store.init()
    # Then the owner owns the log and the guard, and the application role may only append.
    assert f"  set: table {pg_store.schema}.{EVENTS} owned by the owner" in lines
    assert f"  set: function {pg_store.schema}.vigil_append_only() owned by the owner" in lines
    assert any(line.startswith("  set: type ") for line in lines)
    event_log = app_event_log(pg_store)
    try:
        event_log.recorder.insert_events([stored_event()])
    finally:
        event_log.close()
    with pg_store.app() as conn:
        for statement in (
            f"DELETE FROM {pg_store.table(EVENTS)}",
            f"ALTER TABLE {pg_store.table(EVENTS)} DISABLE TRIGGER USER",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        assert count(conn, pg_store.table(EVENTS)) == 1


@pytest.mark.postgres
def test_db_init_refuses_an_application_role_that_would_not_be_bound(
    pg_store: PgStore,
) -> None:
    # A superuser ignores privileges and may drop triggers; so does the owner itself.
    superuser = pg_store.new_role("SUPERUSER", "LOGIN")
    with pytest.raises(InitRefused, match="is a superuser"):
        init_store(make_settings(pg_store.owner_url), log_name=EventLog.name, app_role=superuser)
    with pytest.raises(InitRefused, match="is the owner"):
        plan_init(make_settings(pg_store.owner_url), app_role="postgres")
    # Nothing was created.
    with pg_store.owner() as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (pg_store.schema,)
        ).fetchone()
    assert found is None


@pytest.mark.postgres
def test_a_column_update_grant_does_not_allow_the_lock_eventsourcing_takes(
    pg_store: PgStore,
) -> None:
    # Why the lock goes through a function: PostgreSQL 15 allows LOCK ... IN EXCLUSIVE MODE
    # only with UPDATE, DELETE or TRUNCATE on the table; UPDATE on one column is not enough.
    pg_store.init()
    other = pg_store.new_role("LOGIN")
    events = pg_store.table(EVENTS)
    with pg_store.owner() as conn:
        conn.execute(f'GRANT USAGE ON SCHEMA "{pg_store.schema}" TO {other}')
        conn.execute(f"GRANT SELECT, INSERT, UPDATE (topic) ON {events} TO {other}")
        conn.execute(f"SET ROLE {other}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute(f"LOCK TABLE {events} IN EXCLUSIVE MODE")


@pytest.mark.postgres
def test_db_inits_of_several_schemas_at_once_and_roles_retired_meanwhile_all_succeed() -> None:
    # GRANT CONNECT ON DATABASE and DROP OWNED BY rewrite the database's one catalog row; run at
    # the same moment from two sessions they failed with "tuple concurrently updated" (seen in CI,
    # two test workers). Given stores being set up at once while other roles are retired.
    require_postgres()
    stores = [new_pg_store() for _ in range(6)]
    retiring = [stores[0].new_role("LOGIN") for _ in range(6)]
    with stores[0].owner() as conn, conn.transaction():
        lock_database_privileges(conn)  # another test worker may be changing them too
        for role in retiring:
            conn.execute(f"GRANT CONNECT ON DATABASE {conn.info.dbname} TO {role}")
    stores[0].roles = [stores[0].app_role]
    start = threading.Barrier(len(stores) + len(retiring))
    failures: list[BaseException] = []

    def init(store: PgStore) -> None:
        start.wait()
        try:
            store.init()
        except BaseException as error:  # reported below
            failures.append(error)

    def retire(role: str) -> None:
        start.wait()
        try:
            with stores[0].owner() as conn:
                drop_role(conn, role)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=init, args=(store,)) for store in stores]
    threads += [threading.Thread(target=retire, args=(role,)) for role in retiring]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        # Then every init and every retirement went through.
        assert failures == []
        with stores[0].owner() as conn:
            gone = conn.execute(
                "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", (retiring,)
            ).fetchone()
            granted = conn.execute(
                "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s) "
                "AND has_database_privilege(rolname, current_database(), 'CONNECT')",
                ([store.app_role for store in stores],),
            ).fetchone()
        assert gone == (0,)
        assert granted == (len(stores),)
    finally:
        for store in stores:
            remove_pg_store(store)
        with stores[0].owner() as conn:
            for role in retiring:
                drop_role(conn, role)


# --- PostgreSQL: commit order under the application role ----------------------------------------


def stored_event(topic: str = "tests:Probe") -> StoredEvent:
    return StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic=topic, state=b"{}")


def waiting_on_a_lock(pg_store: PgStore, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    with pg_store.owner() as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                "AND wait_event_type = 'Lock'",
                (pg_store.app_role,),
            ).fetchone()
            if row and row[0]:
                return True
            time.sleep(0.02)
    return False


def app_event_log(pg_store: PgStore) -> EventLog:
    return EventLog(env=recorder_env(make_settings(pg_store.app_url)))


@pytest.mark.postgres
@pytest.mark.parametrize("first_writer", ["through the lock function", "a plain INSERT"])
def test_a_writer_waits_until_an_earlier_insert_commits(
    pg_store: PgStore, first_writer: str
) -> None:
    pg_store.init()
    event_log = app_event_log(pg_store)
    events = pg_store.table(EVENTS)
    try:
        with pg_store.app() as first, first.transaction():
            # Given a transaction of the application role that has inserted and not committed.
            if first_writer == "through the lock function":
                first.execute(f'SELECT "{pg_store.schema}".{EVENTS}_lock()')
            row = first.execute(
                f"INSERT INTO {events} (originator_id, originator_version, topic, state) "
                "VALUES (%s, 1, 'tests:Probe', '\\x7b7d') RETURNING notification_id",
                (uuid.uuid4(),),
            ).fetchone()
            assert row is not None
            first_id = row[0]
            # When Vigil's recorder writes meanwhile.
            result: list[int] = []
            writer = threading.Thread(
                target=lambda: result.extend(
                    event_log.recorder.insert_events([stored_event()]) or []
                )
            )
            writer.start()
            # Then it waits for the lock.
            assert waiting_on_a_lock(pg_store)
            assert not result
        # And once the first commits, it goes on, with a later id (so it commits later too).
        writer.join(timeout=30)
        assert result
        assert result[0] > first_id
    finally:
        event_log.close()


@pytest.mark.postgres
def test_concurrent_writers_as_the_application_role_commit_in_id_order(
    pg_store: PgStore,
) -> None:
    pg_store.init()
    writers, per_writer = 4, 40
    ledgers = [app_event_log(pg_store) for _ in range(writers + 1)]
    reader = ledgers[-1].recorder
    done = threading.Event()
    gaps: list[tuple[int, list[int]]] = []
    seen: list[int] = []

    def tail() -> None:
        # A reader following the log must never find an id missing that commits later: with
        # no failed inserts, the ids it reads are exactly the next ones, every time.
        last = 0
        while True:
            finished = done.is_set()
            ids = [n.id for n in reader.select_notifications(last + 1, 1000)]
            if ids and ids != list(range(last + 1, last + 1 + len(ids))):
                gaps.append((last, ids))
            if ids:
                seen.extend(ids)
                last = ids[-1]
            elif finished:
                return

    def write(event_log: EventLog) -> None:
        for _ in range(per_writer):
            event_log.recorder.insert_events([stored_event(), stored_event()])

    follower = threading.Thread(target=tail)
    follower.start()
    threads = [threading.Thread(target=write, args=(event_log,)) for event_log in ledgers[:writers]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    follower.join(timeout=60)
    for event_log in ledgers:
        event_log.close()
    assert gaps == []
    assert seen == list(range(1, writers * per_writer * 2 + 1))


def test_vigil_db_init_on_sqlite_makes_the_triggers_and_says_there_are_no_roles(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update({"VIGIL_DATA_DIR": str(tmp_path / "data"), "VIGIL_LOG_JSON": "true"})
    # When `vigil db init` runs on the embedded store.
    done = subprocess.run(
        [*vigil_command(), "db", "init"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Then it makes the log with its triggers, and says what SQLite cannot do.
    assert done.returncode == 0, done.stderr
    assert "no TRUNCATE and no roles" in done.stderr
    with sqlite3.connect(tmp_path / "data" / "vigil.db") as conn:
        triggers = {
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
    assert triggers == {
        "stored_events_no_update",
        "stored_events_no_delete",
        "stored_snapshots_no_update",
        "stored_snapshots_no_delete",
    }
