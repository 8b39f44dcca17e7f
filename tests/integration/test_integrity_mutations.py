"""Tampering is caught: the negative tests of transparency-dev/merkle, played against Vigil's store.

Given a log of two interleaved cases, notarised with a checkpoint every 5 events, an attacker
with the database's owner rights (the append-only triggers of the log and of the ledger's own
tables disabled or dropped, as an owner could) changes it behind Vigil's back. Then ``vigil
verify`` (the CLI, as an auditor runs it) exits 1 naming the first position that does not
match, and an export of the case made afterwards fails ``vigil verify-export`` naming the
event. Each test also checks that, before the attack, both said OK: a check that could not pass
would prove nothing.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from typer.testing import CliRunner

from domain.case import commands as c
from domain.case.snapshot import CaseSnapshot
from domain.case.state import CaseState
from domain.case.vocabulary import Category
from domain.integrity.ledger import checkpoint_message, key_id_of
from domain.integrity.merkle import CompactRange
from domain.shared import Actor, Role
from infrastructure.settings import Settings
from interfaces.cli import app
from interfaces.composition import Vigil, bootstrap
from interfaces.http.audit import checkpoint_read, export_read
from projections.notary import GUARDED_TABLES, LEDGER_NAME
from tests.conftest import POSTGRES_URL, Clock
from tests.integration.test_cli import vigil_command

LEAD = Actor(username="priya.lead", role=Role.SAFEGUARDING_LEAD)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        data_dir=tmp_path / "data",
        checkpoint_every_events=5,
        db_pool_size=3,
        db_max_overflow=3,
        restricted_categories="",
    )


@dataclass
class Log:
    vigil: Vigil
    settings: Settings
    case_a: UUID
    case_b: UUID
    workdir: Path
    public_key_file: Path

    def leaves_of(self, case_id: UUID) -> dict[int, tuple[int, int]]:
        """version -> (tree index, notification id)"""
        return {
            leaf.originator_version: (leaf.tree_index, leaf.notification_id)
            for leaf in self.vigil.integrity.notary.case_leaves(case_id)
        }

    def verify(self) -> tuple[int, dict[str, Any]]:
        result = CliRunner().invoke(
            app,
            ["verify", "--no-progress", "--json", "--public-key", str(self.public_key_file)],
            env={
                "VIGIL_DATABASE_URL": self.settings.resolved_database_url,
                "VIGIL_DATA_DIR": str(self.settings.data_dir),
                "VIGIL_LOG_LEVEL": "WARNING",
                "VIGIL_DB_POOL_SIZE": "2",
                "VIGIL_DB_MAX_OVERFLOW": "2",
            },
        )
        assert result.exit_code in (0, 1), (result.output, result.exception)
        assert result.stdout.strip(), (result.output, result.exception)
        return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])

    def export(self, case_id: UUID, name: str = "export.json") -> Path:
        vigil = self.vigil
        try:
            timeline = vigil.cases.timeline(case_id)
        except Exception:  # a forged event may not even decode: the stored forms still go out
            timeline = []
        export = vigil.integrity.export_case(case_id, timeline)
        path = self.workdir / name
        path.write_text(export_read(export, vigil.clock()).model_dump_json())
        return path

    def verify_export(self, path: Path) -> tuple[int, dict[str, Any]]:
        result = CliRunner().invoke(
            app,
            ["verify-export", str(path), "--public-key", str(self.public_key_file), "--json"],
            env={"VIGIL_DATABASE_URL": "postgresql://nowhere.invalid/none"},  # never opened
        )
        assert result.exit_code in (0, 1), result.output
        return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def log(
    settings: Settings, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Log]:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    vigil = bootstrap(settings, clock=clock)
    try:
        vigil.identity.register(LEAD.username, LEAD.role, actor="setup")
        open_case = c.OpenCase(
            subject={"kind": "member", "ref": "member-1"},
            source="flag",
            category="harassment",
            summary="Repeated unwanted messages.",
        )
        case_a = vigil.cases.execute(None, open_case, LEAD).state.id
        case_b = vigil.cases.execute(None, open_case, LEAD).state.id
        for i in range(9):
            for case_id in (case_a, case_b):
                note = c.AddNote(kind="fact", text=f"Member sent message number {i} tonight.")
                vigil.cases.execute(case_id, note, LEAD)
        vigil.integrity.notary.catch_up()
        key = tmp_path / "ledger.pub"
        key.write_text(vigil.integrity.public_key().pem)
        given = Log(vigil, settings, case_a, case_b, tmp_path, key)
        code, verdict = given.verify()
        assert code == 0, verdict
        assert verdict["ok"], verdict
        # with the default service and the SLA policy's first version, with case_a
        assert verdict["events"] == 23, verdict
        assert given.verify_export(given.export(case_b, "before.json"))[0] == 0
        yield given
    finally:
        vigil.close()


# --- the attacker: raw SQL as the database's owner -----------------------------------------


class Attacker:
    def __init__(self, log: Log) -> None:
        self.vigil = log.vigil
        recorder: Any = log.vigil.event_log.recorder
        self.pg = log.vigil.integrity.notary.store.dialect == "postgresql"
        if self.pg:
            schema = recorder.datastore.schema
            self.events = f'"{schema}"."{recorder.events_table_name}"'
            self.schema = schema
            self.nid = "notification_id"
            self.conn: Any = psycopg.connect(POSTGRES_URL, autocommit=True)
            # Switch the append-only guard off, as the owner may: on the log and on the
            # ledger's own tables (the notary's next start switches it on again).
            for table in [self.events, *(self.table(name) for name in GUARDED_TABLES)]:
                self.conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        else:
            self.events = f'"{recorder.events_table_name}"'
            self.nid = "rowid"
            self.conn = sqlite3.connect(recorder.datastore.pool.db_name, isolation_level=None)
            for (name,) in self.conn.execute(
                "SELECT name FROM sqlite_master "
                "WHERE type = 'trigger' AND tbl_name IN (?, ?, ?, ?)",
                (recorder.events_table_name, *GUARDED_TABLES),
            ).fetchall():
                self.conn.execute(f'DROP TRIGGER "{name}"')

    def table(self, name: str) -> str:
        return f'"{self.schema}"."{name}"' if self.pg else f'"{name}"'

    def run(self, statement: str, *params: Any) -> list[Any]:
        statement = statement.replace("?", "%s") if self.pg else statement
        cursor = self.conn.execute(statement, params)
        try:
            return list(cursor.fetchall())
        except psycopg.ProgrammingError:
            return []

    def rebuild_views(self) -> None:
        """Every view rebuilt from the log as it now stands (``vigil rebuild``)."""
        self.vigil.projector.rebuild()

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def attacker(log: Log) -> Iterator[Attacker]:
    a = Attacker(log)
    try:
        yield a
    finally:
        a.close()


def assert_caught(log: Log, kind: set[str], tree_index: int, notification_id: int | None) -> None:
    code, verdict = log.verify()
    assert code == 1, verdict
    first = verdict["first"]
    assert first["kind"] in kind, verdict
    assert first["tree_index"] == tree_index, verdict
    if notification_id is not None:
        assert first["notification_id"] == notification_id, verdict


def assert_export_fails(log: Log, version: int | None, kinds: set[str]) -> dict[str, Any]:
    code, verdict = log.verify_export(log.export(log.case_b))
    assert code == 1, verdict
    first = verdict["findings"][0]
    assert first["kind"] in kinds, verdict
    if version is not None:
        assert first["version"] == version, verdict
    return verdict


# --- the mutations ---------------------------------------------------------------------------


def test_a_bit_flipped_in_a_stored_event_is_caught(log: Log, attacker: Attacker) -> None:
    index, nid = log.leaves_of(log.case_b)[3]
    [(state,)] = attacker.run(f"SELECT state FROM {attacker.events} WHERE {attacker.nid} = ?", nid)
    text = bytes(state)
    at = text.index(b'"actor":"') + 9  # 'p' -> 'q': still valid JSON, another author
    altered = text[:at] + bytes([text[at] ^ 0x01]) + text[at + 1 :]
    attacker.run(f"UPDATE {attacker.events} SET state = ? WHERE {attacker.nid} = ?", altered, nid)

    assert_caught(log, {"altered"}, index, nid)
    assert_export_fails(log, 3, {"altered", "bad-proof"})


def test_a_deleted_event_is_caught(log: Log, attacker: Attacker) -> None:
    index, nid = log.leaves_of(log.case_b)[2]
    attacker.run(f"DELETE FROM {attacker.events} WHERE {attacker.nid} = ?", nid)

    assert_caught(log, {"missing"}, index, nid)
    assert_export_fails(log, 2, {"missing-event"})


def test_two_swapped_events_are_caught(log: Log, attacker: Attacker) -> None:
    leaves = log.leaves_of(log.case_b)
    (index, first), (_, second) = leaves[2], leaves[4]
    swap = f"UPDATE {attacker.events} SET {attacker.nid} = ? WHERE {attacker.nid} = ?"
    attacker.run(swap, -1, first)
    attacker.run(swap, first, second)
    attacker.run(swap, second, -1)

    assert_caught(log, {"altered"}, index, first)
    assert_export_fails(log, 2, {"altered", "bad-proof"})


def test_an_event_inserted_into_history_is_caught(log: Log, attacker: Attacker) -> None:
    leaves = log.leaves_of(log.case_b)
    index, nid = leaves[3]
    # Make room at `nid` (renumbering everything after it), then write a forged note there.
    attacker.run(
        f"UPDATE {attacker.events} SET {attacker.nid} = {attacker.nid} + 1000000 "
        f"WHERE {attacker.nid} >= ?",
        nid,
    )
    attacker.run(
        f"UPDATE {attacker.events} SET {attacker.nid} = {attacker.nid} - 999999 "
        f"WHERE {attacker.nid} >= 1000000",
    )
    [(oid, topic, state)] = attacker.run(
        f"SELECT originator_id, topic, state FROM {attacker.events} WHERE {attacker.nid} = ?",
        nid + 1,
    )
    forged_version = max(leaves) + 1
    attacker.run(
        f"INSERT INTO {attacker.events} (originator_id, originator_version, topic, state, "
        f"{attacker.nid}) VALUES (?, ?, ?, ?, ?)",
        oid,
        forged_version,
        topic,
        bytes(state),
        nid,
    )

    assert_caught(log, {"altered", "inserted"}, index, nid)
    verdict = assert_export_fails(log, None, {"bad-proof", "not-in-ledger", "altered"})
    assert verdict["findings"][0]["version"] is not None


def test_a_truncated_tail_is_caught(log: Log, attacker: Attacker) -> None:
    leaves = log.leaves_of(log.case_b)
    last = max(leaves)
    index, nid = leaves[last - 1]
    attacker.run(f"DELETE FROM {attacker.events} WHERE {attacker.nid} >= ?", nid)

    assert_caught(log, {"truncated"}, index, nid)
    assert_export_fails(log, last - 1, {"missing-event"})


def test_an_altered_checkpoint_is_caught(log: Log, attacker: Attacker) -> None:
    checkpoints = attacker.table("vigil_checkpoints")
    [(size, root)] = attacker.run(
        f"SELECT tree_size, root_hash FROM {checkpoints} ORDER BY tree_size DESC LIMIT 1"
    )
    forged = bytes([bytes(root)[0] ^ 0x80]) + bytes(root)[1:]
    attacker.run(f"UPDATE {checkpoints} SET root_hash = ? WHERE tree_size = ?", forged, size)

    assert_caught(log, {"bad-signature", "root-mismatch"}, size - 1, None)
    _, verdict = log.verify()
    assert {f["kind"] for f in verdict["findings"]} == {"bad-signature", "root-mismatch"}
    assert_export_fails(log, None, {"bad-signature"})


def test_a_checkpoint_signed_with_another_key_is_caught(log: Log, attacker: Attacker) -> None:
    checkpoints = attacker.table("vigil_checkpoints")
    [(size, ms)] = attacker.run(
        f"SELECT tree_size, timestamp_ms FROM {checkpoints} ORDER BY tree_size DESC LIMIT 1"
    )
    theirs = Ed25519PrivateKey.generate()
    key_id = key_id_of(theirs.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    forged_root = bytes(32)
    signature = theirs.sign(checkpoint_message(int(size), forged_root, int(ms), key_id))
    attacker.run(
        f"UPDATE {checkpoints} SET root_hash = ?, key_id = ?, signature = ? WHERE tree_size = ?",
        forged_root,
        key_id,
        signature,
        size,
    )

    assert_caught(log, {"unknown-key", "root-mismatch"}, size - 1, None)
    assert_export_fails(log, None, {"unknown-key"})


def test_a_checkpoint_resigned_under_our_key_id_is_caught(log: Log, attacker: Attacker) -> None:
    checkpoints = attacker.table("vigil_checkpoints")
    [(size, ms, key_id)] = attacker.run(
        f"SELECT tree_size, timestamp_ms, key_id FROM {checkpoints} ORDER BY tree_size LIMIT 1"
    )
    forged_root = bytes(32)
    signature = Ed25519PrivateKey.generate().sign(
        checkpoint_message(int(size), forged_root, int(ms), str(key_id))
    )
    attacker.run(
        f"UPDATE {checkpoints} SET root_hash = ?, signature = ? WHERE tree_size = ?",
        forged_root,
        signature,
        size,
    )

    assert_caught(log, {"bad-signature", "root-mismatch"}, size - 1, None)


def test_a_tampered_proof_is_caught(log: Log, attacker: Attacker) -> None:
    # In the database: a ledger leaf next to one of case B's (a sibling in its proofs).
    index, _ = log.leaves_of(log.case_b)[2]
    sibling = index ^ 1
    leaves = attacker.table("vigil_hash_leaves")
    [(nid, leaf)] = attacker.run(
        f"SELECT notification_id, leaf_hash FROM {leaves} WHERE tree_index = ?", sibling
    )
    forged = bytes([bytes(leaf)[0] ^ 0x01]) + bytes(leaf)[1:]
    attacker.run(f"UPDATE {leaves} SET leaf_hash = ? WHERE tree_index = ?", forged, sibling)

    assert_caught(log, {"altered"}, sibling, nid)
    # Every other event's proof passes through that leaf: the first event already fails.
    assert_export_fails(log, 1, {"bad-proof"})


# --- the same attacks on an export file, after it left the server ----------------------------

FileMutation = Callable[[dict[str, Any]], tuple[str, int | None]]
"""Changes an export in place; returns the kind and version the first finding must name."""


def _flip_state(doc: dict[str, Any]) -> int:
    event = doc["events"][2]
    state = bytearray(base64.b64decode(event["stored"]["state"]))
    state[-5] ^= 0x01
    event["stored"]["state"] = base64.b64encode(bytes(state)).decode()
    return "altered", 3


def _drop_event(doc: dict[str, Any]) -> int:
    del doc["events"][1]
    return "missing-event", 2


def _swap_events(doc: dict[str, Any]) -> int:
    events = doc["events"]
    events[1], events[3] = events[3], events[1]
    return "missing-event", 2


def _insert_event(doc: dict[str, Any]) -> int:
    events = doc["events"]
    forged = json.loads(json.dumps(events[2]))
    events.insert(2, forged)
    return "missing-event", 4


def _tamper_proof(doc: dict[str, Any]) -> int:
    proof = doc["events"][4]["inclusion_proof"]
    raw = bytearray(base64.b64decode(proof[0]))
    raw[0] ^= 0x08
    proof[0] = base64.b64encode(bytes(raw)).decode()
    return "bad-proof", 5


def _claim_bigger_tree(doc: dict[str, Any]) -> int:
    doc["checkpoint"]["tree_size"] += 1
    return "bad-signature", None


@pytest.mark.parametrize(
    "mutate",
    [_flip_state, _drop_event, _swap_events, _insert_event, _tamper_proof, _claim_bigger_tree],
)
def test_a_changed_export_file_is_caught(log: Log, mutate: FileMutation) -> None:
    path = log.export(log.case_b)
    document = json.loads(path.read_text())
    kind, version = mutate(document)
    path.write_text(json.dumps(document))

    code, verdict = log.verify_export(path)

    assert code == 1, verdict
    first = verdict["findings"][0]
    assert (first["kind"], first["version"]) == (kind, version), verdict


# --- a rolled-back signed history: only a checkpoint kept elsewhere shows it -----------------
#
# An auditor keeps the latest checkpoint as GET /api/v1/audit/checkpoints gives it. The owner
# then deletes the newest checkpoints and, to stay self-consistent, the leaves and events after
# the one left last, and puts the ledger's state row back as it was then. The stored ledger
# agrees with itself, so ``vigil verify`` says OK; ``vigil verify --checkpoint kept.json`` (the
# real command, in its own process) must not.


def keep_latest_checkpoint(log: Log, name: str = "kept.json") -> tuple[Path, dict[str, Any]]:
    """What an auditor keeps: the newest item of GET /api/v1/audit/checkpoints (the route's
    service and model, written as the route serialises it)."""
    [latest], _ = log.vigil.integrity.checkpoints(limit=1, cursor=None)
    path = log.workdir / name
    path.write_text(checkpoint_read(latest).model_dump_json())
    return path, json.loads(path.read_text())


def verify_keeping(log: Log, *kept: Path) -> tuple[int, dict[str, Any]]:
    """``vigil verify --checkpoint FILE...`` as an auditor runs it: the installed command."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    options = [arg for path in kept for arg in ("--checkpoint", str(path))]
    key = str(log.public_key_file)
    result = subprocess.run(
        [*vigil_command(), "verify", "--no-progress", "--json", "--public-key", key, *options],
        env={
            **clean,
            "VIGIL_DATABASE_URL": log.settings.resolved_database_url,
            "VIGIL_DATA_DIR": str(log.settings.data_dir),
            "VIGIL_LOG_LEVEL": "WARNING",
            "VIGIL_DB_POOL_SIZE": "2",
            "VIGIL_DB_MAX_OVERFLOW": "2",
        },
        cwd=log.workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode in (0, 1), (result.stdout, result.stderr)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def stored_sizes(attacker: Attacker) -> list[int]:
    checkpoints = attacker.table("vigil_checkpoints")
    return [int(s) for (s,) in attacker.run(f"SELECT tree_size FROM {checkpoints} ORDER BY 1")]


def roll_back(attacker: Attacker, to_size: int) -> None:
    """The owner's full rollback to the checkpoint at ``to_size``: every later checkpoint, leaf
    and event deleted, the ledger's state row as it was right after that checkpoint."""
    checkpoints = attacker.table("vigil_checkpoints")
    leaves = attacker.table("vigil_hash_leaves")
    # A tree this small has no stored node (only subtrees of 256 leaves and more are stored).
    assert attacker.run(f"SELECT COUNT(*) FROM {attacker.table('vigil_hash_nodes')}") == [(0,)]
    [(end, ms)] = attacker.run(
        f"SELECT notification_id, timestamp_ms FROM {checkpoints} WHERE tree_size = ?", to_size
    )
    frontier = CompactRange()
    for (leaf,) in attacker.run(
        f"SELECT leaf_hash FROM {leaves} WHERE tree_index < ? ORDER BY tree_index", to_size
    ):
        frontier.append(bytes(leaf))
    attacker.run(f"DELETE FROM {checkpoints} WHERE tree_size > ?", to_size)
    attacker.run(f"DELETE FROM {leaves} WHERE tree_index >= ?", to_size)
    attacker.run(f"DELETE FROM {attacker.events} WHERE {attacker.nid} > ?", end)
    attacker.run(
        f"UPDATE {attacker.table('vigil_hash_ledger')} SET tree_size = ?, notification_id = ?, "
        "frontier = ?, checkpoint_size = ?, checkpoint_ms = ? WHERE name = ?",
        to_size,
        end,
        frontier.to_bytes(),
        to_size,
        ms,
        LEDGER_NAME,
    )
    # The views still hold the rolled-back events (verify compares them with the log): a
    # thorough attacker rebuilds them from what is left, as ``vigil rebuild`` does.
    attacker.rebuild_views()


def test_a_rolled_back_history_passes_verify_but_not_against_a_kept_checkpoint(
    log: Log,
) -> None:
    kept, item = keep_latest_checkpoint(log)
    assert verify_keeping(log, kept)[0] == 0  # before: the kept checkpoint matches the log
    attacker = Attacker(log)  # only now: every start of vigil switches the guard on again
    try:
        sizes = stored_sizes(attacker)
        assert sizes[-1] == item["tree_size"], sizes
        older = sizes[-3]  # the two newest checkpoints go

        roll_back(attacker, older)
    finally:
        attacker.close()

    # Without the kept checkpoint the rollback does not show: the ledger agrees with itself.
    code, verdict = verify_keeping(log)
    assert code == 0, verdict
    assert (verdict["events"], verdict["checkpoints"]) == (older, len(sizes) - 2), verdict
    # With it, verify names it: signed for a longer log than the one left.
    code, verdict = verify_keeping(log, kept)
    assert code == 1, verdict
    first = verdict["first"]
    assert (first["kind"], first["tree_index"]) == ("checkpoint-beyond-tree", older), verdict
    assert f"tree size {item['tree_size']}" in first["detail"], verdict


def test_a_rolled_back_and_rewritten_history_fails_against_a_kept_checkpoint(
    log: Log, attacker: Attacker
) -> None:
    kept, item = keep_latest_checkpoint(log)
    size = item["tree_size"]
    sizes = stored_sizes(attacker)
    roll_back(attacker, sizes[-3])
    # ... then the log grows again, past the kept size, with other events: newly signed.
    vigil = log.vigil
    other = c.OpenCase(
        subject={"kind": "member", "ref": "member-2"},
        source="flag",
        category="harassment",
        summary="Another story.",
    )
    case_id = vigil.cases.execute(None, other, LEAD).state.id
    while stored_sizes(attacker)[-1] <= size:
        vigil.cases.execute(case_id, c.AddNote(kind="fact", text="Written later."), LEAD)
        vigil.integrity.notary.catch_up()

    code, verdict = verify_keeping(log)
    assert code == 0, verdict  # the rewritten ledger agrees with itself
    code, verdict = verify_keeping(log, kept)
    assert code == 1, verdict
    first = verdict["first"]
    assert (first["kind"], first["tree_index"]) == ("root-mismatch", size - 1), verdict
    assert f"root signed at tree size {size}" in first["detail"], verdict


def test_kept_checkpoints_that_match_the_log_pass(log: Log) -> None:
    kept, _ = keep_latest_checkpoint(log)
    [*_, older], _ = log.vigil.integrity.checkpoints(limit=3, cursor=None)
    kept_older = log.workdir / "older.json"
    kept_older.write_text(checkpoint_read(older).model_dump_json())
    export = log.export(log.case_a)  # an export's checkpoint can be kept too

    code, verdict = verify_keeping(log, kept, kept_older, export)

    assert code == 0, verdict
    assert verdict["ok"], verdict
    assert verdict["first"] is None, verdict


def _flip_root(item: dict[str, Any]) -> set[str]:
    root = bytearray(base64.b64decode(item["root_hash"]))
    root[0] ^= 0x80
    item["root_hash"] = base64.b64encode(bytes(root)).decode()
    return {"bad-signature", "root-mismatch"}


def _sign_with_their_key(item: dict[str, Any]) -> set[str]:
    theirs = Ed25519PrivateKey.generate()
    key_id = key_id_of(theirs.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    root = base64.b64decode(item["root_hash"])  # the true root: only the signer is wrong
    message = checkpoint_message(item["tree_size"], root, item["timestamp_ms"], key_id)
    item["key_id"], item["signature"] = key_id, base64.b64encode(theirs.sign(message)).decode()
    return {"unknown-key"}


def _forge_under_our_key_id(item: dict[str, Any]) -> set[str]:
    root = bytes(32)
    message = checkpoint_message(item["tree_size"], root, item["timestamp_ms"], item["key_id"])
    forged = Ed25519PrivateKey.generate().sign(message)
    item["root_hash"], item["signature"] = (base64.b64encode(v).decode() for v in (root, forged))
    return {"bad-signature", "root-mismatch"}


@pytest.mark.parametrize("tamper", [_flip_root, _sign_with_their_key, _forge_under_our_key_id])
def test_a_tampered_kept_checkpoint_fails(
    log: Log, tamper: Callable[[dict[str, Any]], set[str]]
) -> None:
    kept, item = keep_latest_checkpoint(log)
    kinds = tamper(item)
    kept.write_text(json.dumps(item))

    code, verdict = verify_keeping(log, kept)

    assert code == 1, verdict
    assert verdict["first"]["kind"] in kinds, verdict
    assert verdict["first"]["tree_index"] == item["tree_size"] - 1, verdict
    assert {f["kind"] for f in verdict["findings"]} == kinds, verdict


def test_deleted_checkpoints_show_against_a_kept_checkpoint(log: Log) -> None:
    kept, item = keep_latest_checkpoint(log)
    assert verify_keeping(log, kept)[0] == 0
    attacker = Attacker(log)
    try:
        sizes = stored_sizes(attacker)
        checkpoints = attacker.table("vigil_checkpoints")
        attacker.run(f"DELETE FROM {checkpoints} WHERE tree_size > ?", sizes[-3])
    finally:
        attacker.close()

    code, verdict = verify_keeping(log)
    assert code == 0, verdict  # the signed history ends earlier; nothing else differs
    assert verdict["checkpoints"] == len(sizes) - 2, verdict
    code, verdict = verify_keeping(log, kept)
    assert code == 1, verdict
    assert f"tree size {item['tree_size']}" in verdict["first"]["detail"], verdict


# --- snapshots: a cache of the log that must say what the log says ---------------------------


def snapshot_table(attacker: Attacker) -> str:
    recorder: Any = attacker.vigil.event_log.snapshots.recorder  # type: ignore[union-attr]
    return attacker.table(recorder.events_table_name)


def insert_snapshot(attacker: Attacker, case_id: UUID, version: int, state: bytes) -> None:
    attacker.run(
        f"INSERT INTO {snapshot_table(attacker)} "
        "(originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
        case_id if attacker.pg else case_id.hex,
        version,
        "domain.case.snapshot:CaseSnapshot",
        state,
    )


def as_snapshot(state: CaseState, clock: datetime) -> CaseSnapshot:
    return CaseSnapshot(
        originator_id=state.id,
        originator_version=state.version,
        recorded_at=clock,
        state=state,
    )


def assert_snapshot_caught(log: Log, kind: str, case_id: UUID, version: int) -> dict[str, Any]:
    code, verdict = log.verify()
    assert code == 1, verdict
    [finding] = [f for f in verdict["findings"] if f["kind"].startswith("snapshot-")]
    assert (finding["kind"], finding["aggregate_id"], finding["version"]) == (
        kind,
        str(case_id),
        version,
    ), verdict
    return verdict


def test_a_forged_snapshot_is_caught(log: Log, attacker: Attacker) -> None:
    # Given a snapshot Vigil took of case A: it verifies.
    log.vigil.cases.take_snapshot(log.case_a)
    code, verdict = log.verify()
    assert (code, verdict["snapshots"]) == (0, 1), verdict
    # When the attacker inserts one of case B that says it is spam, in plaintext: they have
    # no key to seal or MAC it with.
    state = log.vigil.cases.get(log.case_b)
    lie = state.model_copy(update={"category": Category.SPAM, "summary": "Nothing to see."})
    insert_snapshot(
        attacker,
        log.case_b,
        state.version,
        as_snapshot(lie, log.vigil.clock()).model_dump_json().encode(),
    )

    # Then verify names it, by case and version, and finds nothing else wrong.
    verdict = assert_snapshot_caught(log, "snapshot-forged", log.case_b, state.version)
    assert len(verdict["findings"]) == 1, verdict
    assert verdict["first"]["kind"] == "snapshot-forged", verdict


def test_an_altered_snapshot_is_caught_and_never_loaded(log: Log, attacker: Attacker) -> None:
    # Given a snapshot Vigil took of case B, which verifies.
    log.vigil.cases.take_snapshot(log.case_b)
    assert log.verify()[0] == 0
    # When the attacker (as the owner, the table's guard switched off) rewrites its category.
    table = snapshot_table(attacker)
    if attacker.pg:
        attacker.run(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    else:
        for (name,) in attacker.run(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
            table.strip('"'),
        ):
            attacker.run(f'DROP TRIGGER "{name}"')
    [(stored,)] = attacker.run(f"SELECT state FROM {table}")
    altered = bytes(stored).replace(b'"category":"harassment"', b'"category":"spam"')
    assert altered != bytes(stored)
    attacker.run(f"UPDATE {table} SET state = ?", altered)

    # Then verify names it, and loading the case passes it over for the events.
    assert_snapshot_caught(log, "snapshot-altered", log.case_b, 10)
    loaded = log.vigil.cases.load(log.case_b, version=10)
    assert loaded is not None
    assert loaded.category == Category.HARASSMENT


def test_a_snapshot_whose_events_changed_is_caught(log: Log) -> None:
    # Given a snapshot Vigil took of case B at version 10.
    log.vigil.cases.take_snapshot(log.case_b)
    assert log.verify()[0] == 0
    # When an event it folded is changed (as in the first story of this file), by an attacker
    # who switched the guards off after that verify (which put them back).
    attacker = Attacker(log)
    try:
        _, nid = log.leaves_of(log.case_b)[3]
        select = f"SELECT state FROM {attacker.events} WHERE {attacker.nid} = ?"
        [(state,)] = attacker.run(select, nid)
        text = bytes(state)
        at = text.index(b'"actor":"') + 9
        attacker.run(
            f"UPDATE {attacker.events} SET state = ? WHERE {attacker.nid} = ?",
            text[:at] + bytes([text[at] ^ 0x01]) + text[at + 1 :],
            nid,
        )
    finally:
        attacker.close()

    # Then the snapshot no longer matches the log, beside the altered event itself (named
    # first: it is the cause).
    verdict = assert_snapshot_caught(log, "snapshot-mismatch", log.case_b, 10)
    assert verdict["first"]["kind"] == "altered", verdict


def test_a_true_snapshot_from_before_macs_passes_verify(log: Log, attacker: Attacker) -> None:
    # Given a snapshot of case A stored as Vigil stored them before snapshots had a MAC:
    # personal fields sealed, the state the log's.
    state = log.vigil.cases.get(log.case_a)
    stored = log.vigil.event_log.mapper.to_stored_event(as_snapshot(state, log.vigil.clock()))
    insert_snapshot(attacker, log.case_a, state.version, stored.state)

    # Then verify counts it and finds nothing wrong (the loader ignores it all the same).
    code, verdict = log.verify()
    assert (code, verdict["snapshots"]) == (0, 1), verdict


def test_a_true_snapshot_from_the_release_before_passes_verify(
    log: Log, attacker: Attacker
) -> None:
    # Given a snapshot of case A as the release before wrote it: no MAC, and no `ever_critical`
    # (a field the state has kept since; the fold of the log now gives it a value).
    state = log.vigil.cases.get(log.case_a)
    stored = log.vigil.event_log.mapper.to_stored_event(as_snapshot(state, log.vigil.clock()))
    old = json.loads(stored.state)
    del old["state"]["ever_critical"]
    insert_snapshot(attacker, log.case_a, state.version, json.dumps(old).encode())

    # Then verify finds nothing wrong, and counts it as unsigned (the loader ignores it).
    code, verdict = log.verify()
    assert (code, verdict["findings"]) == (0, []), verdict
    assert (verdict["snapshots"], verdict["snapshots_unsigned"]) == (1, 1), verdict


def test_a_forged_snapshot_in_the_old_form_is_still_caught(log: Log, attacker: Attacker) -> None:
    # Given a snapshot of case B in the release before's form (no MAC, no `ever_critical`)
    # whose state is not the log's: it says the case is spam.
    state = log.vigil.cases.get(log.case_b)
    stored = log.vigil.event_log.mapper.to_stored_event(
        as_snapshot(state.model_copy(update={"category": Category.SPAM}), log.vigil.clock())
    )
    old = json.loads(stored.state)
    del old["state"]["ever_critical"]
    insert_snapshot(attacker, log.case_b, state.version, json.dumps(old).encode())

    # Then verify still names it as forged.
    verdict = assert_snapshot_caught(log, "snapshot-forged", log.case_b, state.version)
    assert verdict["snapshots_unsigned"] == 0, verdict
