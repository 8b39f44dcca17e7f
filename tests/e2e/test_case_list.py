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


def test_a_filter_the_list_does_not_know_is_refused_not_ignored(api: Api) -> None:
    # Given cases opened over three days
    coordinator = api.user("casey", "coordinator")
    for day in (14, 15, 16):
        open_case(coordinator, occurred_at=f"2026-11-{day}T12:00:00Z")

    # When a lead asks for cases "opened after" Sunday, a filter the list does not have
    with api.writes_nothing():
        refused = coordinator.get("/api/v1/cases", params={"opened_after": "2026-11-15T00:00:00Z"})

    # Then the answer is not an unfiltered list that looks filtered, but a 422 naming it
    problem = assert_problem(refused, 422, "invalid-input", errors=["opened_after"])
    assert "opened_from" in problem["errors"]["opened_after"]  # and what may be asked instead
    two = coordinator.get("/api/v1/cases", params={"status": "open", "foo": "1", "bar": "2"})
    assert set(assert_problem(two, 422, "invalid-input", errors=["foo", "bar"])["errors"]) == {
        "foo",
        "bar",
    }


def test_cases_are_listed_by_when_they_were_opened(api: Api) -> None:
    # Given cases opened on Saturday, Sunday and Monday
    coordinator = api.user("casey", "coordinator")
    saturday, sunday, monday = (
        open_case(coordinator, occurred_at=f"2026-11-{day}T12:00:00Z")["id"] for day in (14, 15, 16)
    )

    def opened(**params: str) -> list[str]:
        answer = coordinator.get("/api/v1/cases", params=params)
        assert answer.status_code == 200, answer.text
        return _ids(answer.json())

    # Then opened_from is inclusive and opened_to exclusive, on the case's opened_at
    assert opened(opened_from="2026-11-15T12:00:00Z") == [monday, sunday]
    assert opened(opened_to="2026-11-15T12:00:00Z") == [saturday]
    assert opened(opened_from="2026-11-15T00:00:00+01:00", opened_to="2026-11-16T00:00:00Z") == [
        sunday
    ]
    # and they are moments like any other: an offset, never a bare number
    for bad in ("1731672000", "2026-11-15", "2026-11-15T00:00:00"):
        assert_problem(
            coordinator.get("/api/v1/cases", params={"opened_from": bad}),
            422,
            "invalid-input",
            errors=["opened_from"],
        )
