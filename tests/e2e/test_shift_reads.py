"""The shift read side over real HTTP: the lead reviewing Tuesday night on Wednesday morning.

The rota and its attendance are written with ``tests.shift_writer`` (the domain's decide through
the one write path: the write side's routes land separately), case work over HTTP. Every read is
a real request on SQLite and PostgreSQL: the rota, one shift, its log, off-rota actions, who
was on call on both clocks, the shift queues, the gaps and the calendar feed; and every refusal
is a problem that writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from icalendar import Calendar

from domain.shared import Actor, Role
from tests.conftest import Clock
from tests.e2e.support import OUT_OF_HOURS_POLICY, RFC3339, Api, assert_problem, created, open_case
from tests.shift_writer import ShiftWriter

CASEY = Actor(username="casey", role=Role.COORDINATOR)
KIT = Actor(username="kit", role=Role.VOLUNTEER)


def utc(hour: int, minute: int = 0, day: int = 17) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


class Night:
    def __init__(self, api: Api, clock: Clock) -> None:
        self.casey = api.user("casey", "coordinator")
        self.lee = api.user("lee", "safeguarding_lead")
        self.kit = api.user("kit", "volunteer")
        self.sam = api.user("sam", "moderator")
        self.audrey = api.user("audrey", "auditor")
        writer = ShiftWriter(api.vigil)
        clock.set(utc(9, 30))
        self.on_call = writer.plan("casey", utc(19), utc(23))
        writer.reassign(self.on_call, "kit", from_at=utc(22))
        self.moderation = writer.plan("sam", utc(18), utc(22), role="moderator")
        clock.set(utc(19, 20))
        writer.check_in(self.on_call, CASEY, occurred_at=utc(19))
        clock.set(utc(20, 5))
        self.case = open_case(self.casey, occurred_at=z(utc(20)))
        clock.set(utc(21, 40))
        decision = created(
            self.casey.post(
                f"/api/v1/cases/{self.case['id']}/out-of-hours-decisions",
                json={
                    "decision": "Called the crisis line with the member",
                    "rationale": "Member said they would act on it tonight",
                    "policy_ref": OUT_OF_HOURS_POLICY,
                    "occurred_at": z(utc(21, 10)),
                },
            )
        )
        self.position = decision["position"]
        clock.set(utc(21, 50))
        created(
            self.sam.post(
                f"/api/v1/cases/{self.case['id']}/notes",
                json={"kind": "fact", "text": "Member posted again in the same thread."},
            )
        )
        clock.set(utc(21, 55))
        self.handover = writer.hand_over(
            self.on_call, CASEY, case_ids=[UUID(self.case["id"])], to="kit"
        )
        clock.set(utc(22))
        writer.check_out(self.on_call, CASEY)
        writer.check_in(self.on_call, KIT)
        clock.set(utc(9, 30, day=18))  # Wednesday morning: kit never checked out


@pytest.fixture
def night(api: Api, clock: Clock) -> Night:
    return Night(api, clock)


def test_the_lead_reads_tuesday_night_on_wednesday_morning(api: Api, night: Night) -> None:
    lee = night.lee
    rota = ok(lee.get("/api/v1/shifts", params={"from": z(utc(0)), "to": z(utc(0, day=18))}))
    assert [s["id"] for s in rota["items"]] == [str(night.moderation), str(night.on_call)]
    assert rota["next_cursor"] is None
    on_call = rota["items"][1]
    assert [(p["assignee"], p["starts_at"]) for p in on_call["parts"]] == [
        ("casey", "2026-11-17T19:00:00Z"),
        ("kit", "2026-11-17T22:00:00Z"),
    ]
    casey_in = next(a for a in on_call["attendance"] if a["person"] == "casey")
    assert (casey_in["checked_in_at"], casey_in["checked_in_recorded_at"]) == (
        "2026-11-17T19:00:00Z",
        "2026-11-17T19:20:00Z",
    )
    assert all(RFC3339.match(casey_in[k]) for k in ("checked_in_at", "checked_out_at"))
    kits = ok(lee.get("/api/v1/shifts", params={"assignee": "kit"}))["items"]
    assert [s["id"] for s in kits] == [str(night.on_call)]

    shift = ok(lee.get(f"/api/v1/shifts/{night.on_call}"))
    (handover,) = shift["handovers_given"]
    assert (handover["given_by"], handover["given_to"], handover["case_ids"]) == (
        "casey",
        "kit",
        [night.case["id"]],
    )
    assert handover["acknowledged_at"] is None
    assert "note" not in handover

    log = ok(lee.get(f"/api/v1/shifts/{night.on_call}/log"))
    assert [(a["actor"], a["type"], a["late"]) for a in log["actions"]] == [
        ("casey", "CaseOpened", False),
        ("casey", "OutOfHoursDecisionRecorded", True),  # at 21:10, logged at 21:40
    ]
    assert [d["position"] for d in log["out_of_hours_decisions"]] == [night.position]
    assert {p["person"]: p["status"] for p in log["people"]} == {
        "casey": "on_time",
        "kit": "on_time",
    }
    assert log["actions"][0]["case_id"] == night.case["id"]
    assert log["actions"][0]["contact_id"] is None

    off_rota = ok(
        lee.get("/api/v1/shifts/off-rota", params={"from": z(utc(0)), "to": z(utc(0, day=18))})
    )
    assert [(a["actor"], a["type"]) for a in off_rota["items"]] == [("sam", "NoteAdded")]

    at = ok(lee.get("/api/v1/on-call", params={"at": z(utc(19, 10))}))
    assert [p["assignee"] for p in at["as_known_now"]["planned"]] == ["sam", "casey"]
    assert [c["person"] for c in at["as_known_now"]["checked_in"]] == ["casey"]
    assert at["as_recorded_then"]["checked_in"] == []  # casey's check-in was logged at 19:20

    queues = {q["name"]: q for q in ok(lee.get("/api/v1/queues"))["shift_queues"]}
    assert queues["missed_check_outs"]["total"] == 1
    assert queues["handovers_unacknowledged"]["total"] == 1
    assert queues["uncovered_shifts"]["total"] == 0
    (missed,) = ok(lee.get("/api/v1/queues/missed_check_outs"))["items"]
    assert (missed["person"], missed["due_at"], missed["overdue"]) == (
        "kit",
        "2026-11-17T23:00:00Z",
        True,
    )

    gaps = ok(lee.get("/api/v1/rota/gaps", params={"from": z(utc(17)), "to": z(utc(9, day=18))}))
    assert [(p["starts_at"], p["ends_at"]) for p in gaps["uncovered_out_of_hours"]] == [
        ("2026-11-17T17:00:00Z", "2026-11-17T19:00:00Z"),
        ("2026-11-17T23:00:00Z", "2026-11-18T09:00:00Z"),
    ]
    # casey (a coordinator) is on call 19:00-22:00; kit (a volunteer) from 22:00.
    assert [(p["starts_at"], p["ends_at"]) for p in gaps["no_coordinator_or_lead_on_call"]] == [
        ("2026-11-17T17:00:00Z", "2026-11-17T19:00:00Z"),
        ("2026-11-17T22:00:00Z", "2026-11-18T09:00:00Z"),
    ]
    assert gaps["from"] == "2026-11-17T17:00:00Z"
    assert gaps["over_weekly_cap"] == []

    # Everyone who reads cases reads the rota and who is on call; not the shift logs.
    for client in (night.kit, night.sam, night.audrey):
        assert ok(client.get("/api/v1/on-call"))["as_known_now"]["planned"] == []
        assert ok(client.get(f"/api/v1/shifts/{night.on_call}"))["id"] == str(night.on_call)
    assert ok(night.audrey.get(f"/api/v1/shifts/{night.on_call}/log"))["actions"]


def test_reading_the_rota_refuses_what_it_cannot_answer_and_writes_nothing(
    api: Api, night: Night
) -> None:
    lee, kit = night.lee, night.kit
    with api.writes_nothing():
        for client in (kit, night.sam):
            assert_problem(client.get(f"/api/v1/shifts/{night.on_call}/log"), 403, "not-permitted")
            assert_problem(
                client.get("/api/v1/shifts/off-rota", params={"from": z(utc(0)), "to": z(utc(23))}),
                403,
                "not-permitted",
            )
        assert_problem(lee.get(f"/api/v1/shifts/{uuid4()}"), 404, "item-not-found")
        assert_problem(lee.get(f"/api/v1/shifts/{uuid4()}/log"), 404, "item-not-found")
        assert_problem(lee.get("/api/v1/shifts/not-a-uuid"), 422, "invalid-input")
        assert_problem(
            lee.get("/api/v1/shifts", params={"role": "janitor"}),
            422,
            "invalid-input",
            errors=["role"],
        )
        assert_problem(
            lee.get("/api/v1/shifts", params={"cursor": "bm9wZQ"}),
            422,
            "invalid-input",
            errors=["cursor"],
        )
        assert_problem(
            lee.get("/api/v1/shifts", params={"from": z(utc(20)), "to": z(utc(19))}),
            422,
            "invalid-input",
            errors=["to"],
        )
        assert_problem(lee.get("/api/v1/shifts/off-rota"), 422, "invalid-input", errors=["from"])
        assert_problem(
            lee.get(
                "/api/v1/rota/gaps",
                params={"from": z(utc(0)), "to": "2027-03-01T00:00:00Z"},
            ),
            422,
            "invalid-input",
            errors=["to"],
        )
        assert_problem(
            lee.get(
                "/api/v1/rota/gaps",
                params={"from": z(utc(0)), "to": z(utc(23)), "service": "helpline"},
            ),
            422,
            "unknown-reference",
        )
        assert_problem(
            lee.get(
                "/api/v1/queues/uncovered_shifts",
                params={"as_of": z(utc(20)), "cursor": "bm90LWEtY3Vyc29y"},
            ),
            422,
            "invalid-input",
            errors=["cursor"],
        )
        assert_problem(
            lee.get("/api/v1/on-call", params={"at": "2026-11-17T19:00:00"}),
            422,
            "invalid-input",
            errors=["at"],
        )
        assert_problem(
            lee.get(f"/api/v1/shifts/{night.on_call}/log", params={"limit": 1001}),
            422,
            "invalid-input",
        )


def test_a_persons_calendar_feed_is_theirs_and_their_coordinators(api: Api, night: Night) -> None:
    feed = night.kit.get("/api/v1/shifts.ics")
    assert feed.status_code == 200, feed.text
    assert feed.headers["content-type"].startswith("text/calendar")
    (event,) = Calendar.from_ical(feed.content).walk("VEVENT")
    assert str(event["UID"]) == f"{night.on_call}@shifts.vigil"
    assert event.decoded("DTSTART") == utc(22)  # kit's part of it
    assert str(event["SUMMARY"]) == "On call shift (default)"
    assert night.casey.get("/api/v1/shifts.ics", params={"assignee": "kit"}).content == (
        feed.content
    )
    assert night.lee.get("/api/v1/shifts.ics", params={"assignee": "kit"}).status_code == 200
    with api.writes_nothing():
        for client in (night.sam, night.audrey):
            assert_problem(
                client.get("/api/v1/shifts.ics", params={"assignee": "kit"}), 403, "not-permitted"
            )


def test_paging_the_shift_log(api: Api, night: Night) -> None:
    first = ok(night.lee.get(f"/api/v1/shifts/{night.on_call}/log", params={"limit": 1}))
    assert len(first["actions"]) == 1
    rest = ok(
        night.lee.get(
            f"/api/v1/shifts/{night.on_call}/log",
            params={"limit": 1, "cursor": first["next_cursor"]},
        )
    )
    assert rest["next_cursor"] is None
    assert [a["type"] for a in first["actions"] + rest["actions"]] == [
        "CaseOpened",
        "OutOfHoursDecisionRecorded",
    ]
    assert_problem(
        night.lee.get(
            f"/api/v1/shifts/{night.moderation}/log", params={"cursor": first["next_cursor"]}
        ),
        422,
        "invalid-input",
        errors=["cursor"],
    )


def test_the_shift_queues_as_of_a_past_moment_are_replayed_as_vigil_knew_them(
    api: Api, night: Night
) -> None:
    lee = night.lee

    def uncovered(at: datetime) -> list[str]:
        page = ok(lee.get("/api/v1/queues/uncovered_shifts", params={"as_of": z(at)}))
        assert page["replayed"] is True
        return [item["item_id"] for item in page["items"]]

    # casey's check-in at 19:00 was logged at 19:20: at 19:10 Vigil knew of nobody on call.
    assert uncovered(utc(19, 10)) == [str(night.moderation), str(night.on_call)]
    # From 19:20 it knew; sam never checked in.
    assert uncovered(utc(20)) == [str(night.moderation)]
    listing = ok(lee.get("/api/v1/queues", params={"as_of": z(utc(21, 58))}))
    assert listing["replayed"] is True
    sizes = {q["name"]: (q["total"], q["overdue"]) for q in listing["shift_queues"]}
    assert sizes == {
        "uncovered_shifts": (1, 1),
        "missed_check_outs": (0, 0),
        "handovers_unacknowledged": (1, None),
    }
    # Wednesday morning, now: kit never checked out.
    now = {q["name"]: q["total"] for q in ok(lee.get("/api/v1/queues"))["shift_queues"]}
    assert now["missed_check_outs"] == 1
