"""The quality scorecard over real HTTP, on SQLite and PostgreSQL.

Every role reads the scorecard it is reviewed by; only a safeguarding lead gives it a version.
The default scorecard is read from the code until first needed, then recorded once by Vigil. A
new version applies only from its ``effective_from``: at any moment before it, the version in
force is still the one before. Every refusal is a problem that names the field at fault and
writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from domain.quality.state import SCORECARD_ID
from tests.conftest import Clock
from tests.e2e.support import PROBLEM_BASE, Api, assert_problem, at

PATH = "/api/v1/quality/scorecards"
CHAT_CARD: dict[str, Any] = {
    "name": "Helpline quality review (chat and text)",
    "criteria": [
        {
            "key": "greeting_rapport",
            "label": "Greeting and rapport",
            "weight": 1,
            "max_score": 4,
            "critical": False,
        },
        {
            "key": "risk_asked",
            "label": "Risk asked about directly",
            "weight": 3,
            "max_score": 2,
            "critical": True,
            "safeguarding": True,
        },
        {
            "key": "written_tone",
            "label": "Written tone: plain words, no abbreviations",
            "weight": 1,
            "max_score": 4,
            "critical": False,
        },
    ],
    "pass_mark": 75,
    "effective_from": "2026-12-01T00:00:00Z",
    "rationale": "Chat contacts now outnumber calls: written tone is reviewed too.",
}
DEFAULT_KEYS = [
    "greeting_rapport",
    "listening_empathy",
    "risk_asked",
    "safeguarding_escalation",
    "accurate_information",
    "signposting",
    "record_keeping",
]


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def versioned(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    assert response.headers["location"] == PATH
    body: dict[str, Any] = response.json()
    return body


def in_force_at(client: httpx.Client, moment: str) -> int:
    found: int = ok(client.get(PATH, params={"at": moment}))["in_force"]["version"]
    return found


def test_every_role_reads_the_default_until_a_lead_versions_it_from_a_moment_on(
    api: Api, clock: Clock
) -> None:
    lee = api.user("lee", "safeguarding_lead")
    readers = [api.user(f"reader.{role}", role) for role in ("volunteer", "coordinator")]
    readers += [api.user(f"reader.{role}", role) for role in ("auditor", "admin", "moderator")]

    # Given a fresh store, every role reads the default scorecard, and reading writes nothing
    with api.writes_nothing():
        answers = [ok(client.get(PATH)) for client in readers]
    default = answers[0]
    assert all(answer == default for answer in answers)
    assert default["recorded"] is False
    assert at(default["evaluated_at"]) == clock()
    assert [v["version"] for v in default["versions"]] == [1]
    first = default["in_force"]
    assert (first["version"], first["name"], first["pass_mark"]) == (
        1,
        "Helpline quality review",
        70.0,
    )
    assert at(first["effective_from"]) == datetime(1900, 1, 1, tzinfo=UTC)
    assert [c["key"] for c in first["criteria"]] == DEFAULT_KEYS
    assert [c["key"] for c in first["criteria"] if c["critical"] and c["safeguarding"]] == [
        "risk_asked",
        "safeguarding_escalation",
    ]

    # When a lead gives it a version from the first of December (now is 17 November)
    body = versioned(lee.post(PATH, json=CHAT_CARD))

    # Then the answer is its event and the scorecard after it: the default recorded by Vigil
    # first, then the lead's version, which is not yet in force
    [event] = body["events"]
    assert event["type"] == "ScorecardVersioned"
    assert (event["stream_version"], event["actor"], event["actor_role"]) == (
        2,
        "lee",
        "safeguarding_lead",
    )
    assert event["scorecard"]["version"] == 2
    assert event["scorecard"]["criteria"][1] == {**CHAT_CARD["criteria"][1], "weight": 3.0}
    assert event["scorecard"]["criteria"][0]["safeguarding"] is False
    assert at(event["scorecard"]["effective_from"]) == at("2026-12-01T00:00:00+00:00")
    scorecard = body["scorecard"]
    assert scorecard["recorded"] is True
    assert [v["version"] for v in scorecard["versions"]] == [1, 2]
    assert scorecard["in_force"]["version"] == 1
    assert scorecard["versions"][1]["rationale"] == CHAT_CARD["rationale"]
    assert body["position"] >= 2

    # And the version in force at any moment before the first of December is still the default;
    # from that moment on, the lead's
    assert in_force_at(lee, "2026-11-30T23:59:59.999999Z") == 1
    assert in_force_at(readers[0], "2026-12-01T00:00:00Z") == 2
    assert in_force_at(readers[2], "2027-06-01T12:00:00+01:00") == 2
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    now = ok(readers[1].get(PATH))
    assert (now["in_force"]["version"], [v["version"] for v in now["versions"]]) == (2, [1, 2])
    # Vigil recorded the default, once, as itself
    recorded = list(api.vigil.event_log.events_of(SCORECARD_ID))
    assert [(e.version, e.actor) for e in recorded] == [(1, "vigil"), (2, "lee")]


def card(**fields: Any) -> dict[str, Any]:
    return {**CHAT_CARD, **fields}


def criterion(index: int, **fields: Any) -> list[dict[str, Any]]:
    criteria = [dict(c) for c in CHAT_CARD["criteria"]]
    criteria[index].update(fields)
    return criteria


def test_refusals_are_problems_that_write_nothing(api: Api, clock: Clock) -> None:
    lee = api.user("lee", "safeguarding_lead")
    others = {role: api.user(f"not.{role}", role) for role in ("coordinator", "admin", "volunteer")}

    def refused(
        client: httpx.Client, body: dict[str, Any], status: int, slug: str, fields: list[str]
    ) -> dict[str, Any]:
        with api.writes_nothing():
            answer = client.post(PATH, json=body)
        return assert_problem(answer, status, slug, errors=fields)

    # Only a safeguarding lead versions the scorecard; no token is 401
    for client in others.values():
        problem = refused(client, CHAT_CARD, 403, "not-permitted", [])
        assert "scorecards.version" in problem["detail"]
    with api.writes_nothing():
        anonymous = api.client().post(PATH, json=CHAT_CARD)
    assert anonymous.status_code == 401
    assert anonymous.json()["type"] == PROBLEM_BASE + "not-authenticated"

    # A version that cannot be scored by: 422 scorecard-invalid, every field at fault named
    # (on a fresh store: not even the default is recorded by a refusal)
    cannot_score: list[tuple[dict[str, Any], list[str]]] = [
        (card(criteria=[]), ["criteria"]),
        (card(criteria=criterion(2, key="risk_asked")), ["criteria.2.key"]),
        (card(criteria=criterion(0, weight=0)), ["criteria.0.weight"]),
        (card(criteria=criterion(0, weight=-2.5)), ["criteria.0.weight"]),
        (card(criteria=criterion(2, max_score=0)), ["criteria.2.max_score"]),
        (card(pass_mark=100.5), ["pass_mark"]),
        (card(pass_mark=-1), ["pass_mark"]),
        (card(criteria=criterion(1, critical=False)), ["criteria.1.safeguarding"]),
        (
            card(criteria=criterion(0, weight=0, max_score=0), pass_mark=101),
            ["criteria.0.weight", "criteria.0.max_score", "pass_mark"],
        ),
    ]
    for body, fields in cannot_score:
        problem = refused(lee, body, 422, "scorecard-invalid", fields)
        assert set(problem["errors"]) == set(fields)
    assert api.vigil.scorecards.is_recorded() is False

    # A body it cannot read: 422 invalid-input naming the field
    unreadable: list[tuple[dict[str, Any], str]] = [
        (card(criteria=criterion(0, key="Greeting Rapport")), "criteria.0.key"),
        (card(criteria=criterion(0, label="")), "criteria.0.label"),
        (card(criteria=criterion(0, max_score=2.5)), "criteria.0.max_score"),
        (card(criteria=criterion(0, colour="red")), "criteria.0.colour"),
        (card(name=""), "name"),
        (card(effective_from="2026-12-01T00:00:00"), "effective_from"),
        (card(effective_from=1764547200), "effective_from"),
        (card(rationale="n/a"), "rationale"),
        ({k: v for k, v in CHAT_CARD.items() if k != "rationale"}, "rationale"),
        ({k: v for k, v in CHAT_CARD.items() if k != "criteria"}, "criteria"),
    ]
    for body, field in unreadable:
        refused(lee, body, 422, "invalid-input", [field])

    # In the past: 409, whether the default is recorded yet or not
    past = card(effective_from="2026-11-17T09:00:00Z")
    problem = refused(lee, past, 409, "scorecard-version-in-past", ["effective_from"])
    assert "never in the past" in problem["detail"]
    versioned(lee.post(PATH, json=CHAT_CARD))
    refused(lee, past, 409, "scorecard-version-in-past", ["effective_from"])
    # At or before the latest version's moment (though in the future): 409
    for moment in ("2026-12-01T00:00:00Z", "2026-11-24T00:00:00Z"):
        problem = refused(
            lee,
            card(effective_from=moment),
            409,
            "scorecard-version-out-of-order",
            ["effective_from"],
        )
        assert "version 2" in problem["detail"]

    # Reads refuse what they cannot read, too
    with api.writes_nothing():
        assert_problem(
            lee.get(PATH, params={"at": "yesterday"}), 422, "invalid-input", errors=["at"]
        )
        assert_problem(
            lee.get(PATH, params={"as_of": "2026-11-17T09:00:00Z"}), 422, "invalid-input"
        )


def test_a_retried_version_answers_as_the_first_time_and_writes_nothing(api: Api) -> None:
    lee = api.user("lee", "safeguarding_lead")
    headers = {"Idempotency-Key": "chat-card-2026"}
    first = lee.post(PATH, json=CHAT_CARD, headers=headers)
    versioned(first)

    with api.writes_nothing():
        again = lee.post(PATH, json=CHAT_CARD, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content

    other = card(effective_from="2027-01-04T00:00:00Z")
    with api.writes_nothing():
        reused = lee.post(PATH, json=other, headers=headers)
    assert_problem(reused, 422, "idempotency-key-reused")
    # Without the key, the same body is a new request: refused, as it is no longer after the latest
    with api.writes_nothing():
        plain = lee.post(PATH, json=CHAT_CARD)
    assert_problem(plain, 409, "scorecard-version-out-of-order", errors=["effective_from"])
