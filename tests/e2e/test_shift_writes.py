"""The rota and attendance over real HTTP, on SQLite and PostgreSQL: a rota from the seed's
pattern across the March clock change, a swap and a partial cover before the start, nothing
re-timed once started, a cancellation, check-ins (late-logged, early within the margin and not
beyond it), one open check-in per person, a handover with the check-out and its
acknowledgement, a lead's record of a forgotten check-out. Every refusal is a problem with its
status and type, and the log does not grow.

The server clock starts on Tuesday 17 November 2026, 09:30 UTC (London is on GMT: local time
is UTC), and the stories move it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from infrastructure.settings import Settings
from tests.conftest import Clock
from tests.e2e.support import Api, assert_problem

RESTRICTED = "self_harm_risk,harm_to_others"
TONIGHT = datetime.fromisoformat("2026-11-17T19:00:00+00:00")
SEED_WEEK = [
    {"weekday": "tue", "start": "10:00", "end": "12:00"},
    {"weekday": "tue", "start": "19:00", "end": "23:00"},
    {"weekday": "sat", "start": "09:00", "end": "11:00"},
    {"weekday": "sat", "start": "15:00", "end": "17:00"},
    {"weekday": "sat", "start": "20:00", "end": "23:00"},
]
COMPLAINT = {
    "subject": {"kind": "member", "ref": "forum-member-3107"},
    "source": "flag",
    "category": "harassment",
    "summary": "Member reported repeated unwanted messages in the carers' forum.",
    "channel": "forum",
}
SELF_HARM = {
    "subject": {"kind": "member", "ref": "forum-member-48213"},
    "source": "flag",
    "category": "self_harm_risk",
    "summary": "Post says they have stopped taking insulin.",
    "channel": "forum",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The product default: self-harm risk and harm to others are restricted."""
    return settings.model_copy(update={"restricted_categories": RESTRICTED})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def written(response: httpx.Response) -> dict[str, Any]:
    """A shift write that must have succeeded: 201, its position in the header and body."""
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["vigil-position"] == str(body["position"])
    assert body["position"] > 0
    return body


def plan(
    client: httpx.Client, assignee: str, start: datetime, hours: float = 4, **more: Any
) -> str:
    body = written(
        client.post(
            "/api/v1/shifts",
            json={
                "role": "on_call",
                "assignee": assignee,
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=hours)).isoformat(),
                **more,
            },
        )
    )
    shift_id: str = body["shift"]["id"]
    return shift_id


def types(body: dict[str, Any]) -> list[str]:
    return [e["type"] for e in body["events"]]


# --- the rota ------------------------------------------------------------------------------------


