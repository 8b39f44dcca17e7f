"""The web UI's case pages over real HTTP, on SQLite and PostgreSQL: the list shows what GET
/api/v1/cases lists to the same person with the same filters; a case page reads through the
API's reader, so it appends exactly the access-log entries an API read of the case and its
timeline appends; a restricted case is 404 and unlisted for a volunteer, in the UI as in the
API; "as of" on both bases shows the earlier state; a trustee has no case pages.

The server clock starts on Tuesday 17 November 2026, 09:30 UTC (London is on GMT).
"""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from infrastructure.settings import Settings
from projections.paging import DEFAULT_LIMIT
from tests.conftest import Clock
from tests.e2e.support import Api, open_case
from tests.e2e.ui_support import person

RESTRICTED = "self_harm_risk,harm_to_others"
CASE_LINK = re.compile(r'href="/ui/cases/([0-9a-f-]{36})"')
NEXT_LINK = re.compile(r'<a href="(/ui/cases\?[^"]+)" rel="next">Next page</a>')
SPAM = {
    "subject": {"kind": "member", "ref": "forum-member-777", "display_name": "Pat"},
    "category": "other",
    "summary": "Repeated links to a dubious shop.",
    "risk_level": "low",
}
BULLYING = {
    "subject": {"kind": "member", "ref": "forum-member-555"},
    "category": "harassment",
    "summary": "Pile-on in a thread about insulin pumps.",
    "risk_level": "medium",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The product default: self-harm risk and harm to others are restricted."""
    return settings.model_copy(update={"restricted_categories": RESTRICTED})


def one_time_key(text: str) -> str:
    return re.sub(r'name="idempotency_key" value="[^"]+"', 'name="idempotency_key"', text)


def listed(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return CASE_LINK.findall(page.text)


def api_listed(client: httpx.Client, **params: Any) -> list[str]:
    answer = client.get("/api/v1/cases", params=params)
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def access_entries(auditor: httpx.Client, case_id: str) -> list[dict[str, Any]]:
    answer = auditor.get("/api/v1/audit/access", params={"case_id": case_id, "limit": 200})
    assert answer.status_code == 200, answer.text
    keep = ("kind", "username", "role", "case_id", "what", "purpose", "access", "grant_id")
    return [{k: item[k] for k in keep} for item in answer.json()["items"]]


def test_the_list_shows_what_the_api_lists_for_the_same_person_and_filters(
    api: Api, clock: Clock
) -> None:
    # Given a lead's three cases a minute apart, one of them restricted (self-harm)
    lead = api.user("priya", "safeguarding_lead")
    hidden = open_case(lead)["id"]
    clock.advance(minutes=1)
    spam = open_case(lead, **SPAM)["id"]
    clock.advance(minutes=1)
    bullying = open_case(lead, **BULLYING)["id"]
    vic, token = person(api, "vic", "volunteer")
    vic_api = api.client(token)

    # The volunteer's list is the API's: the restricted case absent, newest first
    assert listed(vic.get("/ui/cases")) == api_listed(vic_api) == [bullying, spam]
    assert hidden not in vic.get("/ui/cases").text

    # And with each filter, the same as the API with that filter
    for params in (
        {"category": "harassment"},
        {"risk_level": "low"},
        {"status": "open"},
        {"status": "closed"},
        {"subject_ref": "forum-member-777"},
        {"service": "default", "risk_level": "medium"},
        {"assignee": "nobody"},
    ):
        assert listed(vic.get("/ui/cases", params=params)) == api_listed(vic_api, **params)
    assert listed(vic.get("/ui/cases", params={"category": "harassment"})) == [bullying]

    # Empty fields (as a form sends them) are no filter; an unknown value is refused
    empty = {"status": "", "risk_level": "", "category": "", "assignee": "", "service": ""}
    assert listed(vic.get("/ui/cases", params=empty)) == [bullying, spam]
    assert vic.get("/ui/cases", params={"status": "lost"}).status_code == 422

    # The lead sees all three, as the API lists them to her
    lee, lee_token = person(api, "lee", "safeguarding_lead")
    assert listed(lee.get("/ui/cases")) == api_listed(api.client(lee_token))
    assert set(listed(lee.get("/ui/cases"))) == {hidden, spam, bullying}

    # Plain words, not the API's enum names; times with the offset
    page = vic.get("/ui/cases").text
    assert "Harassment" in page
    assert "medium risk" in page
    assert "Tue 17 Nov 2026, 09:32 (UTC+00:00)" in page


def test_the_jump_box_goes_to_a_case_by_id_or_subject_ref(api: Api) -> None:
    lead = api.user("priya", "safeguarding_lead")
    spam = open_case(lead, **SPAM)["id"]
    hidden = open_case(lead)["id"]
    vic, _ = person(api, "vic", "volunteer")

    by_id = vic.get("/ui/cases/jump", params={"to": f" {spam} "})
    assert (by_id.status_code, by_id.headers["location"]) == (303, f"/ui/cases/{spam}")
    by_ref = vic.get("/ui/cases/jump", params={"to": "forum-member-777"})
    assert (by_ref.status_code, by_ref.headers["location"]) == (303, f"/ui/cases/{spam}")
    # A restricted case's subject is not found by the jump box either: only the filtered list
    restricted = vic.get("/ui/cases/jump", params={"to": "forum-member-48213"})
    assert restricted.headers["location"] == "/ui/cases?subject_ref=forum-member-48213"
    assert hidden not in vic.get(restricted.headers["location"]).text


def test_a_case_page_appends_exactly_the_access_log_entries_an_api_read_appends(
    api: Api,
) -> None:
    # Given a case, Lee signed in to the UI and holding his token for the API
    lead = api.user("priya", "safeguarding_lead")
    case_id = open_case(lead, **BULLYING)["id"]
    auditor = api.user("aud", "auditor")
    lee, token = person(api, "lee", "safeguarding_lead")
    lee_api = api.client(token)

    # When he reads the case page, then the case and its timeline through the API
    before = access_entries(auditor, case_id)
    page = lee.get(f"/ui/cases/{case_id}")
    assert page.status_code == 200, page.text
    after_ui = access_entries(auditor, case_id)
    assert lee_api.get(f"/api/v1/cases/{case_id}").status_code == 200
    assert lee_api.get(f"/api/v1/cases/{case_id}/timeline").status_code == 200
    after_api = access_entries(auditor, case_id)

    # Then each appended the same entries: the case and its timeline, by Lee, for case work
    by_ui = after_ui[len(before) :]
    by_api = after_api[len(after_ui) :]
    assert by_ui == by_api
    assert [(e["what"], e["username"], e["purpose"], e["access"]) for e in by_ui] == [
        ("case", "lee", "case_work", "full"),
        ("timeline", "lee", "case_work", "full"),
    ]
    # And the page shows the case's state
    assert "forum-member-555" in page.text
    assert "Harassment" in page.text


def test_a_restricted_case_is_not_found_for_a_volunteer_in_the_ui_as_in_the_api(api: Api) -> None:
    lead = api.user("priya", "safeguarding_lead")
    hidden = open_case(lead)["id"]
    auditor = api.user("aud", "auditor")
    vic, token = person(api, "vic", "volunteer")
    missing = "00000000-0000-4000-8000-000000000000"

    before = access_entries(auditor, hidden)
    ui = vic.get(f"/ui/cases/{hidden}")
    after_ui = access_entries(auditor, hidden)
    api_answer = api.client(token).get(f"/api/v1/cases/{hidden}")
    after_api = access_entries(auditor, hidden)

    # 404, saying exactly what a case that does not exist says, and nothing of the case
    assert ui.status_code == api_answer.status_code == 404
    unknown = vic.get(f"/ui/cases/{missing}")
    assert unknown.status_code == 404
    # (the break-glass form each offers carries a one-time key of its own)
    assert one_time_key(ui.text.replace(hidden, missing)) == one_time_key(unknown.text)
    assert "forum-member-48213" not in ui.text
    # And the log of reads grew alike (by nothing a volunteer could tell apart)
    assert after_ui[len(before) :] == after_api[len(after_ui) :]
    # An id that is no UUID is not found either
    assert vic.get("/ui/cases/not-a-case").status_code == 404


def test_as_of_shows_the_case_as_recorded_or_as_happened_then(api: Api, clock: Clock) -> None:
    # Given a case opened at 09:30 at medium risk, and at 10:00 an assessment that it was
    # high risk from 09:40 (logged twenty minutes late)
    lead = api.user("priya", "safeguarding_lead")
    case_id = open_case(lead, **BULLYING)["id"]
    clock.advance(minutes=30)
    assessed = lead.post(
        f"/api/v1/cases/{case_id}/risk-assessments",
        json={
            "level": "high",
            "rationale": "Threats of violence joined the pile-on in the thread.",
            "occurred_at": "2026-11-17T09:40:00+00:00",
        },
    )
    assert assessed.status_code == 201, assessed.text
    lee, token = person(api, "lee", "safeguarding_lead")
    lee_api = api.client(token)

    def risk_on_page(**params: str) -> str:
        page = lee.get(f"/ui/cases/{case_id}", params=params)
        assert page.status_code == 200, page.text
        found = re.search(r"<dt>Risk</dt><dd>([^<]+)</dd>", page.text)
        assert found is not None
        return found.group(1)

    def risk_by_api(**params: str) -> str:
        answer = lee_api.get(f"/api/v1/cases/{case_id}", params=params)
        assert answer.status_code == 200, answer.text
        risk: str = answer.json()["case"]["risk_level"]
        return risk

    # Now: high, and the assessment is marked as logged late
    assert risk_on_page() == "high"
    now = lee.get(f"/ui/cases/{case_id}").text
    assert now.count("Logged late") == 1
    # As of 09:50 by what had been recorded: medium (the assessment was not yet written)
    local = {"as_of": "2026-11-17T09:50", "basis": "recorded"}
    assert risk_on_page(**local) == "medium"
    assert risk_by_api(as_of="2026-11-17T09:50:00+00:00", basis="recorded") == "medium"
    assert "Logged late" not in lee.get(f"/ui/cases/{case_id}", params=local).text
    # By what had happened: high already (it happened at 09:40)
    assert risk_on_page(as_of="2026-11-17T09:50", basis="occurred") == "high"
    assert risk_by_api(as_of="2026-11-17T09:50:00+00:00", basis="occurred") == "high"
    # Before 09:40 on either basis: medium
    assert risk_on_page(as_of="2026-11-17T09:35", basis="occurred") == "medium"
    # A moment that is not one is refused, reading nothing
    assert lee.get(f"/ui/cases/{case_id}", params={"as_of": "yesterday"}).status_code == 422
    assert lee.get(f"/ui/cases/{case_id}", params={"basis": "felt"}).status_code == 422


def test_a_trustee_has_no_case_pages(api: Api) -> None:
    lead = api.user("priya", "safeguarding_lead")
    case_id = open_case(lead, **BULLYING)["id"]
    trudy, _ = person(api, "trudy", "trustee")
    vic, _ = person(api, "vic", "volunteer")

    assert 'href="/ui/cases"' not in trudy.get("/ui/").text
    assert 'href="/ui/cases"' in vic.get("/ui/").text
    assert trudy.get("/ui/cases").status_code == 403
    refused = trudy.get(f"/ui/cases/{case_id}")
    assert refused.status_code == 403
    assert "forum-member-555" not in refused.text
    assert trudy.get("/ui/cases/jump", params={"to": "forum-member-555"}).status_code == 403


def test_a_correction_is_shown_against_what_it_corrects_and_erased_fields_read_erased(
    api: Api,
) -> None:
    # Given a fact noted on a case, then corrected
    lead = api.user("priya", "safeguarding_lead")
    case_id = open_case(lead, **BULLYING)["id"]
    fact = lead.post(
        f"/api/v1/cases/{case_id}/notes",
        json={"kind": "fact", "text": "The member's message was at 23:14."},
    )
    assert fact.status_code == 201, fact.text
    fact_id = fact.json()["events"][0]["event_id"]
    correction = lead.post(
        f"/api/v1/cases/{case_id}/corrections",
        json={
            "corrects_event_id": fact_id,
            "correction": "The member's message was at 23:40, not 23:14.",
            "reason": "Copied the wrong time from the chat log when logging this morning.",
        },
    )
    assert correction.status_code == 201, correction.text
    correction_id = correction.json()["events"][0]["event_id"]
    lee, _ = person(api, "lee", "safeguarding_lead")

    # The fact links to its correction, and the correction to the fact
    page = lee.get(f"/ui/cases/{case_id}").text
    fact_row = page[page.index(f'id="event-{fact_id}"') : page.index(f'id="event-{correction_id}"')]
    assert "<strong>Corrected</strong>" in fact_row
    assert f'href="#event-{correction_id}"' in fact_row
    correction_row = page[page.index(f'id="event-{correction_id}"') :]
    assert f'Corrects <a href="#event-{fact_id}">' in correction_row
    assert "23:40, not 23:14" in correction_row
    assert "Pile-on in a thread" in page  # the summary, in the CaseOpened event

    # When the subject's personal data is erased, the page reads "[erased]" where the API does
    erased = lead.post(
        "/api/v1/subjects/forum-member-555/erasure",
        json={
            "kind": "member",
            "lawful_basis": "UK GDPR Art 17(1)(a)",
            "reason": "The member asked for their data to be erased; nothing remains open.",
        },
    )
    assert erased.status_code == 201, erased.text
    page = lee.get(f"/ui/cases/{case_id}").text
    assert "23:14" not in page
    assert "23:40" not in page
    assert "Pile-on" not in page
    assert "[erased]" in page


def test_the_next_page_link_pages_as_the_api_does(api: Api, clock: Clock) -> None:
    lead = api.user("priya", "safeguarding_lead")
    for number in range(DEFAULT_LIMIT + 2):
        open_case(lead, **{**SPAM, "subject": {"kind": "member", "ref": f"m-{number}"}})
        clock.advance(seconds=1)
    lee, token = person(api, "lee", "safeguarding_lead")
    lee_api = api.client(token)
    first = lee_api.get("/api/v1/cases", params={"category": "other"}).json()

    page = lee.get("/ui/cases", params={"category": "other"})
    assert listed(page) == [item["id"] for item in first["items"]]
    found = NEXT_LINK.search(page.text)
    assert found is not None
    following = lee.get(html.unescape(found.group(1)))
    second = lee_api.get(
        "/api/v1/cases", params={"category": "other", "cursor": first["next_cursor"]}
    )
    assert listed(following) == [item["id"] for item in second.json()["items"]]
    assert len(listed(following)) == 2
    assert NEXT_LINK.search(following.text) is None


# --- a long timeline, a page at a time -----------------------------------------------------------

EARLIER = re.compile(r'<a href="([^"]+)" rel="prev">Show earlier events</a>')
LATER = re.compile(r'<a href="([^"]+)" rel="next">Show later events</a>')
LATEST = re.compile(r'<a href="([^"]+)">Latest events</a>')
SHOWING = re.compile(r"<p>(Showing [^<]+)</p>")
NOTE_SHOWN = re.compile(r"<dd>Note (\d{3}) on the thread\.</dd>")


def notes(lead: httpx.Client, case_id: str, count: int, clock: Clock) -> list[str]:
    """``count`` notes a minute apart (Note 001 ...), their event ids."""
    ids = []
    for number in range(1, count + 1):
        clock.advance(minutes=1)
        noted = lead.post(
            f"/api/v1/cases/{case_id}/notes",
            json={"kind": "fact", "text": f"Note {number:03d} on the thread."},
        )
        assert noted.status_code == 201, noted.text
        ids.append(noted.json()["events"][0]["event_id"])
    return ids


def link(found: re.Match[str] | None) -> str:
    assert found is not None
    return html.unescape(found.group(1))


def shown_notes(page: httpx.Response) -> list[int]:
    assert page.status_code == 200, page.text
    return [int(n) for n in NOTE_SHOWN.findall(page.text)]


def showing(page: httpx.Response) -> str:
    found = SHOWING.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def test_a_long_timeline_shows_its_latest_events_and_pages_back(api: Api, clock: Clock) -> None:
    # Given a case opened, then 120 notes on it: 121 events
    lead = api.user("priya", "safeguarding_lead")
    case_id = open_case(lead, **BULLYING)["id"]
    notes(lead, case_id, 120, clock)
    auditor = api.user("aud", "auditor")
    lee, _ = person(api, "lee", "safeguarding_lead")

    # When Lee opens the case page, it shows the latest 100 events, in order, and says so
    before = access_entries(auditor, case_id)
    latest = lee.get(f"/ui/cases/{case_id}")
    assert shown_notes(latest) == list(range(21, 121))
    assert showing(latest) == "Showing events 22\u2013121 of 121."
    assert "Pile-on in a thread" not in latest.text  # the opening event is on the first page
    assert LATER.search(latest.text) is None
    # (one read of the case and one of its timeline, as before: the page is cut after the read)
    read = access_entries(auditor, case_id)[len(before) :]
    assert [e["what"] for e in read] == ["case", "timeline"]

    # And "Show earlier events" shows the rest, the case's opening first
    earlier = lee.get(link(EARLIER.search(latest.text)))
    assert shown_notes(earlier) == list(range(1, 21))
    assert showing(earlier) == "Showing events 1\u201321 of 121."
    assert "Pile-on in a thread" in earlier.text
    assert EARLIER.search(earlier.text) is None
    # From which "Show later events" is the latest page again (no separate "Latest events")
    assert LATEST.search(earlier.text) is None
    back = lee.get(link(LATER.search(earlier.text)))
    assert shown_notes(back) == list(range(21, 121))
    assert [e["what"] for e in access_entries(auditor, case_id)[len(before) :]] == [
        "case",
        "timeline",
    ] * 3

    # A page further back offers both the next page and the latest
    first_of_many = lee.get(f"/ui/cases/{case_id}", params={"upto": "10"})
    assert showing(first_of_many) == "Showing events 1\u201310 of 121."
    following = link(LATER.search(first_of_many.text))
    assert shown_notes(lee.get(following)) == list(range(10, 110))
    assert shown_notes(lee.get(link(LATEST.search(first_of_many.text)))) == list(range(21, 121))
    # An event number past the end is the latest page; one that is no number is refused,
    # reading nothing
    assert shown_notes(lee.get(f"/ui/cases/{case_id}", params={"upto": "999"}))[-1] == 120
    read_before = access_entries(auditor, case_id)
    for wrong in ("0", "-5", "ten"):
        assert lee.get(f"/ui/cases/{case_id}", params={"upto": wrong}).status_code == 422
    assert access_entries(auditor, case_id) == read_before


def test_paging_keeps_the_as_of_view_and_the_queue(api: Api, clock: Clock) -> None:
    # Given a case opened at 09:30 and a note a minute from 09:31 to 11:30 (Note 001 ... 120)
    lead = api.user("priya", "safeguarding_lead")
    case_id = open_case(lead, **BULLYING)["id"]
    notes(lead, case_id, 120, clock)
    lee, _ = person(api, "lee", "safeguarding_lead")
    view = {
        "as_of": "2026-11-17T11:20",
        "basis": "occurred",
        "from_queue": "flags_awaiting_action",
    }

    # As of 11:20 the case had 111 events: the page shows the latest 100 of them
    then = lee.get(f"/ui/cases/{case_id}", params=view)
    assert shown_notes(then) == list(range(11, 111))
    assert showing(then) == "Showing events 12\u2013111 of 111."
    # And the earlier page is the same as-of view, from the same queue
    earlier_url = link(EARLIER.search(then.text))
    for name, value in view.items():
        assert f"{name}={value}".replace(":", "%3A") in earlier_url
    earlier = lee.get(earlier_url)
    assert shown_notes(earlier) == list(range(1, 11))
    assert "As of <time" in earlier.text
    assert "Back to the queue" in earlier.text
    # And back: still as of 11:20
    later = lee.get(link(LATER.search(earlier.text)))
    assert shown_notes(later) == list(range(11, 111))
    assert "As of <time" in later.text


def test_a_correction_links_to_what_it_corrects_on_another_page(api: Api, clock: Clock) -> None:
    # Given a fact noted on a case (Note 001), 110 more notes, then the fact corrected
    lead = api.user("priya", "safeguarding_lead")
    case_id = open_case(lead, **BULLYING)["id"]
    fact_id, *_ = notes(lead, case_id, 111, clock)
    correction = lead.post(
        f"/api/v1/cases/{case_id}/corrections",
        json={
            "corrects_event_id": fact_id,
            "correction": "Note 001 was about the other thread.",
            "reason": "Mixed up the two threads when noting this.",
        },
    )
    assert correction.status_code == 201, correction.text
    correction_id = correction.json()["events"][0]["event_id"]
    lee, _ = person(api, "lee", "safeguarding_lead")

    # The correction, on the latest page, links to the page holding the fact, at the fact
    latest = lee.get(f"/ui/cases/{case_id}")
    assert f'id="event-{fact_id}"' not in latest.text
    corrects = re.search(r'Corrects <a href="([^"]+)">an earlier event</a>', latest.text)
    to_fact = link(corrects)
    assert to_fact.endswith(f"#event-{fact_id}")
    fact_page = lee.get(to_fact)
    assert f'id="event-{fact_id}"' in fact_page.text
    assert showing(fact_page) == "Showing events 1\u201313 of 113."
    # And the fact links back to its correction on the latest page
    fact_row = fact_page.text[fact_page.text.index(f'id="event-{fact_id}"') :]
    corrected = re.search(r'<strong>Corrected</strong> by <a href="([^"]+)">', fact_row)
    to_correction = link(corrected)
    assert to_correction == f"/ui/cases/{case_id}#event-{correction_id}"
    assert f'id="event-{correction_id}"' in lee.get(to_correction).text
