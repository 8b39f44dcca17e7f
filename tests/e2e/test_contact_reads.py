"""The helpline contacts' read side over real HTTP, on SQLite and PostgreSQL: the coordinator's
Wednesday morning after Tuesday's helpline.

Contacts are logged, reviewed (one failed on the safeguarding question, one calibrated),
answered and followed up over HTTP; then the reads: the contact list with its filters and
paging (a volunteer sees only their own), a handler's feedback (``GET /me/feedback``),
reviewers' agreement (``GET /quality/calibration``), the contact queues in ``GET /queues`` and
``GET /queues/{name}`` (what matters first, due by the service's calendar), and a lead's look
taking a safeguarding fail out of its queue. Every refusal is a problem with its status and
detail, and the log does not grow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from domain.quality.scoring import Criterion, ScorecardVersion, in_force
from interfaces.composition import Vigil
from tests.conftest import Clock
from tests.e2e.support import Api, assert_problem

TUESDAY = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)
WEDNESDAY = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


def tuesday_at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 17, hour, minute, tzinfo=UTC)


class Scorecards:
    """The scorecard history a review reads (the quality context's service in the full tree)."""

    def __init__(self, versions: Sequence[ScorecardVersion]) -> None:
        self.versions = list(versions)

    def in_force(self, at: datetime) -> ScorecardVersion | None:
        return in_force(self.versions, at)

    def default_recording(self) -> list[Any]:
        return []


SCORECARD = ScorecardVersion(
    version=1,
    name="Helpline quality",
    criteria=[
        Criterion(key="listening", label="Listens actively", weight=3, max_score=4, critical=False),
        Criterion(
            key="risk_asked",
            label="Asks about immediate risk",
            weight=1,
            max_score=1,
            critical=True,
            safeguarding=True,
        ),
    ],
    pass_mark=70,
    effective_from=datetime(2026, 1, 1, tzinfo=UTC),
)


@pytest.fixture
def vigil(vigil: Vigil) -> Vigil:
    vigil.contacts = vigil.contacts.with_scorecards(Scorecards([SCORECARD]))
    return vigil


def z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def written(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def contact(**fields: Any) -> dict[str, Any]:
    return {
        "channel": "call",
        "direction": "inbound",
        "caller": {"anonymous": True},
        "category": "harassment",
        "summary": "Caller described being followed home from the bus stop twice this week.",
        "outcome": "information_given",
        **fields,
    }


def review(listening: int, risk_asked: int) -> dict[str, Any]:
    return {
        "scores": {"listening": listening, "risk_asked": risk_asked},
        "feedback": "Good listening; ask about immediate risk before closing.",
        "rationale": "Scored from the call recording against the helpline scorecard.",
    }


class Tuesday:
    """Tuesday's helpline: Kit takes three contacts, Alex one; Casey and Robin review; Kit
    answers the feedback; Casey schedules a call-back."""

    def __init__(self, api: Api, clock: Clock) -> None:
        self.api = api
        self.kit = api.user("kit", "volunteer")
        self.alex = api.user("alex", "volunteer")
        self.casey = api.user("casey", "coordinator")
        self.robin = api.user("robin", "coordinator")
        self.lee = api.user("lee", "safeguarding_lead")
        self.audrey = api.user("audrey", "auditor")
        self.admin = api.user("ada", "admin")
        clock.set(TUESDAY)
        self.call = self.log(self.kit, contact())
        clock.set(tuesday_at(11))
        self.chat = self.log(self.kit, contact(channel="chat", outcome="signposted"))
        clock.set(tuesday_at(13))
        self.sms = self.log(
            self.kit,
            contact(
                channel="sms",
                caller={"anonymous": False, "ref": "caller-77", "display_name": "Jo Bloggs"},
            ),
        )
        clock.set(tuesday_at(15))
        self.concern = self.log(self.alex, contact(outcome="safeguarding_concern"))
        clock.set(tuesday_at(16))
        self.passed = self.review(self.call, self.casey, review(4, 1))  # 100.0, pass
        clock.set(tuesday_at(16, 5))
        self.calibrated = self.review(self.call, self.robin, review(3, 1))  # 81.3, pass
        clock.set(tuesday_at(16, 10))
        self.failed = self.review(self.chat, self.casey, review(4, 0))  # 75.0, safeguarding fail
        clock.set(tuesday_at(16, 30))
        written(self.kit.post(self.url(self.call, "reviews", self.passed, "acknowledgement")))
        written(
            self.kit.post(
                self.url(self.chat, "reviews", self.failed, "dispute"),
                json={"reason": "The caller left the chat before I could ask about risk."},
            )
        )
        self.call_back = written(
            self.casey.post(
                self.url(self.sms, "follow-ups"),
                json={
                    "kind": "call_back",
                    "due_at": z(tuesday_at(17)),
                    "assignee": "kit",
                    "detail": "Call back once the caller has spoken to their landlord.",
                },
            )
        )["events"][0]["follow_up_id"]
        clock.set(WEDNESDAY)

    def log(self, client: httpx.Client, body: dict[str, Any]) -> str:
        answer = written(client.post("/api/v1/contacts", json=body))
        self.position = answer["position"]
        identifier: str = answer["contact"]["id"]
        return identifier

    def review(self, contact_id: str, client: httpx.Client, body: dict[str, Any]) -> str:
        answer = written(client.post(self.url(contact_id, "reviews"), json=body))
        review_id: str = answer["events"][0]["review_id"]
        return review_id

    @staticmethod
    def url(contact_id: str, *rest: str) -> str:
        return "/".join(["/api/v1/contacts", contact_id, *rest])


@pytest.fixture
def tuesday(api: Api, clock: Clock) -> Tuesday:
    return Tuesday(api, clock)


def walk(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a listing, a page of one at a time."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = ok(client.get(path, params=query))
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def test_the_contact_list_filters_pages_and_shows_each_reader_what_they_may_see(
    api: Api, tuesday: Tuesday
) -> None:
    t = tuesday
    everything = walk(t.casey, "/api/v1/contacts")
    assert ids(everything) == [t.concern, t.sms, t.chat, t.call]  # latest first
    assert ids(walk(t.audrey, "/api/v1/contacts")) == ids(everything)
    assert ids(walk(t.casey, "/api/v1/contacts", channel="chat")) == [t.chat]
    assert ids(walk(t.casey, "/api/v1/contacts", handled_by="alex")) == [t.concern]
    assert ids(walk(t.casey, "/api/v1/contacts", reviewed="true")) == [t.chat, t.call]
    assert ids(walk(t.casey, "/api/v1/contacts", reviewed="false")) == [t.concern, t.sms]
    assert ids(walk(t.casey, "/api/v1/contacts", service="default", reviewed="false")) == [
        t.concern,
        t.sms,
    ]
    window = {"from": z(tuesday_at(10)), "to": z(tuesday_at(14))}
    assert ids(walk(t.casey, "/api/v1/contacts", **window)) == [t.sms, t.chat]
    # A volunteer sees only the contacts they handled, whatever they ask for.
    assert ids(walk(t.kit, "/api/v1/contacts")) == [t.sms, t.chat, t.call]
    assert walk(t.kit, "/api/v1/contacts", handled_by="alex") == []

    (call,) = [c for c in everything if c["id"] == t.call]
    assert (call["review_count"], call["calibrated"], call["last_score"]) == (2, True, 81.3)
    assert [r["feedback_status"] for r in call["reviews"]] == ["acknowledged", "awaiting"]
    (sms,) = [c for c in everything if c["id"] == t.sms]
    assert (sms["anonymous"], sms["caller_ref"]) == (False, "caller-77")
    assert [(f["kind"], f["assignee"], f["completed"]) for f in sms["follow_ups"]] == [
        ("call_back", "kit", False)
    ]
    assert "Jo Bloggs" not in str(everything)  # no personal data in the list
    assert "followed home" not in str(everything)

    # A write's position is a list's min_position (the views hold it already).
    answer = ok(t.casey.get("/api/v1/contacts", params={"min_position": t.position}))
    assert t.concern in ids(answer["items"])
    assert_problem(api.client().get("/api/v1/contacts"), 401, "not-authenticated")
    assert_problem(t.admin.get("/api/v1/contacts"), 403, "not-permitted")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"channel": "pigeon"}, "channel"),
        ({"reviewed": "maybe"}, "reviewed"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-11-17T10:00:00"}, "from"),  # no offset
        ({"from": z(TUESDAY), "to": z(TUESDAY)}, "to"),
        ({"limit": 0}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"reviewd": "true"}, "reviewd"),  # a misspelt filter is not ignored
    ],
)
def test_a_list_query_it_cannot_answer_is_a_422_problem_and_writes_nothing(
    api: Api, tuesday: Tuesday, params: dict[str, Any], field: str
) -> None:
    with api.writes_nothing():
        problem = assert_problem(
            tuesday.casey.get("/api/v1/contacts", params=params),
            422,
            "invalid-input",
            errors=[field],
        )
    assert field in problem["detail"]


