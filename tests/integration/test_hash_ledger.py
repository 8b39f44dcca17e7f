"""The notary: every event of the log becomes one leaf, in commit order, exactly once; signed
checkpoints fall every N events or T seconds; they are history, never rebuilt or re-signed."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from domain.case import commands as c
from domain.integrity.ledger import event_leaf_hash, originator_bytes
from domain.integrity.merkle import root_of, verify_inclusion
from domain.shared import Actor, Role
from infrastructure.integrity_keys import SigningKey, SigningKeyError
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from projections.notary import HashLedger
from tests.conftest import Clock

LEAD = Actor(username="priya.lead", role=Role.SAFEGUARDING_LEAD)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        data_dir=tmp_path / "data",
        checkpoint_every_events=4,
        checkpoint_every_seconds=60,
        db_pool_size=4,
        db_max_overflow=4,
        restricted_categories="",
    )


@pytest.fixture
def vigil(settings: Settings, clock: Clock) -> Iterator[Vigil]:
    app = bootstrap(settings, clock=clock)
    try:
        app.identity.register(LEAD.username, LEAD.role, actor="setup")
        yield app
    finally:
        app.close()


def open_case(vigil: Vigil, notes: int) -> UUID:
    command = c.OpenCase(
        subject={"kind": "member", "ref": "member-7"},
        source="flag",
        category="harassment",
        summary="Unwanted messages after a thread was locked.",
    )
    case_id = vigil.cases.execute(None, command, LEAD).state.id
    for i in range(notes):
        vigil.cases.execute(case_id, c.AddNote(kind="fact", text=f"Message {i} reported."), LEAD)
    return case_id


def log_leaves(vigil: Vigil) -> list[bytes]:
    """Every event's leaf, recomputed from the log as stored, in notification order."""
    return [
        event_leaf_hash(
            n.id, originator_bytes(n.originator_id), n.originator_version, n.topic, n.state
        )
        for n in vigil.event_log.recorder.select_notifications(start=1, limit=10_000)
    ]


def test_every_event_becomes_one_leaf_and_a_checkpoint_falls_every_n_events(
    vigil: Vigil,
) -> None:
    # with the user's registration, the default service's and the SLA policy's first version
    # (both with the first case): 12 events
    open_case(vigil, notes=8)
    notary = vigil.integrity.notary

    assert notary.catch_up() == 12

    leaves = log_leaves(vigil)
    assert notary.state().tree_size == len(leaves) == 12
    checkpoints = sorted(notary.checkpoints(limit=10), key=lambda cp: cp.tree_size)
    assert [cp.tree_size for cp in checkpoints] == [4, 8, 12]
    key = vigil.integrity.public_key()
    for checkpoint in checkpoints:
        assert checkpoint.root_hash == root_of(leaves[: checkpoint.tree_size])
        assert checkpoint.key_id == key.key_id
        assert key.verifies(checkpoint.signature, checkpoint.message())
    assert notary.catch_up() == 0, "an event is appended once"
    assert vigil.integrity.verify([key]).ok


def test_a_checkpoint_falls_due_when_t_seconds_pass(vigil: Vigil, clock: Clock) -> None:
    # 5 events (the user, the default service, the SLA policy's first version, the case, a
    # note): one past the checkpoint signed at N = 4, fewer than N since
    open_case(vigil, notes=1)
    notary = vigil.integrity.notary
    notary.catch_up()
    latest = notary.latest_checkpoint()
    assert latest is not None
    assert latest.tree_size == 4

    signed_at = clock.advance(seconds=61)
    checkpoint = notary.checkpoint_if_due()

    assert checkpoint is not None
    assert checkpoint.tree_size == 5
    assert checkpoint.signed_at == signed_at
    assert notary.checkpoint_if_due() is None, "nothing new to sign"


def test_two_notaries_racing_append_each_event_once(vigil: Vigil, clock: Clock) -> None:
    open_case(vigil, notes=30)
    other = HashLedger(
        vigil.event_log,
        signing_key=SigningKey.from_settings(None, vigil.settings.data_dir),
        clock=clock,
        every_events=4,
        batch_size=3,
    )
    threads = [
        threading.Thread(target=notary.catch_up) for notary in (vigil.integrity.notary, other)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert vigil.integrity.notary.state().tree_size == len(log_leaves(vigil)) == 34
    assert vigil.integrity.verify([vigil.integrity.public_key()]).ok


def test_rebuilding_the_views_keeps_every_checkpoint(vigil: Vigil) -> None:
    open_case(vigil, notes=8)
    vigil.integrity.notary.catch_up()
    before = vigil.integrity.notary.checkpoints(limit=10)

    vigil.projector.rebuild()

    assert vigil.integrity.notary.checkpoints(limit=10) == before


def test_verify_counts_events_the_notary_has_not_reached_as_pending(vigil: Vigil) -> None:
    case_id = open_case(vigil, notes=2)
    vigil.integrity.notary.catch_up()
    vigil.cases.execute(case_id, c.AddNote(kind="note", text="Called back, no answer."), LEAD)

    report = vigil.integrity.verify([vigil.integrity.public_key()])

    assert report.ok
    # (with the default service and the SLA policy's first version, recorded with the first case)
    assert (report.events, report.ledger_size, report.pending) == (7, 6, 1)


def test_an_export_proves_each_event_of_the_case_against_one_checkpoint(vigil: Vigil) -> None:
    open_case(vigil, notes=2)
    # the log: 11 events (with the default service's and the SLA policy's first version), the
    # last checkpoint due at 8
    case_id = open_case(vigil, notes=4)

    export = vigil.integrity.export_case(case_id, vigil.cases.timeline(case_id))

    assert [e.version for e in export.events] == [1, 2, 3, 4, 5]
    assert export.checkpoint.tree_size == 11, "signed on demand to cover the whole case"
    for item in export.events:
        assert item.leaf is not None
        assert item.stored is not None
        assert item.event is not None
        verify_inclusion(
            item.leaf.tree_index,
            export.checkpoint.tree_size,
            item.leaf.leaf_hash,
            item.proof,
            export.checkpoint.root_hash,
        )


def test_the_signing_key_is_made_once_readable_by_its_owner_only(
    vigil: Vigil, settings: Settings
) -> None:
    key = vigil.integrity.public_key()
    path = settings.data_dir / "signing-key.pem"

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert SigningKey.from_settings(None, settings.data_dir).public.key_id == key.key_id
    assert SigningKey.from_settings(path, settings.data_dir).public.key_id == key.key_id
    with pytest.raises(SigningKeyError):
        _ = SigningKey.from_settings(settings.data_dir / "missing.pem", settings.data_dir).public
