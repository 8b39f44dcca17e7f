"""The case page's action forms over real HTTP, on SQLite and PostgreSQL: each form writes what
the API's route writes (checked through the API); a refusal (invalid field, a role that may not,
a case the person may not see, a stale page, no CSRF token) is shown with the API's status and
writes nothing; a form sent twice writes once; a person sees only the forms they may use;
opening a case, break-glass, the export, the approval inbox and "Save and next".

The server clock starts on Tuesday 17 November 2026, 09:30 UTC (London is on GMT).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from infrastructure.settings import Settings
from tests.conftest import Clock
from tests.e2e.support import (
    BAN,
    COMMUNITY_GUIDELINES,
    OUT_OF_HOURS_POLICY,
    Api,
    created,
    open_case,
)
from tests.e2e.ui_support import person

RESTRICTED = "self_harm_risk,harm_to_others"
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
BULLYING = {
    "subject": {"kind": "member", "ref": "forum-member-555"},
    "category": "harassment",
    "summary": "Pile-on in a thread about insulin pumps.",
    "risk_level": "medium",
}
POLICY = {f"policy_ref.{k}": v for k, v in COMMUNITY_GUIDELINES.items()}
OOH_POLICY = {f"policy_ref.{k}": v for k, v in OUT_OF_HOURS_POLICY.items()}
RATIONALE = "Repeated pile-on after a warning; hiding it protects the member now."
# What the API's event carries that is the write's own, not the request's.
OWN = {"event_id", "case_id", "version", "recorded_at", "actor", "actor_role"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The product default: self-harm risk and harm to others are restricted."""
    return settings.model_copy(update={"restricted_categories": RESTRICTED})


@contextmanager
def records_nothing(api: Api) -> Iterator[None]:
    """A refused form writes nothing: the log grows only by the access record of the page
    shown again (a read of the case, logged as every read is)."""
    before = api.log_position()
    yield
    appended = api.vigil.event_log.recorder.select_notifications(before + 1, 1000)
    topics = {n.topic.rsplit(":", 1)[-1] for n in appended}
    assert topics <= {"CaseRecordAccessed"}, f"a refused form appended {topics}"


def page_of(client: httpx.Client, case_id: str, **params: str) -> httpx.Response:
    page = client.get(f"/ui/cases/{case_id}", params=params)
    assert page.status_code == 200, page.text
    return page


class _Fields(HTMLParser):
    """What a browser sends for a form as it stands: inputs' values (checked boxes only),
    each select's selected option, textareas' text; not the buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and a.get("name") and a.get("type") != "checkbox":
            self.values[a["name"]] = a.get("value", "")
        elif tag == "input" and a.get("name") and "checked" in a:
            self.values[a["name"]] = a.get("value", "on")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.values[self._textarea or ""] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def fields_of(text: str) -> dict[str, str]:
    parser = _Fields()
    parser.feed(text)
    return parser.values


def form_of(page: httpx.Response, action: str) -> dict[str, str]:
    """What one action's form sends as the page shows it (CSRF token, key, version, the
    prefilled moment, a lone item chosen...)."""
    start = page.text.find(f'id="action-{action}"')
    assert start >= 0, f"no {action} form on the page"
    return fields_of(page.text[start : page.text.index("</details>", start)])


def forms_on(page: httpx.Response) -> set[str]:
    return set(re.findall(r'<details class="action" id="action-([a-z_]+)"', page.text))


def act(
    client: httpx.Client, case_id: str, action: str, fields: dict[str, str], **page: str
) -> httpx.Response:
    """Open the case page, fill in one action's form and send it, as a person does."""
    hidden = form_of(page_of(client, case_id, **page), action)
    return client.post(f"/ui/cases/{case_id}/actions/{action}", data={**hidden, **fields})


