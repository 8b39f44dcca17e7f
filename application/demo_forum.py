"""The demo's forum as a source (issue 16): the ``forum`` service's Discourse intake and a
month of its webhook deliveries, each signed as Discourse signs it.

The intake is configured with a secret generated here and kept only in the log (as
``vigil intake add discourse`` does), the hosts' forum accounts are mapped to the demo's host
and moderator, then the deliveries are handed to ``send`` (the interfaces layer posts them to
the real endpoint, ``POST /api/v1/intake/discourse/forum``, so each goes through the app's
routing, middleware and signature check). Moments are set back from the demo's clock:

* four new members: one welcomed by the host's reply in their first topic within the day, one
  by the moderator's private message, one welcomed late (two days on), one never (overdue);
* a flagged post opening a case on its author, and a second flag on the same author joining it;
* four weeks of a low steady rate of posts in two categories, then a burst in one category on
  one evening (the community report's spike).

The payloads are the shapes of Discourse's web hook serializers (``tests/fixtures/discourse``),
cut to the fields Vigil reads and a few beside them. Every member and post is invented.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol
from uuid import UUID

from application.community import CommunityService
from application.demo_rota import ALEX, FORUM, OLA, SAM
from domain.community.decide import ConfigureDiscourseIntake, LinkForumAccount
from infrastructure.discourse import sign

FORUM_URL = "https://forum.example.org"
# The hosts' forum accounts, mapped to the demo's evening host and its moderator.
HOST_ACCOUNT = ("sam_host", 501, SAM.username)
MODERATOR_ACCOUNT = ("ola_mod", 502, OLA.username)
# Categories: the steady one and the one with the evening's burst.
FOOD = (8, "food-and-carbs")
LIVING = (7, "living-with-type-1")
REGULARS = (2001, 2002, 2003, 2004)  # members of long standing (they joined before the intake)
FLAGGED_AUTHOR = 2101
STEADY_DAYS = 28
BURST_POSTS = 18

# (status, answer) of a delivery posted to the endpoint: given the service, headers and body.
Send = Callable[[str, dict[str, str], bytes], tuple[int, dict[str, Any]]]


class ForumTarget(Protocol):
    @property
    def community(self) -> CommunityService: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...


class DemoDeliveryRefused(RuntimeError):
    """The endpoint did not accept one of the demo's deliveries (the demo is broken)."""


@dataclass(frozen=True)
class Scripted:
    event_id: str
    event_type: str
    event_name: str
    body: bytes
    expect: tuple[str, ...]  # the effects the delivery is to have

    def headers(self, secret: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Discourse-Instance": FORUM_URL,
            "X-Discourse-Event-Type": self.event_type,
            "X-Discourse-Event": self.event_name,
            "X-Discourse-Event-Id": self.event_id,
            "X-Discourse-Event-Signature": sign(secret, self.body),
        }


@dataclass
class DemoForum:
    service: str = FORUM
    delivered: int = 0
    members: list[int] = field(default_factory=list)  # forum user ids of the new members
    case_id: UUID | None = None  # the case the flags opened and joined
    burst_day: datetime | None = None  # midnight (UTC) of the day of the burst


