"""Community intake's decisions as stories: given a member's events, when something happens on
the forum (or a welcome is recorded by hand), then exactly these events, or this refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.community import decide as d
from domain.community.errors import AlreadyWelcomed, MemberNotFound
from domain.community.events import ForumMemberJoined, ForumMemberWelcomed, WelcomeWay
from domain.community.forum import NewForumUser
from domain.community.ids import member_id, member_ref, service_of_member_ref
from domain.community.state import MemberState, fold_member
from domain.errors import InvalidCommand
from domain.shared import Actor, DecisionContext, Role

NOW = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)
JOINED = NOW - timedelta(hours=12)
SERVICE = "forum"
STREAM = member_id(SERVICE, 42)
HOST = Actor(username="hana", role=Role.VOLUNTEER)


def ctx(actor: Actor = HOST, now: datetime = NOW) -> DecisionContext:
    return DecisionContext(actor=actor, now=now, max_clock_skew=timedelta(minutes=2))


def joined(at: datetime = JOINED) -> MemberState:
    user = NewForumUser(forum_user_id=42, username="newbie", created_at=at)
    state = fold_member(
        None, d.join(None, STREAM, SERVICE, user, uuid4(), ctx(d.intake_actor(SERVICE)))
    )
    assert state is not None
    return state


def test_a_new_account_joins_once() -> None:
    state = joined()
    assert state.joined_at == JOINED
    assert state.member_ref == "forum:user-42"
    assert state.awaiting_welcome
    user = NewForumUser(forum_user_id=42, username="newbie", created_at=JOINED)
    assert d.join(state, STREAM, SERVICE, user, uuid4(), ctx()) == []


def test_a_forum_moment_is_never_after_the_server_clock() -> None:
    state = joined(at=NOW + timedelta(hours=5))
    assert state.joined_at == NOW


def test_the_first_topic_is_remembered_once_and_only_while_awaiting_welcome() -> None:
    state = joined()
    member_event, topic_event = d.start_topic(state, 7001, JOINED, uuid4(), ctx())
    assert topic_event.member_id == STREAM
    after = fold_member(state, [member_event])
    assert after is not None
    assert after.first_topic_id == 7001
    assert d.start_topic(after, 7002, JOINED, uuid4(), ctx()) == []
    assert d.start_topic(None, 7002, JOINED, uuid4(), ctx()) == []


def test_a_welcome_on_the_forum_stops_the_clock_once_and_never_before_joining() -> None:
    state = joined()
    early = d.welcome_on_forum(
        state,
        how=WelcomeWay.REPLY,
        welcomed_by="hana",
        post_ref=None,
        at=JOINED - timedelta(minutes=1),
        delivery=uuid4(),
        ctx=ctx(),
    )
    assert early == []
    [welcome] = d.welcome_on_forum(
        state,
        how=WelcomeWay.REPLY,
        welcomed_by="hana",
        post_ref="https://f/p/1",
        at=JOINED + timedelta(hours=1),
        delivery=uuid4(),
        ctx=ctx(),
    )
    assert isinstance(welcome, ForumMemberWelcomed)
    assert welcome.occurred_at == JOINED + timedelta(hours=1)
    welcomed = fold_member(state, [welcome])
    assert welcomed is not None
    again = d.welcome_on_forum(
        welcomed,
        how=WelcomeWay.MESSAGE,
        welcomed_by="hana",
        post_ref=None,
        at=NOW,
        delivery=uuid4(),
        ctx=ctx(),
    )
    assert again == []


def test_a_welcome_recorded_by_hand() -> None:
    state = joined()
    [welcome] = d.record_welcome(state, d.RecordWelcome(note="Rang them."), ctx())
    assert (welcome.how, welcome.welcomed_by, welcome.occurred_at) == (
        WelcomeWay.RECORDED,
        "hana",
        NOW,
    )
    welcomed = fold_member(state, [welcome])
    with pytest.raises(AlreadyWelcomed):
        d.record_welcome(welcomed, d.RecordWelcome(), ctx())
    with pytest.raises(MemberNotFound):
        d.record_welcome(None, d.RecordWelcome(), ctx())
    with pytest.raises(InvalidCommand, match="before the member joined"):
        d.record_welcome(state, d.RecordWelcome(occurred_at=JOINED - timedelta(seconds=1)), ctx())
    with pytest.raises(InvalidCommand, match="future"):
        d.record_welcome(state, d.RecordWelcome(occurred_at=NOW + timedelta(minutes=3)), ctx())


def test_settings_map_accounts_and_keep_the_secret() -> None:
    from domain.community.ids import intake_id
    from domain.community.state import fold_intake

    stream = intake_id(SERVICE)
    admin = Actor(username="ada", role=Role.ADMIN)
    configured = d.configure(
        None,
        stream,
        SERVICE,
        d.ConfigureDiscourseIntake(secret="s" * 16, forum_url="https://forum.example.org/"),
        ctx(admin),
    )
    state = fold_intake(None, configured)
    assert state is not None
    assert (state.secret, state.forum_url) == ("s" * 16, "https://forum.example.org")
    linked = d.link_account(
        state,
        stream,
        SERVICE,
        d.LinkForumAccount(forum_username="Helper", username="hana"),
        ctx(admin),
    )
    state = fold_intake(state, linked)
    assert state is not None
    assert state.accounts == {"helper": "hana"}
    assert (
        d.link_account(
            state,
            stream,
            SERVICE,
            d.LinkForumAccount(forum_username="helper", username="hana"),
            ctx(admin),
        )
        == []
    )
    with pytest.raises(ValueError, match="at least 16"):
        d.ConfigureDiscourseIntake(secret="short")


def test_member_refs_name_their_service() -> None:
    assert service_of_member_ref(member_ref("peer-forum", 7)) == "peer-forum"
    assert service_of_member_ref("member-20417") is None
    assert service_of_member_ref("forum:user-") is None


@given(st.lists(st.sampled_from(["join", "welcome", "topic"]), max_size=8))
def test_folding_never_raises(steps: list[str]) -> None:
    state: MemberState | None = None
    events = []
    for step in steps:
        if step == "join":
            user = NewForumUser(forum_user_id=42, username="n", created_at=JOINED)
            new = d.join(state, STREAM, SERVICE, user, uuid4(), ctx())
        elif step == "welcome":
            new = d.welcome_on_forum(
                state,
                how=WelcomeWay.REPLY,
                welcomed_by="h",
                post_ref=None,
                at=NOW,
                delivery=uuid4(),
                ctx=ctx(),
            )
        else:
            new = [
                e for e in d.start_topic(state, 1, NOW, uuid4(), ctx()) if e.originator_id == STREAM
            ]
        events += new
        state = fold_member(state, new)
    assert sum(isinstance(e, ForumMemberJoined) for e in events) <= 1
    assert sum(isinstance(e, ForumMemberWelcomed) for e in events) <= 1