def timeline(api_client: httpx.Client, case_id: str) -> list[dict[str, Any]]:
    answer = api_client.get(f"/api/v1/cases/{case_id}/timeline")
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def read(api_client: httpx.Client, case_id: str) -> dict[str, Any]:
    answer = api_client.get(f"/api/v1/cases/{case_id}")
    assert answer.status_code == 200, answer.text
    case: dict[str, Any] = answer.json()["case"]
    return case


def request_part(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in OWN}


def saved(answer: httpx.Response, case_id: str, done: str) -> None:
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith(f"/ui/cases/{case_id}?done={done}")


def test_each_action_writes_what_the_api_route_writes(api: Api, clock: Clock) -> None:
    # Given a coordinator and a lead signed in, each with their token for the API too
    cora, cora_token = person(api, "cora", "coordinator")
    lee, lee_token = person(api, "lee", "safeguarding_lead")
    cora_api, lee_api = api.client(cora_token), api.client(lee_token)

    # Cora opens a case from a flag through /ui/cases/new, back-dated to last night
    form = cora.get("/ui/cases/new", params={"source": "flag"})
    assert form.status_code == 200, form.text
    assert 'value="flag" selected' in form.text
    hidden = fields_of(form.text)
    opened = cora.post(
        "/ui/cases/new",
        data={
            **hidden,
            "subject.kind": "member",
            "subject.ref": "forum-member-555",
            "source": "flag",
            "category": "harassment",
            "risk_level": "medium",
            "summary": "Pile-on in a thread about insulin pumps.",
            "service": "default",
            "content_ref": "https://forum.example/t/88120/7",
            "occurred_at": "2026-11-16T23:00",
        },
    )
    assert opened.status_code == 303, opened.text
    case_id = opened.headers["location"].split("/")[-1].split("?")[0]
    assert opened.headers["location"] == f"/ui/cases/{case_id}?done=opened"
    assert "Saved: case opened." in cora.get(opened.headers["location"]).text
    first = timeline(cora_api, case_id)[-1]
    assert first["type"] == "CaseOpened"
    assert first["occurred_at"] == "2026-11-16T23:00:00Z"
    assert first["source"] == "flag"
    assert first["content_ref"] == "https://forum.example/t/88120/7"

    # She hides the content: the UI's event is the API's for the same request
    hide = {
        "action": "hide_content",
        "target_ref": "https://forum.example/t/88120/7",
        "rationale": RATIONALE,
        **POLICY,
        "occurred_at": "2026-11-16T23:05",
    }
    saved(act(cora, case_id, "moderate", hide), case_id, "moderate")
    by_ui = timeline(cora_api, case_id)[-1]
    twin = open_case(cora_api, **BULLYING, occurred_at="2026-11-16T23:00:00+00:00")["id"]
    by_api = created(
        cora_api.post(
            f"/api/v1/cases/{twin}/moderation-actions",
            json={
                "action": "hide_content",
                "target_ref": "https://forum.example/t/88120/7",
                "rationale": RATIONALE,
                "policy_ref": COMMUNITY_GUIDELINES,
                "occurred_at": "2026-11-16T23:05:00+00:00",
            },
        )
    )["events"][-1]
    assert request_part(by_ui) == request_part(by_api)

    # The out-of-hours decision, recorded at 09:35 about 23:10
    clock.advance(minutes=5)
    decision = {
        "decision": "Messaged the member privately with the crisis line's number.",
        "immediate_actions": "Hid the post\nMessaged the member",
        "rationale": "Member replied saying they were safe; the morning team can follow up.",
        **OOH_POLICY,
        "occurred_at": "2026-11-16T23:10",
    }
    saved(act(cora, case_id, "ooh_decision", decision), case_id, "ooh_decision")
    recorded = timeline(cora_api, case_id)[-1]
    assert recorded["type"] == "OutOfHoursDecisionRecorded"
    assert recorded["occurred_at"] == "2026-11-16T23:10:00Z"
    assert recorded["recorded_at"] == "2026-11-17T09:35:00Z"
    assert recorded["immediate_actions"] == ["Hid the post", "Messaged the member"]
    decision_id = recorded["decision_id"]

    # Escalate, acknowledge and resolve; refer and update; assign; a note
    steps: list[tuple[httpx.Client, str, dict[str, str], str]] = [
        (
            cora,
            "escalate",
            {"level": "safeguarding_lead", "urgency": "urgent", "reason": RATIONALE},
            "CaseEscalated",
        ),
        (
            lee,
            "escalation_ack",
            {"note": "Picked up by the lead on duty."},
            "EscalationAcknowledged",
        ),
        (
            lee,
            "escalation_resolve",
            {"outcome": "Handled by the moderators", "rationale": RATIONALE},
            "EscalationResolved",
        ),
        (
            cora,
            "refer",
            {
                "agency.name": "Crisis line",
                "agency.kind": "crisis_line",
                "reason": "Member asked for someone to talk to tonight.",
                "consent": "given",
            },
            "ReferralMade",
        ),
        (cora, "referral_update", {"status": "closed"}, "ReferralUpdated"),
        (cora, "assign", {"assignee": "lee"}, "CaseAssigned"),
        (lee, "note", {"kind": "fact", "text": "The member posted again at 08:00."}, "NoteAdded"),
        (lee, "risk", {"level": "low", "rationale": RATIONALE}, "RiskAssessed"),
        (
            lee,
            "ooh_review",
            {"item": decision_id, "outcome": "ratified", "rationale": RATIONALE},
            "OutOfHoursDecisionReviewed",
        ),
    ]
    for client, action, fields, event in steps:
        saved(act(client, case_id, action, fields), case_id, action)
        assert timeline(cora_api, case_id)[-1]["type"] == event, action
    assert read(lee_api, case_id)["pending_reviews"] == []

    # A correction names an event; a serious-incident assessment, and its report
    saved(
        act(
            lee,
            case_id,
            "correct",
            {
                "corrects_event_id": first["event_id"],
                "correction": "The thread was about pumps and pens.",
                "reason": "The summary named only one of the two threads.",
            },
        ),
        case_id,
        "correct",
    )
    assert timeline(cora_api, case_id)[-1]["corrects_event_id"] == first["event_id"]
    saved(
        act(
            lee,
            case_id,
            "si_assess",
            {
                "reportable": "true",
                "regulator": "charity_commission",
                "grounds.harm_to_beneficiary": "on",
                "rationale": RATIONALE,
            },
        ),
        case_id,
        "si_assess",
    )
    assessed = timeline(cora_api, case_id)[-1]
    assert assessed["grounds"] == ["harm_to_beneficiary"]
    assert assessed["reportable"] is True
    saved(act(lee, case_id, "si_report", {"reference": "CC-123"}), case_id, "si_report")

    # Close and reopen
    saved(
        act(cora, case_id, "close", {"outcome": "Resolved", "rationale": RATIONALE}),
        case_id,
        "close",
    )
    assert read(cora_api, case_id)["status"] == "closed"
    saved(
        act(cora, case_id, "reopen", {"reason": "The member posted again tonight."}),
        case_id,
        "reopen",
    )
    assert read(cora_api, case_id)["status"] == "open"


