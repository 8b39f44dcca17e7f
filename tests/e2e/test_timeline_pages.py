"""A case's timeline in pages over real HTTP: `limit` and `cursor` on /timeline.

Without `limit` the answer is the whole timeline, as it always was. With it, pages in order
(oldest first) that join up to the whole; `total` counts the whole as the reader sees it at
that moment; every page read is access-logged once; a bad or foreign cursor is refused (422)
before anything is read or written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from infrastructure.settings import Settings
from tests.conftest import Clock
from tests.e2e.support import Api, assert_problem, created, open_case


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"restricted_categories": "self_harm_risk,harm_to_others"})


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def pages(client: httpx.Client, case: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every page of a case's timeline, following next_cursor."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = ok(client.get(f"/api/v1/cases/{case}/timeline", params=query))
        found.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return found


_auditors: dict[int, httpx.Client] = {}


def timeline_reads(api: Api, case: str) -> int:
    """How many TIMELINE access records the case's access log holds."""
    if id(api) not in _auditors:
        _auditors[id(api)] = api.user("aud-reader", "auditor")
    auditor = _auditors[id(api)]
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"case_id": case, "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = ok(auditor.get("/api/v1/audit/access", params=query))
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return sum(1 for e in found if e["what"] == "timeline")


def note(client: httpx.Client, case: str, text: str, **extra: Any) -> None:
    created(
        client.post(f"/api/v1/cases/{case}/notes", json={"kind": "fact", "text": text, **extra})
    )


def test_pages_join_up_to_the_whole_timeline_and_each_page_is_logged_once(
    api: Api, clock: Clock
) -> None:
    casey = api.user("casey", "coordinator")
    case = open_case(casey, category="harassment")["id"]
    for n in range(6):
        clock.advance(minutes=1)
        note(casey, case, f"Follow-up {n}.")
    whole = casey.get(f"/api/v1/cases/{case}/timeline")
    body = ok(whole)
    # Without limit: the whole timeline, as before, with total and no cursor.
    assert len(body["events"]) == 7
    assert body["total"] == 7
    assert body["next_cursor"] is None
    assert whole.headers["etag"] == '"7"'

    before = timeline_reads(api, case)
    got = pages(casey, case, 3)
    assert [len(p["events"]) for p in got] == [3, 3, 1]
    assert all(p["total"] == 7 for p in got)
    assert [e for p in got for e in p["events"]] == body["events"]
    assert timeline_reads(api, case) == before + 3
    # The ETag stays the version of the case's last event, whichever page.
    first = casey.get(f"/api/v1/cases/{case}/timeline", params={"limit": 2})
    assert first.headers["etag"] == '"7"'
    # A limit that covers the whole: one page, no cursor.
    (only,) = pages(casey, case, 7)
    assert only["events"] == body["events"]


def test_pages_as_of_a_moment_on_both_bases(api: Api, clock: Clock) -> None:
    casey = api.user("casey", "coordinator")
    opened_at = clock()
    case = open_case(casey, category="harassment", occurred_at=opened_at.isoformat())["id"]
    for n in range(4):
        clock.advance(minutes=10)
        note(casey, case, f"Update {n}.")
    # Logged at 10:30+ but happened five minutes after the case opened.
    clock.advance(minutes=30)
    note(casey, case, "Late entry.", occurred_at=(opened_at + timedelta(minutes=5)).isoformat())

    recorded_at = (opened_at + timedelta(minutes=25)).isoformat()  # opened, updates 0 and 1
    recorded = pages(casey, case, 2, as_of=recorded_at, basis="recorded")
    events = [e for p in recorded for e in p["events"]]
    assert [e["version"] for e in events] == [1, 2, 3]
    assert [p["total"] for p in recorded] == [3, 3]

    occurred_at = (opened_at + timedelta(minutes=15)).isoformat()  # opened, update 0, late entry
    occurred = pages(casey, case, 2, as_of=occurred_at, basis="occurred")
    events = [e for p in occurred for e in p["events"]]
    assert [e["version"] for e in events] == [1, 2, 6]
    assert [p["total"] for p in occurred] == [3, 3]
    whole = ok(
        casey.get(
            f"/api/v1/cases/{case}/timeline", params={"as_of": occurred_at, "basis": "occurred"}
        )
    )
    assert whole["events"] == events


def test_bad_limits_and_cursors_are_refused_and_nothing_is_written(api: Api) -> None:
    casey = api.user("casey", "coordinator")
    case = open_case(casey, category="harassment")["id"]
    other = open_case(casey, category="spam", subject={"kind": "member", "ref": "m-2"})["id"]
    note(casey, case, "One.")
    note(casey, case, "Two.")
    note(casey, other, "Elsewhere.")
    foreign = ok(casey.get(f"/api/v1/cases/{other}/timeline", params={"limit": 1}))
    assert foreign["next_cursor"]
    mine = ok(casey.get(f"/api/v1/cases/{case}/timeline", params={"limit": 1}))["next_cursor"]
    assert mine
    tampered = mine[:-2] + ("AA" if mine[-2:] != "AA" else "BB")

    reads = timeline_reads(api, case)
    with api.writes_nothing():
        for limit in (0, -1, 1001, "many"):
            assert_problem(
                casey.get(f"/api/v1/cases/{case}/timeline", params={"limit": limit}),
                422,
                "invalid-input",
                errors=["limit"],
            )
        for cursor in (foreign["next_cursor"], tampered, "not-a-cursor", "W10"):
            problem = assert_problem(
                casey.get(f"/api/v1/cases/{case}/timeline", params={"limit": 1, "cursor": cursor}),
                422,
                "invalid-input",
                errors=["cursor"],
            )
            assert "cursor" in problem["detail"]
    assert timeline_reads(api, case) == reads
    # The largest page is allowed.
    assert (
        len(ok(casey.get(f"/api/v1/cases/{case}/timeline", params={"limit": 1000}))["events"]) == 3
    )


def test_a_reader_of_part_of_a_restricted_case_pages_through_only_their_own(api: Api) -> None:
    casey = api.user("casey", "coordinator")
    lead = api.user("priya", "safeguarding_lead")
    case = open_case(casey, risk_level="high")["id"]  # self-harm: restricted
    base = f"/api/v1/cases/{case}"
    created(
        lead.post(
            f"{base}/escalations",
            json={"level": 2, "reason": "Needs a lead now", "urgency": "urgent"},
        )
    )
    created(lead.post(f"{base}/notes", json={"kind": "assessment", "text": "Lead's view."}))
    note(casey, case, "Replied to DM.")
    created(lead.post(f"{base}/notes", json={"kind": "assessment", "text": "Second view."}))
    note(casey, case, "Checked in again.")

    reads = timeline_reads(api, case)
    got = pages(casey, case, 2)
    events = [e for p in got for e in p["events"]]
    assert {e["actor"] for e in events} == {"casey"}
    assert [e["version"] for e in events] == [1, 4, 6]
    assert [p["total"] for p in got] == [3, 3]
    assert timeline_reads(api, case) == reads + 2
    whole = ok(lead.get(f"{base}/timeline", params={"limit": 1000}))
    assert whole["total"] == 6
    assert whole["next_cursor"] is None
