"""Work queues, subject history and per-actor activity over real HTTP: a coordinator's morning.

An out-of-hours decision taken at 23:10 on Monday is logged on Tuesday morning; an urgent
escalation raised at 08:00 is logged at 09:30; a referral waits for the agency. The queues show
each item due at the time its own events say, overdue judged at the moment asked about.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from projections.work_queues import REPLAY_SLOT
from tests.conftest import Clock
from tests.e2e.support import (
    COMMUNITY_GUIDELINES,
    OUT_OF_HOURS_POLICY,
    RFC3339,
    Api,
    assert_problem,
    at,
    created,
    open_case,
)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def walk(client: Any, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a listing, page by page."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = ok(client.get(path, params={**params, **({"cursor": cursor} if cursor else {})}))
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def test_a_coordinators_morning_with_the_queues(api: Api) -> None:
    casey = api.user("casey", "coordinator")
    lee = api.user("lee", "safeguarding_lead")
    auditor = api.user("audrey", "auditor")

    case = open_case(casey, occurred_at="2026-11-16T23:00:00Z")
    decision = created(
        casey.post(
            f"/api/v1/cases/{case['id']}/out-of-hours-decisions",
            json={
                "decision": "Called the crisis line with the member",
                "rationale": "Member said they would act on it tonight",
                "policy_ref": OUT_OF_HOURS_POLICY,
                "occurred_at": "2026-11-16T23:10:00Z",
            },
        )
    )["events"][0]
    escalation = created(
        casey.post(
            f"/api/v1/cases/{case['id']}/escalations",
            json={
                "level": 2,
                "reason": "A lead must see the overnight decision",
                "urgency": "urgent",
                "occurred_at": "2026-11-17T08:00:00Z",
            },
        )
    )["events"][0]
    referral = created(
        casey.post(
            f"/api/v1/cases/{case['id']}/referrals",
            json={
                "agency": {"name": "Local crisis team", "kind": "health"},
                "reason": "Risk to life stated by the member",
                "consent": "given",
            },
        )
    )["events"][0]

    # Read-your-writes: every queue counts what was just written.
    listing = ok(auditor.get("/api/v1/queues"))
    assert listing["next_cursor"] is None
    assert RFC3339.match(listing["as_of"])
    sizes = {q["name"]: (q["total"], q["overdue"]) for q in listing["items"]}
    assert sizes == {
        "out_of_hours_reviews": (1, 0),
        "unacknowledged_escalations": (1, 0),
        "referrals_awaiting_acknowledgement": (1, 0),
        "referrals_awaiting_follow_up": (0, 0),
        "high_risk_open": (1, None),
        "no_recent_action": (0, 0),
        "approvals_awaiting_decision": (0, 0),
        "referrals_awaiting_review": (0, 0),  # the referral was made with consent
        "flags_awaiting_action": (0, 0),  # opened from a flag, acted on since (the decision)
    }
    assert all(q["description"] for q in listing["items"])

    reviews = ok(casey.get("/api/v1/queues/out_of_hours_reviews"))
    (item,) = reviews["items"]
    assert item["item_id"] == decision["decision_id"]
    assert item["case_id"] == case["id"]
    assert at(item["due_at"]) == at("2026-11-17T17:00:00+00:00")
    assert item["overdue"] is False

    (urgent,) = ok(casey.get("/api/v1/queues/unacknowledged_escalations"))["items"]
    assert urgent["item_id"] == escalation["escalation_id"]
    assert at(urgent["due_at"]) == at("2026-11-17T12:00:00+00:00")  # raised 08:00 + 4 h
    late = ok(
        casey.get(
            "/api/v1/queues/unacknowledged_escalations",
            params={"as_of": "2026-11-17T12:30:00+00:00"},
        )
    )
    assert late["items"][0]["overdue"] is True
    assert at(late["as_of"]) == at("2026-11-17T12:30:00+00:00")
    evening = ok(auditor.get("/api/v1/queues", params={"as_of": "2026-11-17T17:30:00Z"}))
    overdue = {q["name"]: q["overdue"] for q in evening["items"]}
    assert overdue["out_of_hours_reviews"] == 1
    assert overdue["unacknowledged_escalations"] == 1
    assert overdue["referrals_awaiting_acknowledgement"] == 0  # due Wednesday 09:30

    # The work is done: the items leave their queues.
    created(
        lee.post(
            f"/api/v1/cases/{case['id']}/escalations/{escalation['escalation_id']}/acknowledgements",
            json={},
        )
    )
    created(
        lee.post(
            f"/api/v1/cases/{case['id']}/out-of-hours-decisions/{decision['decision_id']}/reviews",
            json={"outcome": "ratified", "rationale": "The right call given the stated risk"},
        )
    )
    created(
        casey.post(
            f"/api/v1/cases/{case['id']}/referrals/{referral['referral_id']}/updates",
            json={"status": "acknowledged"},
        )
    )
    sizes = {q["name"]: q["total"] for q in ok(casey.get("/api/v1/queues"))["items"]}
    assert sizes["out_of_hours_reviews"] == 0
    assert sizes["unacknowledged_escalations"] == 0
    assert sizes["referrals_awaiting_acknowledgement"] == 0
    assert sizes["referrals_awaiting_follow_up"] == 1

    # Nothing personal in any queue answer.
    everything = str([ok(casey.get(f"/api/v1/queues/{name}")) for name in sizes])
    assert "Sam" not in everything
    assert "insulin" not in everything
    assert "Local crisis team" not in everything


def test_a_referral_to_a_crisis_line_does_not_wait_for_an_acknowledgement(api: Api) -> None:
    """A crisis line answers the person, never the referrer: waiting for it to acknowledge
    would keep an item overdue in a coordinator's queue for ever."""
    casey = api.user("casey", "coordinator")
    case = open_case(casey)["id"]

    def refer(name: str, kind: str) -> str:
        body = {"agency": {"name": name, "kind": kind}, "reason": "Risk to life stated"}
        answer = created(
            casey.post(f"/api/v1/cases/{case}/referrals", json={**body, "consent": "given"})
        )
        referral_id: str = answer["events"][0]["referral_id"]
        return referral_id

    # When Casey refers the case to a crisis line and to adult social care
    refer("Samaritans", "crisis_line")
    social_care = refer("Northshire Adult Social Care", "adult_social_care")

    # Then only the social care referral waits for an acknowledgement: in the queue, its count
    # and the case (as read and as listed)
    waiting = walk(casey, "/api/v1/queues/referrals_awaiting_acknowledgement")
    assert [i["item_id"] for i in waiting] == [social_care]
    sizes = {q["name"]: q["total"] for q in ok(casey.get("/api/v1/queues"))["items"]}
    assert sizes["referrals_awaiting_acknowledgement"] == 1
    assert ok(casey.get(f"/api/v1/cases/{case}"))["case"]["referrals_awaiting_acknowledgement"] == [
        social_care
    ]
    (listed,) = ok(casey.get("/api/v1/cases"))["items"]
    assert listed["referrals_awaiting_acknowledgement"] == 1


