"""Erasure, legal holds and subject access over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.e2e.support import SELF_HARM_POST, Api, assert_problem, created, open_case

REF = SELF_HARM_POST["subject"]["ref"]
ERASE = {
    "kind": "member",
    "lawful_basis": "UK GDPR Art 17(1)(a)",
    "reason": "The member asked for their data to be erased; nothing remains open.",
}
HOLD = {"kind": "member", "reason": "Police asked us to preserve the records.", "reference": "P/1"}


def test_a_lead_erases_a_subject_and_every_timeline_shows_it(api: Api) -> None:
    kit = api.user("kit", "coordinator")
    priya = api.user("priya", "safeguarding_lead")
    case = open_case(kit)
    created(
        kit.post(
            f"/api/v1/cases/{case['id']}/notes",
            json={"kind": "fact", "text": "Sam's mum says Sam is staying with her tonight."},
        )
    )

    answer = priya.post(f"/api/v1/subjects/{REF}/erasure", json=ERASE)

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["case_ids"] == [case["id"]]
    assert body["keys_destroyed"] == 1
    assert body["erasure"]["type"] == "SubjectErased"
    assert answer.headers["vigil-position"] == str(body["position"])
    timeline = priya.get(f"/api/v1/cases/{case['id']}/timeline").json()["events"]
    opened, note, erased = timeline
    assert opened["summary"] == "[erased]"
    assert opened["subject"] == {"kind": "member", "ref": REF, "display_name": "[erased]"}
    assert opened["erased_fields"] == ["subject.display_name", "summary"]
    assert (note["text"], note["erased_fields"]) == ("[erased]", ["text"])
    assert erased["type"] == "PersonalDataErased"
    assert erased["actor"] == "priya"
    assert erased["erasure_id"] == body["erasure"]["event_id"]
    assert erased["lawful_basis"] == ERASE["lawful_basis"]
    state = priya.get(f"/api/v1/cases/{case['id']}").json()["case"]
    assert state["summary"] == "[erased]"
    assert state["personal_data_erased_at"] == erased["occurred_at"]


def test_only_a_lead_may_erase_and_bad_input_writes_nothing(api: Api) -> None:
    kit = api.user("kit", "coordinator")
    priya = api.user("priya", "safeguarding_lead")
    open_case(kit)

    with api.writes_nothing():
        assert_problem(
            kit.post(f"/api/v1/subjects/{REF}/erasure", json=ERASE), 403, "not-permitted"
        )
        assert_problem(
            priya.post(f"/api/v1/subjects/{REF}/erasure", json={**ERASE, "reason": "n/a"}),
            422,
            "invalid-input",
            errors=["reason"],
        )
        assert_problem(
            priya.post(f"/api/v1/subjects/{REF}/erasure", json={**ERASE, "kind": "planet"}),
            422,
            "invalid-input",
            errors=["kind"],
        )
        # Retention erases by `vigil retention --apply`; over HTTP an erasure is a request.
        assert_problem(
            priya.post(f"/api/v1/subjects/{REF}/erasure", json={**ERASE, "trigger": "retention"}),
            422,
            "invalid-input",
            errors=["trigger"],
        )
        assert_problem(
            priya.post("/api/v1/subjects/no-such-member/erasure", json=ERASE),
            404,
            "subject-not-found",
        )
    assert kit.get(f"/api/v1/subjects/{REF}/sar-export").status_code == 403


def test_a_legal_hold_blocks_erasure_until_it_is_lifted(api: Api) -> None:
    kit = api.user("kit", "coordinator")
    priya = api.user("priya", "safeguarding_lead")
    case = open_case(kit)
    placed = priya.post(f"/api/v1/subjects/{REF}/legal-hold", json=HOLD)
    assert placed.status_code == 201, placed.text
    assert placed.json()["on_hold"] is True

    with api.writes_nothing():
        assert_problem(priya.post(f"/api/v1/subjects/{REF}/erasure", json=ERASE), 409, "legal-hold")
        assert_problem(
            priya.post(f"/api/v1/subjects/{REF}/legal-hold", json=HOLD), 409, "rule-violation"
        )
    assert (
        priya.get(f"/api/v1/cases/{case['id']}").json()["case"]["summary"]
        == (SELF_HARM_POST["summary"])
    )

    lifted = priya.request(
        "DELETE",
        f"/api/v1/subjects/{REF}/legal-hold",
        json={"kind": "member", "reason": "Police confirmed the investigation closed."},
    )
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["on_hold"], lifted.json()["event"]["type"]) == (False, "LegalHoldLifted")
    assert priya.post(f"/api/v1/subjects/{REF}/erasure", json=ERASE).status_code == 201


def test_subject_access_export_holds_everything_decrypted(api: Api) -> None:
    kit = api.user("kit", "coordinator")
    priya = api.user("priya", "safeguarding_lead")
    first = open_case(kit)
    second = open_case(kit, summary="A second post worried another member.")
    priya.post(f"/api/v1/subjects/{REF}/legal-hold", json=HOLD)

    answer = priya.get(f"/api/v1/subjects/{REF}/sar-export")

    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    [subject] = body["subjects"]
    assert subject["subject"] == {"kind": "member", "ref": REF}
    assert subject["legal_hold"] is True
    assert [h["type"] for h in subject["history"]] == ["LegalHoldPlaced"]
    cases = {c["case"]["id"]: c for c in subject["cases"]}  # oldest first; here both at once
    assert set(cases) == {first["id"], second["id"]}
    opened = cases[first["id"]]["events"][0]
    assert opened["subject"]["display_name"] == SELF_HARM_POST["subject"]["display_name"]
    assert opened["summary"] == SELF_HARM_POST["summary"]
    assert cases[second["id"]]["case"]["summary"] == "A second post worried another member."
    assert_problem(priya.get("/api/v1/subjects/nobody/sar-export"), 404, "subject-not-found")


def test_the_openapi_document_names_who_may_erase(api: Api) -> None:
    schema = api.client().get("/openapi.json").json()

    erasure = schema["paths"]["/api/v1/subjects/{ref}/erasure"]["post"]
    export = schema["paths"]["/api/v1/subjects/{ref}/sar-export"]["get"]

    assert erasure["x-allowed-roles"] == ["safeguarding_lead"]
    # Generated from what the route requires: reading case content and the export itself.
    assert export["x-permission"] == ["case.read", "subject.access_export"]
    assert export["x-allowed-roles"] == ["safeguarding_lead"]
    assert "409" in erasure["responses"]