def test_a_ban_is_held_until_a_second_lead_approves_it_in_the_inbox(api: Api) -> None:
    # Given a case, two leads and a coordinator signed in
    dana, dana_token = person(api, "dana", "safeguarding_lead")
    lee, _ = person(api, "lee", "safeguarding_lead")
    cora, _ = person(api, "cora", "coordinator")
    dana_api = api.client(dana_token)
    case_id = open_case(dana_api, **BULLYING)["id"]

    # Dana asks for a ban: it is held, and the case page says so
    ban = {**{k: v for k, v in BAN.items() if k != "policy_ref"}, **POLICY}
    asked = act(dana, case_id, "moderate", ban)
    saved(asked, case_id, "held")
    page = dana.get(asked.headers["location"]).text
    assert "waits for a second safeguarding lead" in page
    assert "Pending approval:" in page
    assert "Ban member forum-member-48213" in page
    approval_id = read(dana_api, case_id)["pending_approvals"][0]

    # Only leads have the inbox (and its nav item)
    assert 'href="/ui/approvals"' in dana.get("/ui/").text
    assert 'href="/ui/approvals"' not in cora.get("/ui/").text
    assert cora.get("/ui/approvals").status_code == 403

    # Dana cannot approve her own: the domain refuses, the inbox shows it, nothing is written
    inbox = dana.get("/ui/approvals")
    assert inbox.status_code == 200
    assert "You asked for this" in inbox.text
    hidden = dict(HIDDEN.findall(inbox.text))
    decide = {**hidden, "decision": "approved", "rationale": RATIONALE}
    with records_nothing(api):
        own = dana.post(f"/ui/cases/{case_id}/actions/approval", data=decide)
    assert own.status_code == 409, own.text
    assert "Not saved." in own.text
    assert "<h1>Approvals</h1>" in own.text

    # Lee approves it from his inbox: back to the inbox, the ban in force
    inbox = lee.get("/ui/approvals")
    hidden = dict(HIDDEN.findall(inbox.text))
    assert hidden["item"] == approval_id
    approved = lee.post(
        f"/ui/cases/{case_id}/actions/approval",
        data={**hidden, "decision": "approved", "rationale": RATIONALE},
    )
    assert (approved.status_code, approved.headers["location"]) == (
        303,
        "/ui/approvals?done=approval",
    )
    after = lee.get(approved.headers["location"]).text
    assert "Saved: approval decided." in after
    assert "Nothing awaits a decision." in after
    types = [e["type"] for e in timeline(dana_api, case_id)[-2:]]
    assert types == ["ApprovalDecided", "ModerationActionTaken"]
    assert read(dana_api, case_id)["pending_approvals"] == []


