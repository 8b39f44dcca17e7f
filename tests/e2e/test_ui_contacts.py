"""The web UI's helpline contact pages over real HTTP, on SQLite and PostgreSQL: the list shows
what GET /api/v1/contacts lists to the same person with the same filters; a contact logged in
the form, reviewed, followed up and acknowledged appends exactly the events the API's writes
append; the review form's live score is the API's score for the same scores; a contact page is
access-logged as the API's read of it is; every refusal (a criterion left unscored, a score that
is none, a follow-up due before it is scheduled, a post without its CSRF token, a role the API
refuses) answers with its status and writes nothing.

The server clock starts on Tuesday 17 November 2026, 09:30 UTC (London is on GMT).
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import httpx
import pytest

from domain.contact.events import ContactEvent
from domain.quality.commands import DEFAULT_CRITERIA
from tests.conftest import Clock
from tests.e2e.support import Api, open_case
from tests.e2e.ui_support import csrf_of, person

CONTACT_LINK = re.compile(r'href="/ui/contacts/([0-9a-f-]{36})"')
LIVE_SCORE = re.compile(r"Weighted score: <span class=\"score\">([0-9.]+)</span> out of 100")
RESULT = re.compile(r"Result: (pass|fail)</strong>")
CALL = {
    "channel": "call",
    "direction": "inbound",
    "duration_seconds": 720,
    "caller": {"anonymous": False, "ref": "caller-2291", "display_name": "R. Patel"},
    "category": "hate_incident",
    "summary": "Caller was spat at on the number 9 bus and wants to report it.",
    "outcome": "call_back_arranged",
}
CHAT = {
    "channel": "chat",
    "direction": "inbound",
    "caller": {"anonymous": True},
    "category": "harassment",
    "summary": "Neighbour's harassment continuing; options explained.",
    "outcome": "information_given",
}
# The form as a person fills it in for CALL (twelve minutes, logged at 09:30).
CALL_FORM = {
    "channel": "call",
    "direction": "inbound",
    "service": "default",
    "duration_minutes": "12",
    "caller": "named",
    "caller_ref": "caller-2291",
    "caller_name": "R. Patel",
    "category": "hate_incident",
    "summary": CALL["summary"],
    "outcome": "call_back_arranged",
    "case_id": "",
    "occurred_at": "2026-11-17T09:30",
}
# Every criterion of the default scorecard, at its top score except two.
SCORES = {c.key: c.max_score for c in DEFAULT_CRITERIA} | {
    "listening_empathy": 2,
    "signposting": 1,
}
FEEDBACK = "Warm and clear; offer the reporting centre number sooner."
RATIONALE = "Risk was asked about directly; signposting came late in the call."
# What is not the same between two writes of the same thing: ids and the clocks.
_OWN = {"originator_id", "event_id", "review_id", "follow_up_id", "recorded_at", "occurred_at"}


def log_by_api(client: httpx.Client, body: dict[str, Any]) -> str:
    answer = client.post("/api/v1/contacts", json=body)
    assert answer.status_code == 201, answer.text
    contact_id: str = answer.json()["contact"]["id"]
    return contact_id


def events_of(api: Api, contact_id: str) -> list[dict[str, Any]]:
    """A contact's events as stored, without what differs between two writes of the same."""
    found: list[ContactEvent] = api.vigil.contacts.events(UUID(contact_id))
    return [{"type": type(e).__name__, **e.model_dump(exclude=_OWN)} for e in found]


