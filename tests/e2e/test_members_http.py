"""Community intake's members over real HTTP, on SQLite and PostgreSQL: ``GET /members`` with its
filters and paging, the ``members_awaiting_welcome`` queue in ``GET /queues`` and
``GET /queues/{name}`` (now and as of a past moment), and the refusals of
``POST /members/{ref}/welcome`` that come before any write.

Members join as a delivery makes them join (``tests.member_writer``: the domain's decisions,
saved to the log); the server clock is the ``clock`` fixture's (Tuesday 17 November 2026, 09:30
UTC).
"""

from __future__ import annotations

from datetime import timedelta

from interfaces.composition import Vigil
from tests.conftest import Clock
from tests.e2e.support import Api, assert_problem
from tests.member_writer import SERVICE, joins, replied, welcomes

QUEUE = "members_awaiting_welcome"


def test_members_list_filters_pages_and_hides_usernames(
    api: Api, vigil: Vigil, clock: Clock
) -> None:
    start = clock()
    old = joins(vigil, clock, 11, start - timedelta(hours=30))
    recent = joins(vigil, clock, 12, start - timedelta(hours=2))
    clock.advance(minutes=1)
    welcomes(vigil, clock, recent)
    host = api.user("hana", "volunteer")

    answer = host.get("/api/v1/members")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [m["ref"] for m in body["items"]] == [recent, old]
    by_ref = {m["ref"]: m for m in body["items"]}
    assert by_ref[old]["service"] == SERVICE
    assert by_ref[old]["welcome_due"].startswith("2026-11-17T03:30:00")  # joined + 24 h
    assert by_ref[old]["welcomed_at"] is None
    assert by_ref[old]["overdue"] is True
    assert by_ref[recent]["welcomed_how"] == "recorded"
    assert by_ref[recent]["welcomed_by"] == "hana"
    assert by_ref[recent]["overdue"] is False
    assert "newbie" not in answer.text

    awaiting = host.get("/api/v1/members", params={"welcomed": "false"}).json()
    assert [m["ref"] for m in awaiting["items"]] == [old]
    welcomed = host.get("/api/v1/members", params={"welcomed": "true"}).json()
    assert [m["ref"] for m in welcomed["items"]] == [recent]
    other = host.get("/api/v1/members", params={"service": "elsewhere"}).json()
    assert other["items"] == []

    page = host.get("/api/v1/members", params={"limit": 1}).json()
    assert [m["ref"] for m in page["items"]] == [recent]
    rest = host.get("/api/v1/members", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert [m["ref"] for m in rest["items"]] == [old]
    assert rest["next_cursor"] is None

    # min_position: the read waits for the views to hold a write
    head = api.log_position()
    caught = host.get("/api/v1/members", params={"min_position": head})
    assert caught.status_code == 200

    assert_problem(
        host.get("/api/v1/members", params={"welcomed": "perhaps"}), 422, "invalid-input"
    )
    assert_problem(host.get("/api/v1/members", params={"cursor": "bm9wZQ"}), 422, "invalid-input")
    assert_problem(host.get("/api/v1/members", params={"colour": "red"}), 422, "invalid-input")
    # The list is today's (the queue answers for a past moment)
    assert_problem(
        host.get("/api/v1/members", params={"as_of": start.isoformat()}), 422, "invalid-input"
    )
    trustee = api.user("tess", "trustee")
    assert_problem(trustee.get("/api/v1/members"), 403, "not-permitted")


def test_the_welcome_queue_now_and_as_of_before_a_welcome(
    api: Api, vigil: Vigil, clock: Clock
) -> None:
    start = clock()
    old = joins(vigil, clock, 21, start - timedelta(hours=30))
    new = joins(vigil, clock, 22, start - timedelta(hours=1))
    host = api.user("hana", "volunteer")
    before = clock()
    clock.advance(hours=1)
    replied(vigil, clock, old)

    queues = host.get("/api/v1/queues").json()
    [count] = queues["community_queues"]
    assert (count["name"], count["total"], count["overdue"]) == (QUEUE, 1, 0)
    now = host.get(f"/api/v1/queues/{QUEUE}").json()
    assert [i["ref"] for i in now["items"]] == [new]
    assert now["replayed"] is False

    as_of = before.isoformat()
    past = host.get(f"/api/v1/queues/{QUEUE}", params={"as_of": as_of})
    assert past.status_code == 200, past.text
    then = past.json()
    assert then["replayed"] is True
    assert [(i["ref"], i["overdue"]) for i in then["items"]] == [(old, True), (new, False)]
    [then_count] = host.get("/api/v1/queues", params={"as_of": as_of}).json()["community_queues"]
    assert (then_count["total"], then_count["overdue"]) == (2, 1)

    assert_problem(
        host.get(f"/api/v1/queues/{QUEUE}", params={"as_of": as_of, "cursor": "bm9wZQ"}),
        422,
        "invalid-input",
    )
    trustee = api.user("tess", "trustee")
    assert_problem(trustee.get(f"/api/v1/queues/{QUEUE}"), 403, "not-permitted")
    auditor = api.user("audrey", "auditor")
    assert auditor.get("/api/v1/queues").json()["community_queues"][0]["total"] == 1


def test_a_welcome_refused_before_any_write(api: Api, vigil: Vigil, clock: Clock) -> None:
    ref = joins(vigil, clock, 31, clock() - timedelta(hours=1))
    host = api.user("hana", "volunteer")
    auditor = api.user("audrey", "auditor")
    head = api.log_position()

    # Another service's name for the ref: no such member there
    assert_problem(
        host.post(f"/api/v1/members/{ref}/welcome", json={"service": "helpline"}),
        404,
        "member-not-found",
    )
    # A body that is not a welcome
    assert_problem(host.post(f"/api/v1/members/{ref}/welcome", json={}), 422, "invalid-input")
    assert_problem(
        host.post(
            f"/api/v1/members/{ref}/welcome",
            json={"service": SERVICE, "occurred_at": "yesterday"},
        ),
        422,
        "invalid-input",
    )
    assert_problem(
        host.post(f"/api/v1/members/{ref}/welcome", json={"service": SERVICE, "colour": "red"}),
        422,
        "invalid-input",
    )
    # Auditors read, never write
    assert_problem(
        auditor.post(f"/api/v1/members/{ref}/welcome", json={"service": SERVICE}),
        403,
        "not-permitted",
    )
    assert api.log_position() == head


def test_a_welcome_recorded_once_by_whoever_made_it(api: Api, vigil: Vigil, clock: Clock) -> None:
    joined_at = clock() - timedelta(hours=3)
    ref = joins(vigil, clock, 41, joined_at)
    other = joins(vigil, clock, 42, clock() - timedelta(hours=1))
    host = api.user("hana", "volunteer")
    head = api.log_position()

    # Refused with nothing written: before joining, in the future, a member nobody knows
    assert_problem(
        host.post(
            f"/api/v1/members/{ref}/welcome",
            json={
                "service": SERVICE,
                "occurred_at": (joined_at - timedelta(minutes=1)).isoformat(),
            },
        ),
        422,
        "invalid-input",
        errors=["occurred_at"],
    )
    assert_problem(
        host.post(
            f"/api/v1/members/{ref}/welcome",
            json={"service": SERVICE, "occurred_at": (clock() + timedelta(hours=1)).isoformat()},
        ),
        422,
        "invalid-input",
        errors=["occurred_at"],
    )
    assert_problem(
        host.post(f"/api/v1/members/{SERVICE}:user-999/welcome", json={"service": SERVICE}),
        404,
        "member-not-found",
    )
    assert api.log_position() == head

    # When the host records the phone call they made an hour ago (with a key)
    welcomed_at = clock() - timedelta(hours=1)
    body = {
        "service": SERVICE,
        "occurred_at": welcomed_at.isoformat(),
        "note": "Rang them after their first post; they were glad of it.",
    }
    keyed = {"Idempotency-Key": "welcome-41"}
    answer = host.post(f"/api/v1/members/{ref}/welcome", json=body, headers=keyed)
    assert answer.status_code == 201, answer.text
    welcome = answer.json()
    assert welcome["ref"] == ref
    assert welcome["welcomed_how"] == "recorded"
    assert welcome["welcomed_by"] == "hana"
    assert welcome["welcomed_at"].startswith("2026-11-17T08:30:00")
    assert "rang" not in answer.text.lower()  # the note is sealed, never answered
    written = api.log_position()
    assert written > head
    assert answer.headers["Vigil-Position"] == str(welcome["position"])

    # Then a retry with the key answers the same, writing nothing
    again = host.post(f"/api/v1/members/{ref}/welcome", json=body, headers=keyed)
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == welcome
    # And a second welcome is refused
    assert_problem(
        host.post(f"/api/v1/members/{ref}/welcome", json={"service": SERVICE}),
        409,
        "already-welcomed",
    )
    assert api.log_position() == written

    # And the list and the queue follow it
    found = host.get("/api/v1/members", params={"welcomed": "true"})
    assert found.status_code == 200, found.text
    listed = found.json()
    assert [(m["ref"], m["welcomed_how"]) for m in listed["items"]] == [(ref, "recorded")]
    queue = host.get(f"/api/v1/queues/{QUEUE}").json()
    assert [i["ref"] for i in queue["items"]] == [other]