def test_refusals_are_shown_with_the_apis_status_and_write_nothing(api: Api, clock: Clock) -> None:
    cora, cora_token = person(api, "cora", "coordinator")
    vic, _ = person(api, "vic", "volunteer")
    case_id = open_case(api.client(cora_token), **BULLYING)["id"]
    note = {"kind": "note", "text": "Checked the thread again."}

    # 422: a placeholder rationale and a moment in the future, each beside its field
    risk = form_of(page_of(cora, case_id), "risk")
    with records_nothing(api):
        invalid = cora.post(
            f"/ui/cases/{case_id}/actions/risk",
            data={**risk, "level": "high", "rationale": "n/a", "occurred_at": "2026-11-17T12:00"},
        )
    assert invalid.status_code == 422, invalid.text
    assert 'id="a-risk-rationale-error"' in invalid.text
    assert "must explain the reason in words" in invalid.text
    assert '<details class="action" id="action-risk" open>' in invalid.text

    fresh = form_of(page_of(cora, case_id), "note")
    with records_nothing(api):
        future = cora.post(
            f"/ui/cases/{case_id}/actions/note",
            data={**fresh, **note, "occurred_at": "2026-11-17T12:00"},
        )
    assert future.status_code == 422, future.text
    assert 'id="a-note-occurred_at-error"' in future.text

    # 403: a volunteer may not take a moderation action (the form is not offered either)
    hidden = form_of(page_of(vic, case_id), "note")
    with records_nothing(api):
        refused = vic.post(
            f"/ui/cases/{case_id}/actions/moderate",
            data={
                **hidden,
                "action": "hide_content",
                "target_ref": "x",
                "rationale": RATIONALE,
                **POLICY,
            },
        )
    assert refused.status_code == 403, refused.text

    # 404: a restricted case the volunteer may not see, as a missing one
    restricted = open_case(api.client(cora_token))["id"]
    with records_nothing(api):
        hidden_case = vic.post(f"/ui/cases/{restricted}/actions/note", data={**hidden, **note})
    assert hidden_case.status_code == 404
    assert "There is no such case, or none you may see." in hidden_case.text

    # 409: a page left open while someone else recorded something
    stale = form_of(page_of(cora, case_id), "note")
    saved(act(vic, case_id, "note", note), case_id, "note")
    with records_nothing(api):
        conflict = cora.post(f"/ui/cases/{case_id}/actions/note", data={**stale, **note})
    assert conflict.status_code == 409, conflict.text
    assert "The case changed after you opened this page" in conflict.text

    # 403: no CSRF token (or another session's), nothing written
    fresh = form_of(page_of(cora, case_id), "note")
    for token in ("", form_of(page_of(vic, case_id), "note")["csrf_token"]):
        with records_nothing(api):
            forged = cora.post(
                f"/ui/cases/{case_id}/actions/note", data={**fresh, "csrf_token": token, **note}
            )
        assert forged.status_code == 403
        assert "Nothing was saved" in forged.text
    with records_nothing(api):
        assert cora.post("/ui/cases/new", data={"summary": "x"}).status_code == 403


