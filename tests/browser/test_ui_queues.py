"""The queue pages in a real browser, on a 390 px phone and on a desktop: a safeguarding lead
opens the overnight queue (out-of-hours decisions to review) from the now page, reads the
keyboard shortcuts with "?" and with the visible button, moves to the first item with "j" and
opens it with Enter, goes on to the next item with "n", and jumps to a case from the header's
jump box ("/" to reach it); every page passes axe-core's serious and critical rules, none
scrolls sideways at 390 px, nothing leaves the origin and nothing is blocked by the CSP."""

from __future__ import annotations

import pytest
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

QUEUE = "out_of_hours_reviews"
DESKTOP = {"width": 1280, "height": 900}


def night_decision(api: Api, ref: str, at: str) -> str:
    lead = api.user(f"dana-{ref[-1]}", "safeguarding_lead")
    case = open_case(
        lead,
        subject={"kind": "member", "ref": ref},
        risk_level="high",
        occurred_at="2026-11-16T23:00:00+00:00",
    )
    decision = lead.post(
        f"/api/v1/cases/{case['id']}/out-of-hours-decisions",
        json={
            "decision": "Messaged the member privately with crisis line details.",
            "rationale": "Member replied saying they were safe and with their partner.",
            "policy_ref": OUT_OF_HOURS_POLICY,
            "occurred_at": at,
        },
    )
    assert decision.status_code == 201, decision.text
    case_id: str = case["id"]
    return case_id


def keys(page: Page, *pressed: str) -> None:
    """Press keys on the page as a person does, once it has loaded (keys.js runs deferred: a
    key pressed while the page is still parsing would reach no listener)."""
    page.wait_for_load_state("load")
    page.locator("body").press(pressed[0])
    for key in pressed[1:]:
        page.keyboard.press(key)


def check(page: Page, phone: bool) -> None:
    assert_accessible(page)
    if phone:
        assert_no_sideways_scroll(page)
        page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})


@pytest.mark.parametrize("phone", [True, False], ids=["phone", "desktop"])
def test_a_lead_works_the_overnight_queue_from_the_keyboard(
    page: Page,
    api: Api,
    clock: Clock,
    requests_made: list[str],
    console_errors: list[str],
    phone: bool,
) -> None:
    # Given two decisions taken last night on two cases, awaiting a lead's review
    cases = {
        night_decision(api, "forum-member-1", "2026-11-16T23:10:00+00:00"): "forum-member-1",
        night_decision(api, "forum-member-2", "2026-11-16T23:40:00+00:00"): "forum-member-2",
    }
    clock.advance(minutes=10)
    api.vigil.identity.register("lee", Role.SAFEGUARDING_LEAD, actor="e2e-setup")
    token = api.vigil.identity.issue_token("lee", actor="e2e-setup")
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT} if phone else DESKTOP)
    base = api.base_url

    # Lee signs in and opens the overnight queue from the now page
    page.goto("/ui/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/ui/")
    page.get_by_role("link", name="Out-of-hours decisions to review").click()
    expect(page).to_have_url(f"{base}/ui/queues/{QUEUE}")
    expect(
        page.get_by_role("heading", level=1, name="Out-of-hours decisions to review")
    ).to_be_visible()
    expect(page.get_by_text("2 waiting")).to_be_visible()
    items = page.locator(".queue-items li")
    expect(items).to_have_count(2)
    expect(items.first.get_by_role("link", name="Out-of-hours decision to review")).to_be_visible()
    expect(page.get_by_role("link", name="Start")).to_be_visible()
    # (both are due at the end of today, the next working day: the queue's order is the API's)
    order = [page.locator(".queue-items li a").nth(n).get_attribute("href") or "" for n in range(2)]
    first, second = (href.split("/")[-1].split("?")[0] for href in order)
    assert set(cases) == {first, second}
    check(page, phone)

    # "?" opens the shortcuts; Esc closes them, and focus goes back where it was
    keys(page, "?")
    shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(shortcuts).to_be_visible()
    expect(shortcuts.get_by_text("Move the selection down / up a queue or list")).to_be_visible()
    assert_accessible(page)
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()
    # The visible button opens them too; "Close" closes them and focus returns to the button
    button = page.get_by_role("button", name="Keyboard shortcuts")
    button.click()
    expect(shortcuts).to_be_visible()
    shortcuts.get_by_role("button", name="Close").click()
    expect(shortcuts).to_be_hidden()
    expect(button).to_be_focused()

    # "j" selects the first item (its link focused), Enter opens it from the queue
    keys(page, "j")
    expect(items.first.get_by_role("link")).to_be_focused()
    page.keyboard.press("j")
    expect(items.nth(1).get_by_role("link")).to_be_focused()
    page.keyboard.press("k")
    expect(items.first.get_by_role("link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base}/ui/cases/{first}?from_queue={QUEUE}")
    expect(page.get_by_role("heading", level=2, name="Timeline")).to_be_visible()
    check(page, phone)

    # "n" goes on to the next item of the queue; on the last, back to the queue
    keys(page, "n")
    expect(page).to_have_url(f"{base}/ui/cases/{second}?from_queue={QUEUE}")
    keys(page, "n")
    expect(page).to_have_url(f"{base}/ui/queues/{QUEUE}?done=end")
    expect(page.get_by_role("status")).to_contain_text("End of the queue")

    # Shortcuts never fire while typing: "j" in the jump box is just a letter
    jump = page.get_by_label("Jump to case")
    keys(page, "/")
    expect(jump).to_be_focused()
    jump.press_sequentially(cases[second])
    expect(jump).to_have_value(cases[second])
    expect(page).to_have_url(f"{base}/ui/queues/{QUEUE}?done=end")
    page.get_by_role("button", name="Jump").click()
    expect(page).to_have_url(f"{base}/ui/cases/{second}")
    check(page, phone)

    # "g" then "q": the queues, every one with its counts
    keys(page, "g", "q")
    expect(page).to_have_url(f"{base}/ui/queues")
    expect(page.get_by_role("heading", level=1, name="Queues")).to_be_visible()
    expect(page.get_by_role("link", name="Out-of-hours decisions to review")).to_be_visible()
    check(page, phone)

    # "g" then "c": the cases, where "j" moves through the list too and "o" opens
    keys(page, "g", "c")
    expect(page).to_have_url(f"{base}/ui/cases")
    keys(page, "j")
    first_card = page.locator(".case-list > li").first.get_by_role("link")
    expect(first_card).to_be_focused()
    href = first_card.get_attribute("href")
    keys(page, "o")
    expect(page).to_have_url(f"{base}{href}")

    # Nothing left the server's origin, nothing was blocked by the page's policy
    assert_same_origin(requests_made, base)
    assert console_errors == []
