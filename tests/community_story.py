"""A forum's month, for the community report: members who join and are welcomed (or not), flags
from the forum and elsewhere, and topics and posts per category with one spike.

Events are the domain's own (``domain.community.decide``), saved to the log as intake would save
them, each recorded a minute after it happened on the forum unless a test says otherwise. The
service is the default one (Europe/London: in October after the 25th and in November, local
time is UTC, so a local date is the UTC date).

What the report of November as of ``AS_OF`` holds, worked out by hand (``EXPECTED``):

* members: 5 joined in November (one more on 30 October is not counted): welcomed in 10 h (in
  time), welcomed after 47 h (late), joined 08:00 on the 10th and never welcomed (overdue at
  as_of), joined 20:00 on the 19th (running: due 20:00 on the 20th, after as_of), and one
  welcomed in time by hand (``recorded``); in time, 2 of the 4 whose clock has run its course
  (the running one is not counted yet): 50.0 %; the target 24 h.
* flags: a forum case opened from a flag (harassment), a flag raised on it (spam), a helpline
  case opened from a flag (self_harm); a case opened from a staff concern is not a flag.
* engagement: "wellbeing" (id 7) has 1 post a day from 4 to 31 October (its trailing median on
  1 November is 1), then 5 posts and a topic on 1 November (a spike: 5 > 2 x 1 and at least 5),
  and 2 posts on the 2nd (median still 1: 2 is not more than 2); category 9 (no slug) has a
  topic and 3 posts on the 3rd (median 0, but fewer than 5 posts: no spike).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.case import commands as c
from domain.case.vocabulary import CaseSource, Category
from domain.community import decide
from domain.community.events import (
    ActivityKind,
    DeliveryEffect,
    ForumMemberWelcomed,
    WelcomeWay,
)
from domain.community.forum import NewForumUser
from domain.community.ids import delivery_id, member_id
from domain.community.state import fold_member
from domain.service.commands import DEFAULT_SERVICE
from domain.shared import Actor, DecisionContext, Role

SERVICE = DEFAULT_SERVICE
PERIOD = (date(2026, 11, 1), date(2026, 11, 30))
AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
INTAKE = decide.intake_actor(SERVICE)
MODERATOR = Actor(username="ola.moderator", role=Role.MODERATOR)

EXPECTED: dict[str, Any] = {
    "new_members.summary": [
        {
            "joined": 5,
            "welcomed_in_time": 2,
            "welcomed_late": 1,
            "not_yet_welcomed": 2,
            "in_time_percent": 50.0,
            "targets": ["24 h"],
        }
    ],
    "new_members.by_status": [
        {"status": "welcomed in time", "members": 2},
        {"status": "welcomed late", "members": 1},
        {"status": "not yet welcomed, within target", "members": 1},
        {"status": "not yet welcomed, overdue", "members": 1},
    ],
    "flags.by_category": [
        {"category": "harassment", "flags": 1},
        {"category": "self_harm_risk", "flags": 1},
        {"category": "spam", "flags": 1},
    ],
    "flags.by_channel": [
        {"channel": "forum", "flags": 2},
        {"channel": "helpline", "flags": 1},
    ],
    "flags.by_category_and_channel": [
        {"category": "harassment", "channel": "forum", "flags": 1},
        {"category": "self_harm_risk", "channel": "helpline", "flags": 1},
        {"category": "spam", "channel": "forum", "flags": 1},
    ],
    "engagement.by_category": [
        {"service": SERVICE, "category": "wellbeing", "category_id": 7, "topics": 1,
         "posts": 7, "spike_days": 1},
        {"service": SERVICE, "category": "category 9", "category_id": 9, "topics": 1,
         "posts": 3, "spike_days": 0},
    ],
    "engagement.by_day": [
        {"date": "2026-11-01", "service": SERVICE, "category": "wellbeing", "category_id": 7,
         "topics": 1, "posts": 5, "trailing_median": 1.0, "spike": True},
        {"date": "2026-11-02", "service": SERVICE, "category": "wellbeing", "category_id": 7,
         "topics": 0, "posts": 2, "trailing_median": 1.0, "spike": False},
        {"date": "2026-11-03", "service": SERVICE, "category": "category 9", "category_id": 9,
         "topics": 1, "posts": 3, "trailing_median": 0.0, "spike": False},
    ],
    "engagement.rule": [
        {"multiple": 2.0, "minimum_posts": 5, "trailing_days": 28, "minimum_history_days": 14}
    ],
}  # fmt: skip


def _ctx(now: datetime, actor: Actor = INTAKE) -> DecisionContext:
    return DecisionContext(actor=actor, now=now)


class Forum:
    """Saves a forum's deliveries' events to a Vigil's log, numbering Discourse's event ids."""

    def __init__(self, vigil: Any, service: str = SERVICE) -> None:
        self.vigil = vigil
        self.service = service
        self._next = 0

    def _delivery(self) -> tuple[UUID, str]:
        self._next += 1
        event_id = f"story-{self._next}"
        return delivery_id(self.service, event_id), event_id

    def activity(
        self,
        at: datetime,
        category_id: int | None,
        category: str | None,
        *,
        kind: ActivityKind = ActivityKind.POST,
        recorded: datetime | None = None,
    ) -> None:
        stream, event_id = self._delivery()
        event = decide.delivery_accepted(
            stream, self.service, discourse_event_id=event_id,
            event_type=kind.value, event_name=f"{kind.value}_created",
            body_sha256=f"{self._next:064x}", at=at,
            effects=[DeliveryEffect.ACTIVITY_COUNTED],
            activity=decide.activity_of(
                kind, topic_id=1000 + self._next,
                post_id=None if kind is ActivityKind.TOPIC else 5000 + self._next,
                category_id=category_id, category=category,
            ),
            case_id=None, ctx=_ctx(recorded or at + timedelta(minutes=1)),
        )  # fmt: skip
        self.vigil.event_log.save(event)

    def posts(self, day: date, count: int, category_id: int | None, category: str | None) -> None:
        for i in range(count):
            at = datetime(day.year, day.month, day.day, 10, i, tzinfo=UTC)
            self.activity(at, category_id, category)

    def join(self, forum_user_id: int, at: datetime, *, recorded: datetime | None = None) -> UUID:
        stream, _ = self._delivery()
        member = member_id(self.service, forum_user_id)
        user = NewForumUser(
            created_at=at, forum_user_id=forum_user_id, username=f"m{forum_user_id}"
        )
        ctx = _ctx(recorded or at + timedelta(minutes=1))
        [event] = decide.join(None, member, self.service, user, stream, ctx)
        self.vigil.event_log.save(event)
        return member

    def welcome(
        self, member: UUID, at: datetime, *, recorded: datetime | None = None, by_hand: bool = False
    ) -> None:
        state = fold_member(None, self.vigil.event_log.events_of(member))
        ctx = _ctx(recorded or at + timedelta(minutes=1), MODERATOR if by_hand else INTAKE)
        events: list[ForumMemberWelcomed]
        if by_hand:
            events = decide.record_welcome(state, decide.RecordWelcome(occurred_at=at), ctx)
        else:
            stream, _ = self._delivery()
            events = decide.welcome_on_forum(
                state, how=WelcomeWay.REPLY, welcomed_by="ola.moderator", post_ref=None, at=at,
                delivery=stream, ctx=ctx,
            )  # fmt: skip
        assert events, "the member awaits a welcome"
        self.vigil.event_log.save(*events)


def _day(d: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, d, hour, minute, tzinfo=UTC)


def _flag_case(vigil: Any, ref: str, category: Category, channel: str, **more: Any) -> UUID:
    command = c.OpenCase.model_validate(
        {
            "subject": {"kind": "member", "ref": ref},
            "summary": "What the flag said.",
            "category": category,
            "channel": channel,
            **more,
        }
    )
    return vigil.cases.execute(None, command, MODERATOR).state.id


def record_community_story(vigil: Any) -> None:
    forum = Forum(vigil)
    # Members.
    forum.join(100, _day(30, month=10))  # before the period: not counted
    in_time = forum.join(101, _day(2))
    forum.welcome(in_time, _day(2, 20))
    late = forum.join(102, _day(3))
    forum.welcome(late, _day(5, 9))
    forum.join(103, _day(10, 8))  # never welcomed: overdue at as_of
    forum.join(104, _day(19, 20))  # running at as_of (due 20:00 on the 20th)
    by_hand = forum.join(105, _day(12, 9))
    forum.welcome(by_hand, _day(12, 15), by_hand=True)
    # Engagement: the trailing month, then November.
    day = date(2026, 10, 4)
    while day <= date(2026, 10, 31):
        forum.posts(day, 1, 7, "wellbeing")
        day += timedelta(days=1)
    forum.activity(_day(1, 9), 7, "wellbeing", kind=ActivityKind.TOPIC)
    forum.posts(date(2026, 11, 1), 5, 7, "wellbeing")
    forum.posts(date(2026, 11, 2), 2, 7, None)  # a payload without the slug: the same category
    forum.activity(_day(3, 9), 9, None, kind=ActivityKind.TOPIC)
    forum.posts(date(2026, 11, 3), 3, 9, None)
    # Flags.
    vigil.clock.set(_day(6, 11))
    forum_case = _flag_case(
        vigil, "default:user-102", Category.HARASSMENT, "forum", source=CaseSource.FLAG
    )
    vigil.clock.set(_day(6, 12))
    vigil.cases.execute(
        forum_case,
        c.RaiseFlag.model_validate({"reason": "Spam links too.", "category": Category.SPAM}),
        MODERATOR,
    )
    vigil.clock.set(_day(7, 12))
    _flag_case(vigil, "caller-9", Category.SELF_HARM_RISK, "helpline", source=CaseSource.FLAG)
    _flag_case(vigil, "default:user-103", Category.SPAM, "forum", source=CaseSource.STAFF_CONCERN)
    vigil.clock.set(AS_OF + timedelta(minutes=30))
