"""Every page of the web UI, with something on it, at a phone's width and a laptop's: each passes
axe-core's serious and critical rules (WCAG 2.2 AA among them), none scrolls sideways at 390 px,
none logs a console error (a Content-Security-Policy violation is one) and nothing is fetched
from another origin. The people's paths (test_people.py and the page tests) check what the pages
do; this checks that no page was left out of the accessibility bar, refusals included."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import (
    PHONE_HEIGHT,
    PHONE_WIDTH,
    assert_accessible,
    assert_no_sideways_scroll,
    assert_same_origin,
)
from tests.conftest import TUESDAY_MORNING, Clock
from tests.e2e.support import OUT_OF_HOURS_POLICY, Api, open_case
from tests.e2e.ui_support import plan_shift

SIZES = {"phone": (PHONE_WIDTH, PHONE_HEIGHT), "laptop": (1280, 900)}
CALL = {
    "channel": "call",
    "direction": "inbound",
    "caller": {"anonymous": True},
    "category": "harassment",
    "summary": "Neighbour's harassment continuing; options explained.",
    "outcome": "information_given",
}
SCORECARD = {
    "name": "Helpline quality, 2026",
    "criteria": [
        {
            "key": "listening",
            "label": "Listens actively",
            "weight": 3,
            "max_score": 4,
            "critical": False,
        },
        {
            "key": "risk_asked",
            "label": "Asks about immediate risk",
            "weight": 1,
            "max_score": 1,
            "critical": True,
            "safeguarding": True,
        },
    ],
    "pass_mark": 70,
    "rationale": "The helpline's own scorecard replaces the default from today.",
}


def sign_in(page: Page, api: Api, username: str, role: str) -> None:
    api.user(username, role)  # registered, with a token of its own
    token = api.vigil.identity.issue_token(username, actor="e2e-setup")
    page.goto("/ui/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{api.base_url}/ui/")


def visit(page: Page, path: str, status: int = 200) -> None:
    answer = page.goto(path)
    assert answer is not None
    assert answer.status == status, (path, answer.status)
    expect(page.locator("h1")).to_be_visible()
    assert_accessible(page)
    assert_no_sideways_scroll(page)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_every_page_is_accessible_and_fits(
    page: Page,
    api: Api,
    clock: Clock,
    size: str,
    requests_made: list[str],
    console_errors: list[str],
) -> None:
    # Given a day's work: a case with a decision awaiting review and a ban awaiting a second
    # lead, a shift, a contact under a scorecard
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    lee = api.user("lee", "safeguarding_lead")
    dana = api.user("dana", "safeguarding_lead")
    casey = api.user("casey", "coordinator")
    kit = api.user("kit", "volunteer")
    case = open_case(casey, occurred_at="2026-11-16T23:00:00+00:00")
    decision = casey.post(
        f"/api/v1/cases/{case['id']}/out-of-hours-decisions",
        json={
            "decision": "Messaged the member with crisis line details.",
            "rationale": "Member said they were safe with their partner.",
            "policy_ref": OUT_OF_HOURS_POLICY,
            "occurred_at": "2026-11-16T23:10:00+00:00",
        },
    )
    assert decision.status_code == 201, decision.text
    ban = dana.post(
        f"/api/v1/cases/{case['id']}/moderation-actions",
        json={
            "action": "ban_member",
            "target_ref": "forum-member-48213",
            "rationale": "Threats to three members after two warnings.",
            "policy_ref": {"policy": "community-guidelines", "version": "2024-03", "clause": "9"},
        },
    )
    assert ban.status_code == 201, ban.text
    shift_id = plan_shift(casey, "casey", TUESDAY_MORNING.replace(hour=9))
    card = lee.post("/api/v1/quality/scorecards", json=SCORECARD)
    assert card.status_code == 201, card.text
    logged = kit.post("/api/v1/contacts", json=CALL)
    assert logged.status_code == 201, logged.text
    contact_id = logged.json()["contact"]["id"]
    clock.advance(minutes=5)

    # The sign-in page, with and without a message
    visit(page, "/ui/login")
    page.get_by_role("button", name="Sign in").click()
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    # Every page a lead has
    sign_in(page, api, "lena", "safeguarding_lead")
    for path in [
        "/ui/",
        "/ui/queues",
        "/ui/queues/out_of_hours_reviews",
        "/ui/cases",
        "/ui/cases/new",
        f"/ui/cases/{case['id']}",
        f"/ui/cases/{case['id']}?from_queue=out_of_hours_reviews",
        f"/ui/cases/{case['id']}?as_of=2026-11-16T23:05&basis=occurred",
        "/ui/approvals",
        "/ui/shifts",
        f"/ui/shifts/{shift_id}",
        "/ui/contacts",
        "/ui/contacts/new",
        f"/ui/contacts/{contact_id}",
        "/ui/reports",
        "/ui/reports?kind=sla&from=2026-11-01&to=2026-11-30",
        "/ui/audit",
    ]:
        visit(page, path)

    # Every action form on the case page, opened
    page.goto(f"/ui/cases/{case['id']}")
    for summary in page.locator("details[id^='action-'] > summary").all():
        summary.click()
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    # The keyboard shortcuts' dialog
    page.wait_for_load_state("load")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    assert_accessible(page)
    page.keyboard.press("Escape")

    # Refusals: a case that is not there (with the break-glass offer), an unknown queue
    visit(page, f"/ui/cases/{uuid.uuid4()}", status=404)
    visit(page, "/ui/queues/no_such_queue", status=404)

    # A page a trustee may not open, and a form posted without its token
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, api, "tess", "trustee")
    visit(page, "/ui/cases", status=403)
    visit(page, "/ui/reports")
    page.evaluate(
        """() => { const f = document.createElement('form'); f.method = 'post';
        f.action = '/ui/logout'; document.body.appendChild(f); f.submit(); }"""
    )
    expect(page.get_by_role("heading", level=1, name="Not saved")).to_be_visible()
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    assert_same_origin(requests_made, api.base_url)
    # A refusal's own status is logged by Chromium as a failed load; nothing else may be
    refused = "Failed to load resource: the server responded with a status of 40"
    assert [e for e in console_errors if not e.startswith(refused)] == []
