"""Forum members' events for tests, made by the domain's own decisions
(``domain.community.decide``) and saved to the log as community intake's service saves them:
a new account from a delivery, a welcome recorded by hand, a reply that welcomes."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from domain.community.decide import RecordWelcome, join, record_welcome, welcome_on_forum
from domain.community.events import WelcomeWay
from domain.community.forum import NewForumUser
from domain.community.ids import member_id, member_ref, member_stream_id
from domain.community.state import fold_member
from domain.shared import Actor, DecisionContext, Role
from interfaces.composition import Vigil
from tests.conftest import Clock

SERVICE = "forum"
HOST = Actor(username="hana", role=Role.VOLUNTEER)
INTAKE = Actor(username=f"intake:{SERVICE}", role=Role.MODERATOR)


def joins(vigil: Vigil, clock: Clock, user: int, created_at: datetime) -> str:
    """A delivery brings a new account (created on the forum at ``created_at``)."""
    stream = member_id(SERVICE, user)
    state = fold_member(None, vigil.event_log.events_of(stream))
    events = join(
        state,
        stream,
        SERVICE,
        NewForumUser(created_at=created_at, forum_user_id=user, username=f"newbie{user}"),
        uuid4(),
        DecisionContext(actor=INTAKE, now=clock()),
    )
    assert events
    vigil.event_log.save(*events)
    return member_ref(SERVICE, user)


def welcomes(vigil: Vigil, clock: Clock, ref: str, at: datetime | None = None) -> None:
    """A host records a welcome made outside the forum."""
    stream = member_stream_id(ref)
    state = fold_member(None, vigil.event_log.events_of(stream))
    ctx = DecisionContext(actor=HOST, now=clock())
    vigil.event_log.save(*record_welcome(state, RecordWelcome(occurred_at=at), ctx))


def replied(vigil: Vigil, clock: Clock, ref: str) -> None:
    """A mapped account's reply in the member's first topic welcomes them (a delivery)."""
    state = fold_member(None, vigil.event_log.events_of(member_stream_id(ref)))
    ctx = DecisionContext(actor=INTAKE, now=clock())
    events = welcome_on_forum(
        state,
        how=WelcomeWay.REPLY,
        welcomed_by="moe",
        post_ref=f"{SERVICE}:post-9",
        at=clock(),
        delivery=uuid4(),
        ctx=ctx,
    )
    vigil.event_log.save(*events)