def when(moment: datetime) -> str:
    """A moment as Discourse writes it (UTC, milliseconds, Z)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _user(user_id: int, username: str, at: datetime) -> dict[str, Any]:
    return {
        "user": {
            "id": user_id,
            "username": username,
            "name": username,
            "avatar_template": f"/user_avatar/forum.example.org/{username}/{{size}}/3_2.png",
            "created_at": when(at),
            "trust_level": 0,
            "moderator": False,
            "admin": False,
        }
    }


def _topic(
    topic_id: int, user_id: int, username: str, category: int, at: datetime
) -> dict[str, Any]:
    author = {"id": user_id, "username": username, "name": username, "avatar_template": ""}
    return {
        "topic": {
            "id": topic_id,
            "title": "A first question",
            "slug": f"topic-{topic_id}",
            "posts_count": 1,
            "created_at": when(at),
            "archetype": "regular",
            "category_id": category,
            "user_id": user_id,
            "created_by": author,
            "last_poster": author,
        }
    }


def _post(
    post_id: int,
    topic_id: int,
    number: int,
    user_id: int,
    username: str,
    category: tuple[int, str],
    at: datetime,
) -> dict[str, Any]:
    return {
        "post": {
            "id": post_id,
            "username": username,
            "created_at": when(at),
            "cooked": "<p>An invented post.</p>",
            "raw": "An invented post.",
            "post_number": number,
            "post_type": 1,
            "topic_id": topic_id,
            "topic_slug": f"topic-{topic_id}",
            "category_id": category[0],
            "category_slug": category[1],
            "user_id": user_id,
            "topic_archetype": "regular",
        }
    }


def _flag(
    reviewable_id: int, post_id: int, topic_id: int, author: int, by: int, text: str, at: datetime
) -> dict[str, Any]:
    return {
        "reviewable": {
            "id": reviewable_id,
            "type": "ReviewableFlaggedPost",
            "topic_id": topic_id,
            "target_type": "Post",
            "target_id": post_id,
            "category_id": FOOD[0],
            "created_at": when(at),
            "created_from_flag": True,
            "status": 0,
            "created_by_id": by,
            "target_created_by_id": author,
            "cooked": f"<p>{text}</p>",
            "raw": text,
        }
    }


def _message(
    notification_id: int, to: int, sender: str, topic_id: int, at: datetime
) -> dict[str, Any]:
    return {
        "notification": {
            "id": notification_id,
            "user_id": to,
            "notification_type": 6,  # a private message
            "read": False,
            "created_at": when(at),
            "post_number": 1,
            "topic_id": topic_id,
            "data": {"original_username": sender, "display_username": sender},
        }
    }


class _Script:
    def __init__(self) -> None:
        self.items: list[tuple[datetime, str, str, dict[str, Any], tuple[str, ...]]] = []

    def add(self, at: datetime, kind: str, name: str, body: dict[str, Any], *expect: str) -> None:
        self.items.append((at, kind, name, body, expect))

    def ordered(self) -> list[Scripted]:
        """In the order they happened (as Discourse sends them), numbered as its rows are."""
        ordered = sorted(self.items, key=lambda item: item[0])
        return [
            Scripted(str(100 + n), kind, name, _encoded(body), expect)
            for n, (_, kind, name, body, expect) in enumerate(ordered, start=1)
        ]


def _encoded(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def script(now: datetime) -> tuple[list[Scripted], datetime]:
    """The month's deliveries, set back from ``now`` (all of them before it), and the burst's
    day (midnight UTC)."""
    today = datetime.combine(now.astimezone(UTC).date(), time(0, 0), tzinfo=UTC)
    s = _Script()
    counted = "activity_counted"
    host, moderator = HOST_ACCOUNT, MODERATOR_ACCOUNT
    # Four weeks of a low steady rate: a post a day in each of two categories.
    for days_back in range(STEADY_DAYS, 2, -1):
        day = today - timedelta(days=days_back)
        regular = REGULARS[days_back % len(REGULARS)]
        s.add(
            day + timedelta(hours=12),
            "post",
            "post_created",
            _post(
                8000 + days_back,
                6000 + days_back % 5,
                2 + days_back,
                regular,
                f"regular{regular}",
                LIVING,
                day + timedelta(hours=12),
            ),
            counted,
        )
        s.add(
            day + timedelta(hours=15),
            "post",
            "post_created",
            _post(
                8100 + days_back,
                6100 + days_back % 5,
                2 + days_back,
                regular,
                f"regular{regular}",
                FOOD,
                day + timedelta(hours=15),
            ),
            counted,
        )
    # A new member welcomed late: the host replied in their first topic two days on.
    late = today - timedelta(days=6)
    joined = late + timedelta(hours=11)
    s.add(joined, "user", "user_created", _user(3004, "SlowKettle", joined), "member_joined")
    s.add(
        joined + timedelta(minutes=20),
        "topic",
        "topic_created",
        _topic(7304, 3004, "SlowKettle", LIVING[0], joined + timedelta(minutes=20)),
        counted,
        "first_topic",
    )
    reply = joined + timedelta(hours=53)
    s.add(
        reply,
        "post",
        "post_created",
        _post(9304, 7304, 2, host[1], host[0], LIVING, reply),
        counted,
        "member_welcomed",
    )
    # Three days ago: one welcomed by the moderator's private message, one never welcomed.
    three = today - timedelta(days=3)
    s.add(
        three + timedelta(hours=9),
        "user",
        "user_created",
        _user(3002, "MorningFern", three + timedelta(hours=9)),
        "member_joined",
    )
    s.add(
        three + timedelta(hours=15),
        "notification",
        "notification_created",
        _message(7702, 3002, moderator[0], 7402, three + timedelta(hours=15)),
        "member_welcomed",
    )
    s.add(
        three + timedelta(hours=12),
        "user",
        "user_created",
        _user(3003, "QuietHarbour", three + timedelta(hours=12)),
        "member_joined",
    )
    s.add(
        three + timedelta(hours=12, minutes=40),
        "topic",
        "topic_created",
        _topic(7303, 3003, "QuietHarbour", FOOD[0], three + timedelta(hours=12, minutes=40)),
        counted,
        "first_topic",
    )
    # Two days ago: one welcomed by the host's reply in their first topic within hours; the
    # evening's burst in one category; and a post flagged twice, by two members.
    two = today - timedelta(days=2)
    joined = two + timedelta(hours=10)
    s.add(joined, "user", "user_created", _user(3001, "FirstLight", joined), "member_joined")
    s.add(
        joined + timedelta(minutes=30),
        "topic",
        "topic_created",
        _topic(7301, 3001, "FirstLight", LIVING[0], joined + timedelta(minutes=30)),
        counted,
        "first_topic",
    )
    s.add(
        joined + timedelta(hours=3),
        "post",
        "post_created",
        _post(9301, 7301, 2, host[1], host[0], LIVING, joined + timedelta(hours=3)),
        counted,
        "member_welcomed",
    )
    for n in range(BURST_POSTS):
        at = two + timedelta(hours=18, minutes=10 * n)
        regular = REGULARS[n % len(REGULARS)]
        s.add(
            at,
            "post",
            "post_created",
            _post(9400 + n, 7400 + n % 3, 2 + n, regular, f"regular{regular}", LIVING, at),
            counted,
        )
    first = two + timedelta(hours=20, minutes=30)
    s.add(
        first,
        "reviewable",
        "reviewable_created",
        _flag(
            321,
            9500,
            6102,
            FLAGGED_AUTHOR,
            REGULARS[0],
            "Nobody here knows anything about real diets.",
            first,
        ),
        "case_opened",
    )
    second = first + timedelta(minutes=40)
    s.add(
        second,
        "reviewable",
        "reviewable_created",
        _flag(
            322,
            9504,
            6103,
            FLAGGED_AUTHOR,
            REGULARS[1],
            "Stop replying to me, you lot know nothing.",
            second,
        ),
        "flag_raised",
    )
    return s.ordered(), two


def load_forum(vigil: ForumTarget, send: Send) -> DemoForum:
    """Configure the forum's intake and its hosts' accounts, then deliver the month (see the
    module's note); every delivery must be accepted with its expected effects."""
    secret = secrets.token_urlsafe(32)
    vigil.community.configure_discourse(
        FORUM, ConfigureDiscourseIntake(secret=secret, forum_url=FORUM_URL), ALEX.actor
    )
    for forum_username, _, username in (HOST_ACCOUNT, MODERATOR_ACCOUNT):
        vigil.community.link_account(
            FORUM, LinkForumAccount(forum_username=forum_username, username=username), ALEX.actor
        )
    deliveries, burst_day = script(vigil.clock())
    forum = DemoForum(burst_day=burst_day)
    for delivery in deliveries:
        status, answer = send(FORUM, delivery.headers(secret), delivery.body)
        effects = tuple(answer.get("effects", ()))
        if status != 200 or answer.get("status") != "accepted" or effects != delivery.expect:
            raise DemoDeliveryRefused(
                f"delivery {delivery.event_id} ({delivery.event_name}): {status} {answer}; "
                f"expected accepted with {list(delivery.expect)}"
            )
        forum.delivered += 1
        if "member_joined" in effects:
            forum.members.append(json.loads(delivery.body)["user"]["id"])
        if answer.get("case_id"):
            forum.case_id = UUID(answer["case_id"])
    return forum
