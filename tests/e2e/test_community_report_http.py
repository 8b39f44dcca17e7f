"""The community report of real deliveries over HTTP, on SQLite and PostgreSQL.

Given a Discourse forum's signed deliveries (a new account, its first topic, a host's reply in
it, a flagged post), when a coordinator reads the community report of November, then it counts
the member welcomed in time, the flag from the forum, and the topic and post in their category
on the day they were made, and names no one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.support import Api
from tests.e2e.test_intake_discourse import accepted
from tests.intake_support import FORUM, deliver, set_up_forum, when

JOINED = datetime(2026, 11, 16, 20, 0, tzinfo=UTC)


@pytest.fixture
def forum(api: Api) -> httpx.Client:
    api.vigil.identity.register("hana", "volunteer", actor="e2e-setup")  # type: ignore[arg-type]
    set_up_forum(api.vigil, accounts={"helper": "hana"})
    return api.client()


def test_deliveries_reach_the_community_report(api: Api, forum: httpx.Client) -> None:
    accepted(
        deliver(forum, "user_created", event_id="1", id=42, username="newbie",
                created_at=when(JOINED))
    )  # fmt: skip
    accepted(
        deliver(
            forum, "topic_created", event_id="2", id=7001, user_id=42,
            created_by={"id": 42, "username": "newbie", "name": "N", "avatar_template": ""},
            created_at=when(JOINED + timedelta(minutes=30)),
        )
    )  # fmt: skip
    accepted(
        deliver(
            forum, "post_created_reply", event_id="3", id=9002, topic_id=7001, post_number=2,
            user_id=43, username="Helper", created_at=when(JOINED + timedelta(hours=2)),
        )
    )  # fmt: skip
    accepted(
        deliver(
            forum, "reviewable_created_flagged_post", event_id="4", id=321, target_id=9002,
            target_created_by_id=43, created_by_id=42,
            created_at=when(datetime(2026, 11, 17, 8, 0, tzinfo=UTC)),
        )
    )  # fmt: skip
    api.vigil.clock.advance(minutes=10)  # type: ignore[attr-defined]
    as_of = api.vigil.clock() - timedelta(minutes=5)
    coordinator = api.user("cora.coordinator", "coordinator")
    query = {"from": "2026-11-01", "to": "2026-11-30", "service": FORUM, "as_of": as_of.isoformat()}

    found = coordinator.get("/api/v1/reports/community", params=query)

    assert found.status_code == 200, found.text
    tables = {
        f"{s['key']}.{t['key']}": t["rows"] for s in found.json()["sections"] for t in s["tables"]
    }
    assert tables["new_members.summary"] == [
        {"joined": 1, "welcomed_in_time": 1, "welcomed_late": 0, "not_yet_welcomed": 0,
         "in_time_percent": 100.0, "targets": ["24 h"]}
    ]  # fmt: skip
    assert tables["flags.by_channel"] == [{"channel": "forum", "flags": 1}]
    [day] = tables["engagement.by_day"]
    assert (day["date"], day["service"], day["category_id"]) == ("2026-11-16", FORUM, 5)
    assert (day["topics"], day["posts"], day["spike"]) == (1, 1, False)
    for text in ("newbie", "Helper", "hana"):
        assert text not in found.text
    for fmt in ("csv", "html", "pdf"):
        rendered = coordinator.get("/api/v1/reports/community", params={**query, "format": fmt})
        assert rendered.status_code == 200, fmt
