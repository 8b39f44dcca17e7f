"""The shift pages in a real browser on a phone-sized screen: the night coordinator checks in,
hands over with a note naming a case and checks out from the now page; the lead, next morning,
acknowledges the handover from her now page in one click and reads the night's shift page with
its log; the rota lists the night. Every page passes axe-core's serious and critical rules, none
scrolls sideways at 390 px, nothing leaves the origin. Results are checked through the API."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from domain.shared import Role
from tests.browser.support import (
    PHONE_HEIGHT,
    PHONE_WIDTH,
    assert_accessible,
    assert_no_sideways_scroll,
    assert_same_origin,
)
from tests.conftest import TUESDAY_MORNING, Clock
from tests.e2e.support import Api, open_case
from tests.e2e.ui_support import plan_shift

NOTE = "Member in the insulin thread replied at 22:40; crisis team called."
TUESDAY_NIGHT = TUESDAY_MORNING.replace(hour=19, minute=0)


def _token(api: Api, username: str, role: Role) -> str:
    api.vigil.identity.register(username, role, actor="e2e-setup")
    return api.vigil.identity.issue_token(username, actor="e2e-setup")


def _sign_in(page: Page, api: Api, token: str) -> None:
    page.goto("/ui/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{api.base_url}/ui/")


def _checked(page: Page) -> None:
    assert_accessible(page)
    assert_no_sideways_scroll(page)


def test_the_night_is_handed_over_and_acknowledged_in_the_morning_on_a_phone(
    page: Page,
    browser: Browser,
    api: Api,
    clock: Clock,
    requests_made: list[str],
    console_errors: list[str],
) -> None:
    # Given Casey, the night coordinator, on the rota from 19:00 to 23:00 tonight
    cat = api.user("cat", "coordinator")
    casey_token = _token(api, "casey", Role.COORDINATOR)
    lee_token = _token(api, "lee", Role.SAFEGUARDING_LEAD)
    shift_id = plan_shift(cat, "casey", TUESDAY_NIGHT)
    casey_api = api.client(casey_token)
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})

    # At 18:55 she signs in and checks in from the now page
    clock.advance(hours=9, minutes=25)
    _sign_in(page, api, casey_token)
    expect(page.get_by_role("heading", level=2, name="My shift")).to_be_visible()
    _checked(page)
    page.get_by_role("button", name="Check in").click()
    expect(page.get_by_text("You are checked in.")).to_be_visible()
    _checked(page)

    # During the night a case is opened (by her, through the API)
    clock.advance(hours=3, minutes=45)  # 22:40
    case = open_case(casey_api)

    # At 22:55 she signs in again, hands over to Lee with a note naming the case, and checks out
    clock.advance(minutes=15)
    _sign_in(page, api, casey_token)
    page.get_by_label("Handover note").fill(NOTE)
    page.get_by_label("Case ids handed over (optional)").fill(case["id"])
    page.get_by_label("To (username, optional: empty for whoever comes next)").fill("lee")
    _checked(page)
    page.get_by_role("button", name="Hand over and end shift").click()
    expect(page.get_by_text("Your handover is recorded and you are checked out.")).to_be_visible()
    _checked(page)

    # The API shows the handover (never its note) and the check-out
    shift = cat.get(f"/api/v1/shifts/{shift_id}").json()
    [handover] = shift["handovers_given"]
    assert (handover["given_by"], handover["given_to"]) == ("casey", "lee")
    assert handover["case_ids"] == [case["id"]]
    assert shift["attendance"][0]["checked_out_at"] is not None

    # Next morning at 08:30 Lee signs in on her phone: the handover waits on her now page
    clock.advance(hours=9, minutes=35)
    lee_context = browser.new_context(base_url=api.base_url, locale="en-GB")
    try:
        lee_page = lee_context.new_page()
        lee_page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
        _sign_in(lee_page, api, lee_token)
        waiting = lee_page.get_by_role("region", name="Handovers for you")
        expect(waiting.get_by_text("From casey to you")).to_be_visible()
        expect(waiting.get_by_role("link", name=case["id"][:8])).to_be_visible()
        expect(lee_page.get_by_text(NOTE)).to_have_count(0)
        _checked(lee_page)

        # She acknowledges it in one click
        waiting.get_by_role("button", name="Acknowledge").click()
        expect(lee_page.get_by_text("Handover acknowledged.")).to_be_visible()
        expect(lee_page.get_by_role("region", name="Handovers for you")).to_have_count(0)
        _checked(lee_page)
        [done] = cat.get(f"/api/v1/shifts/{shift_id}").json()["handovers_given"]
        assert done["acknowledged_by"] == "lee"

        # She reads the night's shift from the rota: the plan, the attendance, the log
        lee_page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Shifts", exact=True
        ).click()
        expect(lee_page.get_by_role("heading", level=1, name="Shifts")).to_be_visible()
        lee_page.get_by_role("link", name="On call · default · casey").click()
        expect(
            lee_page.get_by_role("heading", level=1, name="On call shift · default")
        ).to_be_visible()
        actions = lee_page.get_by_role("region", name="Actions in this shift")
        expect(actions.get_by_text("Case opened")).to_be_visible()
        expect(actions.get_by_role("link", name=f"Case {case['id'][:8]}")).to_be_visible()
        given = lee_page.get_by_role("region", name="Handovers given")
        expect(given.get_by_text("Acknowledged by lee")).to_be_visible()
        expect(lee_page.get_by_text(NOTE)).to_have_count(0)
        _checked(lee_page)
    finally:
        lee_context.close()

    assert_same_origin(requests_made, api.base_url)
    assert console_errors == []
