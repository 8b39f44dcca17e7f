"""Edits the application role can make beside the log do not go unnoticed.

Vigil's own database role owns the views (their rows and tracking positions) and the subject
keys: it must write them, so it can change them too. Given a store set up by ``vigil db init``
and Vigil running as that role (PostgreSQL; on SQLite the file's owner), an insider with the
role's credentials edits them by hand, as the attack in issue 11 did:

- advances the views' tracking positions past an immediate escalation: the queue no longer
  shows it, and a view said ready with lag 0;
- deletes a row of the access log: a read vanishes from the auditor's view;
- sets a subject key's ``wrapped_key`` to NULL: a subject's data reads as erased though no one
  erased it. On PostgreSQL ``vigil db init`` now refuses the application role that (the owner
  keeps the key table; keys are destroyed through the owner's function, only those an erasure
  in the log names), so there the owner makes the edit.

Then ``vigil verify`` (the installed command, as an auditor runs it) exits 1 naming each, and
``GET /ready`` (over HTTP) refuses traffic while a view's position passed events it never
applied. And the honest paths (writes, a real erasure, ``vigil rebuild``) still verify.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from application.idempotency import KeyedRequest
from domain.access.vocabulary import AccessedRecord
from domain.case.vocabulary import SubjectKind, Urgency
from domain.personal import ERASED
from domain.subject.subject import EraseSubject
from infrastructure.keys import DESTROY_FUNCTION, KEYS_TABLE
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from interfaces.http import create_app
from projections.work_queues import Queue, WorkQueues
from tests.conftest import Clock
from tests.e2e.conftest import LiveServer
from tests.integration.test_cli import vigil_command
from tests.integration.test_db_immutability import (
    PgStore,
    new_pg_store,
    remove_pg_store,
    require_postgres,
    run_db_init,
)
from tests.story import AUDITOR, COORDINATOR, LEAD, escalate, open_case


@dataclass
class Store:
    """A store Vigil runs on as its application role, and that role's own connection."""

    settings: Settings
    pg: PgStore | None

    def run(self, statement: str, *params: Any, as_owner: bool = False) -> None:
        """One statement as the application role, or as the owner (psycopg's placeholders on
        both stores; SQLite has no roles: the file's user)."""
        if self.pg is not None:
            with self.pg.owner() if as_owner else self.pg.app() as conn:
                conn.execute(f'SET search_path TO "{self.pg.schema}"')
                conn.execute(statement, params)
            return
        path = self.settings.resolved_database_url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute(statement.replace("%s", "?"), params)
        finally:
            conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'vigil.db'}"
        yield Store(
            Settings(
                _env_file=None,
                environment="test",
                database_url=url,
                data_dir=data_dir,
                restricted_categories="",
            ),
            None,
        )
        return
    require_postgres()
    pg = new_pg_store()
    try:
        # vigil db init: the owner makes the log and keeps the key table; Vigil runs as the
        # application role.
        done = run_db_init(pg, tmp_path)
        assert done.returncode == 0, done.stderr
        yield Store(
            Settings(
                _env_file=None,
                environment="test",
                database_url=pg.app_url,
                data_dir=data_dir,
                db_pool_size=4,
                restricted_categories="",
            ),
            pg,
        )
    finally:
        remove_pg_store(pg)


@pytest.fixture
def vigil(
    store: Store, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Vigil]:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    app = bootstrap(store.settings, clock=clock)
    try:
        for actor in (LEAD, COORDINATOR, AUDITOR):
            app.identity.register(actor.username, actor.role, actor="setup")
        yield app
    finally:
        app.close()


@pytest.fixture
def server(vigil: Vigil) -> Iterator[LiveServer]:
    live = LiveServer(create_app(vigil))
    live.start()
    try:
        yield live
    finally:
        live.stop()


