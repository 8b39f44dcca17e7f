"""The case list: a coordinator filters and pages through cases, and sees their own writes."""

from __future__ import annotations

from typing import Any

from tests.e2e.support import Api, assert_problem, created, open_case


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


def test_a_coordinator_lists_filters_and_pages_through_cases(api: Api) -> None:
    coordinator = api.user("casey", "coordinator")
    self_harm = [
        open_case(
            coordinator,
            subject={"kind": "member", "ref": f"member-{i}"},
            occurred_at=f"2026-11-17T08:0{i}:00Z",
        )
        for i in range(3)
    ]
    spam = open_case(
        coordinator,
        category="spam",
        risk_level="low",
        subject={"kind": "content", "ref": "post-9"},
        occurred_at="2026-11-17T08:30:00Z",
    )
    created(coordinator.post(f"/api/v1/cases/{spam['id']}/assignments", json={"assignee": "casey"}))

    # Read-your-writes: the list answers with every case just written, newest first.
    everything = coordinator.get("/api/v1/cases").json()
    assert _ids(everything) == [spam["id"], *reversed([c["id"] for c in self_harm])]
    assert everything["next_cursor"] is None
    listed_spam = everything["items"][0]
    assert listed_spam["assignee"] == "casey"
    assert listed_spam["version"] == 2
    # A list carries no personal data: no names, no summaries.
    assert "display_name" not in str(everything)
    assert "summary" not in listed_spam

    assert _ids(coordinator.get("/api/v1/cases", params={"category": "spam"}).json()) == [
        spam["id"]
    ]
    assert _ids(coordinator.get("/api/v1/cases", params={"assignee": "casey"}).json()) == [
        spam["id"]
    ]
    by_subject = coordinator.get("/api/v1/cases", params={"subject_ref": "member-1"}).json()
    assert _ids(by_subject) == [self_harm[1]["id"]]
    high = coordinator.get("/api/v1/cases", params={"risk_level": "high", "status": "open"})
    assert len(high.json()["items"]) == 3

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = coordinator.get("/api/v1/cases", params=params).json()
        seen += _ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == _ids(everything)


def test_bad_list_queries_are_problems(api: Api) -> None:
    coordinator = api.user("casey", "coordinator")
    assert_problem(
        coordinator.get("/api/v1/cases", params={"status": "pending"}),
        422,
        "invalid-input",
        errors=["status"],
    )
    assert_problem(
        coordinator.get("/api/v1/cases", params={"limit": 0}),
        422,
        "invalid-input",
        errors=["limit"],
    )
    assert_problem(
        coordinator.get("/api/v1/cases", params={"cursor": "not-a-cursor"}),
        422,
        "invalid-input",
        errors=["cursor"],
    )
    assert_problem(api.client().get("/api/v1/cases"), 401, "not-authenticated")
    admin = api.user("ada", "admin")
    assert_problem(admin.get("/api/v1/cases"), 403, "not-permitted")
