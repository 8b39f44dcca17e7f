"""Community intake's decisions: pure, ids and the clock from the caller.

An intake's settings: its webhook secret (at least 16 characters: Discourse's own minimum is
12; a short secret is guessable) and the forum accounts that are Vigil users'. A delivery's
effects on a member: joining starts the welcome clock; their first topic is remembered (a reply
in it by a mapped account welcomes them); a welcome, on the forum or recorded by hand, stops the
clock once. Moments from the forum are taken as they are, but never later than the server's
clock (a forum whose clock runs fast cannot date a welcome in Vigil's future).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.case.ids import event_id_for
from domain.community.errors import AlreadyWelcomed, MemberNotFound
from domain.community.events import (
    ActivityKind,
    DeliveryEffect,
    DiscourseDeliveryAccepted,
    DiscourseDeliveryContentSeen,
    DiscourseIntakeConfigured,
    ForumAccountLinked,
    ForumAccountUnlinked,
    ForumActivity,
    ForumMemberCaseOpened,
    ForumMemberJoined,
    ForumMemberStartedTopic,
    ForumMemberWelcomed,
    NewMemberTopicStarted,
    WelcomeWay,
)
from domain.community.forum import NewForumUser
from domain.community.ids import member_ref, topic_stream_id
from domain.community.state import IntakeState, MemberState
from domain.errors import InvalidCommand, ItemNotFound
from domain.shared import Actor, DecisionContext, Line, Moment, PersonalText, Role, Username

# Discourse usernames: 3 to 60 word characters, '.', '-' (its own rule, lower-cased here).
ForumUsername = Annotated[
    Line,
    StringConstraints(min_length=1, max_length=60, pattern=r"^[\w.\-]+$", to_lower=True),
]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=500, pattern=r"^\S+$")]
ForumUrl = Annotated[str, StringConstraints(max_length=300, pattern=r"^https?://[^\s/]+(/\S*)?$")]


INTAKE_ACTOR_PREFIX = "intake:"


def intake_actor(service: str) -> Actor:
    """Who records what a forum's delivery brought: the intake, not a person (a name no user
    can have: usernames never hold ':')."""
    return Actor(username=f"{INTAKE_ACTOR_PREFIX}{service}", role=Role.MODERATOR)


class ConfigureDiscourseIntake(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    secret: Secret
    forum_url: ForumUrl | None = None


class LinkForumAccount(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    forum_username: ForumUsername
    username: Username


class UnlinkForumAccount(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    forum_username: ForumUsername


class RecordWelcome(BaseModel):
    """A welcome made outside the forum (a phone call, an email), recorded by who made it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    occurred_at: Moment | None = Field(
        default=None, description="When the welcome was made (default now); not before joining."
    )
    note: PersonalText | None = Field(default=None, description="How (sealed: personal).")


def _envelope(
    stream: UUID, version: int, at: datetime, ctx: DecisionContext, service: str
) -> dict[str, object]:
    return {
        "originator_id": stream,
        "originator_version": version,
        "event_id": event_id_for(stream, version),
        "occurred_at": at,
        "recorded_at": ctx.now,
        "actor": ctx.actor.username,
        "actor_role": ctx.actor.role,
        "service": service,
    }


def forum_moment(at: datetime, ctx: DecisionContext) -> datetime:
    """A moment from the forum, never later than the server's clock."""
    return min(at, ctx.now)


# --- an intake's settings -----------------------------------------------------------------------


def configure(
    state: IntakeState | None,
    stream: UUID,
    service: str,
    command: ConfigureDiscourseIntake,
    ctx: DecisionContext,
) -> list[DiscourseIntakeConfigured]:
    version = 1 if state is None else state.version + 1
    return [
        DiscourseIntakeConfigured(
            **_envelope(stream, version, ctx.now, ctx, service),
            secret=command.secret,
            forum_url=command.forum_url.rstrip("/") if command.forum_url else None,
        )
    ]


def link_account(
    state: IntakeState | None,
    stream: UUID,
    service: str,
    command: LinkForumAccount,
    ctx: DecisionContext,
) -> list[ForumAccountLinked]:
    """Map a forum account to a Vigil user (nothing if it already is that user's)."""
    if state is not None and state.accounts.get(command.forum_username) == command.username:
        return []
    version = 1 if state is None else state.version + 1
    return [
        ForumAccountLinked(
            **_envelope(stream, version, ctx.now, ctx, service),
            forum_username=command.forum_username,
            username=command.username,
        )
    ]


def unlink_account(
    state: IntakeState | None,
    stream: UUID,
    service: str,
    command: UnlinkForumAccount,
    ctx: DecisionContext,
) -> list[ForumAccountUnlinked]:
    if state is None or command.forum_username not in state.accounts:
        raise ItemNotFound(
            f"the forum account {command.forum_username!r} is not mapped in {service!r}",
            errors={"forum_username": "not mapped"},
        )
    return [
        ForumAccountUnlinked(
            **_envelope(stream, state.version + 1, ctx.now, ctx, service),
            forum_username=command.forum_username,
        )
    ]


# --- a delivery ---------------------------------------------------------------------------------


def content_seen(
    stream: UUID,
    service: str,
    *,
    delivery: UUID,
    discourse_event_id: str,
    at: datetime,
    ctx: DecisionContext,
) -> DiscourseDeliveryContentSeen:
    return DiscourseDeliveryContentSeen(
        **_envelope(stream, 1, forum_moment(at, ctx), ctx, service),
        delivery_id=delivery,
        discourse_event_id=discourse_event_id,
    )


