"""Community intake's sealing and erasure, on SQLite and PostgreSQL: the webhook secret and a
member's username are never stored readable, and erasing the member (kind ``member``) makes
their username, and the case opened from a flag on their post, read ``[erased]``."""

from __future__ import annotations

from uuid import UUID

from domain.case.vocabulary import SubjectKind
from domain.community.events import ForumMemberJoined
from domain.community.ids import member_ref, member_stream_id
from domain.personal import ERASED
from domain.shared import Actor, Role
from domain.subject.subject import EraseSubject
from infrastructure.discourse import Delivery, sign
from interfaces.composition import Vigil
from tests.intake_support import FORUM, SECRET, encoded, payload, set_up_forum

LEAD = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)


def receive(vigil: Vigil, name: str, event_id: str, **fields: object) -> UUID | None:
    headers, body = payload(name, **fields)
    raw = encoded(body)
    answer = vigil.community.receive(
        FORUM,
        Delivery(event_id, headers["X-Discourse-Event-Type"], headers["X-Discourse-Event"], raw),
        sign(SECRET, raw),
    )
    assert answer.status == "accepted"
    return answer.case_id


def stored_text(vigil: Vigil, needle: str) -> bool:
    recorder = vigil.event_log.recorder
    return any(needle.encode() in bytes(n.state) for n in recorder.select_notifications(1, 10_000))


def test_the_secret_and_usernames_are_sealed_and_a_member_is_erased(vigil: Vigil) -> None:
    set_up_forum(vigil)
    receive(vigil, "user_created", "1", id=43, username="QuietLantern")
    case_id = receive(vigil, "reviewable_created_flagged_post", "2", target_created_by_id=43)
    assert case_id is not None
    assert not stored_text(vigil, SECRET)
    assert not stored_text(vigil, "QuietLantern")
    assert not stored_text(vigil, "Hold the button")
    ref = member_ref(FORUM, 43)
    [joined] = [
        e
        for e in vigil.event_log.events_of(member_stream_id(ref))
        if isinstance(e, ForumMemberJoined)
    ]
    assert joined.username == "QuietLantern"

    vigil.data_protection.erase(
        ref,
        EraseSubject(
            kind=SubjectKind.MEMBER,
            lawful_basis="UK GDPR Art. 17",
            reason="The member asked us to erase their data.",
        ),
        LEAD,
    )

    [joined] = [
        e
        for e in vigil.event_log.events_of(member_stream_id(ref))
        if isinstance(e, ForumMemberJoined)
    ]
    assert joined.username == ERASED
    case = vigil.cases.load(case_id)
    assert case is not None
    assert case.summary == ERASED