def test_queue_pagination_and_no_recent_action(api: Api) -> None:
    casey = api.user("casey", "coordinator")
    opened = [
        open_case(
            casey,
            subject={"kind": "member", "ref": f"member-{n}"},
            risk_level="critical" if n % 2 else "high",
            occurred_at=f"2026-11-0{n + 1}T10:00:00Z",
        )["id"]
        for n in range(5)
    ]
    high = walk(casey, "/api/v1/queues/high_risk_open", limit=2)
    assert [i["case_id"] for i in high] == [opened[1], opened[3], opened[0], opened[2], opened[4]]

    # Opened 1-5 November at 10:00 with no action since; asked at 09:30 on 17 November.
    idle = walk(casey, "/api/v1/queues/no_recent_action", limit=1, idle_days=13)
    assert [i["case_id"] for i in idle] == opened[:3]
    assert all(i["overdue"] for i in idle)
    assert at(idle[0]["due_at"]) == at("2026-11-14T10:00:00+00:00")
    assert len(walk(casey, "/api/v1/queues/no_recent_action")) == 5
    created(
        casey.post(
            f"/api/v1/cases/{opened[0]}/moderation-actions",
            json={
                "action": "hide_content",
                "target_ref": "post-1",
                "rationale": "Post breaches the guidelines on self-harm",
                "policy_ref": COMMUNITY_GUIDELINES,
            },
        )
    )
    assert opened[0] not in [i["case_id"] for i in walk(casey, "/api/v1/queues/no_recent_action")]