def test_a_form_sent_twice_writes_once(api: Api) -> None:
    cora, cora_token = person(api, "cora", "coordinator")
    case_id = open_case(api.client(cora_token), **BULLYING)["id"]
    hidden = form_of(page_of(cora, case_id), "note")
    note = {**hidden, "kind": "fact", "text": "The member says they are safe."}

    first = cora.post(f"/ui/cases/{case_id}/actions/note", data=note)
    saved(first, case_id, "note")
    with api.writes_nothing():
        again = cora.post(f"/ui/cases/{case_id}/actions/note", data=note)
    saved(again, case_id, "note")
    notes = [e for e in timeline(api.client(cora_token), case_id) if e["type"] == "NoteAdded"]
    assert len(notes) == 1

    # The same form sent again about another item is another request: refused, not replayed
    for _ in range(2):
        act(
            cora,
            case_id,
            "escalate",
            {"level": "coordinator", "urgency": "routine", "reason": RATIONALE},
        )
    first_one, second_one = read(api.client(cora_token), case_id)["unacknowledged_escalations"]
    ack = {**form_of(page_of(cora, case_id), "escalation_ack"), "item": first_one}
    saved(
        cora.post(f"/ui/cases/{case_id}/actions/escalation_ack", data=ack),
        case_id,
        "escalation_ack",
    )
    with records_nothing(api):
        other = cora.post(
            f"/ui/cases/{case_id}/actions/escalation_ack", data={**ack, "item": second_one}
        )
    assert other.status_code == 422, other.text
    assert "This form was already sent with other contents" in other.text
    assert read(api.client(cora_token), case_id)["unacknowledged_escalations"] == [second_one]
    # The refused form comes back with a fresh key: sent again as it now is, it is saved
    retry = {**form_of(other, "escalation_ack"), "item": second_one}
    assert retry["idempotency_key"] != ack["idempotency_key"]
    saved(
        cora.post(f"/ui/cases/{case_id}/actions/escalation_ack", data=retry),
        case_id,
        "escalation_ack",
    )
    assert read(api.client(cora_token), case_id)["unacknowledged_escalations"] == []

    # Opening a case twice from one form opens one case
    form = cora.get("/ui/cases/new")
    fields = {
        **fields_of(form.text),
        "subject.kind": "content",
        "subject.ref": "post-1",
        "source": "staff_concern",
        "category": "spam",
        "summary": "Links to a dubious shop.",
        "service": "default",
    }
    one, two = cora.post("/ui/cases/new", data=fields), cora.post("/ui/cases/new", data=fields)
    assert one.status_code == two.status_code == 303
    assert one.headers["location"] == two.headers["location"]


