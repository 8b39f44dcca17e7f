"""Working a case in a real browser on a phone-sized screen (390 px): the night coordinator opens
a case from a flag, hides the post and records last night's out-of-hours decision the next
morning, back-dated to 23:10 (shown at 23:10, recorded later, "Logged late"); a lead reviews it;
a lead asks for a ban and a second lead approves it from the approval inbox; an auditor
downloads the case export. Every page passes axe-core's serious and critical rules and none
scrolls sideways; the results are checked through the API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from domain.shared import Role
from tests.browser.support import (
    PHONE_HEIGHT,
    PHONE_WIDTH,
    assert_accessible,
    assert_no_sideways_scroll,
    assert_same_origin,
)
from tests.e2e.support import Api

POST = "https://forum.example/t/living-with-type-1/88120/7"
RATIONALE = "The post names a plan and a date; hiding it stops others piling on tonight."


def token_for(api: Api, username: str, role: Role) -> str:
    api.vigil.identity.register(username, role, actor="e2e-setup")
    return api.vigil.identity.issue_token(username, actor="e2e-setup")


def sign_in(page: Page, api: Api, token: str) -> None:
    page.goto("/ui/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{api.base_url}/ui/")


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()


def checked(page: Page) -> None:
    assert_accessible(page)
    assert_no_sideways_scroll(page)


def action(page: Page, name: str, summary: str) -> Locator:
    """Open one action's form on the case page (a collapsed <details>)."""
    form = page.locator(f"#action-{name}")
    form.get_by_text(summary, exact=True).click()
    return form


