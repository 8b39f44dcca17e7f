"""Retries and races a hurried user meets: a write sent twice, and a write based on a stale view."""

from __future__ import annotations

from tests.conftest import Clock
from tests.e2e.support import SELF_HARM_POST, Api, assert_problem, created, open_case

FLAG = {"reason": "The post sounds like a goodbye", "category": "self_harm_risk"}
NOTE = {"kind": "fact", "text": "Member replied: 'I'm ok now.'"}


def test_a_retried_write_returns_the_first_answer_and_appends_nothing(
    api: Api, clock: Clock
) -> None:
    volunteer = api.user("amara", "volunteer")
    case = open_case(volunteer)
    flags = f"/api/v1/cases/{case['id']}/flags"
    key = {"Idempotency-Key": "flag-from-member-10377"}

    first = volunteer.post(flags, json=FLAG, headers=key)
    assert created(first)["case"]["version"] == 2
    # The connection dropped before the answer arrived; the client retries, later, after someone
    # else has added a note.
    clock.advance(minutes=3)
    created(volunteer.post(f"/api/v1/cases/{case['id']}/notes", json=NOTE))
    with api.writes_nothing():
        retry = volunteer.post(flags, json=FLAG, headers=key)

    assert retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["etag"] == '"2"'
    assert retry.headers["idempotent-replayed"] == "true"
    timeline = volunteer.get(f"/api/v1/cases/{case['id']}/timeline").json()["events"]
    assert [e["type"] for e in timeline] == ["CaseOpened", "FlagRaised", "NoteAdded"]


def test_a_retried_opening_finds_the_case_it_opened(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")
    key = {"Idempotency-Key": "open-from-flag-2026-11-16-2247"}

    first = volunteer.post("/api/v1/cases", json=SELF_HARM_POST, headers=key)
    opened = created(first)
    assert first.headers["location"] == f"/api/v1/cases/{opened['case']['id']}"
    with api.writes_nothing():
        retry = volunteer.post("/api/v1/cases", json=SELF_HARM_POST, headers=key)

    assert retry.status_code == 201
    assert retry.content == first.content
    assert retry.json()["case"]["id"] == opened["case"]["id"]


def test_the_same_key_with_another_body_is_refused(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")
    open_key, note_key = {"Idempotency-Key": "open-1"}, {"Idempotency-Key": "note-1"}
    opened = created(volunteer.post("/api/v1/cases", json=SELF_HARM_POST, headers=open_key))
    notes = f"/api/v1/cases/{opened['case']['id']}/notes"
    created(volunteer.post(notes, json=NOTE, headers=note_key))

    with api.writes_nothing():
        other_note = volunteer.post(
            notes, json={**NOTE, "text": "Something else"}, headers=note_key
        )
    assert_problem(other_note, 422, "idempotency-key-reused", errors=["Idempotency-Key"])
    with api.writes_nothing():
        other_case = volunteer.post(
            "/api/v1/cases", json={**SELF_HARM_POST, "category": "harassment"}, headers=open_key
        )
    assert_problem(other_case, 422, "idempotency-key-reused")


def test_an_idempotency_key_is_short_printable_text(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")
    case = open_case(volunteer)

    for bad in ("x" * 201, "tab\there", ""):
        with api.writes_nothing():
            refused = volunteer.post(
                f"/api/v1/cases/{case['id']}/notes", json=NOTE, headers={"Idempotency-Key": bad}
            )
        assert_problem(refused, 422, "invalid-input", errors=["Idempotency-Key"])


def test_a_write_based_on_a_stale_version_is_refused(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")
    coordinator = api.user("priya", "coordinator")
    case = open_case(volunteer)
    notes = f"/api/v1/cases/{case['id']}/notes"
    seen = volunteer.get(f"/api/v1/cases/{case['id']}").headers["etag"]
    assert seen == '"1"'

    # The coordinator writes first; the volunteer's view is now out of date.
    created(coordinator.post(notes, json=NOTE, headers={"If-Match": seen}))
    with api.writes_nothing():
        stale = volunteer.post(notes, json=NOTE, headers={"If-Match": seen})
    assert_problem(stale, 412, "version-conflict")

    # Every usual spelling of the current version is accepted.
    for spelling in ('"2"', "3", 'W/"4"'):
        created(volunteer.post(notes, json=NOTE, headers={"If-Match": spelling}))
    for malformed in ("two", '"2', '"0"', "W/"):
        with api.writes_nothing():
            refused = volunteer.post(notes, json=NOTE, headers={"If-Match": malformed})
        assert_problem(refused, 422, "invalid-input", errors=["If-Match"])
