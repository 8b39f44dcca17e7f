"""States of community intake's streams, folded from their events (``evolve`` never raises)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.community.events import (
    DiscourseDeliveryAccepted,
    DiscourseDeliveryContentSeen,
    DiscourseIntakeConfigured,
    ForumAccountLinked,
    ForumAccountUnlinked,
    ForumMemberCaseOpened,
    ForumMemberJoined,
    ForumMemberStartedTopic,
    ForumMemberWelcomed,
    NewMemberTopicStarted,
)
from domain.personal import ERASED


class IntakeState(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    version: int
    service: str
    secret: str | None = None  # None until configured (or read without its key)
    configured: bool = False
    forum_url: str | None = None
    accounts: dict[str, str] = {}  # forum username (lower-cased) -> Vigil username


class DeliveryState(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    version: int
    body_sha256: str
    event_name: str
    effects: tuple[str, ...] = ()
    case_id: UUID | None = None


class ContentSeenState(BaseModel):
    """A delivery's content, taken: under which delivery (event id)."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    version: int
    delivery_id: UUID


class MemberState(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    version: int
    service: str
    member_ref: str
    forum_user_id: int | None = None
    joined_at: datetime | None = None
    first_topic_id: int | None = None
    welcomed_at: datetime | None = None
    case_ids: tuple[UUID, ...] = ()

    @property
    def awaiting_welcome(self) -> bool:
        return self.joined_at is not None and self.welcomed_at is None


class TopicState(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    version: int
    topic_id: int
    member_id: UUID
    member_ref: str


def fold_intake(state: IntakeState | None, events: Iterable[Any]) -> IntakeState | None:
    for e in events:
        base = state or IntakeState(id=e.originator_id, version=0, service=e.service)
        update: dict[str, Any] = {"version": e.originator_version}
        if isinstance(e, DiscourseIntakeConfigured):
            # A secret read back without its key reads "[erased]": not a secret at all.
            secret = None if e.secret == ERASED else e.secret
            update |= {"secret": secret, "configured": secret is not None, "forum_url": e.forum_url}
        elif isinstance(e, ForumAccountLinked):
            update["accounts"] = {**base.accounts, e.forum_username: e.username}
        elif isinstance(e, ForumAccountUnlinked):
            update["accounts"] = {k: v for k, v in base.accounts.items() if k != e.forum_username}
        state = base.model_copy(update=update)
    return state


def fold_delivery(state: DeliveryState | None, events: Iterable[Any]) -> DeliveryState | None:
    for e in events:
        if isinstance(e, DiscourseDeliveryAccepted):
            state = DeliveryState(
                id=e.originator_id,
                version=e.originator_version,
                body_sha256=e.body_sha256,
                event_name=e.event_name,
                effects=tuple(e.effects),
                case_id=e.case_id,
            )
        elif state is not None:
            state = state.model_copy(update={"version": e.originator_version})
    return state


def fold_content(state: ContentSeenState | None, events: Iterable[Any]) -> ContentSeenState | None:
    for e in events:
        if isinstance(e, DiscourseDeliveryContentSeen):
            state = ContentSeenState(
                id=e.originator_id, version=e.originator_version, delivery_id=e.delivery_id
            )
    return state


def fold_member(state: MemberState | None, events: Iterable[Any]) -> MemberState | None:
    for e in events:
        base = state or MemberState(
            id=e.originator_id,
            version=0,
            service=e.service,
            member_ref=e.member_ref,
            forum_user_id=e.forum_user_id,
        )
        update: dict[str, Any] = {"version": e.originator_version}
        if isinstance(e, ForumMemberJoined):
            update["joined_at"] = e.occurred_at
        elif isinstance(e, ForumMemberStartedTopic):
            update["first_topic_id"] = e.topic_id
        elif isinstance(e, ForumMemberWelcomed):
            update["welcomed_at"] = e.occurred_at
        elif isinstance(e, ForumMemberCaseOpened):
            update["case_ids"] = (*base.case_ids, e.case_id)
        state = base.model_copy(update=update)
    return state


def fold_topic(state: TopicState | None, events: Iterable[Any]) -> TopicState | None:
    for e in events:
        if isinstance(e, NewMemberTopicStarted):
            state = TopicState(
                id=e.originator_id,
                version=e.originator_version,
                topic_id=e.topic_id,
                member_id=e.member_id,
                member_ref=e.member_ref,
            )
        elif state is not None:
            state = state.model_copy(update={"version": e.originator_version})
    return state
