"""A long-running server touches ever more data subjects: its keyring must not remember them all.

The keyring keeps subject keys (and which subject each case belongs to) in memory so a write
or a read does not query the key table every time. Without a bound that memory grows by one
entry per subject and per case for as long as the process runs (issue 11, finding 13: the
server's memory grew steadily under writes). Forgetting an entry costs a query, never a
wrong answer: these tests run on the real key table, SQLite and PostgreSQL.
"""

from __future__ import annotations

from uuid import uuid4

from infrastructure.keys import SubjectKeyring, open_sealed, seal
from infrastructure.master_key import load_master_key
from infrastructure.settings import Settings
from interfaces.composition import Vigil
from projections.store import view_store_for
from tests.conftest import Clock

BOUND = 20
SUBJECTS = 5 * BOUND


def small_keyring(vigil: Vigil, settings: Settings, clock: Clock) -> SubjectKeyring:
    """A second keyring on the same store (another process, as it were) that remembers little."""
    keyring = SubjectKeyring(
        load_master_key(settings), clock=clock, cache_seconds=300, memory_entries=BOUND
    )
    keyring.attach(view_store_for(vigil.event_log.recorder))
    return keyring


def test_the_keyring_remembers_no_more_than_its_bound_however_many_subjects_it_meets(
    vigil: Vigil, settings: Settings, clock: Clock
) -> None:
    # Given a keyring bounded to 20 entries of each kind
    keyring = small_keyring(vigil, settings, clock)

    # When it writes, binds and reads for five times as many subjects and cases
    sealed: list[tuple[str, str]] = []
    for n in range(SUBJECTS):
        subject = keyring.subject_hash("member", f"forum-member-{n}")
        key = keyring.key_for_writing(subject)
        keyring.bind_case(uuid4(), subject)
        envelope = seal(key, f"note {n}".encode(), b"soak")
        assert keyring.key_for_reading(key.key_id) is not None
        sealed.append((key.key_id, envelope))

    # Then it holds at most its bound of keys to read, keys to write and case subjects
    assert keyring.entries_in_memory() <= 3 * BOUND
    # And what it forgot still reads back from the key table: the first subject's text opens
    key_id, envelope = sealed[0]
    aead = keyring.key_for_reading(key_id)
    assert aead is not None
    assert open_sealed(aead, envelope, b"soak") == b"note 0"


def test_a_forgotten_destroyed_key_stays_destroyed(
    vigil: Vigil, settings: Settings, clock: Clock
) -> None:
    # Given a subject whose key was destroyed (erasure), then pushed out of the keyring's memory
    keyring = small_keyring(vigil, settings, clock)
    erased = keyring.subject_hash("member", "forum-member-erased")
    key = keyring.key_for_writing(erased)
    keyring.destroy([erased])
    for n in range(SUBJECTS):
        keyring.key_for_reading(
            keyring.key_for_writing(keyring.subject_hash("member", str(n))).key_id
        )
    assert keyring.entries_in_memory() <= 3 * BOUND

    # When its key is asked for again, Then the key table still says it is gone
    assert keyring.key_for_reading(key.key_id) is None
    # And a new write for that subject gets a new key, not the destroyed one
    assert keyring.key_for_writing(erased).key_id != key.key_id
