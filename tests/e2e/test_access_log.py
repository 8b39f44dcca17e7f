"""The access log over real HTTP: every read of case content is recorded (who, what, when, why)
before it is answered, none lost under concurrent reads, and only leads and auditors read it."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import structlog
from eventsourcing.persistence import OperationalError

from infrastructure.settings import Settings
from tests.e2e.support import SELF_HARM_POST, Api, assert_problem, open_case

SUBJECT = "forum-member-48213"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"restricted_categories": "self_harm_risk,harm_to_others"})


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def access_log(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = ok(client.get("/api/v1/audit/access", params=query))
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def test_each_read_of_case_content_is_logged_with_who_what_and_why(api: Api) -> None:
    lead = api.user("priya", "safeguarding_lead")
    casey = api.user("casey", "coordinator")
    auditor = api.user("aud", "auditor")
    case = open_case(casey, category="harassment")["id"]
    other = open_case(casey, category="spam", subject={"kind": "member", "ref": "m-2"})["id"]

    ok(casey.get(f"/api/v1/cases/{case}", headers={"X-Request-Id": "read-1"}))
    ok(casey.get(f"/api/v1/cases/{case}/timeline", params={"purpose": "supervision"}))
    ok(lead.get(f"/api/v1/cases/{case}/changes", params={"from": "2026-01-01T00:00:00Z"}))
    ok(lead.get(f"/api/v1/subjects/{SUBJECT}/cases", headers={"Vigil-Purpose": "audit"}))
    ok(casey.get(f"/api/v1/cases/{other}"))
    # Lists of cases and queues show no case content: not logged. Failed reads: not logged.
    ok(casey.get("/api/v1/cases"))
    assert_problem(casey.get(f"/api/v1/cases/{uuid.uuid4()}"), 404, "case-not-found")
    assert_problem(
        casey.get(f"/api/v1/cases/{case}", params={"purpose": "curiosity"}), 422, "invalid-input"
    )

    entries = access_log(auditor, case_id=case)
    assert [(e["username"], e["role"], e["what"], e["purpose"]) for e in entries] == [
        ("casey", "coordinator", "case", "case_work"),
        ("casey", "coordinator", "timeline", "supervision"),
        ("priya", "safeguarding_lead", "changes", "case_work"),
    ]
    assert entries[0]["request_id"] == "read-1"
    assert all(e["recorded_at"] == "2026-11-17T09:30:00Z" for e in entries)
    (history,) = access_log(lead, user="priya", **{"from": "2026-11-17T09:30:00Z"})[1:]
    assert (history["what"], history["subject_ref"], history["purpose"]) == (
        "subject_history",
        SUBJECT,
        "audit",
    )
    assert len(access_log(lead, user="casey")) == 3
    assert access_log(lead, to="2026-11-17T09:30:00Z") == []

    # Only leads and auditors read the log; bad filters are refused.
    assert_problem(casey.get("/api/v1/audit/access"), 403, "not-permitted")
    assert_problem(
        lead.get(
            "/api/v1/audit/access",
            params={"from": "2026-11-18T00:00:00Z", "to": "2026-11-17T00:00:00Z"},
        ),
        422,
        "invalid-input",
    )


def test_no_read_goes_unlogged_under_concurrent_reads(api: Api) -> None:
    """Many readers at once, over real HTTP: exactly one log entry per answered read."""
    lead = api.user("priya", "safeguarding_lead")
    case = open_case(lead)["id"]
    readers = [api.user(f"reader{n}", "auditor") for n in range(4)] + [lead]
    answered: list[str] = []
    lock = threading.Lock()

    def read(n: int) -> None:
        client = readers[n % len(readers)]
        request_id = f"conc-{n}"
        path = f"/api/v1/cases/{case}" + ("/timeline" if n % 2 else "")
        response = client.get(path, headers={"X-Request-Id": request_id})
        if response.status_code == 200:
            with lock:
                answered.append(request_id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(read, range(80)))

    assert len(answered) == 80
    logged = [e["request_id"] for e in access_log(lead, case_id=case)]
    assert sorted(logged) == sorted(answered)


def test_a_read_whose_access_record_cannot_be_written_fails_and_shows_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: no case content leaves without its access record."""
    lead = api.user("priya", "safeguarding_lead")
    auditor = api.user("aud", "auditor")
    case = open_case(lead)["id"]
    summary = SELF_HARM_POST["summary"]

    def database_refuses(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("the database refused the access record")

    # Given the access log cannot be appended to (the database refuses the write)
    with (
        monkeypatch.context() as broken,
        api.writes_nothing(),
        structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars]
        ) as logs,
    ):
        broken.setattr(api.vigil.access, "record", database_refuses)
        # When the lead reads the case and its timeline
        read = lead.get(f"/api/v1/cases/{case}")
        timeline = lead.get(f"/api/v1/cases/{case}/timeline")

    # Then both reads fail, as problem details, and show none of the case
    for answer in (read, timeline):
        problem = assert_problem(answer, 500, "internal-error")
        assert summary not in answer.text
        assert "insulin" not in answer.text
        assert SUBJECT not in answer.text
        assert "case" not in problem
        assert "events" not in problem
    assert access_log(auditor, case_id=case) == []
    assert [line["path"] for line in logs if line["event"] == "request_failed"] == [
        f"/api/v1/cases/{case}",
        f"/api/v1/cases/{case}/timeline",
    ]

    # And once the log can be written again, a read answers and is logged
    assert ok(lead.get(f"/api/v1/cases/{case}"))["case"]["summary"] == summary
    assert [(e["username"], e["what"]) for e in access_log(auditor, case_id=case)] == [
        ("priya", "case")
    ]