def test_a_handler_reads_their_own_feedback_and_reviewers_agreement_is_reported(
    api: Api, tuesday: Tuesday
) -> None:
    t = tuesday
    mine = ok(t.kit.get("/api/v1/me/feedback"))["items"]
    assert [(f["review_id"], f["feedback_status"]) for f in mine] == [
        (t.failed, "disputed"),
        (t.calibrated, "awaiting"),
        (t.passed, "acknowledged"),
    ]
    awaiting = ok(t.kit.get("/api/v1/me/feedback", params={"status": "awaiting"}))["items"]
    assert [f["review_id"] for f in awaiting] == [t.calibrated]
    assert ok(t.alex.get("/api/v1/me/feedback"))["items"] == []
    assert "left the chat" not in str(mine)  # the reason is personal: on the contact only
    assert_problem(
        t.kit.get("/api/v1/me/feedback", params={"status": "ignored"}),
        422,
        "invalid-input",
        errors=["status"],
    )

    # The call's two reviews (100.0 and 81.3) are 18.7 points apart: no agreement yet.
    week = {"from": z(tuesday_at(0)), "to": z(WEDNESDAY)}
    agreement = ok(t.casey.get("/api/v1/quality/calibration", params=week))
    assert agreement == {
        "calibrated_contacts": 1,
        "agreeing": 0,
        "disagreeing": 1,
        "share": 0.0,
        "within_points": 10.0,
        "reviewed_contacts": 2,
        "from": week["from"],
        "to": week["to"],
        "service": None,
    }
    # A third reviewer close to Robin does not change the spread (18.7 between all three).
    written(t.lee.post(t.url(t.call, "reviews"), json=review(4, 1)))
    again = ok(t.audrey.get("/api/v1/quality/calibration"))
    assert (again["calibrated_contacts"], again["agreeing"], again["share"]) == (1, 0, 0.0)
    assert (
        ok(t.casey.get("/api/v1/quality/calibration", params={"service": "elsewhere"}))["share"]
        is None
    )
    assert_problem(t.kit.get("/api/v1/quality/calibration"), 403, "not-permitted")