def test_queue_refusals(api: Api) -> None:
    casey = api.user("casey", "coordinator")
    assert_problem(casey.get("/api/v1/queues/overdue_stuff"), 404, "item-not-found")
    assert_problem(
        casey.get("/api/v1/queues/high_risk_open", params={"cursor": "junk"}),
        422,
        "invalid-input",
        errors=["cursor"],
    )
    assert_problem(
        casey.get("/api/v1/queues", params={"idle_days": 0}),
        422,
        "invalid-input",
        errors=["idle_days"],
    )
    assert_problem(
        casey.get("/api/v1/queues", params={"as_of": "2026-11-17T10:00:00"}),
        422,
        "invalid-input",
        errors=["as_of"],
    )
    admin = api.user("ada", "admin")
    anonymous = api.client()
    for path in (
        "/api/v1/queues",
        "/api/v1/queues/high_risk_open",
        "/api/v1/subjects/member-1/cases",
        "/api/v1/actors/casey/activity",
    ):
        assert_problem(admin.get(path), 403, "not-permitted")
        assert_problem(anonymous.get(path), 401, "not-authenticated")


def test_subject_history_over_http(api: Api) -> None:
    casey = api.user("casey", "coordinator")
    volunteer = api.user("val", "volunteer")
    ref = "forum/posts/991"
    first = open_case(
        casey,
        subject={"kind": "content", "ref": ref, "display_name": "Sam"},
        occurred_at="2026-11-17T08:00:00Z",
    )
    created(
        casey.post(
            f"/api/v1/cases/{first['id']}/closure",
            json={"outcome": "removed", "rationale": "Content removed under the guidelines"},
        )
    )
    second = open_case(casey, subject={"kind": "content", "ref": ref})
    open_case(casey, subject={"kind": "member", "ref": "someone-else"})

    cases = walk(volunteer, f"/api/v1/subjects/{ref}/cases", limit=1)
    assert [c["case_id"] for c in cases] == [second["id"], first["id"]]
    assert [c["status"] for c in cases] == ["open", "closed"]
    assert cases[1]["closed_at"] is not None
    assert set(cases[0]) == {
        "case_id",
        "subject_kind",
        "subject_ref",
        "category",
        "status",
        "risk_level",
        "opened_at",
        "closed_at",
        "flag_count",
        "version",
        "assignee",
    }
    assert "Sam" not in str(cases)
    assert ok(volunteer.get("/api/v1/subjects/nobody/cases")) == {"items": [], "next_cursor": None}
    only_members = ok(volunteer.get(f"/api/v1/subjects/{ref}/cases", params={"kind": "member"}))
    assert only_members["items"] == []


def test_actor_activity_over_http(api: Api) -> None:
    casey = api.user("casey", "coordinator")
    auditor = api.user("audrey", "auditor")
    case = open_case(casey, occurred_at="2026-11-16T23:00:00Z")
    created(
        casey.post(
            f"/api/v1/cases/{case['id']}/notes",
            json={
                "kind": "fact",
                "text": "Member said they were safe",
                "occurred_at": "2026-11-16T23:30:00Z",
            },
        )
    )
    created(
        casey.post(f"/api/v1/cases/{case['id']}/notes", json={"kind": "note", "text": "Checked in"})
    )

    everything = walk(auditor, "/api/v1/actors/casey/activity", limit=2)
    assert [a["event_type"] for a in everything] == ["CaseOpened", "NoteAdded", "NoteAdded"]
    assert {a["actor"] for a in everything} == {"casey"}
    assert {a["actor_role"] for a in everything} == {"coordinator"}
    assert "Member said" not in str(everything)

    night = ok(
        auditor.get(
            "/api/v1/actors/CASEY/activity",
            params={
                "from": "2026-11-16T22:00:00Z",
                "to": "2026-11-17T08:00:00Z",
                "basis": "occurred",
            },
        )
    )
    assert [a["event_type"] for a in night["items"]] == ["CaseOpened", "NoteAdded"]
    recorded = ok(
        auditor.get(
            "/api/v1/actors/casey/activity",
            params={"from": "2026-11-16T22:00:00Z", "to": "2026-11-17T08:00:00Z"},
        )
    )
    assert recorded["items"] == []  # all of it was logged on Tuesday morning
    assert_problem(
        auditor.get("/api/v1/actors/casey/activity", params={"basis": "guessed"}),
        422,
        "invalid-input",
        errors=["basis"],
    )
    assert_problem(
        auditor.get(
            "/api/v1/actors/casey/activity",
            params={"from": "2026-11-18T00:00:00Z", "to": "2026-11-17T00:00:00Z"},
        ),
        422,
        "invalid-input",
        errors=["to"],
    )


