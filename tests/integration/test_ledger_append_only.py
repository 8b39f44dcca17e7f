"""The hash ledger's own history is append-only in the database, like the log.

The notary only ever inserts leaves, nodes and checkpoints; the database refuses anyone an
UPDATE or DELETE of them (and, on PostgreSQL, a TRUNCATE, also under ``session_replication_role
= replica``), so deleting the newest checkpoints takes an owner switching the guard off first.
The state row (``vigil_hash_ledger``) is moved by compare-and-set and stays updatable.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest
from typer.testing import CliRunner

from domain.case import commands as c
from domain.shared import Actor, Role
from infrastructure.db_admin import drop_role
from infrastructure.persistence import recorder_env
from infrastructure.settings import Settings
from interfaces.cli import app
from interfaces.composition import Vigil, bootstrap
from projections.notary import (
    CHECKPOINTS_TABLE,
    GUARDED_TABLES,
    LEAVES_TABLE,
    NODES_TABLE,
    STATE_TABLE,
    TILE_SIZE,
)
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, Clock, postgres_available

LEAD = Actor(username="priya.lead", role=Role.SAFEGUARDING_LEAD)
# A harmless-looking change per table: what an owner would do to roll history back.
UPDATES = {
    LEAVES_TABLE: "UPDATE {table} SET leaf_hash = {blob}",
    NODES_TABLE: "UPDATE {table} SET hash = {blob}",
    CHECKPOINTS_TABLE: "UPDATE {table} SET timestamp_ms = timestamp_ms + 1",
}
NEWEST = {LEAVES_TABLE: "tree_index", NODES_TABLE: "node_index", CHECKPOINTS_TABLE: "tree_size"}


def make_settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        data_dir=data_dir,
        checkpoint_every_events=64,
        db_pool_size=3,
        db_max_overflow=3,
        restricted_categories="",
    )


def add_events(vigil: Vigil, notes: int) -> None:
    command = c.OpenCase(
        subject={"kind": "member", "ref": "member-3"},
        source="flag",
        category="harassment",
        summary="Messages after a block.",
    )
    case_id = vigil.cases.execute(None, command, LEAD).state.id
    for i in range(notes):
        vigil.cases.execute(case_id, c.AddNote(kind="fact", text=f"Message {i}."), LEAD)


def cli_verify(settings: Settings) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        app,
        ["verify", "--no-progress", "--json"],
        env={
            "VIGIL_DATABASE_URL": settings.resolved_database_url,
            "VIGIL_DATA_DIR": str(settings.data_dir),
            "VIGIL_LOG_LEVEL": "WARNING",
            "VIGIL_DB_POOL_SIZE": "2",
            "VIGIL_DB_MAX_OVERFLOW": "2",
        },
    )
    assert result.exit_code in (0, 1), (result.output, result.exception)
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


class Owner:
    """Raw SQL on the store with its owner's rights (the test server's superuser)."""

    def __init__(self, settings: Settings) -> None:
        env = recorder_env(settings)
        self.pg = "SQLITE_DBNAME" not in env
        self.conn: Any
        if self.pg:
            self.schema = env["POSTGRES_SCHEMA"]
            self.conn = psycopg.connect(POSTGRES_URL, autocommit=True)
        else:
            self.conn = sqlite3.connect(env["SQLITE_DBNAME"], isolation_level=None)

    def table(self, name: str) -> str:
        return f'"{self.schema}"."{name}"' if self.pg else f'"{name}"'

    def blob(self) -> str:
        return "'\\x00'::bytea" if self.pg else "x'00'"

    def rows(self, name: str) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(f"SELECT * FROM {self.table(name)} ORDER BY 1, 2")
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cursor]

    def refused(self) -> type[Exception]:
        return psycopg.errors.RaiseException if self.pg else sqlite3.IntegrityError

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def notarised(database_url: str, tmp_path: Path, clock: Clock) -> Iterator[tuple[Vigil, Owner]]:
    """Given a log of more than one tile of events (so the ledger holds a stored node), all
    notarised, with checkpoints every 64 events."""
    settings = make_settings(database_url, tmp_path / "data")
    vigil = bootstrap(settings, clock=clock)
    owner = Owner(settings)
    try:
        vigil.identity.register(LEAD.username, LEAD.role, actor="setup")
        # with the registrations (the user's, the default service's, the SLA policy's first
        # version, recorded with the first case): 260 events
        add_events(vigil, notes=TILE_SIZE)
        assert vigil.integrity.notary.catch_up() == TILE_SIZE + 4
        for name in GUARDED_TABLES:
            assert owner.rows(name), f"{name} holds rows to refuse changes to"
        yield vigil, owner
    finally:
        owner.close()
        vigil.close()


@pytest.mark.parametrize("name", GUARDED_TABLES)
def test_the_ledgers_history_refuses_update_and_delete(
    notarised: tuple[Vigil, Owner], name: str
) -> None:
    vigil, owner = notarised
    table = owner.table(name)
    before = owner.rows(name)
    attempts = {
        "UPDATE": UPDATES[name].format(table=table, blob=owner.blob()),
        "DELETE": f"DELETE FROM {table}",
        "DELETE the newest": f"DELETE FROM {table} WHERE {NEWEST[name]} = "
        f"(SELECT max({NEWEST[name]}) FROM {table})",
    }
    if owner.pg:
        attempts["TRUNCATE"] = f"TRUNCATE {table}"

    for op, statement in attempts.items():
        # When the owner changes or removes the ledger's history, then the trigger refuses.
        with pytest.raises(owner.refused(), match=f"{op.split()[0]} on .*{name} refused"):
            owner.conn.execute(statement)

    # Then nothing changed, and the ledger still verifies.
    assert owner.rows(name) == before
    assert vigil.integrity.verify([vigil.integrity.public_key()]).ok


@pytest.mark.parametrize(
    "database_url",
    [pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_the_guard_holds_under_replication_role_replica(
    notarised: tuple[Vigil, Owner],
) -> None:
    """session_replication_role is PostgreSQL's (ENABLE ALWAYS is what makes this hold)."""
    _, owner = notarised
    assert owner.pg
    owner.conn.execute("SET session_replication_role = replica")
    for name in GUARDED_TABLES:
        before = owner.rows(name)
        for statement in (f"DELETE FROM {owner.table(name)}", f"TRUNCATE {owner.table(name)}"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                owner.conn.execute(statement)
        assert owner.rows(name) == before


def test_the_notary_keeps_appending_with_the_guard_on_and_verify_passes(
    notarised: tuple[Vigil, Owner],
) -> None:
    vigil, owner = notarised
    notary = vigil.integrity.notary
    before = {name: len(owner.rows(name)) for name in GUARDED_TABLES}
    state_before = owner.rows(STATE_TABLE)

    # When more events come (another tile's worth), the notary appends leaves, a node and
    # checkpoints, and moves its state row (not guarded: compare-and-set).
    add_events(vigil, notes=TILE_SIZE - 1)
    assert notary.catch_up() == TILE_SIZE

    after = {name: len(owner.rows(name)) for name in GUARDED_TABLES}
    assert after[LEAVES_TABLE] == before[LEAVES_TABLE] + TILE_SIZE
    assert after[NODES_TABLE] > before[NODES_TABLE]
    assert after[CHECKPOINTS_TABLE] > before[CHECKPOINTS_TABLE]
    assert owner.rows(STATE_TABLE) != state_before
    # And an on-demand checkpoint (an export's) is appended too.
    add_events(vigil, notes=0)
    notary.catch_up()
    assert notary.ensure_checkpoint(notary.head()).tree_size == notary.head()
    # Then `vigil verify` passes.
    code, verdict = cli_verify(vigil.settings)
    assert code == 0, verdict
    assert verdict["ok"], verdict


def test_a_restart_puts_back_a_guard_the_owner_switched_off(
    database_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings = make_settings(database_url, tmp_path / "data")
    vigil = bootstrap(settings, clock=clock)
    try:
        vigil.identity.register(LEAD.username, LEAD.role, actor="setup")
        vigil.integrity.notary.catch_up()
        vigil.integrity.notary.ensure_checkpoint(1)
    finally:
        vigil.close()
    owner = Owner(settings)
    try:
        # Given the owner switched the guard off (PostgreSQL) or dropped it (SQLite), and used
        # that to change a checkpoint.
        for name in GUARDED_TABLES:
            if owner.pg:
                owner.conn.execute(f"ALTER TABLE {owner.table(name)} DISABLE TRIGGER USER")
            else:
                for op in ("update", "delete"):
                    owner.conn.execute(f'DROP TRIGGER "{name}_no_{op}"')
        owner.conn.execute(UPDATES[CHECKPOINTS_TABLE].format(table=owner.table(CHECKPOINTS_TABLE)))

        # When Vigil starts again, then the guard is back on all three tables.
        bootstrap(settings, clock=clock).close()
        for name in (LEAVES_TABLE, CHECKPOINTS_TABLE):  # the two holding rows
            with pytest.raises(owner.refused(), match="refused"):
                owner.conn.execute(f"DELETE FROM {owner.table(name)}")
            assert owner.rows(name)
        if owner.pg:
            triggers = owner.conn.execute(
                "SELECT tgrelid::regclass::text, tgenabled::text FROM pg_trigger "
                "WHERE tgrelid = ANY(%s::regclass[]) AND NOT tgisinternal",
                ([owner.table(name) for name in GUARDED_TABLES],),
            ).fetchall()
            assert sorted(enabled for _, enabled in triggers) == ["A"] * 6  # row + TRUNCATE
        else:
            triggers = owner.conn.execute(
                "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name IN (?, ?, ?)",
                GUARDED_TABLES,
            ).fetchall()
            assert len(triggers) == 6  # UPDATE and DELETE on each
    finally:
        owner.close()


# --- PostgreSQL: `vigil db init` makes them the owner's -------------------------------------


@dataclass
class AppStore:
    schema: str
    role: str
    owner_url: str
    app_url: str


@pytest.fixture
def app_store() -> Iterator[AppStore]:
    if not postgres_available():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but {POSTGRES_URL} is not reachable")
        pytest.skip("PostgreSQL not reachable")
    token = uuid.uuid4().hex[:10]
    schema, role = f"vigil_test_lg_{token}", f"vigil_app_lg_{token}"
    parsed = urlparse(POSTGRES_URL)
    store = AppStore(
        schema=schema,
        role=role,
        owner_url=f"{POSTGRES_URL}?schema={schema}",
        app_url=f"postgresql://{role}:app-secret@{parsed.hostname}:{parsed.port or 5432}"
        f"{parsed.path}?schema={schema}",
    )
    yield store
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        drop_role(conn, role)


def test_db_init_makes_the_ledgers_history_the_owners_and_the_app_role_only_appends(
    app_store: AppStore, tmp_path: Path, clock: Clock
) -> None:
    settings = make_settings(app_store.app_url, tmp_path / "data")
    # Given `vigil db init` run as the owner.
    result = CliRunner().invoke(
        app,
        ["db", "init"],
        env={
            "VIGIL_DATABASE_URL": app_store.app_url,
            "VIGIL_DB_OWNER_URL": app_store.owner_url,
            "VIGIL_DATA_DIR": str(settings.data_dir),
            "VIGIL_LOG_LEVEL": "WARNING",
        },
    )
    assert result.exit_code == 0, (result.output, result.exception)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        owners: dict[str, str] = dict(
            conn.execute(
                "SELECT c.relname::text, pg_get_userbyid(c.relowner)::text FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = ANY(%s)",
                (app_store.schema, [STATE_TABLE, *GUARDED_TABLES]),
            ).fetchall()
        )
    owner_user = urlparse(POSTGRES_URL).username or "postgres"
    assert owners == {
        STATE_TABLE: app_store.role,
        **{name: owner_user for name in GUARDED_TABLES},
    }

    # When Vigil runs as the application role, then the notary appends as before.
    vigil = bootstrap(settings, clock=clock)
    try:
        vigil.identity.register(LEAD.username, LEAD.role, actor="setup")
        add_events(vigil, notes=TILE_SIZE)
        assert vigil.integrity.notary.catch_up() == TILE_SIZE + 4
        assert vigil.integrity.verify([vigil.integrity.public_key()]).ok
    finally:
        vigil.close()

    # And the application role may not change that history, nor switch the guard off.
    parsed = urlparse(POSTGRES_URL)
    with psycopg.connect(
        host=parsed.hostname,
        port=parsed.port or 5432,
        dbname=parsed.path.lstrip("/"),
        user=app_store.role,
        password="app-secret",
        autocommit=True,
    ) as conn:
        for name in GUARDED_TABLES:
            table = f'"{app_store.schema}"."{name}"'
            before = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            for statement in (
                f"DELETE FROM {table}",
                f"TRUNCATE {table}",
                f"ALTER TABLE {table} DISABLE TRIGGER USER",
                f"DROP TABLE {table}",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == before