def listed(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return list(dict.fromkeys(CONTACT_LINK.findall(page.text)))


def api_listed(client: httpx.Client, **params: Any) -> list[str]:
    answer = client.get("/api/v1/contacts", params=params)
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def score_form(page: httpx.Response, scores: dict[str, int], **more: str) -> dict[str, str]:
    return {
        "csrf_token": csrf_of(page),
        **{f"score.{key}": str(value) for key, value in scores.items()},
        **more,
    }


def live(client: httpx.Client, contact_id: str, form: dict[str, str]) -> httpx.Response:
    return client.post(
        f"/ui/contacts/{contact_id}/score", data=form, headers={"HX-Request": "true"}
    )


def test_the_list_shows_what_the_api_lists_for_the_same_person_and_filters(
    api: Api, clock: Clock
) -> None:
    # Given two contacts Vic handled and one Kit handled, a minute apart
    vic_own, vic_token = person(api, "vic", "volunteer")
    vic_api = api.client(vic_token)
    kit_api = api.user("kit", "volunteer")
    call = log_by_api(vic_api, CALL)
    clock.advance(minutes=1)
    chat = log_by_api(kit_api, CHAT)
    clock.advance(minutes=1)
    later = log_by_api(vic_api, {**CHAT, "summary": "Called again: the harassment goes on."})
    sam, sam_token = person(api, "sam", "volunteer")
    cora, cora_token = person(api, "cora", "coordinator")
    cora_api = api.client(cora_token)

    # A volunteer sees only the contacts they handled, in the UI as in the API
    assert listed(sam.get("/ui/contacts")) == api_listed(api.client(sam_token)) == []
    assert listed(vic_own.get("/ui/contacts")) == api_listed(vic_api) == [later, call]

    # The coordinator sees them all, newest first, and each filter is the API's
    assert listed(cora.get("/ui/contacts")) == api_listed(cora_api) == [later, chat, call]
    for ui, by_api in (
        ({"channel": "chat"}, {"channel": "chat"}),
        ({"handled_by": "kit"}, {"handled_by": "kit"}),
        ({"reviewed": "false"}, {"reviewed": "false"}),
        ({"reviewed": "true"}, {"reviewed": "true"}),
        ({"service": "default"}, {"service": "default"}),
        (
            {"from": "2026-11-17T09:31", "to": "2026-11-17T09:32"},
            {"from": "2026-11-17T09:31:00+00:00", "to": "2026-11-17T09:32:00+00:00"},
        ),
    ):
        assert listed(cora.get("/ui/contacts", params=ui)) == api_listed(cora_api, **by_api)
    assert listed(cora.get("/ui/contacts", params={"from": "2026-11-17T09:31"})) == [later, chat]
    # Empty fields (as the form sends them) are no filter; a value that is none is refused
    empty = {"from": "", "to": "", "channel": "", "handled_by": "", "reviewed": "", "service": ""}
    assert listed(cora.get("/ui/contacts", params=empty)) == [later, chat, call]
    assert cora.get("/ui/contacts", params={"channel": "fax"}).status_code == 422
    assert cora.get("/ui/contacts", params={"from": "yesterday"}).status_code == 422
    assert cora.get("/ui/contacts", params={"from": "0001-01-01T00:00"}).status_code == 422
    backwards = {"from": "2026-11-17T10:00", "to": "2026-11-17T09:00"}
    assert cora.get("/ui/contacts", params=backwards).status_code == 422

    # No personal text in the list (the summary, the caller's name), only what the API lists
    page = cora.get("/ui/contacts").text
    assert "caller-2291" in page
    assert "R. Patel" not in page
    assert "spat at" not in page
    assert "Awaiting review" in page
    # Contacts in the nav for whoever may read contacts; not for a trustee, who is refused
    assert 'href="/ui/contacts" aria-current="page">Contacts</a>' in page
    trudy, _ = person(api, "trudy", "trustee")
    assert 'href="/ui/contacts"' not in trudy.get("/ui/").text
    assert trudy.get("/ui/contacts").status_code == 403
    assert trudy.get(f"/ui/contacts/{call}").status_code == 403


def test_a_contact_logged_in_the_form_is_the_contact_the_api_logs(api: Api) -> None:
    # Given a coordinator signed in, and the same call logged through the API by a volunteer
    cora, token = person(api, "cora", "coordinator")
    vic_api = api.user("vic", "volunteer")
    by_api = log_by_api(vic_api, {**CALL, "occurred_at": "2026-11-17T09:30:00+00:00"})

    # When she fills in the form (back-dated to 09:30) and logs it
    form = cora.get("/ui/contacts/new")
    assert form.status_code == 200, form.text
    assert 'value="2026-11-17T09:30"' in form.text  # when it happened: now, by default
    answer = cora.post("/ui/contacts", data={**CALL_FORM, "csrf_token": csrf_of(form)})

    # Then she is sent to the new contact's page, which says so
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/ui/contacts/([0-9a-f-]{36})\?done=logged", answer.headers["location"])
    assert found is not None
    contact_id = found.group(1)
    page = cora.get(answer.headers["location"])
    assert page.status_code == 200
    assert "Contact logged." in page.text
    assert "R. Patel" in page.text

    # And it is the same ContactLogged as the API's, but for who handled it
    [ui_event] = events_of(api, contact_id)
    [api_event] = events_of(api, by_api)
    assert ui_event == {
        **api_event,
        "actor": "cora",
        "actor_role": "coordinator",
        "handled_by": "cora",
    }
    read = api.client(token).get(f"/api/v1/contacts/{contact_id}").json()["contact"]
    assert read["occurred_at"] == "2026-11-17T09:30:00Z"
    assert read["duration_seconds"] == 720
    assert read["caller"] == {"anonymous": False, "ref": "caller-2291", "display_name": "R. Patel"}


def test_logging_refusals_answer_the_form_and_write_nothing(api: Api) -> None:
    cora, _ = person(api, "cora", "coordinator")
    form = cora.get("/ui/contacts/new")
    csrf = csrf_of(form)
    refusals = [
        ({**CALL_FORM, "summary": ""}, 422, "Summary"),
        ({**CALL_FORM, "caller_ref": ""}, 422, "a named caller needs a ref"),
        ({**CALL_FORM, "channel": "fax"}, 422, "Channel"),
        ({**CALL_FORM, "duration_minutes": "twelve"}, 422, "Duration"),
        ({**CALL_FORM, "occurred_at": "2026-11-18T09:30"}, 422, "future"),
        ({**CALL_FORM, "occurred_at": "0001-01-01T00:00"}, 422, "When it happened"),
        ({**CALL_FORM, "service": "nowhere"}, 422, "nowhere"),
        ({**CALL_FORM, "case_id": "00000000-0000-4000-8000-000000000000"}, 422, "no such case"),
    ]
    for sent, status, words in refusals:
        with api.writes_nothing():
            answer = cora.post("/ui/contacts", data={**sent, "csrf_token": csrf})
        assert answer.status_code == status, (sent, answer.text)
        assert words in answer.text, (words, answer.text)
        assert CALL_FORM["summary"] in answer.text or not sent["summary"]  # kept in the form
    # Without the CSRF token: 403 and nothing written
    with api.writes_nothing():
        assert cora.post("/ui/contacts", data=CALL_FORM).status_code == 403
    # An auditor reads contacts but does not log them: 403, in the UI as in the API
    aud, aud_token = person(api, "aud", "auditor")
    assert aud.get("/ui/contacts/new").status_code == 403
    with api.writes_nothing():
        refused = aud.post(
            "/ui/contacts", data={**CALL_FORM, "csrf_token": csrf_of(aud.get("/ui/"))}
        )
    assert refused.status_code == 403
    assert api.client(aud_token).post("/api/v1/contacts", json=CALL).status_code == 403


def test_the_contact_page_is_access_logged_as_the_api_read_of_it(api: Api) -> None:
    vic_api = api.user("vic", "volunteer")
    contact_id = log_by_api(vic_api, CALL)
    lead = api.user("lee", "safeguarding_lead")
    cora, token = person(api, "cora", "coordinator")

    def entries() -> list[dict[str, Any]]:
        answer = lead.get("/api/v1/audit/access", params={"user": "cora", "limit": 200})
        assert answer.status_code == 200, answer.text
        keep = ("kind", "username", "role", "case_id", "contact_id", "what", "purpose", "access")
        return [{k: item.get(k) for k in keep} for item in answer.json()["items"]]

    before = entries()
    page = cora.get(f"/ui/contacts/{contact_id}")
    assert page.status_code == 200, page.text
    after_ui = entries()
    assert api.client(token).get(f"/api/v1/contacts/{contact_id}").status_code == 200
    after_api = entries()

    by_ui = after_ui[len(before) :]
    assert by_ui == after_api[len(after_ui) :]
    assert [(e["what"], e["contact_id"], e["purpose"]) for e in by_ui] == [
        ("contact", contact_id, "case_work")
    ]
    # The page shows the contact's personal fields, as the API's read does
    assert CALL["summary"] in page.text
    assert "R. Patel" in page.text

    # Another volunteer may not see it: not found, as a contact that does not exist, in both
    sam, sam_token = person(api, "sam", "volunteer")
    assert sam.get(f"/ui/contacts/{contact_id}").status_code == 404
    assert api.client(sam_token).get(f"/api/v1/contacts/{contact_id}").status_code == 404
    assert "R. Patel" not in sam.get(f"/ui/contacts/{contact_id}").text
    assert sam.get("/ui/contacts/not-a-contact").status_code == 404


def test_the_live_score_is_the_api_score_and_the_review_is_the_api_review(api: Api) -> None:
    # Given two identical calls Vic handled
    vic_api = api.user("vic", "volunteer")
    first = log_by_api(vic_api, CALL)
    second = log_by_api(vic_api, CALL)
    cora, _ = person(api, "cora", "coordinator")
    lead = api.user("lee", "safeguarding_lead")
    page = cora.get(f"/ui/contacts/{first}")
    assert page.status_code == 200
    # The form names each criterion, its weight and maximum, and says which are critical
    for criterion in DEFAULT_CRITERIA:
        assert f'name="score.{criterion.key}"' in page.text
    assert page.text.count("(critical)") == 2
    assert "Weight 3; scored 0 to 2. Critical: a 0 here fails the review" in page.text
    assert 'hx-post="/ui/contacts/' in page.text
    assert 'aria-live="polite"' in page.text

    # Part-way through scoring the live score waits for every criterion
    some = {"greeting_rapport": 4}
    partial = live(cora, first, score_form(page, some))
    assert partial.status_code == 200
    assert f"Scored 1 of {len(DEFAULT_CRITERIA)} criteria" in partial.text

    # When every criterion is scored, the live score is what the API's review answers
    with api.writes_nothing():
        scored = live(cora, first, score_form(page, SCORES))
    shown = LIVE_SCORE.search(scored.text)
    result = RESULT.search(scored.text)
    assert shown is not None, scored.text
    assert result is not None, scored.text
    by_api = lead.post(
        f"/api/v1/contacts/{second}/reviews",
        json={"scores": SCORES, "feedback": FEEDBACK, "rationale": RATIONALE},
    )
    assert by_api.status_code == 201, by_api.text
    api_review = by_api.json()["contact"]["reviews"][0]
    assert (float(shown.group(1)), result.group(1)) == (api_review["score"], api_review["result"])
    # A critical criterion at 0 fails, whatever the total: shown as the review would be judged
    failing = live(cora, first, score_form(page, {**SCORES, "risk_asked": 0}))
    assert "Result: fail</strong>" in failing.text
    assert "a critical criterion scored 0" in failing.text

    # When she saves the review, it is the API's ContactReviewed, but for who reviewed it
    saved = cora.post(
        f"/ui/contacts/{first}/reviews",
        data=score_form(page, SCORES, feedback=FEEDBACK, rationale=RATIONALE),
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/ui/contacts/{first}?done=reviewed#reviews"
    ui_review = events_of(api, first)[-1]
    api_event = events_of(api, second)[-1]
    assert ui_review["type"] == "ContactReviewed"
    assert ui_review == {
        **api_event,
        "actor": "cora",
        "actor_role": "coordinator",
        "reviewer": "cora",
    }
    after = cora.get(f"/ui/contacts/{first}?done=reviewed")
    assert "Review saved." in after.text
    assert f"{api_review['score']} out of 100: passed" in after.text
    # She has reviewed it: no second review form for her
    assert f'action="/ui/contacts/{first}/reviews"' not in after.text


def test_review_refusals_write_nothing(api: Api) -> None:
    vic, vic_token = person(api, "vic", "volunteer")
    vic_api = api.client(vic_token)
    contact_id = log_by_api(vic_api, CALL)
    cora, _ = person(api, "cora", "coordinator")
    page = cora.get(f"/ui/contacts/{contact_id}")
    unscored = {k: v for k, v in SCORES.items() if k != "risk_asked"}
    refusals = [
        (score_form(page, unscored, feedback=FEEDBACK, rationale=RATIONALE), 422, "not scored"),
        (
            score_form(page, {**SCORES, "risk_asked": 7}, feedback=FEEDBACK, rationale=RATIONALE),
            422,
            "from 0 to 2",
        ),
        (
            {
                **score_form(page, SCORES, feedback=FEEDBACK, rationale=RATIONALE),
                "score.risk_asked": "lots",
            },
            422,
            "Score for risk_asked",
        ),
        (
            score_form(page, {**SCORES, "charm": 1}, feedback=FEEDBACK, rationale=RATIONALE),
            422,
            "charm",
        ),
        (score_form(page, SCORES, feedback="", rationale=RATIONALE), 422, "Feedback"),
    ]
    for form, status, words in refusals:
        with api.writes_nothing():
            answer = cora.post(f"/ui/contacts/{contact_id}/reviews", data=form)
        assert answer.status_code == status, answer.text
        assert words in answer.text, (words, answer.text)
        assert "Nothing was saved" in answer.text
        # The form comes back with what was sent, and no personal text of the contact
        assert 'name="score.greeting_rapport"' in answer.text
        assert CALL["summary"] not in answer.text
    # Without scripts, the form comes back showing the score of what was sent
    with api.writes_nothing():
        no_feedback = cora.post(
            f"/ui/contacts/{contact_id}/reviews",
            data=score_form(page, SCORES, feedback="", rationale=RATIONALE),
        )
    assert LIVE_SCORE.search(no_feedback.text) is not None, no_feedback.text
    assert f'value="{SCORES["signposting"]}" selected' in no_feedback.text
    # Without the CSRF token: 403, for the review and for the live score alike
    no_csrf = {k: v for k, v in score_form(page, SCORES).items() if k != "csrf_token"}
    with api.writes_nothing():
        assert cora.post(f"/ui/contacts/{contact_id}/reviews", data=no_csrf).status_code == 403
        assert live(cora, contact_id, no_csrf).status_code == 403

    # Vic handled it: she may not review her own contact (403, as the API answers)
    vic_page = vic.get(f"/ui/contacts/{contact_id}")
    assert f'action="/ui/contacts/{contact_id}/reviews"' not in vic_page.text
    with api.writes_nothing():
        refused = vic.post(
            f"/ui/contacts/{contact_id}/reviews",
            data=score_form(vic_page, SCORES, feedback=FEEDBACK, rationale=RATIONALE),
        )
        by_api = api.client(vic_token).post(
            f"/api/v1/contacts/{contact_id}/reviews",
            json={"scores": SCORES, "feedback": FEEDBACK, "rationale": RATIONALE},
        )
    assert refused.status_code == by_api.status_code == 403
    assert "Not allowed" in refused.text


def test_a_call_back_is_scheduled_attempted_and_completed_and_feedback_acknowledged(
    api: Api, clock: Clock
) -> None:
    # Given Vic's call, and the same call and follow-ups through the API beside it
    vic, vic_token = person(api, "vic", "volunteer")
    vic_api = api.client(vic_token)
    contact_id = log_by_api(vic_api, CALL)
    twin = log_by_api(vic_api, CALL)
    cora, cora_token = person(api, "cora", "coordinator")
    cora_api = api.client(cora_token)
    page = cora.get(f"/ui/contacts/{contact_id}")
    assert "Schedule a follow-up" in page.text
    assert 'value="2026-11-17T10:30"' in page.text  # due: in an hour, by default
    detail = "Call back after 4pm when the caller is home from work."

    # When Cora schedules a call-back for Vic
    scheduled = cora.post(
        f"/ui/contacts/{contact_id}/follow-ups",
        data={
            "csrf_token": csrf_of(page),
            "kind": "call_back",
            "due_at": "2026-11-17T16:30",
            "assignee": "vic",
            "detail": detail,
        },
    )
    assert scheduled.status_code == 303, scheduled.text
    assert scheduled.headers["location"] == f"/ui/contacts/{contact_id}?done=scheduled#follow-ups"
    api_scheduled = cora_api.post(
        f"/api/v1/contacts/{twin}/follow-ups",
        json={
            "kind": "call_back",
            "due_at": "2026-11-17T16:30:00+00:00",
            "assignee": "vic",
            "detail": detail,
        },
    )
    assert api_scheduled.status_code == 201, api_scheduled.text
    assert events_of(api, contact_id)[-1] == {**events_of(api, twin)[-1]}
    [follow_up] = cora_api.get(f"/api/v1/contacts/{contact_id}").json()["contact"]["follow_ups"]
    assert (follow_up["kind"], follow_up["assignee"]) == ("call_back", "vic")
    assert follow_up["due_at"] == "2026-11-17T16:30:00Z"
    twin_follow_up = api_scheduled.json()["contact"]["follow_ups"][0]["follow_up_id"]

    # Vic records an attempt at it and completes it, as the API's attempt and completion do
    clock.advance(minutes=20)
    mine = vic.get(f"/ui/contacts/{contact_id}?done=scheduled")
    assert "Follow-up scheduled." in mine.text
    base = f"/ui/contacts/{contact_id}/follow-ups/{follow_up['follow_up_id']}"
    attempt = {"csrf_token": csrf_of(mine), "outcome": "left_message", "note": "Voicemail."}
    assert vic.post(f"{base}/attempts", data=attempt).status_code == 303
    done = {"csrf_token": csrf_of(mine), "outcome": "Reached; report made", "note": ""}
    assert vic.post(f"{base}/completion", data=done).status_code == 303
    twin_base = f"/api/v1/contacts/{twin}/follow-ups/{twin_follow_up}"
    assert (
        vic_api.post(
            f"{twin_base}/attempts", json={"outcome": "left_message", "note": "Voicemail."}
        ).status_code
        == 201
    )
    assert (
        vic_api.post(
            f"{twin_base}/completion", json={"outcome": "Reached; report made"}
        ).status_code
        == 201
    )
    ours = events_of(api, contact_id)[-2:]
    theirs = events_of(api, twin)[-2:]
    assert [e["type"] for e in ours] == ["FollowUpAttempted", "FollowUpCompleted"]
    assert [{**e, "follow_up_id": None} for e in ours] == [
        {**e, "follow_up_id": None} for e in theirs
    ]
    # Completed once: a second completion is refused and writes nothing
    with api.writes_nothing():
        again = vic.post(f"{base}/completion", data=done)
    assert again.status_code == 409
    assert "Nothing was saved" in again.text

    # Cora reviews the call; Vic, its handler, acknowledges the feedback
    review_page = cora.get(f"/ui/contacts/{contact_id}")
    reviewed = cora.post(
        f"/ui/contacts/{contact_id}/reviews",
        data=score_form(review_page, SCORES, feedback=FEEDBACK, rationale=RATIONALE),
    )
    assert reviewed.status_code == 303, reviewed.text
    mine = vic.get(f"/ui/contacts/{contact_id}")
    assert FEEDBACK in mine.text
    [review] = cora_api.get(f"/api/v1/contacts/{contact_id}").json()["contact"]["reviews"]
    ack_url = f"/ui/contacts/{contact_id}/reviews/{review['review_id']}/acknowledgement"
    assert f'action="{ack_url}"' in mine.text
    # Cora is not the handler: she is offered no acknowledgement, and refused one (403)
    assert f'action="{ack_url}"' not in cora.get(f"/ui/contacts/{contact_id}").text
    with api.writes_nothing():
        refused = cora.post(ack_url, data={"csrf_token": csrf_of(review_page), "note": ""})
    assert refused.status_code == 403
    acknowledged = vic.post(ack_url, data={"csrf_token": csrf_of(mine), "note": "Will do."})
    assert acknowledged.status_code == 303, acknowledged.text
    [review] = cora_api.get(f"/api/v1/contacts/{contact_id}").json()["contact"]["reviews"]
    assert (review["feedback_status"], review["acknowledgement_note"]) == (
        "acknowledged",
        "Will do.",
    )


def test_follow_up_refusals_write_nothing(api: Api) -> None:
    vic, vic_token = person(api, "vic", "volunteer")
    vic_api = api.client(vic_token)
    contact_id = log_by_api(vic_api, CALL)
    cora, _ = person(api, "cora", "coordinator")
    page = cora.get(f"/ui/contacts/{contact_id}")
    good = {
        "csrf_token": csrf_of(page),
        "kind": "call_back",
        "due_at": "2026-11-17T16:30",
        "assignee": "",
        "detail": "Call back this afternoon.",
    }
    refusals = [
        ({**good, "due_at": "2026-11-17T08:00"}, 422, "due no earlier than it is scheduled"),
        ({**good, "due_at": ""}, 422, "Due"),
        ({**good, "assignee": "nobody"}, 422, "not an active Vigil user"),
        ({**good, "detail": ""}, 422, "Detail"),
        ({**good, "kind": "referral"}, 422, "a referral needs agency and consent"),
    ]
    for form, status, words in refusals:
        with api.writes_nothing():
            answer = cora.post(f"/ui/contacts/{contact_id}/follow-ups", data=form)
        assert answer.status_code == status, answer.text
        assert words in answer.text, (words, answer.text)
        assert 'action="/ui/contacts/' in answer.text  # the form again, to correct
    with api.writes_nothing():
        no_csrf = {k: v for k, v in good.items() if k != "csrf_token"}
        assert cora.post(f"/ui/contacts/{contact_id}/follow-ups", data=no_csrf).status_code == 403
    # A volunteer schedules no follow-ups: not offered, and refused (403) as by the API
    mine = vic.get(f"/ui/contacts/{contact_id}")
    assert "Schedule a follow-up" not in mine.text
    with api.writes_nothing():
        refused = vic.post(
            f"/ui/contacts/{contact_id}/follow-ups", data={**good, "csrf_token": csrf_of(mine)}
        )
    assert refused.status_code == 403
    by_api = api.client(vic_token).post(
        f"/api/v1/contacts/{contact_id}/follow-ups",
        json={"kind": "call_back", "due_at": "2026-11-17T16:30:00+00:00", "detail": "x"},
    )
    assert by_api.status_code == 403
    # An attempt at a follow-up that does not exist: not found
    missing = "00000000-0000-4000-8000-000000000000"
    with api.writes_nothing():
        lost = cora.post(
            f"/ui/contacts/{contact_id}/follow-ups/{missing}/attempts",
            data={"csrf_token": csrf_of(page), "outcome": "no_answer"},
        )
    assert lost.status_code == 404


@pytest.mark.parametrize("path", ["/ui/contacts", "/ui/contacts/new"])
def test_signed_out_the_pages_send_you_to_sign_in(api: Api, path: str) -> None:
    client = httpx.Client(base_url=api.base_url, follow_redirects=False)
    try:
        answer = client.get(path)
    finally:
        client.close()
    assert (answer.status_code, answer.headers["location"]) == (303, "/ui/login")


def test_a_contact_joins_a_case_or_opens_one_as_the_api_links_it(api: Api) -> None:
    # Given two of Vic's calls, and a case about the same caller
    vic_api = api.user("vic", "volunteer")
    joining = log_by_api(vic_api, CALL)
    opening = log_by_api(vic_api, CALL)
    cora, cora_token = person(api, "cora", "coordinator")
    cora_api = api.client(cora_token)
    case = open_case(cora_api, subject={"kind": "contact", "ref": "caller-2291"})
    page = cora.get(f"/ui/contacts/{joining}")
    assert "Join an existing case" in page.text
    assert 'name="subject_ref" maxlength="200"' in page.text
    csrf = csrf_of(page)

    # A case id that is no case is refused, and nothing written
    with api.writes_nothing():
        lost = cora.post(
            f"/ui/contacts/{joining}/case-link",
            data={"csrf_token": csrf, "mode": "join", "case_id": str(UUID(int=7))},
        )
    assert lost.status_code == 422, lost.text
    assert "no such case" in lost.text

    # When she links the first call to the case, it joins it as the API's link would
    joined = cora.post(
        f"/ui/contacts/{joining}/case-link",
        data={"csrf_token": csrf, "mode": "join", "case_id": case["id"]},
    )
    assert joined.status_code == 303, joined.text
    read = cora_api.get(f"/api/v1/contacts/{joining}").json()["contact"]
    assert (read["case_id"], read["opened_case"]) == (case["id"], False)
    timeline = cora_api.get(f"/api/v1/cases/{case['id']}/timeline").json()["events"]
    assert timeline[-1]["type"] == "ContactJoined"
    after = cora.get(f"/ui/contacts/{joining}?done=linked")
    assert "Linked to the case." in after.text
    assert "Join an existing case" not in after.text  # a contact names one case

    # And she opens a case from the second call
    opened = cora.post(
        f"/ui/contacts/{opening}/case-link",
        data={
            "csrf_token": csrf,
            "mode": "open",
            "subject_ref": "caller-2291",
            "category": "hate_incident",
            "risk_level": "medium",
            "summary": "Repeated assaults on the same bus route.",
        },
    )
    assert opened.status_code == 303, opened.text
    read = cora_api.get(f"/api/v1/contacts/{opening}").json()["contact"]
    assert read["opened_case"] is True
    new_case = cora_api.get(f"/api/v1/cases/{read['case_id']}").json()["case"]
    assert (new_case["source"], new_case["risk_level"]) == ("helpline_contact", "medium")
    # An empty summary is refused, and nothing written
    with api.writes_nothing():
        refused = cora.post(
            f"/ui/contacts/{joining}/case-link",
            data={"csrf_token": csrf, "mode": "open", "subject_ref": "x", "summary": ""},
        )
    assert refused.status_code == 422, refused.text


def test_a_form_sent_twice_writes_once(api: Api) -> None:
    # Given Cora's log form, sent twice (a double tap on a slow line)
    cora, cora_token = person(api, "cora", "coordinator")
    form = cora.get("/ui/contacts/new")
    key = re.search(r'name="form_key" value="([^"]+)"', form.text)
    assert key is not None
    sent = {**CALL_FORM, "csrf_token": csrf_of(form), "form_key": key.group(1)}
    first = cora.post("/ui/contacts", data=sent)
    with api.writes_nothing():
        second = cora.post("/ui/contacts", data=sent)
    # Then one contact is logged, and both answers lead to it
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(api_listed(api.client(cora_token))) == 1
    # The same key with other values is refused: nothing written
    with api.writes_nothing():
        other = cora.post("/ui/contacts", data={**sent, "summary": "Another call altogether."})
    assert other.status_code == 422
    assert "already sent" in other.text

    # And a follow-up form sent twice schedules one follow-up
    contact_id = first.headers["location"].split("/")[-1].split("?")[0]
    page = cora.get(f"/ui/contacts/{contact_id}")
    keys = re.findall(r'name="form_key" value="([^"]+)"', page.text)
    assert len(set(keys)) == len(keys)  # one key per form
    schedule = {
        "csrf_token": csrf_of(page),
        "form_key": keys[-1],
        "kind": "call_back",
        "due_at": "2026-11-17T16:30",
        "assignee": "",
        "detail": "Call back this afternoon.",
    }
    assert cora.post(f"/ui/contacts/{contact_id}/follow-ups", data=schedule).status_code == 303
    with api.writes_nothing():
        again = cora.post(f"/ui/contacts/{contact_id}/follow-ups", data=schedule)
    assert again.status_code == 303
    read = api.client(cora_token).get(f"/api/v1/contacts/{contact_id}").json()["contact"]
    assert len(read["follow_ups"]) == 1
