"""The audit page in a real browser on a phone-sized screen: the auditor reads the verification
status and the signed checkpoints, asks for the whole log to be verified, and filters the access
log; the page passes axe-core's serious and critical rules and never scrolls sideways at 390 px.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from domain.shared import Role
from infrastructure.settings import Settings
from tests.browser.support import (
    PHONE_HEIGHT,
    PHONE_WIDTH,
    assert_accessible,
    assert_no_sideways_scroll,
    assert_same_origin,
)
from tests.e2e.support import Api, open_case


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        data_dir=tmp_path / "data",
        checkpoint_every_events=3,
        restricted_categories="",
    )


def test_the_auditor_reads_the_ledgers_verification_and_checkpoints_on_a_phone(
    page: Page, api: Api, requests_made: list[str], console_errors: list[str]
) -> None:
    lee = api.user("lee", "safeguarding_lead")
    case = open_case(lee)
    for i in range(4):
        note = {"kind": "note", "text": f"Checked the thread again ({i})."}
        assert lee.post(f"/api/v1/cases/{case['id']}/notes", json=note).status_code == 201
    assert lee.get(f"/api/v1/cases/{case['id']}").status_code == 200
    api.vigil.integrity.notary.catch_up()
    api.vigil.identity.register("ava", Role.AUDITOR, actor="e2e-setup")
    token = api.vigil.identity.issue_token("ava", actor="e2e-setup")
    latest = lee.get("/api/v1/audit/checkpoints").json()["items"][0]
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})

    page.goto("/ui/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Audit", exact=True
    ).click()
    expect(page.get_by_role("heading", level=1, name="Audit")).to_be_visible()

    # The verification status in plain words, and the checkpoints
    verification = page.get_by_role("region", name="Verification")
    expect(verification.get_by_text("The hash ledger is intact")).to_be_visible()
    expect(
        verification.get_by_text(
            f"Latest signed checkpoint: the first {latest['tree_size']:,} events"
        )
    ).to_be_visible()
    expect(verification.get_by_text("Last verified:")).to_be_visible()
    checkpoints = page.get_by_role("region", name="Signed checkpoints")
    expect(checkpoints.get_by_text(latest["root_hash"])).to_be_visible()
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    # The whole log, verified on request
    page.get_by_role("button", name="Verify the whole log now").click()
    expect(verification.get_by_text("no fault found", exact=False)).to_be_visible()
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    # The access log, filtered by who read
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Who (username)").fill("lee")
    page.get_by_role("button", name="Show entries").click()
    access = page.get_by_role("region", name="Access log")
    expect(access.get_by_text("lee (safeguarding lead) · read case")).to_be_visible()
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    assert_same_origin(requests_made, api.base_url)
    assert console_errors == []
