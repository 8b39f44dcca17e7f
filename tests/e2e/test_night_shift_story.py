"""The whole shift story over real HTTP, on SQLite and PostgreSQL: a forum's calendar and a new
version of it, the seed coordinator's rota across the last Sunday of March, a Tuesday and its
night on call (a late-logged check-in, actions inside and outside the checked-in windows, a
cover shift recorded after the fact, an out-of-hours decision, a handover and its
acknowledgement, check-outs), then what the lead reads the next morning: the shift logs, the
off-rota actions, who was on call on both clocks, the three shift queues (each holding an item
until the right action empties it) and the rota's gaps.

London is on GMT until Sunday 28 March 2027, 01:00 UTC, then on BST (UTC+1).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import Clock
from tests.e2e.support import OUT_OF_HOURS_POLICY, SELF_HARM_POST, Api

FORUM = {
    "name": "peer-forum",
    "timezone": "Europe/London",
    "bank_holidays": "none",
    "operating_hours": {
        d: ["08:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    },
    "rationale": "Moderated 08:00 to midnight, every day.",
}
EARLIER = {
    **{k: v for k, v in FORUM.items() if k != "name"},
    "operating_hours": {
        d: ["07:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    },
    "effective_from": "2027-03-26T00:00:00Z",
    "rationale": "Early moderators recruited: the forum opens at 07:00 from Friday.",
}
SEED_WEEK = [
    {"weekday": "tue", "start": "10:00", "end": "12:00"},
    {"weekday": "tue", "start": "19:00", "end": "23:00"},
    {"weekday": "sat", "start": "09:00", "end": "11:00"},
    {"weekday": "sat", "start": "15:00", "end": "17:00"},
    {"weekday": "sat", "start": "20:00", "end": "23:00"},
]


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 3, day, hour, minute, tzinfo=UTC)


def z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def made(response: httpx.Response) -> Any:
    assert response.status_code == 201, response.text
    return response.json()


def queue(client: httpx.Client, name: str) -> list[tuple[str, str | None]]:
    """The queue's items now: (shift id, person)."""
    items = ok(client.get(f"/api/v1/queues/{name}"))["items"]
    return [(i["shift_id"], i["person"]) for i in items]