def verify(store: Store, *options: str) -> tuple[int, dict[str, Any]]:
    """``vigil verify --json`` as an auditor runs it: the installed command."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    result = subprocess.run(
        [*vigil_command(), "verify", "--no-progress", "--json", *options],
        env={
            **clean,
            "VIGIL_DATABASE_URL": store.settings.resolved_database_url,
            "VIGIL_DATA_DIR": str(store.settings.data_dir),
            "VIGIL_ENVIRONMENT": "test",
            "VIGIL_LOG_LEVEL": "WARNING",
            "VIGIL_DB_POOL_SIZE": "2",
            "VIGIL_DB_MAX_OVERFLOW": "2",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def kinds(verdict: dict[str, Any]) -> set[str]:
    return {finding["kind"] for finding in verdict["findings"]}


def signed(vigil: Vigil) -> None:
    """The notary caught up and a checkpoint signed: verify has a ledger to hold the log to."""
    notary = vigil.integrity.notary
    notary.catch_up()
    notary.ensure_checkpoint(notary.state().tree_size)


def new_case(vigil: Vigil, ref: str = "member-4411") -> UUID:
    case_id: UUID = vigil.cases.execute(
        None,
        open_case(subject={"kind": "member", "ref": ref, "display_name": "Sam Taylor"}),
        COORDINATOR,
    ).state.id
    return case_id


def unacknowledged(vigil: Vigil, clock: Clock) -> list[UUID]:
    found, _ = WorkQueues(vigil.event_log, projector=vigil.projector).items(
        Queue.UNACKNOWLEDGED_ESCALATIONS, as_of=clock(), limit=100
    )
    return [item.case_id for item in found]


def ready(server: LiveServer) -> httpx.Response:
    return httpx.get(f"{server.base_url}/ready", timeout=30)


# --- a tracking position moved past an event -----------------------------------------------------


def test_a_tracking_position_moved_past_an_escalation_is_caught_by_verify_and_ready(
    store: Store, vigil: Vigil, server: LiveServer, clock: Clock
) -> None:
    # Given a case whose views are up to date, and verify saying so.
    case_id = new_case(vigil)
    vigil.projector.catch_up()
    signed(vigil)
    assert ready(server).status_code == 200
    assert verify(store)[0] == 0
    # And then an immediate escalation, written but not yet applied to the views.
    vigil.cases.execute(case_id, escalate(Urgency.IMMEDIATE), COORDINATOR)
    head = vigil.projector.head()
    signed(vigil)

    # When the application role moves every view's tracking row to the log's head by hand.
    store.run("UPDATE projection_tracking SET notification_id = %s", head)

    # Then the attack worked as reported: the escalation is missing from its queue, and every
    # view's lag is 0 ...
    vigil.projector.catch_up()
    assert case_id not in unacknowledged(vigil, clock)
    assert all(status.lag_events == 0 for status in vigil.projector.status())
    # ... but /ready refuses traffic, naming the work queues view (and the others moved too).
    answer = ready(server)
    assert answer.status_code == 503, answer.text
    problem = answer.json()
    assert problem["type"].endswith("not-ready"), problem
    assert "work_queues" in problem["errors"], problem
    assert "skipped" in problem["errors"]["work_queues"], problem
    # And verify names the view and its position.
    code, verdict = verify(store)
    assert code == 1, verdict
    skipped = {f["view"]: f for f in verdict["findings"] if f["kind"] == "view-skipped"}
    assert "work_queues" in skipped, verdict
    assert skipped["work_queues"]["notification_id"] == head, verdict
    # The rows show it too: the rebuilt queue holds the escalation the live one lacks.
    assert any(
        f["kind"] == "view-mismatch" and f["view"] == "work_queues" for f in verdict["findings"]
    ), verdict

    # When an operator rebuilds the views (vigil rebuild), then the escalation is back in its
    # queue, /ready is ready and verify passes.
    vigil.projector.rebuild()
    assert case_id in unacknowledged(vigil, clock)
    assert ready(server).status_code == 200
    code, verdict = verify(store)
    assert code == 0, verdict


# --- a row deleted from a view -------------------------------------------------------------------


def test_a_read_deleted_from_the_access_log_is_caught_by_verify(store: Store, vigil: Vigil) -> None:
    # Given two reads of a case in the access log, and verify saying all is well.
    case_id = new_case(vigil)
    vigil.access.record(LEAD, AccessedRecord.CASE, case_id=case_id)
    vigil.access.record(AUDITOR, AccessedRecord.TIMELINE, case_id=case_id)
    vigil.projector.catch_up()
    signed(vigil)
    entries = vigil.access_log.entries(case_id=case_id, limit=10)[0]
    assert {e.username for e in entries} == {LEAD.username, AUDITOR.username}
    assert verify(store)[0] == 0
    lead_read = next(e for e in entries if e.username == LEAD.username)

    # When the application role deletes the lead's read from the auditor's view.
    store.run("DELETE FROM access_log_entries WHERE position = %s", lead_read.position)
    assert [e.username for e in vigil.access_log.entries(case_id=case_id, limit=10)[0]] == [
        AUDITOR.username
    ]

    # Then verify exits 1 naming the view, its table and the read's position.
    code, verdict = verify(store)
    assert code == 1, verdict
    [mismatch] = [f for f in verdict["findings"] if f["kind"] == "view-mismatch"]
    assert mismatch["view"] == "access_log", verdict
    assert mismatch["notification_id"] == lead_read.position, verdict
    assert "access_log_entries" in mismatch["detail"], verdict
    # The log itself is intact: the finding is about the view alone.
    assert kinds(verdict) == {"view-mismatch"}, verdict


# --- a subject key destroyed without an erasure ---------------------------------------------------


def test_a_key_destroyed_without_an_erasure_is_caught_by_verify(store: Store, vigil: Vigil) -> None:
    # Given a case about a member, and verify saying all is well.
    case_id = new_case(vigil)
    vigil.projector.catch_up()
    signed(vigil)
    assert verify(store)[0] == 0
    [key] = vigil.keyring.keys_of([vigil.keyring.subject_hash("member", "member-4411")])

    destroy = f"UPDATE {KEYS_TABLE} SET wrapped_key = NULL WHERE key_id = %s"
    if store.pg is not None:
        # On PostgreSQL the application role may not do it: it has no UPDATE on the key table,
        # and the owner's function destroys only keys an erasure in the log names.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            store.run(destroy, key.key_id)
        with store.pg.app() as conn:
            conn.execute(f'SET search_path TO "{store.pg.schema}"')
            destroyed = conn.execute(
                f"SELECT * FROM {DESTROY_FUNCTION}(%s, now())", (key.subject_hash,)
            ).fetchall()
        assert destroyed == []
        assert [k.destroyed_at for k in vigil.keyring.keys_of([key.subject_hash])] == [None]

    # When the store's owner (on SQLite, the file's user) overwrites the wrapped key with NULL.
    store.run(destroy, key.key_id, as_owner=True)

    # Then the case's personal data reads as erased (the attack) ...
    restarted = bootstrap(store.settings)  # a fresh process: no key cached
    try:
        assert restarted.cases.load(case_id).subject.display_name == ERASED
    finally:
        restarted.close()
    # ... but verify exits 1 naming the key: no SubjectErased in the log destroyed it.
    code, verdict = verify(store)
    assert code == 1, verdict
    [finding] = verdict["findings"]
    assert finding["kind"] == "key-destroyed-without-erasure", verdict
    assert finding["key_id"] == key.key_id, verdict


# --- the honest paths --------------------------------------------------------------------------


def test_writes_an_erasure_and_a_rebuild_all_verify(store: Store, vigil: Vigil) -> None:
    # Given cases, an escalation, reads in the access log, and one member erased for real.
    kept = new_case(vigil, "member-1")
    erased = new_case(vigil, "member-2")
    vigil.cases.execute(kept, escalate(Urgency.IMMEDIATE), COORDINATOR)
    vigil.access.record(LEAD, AccessedRecord.CASE, case_id=kept)
    vigil.projector.catch_up()
    vigil.data_protection.erase(
        "member-2",
        EraseSubject(
            kind=SubjectKind.MEMBER,
            lawful_basis="UK GDPR Art 17(1)(a)",
            reason="The member asked for their data to be erased; no concern remains open.",
        ),
        LEAD,
    )
    vigil.access.record(LEAD, AccessedRecord.TIMELINE, case_id=erased)
    vigil.projector.catch_up()
    signed(vigil)
    # (The erasure destroyed the member's key: on PostgreSQL through the owner's function.)
    subject = vigil.keyring.subject_hash("member", "member-2")
    assert [k.destroyed_at is not None for k in vigil.keyring.keys_of([subject])] == [True]
    # Then verify passes, comparing every view with its rebuild.
    code, verdict = verify(store)
    assert code == 0, verdict
    assert verdict["views_seconds"] is not None, verdict

    # And after a rebuild of the views (vigil rebuild) and more writes, it still does.
    vigil.projector.rebuild()
    vigil.access.record(AUDITOR, AccessedRecord.CASE, case_id=kept)
    vigil.projector.catch_up()
    signed(vigil)
    code, verdict = verify(store)
    assert code == 0, verdict
    # Without the comparison (--no-views), positions and keys are still checked, and pass.
    code, verdict = verify(store, "--no-views")
    assert code == 0, verdict
    assert verdict["views_seconds"] is None, verdict


# --- PostgreSQL: the owner's function destroys exactly the keys an erasure names ----------------


def erase_member(vigil: Vigil, ref: str, reason: str, key: str | None = None) -> Any:
    return vigil.data_protection.erase(
        ref,
        EraseSubject(kind=SubjectKind.MEMBER, lawful_basis="UK GDPR Art 17(1)(a)", reason=reason),
        LEAD,
        request=None if key is None else KeyedRequest(key=key, request_hash="erase-" + ref),
    )


def test_a_key_id_quoted_in_an_erasures_text_is_not_destroyed_by_it(
    store: Store, vigil: Vigil
) -> None:
    if store.pg is None:
        pytest.skip("PostgreSQL: on SQLite the application destroys keys itself")
    # Given a member's case (and so their key), and another member erased with a reason that
    # quotes the first member's key id (free text: anyone writing an erasure chooses it).
    new_case(vigil, "member-4411")
    [key] = vigil.keyring.keys_of([vigil.keyring.subject_hash("member", "member-4411")])
    new_case(vigil, "member-2")
    erase_member(vigil, "member-2", f"Asked for erasure; see also key {key.key_id} in the ticket.")

    # When the application role asks the owner's function to destroy the first member's keys
    with store.pg.app() as conn:
        conn.execute(f'SET search_path TO "{store.pg.schema}"')
        destroyed = conn.execute(
            f"SELECT * FROM {DESTROY_FUNCTION}(%s, now())", (key.subject_hash,)
        ).fetchall()

    # Then nothing is destroyed: no erasure names that key among its key_ids.
    assert destroyed == []
    assert [k.destroyed_at for k in vigil.keyring.keys_of([key.subject_hash])] == [None]


def test_an_erasure_whose_keys_were_not_destroyed_is_finished_when_retried(
    store: Store, vigil: Vigil
) -> None:
    if store.pg is None:
        pytest.skip("PostgreSQL: the owner's function can be out of the application's reach")
    # Given a member's case, and the owner's function out of the application role's reach for
    # a moment (so an erasure is recorded, and its keys are not destroyed).
    new_case(vigil, "member-5")
    subject = vigil.keyring.subject_hash("member", "member-5")
    function = f'"{store.pg.schema}".{DESTROY_FUNCTION}(text, timestamptz)'
    store.run(
        f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC, {store.pg.app_role}", as_owner=True
    )
    with pytest.raises(Exception, match="permission denied"):
        erase_member(vigil, "member-5", "The member asked for erasure.", key="erase-5")
    assert [k.destroyed_at for k in vigil.keyring.keys_of([subject])] == [None]
    store.run(f"GRANT EXECUTE ON FUNCTION {function} TO {store.pg.app_role}", as_owner=True)

    # When the erasure is retried with its Idempotency-Key
    result = erase_member(vigil, "member-5", "The member asked for erasure.", key="erase-5")

    # Then it answers the first erasure, and the keys it names are destroyed by then.
    assert result.replayed is True
    [key] = vigil.keyring.keys_of([subject])
    assert result.key_ids == [key.key_id]
    assert key.destroyed_at is not None
