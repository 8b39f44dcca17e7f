"""What Vigil reads from Discourse's deliveries: the signature, and each payload it uses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from domain.community.forum import (
    FlaggedPost,
    ForumMessage,
    ForumPost,
    ForumTopic,
    NewForumUser,
    flag_concern,
)
from infrastructure.discourse import (
    Delivery,
    PayloadError,
    content_digest,
    excerpt,
    parse,
    sign,
    signature_matches,
)
from tests.intake_support import encoded, fixture


def delivery(name: str) -> Delivery:
    loaded = fixture(name)
    headers = loaded["headers"]
    return Delivery(
        event_id=headers["X-Discourse-Event-Id"],
        event_type=headers["X-Discourse-Event-Type"],
        event_name=headers["X-Discourse-Event"],
        body=encoded(loaded["body"]),
    )


def test_the_signature_is_discourses_own() -> None:
    # Discourse's spec (spec/jobs/emit_web_hook_event_spec.rb) expects this header for a ping
    # signed with its fabricated secret
    body = b'{"ping":"OK"}'
    header = "sha256=162f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6"
    assert sign("my_lovely_secret_for_web_hook", body) == header
    assert signature_matches("my_lovely_secret_for_web_hook", body, header)
    assert signature_matches(
        "my_lovely_secret_for_web_hook", body, header.upper().replace("SHA256", "sha256")
    )
    assert not signature_matches("another_secret_for_web_hook!", body, header)
    assert not signature_matches("my_lovely_secret_for_web_hook", body + b" ", header)
    assert not signature_matches("my_lovely_secret_for_web_hook", body, None)
    assert not signature_matches("my_lovely_secret_for_web_hook", body, header[7:])
    assert not signature_matches("my_lovely_secret_for_web_hook", body, "sha256=zz\u00e9")


def test_a_ping_and_events_vigil_does_not_use_are_nothing() -> None:
    assert parse(delivery("ping")) is None
    edited = delivery("post_created")
    assert parse(Delivery(edited.event_id, "post", "post_edited", edited.body)) is None


def test_a_new_user() -> None:
    user = parse(delivery("user_created"))
    assert user == NewForumUser(
        forum_user_id=42, username="newbie", created_at=datetime(2025, 5, 1, 10, tzinfo=UTC)
    )


def test_topics_and_posts() -> None:
    topic = parse(delivery("topic_created"))
    assert isinstance(topic, ForumTopic)
    assert (topic.topic_id, topic.forum_user_id, topic.category_id, topic.private) == (
        7001,
        42,
        5,
        False,
    )
    message = parse(delivery("topic_created_private_message"))
    assert isinstance(message, ForumTopic)
    assert message.private
    reply = parse(delivery("post_created_reply"))
    assert isinstance(reply, ForumPost)
    assert (reply.post_id, reply.topic_id, reply.post_number, reply.forum_user_id) == (
        9002,
        7001,
        2,
        43,
    )
    assert parse(delivery("post_created_private_message")).private  # type: ignore[union-attr]


def test_a_flag_from_a_current_release_and_from_an_old_one() -> None:
    current = parse(delivery("reviewable_created_flagged_post"))
    assert isinstance(current, FlaggedPost)
    assert (current.post_id, current.author_user_id, current.flagged_by_user_id) == (9002, 43, 42)
    assert current.flag_type is None  # a reviewable's delivery names no flag type
    assert current.excerpt == "Hold the button for 5 seconds."
    old = parse(delivery("flag_created"))
    assert isinstance(old, FlaggedPost)
    assert (old.post_id, old.author_user_id, old.author_username, old.flag_type) == (
        9002,
        None,
        "helper",
        "spam",
    )
    assert old.excerpt == "Hold the button for 5 seconds."  # from the HTML, tags stripped
    assert flag_concern("spam")[0] == "spam"
    assert flag_concern(None) == flag_concern("something new")


def test_a_private_message_notification_names_its_recipient_and_sender() -> None:
    message = parse(delivery("notification_created_private_message"))
    assert isinstance(message, ForumMessage)
    assert (message.recipient_user_id, message.sender_username) == (42, "helper")
    other = fixture("notification_created_private_message")
    other["body"]["notification"]["notification_type"] = 1  # a mention
    kind = delivery("notification_created_private_message")
    assert (
        parse(Delivery(kind.event_id, kind.event_type, kind.event_name, encoded(other["body"])))
        is None
    )


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"post": 3}',
        b'{"post": {"id": "x"}}',
        json.dumps({"user": {}}).encode(),
    ],
)
def test_a_body_that_is_not_its_types_shape_is_refused(body: bytes) -> None:
    event_type, name = ("user", "user_created") if b"user" in body else ("post", "post_created")
    with pytest.raises(PayloadError):
        parse(Delivery("1", event_type, name, body))


def test_an_excerpt_is_short_and_plain() -> None:
    long = "word " * 200
    cut = excerpt(long)
    assert cut is not None
    assert len(cut) == 280
    assert cut.endswith("…")
    assert excerpt("<p>a &amp; b</p>\n<p>c\x00d</p>", markup=True) == "a & b cd"
    assert excerpt("   ") is None


def test_a_retry_is_known_by_its_content() -> None:
    assert content_digest("post_created", b"{}") == content_digest("post_created", b"{}")
    assert content_digest("post_created", b"{}") != content_digest("post_edited", b"{}")
