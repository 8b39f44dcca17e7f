"""The case pages in a real browser on a phone-sized screen: a safeguarding lead opens the case
list, jumps to a case by its subject, reads its timeline with last night's decision marked as
logged late, and looks at the case as it stood last night; every page passes axe-core's serious
and critical rules, none scrolls sideways at 390 px, nothing leaves the origin."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from domain.shared import Role
from tests.browser.support import (
    PHONE_HEIGHT,
    PHONE_WIDTH,
    assert_accessible,
    assert_no_sideways_scroll,
    assert_same_origin,
)
from tests.conftest import Clock
from tests.e2e.support import OUT_OF_HOURS_POLICY, Api, open_case

LAST_NIGHT = "2026-11-16T23:10:00+00:00"


def test_a_lead_reads_a_case_and_its_night_on_a_phone(
    page: Page, api: Api, clock: Clock, requests_made: list[str], console_errors: list[str]
) -> None:
    # Given a case opened this morning about a post flagged at 23:00, and the on-call lead's
    # 23:10 decision logged at 09:35 (a long subject ref, as forum refs can be)
    lead_api = api.user("dana", "safeguarding_lead")
    case = open_case(
        lead_api,
        subject={"kind": "member", "ref": "forum-member-48213-thread-88120-post-7-reply-3"},
        risk_level="high",
        occurred_at="2026-11-16T23:00:00+00:00",
    )
    clock.advance(minutes=5)
    decision = lead_api.post(
        f"/api/v1/cases/{case['id']}/out-of-hours-decisions",
        json={
            "decision": "Messaged the member privately with crisis line details.",
            "immediate_actions": ["Hid the post"],
            "rationale": "Member replied within ten minutes saying they were safe and with "
            "their partner; risk judged reduced enough to wait for the morning team.",
            "policy_ref": OUT_OF_HOURS_POLICY,
            "occurred_at": LAST_NIGHT,
        },
    )
    assert decision.status_code == 201, decision.text
    clock.advance(minutes=5)
    api.vigil.identity.register("lee", Role.SAFEGUARDING_LEAD, actor="e2e-setup")
    token = api.vigil.identity.issue_token("lee", actor="e2e-setup")
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})

    # Lee signs in and opens the case list from the nav
    page.goto("/ui/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{api.base_url}/ui/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    expect(page.get_by_role("heading", level=1, name="Cases")).to_be_visible()
    expect(page.get_by_role("link", name="Self harm risk · forum-member-48213")).to_be_visible()
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    # He jumps to it by its subject ref
    page.get_by_label("Go to a case (case id or subject ref)").fill(
        "forum-member-48213-thread-88120-post-7-reply-3"
    )
    page.get_by_role("button", name="Go").click()
    expect(page).to_have_url(f"{api.base_url}/ui/cases/{case['id']}")
    expect(page.get_by_role("heading", level=2, name="Timeline")).to_be_visible()
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    # The timeline shows both clocks, and the night's decision (and the case opened from last
    # night's flag) marked as logged late
    decision_row = page.locator(".timeline li").filter(has_text="Out of hours decision recorded")
    expect(decision_row.get_by_text("Logged late")).to_be_visible()
    expect(decision_row.get_by_text("Mon 16 Nov 2026, 23:10 (UTC+00:00)")).to_be_visible()
    expect(decision_row.get_by_text("Tue 17 Nov 2026, 09:35 (UTC+00:00)")).to_be_visible()
    expect(page.get_by_text("Out-of-hours decision by dana")).to_be_visible()

    # He looks at the case as it had happened by 23:05 last night: open, no decision yet
    page.get_by_label("Moment (service time)").fill("2026-11-16T23:05")
    page.get_by_label("Basis", exact=True).select_option("occurred")
    page.get_by_role("button", name="Show as of then").click()
    expect(page.get_by_text("by what had happened by then")).to_be_visible()
    expect(page.locator(".timeline li")).to_have_count(1)
    expect(page.get_by_text("Nothing open.")).to_be_visible()
    assert_accessible(page)
    assert_no_sideways_scroll(page)
    assert "as_of=2026-11-16T23%3A05" in page.url

    # Nothing left the server's origin, nothing was blocked by the page's policy
    assert_same_origin(requests_made, api.base_url)
    assert console_errors == []


def test_a_long_timeline_is_read_a_page_at_a_time_on_a_phone(
    page: Page, api: Api, clock: Clock, requests_made: list[str], console_errors: list[str]
) -> None:
    # Given a case opened, then 104 notes on it (105 events), the first of them corrected
    lead_api = api.user("dana", "safeguarding_lead")
    case_id = open_case(lead_api)["id"]
    first = ""
    for number in range(1, 105):
        clock.advance(minutes=1)
        noted = lead_api.post(
            f"/api/v1/cases/{case_id}/notes",
            json={"kind": "fact", "text": f"Note {number:03d} on the thread."},
        )
        assert noted.status_code == 201, noted.text
        first = first or noted.json()["events"][0]["event_id"]
    corrected = lead_api.post(
        f"/api/v1/cases/{case_id}/corrections",
        json={
            "corrects_event_id": first,
            "correction": "Note 001 was the other thread.",
            "reason": "Mixed up the two threads.",
        },
    )
    assert corrected.status_code == 201, corrected.text
    api.vigil.identity.register("lee", Role.SAFEGUARDING_LEAD, actor="e2e-setup")
    token = api.vigil.identity.issue_token("lee", actor="e2e-setup")
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
    page.goto("/ui/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()

    # The case page shows the latest 100 events and says so
    page.goto(f"/ui/cases/{case_id}")
    expect(page.get_by_text("Showing events 7\u2013106 of 106.")).to_be_visible()
    expect(page.locator(".timeline li")).to_have_count(100)
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    # The correction's link goes to the earlier page, to the note it corrects
    page.get_by_role("link", name="an earlier event").click()
    expect(page.get_by_text("Showing events 1\u20136 of 106.")).to_be_visible()
    expect(page.locator(f"#event-{first}")).to_be_in_viewport()
    assert_accessible(page)
    assert_no_sideways_scroll(page)
    # And "Show later events" is the latest page again
    page.get_by_role("link", name="Show later events").click()
    expect(page.get_by_text("Showing events 7\u2013106 of 106.")).to_be_visible()
    page.get_by_role("link", name="Show earlier events").click()
    expect(page.locator(".timeline li")).to_have_count(6)

    assert_same_origin(requests_made, api.base_url)
    assert console_errors == []