def test_each_person_sees_only_the_forms_they_may_use(api: Api) -> None:
    lead = api.user("priya", "safeguarding_lead")
    case_id = open_case(lead, **BULLYING)["id"]
    vic, _ = person(api, "vic", "volunteer")
    mo, _ = person(api, "mo", "moderator")
    cora, _ = person(api, "cora", "coordinator")
    aud, _ = person(api, "aud", "auditor")

    assert forms_on(page_of(vic, case_id)) == {"note", "flag", "escalate", "correct"}
    assert forms_on(page_of(mo, case_id)) == {
        "note",
        "flag",
        "escalate",
        "correct",
        "moderate",
        "risk",
    }
    assert forms_on(page_of(cora, case_id)) == {
        "note",
        "flag",
        "escalate",
        "correct",
        "moderate",
        "risk",
        "ooh_decision",
        "refer",
        "assign",
        "close",
    }
    auditor_page = page_of(aud, case_id)
    assert forms_on(auditor_page) == set()
    assert "Download the case export (JSON)" in auditor_page.text
    assert "Download the case export" not in page_of(cora, case_id).text
    # An as-of view is for reading: no forms
    assert forms_on(page_of(cora, case_id, as_of="2026-11-17T09:30")) == set()
    # Opening a case is offered to those who may
    assert 'href="/ui/cases/new"' in vic.get("/ui/cases").text
    assert 'href="/ui/cases/new"' not in aud.get("/ui/cases").text
    assert aud.get("/ui/cases/new").status_code == 403


def test_on_a_restricted_case_seen_in_part_only_the_frontline_forms_are_offered(
    api: Api,
) -> None:
    # A volunteer who opened a self-harm case (restricted) sees only what they recorded on it
    vic, token = person(api, "vic", "volunteer")
    case_id = open_case(api.client(token))["id"]
    page = page_of(vic, case_id)
    assert "Restricted case" in page.text
    assert forms_on(page) == {"note", "flag", "escalate"}
    # and what they add through them is written (the rule is the API's: check_write)
    saved(
        act(vic, case_id, "note", {"kind": "fact", "text": "Member called back."}), case_id, "note"
    )


def test_break_glass_is_offered_for_any_id_not_found_and_opens_a_restricted_case(
    api: Api,
) -> None:
    lead = api.user("priya", "safeguarding_lead")
    auditor = api.user("aud", "auditor")
    restricted = open_case(lead)["id"]
    vic, _ = person(api, "vic", "volunteer")
    lee, _ = person(api, "lee", "safeguarding_lead")

    # A restricted case and a missing one answer alike, each offering the form
    hidden_page = vic.get(f"/ui/cases/{restricted}")
    missing = str(uuid.uuid4())
    missing_page = vic.get(f"/ui/cases/{missing}")
    assert hidden_page.status_code == missing_page.status_code == 404
    assert hidden_page.text.replace(restricted, missing) == missing_page.text.replace(
        dict(HIDDEN.findall(missing_page.text))["idempotency_key"],
        dict(HIDDEN.findall(hidden_page.text))["idempotency_key"],
    )
    assert "Break the glass and open the case" in hidden_page.text
    # A lead sees every case: no break-glass permission, and none needed
    assert "Break the glass" not in lee.get(f"/ui/cases/{missing}").text

    # Without a real reason: 422 beside the field, nothing written
    hidden = dict(HIDDEN.findall(hidden_page.text))
    with api.writes_nothing():
        short = vic.post(f"/ui/cases/{restricted}/break-glass", data={**hidden, "reason": "n/a"})
    assert short.status_code == 422
    assert 'id="break-glass-reason-error"' in short.text
    # A missing case: 404 as the API answers it
    with api.writes_nothing():
        nothing = vic.post(
            f"/ui/cases/{missing}/break-glass",
            data={**hidden, "reason": "Member phoned in crisis and named this thread."},
        )
    assert nothing.status_code == 404

    # Without the session's CSRF token: 403, nothing written
    with api.writes_nothing():
        forged = vic.post(
            f"/ui/cases/{restricted}/break-glass",
            data={**hidden, "csrf_token": "", "reason": "Member phoned in crisis about this."},
        )
    assert forged.status_code == 403

    # With a reason: the grant, then the case page (sent twice: one grant)
    reason = {**hidden, "reason": "Member phoned the helpline in crisis and named this thread."}
    granted = vic.post(f"/ui/cases/{restricted}/break-glass", data=reason)
    assert granted.headers["location"] == f"/ui/cases/{restricted}?done=break-glass"
    with api.writes_nothing():
        assert vic.post(f"/ui/cases/{restricted}/break-glass", data=reason).status_code == 303
    opened = vic.get(granted.headers["location"])
    assert opened.status_code == 200
    assert "Access granted" in opened.text
    entries = auditor.get("/api/v1/audit/access", params={"case_id": restricted}).json()["items"]
    assert [e["kind"] for e in entries].count("break_glass_granted") == 1
    assert any(e.get("access") == "break_glass" for e in entries)