def test_the_new_routes_are_documented(api: Api) -> None:
    schema = ok(api.client().get("/openapi.json"))
    for path in (
        "/api/v1/queues",
        "/api/v1/queues/{name}",
        "/api/v1/subjects/{ref}/cases",
        "/api/v1/actors/{username}/activity",
    ):
        operation = schema["paths"][path]["get"]
        assert operation["summary"]
        assert "case.read" in operation["x-permission"]
        assert "admin" not in operation["x-allowed-roles"]
        assert "auditor" in operation["x-allowed-roles"]
        assert {"401", "403", "422"} <= set(operation["responses"])


def test_queues_as_of_a_past_moment_are_replayed_as_vigil_knew_them(api: Api, clock: Clock) -> None:
    casey = api.user("casey", "coordinator")
    lee = api.user("lee", "safeguarding_lead")
    auditor = api.user("audrey", "auditor")

    # Given two escalations logged at 09:30 on Tuesday: one urgent, raised at 08:00 (due 12:00),
    # one immediate, raised at 09:20 (due 09:50)
    case = open_case(casey, occurred_at="2026-11-17T07:50:00Z")
    raised = [
        created(
            casey.post(
                f"/api/v1/cases/{case['id']}/escalations",
                json={
                    "level": 2,
                    "reason": "The member has stopped replying to us",
                    "urgency": urgency,
                    "occurred_at": occurred_at,
                },
            )
        )["events"][0]["escalation_id"]
        for urgency, occurred_at in (
            ("urgent", "2026-11-17T08:00:00Z"),
            ("immediate", "2026-11-17T09:20:00Z"),
        )
    ]
    # and a lead who acknowledged both, late, at 12:45
    clock.set(datetime(2026, 11, 17, 12, 45, tzinfo=UTC))
    for escalation_id in raised:
        created(
            lee.post(
                f"/api/v1/cases/{case['id']}/escalations/{escalation_id}/acknowledgements", json={}
            )
        )
    clock.set(datetime(2026, 11, 17, 13, 0, tzinfo=UTC))
    now = ok(auditor.get("/api/v1/queues"))
    assert sizes(now)["unacknowledged_escalations"] == (0, 0)
    assert now["replayed"] is False

    # When an auditor asks how the queues stood at 12:30
    then = ok(auditor.get("/api/v1/queues", params={"as_of": "2026-11-17T12:30:00Z"}))

    # Then they are replayed from the log: both escalations waiting, both overdue by then
    assert then["replayed"] is True
    assert at(then["as_of"]) == at("2026-11-17T12:30:00+00:00")
    assert sizes(then)["unacknowledged_escalations"] == (2, 2)
    assert sizes(then)["high_risk_open"] == (1, None)
    # and the queue itself, page by page in due order, says the same
    items = walk(
        casey, "/api/v1/queues/unacknowledged_escalations", as_of="2026-11-17T12:30:00Z", limit=1
    )
    assert [i["item_id"] for i in items] == list(reversed(raised))
    assert [at(i["due_at"]) for i in items] == [
        at("2026-11-17T09:50:00+00:00"),
        at("2026-11-17T12:00:00+00:00"),
    ]
    assert all(i["overdue"] for i in items)
    # At 09:40 they were waiting and not yet overdue
    assert sizes(ok(auditor.get("/api/v1/queues", params={"as_of": "2026-11-17T09:40:00Z"})))[
        "unacknowledged_escalations"
    ] == (2, 0)
    # and at 09:00 Vigil had been told of nothing (they were logged at 09:30): the recorded basis
    early = ok(auditor.get("/api/v1/queues", params={"as_of": "2026-11-17T09:00:00Z"}))
    assert all(q["total"] == 0 for q in early["items"]), early
    # The break-glass queue is not replayed: a past moment there is refused, not misanswered
    with api.writes_nothing():
        refused = lee.get(
            "/api/v1/queues/break_glass_reviews", params={"as_of": "2026-11-17T12:30:00Z"}
        )
    assert_problem(refused, 422, "invalid-input", errors=["as_of"])


