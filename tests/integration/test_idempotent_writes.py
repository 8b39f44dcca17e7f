"""Keyed writes outside cases under races, on SQLite and PostgreSQL.

A client that times out and retries at once can have its retry arrive while the first request
is still being written. Whichever wins, one write is made, and every request carrying the key
answers with it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from application.idempotency import KeyedRequest, WriteKeys
from domain.case.vocabulary import SubjectKind
from domain.idempotency import IdempotencyKeyUsed
from domain.shared import Role
from domain.subject.events import LegalHoldPlaced
from domain.subject.subject import PlaceLegalHold
from interfaces.composition import Vigil
from tests.story import LEAD

HOLD = PlaceLegalHold(kind=SubjectKind.MEMBER, reason="Police asked us to preserve the records.")
KEYED = KeyedRequest(key="hold-1", request_hash="a" * 64)


def test_racing_retries_of_a_keyed_hold_make_one_hold(vigil: Vigil) -> None:
    def place() -> tuple[str, bool]:
        result = vigil.data_protection.place_hold("member-7", HOLD, LEAD, request=KEYED)
        return str(result.event.event_id), result.replayed

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: place(), range(6)))

    assert len({event_id for event_id, _ in answers}) == 1
    assert sorted(replayed for _, replayed in answers) == [False] + [True] * 5
    subject_id = vigil.data_protection.subject_id(SubjectKind.MEMBER, "member-7")
    history = list(vigil.event_log.events_of(subject_id))
    assert [type(e) for e in history] == [LegalHoldPlaced]
    [used] = vigil.event_log.events_of(WriteKeys.key_id(LEAD.username, "hold-1"))
    assert isinstance(used, IdempotencyKeyUsed)
    assert (used.target_id, used.target_version) == (subject_id, 1)


def test_racing_retries_of_a_keyed_registration_make_one_user(vigil: Vigil) -> None:
    keyed = KeyedRequest(key="register-sam", request_hash="b" * 64)

    def register() -> bool:
        return vigil.identity.register_user(
            "sam", Role.VOLUNTEER, actor="ada", request=keyed
        ).replayed

    with ThreadPoolExecutor(max_workers=6) as pool:
        replayed = list(pool.map(lambda _: register(), range(6)))

    assert sorted(replayed) == [False] + [True] * 5
    user = vigil.identity.get("sam")
    assert user is not None
    assert user.version == 1
