"""Events of community intake: a service's intake settings, deliveries, forum members, topics.

THESE CLASSES ARE THE STORAGE FORMAT (topic ``domain.community.events:<Class>``): never rename
or move them, never remove or retype a field; add fields only with defaults.

Streams (ids in ``domain.community.ids``):

* the intake of a service (``intake_id``): its webhook secret (sealed under the stream's own
  key: a secret, never shown) and the forum accounts an admin maps to Vigil users;
* a delivery (``delivery_id``: the service and Discourse's event id): one event, what Vigil took
  from it, so a retry is recognised and counted once; its engagement facts (category, day) are
  counted by the views, and no user, name or text of a post is kept in it;
* a forum member (``member_id``: the service and the forum's user id): joined, their first topic,
  welcomed, the cases intake opened about them. The member is a data subject (kind ``member``,
  ref ``<service>:user-<forum user id>``, ``member_ref``): their forum username and anything
  written about them are sealed under their key, and go with their erasure;
* a new member's first topic (``topic_id``): whose topic it is, so a reply in it is a welcome.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.personal import DataSubjectOf
from domain.shared import PERSONAL, Role

Personal = Annotated[str, PERSONAL]


class WelcomeWay(StrEnum):
    """How a new member was welcomed."""

    REPLY = "reply"  # a mapped account replied in the member's first topic
    MESSAGE = "message"  # a mapped account wrote to the member in a private message
    RECORDED = "recorded"  # recorded by hand: a welcome made outside the forum


class ActivityKind(StrEnum):
    TOPIC = "topic"
    POST = "post"


class DeliveryEffect(StrEnum):
    """What a delivery did, as recorded on it."""

    MEMBER_JOINED = "member_joined"
    FIRST_TOPIC = "first_topic"
    MEMBER_WELCOMED = "member_welcomed"
    FLAG_RAISED = "flag_raised"
    CASE_OPENED = "case_opened"
    ACTIVITY_COUNTED = "activity_counted"


class CommunityEvent(BaseModel):
    """Envelope shared by every community intake event."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID
    originator_version: int = Field(ge=1)
    event_id: UUID
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: str
    actor_role: Role
    service: str

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at


# --- a service's intake ----------------------------------------------------------------------


class DiscourseIntakeConfigured(CommunityEvent):
    """An admin set the service's Discourse webhook secret (a later one replaces it)."""

    secret: Personal  # sealed: never shown, read only to check a delivery's signature
    forum_url: str | None = None  # where post links point, e.g. https://forum.example.org

    # A secret is about no person: sealed under the intake stream's own key.
    __data_subject__ = DataSubjectOf.own_stream


class ForumAccountLinked(CommunityEvent):
    """A forum account (its username, lower-cased) is a Vigil user's: its replies welcome."""

    forum_username: str
    username: str


class ForumAccountUnlinked(CommunityEvent):
    forum_username: str


# --- a delivery ----------------------------------------------------------------------------


class ForumActivity(BaseModel):
    """A topic or post counted for engagement: where and what, never who or what it said."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActivityKind
    category_id: int | None = None
    category: str | None = None  # the category's slug, when the payload names it
    topic_id: int
    post_id: int | None = None


class DiscourseDeliveryContentSeen(CommunityEvent):
    """A delivery's content (its event and body: ``content_digest``) was taken, under the event
    id it came with: an automatic retry, which Discourse sends under a new event id with the same
    body, finds it and is counted once."""

    delivery_id: UUID
    discourse_event_id: str


class DiscourseDeliveryAccepted(CommunityEvent):
    """A signed delivery Vigil used; ``occurred_at`` is when it happened on the forum (never
    later than its recording)."""

    discourse_event_id: str
    event_type: str  # X-Discourse-Event-Type: topic, post, user, flag, reviewable
    event_name: str  # X-Discourse-Event: post_created, user_created, ...
    body_sha256: str  # the raw body's digest: a retry carries the same bytes
    effects: tuple[DeliveryEffect, ...] = ()
    activity: ForumActivity | None = None
    case_id: UUID | None = None  # the case a flag was raised on or opened


# --- a forum member ----------------------------------------------------------------------------


class MemberEvent(CommunityEvent):
    """An event of a member's stream: about the member, a data subject of kind ``member``."""

    member_ref: str
    # The forum's id of the account; None for an author an old ``flag_created`` names only by
    # username (their ref is then a keyed digest of it: ``<service>:name-<digest>``).
    forum_user_id: int | None = None

    __data_subject__ = DataSubjectOf.forum_member


class ForumMemberJoined(MemberEvent):
    """A new account on the forum (``occurred_at``: when it was created there): the welcome
    clock starts."""

    username: Personal
    delivery_id: UUID


class ForumMemberStartedTopic(MemberEvent):
    """The new member's first topic: a reply in it by a mapped account welcomes them."""

    topic_id: int
    delivery_id: UUID


class ForumMemberWelcomed(MemberEvent):
    """The member was welcomed, by a Vigil user (``welcomed_by``): on the forum (a delivery) or
    recorded by hand (``note``: how, in the recorder's words)."""

    how: WelcomeWay
    welcomed_by: str
    post_ref: str | None = None
    note: Personal | None = None
    delivery_id: UUID | None = None


class ForumMemberCaseOpened(MemberEvent):
    """Intake opened a case about the member (from a flagged post of theirs): later flags go to
    it while it is open."""

    case_id: UUID
    delivery_id: UUID


# --- a new member's first topic ----------------------------------------------------------------


class NewMemberTopicStarted(CommunityEvent):
    """A new member's first topic: whose it is (the member's stream and ref)."""

    topic_id: int
    member_id: UUID
    member_ref: str


EVENT_TYPES: dict[str, type[CommunityEvent]] = {
    cls.__name__: cls
    for cls in (
        DiscourseIntakeConfigured,
        ForumAccountLinked,
        ForumAccountUnlinked,
        DiscourseDeliveryContentSeen,
        DiscourseDeliveryAccepted,
        ForumMemberJoined,
        ForumMemberStartedTopic,
        ForumMemberWelcomed,
        ForumMemberCaseOpened,
        NewMemberTopicStarted,
    )
}
