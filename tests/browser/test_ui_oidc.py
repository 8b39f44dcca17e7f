"""Single sign-on in a real browser: Kit presses "Sign in with single sign-on", signs in at the
identity provider (the tests' own, on another site: ``localhost`` beside Vigil's
``127.0.0.1``), comes back, and lands on the now page signed in.

This is the story the SameSite choices are for: the flow's cookie (Lax) must come back on the
provider's cross-site redirect, and the session's (Strict) must be sent on the page after it,
which only a navigation begun on Vigil's own site does (interfaces/web/oidc.py)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from domain.shared import Role
from infrastructure.settings import Settings
from tests.browser.support import (
    PHONE_HEIGHT,
    PHONE_WIDTH,
    assert_accessible,
    assert_no_sideways_scroll,
)
from tests.e2e.oidc_provider import FakeProvider
from tests.e2e.support import Api
from tests.e2e.test_ui_oidc import sso_settings


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    fake.start(host="localhost")  # another site than Vigil's 127.0.0.1, as a real provider is
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def settings(settings: Settings, provider: FakeProvider) -> Settings:
    return sso_settings(settings, provider)


def test_kit_signs_in_with_single_sign_on_on_a_phone(
    page: Page,
    api: Api,
    provider: FakeProvider,
    requests_made: list[str],
    console_errors: list[str],
) -> None:
    api.vigil.identity.register("kit.coordinator", Role.COORDINATOR, actor="e2e-setup")
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})

    # The sign-in page offers single sign-on beside the API token
    page.goto("/ui/login")
    sso = page.get_by_role("link", name="Sign in with single sign-on")
    expect(sso).to_be_visible()
    expect(page.get_by_label("API token")).to_be_visible()
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    # He presses it, signs in at the provider, and is brought back to the now page, signed in
    provider.interactive = True
    sso.click()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{api.base_url}/ui/")
    expect(page.get_by_text("Signed in as")).to_contain_text("kit.coordinator")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(page)

    # Only Vigil and the provider were asked for anything; no page broke its policy
    origins = {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in requests_made}
    assert origins == {api.base_url, provider.issuer}
    assert console_errors == []

    # And signing out ends it: the next page asks him to sign in
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{api.base_url}/ui/login")
    page.goto("/ui/")
    expect(page).to_have_url(f"{api.base_url}/ui/login")
