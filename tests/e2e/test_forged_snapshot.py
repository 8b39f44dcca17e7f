"""A snapshot forged in the database changes nothing anyone sees.

An attacker holding the application's database role (on PostgreSQL the role `vigil db init`
makes; on SQLite, whoever can write the file) cannot update or delete the log, but may insert
rows. One row in the snapshot table claiming that a self-harm case is spam, with a summary of
their own in plaintext, would otherwise be the case's state after a restart: outsiders would
read it, its timeline and its notes, and leads would read the forged summary. Snapshots carry
a MAC under a key derived from the master key, which the database role never sees: the forged
one is ignored and the case is replayed from its events. A personal field read back in
plaintext from an event is refused rather than shown.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest

from domain.case.events import NoteAdded
from domain.case.snapshot import CaseSnapshot
from domain.case.vocabulary import Category
from domain.shared import Role
from infrastructure.persistence import recorder_env
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from interfaces.http import create_app
from tests.conftest import Clock
from tests.e2e.conftest import LiveServer
from tests.e2e.support import SELF_HARM_POST, assert_problem, created, open_case
from tests.integration.test_db_immutability import (
    new_pg_store,
    remove_pg_store,
    require_postgres,
)

RESTRICTED = "self_harm_risk,harm_to_others"
LEADS_NOTE = "Spoke to the member's GP: a crisis plan is in place from tonight."
FORGED_SUMMARY = "Spam link posted twice; nothing to see here."
PLAINTEXT_NOTE = "Inserted by hand: the member's home address is 12 Hidden Lane."


@dataclass
class Store:
    """A store as the application sees it, and the attacker's way into its tables."""

    settings: Settings
    insert: Callable[[str, UUID, int, str, bytes], None]
    """INSERT (table kind "snapshots" or "events", originator id, version, topic, state)."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    base = {
        "_env_file": None,
        "environment": "test",
        "data_dir": tmp_path / "data",
        "restricted_categories": RESTRICTED,
        "db_pool_size": 4,
    }
    if request.param == "sqlite":
        settings = Settings(**base, database_url=f"sqlite:///{tmp_path / 'vigil.db'}")
        path = recorder_env(settings)["SQLITE_DBNAME"]
        tables = {"snapshots": "stored_snapshots", "events": "stored_events"}

        def insert_sqlite(kind: str, oid: UUID, version: int, topic: str, state: bytes) -> None:
            with sqlite3.connect(path) as conn:
                conn.execute(
                    f"INSERT INTO {tables[kind]} "
                    "(originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
                    (oid.hex, version, topic, state),
                )

        yield Store(settings, insert_sqlite)
        return
    require_postgres()
    pg = new_pg_store()
    try:
        pg.init()  # the owner sets the store up; Vigil and the attacker use the app role
        settings = Settings(**base, database_url=pg.app_url)

        def insert_pg(kind: str, oid: UUID, version: int, topic: str, state: bytes) -> None:
            with pg.app() as conn:
                conn.execute(
                    f"INSERT INTO {pg.table('vigil_' + kind)} "
                    "(originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)",
                    (oid, version, topic, state),
                )

        yield Store(settings, insert_pg)
    finally:
        remove_pg_store(pg)


@dataclass
class Running:
    vigil: Vigil
    server: LiveServer
    clients: list[httpx.Client]

    def client(self, token: str) -> httpx.Client:
        client = httpx.Client(
            base_url=self.server.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        self.clients.append(client)
        return client

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.server.stop()
        self.vigil.close()


def start(settings: Settings, clock: Clock) -> Running:
    """A Vigil process on the store: a fresh container, so nothing is cached from before."""
    vigil = bootstrap(settings, clock=clock)
    server = LiveServer(create_app(vigil))
    server.start()
    return Running(vigil, server, [])


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Story:
    store: Store
    clock: Clock
    case_id: str
    version: int
    tokens: dict[str, str]
    forged_state: bytes


@pytest.fixture
def story(store: Store, clock: Clock) -> Story:
    """Casey (coordinator) opened a self-harm case; Priya (lead) added a note. Mo (moderator)
    and Cora (coordinator) have nothing to do with it. The attacker has the case's state
    as it was (read, say, from an earlier backup) and rewrites it as spam."""
    running = start(store.settings, clock)
    try:
        identity = running.vigil.identity
        tokens = {}
        for name, role in [
            ("priya", Role.SAFEGUARDING_LEAD),
            ("casey", Role.COORDINATOR),
            ("cora", Role.COORDINATOR),
            ("mo", Role.MODERATOR),
        ]:
            identity.register(name, role, actor="setup")
            tokens[name] = identity.issue_token(name, actor="setup")
        case = open_case(running.client(tokens["casey"]))
        lead = running.client(tokens["priya"])
        note = {"kind": "assessment", "text": LEADS_NOTE}
        version = created(lead.post(f"/api/v1/cases/{case['id']}/notes", json=note))["case"][
            "version"
        ]
        true_state = running.vigil.cases.load(UUID(case["id"]))
        assert true_state is not None
        forged = CaseSnapshot(
            originator_id=true_state.id,
            originator_version=version,
            recorded_at=clock(),
            state=true_state.model_copy(
                update={"category": Category.SPAM, "summary": FORGED_SUMMARY}
            ),
        )
    finally:
        running.stop()
    return Story(store, clock, case["id"], version, tokens, forged.model_dump_json().encode())


def test_a_snapshot_forged_by_the_database_role_changes_nothing_anyone_sees(
    story: Story,
) -> None:
    # Given the attacker inserts the forged snapshot at the case's latest version.
    story.store.insert(
        "snapshots",
        UUID(story.case_id),
        story.version,
        "domain.case.snapshot:CaseSnapshot",
        story.forged_state,
    )

    # When Vigil restarts on the store (nothing cached from before the insert).
    running = start(story.store.settings, story.clock)
    try:
        mo, cora, casey, priya = (
            running.client(story.tokens[name]) for name in ("mo", "cora", "casey", "priya")
        )
        base = f"/api/v1/cases/{story.case_id}"

        # Then the moderator and the uninvolved coordinator still meet the wall.
        for outsider in (mo, cora):
            for path in ("", "/timeline"):
                assert_problem(outsider.get(base + path), 404, "case-not-found")
        # The coordinator who opened it still sees only their own records.
        case = ok(casey.get(base))["case"]
        assert (case["category"], case["access"]) == ("self_harm_risk", "own_records")
        mine = ok(casey.get(f"{base}/timeline"))["events"]
        assert [e["type"] for e in mine] == ["CaseOpened"]
        # The lead reads the case as the log has it, not the forged summary.
        seen = ok(priya.get(base))["case"]
        assert seen["category"] == "self_harm_risk"
        assert seen["summary"] == SELF_HARM_POST["summary"]
        assert seen["version"] == story.version
        notes = [e for e in ok(priya.get(f"{base}/timeline"))["events"] if e["type"] == "NoteAdded"]
        assert [n["text"] for n in notes] == [LEADS_NOTE]
    finally:
        running.stop()


def test_a_personal_field_inserted_in_plaintext_is_refused_not_shown(story: Story) -> None:
    # Given the attacker appends a note to the case with its text in plaintext, where Vigil
    # only ever stores a sealed value.
    note = NoteAdded.model_validate(
        {
            "originator_id": story.case_id,
            "originator_version": story.version + 1,
            "event_id": str(UUID(int=7)),
            "occurred_at": story.clock().isoformat(),
            "recorded_at": story.clock().isoformat(),
            "actor": "priya",
            "actor_role": "safeguarding_lead",
            "kind": "fact",
            "text": PLAINTEXT_NOTE,
        }
    )
    story.store.insert(
        "events",
        UUID(story.case_id),
        story.version + 1,
        "domain.case.events:NoteAdded",
        orjson.dumps(note.model_dump(mode="json")),
    )

    # When the lead reads the case's timeline after a restart.
    running = start(story.store.settings, story.clock)
    try:
        answer = running.client(story.tokens["priya"]).get(
            f"/api/v1/cases/{story.case_id}/timeline"
        )
    finally:
        running.stop()

    # Then the store is reported corrupt, and the plaintext is not shown.
    assert_problem(answer, 500, "internal-error")
    assert PLAINTEXT_NOTE not in answer.text


def test_a_junk_row_where_the_next_snapshot_goes_does_not_fail_the_write(
    store: Store, clock: Clock
) -> None:
    # Given a Vigil that snapshots every 3 events, a lead, and a case at version 1.
    settings = store.settings.model_copy(update={"snapshot_interval": 3})
    running = start(settings, clock)
    try:
        running.vigil.identity.register("priya", Role.SAFEGUARDING_LEAD, actor="setup")
        lead = running.client(running.vigil.identity.issue_token("priya", actor="setup"))
        case = open_case(lead)
        case_id = UUID(case["id"])
        # And the attacker has put a row of their own where the snapshot at version 3 goes.
        store.insert("snapshots", case_id, 3, "domain.case.snapshot:CaseSnapshot", b"junk")
        notes = f"/api/v1/cases/{case_id}/notes"
        created(lead.post(notes, json={"kind": "fact", "text": "First call made."}))

        # When the lead adds the note that brings the case to version 3 (after which Vigil
        # takes its snapshot, and finds the place taken).
        answer = lead.post(notes, json={"kind": "fact", "text": LEADS_NOTE})

        # Then the write is answered as done, and the note is in the log.
        assert answer.status_code == 201, answer.text
        assert answer.json()["case"]["version"] == 3
        timeline = ok(lead.get(f"/api/v1/cases/{case_id}/timeline"))["events"]
        assert [e["text"] for e in timeline if e["type"] == "NoteAdded"][-1] == LEADS_NOTE
    finally:
        running.stop()