def test_the_contact_queues_put_what_matters_first_and_a_lead_clears_a_safeguarding_fail(
    api: Api, tuesday: Tuesday
) -> None:
    t = tuesday
    counts = {q["name"]: q for q in ok(t.casey.get("/api/v1/queues"))["contact_queues"]}
    assert {name: (q["total"], q["overdue"]) for name, q in counts.items()} == {
        "contacts_awaiting_review": (2, 0),
        "follow_ups_due": (1, 1),  # the call-back was due Tuesday 17:00
        "feedback_unacknowledged": (1, None),
        "feedback_disputes": (1, None),
        "qa_safeguarding_fails": (1, 0),
    }
    # A volunteer works their own follow-ups and feedback, and only those queues.
    kits = {q["name"]: q["total"] for q in ok(t.kit.get("/api/v1/queues"))["contact_queues"]}
    assert kits == {"follow_ups_due": 1, "feedback_unacknowledged": 1}
    alexs = {q["name"]: q["total"] for q in ok(t.alex.get("/api/v1/queues"))["contact_queues"]}
    assert alexs == {"follow_ups_due": 0, "feedback_unacknowledged": 0}

    awaiting = ok(t.casey.get("/api/v1/queues/contacts_awaiting_review"))["items"]
    # Alex's safeguarding concern first, though logged later; each due 5 working days after.
    assert [(i["contact_id"], i["first"], i["due_at"]) for i in awaiting] == [
        (t.concern, True, "2026-11-24T15:00:00Z"),
        (t.sms, False, "2026-11-24T13:00:00Z"),
    ]
    (call_back,) = ok(t.kit.get("/api/v1/queues/follow_ups_due"))["items"]
    assert (call_back["follow_up_id"], call_back["overdue"]) == (t.call_back, True)
    assert_problem(t.kit.get("/api/v1/queues/contacts_awaiting_review"), 403, "not-permitted")

    # The failed review waits for a lead's look, due by Wednesday's close.
    (fail,) = ok(t.lee.get("/api/v1/queues/qa_safeguarding_fails"))["items"]
    assert (fail["review_id"], fail["due_at"], fail["overdue"]) == (
        t.failed,
        "2026-11-18T17:00:00Z",
        False,
    )
    look = {
        "outcome": "practice_addressed",
        "rationale": "Went through the risk question in "
        "supervision; the chat script now asks it first.",
    }
    lead_review = t.url(t.chat, "reviews", t.failed, "lead-review")
    with api.writes_nothing():
        assert_problem(t.casey.post(lead_review, json=look), 403, "not-permitted")
        passed = t.url(t.call, "reviews", t.passed, "lead-review")
        refused = assert_problem(t.lee.post(passed, json=look), 409, "rule-violation")
        assert "no safeguarding criterion" in refused["detail"]
        missing = t.url(t.chat, "reviews", t.passed, "lead-review")  # a review of another
        assert_problem(t.lee.post(missing, json=look), 404, "item-not-found")
        assert_problem(
            t.lee.post(lead_review, json={**look, "outcome": "ignored"}),
            422,
            "invalid-input",
            errors=["outcome"],
        )
    answer = written(t.lee.post(lead_review, json=look))
    (event,) = answer["events"]
    assert (event["type"], event["review_id"], event["outcome"]) == (
        "SafeguardingFailReviewed",
        t.failed,
        "practice_addressed",
    )
    with api.writes_nothing():
        again = assert_problem(t.lee.post(lead_review, json=look), 409, "rule-violation")
    assert "once" in again["detail"]
    assert ok(t.lee.get("/api/v1/queues/qa_safeguarding_fails"))["items"] == []
    (chat,) = [c for c in ok(t.casey.get("/api/v1/contacts"))["items"] if c["id"] == t.chat]
    assert chat["reviews"][0]["lead_reviewed_at"] == "2026-11-18T09:00:00Z"
    # The dispute still waits for a lead's resolution: the look is not a resolution.
    (dispute,) = ok(t.lee.get("/api/v1/queues/feedback_disputes"))["items"]
    assert dispute["review_id"] == t.failed
    # The contact still reads whole, the look among its events.
    assert ok(t.lee.get(t.url(t.chat)))["contact"]["id"] == t.chat