def test_a_rota_from_the_seed_pattern_keeps_local_time_across_the_clock_change(api: Api) -> None:
    casey = api.user("casey", "coordinator")
    kit = api.user("kit", "volunteer")
    api.user("audrey", "auditor")
    rota = {
        "role": "coordinator",
        "assignee": "casey",
        "weekly": SEED_WEEK,
        "from": "2027-03-20",  # a Saturday; the clocks go forward on Sunday 28 March
        "until": "2027-04-03",
    }

    first = casey.post("/api/v1/rota", json=rota, headers={"Idempotency-Key": "rota-spring"})
    body = written(first)

    # Three Saturdays and two Tuesdays of the seed's week: 13 shifts, one event each, one pattern.
    shifts = body["shifts"]
    assert len(shifts) == len(body["events"]) == 13
    assert set(types(body)) == {"ShiftPlanned"}
    assert len({s["pattern_id"] for s in shifts}) == 1
    assert shifts[0]["pattern_id"] is not None
    assert len({s["id"] for s in shifts}) == 13
    starts = {at(s["starts_at"]): at(s["ends_at"]) for s in shifts}
    # 19:00 in London on both sides of the change: 19:00Z in March's GMT, 18:00Z in BST.
    assert starts[at("2027-03-23T19:00:00+00:00")] == at("2027-03-23T23:00:00+00:00")
    assert starts[at("2027-03-30T18:00:00+00:00")] == at("2027-03-30T22:00:00+00:00")
    assert starts[at("2027-03-27T20:00:00+00:00")] == at("2027-03-27T23:00:00+00:00")
    assert starts[at("2027-04-03T19:00:00+00:00")] == at("2027-04-03T22:00:00+00:00")
    assert at("2027-03-20T09:00:00+00:00") in starts
    assert at("2027-04-03T08:00:00+00:00") in starts
    assert all(s["assignee"] == "casey" and s["role"] == "coordinator" for s in shifts)

    # A retry with the same key answers the same, appending nothing; another body is refused.
    with api.writes_nothing():
        again = casey.post("/api/v1/rota", json=rota, headers={"Idempotency-Key": "rota-spring"})
        assert again.status_code == 201
        assert again.json() == body
        assert again.headers["idempotent-replayed"] == "true"
        assert_problem(
            casey.post(
                "/api/v1/rota",
                json={**rota, "until": "2027-04-10"},
                headers={"Idempotency-Key": "rota-spring"},
            ),
            422,
            "idempotency-key-reused",
        )

    # Refusals, none of which writes anything.
    with api.writes_nothing():
        # Planning is for coordinators and leads.
        assert_problem(kit.post("/api/v1/rota", json=rota), 403, "not-permitted")
        # A range whose first shift has already started (last Saturday).
        assert_problem(
            casey.post("/api/v1/rota", json={**rota, "from": "2026-11-14", "until": "2026-11-20"}),
            422,
            "invalid-input",
            errors=["from"],
        )
        # Two shifts of the pattern that overlap.
        overlapping = [
            {"weekday": "tue", "start": "19:00", "end": "23:00"},
            {"weekday": "tue", "start": "22:00", "end": "02:00"},
        ]
        assert_problem(
            casey.post("/api/v1/rota", json={**rota, "weekly": overlapping}),
            422,
            "invalid-input",
            errors=["weekly"],
        )
        assert_problem(
            casey.post(
                "/api/v1/rota",
                json={**rota, "weekly": [{"weekday": "tue", "start": "7pm", "end": "23:00"}]},
            ),
            422,
            "invalid-input",
            errors=["weekly.0.start"],
        )
        # A service that does not exist, an assignee who is not a user or cannot be on a shift.
        assert_problem(
            casey.post("/api/v1/rota", json={**rota, "service": "peer-forum"}),
            422,
            "unknown-reference",
            errors=["service"],
        )
        assert_problem(
            casey.post("/api/v1/rota", json={**rota, "assignee": "nobody"}),
            422,
            "invalid-input",
            errors=["assignee"],
        )
        assert_problem(
            casey.post("/api/v1/rota", json={**rota, "assignee": "audrey"}),
            422,
            "invalid-input",
            errors=["assignee"],
        )


def test_a_swap_and_a_partial_cover_before_the_start_and_nothing_re_timed_once_started(
    api: Api, clock: Clock
) -> None:
    casey = api.user("casey", "coordinator")
    api.user("kit", "volunteer")
    api.user("sam", "moderator")
    shift = plan(casey, "kit", TONIGHT)
    path = f"/api/v1/shifts/{shift}"

    # A swap: the whole shift is Sam's.
    swap = written(
        casey.post(
            f"{path}/reassignment",
            json={"assignee": "sam", "reason": "Swap agreed with the coordinator."},
        )
    )
    assert types(swap) == ["ShiftReassigned"]
    assert swap["shift"]["assignee"] == "sam"
    assert [s["assignee"] for s in swap["shift"]["segments"]] == ["sam"]

    # Cover for part of it: Kit takes 21:00 to 23:00.
    cover = written(
        casey.post(
            f"{path}/reassignment",
            json={
                "assignee": "kit",
                "reason": "Sam has to leave early; Kit covers the end of the shift.",
                "from_at": "2026-11-17T21:00:00+00:00",
            },
        )
    )
    [event] = cover["events"]
    # The window is recorded whole: until the shift's end.
    assert (event["assignee"], at(event["from_at"]), at(event["until"])) == (
        "kit",
        at("2026-11-17T21:00:00+00:00"),
        at("2026-11-17T23:00:00+00:00"),
    )
    segments = [(s["assignee"], at(s["starts_at"])) for s in cover["shift"]["segments"]]
    assert segments == [("sam", TONIGHT), ("kit", at("2026-11-17T21:00:00+00:00"))]
    assert cover["shift"]["version"] == 3

    with api.writes_nothing():
        # Cover outside the shift, or to whoever has that part already.
        assert_problem(
            casey.post(
                f"{path}/reassignment",
                json={
                    "assignee": "kit",
                    "reason": "Cover for the late part of the evening.",
                    "from_at": "2026-11-17T22:00:00+00:00",
                    "until": "2026-11-18T01:00:00+00:00",
                },
            ),
            422,
            "invalid-input",
        )
        assert_problem(
            casey.post(
                f"{path}/reassignment",
                json={
                    "assignee": "kit",
                    "reason": "Cover for the late part of the evening.",
                    "from_at": "2026-11-17T21:30:00+00:00",
                },
            ),
            409,
            "rule-violation",
        )

    # Once it has started, the rota's past stays as it was: no swap, no cover, no cancellation.
    clock.set(TONIGHT + timedelta(minutes=5))
    with api.writes_nothing():
        assert_problem(
            casey.post(
                f"{path}/reassignment",
                json={"assignee": "kit", "reason": "Swap agreed with the coordinator."},
            ),
            409,
            "rule-violation",
        )
        assert_problem(
            casey.post(f"{path}/cancellation", json={"reason": "No longer needed this evening."}),
            409,
            "rule-violation",
        )
        # Nor is a shift planned for a start already passed, unless it records cover, with why.
        assert_problem(
            casey.post(
                "/api/v1/shifts",
                json={
                    "role": "host",
                    "assignee": "kit",
                    "starts_at": "2026-11-17T18:00:00+00:00",
                    "ends_at": "2026-11-17T23:00:00+00:00",
                },
            ),
            422,
            "invalid-input",
            errors=["reason"],
        )
        assert_problem(
            casey.post(f"{path}/reassignment", json={"assignee": "kit", "reason": "x"}),
            422,
            "invalid-input",
        )
    cover_now = plan(
        casey,
        "kit",
        at("2026-11-17T18:00:00+00:00"),
        hours=5,
        reason="Kit stepped in for the host who fell ill at short notice.",
    )
    assert cover_now


