"""Discourse's webhook deliveries: their signature, and what Vigil reads from their bodies.

A delivery is a JSON body wrapped in the event type (``{"post": {...}}``) with these headers
(Discourse's ``Jobs::EmitWebHookEvent``): ``X-Discourse-Event-Type`` (``post``, ``topic``,
``user``, ``reviewable``, ``notification``, ``flag`` on old releases, ``ping``),
``X-Discourse-Event`` (``post_created``...), ``X-Discourse-Event-Id`` (the delivery's row: a
redelivery keeps it, an automatic retry gets a new one with the same body) and
``X-Discourse-Event-Signature``: ``sha256=`` and the hex HMAC-SHA256 of the raw body under the
webhook's secret. The shapes read here are those of Discourse's web hook serializers; the
fixtures in ``tests/fixtures/discourse/`` show them, with where each was read (``NOTES.md``).

Only what Vigil uses is read (``domain.community.forum``): ids, moments, the author's username
(sealed where it is kept), a flagged post's short excerpt. A post's text is never kept.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from domain.community.forum import (
    FlaggedPost,
    ForumMessage,
    ForumPost,
    ForumTopic,
    Happening,
    NewForumUser,
)

SIGNATURE_PREFIX = "sha256="
EXCERPT_CHARACTERS = 280
# Discourse's notification type of a private message (``Notification.types[:private_message]``).
PRIVATE_MESSAGE_NOTIFICATION = 6
# Post types that are someone writing (regular, and a moderator's post); small actions ("closed
# this topic") and whispers are not engagement.
WRITTEN_POST_TYPES = {1, 2}

# The (type, event) pairs Vigil uses; anything else is answered 200 and ignored.
USED_EVENTS: frozenset[tuple[str, str]] = frozenset(
    {
        ("user", "user_created"),
        ("topic", "topic_created"),
        ("post", "post_created"),
        ("reviewable", "reviewable_created"),
        ("flag", "flag_created"),
        ("notification", "notification_created"),
    }
)


class PayloadError(ValueError):
    """A signed delivery of a type Vigil uses whose body is not that type's shape."""

    def __init__(self, detail: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is ``sha256=<hex HMAC-SHA256 of body under secret>`` (compared in
    constant time)."""
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = header[len(SIGNATURE_PREFIX) :].strip().lower()
    return hmac.compare_digest(expected.encode(), given.encode("ascii", "replace"))


def sign(secret: str, body: bytes) -> str:
    """The header Discourse would send with ``body`` (for tests, the demo and benchmarks)."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def content_digest(event_name: str, body: bytes) -> str:
    """What a delivery is, whatever its event id: its event and its bytes (an automatic retry
    comes with a new event id and the same body)."""
    return hashlib.sha256(event_name.encode() + b"\n" + body).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """A delivery as received: its headers' values and its raw body."""

    event_id: str
    event_type: str
    event_name: str
    body: bytes

    @property
    def used(self) -> bool:
        return (self.event_type, self.event_name) in USED_EVENTS

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def digest(self) -> str:
        return content_digest(self.event_name, self.body)


# --- the shapes read (extra fields ignored: Discourse adds fields between releases) -------------


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _User(_Shape):
    id: int
    username: str
    created_at: AwareDatetime


class _Named(_Shape):
    id: int
    username: str


class _Topic(_Shape):
    id: int
    archetype: str = "regular"
    category_id: int | None = None
    user_id: int | None = None
    created_at: AwareDatetime
    created_by: _Named | None = None


class _Post(_Shape):
    id: int
    username: str
    user_id: int
    created_at: AwareDatetime
    post_number: int
    post_type: int = 1
    topic_id: int
    topic_slug: str | None = None
    topic_archetype: str = "regular"
    category_id: int | None = None
    category_slug: str | None = None
    raw: str | None = None


class _Reviewable(_Shape):
    id: int
    type: str
    target_type: str | None = None
    target_id: int | None = None
    topic_id: int | None = None
    created_at: AwareDatetime
    created_by_id: int | None = None
    target_created_by_id: int | None = None
    raw: str | None = None
    cooked: str | None = None


class _FlaggedPostOld(_Shape):
    id: int
    username: str
    created_at: AwareDatetime
    cooked: str | None = None


class _Flag(_Shape):
    id: int
    post: _FlaggedPostOld
    flag_type: str
    created_by: str | None = None
    created_at: AwareDatetime


class _NotificationData(_Shape):
    original_username: str | None = None
    display_username: str | None = None


class _Notification(_Shape):
    id: int
    user_id: int
    notification_type: int
    created_at: AwareDatetime
    topic_id: int | None = None
    post_number: int | None = None
    data: _NotificationData = _NotificationData()


def excerpt(text: str | None, *, markup: bool = False) -> str | None:
    """The first characters of a post (its markup stripped), for the case's sealed note."""
    if not text:
        return None
    if markup:
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    flat = " ".join("".join(ch for ch in text if ch.isprintable() or ch.isspace()).split())
    if not flat:
        return None
    return flat if len(flat) <= EXCERPT_CHARACTERS else flat[: EXCERPT_CHARACTERS - 1] + "…"


def _object(body: bytes, key: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise PayloadError("the body is not JSON", {"body": "not JSON"}) from None
    inner = document.get(key) if isinstance(document, dict) else None
    if not isinstance(inner, dict):
        raise PayloadError(
            f"the body holds no {key!r} object", {key: "missing: the body is {key: {...}}"}
        )
    return inner


_S = TypeVar("_S", bound=_Shape)


def _read(shape: type[_S], body: bytes, key: str) -> _S:
    try:
        return shape.model_validate(_object(body, key))
    except ValidationError as error:
        errors = {".".join([key, *(str(p) for p in e["loc"])]): e["msg"] for e in error.errors()}
        raise PayloadError(
            f"the {key!r} object is not what Discourse sends: "
            + "; ".join(f"{k}: {v}" for k, v in errors.items()),
            errors,
        ) from None


def parse(delivery: Delivery) -> Happening | None:
    """What the delivery says happened, or None for one Vigil does not use (raises
    ``PayloadError`` for a body that is not its type's shape)."""
    kind = (delivery.event_type, delivery.event_name)
    if kind not in USED_EVENTS:
        return None
    body = delivery.body
    if kind == ("user", "user_created"):
        user = _read(_User, body, "user")
        return NewForumUser(
            forum_user_id=user.id, username=user.username, created_at=user.created_at
        )
    if kind == ("topic", "topic_created"):
        topic = _read(_Topic, body, "topic")
        author = topic.created_by.id if topic.created_by else topic.user_id
        if author is None:
            raise PayloadError("the topic names no author", {"topic.user_id": "missing"})
        return ForumTopic(
            topic_id=topic.id,
            forum_user_id=author,
            username=topic.created_by.username if topic.created_by else "",
            category_id=topic.category_id,
            private=topic.archetype == "private_message",
            created_at=topic.created_at,
        )
    if kind == ("post", "post_created"):
        post = _read(_Post, body, "post")
        if post.post_type not in WRITTEN_POST_TYPES:
            return None
        return ForumPost(
            post_id=post.id,
            topic_id=post.topic_id,
            post_number=post.post_number,
            forum_user_id=post.user_id,
            username=post.username,
            topic_slug=post.topic_slug,
            category_id=post.category_id,
            category=post.category_slug,
            private=post.topic_archetype == "private_message",
            created_at=post.created_at,
        )
    if kind == ("reviewable", "reviewable_created"):
        reviewable = _read(_Reviewable, body, "reviewable")
        if reviewable.type != "ReviewableFlaggedPost" or reviewable.target_id is None:
            return None  # a queued post, a flagged user...: not a flag on a post
        return FlaggedPost(
            post_id=reviewable.target_id,
            topic_id=reviewable.topic_id,
            author_user_id=reviewable.target_created_by_id,
            flagged_by_user_id=reviewable.created_by_id,
            excerpt=excerpt(reviewable.raw) or excerpt(reviewable.cooked, markup=True),
            created_at=reviewable.created_at,
        )
    if kind == ("flag", "flag_created"):
        flag = _read(_Flag, body, "flag")
        if flag.flag_type == "notify_user":
            return None  # a message to the poster, not a flag to the moderators
        return FlaggedPost(
            post_id=flag.post.id,
            author_username=flag.post.username,
            flag_type=flag.flag_type,
            excerpt=excerpt(flag.post.cooked, markup=True),
            created_at=flag.created_at,
        )
    notification = _read(_Notification, body, "notification")
    sender = notification.data.original_username or notification.data.display_username
    if notification.notification_type != PRIVATE_MESSAGE_NOTIFICATION or not sender:
        return None
    return ForumMessage(
        recipient_user_id=notification.user_id,
        sender_username=sender,
        topic_id=notification.topic_id,
        post_number=notification.post_number,
        created_at=notification.created_at,
    )
