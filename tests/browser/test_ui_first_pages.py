"""The web UI's first pages in a real browser on a phone-sized screen: a volunteer signs in
with their API token, sees the now page, and checks in to their shift in one click; every page
passes axe-core's serious and critical rules and none scrolls sideways at 390 px."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from domain.shared import Role
from tests.browser.support import (
    PHONE_HEIGHT,
    PHONE_WIDTH,
    assert_accessible,
    assert_no_sideways_scroll,
    assert_same_origin,
)
from tests.conftest import TUESDAY_MORNING
from tests.e2e.support import Api
from tests.e2e.ui_support import plan_shift


def test_a_volunteer_signs_in_on_a_phone_and_checks_in(
    page: Page, api: Api, requests_made: list[str], console_errors: list[str]
) -> None:
    coordinator = api.user("cat", "coordinator")
    api.vigil.identity.register("vic", Role.VOLUNTEER, actor="e2e-setup")
    token = api.vigil.identity.issue_token("vic", actor="e2e-setup")
    shift_id = plan_shift(coordinator, "vic", TUESDAY_MORNING + timedelta(minutes=15))
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})

    # Signed out, the now page sends her to sign in
    page.goto("/ui/")
    expect(page).to_have_url(f"{api.base_url}/ui/login")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    # She signs in with her API token
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{api.base_url}/ui/")
    expect(page.get_by_role("button", name="Check in")).to_be_visible()
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    # One click checks her in, and the API reads her in
    page.get_by_role("button", name="Check in").click()
    expect(page.get_by_text("You are checked in.")).to_be_visible()
    expect(page.get_by_role("button", name="Check out")).to_be_visible()
    assert_accessible(page)
    attendance = coordinator.get(f"/api/v1/shifts/{shift_id}").json()["attendance"]
    assert [a["person"] for a in attendance] == ["vic"]

    # Nothing left the server's origin, nothing was blocked by the page's policy
    assert_same_origin(requests_made, api.base_url)
    assert console_errors == []