def test_an_early_check_in_makes_a_shift_started(api: Api, clock: Clock) -> None:
    casey = api.user("casey", "coordinator")
    kit = api.user("kit", "volunteer")
    shift = plan(casey, "kit", TONIGHT)
    clock.set(TONIGHT - timedelta(minutes=20))
    written(kit.post(f"/api/v1/shifts/{shift}/check-in"))
    with api.writes_nothing():
        assert_problem(
            casey.post(
                f"/api/v1/shifts/{shift}/cancellation",
                json={"reason": "No longer needed this evening."},
            ),
            409,
            "rule-violation",
        )


def test_a_cancelled_shift_takes_no_check_in(api: Api, clock: Clock) -> None:
    casey = api.user("casey", "coordinator")
    kit = api.user("kit", "volunteer")
    shift = plan(casey, "kit", TONIGHT)
    path = f"/api/v1/shifts/{shift}"

    cancelled = written(
        casey.post(f"{path}/cancellation", json={"reason": "The forum is closed for maintenance."})
    )
    assert types(cancelled) == ["ShiftCancelled"]
    assert cancelled["shift"]["cancelled"] is True

    clock.set(TONIGHT)
    with api.writes_nothing():
        assert_problem(kit.post(f"{path}/check-in"), 409, "rule-violation")
        assert_problem(
            casey.post(f"{path}/cancellation", json={"reason": "The forum is closed again."}),
            409,
            "rule-violation",
        )
        # A shift that does not exist.
        assert_problem(
            kit.post("/api/v1/shifts/0f8e3c1a-4d0b-4c55-9a39-0c6f3a9d2b11/check-in"),
            404,
            "item-not-found",
        )


# --- attendance ----------------------------------------------------------------------------------