def test_a_week_of_the_rota_and_its_night_on_call_read_the_next_morning(
    api: Api, clock: Clock
) -> None:
    casey = api.user("casey", "coordinator")  # plans the rota
    kit = api.user("kit", "volunteer")  # the seed's coordinator pattern
    jo = api.user("jo", "safeguarding_lead")  # on call on Tuesday night
    sam = api.user("sam", "moderator")  # covers an hour late on Tuesday
    lee = api.user("lee", "safeguarding_lead")  # the lead in the morning

    # Given the forum, moderated 08:00 to midnight, and a new version of its calendar from Friday
    # 26 March (open from 07:00), recorded on Monday 22 March
    clock.set(utc(22, 9))
    made(lee.post("/api/v1/services", json=FORUM))
    service = made(lee.post("/api/v1/services/peer-forum/calendars", json=EARLIER))["service"]
    assert service["calendar"]["operating_hours"]["tue"] == ["08:00-24:00"]  # in force now
    assert [v["effective_from"] for v in service["scheduled_versions"]] == ["2027-03-26T00:00:00Z"]

    # And the seed's weekly pattern for kit, from Tuesday 23 to Tuesday 30 March, across the
    # clock change; and jo on call on Tuesday night
    rota = made(
        casey.post(
            "/api/v1/rota",
            json={
                "service": "peer-forum",
                "role": "coordinator",
                "assignee": "kit",
                "weekly": SEED_WEEK,
                "from": "2027-03-23",
                "until": "2027-03-30",
            },
        )
    )
    starts = [s["starts_at"] for s in rota["shifts"]]
    assert starts == [
        "2027-03-23T10:00:00Z",
        "2027-03-23T19:00:00Z",  # 19:00 GMT
        "2027-03-27T09:00:00Z",
        "2027-03-27T15:00:00Z",
        "2027-03-27T20:00:00Z",
        "2027-03-30T09:00:00Z",
        "2027-03-30T18:00:00Z",  # 19:00 BST: 19:00 local on both sides of the change
    ]
    morning_shift, evening_shift = rota["shifts"][0]["id"], rota["shifts"][1]["id"]
    night = made(
        casey.post(
            "/api/v1/shifts",
            json={
                "service": "peer-forum",
                "role": "on_call",
                "assignee": "jo",
                "starts_at": z(utc(23, 23)),
                "ends_at": z(utc(24, 7)),
            },
        )
    )["shift"]["id"]

    # When kit's Tuesday morning shift has started and nobody has checked in, it is uncovered,
    # until kit checks in
    clock.set(utc(23, 10, 10))
    assert queue(lee, "uncovered_shifts") == [(morning_shift, "kit")]
    made(kit.post(f"/api/v1/shifts/{morning_shift}/check-in"))
    assert queue(lee, "uncovered_shifts") == []
    clock.set(utc(23, 12, 1))
    made(kit.post(f"/api/v1/shifts/{morning_shift}/check-out"))

    # And in the evening kit checks in early, opens a case at 20:00 (logged at once) and adds a
    # note at 21:00 logged at 21:30 (late)
    clock.set(utc(23, 18, 55))
    made(kit.post(f"/api/v1/shifts/{evening_shift}/check-in"))
    clock.set(utc(23, 20, 5))
    complaint = made(
        kit.post(
            "/api/v1/cases",
            json={
                "subject": {"kind": "member", "ref": "forum-member-3107"},
                "source": "flag",
                "category": "harassment",
                "summary": "Member reported repeated unwanted messages.",
                "channel": "forum",
                "service": "peer-forum",
                "occurred_at": z(utc(23, 20)),
            },
        )
    )["case"]["id"]
    clock.set(utc(23, 21, 30))
    made(
        kit.post(
            f"/api/v1/cases/{complaint}/notes",
            json={
                "kind": "fact",
                "text": "Two more messages since.",
                "occurred_at": z(utc(23, 21)),
            },
        )
    )

    # And jo opens a case at 22:30, before checking in (an off-rota action), then checks in at
    # 23:00 and logs it at 23:25
    clock.set(utc(23, 22, 31))
    case = made(
        jo.post(
            "/api/v1/cases",
            json={**SELF_HARM_POST, "service": "peer-forum", "occurred_at": z(utc(23, 22, 30))},
        )
    )["case"]["id"]
    clock.set(utc(23, 23, 25))
    made(jo.post(f"/api/v1/shifts/{night}/check-in", json={"occurred_at": z(utc(23, 23))}))

    # And kit forgets to check out: at 23:30 the missed check-out is queued; sam's cover from
    # 23:00, recorded now, and sam's check-in
    clock.set(utc(23, 23, 30))
    assert queue(lee, "missed_check_outs") == [(evening_shift, "kit")]
    cover = made(
        lee.post(
            "/api/v1/shifts",
            json={
                "service": "peer-forum",
                "role": "moderator",
                "assignee": "sam",
                "starts_at": z(utc(23, 23)),
                "ends_at": z(utc(24, 0)),
                "reason": "Sam moderates the busy thread until midnight.",
            },
        )
    )["shift"]["id"]
    made(sam.post(f"/api/v1/shifts/{cover}/check-in"))
    assert queue(lee, "uncovered_shifts") == []
    # Then kit's check-out, logged at 23:40 for 23:00, empties the queue
    clock.set(utc(23, 23, 40))
    made(
        kit.post(f"/api/v1/shifts/{evening_shift}/check-out", json={"occurred_at": z(utc(23, 23))})
    )
    assert queue(lee, "missed_check_outs") == []

    # And out of hours (after midnight) jo records a decision at once, and a note an hour later
    # logged 40 minutes after it
    clock.set(utc(24, 0, 32))
    decision = made(
        jo.post(
            f"/api/v1/cases/{case}/out-of-hours-decisions",
            json={
                "decision": "Phone the member with the crisis line on the call.",
                "rationale": "Distressed and alone tonight; no plan stated.",
                "policy_ref": OUT_OF_HOURS_POLICY,
                "occurred_at": z(utc(24, 0, 30)),
            },
        )
    )
    assert decision["events"][0]["type"] == "OutOfHoursDecisionRecorded"
    clock.set(utc(24, 1, 40))
    made(
        jo.post(
            f"/api/v1/cases/{case}/notes",
            json={
                "kind": "fact",
                "text": "Member is safe with a friend.",
                "occurred_at": z(utc(24, 1)),
            },
        )
    )

    # And at 07:02 jo checks out, handing the case over to lee: unacknowledged until lee
    # acknowledges it at 08:10
    clock.set(utc(24, 7, 2))
    out = made(
        jo.post(
            f"/api/v1/shifts/{night}/check-out",
            json={"handover": {"note": "Please ring the member.", "case_ids": [case], "to": "lee"}},
        )
    )
    handover = out["events"][0]["handover_id"]
    assert [e["type"] for e in out["events"]] == ["HandoverRecorded", "CheckedOut"]
    assert queue(lee, "handovers_unacknowledged") == [(night, "lee")]
    clock.set(utc(24, 8, 10))
    made(lee.post(f"/api/v1/shifts/{night}/handovers/{handover}/acknowledgement", json={}))
    assert queue(lee, "handovers_unacknowledged") == []

    # Then jo's shift log: on time by the plan, the check-in logged late, the actions in the
    # checked-in window only (not the case opened before it), late marks, the decision, the
    # handover acknowledged
    clock.set(utc(24, 9))
    log = ok(lee.get(f"/api/v1/shifts/{night}/log"))
    [person] = log["people"]
    assert (person["person"], person["status"], person["check_in_logged_late"]) == (
        "jo",
        "on_time",
        True,
    )
    assert (person["checked_in_at"], person["checked_in_recorded_at"]) == (
        "2027-03-23T23:00:00Z",
        "2027-03-23T23:25:00Z",
    )
    assert [(a["type"], a["case_id"], a["late"]) for a in log["actions"]] == [
        ("OutOfHoursDecisionRecorded", case, False),
        ("NoteAdded", case, True),
    ]
    assert [a["type"] for a in log["out_of_hours_decisions"]] == ["OutOfHoursDecisionRecorded"]
    [given] = log["handovers_given"]
    assert (given["handover_id"], given["given_to"], given["case_ids"]) == (handover, "lee", [case])
    assert (given["acknowledged_by"], given["acknowledged_at"]) == ("lee", "2027-03-24T08:10:00Z")

    # And kit's evening log: both actions, the late one marked; checked out at 23:00, logged late
    evening = ok(lee.get(f"/api/v1/shifts/{evening_shift}/log"))
    assert [(a["type"], a["late"]) for a in evening["actions"]] == [
        ("CaseOpened", False),
        ("NoteAdded", True),
    ]
    [kit_there] = evening["people"]
    assert (kit_there["checked_out_at"], kit_there["checked_out_recorded_at"]) == (
        "2027-03-23T23:00:00Z",
        "2027-03-23T23:40:00Z",
    )

    # And the off-rota actions that day: jo's case, opened before the check-in
    off_rota = ok(
        lee.get("/api/v1/shifts/off-rota", params={"from": z(utc(23, 0)), "to": z(utc(24, 12))})
    )
    assert [(a["actor"], a["type"], a["case_id"]) for a in off_rota["items"]] == [
        ("jo", "CaseOpened", case)
    ]

    # And who was on call at 23:10: as the rota was recorded then, jo planned (not sam, whose
    # cover was recorded at 23:30) and kit still checked in (jo's check-in came at 23:25); as
    # known now, jo and sam planned and only jo checked in (kit left at 23:00)
    at = ok(lee.get("/api/v1/on-call", params={"at": z(utc(23, 23, 10))}))
    then, now = at["as_recorded_then"], at["as_known_now"]
    assert [p["assignee"] for p in then["planned"]] == ["jo"]
    assert [c["person"] for c in then["checked_in"]] == ["kit"]
    assert sorted(p["assignee"] for p in now["planned"]) == ["jo", "sam"]
    assert [c["person"] for c in now["checked_in"]] == ["jo"]

    # And the gaps: Tuesday's out-of-hours period without on-call, and the hour of Wednesday
    # morning after jo's shift; after the new version (07:00) and the clock change (BST), the
    # nights of 29 and 30 March from 23:00 UTC to 06:00 UTC; kit planned 13 hours in a week
    gaps = ok(
        lee.get(
            "/api/v1/rota/gaps",
            params={"from": z(utc(23, 0)), "to": z(utc(24, 12)), "service": "peer-forum"},
        )
    )
    assert [(p["starts_at"], p["ends_at"]) for p in gaps["uncovered_out_of_hours"]] == [
        ("2027-03-23T00:00:00Z", "2027-03-23T08:00:00Z"),
        ("2027-03-24T07:00:00Z", "2027-03-24T08:00:00Z"),
    ]
    later = ok(
        lee.get(
            "/api/v1/rota/gaps",
            params={"from": z(utc(29, 0)), "to": z(utc(31, 0)), "service": "peer-forum"},
        )
    )
    assert [(p["starts_at"], p["ends_at"]) for p in later["uncovered_out_of_hours"]] == [
        ("2027-03-29T00:00:00Z", "2027-03-29T06:00:00Z"),
        ("2027-03-29T23:00:00Z", "2027-03-30T06:00:00Z"),
        ("2027-03-30T23:00:00Z", "2027-03-31T00:00:00Z"),
    ]
    weeks = ok(
        lee.get(
            "/api/v1/rota/gaps",
            params={"from": z(utc(22, 0)), "to": "2027-04-05T00:00:00Z", "service": "peer-forum"},
        )
    )
    assert [(o["person"], o["week_of"], o["hours"]) for o in weeks["over_weekly_cap"]] == [
        ("kit", "2027-03-22", 13.0)
    ]
