"""Community intake's sealing and erasure, on SQLite and PostgreSQL: the webhook secret and a
member's username are never stored readable, and erasing the member (kind ``member``) makes
their username, and the case opened from a flag on their post, read ``[erased]``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.case.commands import CloseCase, OpenCase, ReopenCase, SubjectInput
from domain.case.vocabulary import CaseSource, Category, SubjectKind
from domain.community.decide import LinkForumAccount
from domain.community.errors import DeliveryNotAuthenticated, InvalidDelivery
from domain.community.events import ForumMemberJoined
from domain.community.ids import intake_id, member_ref, member_stream_id
from domain.errors import InvalidCommand
from domain.personal import ERASED, OwnStream
from domain.shared import Actor, Role
from domain.subject.subject import EraseSubject
from infrastructure.discourse import Delivery, sign
from infrastructure.persistence import subject_hashes
from interfaces.composition import Vigil, bootstrap
from tests.conftest import Clock
from tests.intake_support import FORUM, SECRET, encoded, payload, set_up_forum, when

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


def answer(vigil: Vigil, name: str, event_id: str, secret: str = SECRET, **fields: object) -> Any:
    headers, body = payload(name, **fields)
    raw = encoded(body)
    return vigil.community.receive(
        FORUM,
        Delivery(event_id, headers["X-Discourse-Event-Type"], headers["X-Discourse-Event"], raw),
        sign(secret, raw),
    )


def test_an_intake_whose_secret_cannot_be_read_authenticates_nothing(vigil: Vigil) -> None:
    """Its key gone, the secret would read "[erased]", which anyone can sign with: refused."""
    set_up_forum(vigil)
    [subject_hash] = subject_hashes(vigil.event_log, [OwnStream(intake_id(FORUM))])
    vigil.event_log.mapper.keyring.destroy([subject_hash])  # type: ignore[attr-defined]
    fresh = bootstrap(vigil.settings)  # another process: nothing cached
    try:
        before = fresh.event_log.recorder.max_notification_id()
        with pytest.raises(DeliveryNotAuthenticated):
            answer(fresh, "user_created", "9", secret=ERASED, id=77)
        with pytest.raises(DeliveryNotAuthenticated):
            answer(fresh, "user_created", "9", id=77)
        assert fresh.event_log.recorder.max_notification_id() == before
    finally:
        fresh.close()


def test_a_flag_made_while_the_case_was_closed_is_dated_at_its_reopening(
    vigil: Vigil, clock: Clock
) -> None:
    set_up_forum(vigil)
    at = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    clock.set(at)
    case_id = answer(
        vigil,
        "reviewable_created_flagged_post",
        "1",
        id=1,
        target_id=10,
        target_created_by_id=43,
        created_at=when(at),
    ).case_id
    clock.set(at + timedelta(minutes=30))
    vigil.cases.execute(
        case_id,
        CloseCase(outcome="no action", rationale="Nothing wrong with the post at all."),
        LEAD,
    )
    clock.set(at + timedelta(minutes=60))
    vigil.cases.execute(case_id, ReopenCase(reason="Another moderator asked to look again."), LEAD)
    clock.set(at + timedelta(minutes=90))
    # A flag made at 08:45, while the case was closed, delivered late
    late = answer(
        vigil,
        "reviewable_created_flagged_post",
        "2",
        id=2,
        target_id=11,
        target_created_by_id=43,
        created_at=when(at + timedelta(minutes=45)),
    )
    assert late.status == "accepted"
    assert late.case_id == case_id
    flag = vigil.cases.timeline(case_id)[-1]
    assert type(flag).__name__ == "FlagRaised"
    assert flag.occurred_at == at + timedelta(minutes=60)


def test_a_flag_joins_a_case_opened_by_hand_about_the_member(vigil: Vigil) -> None:
    set_up_forum(vigil)
    ref = member_ref(FORUM, 43)
    written = vigil.cases.execute(
        None,
        OpenCase(
            subject=SubjectInput(kind=SubjectKind.MEMBER, ref=ref),
            source=CaseSource.STAFF_CONCERN,
            category=Category.HARASSMENT,
            summary="Messages reported by another member.",
            service=FORUM,
        ),
        LEAD,
    )
    flagged = answer(vigil, "reviewable_created_flagged_post", "1", target_created_by_id=43)
    assert flagged.effects == ("flag_raised",)
    assert flagged.case_id == written.state.id


def test_a_signed_body_with_a_time_without_offset_or_too_deep_is_invalid(vigil: Vigil) -> None:
    set_up_forum(vigil)
    before = vigil.event_log.recorder.max_notification_id()
    with pytest.raises(InvalidDelivery):
        answer(vigil, "user_created", "1", id=43, created_at="2026-11-16T20:00:00")
    deep = b'{"user":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(InvalidDelivery):
        vigil.community.receive(
            FORUM, Delivery("2", "user", "user_created", deep), sign(SECRET, deep)
        )
    assert vigil.event_log.recorder.max_notification_id() == before


def test_only_a_host_moderator_coordinator_or_lead_account_welcomes(vigil: Vigil) -> None:
    set_up_forum(vigil)
    vigil.identity.register("tess", Role.TRUSTEE, actor="setup")
    with pytest.raises(InvalidCommand, match="welcome new members"):
        vigil.community.link_account(
            FORUM, LinkForumAccount(forum_username="tess_forum", username="tess"), LEAD
        )


def test_a_members_own_records_are_in_their_subject_access_export(vigil: Vigil) -> None:
    set_up_forum(vigil)
    answer(vigil, "user_created", "1", id=43, username="QuietLantern")
    [record] = vigil.data_protection.export(member_ref(FORUM, 43), SubjectKind.MEMBER)
    [joined] = record.forum_member
    assert isinstance(joined, ForumMemberJoined)
    assert joined.username == "QuietLantern"