def test_a_night_of_attendance_with_its_refusals(api: Api, clock: Clock) -> None:
    casey = api.user("casey", "coordinator")
    lee = api.user("lee", "safeguarding_lead")
    kit = api.user("kit", "volunteer")
    sam = api.user("sam", "moderator")
    robin = api.user("robin", "volunteer")
    audrey = api.user("audrey", "auditor")
    kits = plan(casey, "kit", TONIGHT)
    sams = plan(casey, "sam", TONIGHT)
    kits_other = plan(casey, "kit", TONIGHT + timedelta(hours=1), hours=2, role="host")
    kit_path, sam_path = f"/api/v1/shifts/{kits}", f"/api/v1/shifts/{sams}"
    visible = casey.post("/api/v1/cases", json=COMPLAINT).json()["case"]["id"]
    hidden = lee.post("/api/v1/cases", json=SELF_HARM).json()["case"]["id"]

    # An hour before: beyond the 30-minute margin, refused.
    clock.set(TONIGHT - timedelta(hours=1))
    with api.writes_nothing():
        problem = assert_problem(kit.post(f"{kit_path}/check-in"), 409, "rule-violation")
        assert "30 minutes" in problem["detail"]

    # 20 minutes before: within it. With a key, a retry answers the same and appends nothing.
    clock.set(TONIGHT - timedelta(minutes=20))
    key = {"Idempotency-Key": "kit-in-tonight"}
    checked_in = written(kit.post(f"{kit_path}/check-in", headers=key))
    assert types(checked_in) == ["CheckedIn"]
    [attendance] = checked_in["shift"]["attendance"]
    assert (attendance["person"], at(attendance["checked_in_at"])) == (
        "kit",
        TONIGHT - timedelta(minutes=20),
    )
    with api.writes_nothing():
        again = kit.post(f"{kit_path}/check-in", headers=key)
        assert again.status_code == 201
        assert again.json() == checked_in
        assert again.headers["idempotent-replayed"] == "true"
        assert_problem(
            kit.post(
                f"{kit_path}/check-in",
                headers=key,
                json={"occurred_at": (TONIGHT - timedelta(minutes=25)).isoformat()},
            ),
            422,
            "idempotency-key-reused",
        )
        # No second check-in to the same shift.
        assert_problem(kit.post(f"{kit_path}/check-in"), 409, "rule-violation")
        # One open check-in per person: not into Kit's other shift while checked in here.
        clock.set(TONIGHT + timedelta(hours=1))
        problem = assert_problem(
            kit.post(f"/api/v1/shifts/{kits_other}/check-in"), 409, "rule-violation"
        )
        assert kits in problem["detail"]
        # Not into someone else's shift (403), not even a coordinator's into a volunteer's.
        assert_problem(robin.post(f"{sam_path}/check-in"), 403, "not-permitted")
        assert_problem(casey.post(f"{sam_path}/check-in"), 403, "not-permitted")
        # An auditor is never on a shift.
        assert_problem(audrey.post(f"{sam_path}/check-in"), 403, "not-permitted")
        # No check-out before a check-in.
        assert_problem(sam.post(f"{sam_path}/check-out"), 409, "rule-violation")

    # Sam logs the check-in late: they started at 19:02, and say so at 20:00.
    late = written(sam.post(f"{sam_path}/check-in", json={"occurred_at": "2026-11-17T19:02:00Z"}))
    [sam_in] = late["events"]
    assert at(sam_in["occurred_at"]) == at("2026-11-17T19:02:00+00:00")
    assert at(sam_in["recorded_at"]) == TONIGHT + timedelta(hours=1)
    with api.writes_nothing():
        # A check-out is after the check-in, and never in the future.
        assert_problem(
            sam.post(f"{sam_path}/check-out", json={"occurred_at": "2026-11-17T19:00:00Z"}),
            422,
            "invalid-input",
            errors=["occurred_at"],
        )
        assert_problem(
            sam.post(f"{sam_path}/check-out", json={"occurred_at": "2026-11-18T09:00:00Z"}),
            422,
            "invalid-input",
            errors=["occurred_at"],
        )
        # A handover names cases the person can see: a restricted one is as good as missing.
        assert_problem(
            kit.post(f"{kit_path}/handovers", json={"note": "See the case.", "case_ids": [hidden]}),
            422,
            "unknown-reference",
            errors=["case_ids"],
        )
        # ...and is given while checked in, to an active user.
        assert_problem(
            robin.post(f"{kit_path}/handovers", json={"note": "Nothing open."}),
            409,
            "rule-violation",
        )
        assert_problem(
            kit.post(f"{kit_path}/handovers", json={"note": "Nothing open.", "to": "nobody"}),
            422,
            "invalid-input",
            errors=["to"],
        )

    # Kit checks out at 23:00 with a handover to Robin, who comes in next: one write, two events.
    clock.set(TONIGHT + timedelta(hours=4))
    note = "Member in the carers' forum reported more messages at 22:40; warned the sender."
    out = written(
        kit.post(
            f"{kit_path}/check-out",
            json={"handover": {"note": note, "case_ids": [visible], "to": "robin"}},
            headers={"Idempotency-Key": "kit-out-tonight"},
        )
    )
    assert types(out) == ["HandoverRecorded", "CheckedOut"]
    handover, checked_out = out["events"]
    assert (handover["note"], handover["case_ids"], handover["to"]) == (note, [visible], "robin")
    assert handover["handover_id"] == handover["event_id"]
    assert checked_out["on_behalf_of"] is None
    [given] = out["shift"]["handovers"]
    assert (given["to"], given["acknowledged_at"]) == ("robin", None)
    assert out["shift"]["attendance"][0]["checked_out_at"] is not None
    with api.writes_nothing():
        replay = kit.post(
            f"{kit_path}/check-out",
            json={"handover": {"note": note, "case_ids": [visible], "to": "robin"}},
            headers={"Idempotency-Key": "kit-out-tonight"},
        )
        assert (replay.status_code, replay.json()) == (201, out)
        # Not twice.
        assert_problem(kit.post(f"{kit_path}/check-out"), 409, "rule-violation")
        # And no second check-in after checking out: the log keeps one window per person.
        assert_problem(kit.post(f"{kit_path}/check-in"), 409, "rule-violation")

    # Only the incoming person acknowledges it, once.
    ack_path = f"{kit_path}/handovers/{given['handover_id']}/acknowledgement"
    with api.writes_nothing():
        assert_problem(sam.post(ack_path), 403, "not-permitted")
        assert_problem(kit.post(ack_path), 403, "not-permitted")
        assert_problem(
            robin.post(f"{kit_path}/handovers/{sams}/acknowledgement"), 404, "item-not-found"
        )
    clock.set(TONIGHT + timedelta(hours=4, minutes=10))
    acknowledged = written(robin.post(ack_path))
    assert types(acknowledged) == ["HandoverAcknowledged"]
    [taken] = acknowledged["shift"]["handovers"]
    assert (taken["acknowledged_by"], at(taken["acknowledged_at"])) == (
        "robin",
        TONIGHT + timedelta(hours=4, minutes=10),
    )
    with api.writes_nothing():
        assert_problem(robin.post(ack_path), 409, "rule-violation")

    # Sam forgot to check out: a lead records it the next morning, with a reason.
    clock.set(at("2026-11-18T08:30:00+00:00"))
    forgotten = {
        "on_behalf_of": "sam",
        "occurred_at": "2026-11-17T23:05:00+00:00",
        "reason": "Sam left at the end of the shift and forgot to check out; confirmed by phone.",
    }
    with api.writes_nothing():
        # Not by a volunteer, and not without a reason or with a handover.
        assert_problem(robin.post(f"{sam_path}/check-out", json=forgotten), 403, "not-permitted")
        assert_problem(
            lee.post(f"{sam_path}/check-out", json={**forgotten, "reason": None}),
            422,
            "invalid-input",
            errors=["reason"],
        )
        assert_problem(
            lee.post(
                f"{sam_path}/check-out",
                json={**forgotten, "handover": {"note": "Nothing open."}},
            ),
            422,
            "invalid-input",
            errors=["handover"],
        )
    recorded = written(lee.post(f"{sam_path}/check-out", json=forgotten))
    [event] = recorded["events"]
    assert (event["type"], event["actor"], event["on_behalf_of"]) == ("CheckedOut", "lee", "sam")
    assert event["reason"] == forgotten["reason"]
    assert at(event["occurred_at"]) == at("2026-11-17T23:05:00+00:00")
    [sam_attendance] = recorded["shift"]["attendance"]
    assert sam_attendance["checked_out_by"] == "lee"

    # Checked out of both, Kit may now check in to another shift (had it not ended).
    assert api.vigil.open_check_ins.current("kit") == []
    assert api.vigil.open_check_ins.current("sam") == []


