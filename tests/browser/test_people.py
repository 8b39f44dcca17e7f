"""Each person's main path through the web UI, end to end in a real browser, one night and the
morning after (issue 17's "Done when"):

- the night coordinator, on a phone: checks in, opens a case from a flag, hides the post,
  records her 23:10 out-of-hours decision twenty minutes later (back-dated), hands over to the
  lead naming the case, and checks out;
- the lead next morning: works the overnight queue (reviews the decision, "Save and next"),
  approves a four-eyes ban from the approval inbox and acknowledges the handover;
- the auditor: reads the case as it stood at 23:20 on both clocks (the decision, logged at
  23:30, is missing from what had been recorded by then but present in what had happened),
  downloads the export and reads the verification status.

The helpline coordinator's day is tests/browser/test_ui_contacts.py; the trustee's quarter is
tests/browser/test_ui_reports.py. Every page passes axe-core's serious and critical rules and
none scrolls sideways at 390 px; every result is checked through the API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from domain.shared import Role
from infrastructure.settings import Settings
from tests.browser.support import (
    PHONE_HEIGHT,
    PHONE_WIDTH,
    assert_accessible,
    assert_no_sideways_scroll,
    assert_same_origin,
)
from tests.conftest import TUESDAY_MORNING, Clock
from tests.e2e.support import BAN, Api
from tests.e2e.ui_support import plan_shift

POST = "https://forum.example/t/living-with-type-1/88120/7"
SUBJECT = "forum-member-48213"
HANDOVER = "Insulin thread member: spoke at 23:10, safe with partner. Please check in at 10:00."
TUESDAY_NIGHT = TUESDAY_MORNING.replace(hour=22, minute=0)  # Tue 17 Nov 2026, 22:00 UTC
LAPTOP = {"width": 1280, "height": 900}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Checkpoints signed every few events, so the auditor has some to read."""
    return Settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        data_dir=tmp_path / "data",
        checkpoint_every_events=5,
        restricted_categories="",
    )


def token_for(api: Api, username: str, role: Role) -> str:
    api.vigil.identity.register(username, role, actor="e2e-setup")
    return api.vigil.identity.issue_token(username, actor="e2e-setup")


def sign_in(page: Page, api: Api, token: str) -> None:
    page.goto("/ui/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{api.base_url}/ui/")


def checked(page: Page) -> None:
    assert_accessible(page)
    assert_no_sideways_scroll(page)


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def action(page: Page, name: str, summary: str) -> Locator:
    """Open one action's form on the case page (a collapsed <details>)."""
    form = page.locator(f"#action-{name}")
    form.get_by_text(summary, exact=True).click()
    return form


def person(browser: Browser, api: Api, size: dict[str, int]) -> tuple[BrowserContext, Page]:
    """A browser of a person's own: no cookie shared with anyone else's."""
    context = browser.new_context(base_url=api.base_url, locale="en-GB")
    page = context.new_page()
    page.set_viewport_size(size)
    return context, page