def test_case_exports_and_subject_access_exports_are_each_logged_once(api: Api) -> None:
    lead = api.user("priya", "safeguarding_lead")
    auditor = api.user("aud", "auditor")
    case = open_case(lead, category="harassment")["id"]

    # When an auditor exports the case for an audit
    export = ok(auditor.get(f"/api/v1/cases/{case}/export", params={"purpose": "audit"}))
    assert export["case_id"] == case
    # Then exactly one entry records it, as an export, with its purpose
    (entry,) = access_log(lead, case_id=case)
    assert (entry["username"], entry["role"], entry["what"], entry["purpose"]) == (
        "aud",
        "auditor",
        "export",
        "audit",
    )
    assert entry["case_id"] == case

    # When a lead exports everything held about the subject
    sar = ok(
        lead.get(
            f"/api/v1/subjects/{SUBJECT}/sar-export",
            params={"purpose": "subject_access_request"},
        )
    )
    assert sar["ref"] == SUBJECT
    # Then exactly one entry records it, as a subject access export of that subject
    (entry,) = access_log(auditor, user="priya")
    assert (entry["role"], entry["what"], entry["subject_ref"], entry["purpose"]) == (
        "safeguarding_lead",
        "sar",
        SUBJECT,
        "subject_access_request",
    )
    assert entry["case_id"] == case  # the case it showed: found in that case's log too
    # The case's log: the auditor's export and the subject access export, nothing more
    assert [e["what"] for e in access_log(auditor, case_id=case)] == ["export", "sar"]


def test_a_subject_access_export_is_in_the_access_log_of_every_case_it_shows(api: Api) -> None:
    lead = api.user("priya", "safeguarding_lead")
    auditor = api.user("aud", "auditor")
    # Given two cases about one member, one of them restricted, and a case about someone else
    first = open_case(lead, category="harassment")["id"]
    second = open_case(lead)["id"]
    other = open_case(lead, subject={"kind": "member", "ref": "someone-else"})["id"]

    # When a lead exports everything held about the member
    sar = ok(lead.get(f"/api/v1/subjects/{SUBJECT}/sar-export"))
    shown = {held["case"]["id"] for s in sar["subjects"] for held in s["cases"]}
    assert shown == {first, second}

    # Then the access log of each case it shows names the export, once
    for case in (first, second):
        (entry,) = access_log(auditor, case_id=case)
        assert (entry["username"], entry["what"], entry["subject_ref"], entry["case_id"]) == (
            "priya",
            "sar",
            SUBJECT,
            case,
        )
    # And the case it does not show has no entry
    assert access_log(auditor, case_id=other) == []