# --- handover notes and data protection -----------------------------------------------------------


def test_a_handover_note_is_in_its_subjects_export_and_erased_with_them(
    api: Api, clock: Clock
) -> None:
    casey = api.user("casey", "coordinator")
    lee = api.user("lee", "safeguarding_lead")
    kit = api.user("kit", "volunteer")
    shift = plan(casey, "kit", TONIGHT)
    case = casey.post("/api/v1/cases", json=COMPLAINT).json()["case"]["id"]
    clock.set(TONIGHT)
    written(kit.post(f"/api/v1/shifts/{shift}/check-in"))
    note = "The member in the carers' forum named the sender (wrenfield); warned them."
    handover = written(
        kit.post(f"/api/v1/shifts/{shift}/handovers", json={"note": note, "case_ids": [case]})
    )["events"][0]
    ref = COMPLAINT["subject"]["ref"]

    export = lee.get(f"/api/v1/subjects/{ref}/sar-export")
    assert export.status_code == 200, export.text
    [subject] = export.json()["subjects"]
    [held] = subject["handovers"]
    assert (held["handover_id"], held["shift_id"], held["note"], held["case_ids"]) == (
        handover["handover_id"],
        shift,
        note,
        [case],
    )

    erased = lee.post(
        f"/api/v1/subjects/{ref}/erasure",
        json={
            "kind": "member",
            "lawful_basis": "UK GDPR Art 17(1)(a)",
            "reason": "The member asked for erasure; no concern remains open.",
        },
    )
    assert erased.status_code == 201, erased.text

    [subject] = lee.get(f"/api/v1/subjects/{ref}/sar-export").json()["subjects"]
    [held] = subject["handovers"]
    assert (held["note"], held["erased_fields"]) == ("[erased]", ["note"])