def sizes(listing: dict[str, Any]) -> dict[str, tuple[int, int | None]]:
    return {q["name"]: (q["total"], q["overdue"]) for q in listing["items"]}


class LogReads:
    """Counts the pages of the log read through the store's recorder (each passed on)."""

    def __init__(self, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pages = 0
        recorder = api.vigil.event_log.recorder
        read: Callable[..., Any] = recorder.select_notifications

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.pages += 1
            return read(*args, **kwargs)

        monkeypatch.setattr(recorder, "select_notifications", counted)


PAST = "2026-11-17T09:00:00Z"


def test_a_replay_with_a_bad_parameter_is_refused_before_the_log_is_read(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a case, and a count of the log's pages read from now on
    casey = api.user("casey", "coordinator")
    open_case(casey, occurred_at="2026-11-17T07:50:00Z")
    reads = LogReads(api, monkeypatch)
    queue = "/api/v1/queues/unacknowledged_escalations"

    # When a volunteer asks for the past with a parameter the answer would refuse
    refusals = {
        "idle_days": casey.get("/api/v1/queues", params={"as_of": PAST, "idle_days": 0}),
        "cursor": casey.get(queue, params={"as_of": PAST, "cursor": "bm90LWEtY3Vyc29y"}),
        "limit": casey.get(queue, params={"as_of": PAST, "limit": 0}),
    }

    # Then each is refused, naming the parameter, and not a page of the log was read for it
    for name, answer in refusals.items():
        assert_problem(answer, 422, "invalid-input", errors=[name])
    assert reads.pages == 0
    # while a valid replay does read it (so the count would have seen one)
    ok(casey.get(queue, params={"as_of": PAST}))
    assert reads.pages > 0


def test_one_replay_at_a_time_a_second_is_refused_503_after_a_bounded_wait(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a replay of the past running in this process (it holds the one slot)
    casey = api.user("casey", "coordinator")
    open_case(casey, occurred_at="2026-11-17T07:50:00Z")
    reads = LogReads(api, monkeypatch)
    assert REPLAY_SLOT.acquire(timeout=30)
    try:
        # When another reader asks for the past
        answer = casey.get("/api/v1/queues", params={"as_of": PAST})
    finally:
        REPLAY_SLOT.release()

    # Then it is told to come back, without having read the log
    assert_problem(answer, 503, "replay-busy")
    assert int(answer.headers["retry-after"]) >= 1
    assert reads.pages == 0
    # and once the slot is free, it is answered
    assert ok(casey.get("/api/v1/queues", params={"as_of": PAST}))["replayed"] is True


def test_a_replay_is_kept_until_the_log_grows(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a case with an escalation, and one replay of the queues at 09:00
    casey = api.user("casey", "coordinator")
    case = open_case(casey, occurred_at="2026-11-17T07:50:00Z")
    reads = LogReads(api, monkeypatch)
    first = ok(casey.get("/api/v1/queues", params={"as_of": PAST}))
    assert reads.pages > 0
    after_first = reads.pages

    # When the same moment is asked for again, as counts and as a queue
    again = ok(casey.get("/api/v1/queues", params={"as_of": PAST}))
    ok(casey.get("/api/v1/queues/high_risk_open", params={"as_of": PAST}))

    # Then the log is not read again, and the answer is the same
    assert reads.pages == after_first
    assert again == first
    # But once the log has grown, the moment is replayed afresh
    created(
        casey.post(
            f"/api/v1/cases/{case['id']}/notes", json={"kind": "fact", "text": "Called back."}
        )
    )
    ok(casey.get("/api/v1/queues", params={"as_of": PAST}))
    assert reads.pages > after_first
