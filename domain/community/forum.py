"""What happened on the forum, as intake reads it from a delivery (``infrastructure.discourse``
parses Discourse's payloads into these): only what Vigil uses, nothing more.

Moments are the forum's; a decision never dates anything later than its own clock.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from domain.case.vocabulary import Category, RiskLevel


class Happening(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    created_at: datetime


class NewForumUser(Happening):
    """A forum account was created (``user_created``)."""

    forum_user_id: int
    username: str


class ForumTopic(Happening):
    """A topic was created (``topic_created``): a regular one in a category, or a private
    message (``private``) to ``recipients`` (their usernames, lower-cased)."""

    topic_id: int
    forum_user_id: int
    username: str
    category_id: int | None = None
    category: str | None = None
    private: bool = False
    recipients: tuple[str, ...] = ()


class ForumPost(Happening):
    """A post was made (``post_created``); ``post_number`` 1 is a topic's first."""

    post_id: int
    topic_id: int
    post_number: int
    forum_user_id: int
    username: str
    topic_slug: str | None = None
    category_id: int | None = None
    category: str | None = None
    private: bool = False
    reply_to_user_id: int | None = None


class FlaggedPost(Happening):
    """A member flagged a post (``reviewable_created`` for a flagged post, or ``flag_created``
    from older releases): the post's author, the link, the flag's type and a short excerpt of
    the post (sealed on the case, never kept elsewhere)."""

    post_id: int
    topic_id: int | None = None
    # The post's author: their forum user id (current releases), or only their username (the
    # old ``flag_created``, whose post names no user id).
    author_user_id: int | None = None
    author_username: str | None = None
    # Discourse's post action type (spam, inappropriate, ...): the old ``flag_created`` names it;
    # a reviewable's delivery does not (its scores are ids only), so its flag reads "something
    # else" until a moderator assesses it.
    flag_type: str | None = None
    flagged_by_user_id: int | None = None
    excerpt: str | None = None


# A flag's type, as Discourse names it, read as a concern: its category and the risk a case
# opened from it starts at. Types not here are "something else": other, medium.
FLAG_TYPES: dict[str, tuple[Category, RiskLevel]] = {
    "spam": (Category.SPAM, RiskLevel.LOW),
    "inappropriate": (Category.OFFENSIVE_CONTENT, RiskLevel.MEDIUM),
    "off_topic": (Category.OTHER, RiskLevel.LOW),
    "illegal": (Category.OTHER, RiskLevel.HIGH),
    "notify_moderators": (Category.OTHER, RiskLevel.MEDIUM),
}
DEFAULT_FLAG = (Category.OTHER, RiskLevel.MEDIUM)

FLAG_LABELS: dict[str, str] = {
    "spam": "spam",
    "inappropriate": "inappropriate",
    "off_topic": "off-topic",
    "illegal": "illegal",
    "notify_moderators": "something else",
}


def flag_concern(flag_type: str | None) -> tuple[Category, RiskLevel]:
    return FLAG_TYPES.get(flag_type or "", DEFAULT_FLAG)


def flag_label(flag_type: str | None) -> str:
    return FLAG_LABELS.get(flag_type or "", "flagged for review")


def post_link(forum_url: str | None, post_id: int) -> str:
    """A post's address on the forum (Discourse's ``/p/<id>``, which follows the post if its
    topic moves; relative when the intake has no forum URL)."""
    return f"{(forum_url or '').rstrip('/')}/p/{post_id}"


class ForumMessage(Happening):
    """A private message reached a member (``notification_created``, of the private-message
    kind: the one delivery that names a message's recipient): who sent it, by forum username."""

    recipient_user_id: int
    sender_username: str
    topic_id: int | None = None
    post_number: int | None = None
