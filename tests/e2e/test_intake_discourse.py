"""A Discourse forum's webhook deliveries over real HTTP, on SQLite and PostgreSQL.

The forum signs each delivery with the service's secret; Vigil takes what it uses from it (new
members, their first topics and welcomes, flagged posts, topics and posts for engagement),
once, whatever Discourse retries, and refuses what is unsigned, wrongly signed, replayed with
other content or too large, writing nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from domain.community.events import DiscourseDeliveryAccepted, ForumMemberWelcomed
from domain.community.ids import member_ref
from tests.e2e.support import Api, assert_problem
from tests.intake_support import (
    FORUM,
    deliver,
    encoded,
    fixture,
    payload,
    set_up_forum,
    signed_headers,
    when,
)

INTAKE = f"/api/v1/intake/discourse/{FORUM}"
JOINED = datetime(2026, 11, 16, 20, 0, tzinfo=UTC)  # Monday evening; the clock is Tuesday 09:30


def accepted(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "accepted", body
    return body


def answered(response: httpx.Response, status: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    return body


@pytest.fixture
def forum(api: Api) -> httpx.Client:
    """The forum's webhook (no token), with the forum account ``helper`` mapped to the host
    ``hana``."""
    api.vigil.identity.register("hana", "volunteer", actor="e2e-setup")  # type: ignore[arg-type]
    set_up_forum(api.vigil, accounts={"helper": "hana"})
    return api.client()


def join(forum: httpx.Client, user_id: int, *, event_id: str, at: datetime = JOINED) -> None:
    accepted(
        deliver(
            forum,
            "user_created",
            event_id=event_id,
            id=user_id,
            username=f"newbie{user_id}",
            created_at=when(at),
        )
    )


def test_a_new_member_is_welcomed_by_a_hosts_reply_in_their_first_topic(
    api: Api, forum: httpx.Client
) -> None:
    # Given a new account on the forum
    joined = accepted(
        deliver(
            forum, "user_created", event_id="1", id=42, username="newbie", created_at=when(JOINED)
        )
    )
    assert joined["effects"] == ["member_joined"]
    member = api.vigil.community.member(member_ref(FORUM, 42))
    assert member is not None
    assert member.joined_at == JOINED
    assert member.awaiting_welcome

    # When they start a topic, and the host's forum account replies in it
    topic = accepted(
        deliver(
            forum,
            "topic_created",
            event_id="2",
            id=7001,
            user_id=42,
            created_by={"id": 42, "username": "newbie", "name": "N", "avatar_template": ""},
            created_at=when(JOINED + timedelta(minutes=30)),
        )
    )
    assert topic["effects"] == ["activity_counted", "first_topic"]
    reply_at = JOINED + timedelta(hours=2)
    reply = accepted(
        deliver(
            forum,
            "post_created_reply",
            event_id="3",
            id=9002,
            topic_id=7001,
            post_number=2,
            user_id=43,
            username="Helper",
            created_at=when(reply_at),
        )
    )

    # Then the member is welcomed, by the host, at the reply's moment, with its link
    assert reply["effects"] == ["activity_counted", "member_welcomed"]
    member = api.vigil.community.member(member_ref(FORUM, 42))
    assert member is not None
    assert member.welcomed_at == reply_at
    [welcome] = [
        e for e in api.vigil.event_log.events_of(member.id) if isinstance(e, ForumMemberWelcomed)
    ]
    assert welcome.welcomed_by == "hana"
    assert welcome.how == "reply"
    assert welcome.post_ref == "https://forum.example.org/p/9002"


def test_a_reply_by_an_unmapped_account_or_in_another_topic_welcomes_no_one(
    api: Api, forum: httpx.Client
) -> None:
    join(forum, 42, event_id="1")
    accepted(
        deliver(
            forum,
            "post_created",
            event_id="2",
            id=9001,
            topic_id=7001,
            user_id=42,
            username="newbie",
            post_number=1,
            created_at=when(JOINED),
        )
    )
    # A member who is not mapped replies in the first topic; the host replies elsewhere
    stranger = accepted(
        deliver(
            forum,
            "post_created_reply",
            event_id="3",
            id=9002,
            topic_id=7001,
            user_id=77,
            username="someone",
            created_at=when(JOINED + timedelta(hours=1)),
        )
    )
    elsewhere = accepted(
        deliver(
            forum,
            "post_created_reply",
            event_id="4",
            id=9003,
            topic_id=8000,
            user_id=43,
            username="helper",
            created_at=when(JOINED + timedelta(hours=1)),
        )
    )
    assert stranger["effects"] == elsewhere["effects"] == ["activity_counted"]
    member = api.vigil.community.member(member_ref(FORUM, 42))
    assert member is not None
    assert member.awaiting_welcome
    assert member.first_topic_id == 7001


def test_a_private_message_from_a_host_welcomes_its_recipient(
    api: Api, forum: httpx.Client
) -> None:
    join(forum, 42, event_id="1")
    sent = JOINED + timedelta(hours=3)
    message = accepted(
        deliver(
            forum,
            "notification_created_private_message",
            event_id="2",
            user_id=42,
            created_at=when(sent),
        )
    )
    assert message["effects"] == ["member_welcomed"]
    member = api.vigil.community.member(member_ref(FORUM, 42))
    assert member is not None
    assert member.welcomed_at == sent


def test_a_flagged_post_opens_a_case_on_its_author_and_a_second_flag_joins_it(
    api: Api, forum: httpx.Client
) -> None:
    lead = api.user("lee", "safeguarding_lead")
    flagged_at = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)

    # Given a post by forum user 43 flagged by user 42 (a current release: a reviewable)
    first = accepted(
        deliver(
            forum,
            "reviewable_created_flagged_post",
            event_id="10",
            id=321,
            target_id=9002,
            target_created_by_id=43,
            created_by_id=42,
            created_at=when(flagged_at),
        )
    )

    # Then a case about the author is opened from the flag, in the forum service
    assert first["effects"] == ["case_opened"]
    case_id = UUID(first["case_id"])
    case = lead.get(f"/api/v1/cases/{case_id}")
    assert case.status_code == 200, case.text
    state = case.json()["case"]
    assert state["subject"]["kind"] == "member"
    assert state["subject"]["ref"] == member_ref(FORUM, 43)
    assert state["source"] == "flag"
    assert state["channel"] == "forum"
    assert state["service"] == FORUM
    timeline = lead.get(f"/api/v1/cases/{case_id}/timeline").json()
    opening = timeline["items"][0] if "items" in timeline else timeline["events"][0]
    assert opening["content_ref"] == "https://forum.example.org/p/9002"
    # Only an excerpt of the post, in the sealed summary
    assert "Hold the button for 5 seconds." in opening["summary"]

    # When another post of theirs is flagged
    second = accepted(
        deliver(
            forum,
            "reviewable_created_flagged_post",
            event_id="11",
            id=322,
            target_id=9005,
            target_created_by_id=43,
            created_by_id=44,
            created_at=when(flagged_at + timedelta(minutes=5)),
        )
    )
    # Then the flag is raised on the same open case
    assert second["effects"] == ["flag_raised"]
    assert UUID(second["case_id"]) == case_id
    state = lead.get(f"/api/v1/cases/{case_id}").json()["case"]
    assert state["flags"]["count"] == 1  # a FlagRaised (the opening was the first flag)
    timeline = lead.get(f"/api/v1/cases/{case_id}/timeline").json()
    entries = timeline["items"] if "items" in timeline else timeline["events"]
    raised = entries[-1]
    assert raised["content_ref"] == "https://forum.example.org/p/9005"
    assert raised["raised_by_ref"] == member_ref(FORUM, 44)


def test_an_old_releases_flag_opens_a_case_on_a_pseudonymous_ref(
    api: Api, forum: httpx.Client
) -> None:
    flag = accepted(deliver(forum, "flag_created", event_id="12"))
    assert flag["effects"] == ["case_opened"]
    lead = api.user("lee", "safeguarding_lead")
    state = lead.get(f"/api/v1/cases/{flag['case_id']}").json()["case"]
    assert state["subject"]["ref"].startswith(f"{FORUM}:name-")
    assert "helper" not in state["subject"]["ref"]  # the username is never in a ref
    assert state["category"] == "spam"


def test_a_retried_delivery_is_counted_once(api: Api, forum: httpx.Client) -> None:
    headers, body = payload("reviewable_created_flagged_post", target_created_by_id=43)
    raw = encoded(body)
    first = accepted(
        forum.post(INTAKE, content=raw, headers=signed_headers(headers, raw, event_id="20"))
    )
    with api.writes_nothing():
        # Redelivered from Discourse's admin (the same event id and body) ...
        again = answered(
            forum.post(INTAKE, content=raw, headers=signed_headers(headers, raw, event_id="20")),
            "duplicate",
        )
        # ... and retried automatically (a new event id, the same body)
        retried = answered(
            forum.post(INTAKE, content=raw, headers=signed_headers(headers, raw, event_id="21")),
            "duplicate",
        )
    assert again["case_id"] == first["case_id"]
    assert retried["effects"] == []


def test_refusals_write_nothing(api: Api, forum: httpx.Client) -> None:
    headers, body = payload("user_created", id=42)
    raw = encoded(body)
    good = signed_headers(headers, raw, event_id="30")
    with api.writes_nothing():
        # No signature
        unsigned = {k: v for k, v in good.items() if k != "X-Discourse-Event-Signature"}
        assert_problem(
            forum.post(INTAKE, content=raw, headers=unsigned), 401, "delivery-not-authenticated"
        )
        # Signed with another secret
        wrong = signed_headers(headers, raw, event_id="30", secret="another-secret-entirely")
        assert_problem(
            forum.post(INTAKE, content=raw, headers=wrong), 401, "delivery-not-authenticated"
        )
        # The body changed after signing
        tampered = raw.replace(b'"id":42', b'"id":43')
        assert_problem(
            forum.post(INTAKE, content=tampered, headers=good), 401, "delivery-not-authenticated"
        )
        # A service with no intake (the same answer: no way to learn which services exist)
        assert_problem(
            forum.post("/api/v1/intake/discourse/helpline", content=raw, headers=good),
            401,
            "delivery-not-authenticated",
        )
        # Too large
        huge = encoded(
            {"user": {"id": 1, "padding": "x" * (api.vigil.settings.intake_max_body_bytes)}}
        )
        assert (
            forum.post(
                INTAKE, content=huge, headers=signed_headers(headers, huge, event_id="31")
            ).status_code
            == 413
        )
        # Signed, but not what Discourse sends for this event
        odd = encoded({"user": {"name": "no id"}})
        assert_problem(
            forum.post(INTAKE, content=odd, headers=signed_headers(headers, odd, event_id="32")),
            422,
            "invalid-delivery",
        )
    accepted(forum.post(INTAKE, content=raw, headers=good))
    with api.writes_nothing():
        # The same event id again with other content: a replay, refused
        other = encoded(payload("user_created", id=99)[1])
        assert_problem(
            forum.post(
                INTAKE, content=other, headers=signed_headers(headers, other, event_id="30")
            ),
            409,
            "delivery-replayed",
        )


def test_what_vigil_does_not_use_is_answered_and_ignored(api: Api, forum: httpx.Client) -> None:
    headers = dict(fixture("ping")["headers"])
    ping = b'{"ping":"OK"}'
    with api.writes_nothing():
        answered(
            forum.post(INTAKE, content=ping, headers=signed_headers(headers, ping, event_id="40")),
            "ignored",
        )
        edited_headers = {**payload("post_created")[0], "X-Discourse-Event": "post_edited"}
        raw = encoded(payload("post_created")[1])
        answered(
            forum.post(
                INTAKE, content=raw, headers=signed_headers(edited_headers, raw, event_id="41")
            ),
            "ignored",
        )


def test_topics_and_posts_are_counted_for_engagement_without_who_or_what(
    api: Api, forum: httpx.Client
) -> None:
    posted = accepted(
        deliver(
            forum,
            "post_created_reply",
            event_id="50",
            id=9100,
            topic_id=7100,
            category_id=5,
            category_slug="type-1",
            user_id=77,
        )
    )
    [record] = [
        e
        for e in api.vigil.event_log.events_of(UUID(posted["delivery_id"]))
        if isinstance(e, DiscourseDeliveryAccepted)
    ]
    assert record.activity is not None
    assert (record.activity.kind, record.activity.category_id, record.activity.category) == (
        "post",
        5,
        "type-1",
    )
    stored = record.model_dump_json()
    assert "Helper" not in stored
    assert "Hold the button" not in stored


def test_a_private_messages_posts_are_not_counted(api: Api, forum: httpx.Client) -> None:
    with api.writes_nothing():
        answered(deliver(forum, "post_created_private_message", event_id="60"), "ignored")


def test_the_intake_is_nobodys_shift(api: Api, forum: httpx.Client) -> None:
    """A flag from the forum is not an off-rota action: the intake is not a person."""
    lead = api.user("lee", "safeguarding_lead")
    flagged_at = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    accepted(
        deliver(
            forum,
            "reviewable_created_flagged_post",
            event_id="70",
            target_created_by_id=43,
            created_at=when(flagged_at),
        )
    )
    listed = lead.get(
        "/api/v1/shifts/off-rota",
        params={
            "from": "2026-11-17T00:00:00Z",
            "to": "2026-11-18T00:00:00Z",
        },
    )
    assert listed.status_code == 200, listed.text
    assert [a["actor"] for a in listed.json()["items"]] == []
    # ... while a person's action with no shift is listed
    opened = lead.post(
        "/api/v1/cases",
        json={
            "subject": {"kind": "member", "ref": "member-1"},
            "source": "staff_concern",
            "category": "other",
            "summary": "A concern raised by the lead.",
        },
    )
    assert opened.status_code == 201, opened.text
    listed = lead.get(
        "/api/v1/shifts/off-rota",
        params={
            "from": "2026-11-17T00:00:00Z",
            "to": "2026-11-18T00:00:00Z",
        },
    )
    assert [a["actor"] for a in listed.json()["items"]] == ["lee"]


def test_concurrent_retries_and_flags_are_decided_once(api: Api, forum: httpx.Client) -> None:
    """Discourse retries while the first delivery is still being written, and two members flag
    one author's posts at once: one delivery is taken, one case is opened."""
    headers, body = payload("reviewable_created_flagged_post", target_created_by_id=43)
    raw = encoded(body)
    same = [signed_headers(headers, raw, event_id=str(80 + n)) for n in range(4)]
    others = []
    for n in range(4):
        h, b = payload(
            "reviewable_created_flagged_post",
            id=400 + n,
            target_id=9500 + n,
            target_created_by_id=44,
        )
        r = encoded(b)
        others.append((r, signed_headers(h, r, event_id=str(90 + n))))
    clients = [api.client() for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        retried = list(
            pool.map(lambda c, h: c.post(INTAKE, content=raw, headers=h), clients[:4], same)
        )
        flagged = list(
            pool.map(
                lambda c, rh: c.post(INTAKE, content=rh[0], headers=rh[1]), clients[4:], others
            )
        )
    statuses = sorted(r.json()["status"] for r in retried)
    assert statuses == ["accepted", "duplicate", "duplicate", "duplicate"], [
        r.text for r in retried
    ]
    answers = [r.json() for r in flagged]
    assert all(a["status"] == "accepted" for a in answers), answers
    assert len({a["case_id"] for a in answers}) == 1
    assert sorted(a["effects"][0] for a in answers) == ["case_opened", *["flag_raised"] * 3]


def test_a_long_post_is_taken_and_a_chunked_oversized_body_refused(
    api: Api, forum: httpx.Client
) -> None:
    long_post = "A long story about living with diabetes. " * 4000  # ~170 kB, twice over
    accepted(
        deliver(
            forum, "post_created_reply", event_id="100", raw=long_post, cooked=f"<p>{long_post}</p>"
        )
    )
    limit = api.vigil.settings.intake_max_body_bytes
    headers, _ = payload("user_created")

    def chunks() -> Iterator[bytes]:
        for _ in range(limit // 10_000 + 2):
            yield b" " * 10_000

    with api.writes_nothing():
        refused = forum.post(
            INTAKE, content=chunks(), headers=signed_headers(headers, b"", event_id="101")
        )
    assert refused.status_code == 413
