"""Services and their calendars over real HTTP, on SQLite and PostgreSQL.

A forum moderated 08:00 to midnight and a helpline open Monday to Wednesday 08:00-14:00: the
same moment is out of hours for one and not the other. A calendar changes by a new version from
a moment on, and never rewrites what was judged before it: an out-of-hours decision's review
deadline, the due times in the queues, the queues replayed as of a past moment and a rebuilt
view all stay as they were; what comes after the version is judged by it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import Clock
from tests.e2e.support import (
    OUT_OF_HOURS_POLICY,
    Api,
    assert_problem,
    at,
    created,
    open_case,
)

EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FORUM = {
    "name": "peer-forum",
    "timezone": "Europe/London",
    "operating_hours": {day: ["08:00-24:00"] for day in EVERY_DAY},
    "bank_holidays": "none",
}
HELPLINE = {
    "name": "helpline",
    "timezone": "Europe/London",
    "operating_hours": {day: ["08:00-14:00"] for day in ("mon", "tue", "wed")},
    "bank_holidays": "england_and_wales",
}
# Monday 23 November 2026, London = UTC in November.
MONDAY_1500 = "2026-11-23T15:00:00Z"


def registered(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/api/v1/services/{body['service']['name']}"
    return body


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def decide_out_of_hours(client: httpx.Client, case_id: str, when: str) -> httpx.Response:
    return client.post(
        f"/api/v1/cases/{case_id}/out-of-hours-decisions",
        json={
            "decision": "Asked the police for a welfare check",
            "rationale": "The member stated a plan and stopped replying",
            "policy_ref": OUT_OF_HOURS_POLICY,
            "occurred_at": when,
        },
    )


def services_by_name(client: httpx.Client) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in ok(client.get("/api/v1/services"))["items"]}


def test_the_same_moment_is_out_of_hours_for_the_helpline_not_for_the_forum(
    api: Api, clock: Clock
) -> None:
    lee = api.user("lee", "safeguarding_lead")
    casey = api.user("casey", "coordinator")
    # Given a forum moderated 08:00-24:00 and a helpline open Monday to Wednesday 08:00-14:00
    forum = registered(lee.post("/api/v1/services", json=FORUM))
    helpline = registered(lee.post("/api/v1/services", json=HELPLINE))
    assert forum["service"]["calendar"]["operating_hours"]["sun"] == ["08:00-24:00"]
    assert [e["type"] for e in helpline["events"]] == ["ServiceRegistered"]
    clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=UTC))
    on_helpline = open_case(casey, service="helpline", occurred_at="2026-11-23T14:50:00Z")
    on_forum = open_case(casey, service="peer-forum", occurred_at="2026-11-23T14:50:00Z")
    assert on_helpline["service"] == "helpline"
    assert on_forum["service"] == "peer-forum"

    # When an out-of-hours decision is recorded on each at 15:00 on Monday
    accepted = created(decide_out_of_hours(casey, on_helpline["id"], MONDAY_1500))
    with api.writes_nothing():
        refused = decide_out_of_hours(casey, on_forum["id"], MONDAY_1500)

    # Then the helpline's is accepted, due for review by its next working day's close (Tuesday
    # 14:00), and the forum's is refused: 15:00 is within its hours
    decision = accepted["events"][0]
    assert at(decision["review_due"]) == at("2026-11-24T14:00:00+00:00")
    problem = assert_problem(refused, 409, "rule-violation", errors=["occurred_at"])
    assert "operating hours" in problem["detail"]
    # And each case says which service it belongs to, read and listed
    assert ok(casey.get(f"/api/v1/cases/{on_forum['id']}"))["case"]["service"] == "peer-forum"
    listed = ok(casey.get("/api/v1/cases", params={"service": "helpline"}))["items"]
    assert [(c["id"], c["service"]) for c in listed] == [(on_helpline["id"], "helpline")]


def test_a_new_calendar_version_never_changes_an_earlier_judgement(api: Api, clock: Clock) -> None:
    lee = api.user("lee", "safeguarding_lead")
    casey = api.user("casey", "coordinator")
    registered(lee.post("/api/v1/services", json=HELPLINE))
    clock.set(datetime(2026, 11, 23, 15, 30, tzinfo=UTC))
    case = open_case(casey, service="helpline", occurred_at="2026-11-23T14:50:00Z")["id"]
    # Given an out-of-hours decision at 15:00 on Monday, due for review on Tuesday at 14:00
    decision = created(decide_out_of_hours(casey, case, MONDAY_1500))["events"][0]
    review_due = decision["review_due"]
    assert at(review_due) == at("2026-11-24T14:00:00+00:00")
    # and a routine escalation and a referral of the same moment, due by the same calendar
    created(
        casey.post(
            f"/api/v1/cases/{case}/escalations",
            json={
                "level": 2,
                "reason": "A lead must see the decision",
                "urgency": "routine",
                "occurred_at": MONDAY_1500,
            },
        )
    )
    created(
        casey.post(
            f"/api/v1/cases/{case}/referrals",
            json={
                "agency": {"name": "Northshire Adult Social Care", "kind": "adult_social_care"},
                "reason": "Risk to life stated by the member",
                "consent": "given",
                "occurred_at": MONDAY_1500,
            },
        )
    )
    before = queue_due_times(lee)
    assert before == {
        "out_of_hours_reviews": [at("2026-11-24T14:00:00+00:00")],
        "unacknowledged_escalations": [at("2026-11-24T14:00:00+00:00")],
        "referrals_awaiting_acknowledgement": [at("2026-11-24T14:00:00+00:00")],
    }
    replayed_before = queue_due_times(lee, as_of="2026-11-23T15:45:00Z")

    # When the helpline's calendar gets a version, from 16:00, under which Monday 15:00 would be
    # working hours (Monday to Friday 08:00-20:00) and the next working day would end at 20:00
    clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=UTC))
    longer = {
        **{k: v for k, v in HELPLINE.items() if k != "name"},
        "operating_hours": {day: ["08:00-20:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
        "effective_from": "2026-11-23T16:00:00Z",
        "rationale": "Volunteers recruited for the afternoons and evenings.",
    }
    versioned = registered(lee.post("/api/v1/services/helpline/calendars", json=longer))
    assert [e["type"] for e in versioned["events"]] == ["ServiceCalendarVersioned"]
    service = versioned["service"]
    assert service["calendar"]["operating_hours"]["thu"] == ["08:00-20:00"]
    assert [v["operating_hours"] for v in service["earlier_versions"]] == [
        HELPLINE["operating_hours"]
    ]

    # Then the decision's review deadline and every due time stay as they were: now, replayed
    # as of a past moment, and after the views are rebuilt from the log
    read = ok(lee.get(f"/api/v1/cases/{case}"))["case"]
    assert [d["review_due"] for d in read["out_of_hours_decisions"]] == [review_due]
    assert queue_due_times(lee) == before
    assert queue_due_times(lee, as_of="2026-11-23T15:45:00Z") == replayed_before
    api.vigil.projector.rebuild()
    assert queue_due_times(lee) == before

    # And a decision after the version takes effect is judged by it: 19:00 is working hours
    # now, 21:00 is not, due by the close of Tuesday's new hours (20:00)
    clock.set(datetime(2026, 11, 23, 21, 30, tzinfo=UTC))
    with api.writes_nothing():
        in_hours = decide_out_of_hours(casey, case, "2026-11-23T19:00:00Z")
    assert_problem(in_hours, 409, "rule-violation", errors=["occurred_at"])
    late = created(decide_out_of_hours(casey, case, "2026-11-23T21:00:00Z"))["events"][0]
    assert at(late["review_due"]) == at("2026-11-24T20:00:00+00:00")
    # An escalation raised now is due by the new version too; the earlier one stays as it was
    created(
        casey.post(
            f"/api/v1/cases/{case}/escalations",
            json={"level": 2, "reason": "A second decision tonight", "urgency": "routine"},
        )
    )
    after = queue_due_times(lee)
    assert after["unacknowledged_escalations"] == [
        at("2026-11-24T14:00:00+00:00"),
        at("2026-11-24T20:00:00+00:00"),
    ]
    assert after["out_of_hours_reviews"] == [
        at("2026-11-24T14:00:00+00:00"),
        at("2026-11-24T20:00:00+00:00"),
    ]


def queue_due_times(client: httpx.Client, *, as_of: str | None = None) -> dict[str, list[Any]]:
    """The due times in each queue whose due times come from a calendar."""
    params = {} if as_of is None else {"as_of": as_of}
    found: dict[str, list[Any]] = {}
    for name in (
        "out_of_hours_reviews",
        "unacknowledged_escalations",
        "referrals_awaiting_acknowledgement",
    ):
        items = ok(client.get(f"/api/v1/queues/{name}", params=params))["items"]
        found[name] = sorted(at(item["due_at"]) for item in items)
    return found


def test_refusals_write_nothing(api: Api, clock: Clock) -> None:
    lee = api.user("lee", "safeguarding_lead")
    casey = api.user("casey", "coordinator")
    registered(lee.post("/api/v1/services", json=HELPLINE))
    scheduled = {
        **{k: v for k, v in HELPLINE.items() if k != "name"},
        "effective_from": "2026-12-01T00:00:00Z",
        "rationale": "Winter hours agreed by the trustees.",
    }
    registered(lee.post("/api/v1/services/helpline/calendars", json=scheduled))

    def refused(
        client: httpx.Client, path: str, body: dict[str, Any], status: int, slug: str, field: str
    ) -> None:
        with api.writes_nothing():
            answer = client.post(path, json=body)
        assert_problem(answer, status, slug, errors=[field] if field else [])

    bad_inputs: list[tuple[dict[str, Any], str]] = [
        ({**HELPLINE, "name": "chat", "timezone": "Europe/Londres"}, "timezone"),
        (
            {**HELPLINE, "name": "chat", "operating_hours": {"mon": ["09:00-24:30"]}},
            "operating_hours",
        ),
        ({**HELPLINE, "name": "chat", "operating_hours": {"mon": ["9-5"]}}, "operating_hours"),
        (
            {**HELPLINE, "name": "chat", "operating_hours": {"funday": ["09:00-17:00"]}},
            "operating_hours",
        ),
        (
            {
                **HELPLINE,
                "name": "chat",
                "operating_hours": {"mon": ["09:00-13:00", "12:00-17:00"]},
            },
            "operating_hours",
        ),
        ({**HELPLINE, "name": "Chat Line!"}, "name"),
        ({**HELPLINE, "name": "chat", "bank_holidays": "England & Wales"}, "bank_holidays"),
    ]
    for body, field in bad_inputs:
        refused(lee, "/api/v1/services", body, 422, "invalid-input", field)
    unknown_region = {**HELPLINE, "name": "chat", "bank_holidays": "atlantis"}
    refused(lee, "/api/v1/services", unknown_region, 422, "unknown-bank-holidays", "bank_holidays")
    refused(lee, "/api/v1/services", HELPLINE, 409, "service-exists", "")
    refused(lee, "/api/v1/services", {**HELPLINE, "name": "default"}, 409, "service-exists", "")
    refused(casey, "/api/v1/services", {**HELPLINE, "name": "chat"}, 403, "not-permitted", "")

    past = {**scheduled, "effective_from": "2026-11-17T09:00:00Z"}
    refused(
        lee,
        "/api/v1/services/helpline/calendars",
        past,
        409,
        "calendar-version-in-past",
        "effective_from",
    )
    refused(
        lee,
        "/api/v1/services/helpline/calendars",
        scheduled,
        409,
        "calendar-version-clash",
        "effective_from",
    )
    refused(lee, "/api/v1/services/nowhere/calendars", scheduled, 404, "service-not-found", "")
    without_reason = {k: v for k, v in scheduled.items() if k != "rationale"}
    refused(
        lee,
        "/api/v1/services/helpline/calendars",
        without_reason,
        422,
        "invalid-input",
        "rationale",
    )

    case = {
        "subject": {"kind": "member", "ref": "member-1"},
        "source": "flag",
        "category": "harassment",
        "summary": "Repeated unwanted messages.",
    }
    refused(
        casey,
        "/api/v1/cases",
        {**case, "service": "nowhere"},
        422,
        "unknown-reference",
        "service",
    )
    refused(
        casey, "/api/v1/cases", {**case, "service": "Not a slug"}, 422, "invalid-input", "service"
    )
    with api.writes_nothing():
        assert_problem(lee.get("/api/v1/services/nowhere"), 404, "service-not-found")


def test_service_writes_take_an_idempotency_key(api: Api) -> None:
    lee = api.user("lee", "safeguarding_lead")
    first = lee.post("/api/v1/services", json=FORUM, headers={"Idempotency-Key": "forum-1"})
    registered(first)
    with api.writes_nothing():
        again = lee.post("/api/v1/services", json=FORUM, headers={"Idempotency-Key": "forum-1"})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = {**FORUM, "name": "other-forum"}
    with api.writes_nothing():
        reused = lee.post("/api/v1/services", json=other, headers={"Idempotency-Key": "forum-1"})
    assert_problem(reused, 422, "idempotency-key-reused")

    version = {
        **{k: v for k, v in FORUM.items() if k != "name"},
        "operating_hours": {day: ["07:00-24:00"] for day in EVERY_DAY},
        "effective_from": "2026-12-01T00:00:00Z",
        "rationale": "Earlier moderation for the morning rush.",
    }
    path = "/api/v1/services/peer-forum/calendars"
    first = lee.post(path, json=version, headers={"Idempotency-Key": "forum-2"})
    registered(first)
    with api.writes_nothing():
        again = lee.post(path, json=version, headers={"Idempotency-Key": "forum-2"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


def test_the_default_service_is_the_settings_calendar_recorded_on_first_need(
    api: Api, clock: Clock
) -> None:
    volunteer = api.user("amara", "volunteer")
    admin = api.user("ada", "admin")
    auditor = api.user("audrey", "auditor")
    settings_calendar = {
        "timezone": "Europe/London",
        "operating_hours": {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
        "bank_holidays": "england_and_wales",
        "closed_dates": [],
        "effective_from": "1900-01-01T00:00:00Z",
        "rationale": "The calendar in the settings when services were introduced.",
    }
    # Given a store where nothing has needed a service yet, the default one is the settings'
    with api.writes_nothing():
        default = services_by_name(auditor)["default"]
    assert default["calendar"] == settings_calendar
    assert (default["recorded"], default["version"], default["earlier_versions"]) == (False, 0, [])

    # When the first case is opened (on the default service, not named)
    case = open_case(volunteer)
    assert case["service"] == "default"

    # Then the default service is recorded, once, by Vigil itself, with the same calendar
    default = services_by_name(admin)["default"]
    assert (default["recorded"], default["version"]) == (True, 1)
    assert default["calendar"] == settings_calendar
    open_case(volunteer)
    assert services_by_name(volunteer)["default"]["version"] == 1
    assert ok(admin.get("/api/v1/services/default"))["calendar"] == settings_calendar