def delivery_accepted(
    stream: UUID,
    service: str,
    *,
    discourse_event_id: str,
    event_type: str,
    event_name: str,
    body_sha256: str,
    at: datetime,
    effects: list[DeliveryEffect],
    activity: ForumActivity | None,
    case_id: UUID | None,
    ctx: DecisionContext,
) -> DiscourseDeliveryAccepted:
    return DiscourseDeliveryAccepted(
        **_envelope(stream, 1, forum_moment(at, ctx), ctx, service),
        discourse_event_id=discourse_event_id,
        event_type=event_type,
        event_name=event_name,
        body_sha256=body_sha256,
        effects=tuple(effects),
        activity=activity,
        case_id=case_id,
    )


def activity_of(
    kind: ActivityKind,
    *,
    topic_id: int,
    post_id: int | None,
    category_id: int | None,
    category: str | None,
) -> ForumActivity:
    return ForumActivity(
        kind=kind, topic_id=topic_id, post_id=post_id, category_id=category_id, category=category
    )


# --- a member -----------------------------------------------------------------------------------


def _member_envelope(
    state: MemberState | None,
    stream: UUID,
    service: str,
    ref: str,
    forum_user_id: int | None,
    at: datetime,
    ctx: DecisionContext,
) -> dict[str, object]:
    version = 1 if state is None else state.version + 1
    return {
        **_envelope(stream, version, at, ctx, service),
        "member_ref": ref,
        "forum_user_id": forum_user_id,
    }


def join(
    state: MemberState | None,
    stream: UUID,
    service: str,
    user: NewForumUser,
    delivery: UUID,
    ctx: DecisionContext,
) -> list[ForumMemberJoined]:
    """A new account: the welcome clock starts (once: a member who joined already is not new)."""
    if state is not None and state.joined_at is not None:
        return []
    return [
        ForumMemberJoined(
            **_member_envelope(
                state,
                stream,
                service,
                member_ref(service, user.forum_user_id),
                user.forum_user_id,
                forum_moment(user.created_at, ctx),
                ctx,
            ),
            username=user.username,
            delivery_id=delivery,
        )
    ]


def start_topic(
    state: MemberState | None,
    topic_id: int,
    at: datetime,
    delivery: UUID,
    ctx: DecisionContext,
) -> list[ForumMemberStartedTopic | NewMemberTopicStarted]:
    """A member awaiting their welcome started their first topic: remembered on their stream
    and on the topic's (so a reply in it finds them). Later topics, or a welcomed member's, are
    not remembered."""
    if state is None or not state.awaiting_welcome or state.first_topic_id is not None:
        return []
    moment = forum_moment(at, ctx)
    topic_stream = topic_stream_id(state.service, topic_id)
    return [
        ForumMemberStartedTopic(
            **_member_envelope(
                state, state.id, state.service, state.member_ref, state.forum_user_id, moment, ctx
            ),
            topic_id=topic_id,
            delivery_id=delivery,
        ),
        NewMemberTopicStarted(
            **_envelope(topic_stream, 1, moment, ctx, state.service),
            topic_id=topic_id,
            member_id=state.id,
            member_ref=state.member_ref,
        ),
    ]


def welcome_on_forum(
    state: MemberState | None,
    *,
    how: WelcomeWay,
    welcomed_by: str,
    post_ref: str | None,
    at: datetime,
    delivery: UUID,
    ctx: DecisionContext,
) -> list[ForumMemberWelcomed]:
    """A mapped account's reply or message welcomes a member awaiting it (made after joining);
    anything else welcomes no one."""
    moment = forum_moment(at, ctx)
    if state is None or not state.awaiting_welcome:
        return []
    assert state.joined_at is not None
    if moment < state.joined_at:
        return []
    return [
        ForumMemberWelcomed(
            **_member_envelope(
                state, state.id, state.service, state.member_ref, state.forum_user_id, moment, ctx
            ),
            how=how,
            welcomed_by=welcomed_by,
            post_ref=post_ref,
            delivery_id=delivery,
        )
    ]


def record_welcome(
    state: MemberState | None, command: RecordWelcome, ctx: DecisionContext
) -> list[ForumMemberWelcomed]:
    """A welcome made elsewhere, recorded by hand: for a member who joined and awaits it, at a
    moment between joining and now (within the allowed clock skew)."""
    if state is None or state.joined_at is None:
        raise MemberNotFound("no member with this ref joined through intake in this service")
    if state.welcomed_at is not None:
        raise AlreadyWelcomed(
            f"the member was welcomed at {state.welcomed_at.isoformat()}; "
            "a welcome is recorded once"
        )
    at = command.occurred_at or ctx.now
    if at > ctx.now + ctx.max_clock_skew:
        raise InvalidCommand(
            "occurred_at is in the future", errors={"occurred_at": "later than the server clock"}
        )
    if at < state.joined_at:
        raise InvalidCommand(
            "a welcome cannot come before the member joined",
            errors={"occurred_at": f"before joining ({state.joined_at.isoformat()})"},
        )
    return [
        ForumMemberWelcomed(
            **_member_envelope(
                state, state.id, state.service, state.member_ref, state.forum_user_id, at, ctx
            ),
            how=WelcomeWay.RECORDED,
            welcomed_by=ctx.actor.username,
            note=command.note,
        )
    ]


def case_opened_about(
    state: MemberState | None,
    stream: UUID,
    service: str,
    ref: str,
    forum_user_id: int | None,
    case_id: UUID,
    at: datetime,
    delivery: UUID,
    ctx: DecisionContext,
) -> list[ForumMemberCaseOpened]:
    """Intake opened a case about the member: their stream remembers it (and a second flag
    decided at the same time loses the race on it, and joins the case instead)."""
    return [
        ForumMemberCaseOpened(
            **_member_envelope(
                state, stream, service, ref, forum_user_id, forum_moment(at, ctx), ctx
            ),
            case_id=case_id,
            delivery_id=delivery,
        )
    ]
