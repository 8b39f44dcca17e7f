"""The trustee's path through the web UI in a real browser (issue 17): the quarter's pack in HTML
and PDF, and no way into a case.

The story is tests/report_story.py's (the demo and a morning's work on Tuesday 17 November 2026).
The trustee signs in, is pointed from the now page to the reports, reads the trustee pack for
the quarter as HTML (headings, a chart, small counts suppressed as the pack does), downloads it
as PDF and as a CSV zip, and finds no Cases in the nav and no case page open to them. The form
and the report pass axe-core's serious and critical rules, neither scrolls sideways at 390 px,
nothing leaves the origin and nothing is blocked by the UI's content security policy.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from playwright.sync_api import Page, expect

from domain.shared import Role
from tests.browser.support import assert_accessible, assert_no_sideways_scroll, assert_same_origin
from tests.e2e.support import Api
from tests.report_story import record_story


def _download(page: Page, link: str) -> bytes:
    with page.expect_download() as started:
        page.get_by_role("link", name=link).click()
    return Path(started.value.path()).read_bytes()


def test_a_trustee_reads_the_quarters_pack_in_html_and_pdf_and_no_case(
    page: Page, api: Api, requests_made: list[str], console_errors: list[str]
) -> None:
    record_story(api.vigil)
    api.vigil.identity.register("tess", Role.TRUSTEE, actor="e2e-setup")
    token = api.vigil.identity.issue_token("tess", actor="e2e-setup")

    # The trustee signs in; the now page offers no queue or shift, only the reports
    page.goto("/ui/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{api.base_url}/ui/")
    expect(page.get_by_role("link", name="Read the reports")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link")).to_have_text(["Now", "Reports"])
    expect(page.get_by_role("heading", name="Queues")).to_have_count(0)

    # The reports form offers the trustee pack alone
    nav.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", level=1, name="Reports")).to_be_visible()
    expect(page.get_by_label("Report", exact=True).locator("option")).to_have_count(1)
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    # She asks for this quarter's pack (October to December)
    page.get_by_label("From").fill("2026-10-01")
    page.get_by_label("To (included)").fill("2026-12-31")
    page.get_by_role("button", name="Show the report").click()
    expect(page.get_by_role("heading", level=1, name="Trustee pack")).to_be_visible()
    expect(page.get_by_text("Counted from the record as of")).to_be_visible()
    expect(page.get_by_text("signed checkpoint of the first")).to_be_visible()
    expect(page.locator("svg.chart").first).to_be_visible()
    expect(page.get_by_role("cell", name="fewer than 5").first).to_be_visible()
    assert "from=2026-10-01" in page.url
    assert_accessible(page)
    assert_no_sideways_scroll(page)

    # She downloads it as PDF and as CSV
    pdf = _download(page, "Download PDF")
    assert pdf.startswith(b"%PDF-")
    zipped = zipfile.ZipFile(io.BytesIO(_download(page, "Download CSV (zip)")))
    assert zipped.testzip() is None
    assert any(name.endswith(".csv") for name in zipped.namelist())

    # Nothing was blocked by the page's policy on the way
    assert console_errors == []

    # No case is open to her: no Cases in the nav, no case page
    expect(nav.get_by_role("link", name="Cases")).to_have_count(0)
    answer = page.goto("/ui/cases")
    assert answer is not None
    assert answer.status == 403  # the case pages refuse a role that reads no case
    refused = page.goto("/ui/reports?kind=sla&from=2026-10-01&to=2026-12-31")
    assert refused is not None
    assert refused.status == 403

    # Nothing left the server's origin; the only errors logged are the refusals themselves
    assert_same_origin(requests_made, api.base_url)
    assert all("status of 403" in e for e in console_errors), console_errors