def events_of(api_client: Any, case_id: str) -> list[dict[str, Any]]:
    answer = api_client.get(f"/api/v1/cases/{case_id}/timeline")
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def test_a_night_and_the_morning_after_each_persons_path(
    page: Page,
    browser: Browser,
    api: Api,
    clock: Clock,
    requests_made: list[str],
    console_errors: list[str],
) -> None:
    # Given Nina on call from 22:00 to 08:00 tonight, Lee and Dana the safeguarding leads, Ava
    # the auditor
    cat = api.user("cat", "coordinator")
    nina = token_for(api, "nina", Role.COORDINATOR)
    lee = token_for(api, "lee", Role.SAFEGUARDING_LEAD)
    dana = token_for(api, "dana", Role.SAFEGUARDING_LEAD)
    ava = token_for(api, "ava", Role.AUDITOR)
    shift_id = plan_shift(cat, "nina", TUESDAY_NIGHT, hours=10)
    lee_api, dana_api = api.client(lee), api.client(dana)

    # --- The night coordinator, on her phone ------------------------------------------------
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
    clock.advance(hours=12, minutes=25)  # 21:55
    sign_in(page, api, nina)
    expect(page.get_by_role("heading", level=2, name="My shift")).to_be_visible()
    checked(page)
    page.get_by_role("button", name="Check in").click()
    expect(page.get_by_text("You are checked in.")).to_be_visible()
    checked(page)

    # 23:02: a member's post was flagged at 23:00; she opens a case from the flag
    clock.advance(hours=1, minutes=7)
    sign_in(page, api, nina)  # her session idled out while she was on the forum
    nav(page, "Cases")
    page.get_by_role("link", name="Open a case").click()
    page.get_by_label("Subject kind").select_option("member")
    page.get_by_label("Subject ref").fill(SUBJECT)
    page.get_by_label("Source").select_option("flag")
    page.get_by_label("Category").select_option("self_harm_risk")
    page.get_by_label("Initial risk (optional)").select_option("high")
    page.get_by_label("Summary").fill("Post says they have stopped taking insulin.")
    page.get_by_label("Content (ref or link) (optional)").fill(POST)
    page.get_by_label("When it happened").fill("2026-11-17T23:00")
    checked(page)
    page.get_by_role("button", name="Open the case").click()
    expect(page.get_by_text("Saved: case opened.")).to_be_visible()
    case_id = page.url.split("/ui/cases/")[1].split("?")[0]
    checked(page)

    # 23:05: she hides the post
    clock.advance(minutes=3)
    hide = action(page, "moderate", "Take a moderation action")
    hide.get_by_label("Moderation action").select_option("hide_content")
    hide.get_by_label("Target (member or content ref)").fill(POST)
    hide.get_by_label("Rationale").fill("The post names a plan; hiding it stops others piling on.")
    hide.get_by_label("Policy", exact=True).fill("community-guidelines")
    hide.get_by_label("Policy version").fill("2024-03")
    hide.get_by_label("Clause").fill("4.2")
    hide.get_by_label("When it happened").fill("2026-11-17T23:05")
    hide.get_by_role("button", name="Record the moderation action").click()
    expect(page.get_by_text("Saved: moderation action recorded.")).to_be_visible()
    checked(page)

    # 23:30: after the call, she records the decision she took at 23:10
    clock.advance(minutes=25)
    ooh = action(page, "ooh_decision", "Record an out-of-hours decision")
    ooh.get_by_label("Decision", exact=True).fill("Messaged the member with the crisis line.")
    ooh.get_by_label("Immediate actions (one per line) (optional)").fill("Hid the post")
    ooh.get_by_label("Rationale").fill(
        "Member replied within ten minutes saying they were safe and with their partner."
    )
    ooh.get_by_label("Policy", exact=True).fill("out-of-hours-safeguarding")
    ooh.get_by_label("Policy version").fill("2025-01")
    ooh.get_by_label("Clause").fill("3.1")
    ooh.get_by_label("When it happened").fill("2026-11-17T23:10")
    ooh.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_text("Saved: out-of-hours decision recorded.")).to_be_visible()
    row = page.locator(".timeline li").filter(has_text="Out of hours decision recorded")
    expect(row.get_by_text("Tue 17 Nov 2026, 23:10 (UTC+00:00)")).to_be_visible()
    expect(row.get_by_text("Tue 17 Nov 2026, 23:30 (UTC+00:00)")).to_be_visible()
    expect(row.get_by_text("Logged late")).to_be_visible()
    checked(page)

    # Meanwhile Dana, the lead on call, asks for a ban of the member who sent threats in the
    # thread: it waits for a second lead
    clock.advance(minutes=5)
    ban = dana_api.post(f"/api/v1/cases/{case_id}/moderation-actions", json=BAN)
    assert ban.status_code == 201, ban.text

    # 07:50: she hands over to Lee, naming the case, and ends her shift in one click
    clock.advance(hours=8, minutes=15)
    sign_in(page, api, nina)
    page.get_by_label("Handover note").fill(HANDOVER)
    page.get_by_label("Case ids handed over (optional)").fill(case_id)
    page.get_by_label("To (username, optional: empty for whoever comes next)").fill("lee")
    checked(page)
    page.get_by_role("button", name="Hand over and end shift").click()
    expect(page.get_by_text("Your handover is recorded and you are checked out.")).to_be_visible()
    checked(page)

    # Through the API: her night, on the shift's log
    log = cat.get(f"/api/v1/shifts/{shift_id}/log")
    assert log.status_code == 200, log.text
    actions = [(a["type"], a["case_id"]) for a in log.json()["actions"]]
    assert ("CaseOpened", case_id) in actions
    assert ("ModerationActionTaken", case_id) in actions
    assert ("OutOfHoursDecisionRecorded", case_id) in actions
    shift = cat.get(f"/api/v1/shifts/{shift_id}").json()
    [handover] = shift["handovers_given"]
    assert (handover["given_by"], handover["given_to"], handover["case_ids"]) == (
        "nina",
        "lee",
        [case_id],
    )
    assert shift["attendance"][0]["checked_out_at"] is not None

    # --- The lead, next morning, at her desk ------------------------------------------------
    clock.advance(minutes=40)  # 08:30
    lead_context, lead = person(browser, api, LAPTOP)
    try:
        sign_in(lead, api, lee)
        # The overnight queue, from the now page
        lead.get_by_role("link", name="Out-of-hours decisions to review").click()
        expect(
            lead.get_by_role("heading", level=1, name="Out-of-hours decisions to review")
        ).to_be_visible()
        checked(lead)
        lead.get_by_role("link", name="Start").click()
        expect(lead).to_have_url(
            f"{api.base_url}/ui/cases/{case_id}?from_queue=out_of_hours_reviews"
        )
        review = action(lead, "ooh_review", "Review an out-of-hours decision")
        review.get_by_label("Outcome").select_option("ratified")
        review.get_by_label("Rationale").fill(
            "Proportionate: the member was safe with their partner and the post was hidden."
        )
        checked(lead)
        review.get_by_role("button", name="Save and next").click()
        expect(lead.get_by_text("Queue clear: nothing is left in it.")).to_be_visible()
        checked(lead)

        # The ban waiting for a second lead, from the approval inbox
        nav(lead, "Approvals")
        card = lead.locator(".approvals li").filter(has_text="Ban member")
        card.get_by_text("Decide: Ban member", exact=True).click()
        card.get_by_label("Approval decision").select_option("approved")
        card.get_by_label("Rationale").fill("Threats after two warnings: a ban is proportionate.")
        checked(lead)
        card.get_by_role("button", name="Record the approval decision").click()
        expect(lead.get_by_text("Saved: approval decided.")).to_be_visible()
        checked(lead)

        # And the night's handover, acknowledged from the now page
        nav(lead, "Now")
        waiting = lead.get_by_role("region", name="Handovers for you")
        expect(waiting.get_by_text("From nina to you")).to_be_visible()
        checked(lead)
        waiting.get_by_role("button", name="Acknowledge").click()
        expect(lead.get_by_text("Handover acknowledged.")).to_be_visible()
        checked(lead)
    finally:
        lead_context.close()

    # Through the API: the decision ratified by Lee, the ban approved by her and taken, the
    # handover acknowledged
    kinds = [(e["type"], e["actor"]) for e in events_of(lee_api, case_id)]
    assert ("OutOfHoursDecisionReviewed", "lee") in kinds
    assert ("ApprovalDecided", "lee") in kinds
    assert kinds[-1] == ("ModerationActionTaken", "lee")
    case = lee_api.get(f"/api/v1/cases/{case_id}").json()["case"]
    assert case["pending_reviews"] == []
    assert case["pending_approvals"] == []
    [acknowledged] = cat.get(f"/api/v1/shifts/{shift_id}").json()["handovers_given"]
    assert acknowledged["acknowledged_by"] == "lee"

    # --- The auditor ------------------------------------------------------------------------
    clock.advance(hours=1, minutes=30)  # 10:00
    api.vigil.integrity.notary.catch_up()
    audit_context, auditor = person(browser, api, LAPTOP)
    try:
        sign_in(auditor, api, ava)
        auditor.get_by_label("Jump to case").fill(SUBJECT)
        auditor.get_by_role("button", name="Jump").click()
        expect(auditor).to_have_url(f"{api.base_url}/ui/cases/{case_id}")

        # The case as it stood at 23:20 by what had been recorded: the post hidden, the
        # decision (logged at 23:30) not yet there
        auditor.get_by_label("Moment (service time)").fill("2026-11-17T23:20")
        auditor.get_by_label("Basis", exact=True).select_option("recorded")
        auditor.get_by_role("button", name="Show as of then").click()
        expect(auditor.get_by_text("by what had been recorded by then")).to_be_visible()
        timeline = auditor.locator(".timeline li")
        expect(timeline.filter(has_text="Moderation action taken")).to_have_count(1)
        expect(timeline.filter(has_text="Out of hours decision recorded")).to_have_count(0)
        checked(auditor)

        # By what had happened by then: the 23:10 decision is there, marked logged late
        auditor.get_by_label("Basis", exact=True).select_option("occurred")
        auditor.get_by_role("button", name="Show as of then").click()
        expect(auditor.get_by_text("by what had happened by then")).to_be_visible()
        decision = timeline.filter(has_text="Out of hours decision recorded")
        expect(decision).to_have_count(1)
        expect(decision.get_by_text("Logged late")).to_be_visible()
        expect(timeline.filter(has_text="Approval decided")).to_have_count(0)
        checked(auditor)

        # The export: the API's bytes
        auditor.goto(f"/ui/cases/{case_id}")
        with auditor.expect_download() as download:
            auditor.get_by_role("link", name="Download the case export (JSON)").click()
        saved = Path(download.value.path()).read_bytes()
        assert json.loads(saved)["case_id"] == case_id
        through_api = api.client(ava).get(
            f"/api/v1/cases/{case_id}/export", params={"purpose": "audit"}
        )
        assert saved == through_api.content

        # The verification status
        nav(auditor, "Audit")
        verification = auditor.get_by_role("region", name="Verification")
        expect(verification.get_by_text("The hash ledger is intact")).to_be_visible()
        checked(auditor)
    finally:
        audit_context.close()

    # Through the API: the auditor's reads and her export are on the access log, as audit
    reads = api.client(ava).get(
        "/api/v1/audit/access", params={"case_id": case_id, "user": "ava", "limit": 200}
    )
    assert reads.status_code == 200, reads.text
    logged = {(entry["what"], entry["purpose"]) for entry in reads.json()["items"]}
    assert ("export", "audit") in logged  # an auditor's reads are logged as audit
    assert {purpose for _, purpose in logged} == {"audit"}
    assert_same_origin(requests_made, api.base_url)
    assert console_errors == []