def test_a_keyed_lead_review_answers_its_retry_and_refuses_another_body(
    api: Api, tuesday: Tuesday
) -> None:
    t = tuesday
    path = t.url(t.chat, "reviews", t.failed, "lead-review")
    look = {
        "outcome": "safeguarding_action_taken",
        "rationale": "Called the caller back and opened a case for the risk they described.",
    }
    headers = {"Idempotency-Key": "lead-look-1"}
    first = t.lee.post(path, json=look, headers=headers)
    assert first.status_code == 201, first.text
    with api.writes_nothing():
        again = t.lee.post(path, json=look, headers=headers)
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        other = {**look, "outcome": "no_further_action"}
        assert_problem(t.lee.post(path, json=other, headers=headers), 422, "idempotency-key-reused")


def test_the_contact_queues_as_of_a_past_moment_are_replayed_as_vigil_knew_them(
    api: Api, tuesday: Tuesday
) -> None:
    t = tuesday
    # At 15:30 on Tuesday nothing was reviewed yet: all four contacts awaited review, Alex's
    # safeguarding concern first, none overdue then.
    then = z(tuesday_at(15, 30))
    page = ok(t.casey.get("/api/v1/queues/contacts_awaiting_review", params={"as_of": then}))
    assert page["replayed"] is True
    assert [(i["contact_id"], i["first"], i["overdue"]) for i in page["items"]] == [
        (t.concern, True, False),
        (t.call, False, False),
        (t.chat, False, False),
        (t.sms, False, False),
    ]
    # At 16:20 the call and the chat were reviewed, the chat's review failed a safeguarding
    # criterion, and no feedback was answered yet; the call-back was not scheduled.
    listing = ok(t.casey.get("/api/v1/queues", params={"as_of": z(tuesday_at(16, 20))}))
    assert listing["replayed"] is True
    sizes = {q["name"]: (q["total"], q["overdue"]) for q in listing["contact_queues"]}
    assert sizes == {
        "contacts_awaiting_review": (2, 0),
        "follow_ups_due": (0, 0),
        "feedback_unacknowledged": (3, None),
        "feedback_disputes": (0, None),
        "qa_safeguarding_fails": (1, 0),
    }
    # Today the same queues hold what was done since.
    today = {q["name"]: q["total"] for q in ok(t.casey.get("/api/v1/queues"))["contact_queues"]}
    assert today["feedback_unacknowledged"] == 1
    assert today["follow_ups_due"] == 1
    # A volunteer still works only their own queues in the past.
    assert_problem(
        t.kit.get("/api/v1/queues/contacts_awaiting_review", params={"as_of": then}),
        403,
        "not-permitted",
    )