def timeline(client: httpx.Client, case_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/cases/{case_id}/timeline")
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def test_a_night_is_worked_from_the_case_page_on_a_phone(
    page: Page, api: Api, requests_made: list[str], console_errors: list[str]
) -> None:
    nina = token_for(api, "nina", Role.COORDINATOR)
    lee = token_for(api, "lee", Role.SAFEGUARDING_LEAD)
    dana = token_for(api, "dana", Role.SAFEGUARDING_LEAD)
    audrey = token_for(api, "audrey", Role.AUDITOR)
    lead_api = api.client(lee)
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})

    # The night coordinator: a case id she cannot open offers break-glass (as any id would)
    sign_in(page, api, nina)
    page.goto(f"/ui/cases/{uuid.uuid4()}")
    expect(page.get_by_role("heading", level=1, name="Not found")).to_be_visible()
    expect(page.get_by_label("Reason for breaking the glass")).to_be_visible()
    expect(page.get_by_role("button", name="Break the glass and open the case")).to_be_visible()
    checked(page)

    # She opens a case from last night's flag, from the case list
    page.goto("/ui/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    page.get_by_role("link", name="Open a case").click()
    expect(page.get_by_role("heading", level=1, name="Open a case")).to_be_visible()
    checked(page)
    page.get_by_label("Subject kind").select_option("member")
    page.get_by_label("Subject ref").fill("forum-member-48213")
    page.get_by_label("Source").select_option("flag")
    page.get_by_label("Category").select_option("self_harm_risk")
    page.get_by_label("Initial risk (optional)").select_option("high")
    page.get_by_label("Summary").fill("Post says they have stopped taking insulin.")
    page.get_by_label("Content (ref or link) (optional)").fill(POST)
    page.get_by_label("When it happened").fill("2026-11-16T23:00")
    page.get_by_role("button", name="Open the case").click()
    expect(page.get_by_text("Saved: case opened.")).to_be_visible()
    case_id = page.url.split("/ui/cases/")[1].split("?")[0]
    checked(page)

    # She hides the post, back-dated to 23:05
    hide = action(page, "moderate", "Take a moderation action")
    hide.get_by_label("Moderation action").select_option("hide_content")
    hide.get_by_label("Target (member or content ref)").fill(POST)
    hide.get_by_label("Rationale").fill(RATIONALE)
    hide.get_by_label("Policy", exact=True).fill("community-guidelines")
    hide.get_by_label("Policy version").fill("2024-03")
    hide.get_by_label("Clause").fill("4.2")
    hide.get_by_label("When it happened").fill("2026-11-16T23:05")
    checked(page)
    hide.get_by_role("button", name="Record the moderation action").click()
    expect(page.get_by_text("Saved: moderation action recorded.")).to_be_visible()

    # And records the decision she took at 23:10, now, the next morning
    ooh = action(page, "ooh_decision", "Record an out-of-hours decision")
    ooh.get_by_label("Decision", exact=True).fill("Messaged the member with the crisis line.")
    ooh.get_by_label("Immediate actions (one per line) (optional)").fill("Hid the post")
    ooh.get_by_label("Rationale").fill(
        "Member replied within ten minutes saying they were safe and with their partner."
    )
    ooh.get_by_label("Policy", exact=True).fill("out-of-hours-safeguarding")
    ooh.get_by_label("Policy version").fill("2025-01")
    ooh.get_by_label("Clause").fill("3.1")
    ooh.get_by_label("When it happened").fill("2026-11-16T23:10")
    ooh.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_text("Saved: out-of-hours decision recorded.")).to_be_visible()
    row = page.locator(".timeline li").filter(has_text="Out of hours decision recorded")
    expect(row.get_by_text("Logged late")).to_be_visible()
    expect(row.get_by_text("Mon 16 Nov 2026, 23:10 (UTC+00:00)")).to_be_visible()
    expect(row.get_by_text("Tue 17 Nov 2026, 09:30 (UTC+00:00)")).to_be_visible()
    checked(page)
    sign_out(page)

    # A lead reviews the decision from the case page
    sign_in(page, api, lee)
    page.goto(f"/ui/cases/{case_id}")
    review = action(page, "ooh_review", "Review an out-of-hours decision")
    review.get_by_label("Outcome").select_option("ratified")
    review.get_by_label("Rationale").fill(
        "Proportionate: the member was safe with their partner and the post was hidden."
    )
    review.get_by_role("button", name="Record the review").click()
    expect(page.get_by_text("Saved: out-of-hours decision reviewed.")).to_be_visible()
    checked(page)

    # He asks for a ban: it waits for a second lead
    ban = action(page, "moderate", "Take a moderation action")
    ban.get_by_label("Moderation action").select_option("ban_member")
    ban.get_by_label("Rationale").fill("Sent threats to three members after two warnings.")
    ban.get_by_label("Policy", exact=True).fill("community-guidelines")
    ban.get_by_label("Policy version").fill("2024-03")
    ban.get_by_label("Clause").fill("9.1")
    ban.get_by_role("button", name="Record the moderation action").click()
    expect(page.get_by_role("status")).to_contain_text("waits for a second safeguarding lead")
    expect(page.get_by_text("Pending approval:")).to_be_visible()
    checked(page)
    sign_out(page)

    # A second lead approves it from the approval inbox
    sign_in(page, api, dana)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    expect(page.get_by_role("heading", level=1, name="Approvals")).to_be_visible()
    card = page.locator(".approvals li").filter(has_text="Ban member")
    checked(page)
    card.get_by_text("Decide: Ban member", exact=True).click()
    card.get_by_label("Approval decision").select_option("approved")
    card.get_by_label("Rationale").fill("Threats after two warnings: a ban is proportionate.")
    card.get_by_role("button", name="Record the approval decision").click()
    expect(page.get_by_text("Saved: approval decided.")).to_be_visible()
    expect(page.get_by_text("Nothing awaits a decision.")).to_be_visible()
    checked(page)
    sign_out(page)

    # An auditor downloads the export: the API's bytes
    sign_in(page, api, audrey)
    page.goto(f"/ui/cases/{case_id}")
    checked(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the case export (JSON)").click()
    saved = Path(download.value.path()).read_bytes()
    assert json.loads(saved)["case_id"] == case_id
    assert saved == api.client(audrey).get(f"/api/v1/cases/{case_id}/export").content

    # Through the API: what happened, when, by whom
    events = timeline(lead_api, case_id)
    kinds = [(e["type"], e["actor"]) for e in events]
    assert kinds == [
        ("CaseOpened", "nina"),
        ("ModerationActionTaken", "nina"),
        ("OutOfHoursDecisionRecorded", "nina"),
        ("OutOfHoursDecisionReviewed", "lee"),
        ("ApprovalRequested", "lee"),
        ("ApprovalDecided", "dana"),
        ("ModerationActionTaken", "dana"),
    ]
    assert events[0]["source"] == "flag"
    assert events[0]["content_ref"] == POST
    assert events[1]["action"] == "hide_content"
    assert events[2]["occurred_at"] == "2026-11-16T23:10:00Z"
    assert events[2]["recorded_at"] == "2026-11-17T09:30:00Z"
    assert events[-1]["action"] == "ban_member"
    entries = api.client(lee).get("/api/v1/audit/access", params={"case_id": case_id}).json()
    assert any(e["what"] == "export" and e["username"] == "audrey" for e in entries["items"])

    assert_same_origin(requests_made, api.base_url)
    # The only error logged is the not-found page's own status
    assert console_errors == [
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    ]