def test_the_export_is_the_apis_bytes_and_is_access_logged(api: Api) -> None:
    lead = api.user("priya", "safeguarding_lead")
    case_id = open_case(lead, **BULLYING)["id"]
    aud, token = person(api, "aud", "auditor")
    aud_api = api.client(token)

    download = aud.get(f"/ui/cases/{case_id}/export")
    assert download.status_code == 200, download.text
    assert download.headers["content-disposition"] == (
        f'attachment; filename="vigil-case-{case_id}-export.json"'
    )
    assert download.content == aud_api.get(f"/api/v1/cases/{case_id}/export").content
    entries = aud_api.get("/api/v1/audit/access", params={"case_id": case_id}).json()["items"]
    assert [e["what"] for e in entries if e["username"] == "aud"] == ["export", "export"]

    cora, _ = person(api, "cora", "coordinator")
    assert cora.get(f"/ui/cases/{case_id}/export").status_code == 403


def test_save_and_next_goes_back_to_the_queue_and_next_stays_in_the_ui(api: Api) -> None:
    cora, cora_token = person(api, "cora", "coordinator")
    case_id = open_case(api.client(cora_token), **BULLYING)["id"]
    note = {"kind": "note", "text": "Looked at it from the queue."}

    page = page_of(cora, case_id, from_queue="flags_awaiting_action")
    assert "Save and next" in page.text
    hidden = form_of(page, "note")
    assert hidden["next"] == f"/ui/queues/flags_awaiting_action/next?after={case_id}"
    onward = cora.post(
        f"/ui/cases/{case_id}/actions/note", data={**hidden, **note, "after": "next"}
    )
    assert onward.headers["location"] == hidden["next"]
    stay = act(cora, case_id, "note", {**note, "after": "case"}, from_queue="flags_awaiting_action")
    assert stay.headers["location"].startswith(
        f"/ui/cases/{case_id}?done=note&from_queue=flags_awaiting_action"
    )
    assert "Save and next" not in page_of(cora, case_id).text

    # A next that leaves the UI is ignored: back to the case page
    for elsewhere in (
        "https://evil.example/ui/",
        "//evil.example/ui/",
        "/api/v1/cases",
        "/ui/../api",
    ):
        answer = act(cora, case_id, "note", {**note, "next": elsewhere})
        assert answer.headers["location"].startswith(f"/ui/cases/{case_id}?done=note")
    answer = act(cora, case_id, "note", {**note, "next": "/ui/cases?status=open"})
    assert answer.headers["location"] == "/ui/cases?status=open"
    # A page linking to a case may name where to go after (under /ui/ only)
    assert form_of(page_of(cora, case_id, next="/ui/approvals"), "note")["next"] == "/ui/approvals"
    assert "next" not in form_of(page_of(cora, case_id, next="https://evil.example/"), "note")
