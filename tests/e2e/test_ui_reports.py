"""The web UI's reports page over real HTTP, on SQLite and PostgreSQL: the form offers only the
kinds the person may read, a report reads as HTML inside the UI's layout (its as_of and
checkpoint shown, its stylesheet linked, nothing inline), and its CSV and PDF downloads are the
API's bytes for the same parameters and as_of. Refusals follow the API's rules: a kind the
person may not read is a 403 page, a bad period or an as_of not yet final the form again (422)
with the message, and a role that reads no report has no Reports link.

The story (tests/report_story.py) is the demo and a morning's work on Tuesday 17 November 2026;
the reports are asked for November as of noon.
"""

from __future__ import annotations

import io
import re
import zipfile
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from interfaces.composition import Vigil
from tests.conftest import Clock
from tests.e2e.support import Api
from tests.e2e.ui_support import person
from tests.report_story import AS_OF, PERIOD, record_story

QUERY = {"from": PERIOD[0].isoformat(), "to": PERIOD[1].isoformat(), "as_of": AS_OF.isoformat()}
REPORTS_LINK = 'href="/ui/reports"'
DOWNLOAD = re.compile(r'href="(/ui/reports/[a-z]+\.(?:csv|pdf)\?[^"]+)"')


@pytest.fixture
def story(vigil: Vigil) -> Vigil:
    record_story(vigil)
    return vigil


def _downloads(page: httpx.Response) -> dict[str, str]:
    found = {urlsplit(link).path.rsplit(".", 1)[1]: link for link in DOWNLOAD.findall(page.text)}
    return {fmt: link.replace("&amp;", "&") for fmt, link in found.items()}


def test_the_downloads_are_the_apis_bytes_for_the_same_parameters_and_as_of(
    api: Api, story: Vigil
) -> None:
    # Given a coordinator signed in, and the same coordinator's token on the API
    coordinator, _ = person(api, "cora", "coordinator")
    bearer = api.user("cora.api", "coordinator")

    # When she reads November's SLA report as of noon in the UI
    page = coordinator.get("/ui/reports", params={"kind": "sla", **QUERY})

    # Then it is the report inside the UI's layout, with its as_of and checkpoint shown
    assert page.status_code == 200, page.text
    assert "<h1>SLA report</h1>" in page.text
    assert "2026-11-17T12:00:00Z" in page.text
    assert "signed checkpoint of the first" in page.text
    assert 'href="/ui/static/reports.css"' in page.text
    assert "<style" not in page.text
    assert "style=" not in page.text
    assert 'aria-current="page">Reports</a>' in page.text

    # And its download links name the report's as_of and answer the API's bytes
    links = _downloads(page)
    assert set(links) == {"csv", "pdf"}
    for fmt, link in links.items():
        assert parse_qs(urlsplit(link).query)["as_of"] == ["2026-11-17T12:00:00Z"]
        ui = coordinator.get(link)
        from_api = bearer.get("/api/v1/reports/sla", params={**QUERY, "format": fmt})
        assert ui.status_code == 200, ui.text
        assert from_api.status_code == 200
        assert ui.headers["content-type"] == from_api.headers["content-type"]
        assert ui.headers["content-disposition"] == from_api.headers["content-disposition"]
        assert ui.content == from_api.content
    zipfile.ZipFile(io.BytesIO(coordinator.get(links["csv"]).content)).testzip()
    assert coordinator.get(links["pdf"]).content.startswith(b"%PDF-")


def test_the_latest_report_links_downloads_at_the_moment_it_was_counted(
    api: Api, story: Vigil, clock: Clock
) -> None:
    # Given a lead who asks for the trustee pack with no as_of (the latest final moment)
    lead, _ = person(api, "lena", "safeguarding_lead")
    quarter = {"from": "2026-10-01", "to": "2026-12-31"}
    page = lead.get("/ui/reports", params={"kind": "trustee", **quarter})
    assert page.status_code == 200, page.text
    link = _downloads(page)["csv"]
    as_of = parse_qs(urlsplit(link).query)["as_of"][0]

    # When the clock moves on, the link still answers that report, as the API does
    clock.advance(minutes=10)
    bearer = api.user("lena.api", "safeguarding_lead")
    api_query = {**quarter, "as_of": as_of, "format": "csv"}
    assert lead.get(link).content == bearer.get("/api/v1/reports/trustee", params=api_query).content
    # while the page asked again with no as_of counts to the new latest moment
    later = _downloads(lead.get("/ui/reports", params={"kind": "trustee", **quarter}))["csv"]
    assert parse_qs(urlsplit(later).query)["as_of"] != [as_of]


def test_a_coordinator_reads_the_sla_report_and_a_trustee_may_not(api: Api, story: Vigil) -> None:
    coordinator, _ = person(api, "cora", "coordinator")
    trustee, _ = person(api, "tess", "trustee")

    # The coordinator is offered every kind; the trustee the trustee pack alone
    form = coordinator.get("/ui/reports")
    assert form.status_code == 200
    assert 'value="sla"' in form.text
    assert 'value="trustee"' in form.text
    trustees_form = trustee.get("/ui/reports")
    assert trustees_form.status_code == 200
    kinds = trustees_form.text.split('name="kind"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="([a-z]+)"', kinds) == ["trustee"]
    # with the last full quarter (July to September, on 17 November) as the default period
    assert 'value="2026-07-01"' in trustees_form.text
    assert 'value="2026-09-30"' in trustees_form.text

    assert coordinator.get("/ui/reports", params={"kind": "sla", **QUERY}).status_code == 200
    refused = trustee.get("/ui/reports", params={"kind": "sla", **QUERY})
    assert refused.status_code == 403
    assert "Not yours to read" in refused.text
    assert "SLA report" not in refused.text
    for fmt in ("csv", "pdf"):
        assert trustee.get(f"/ui/reports/sla.{fmt}", params=QUERY).status_code == 403
    assert trustee.get("/ui/reports", params={"kind": "trustee", **QUERY}).status_code == 200
    # A period left empty in the form is the default one
    empty = trustee.get("/ui/reports", params={"kind": "trustee", "from": "", "to": ""})
    assert empty.status_code == 200
    assert "for 2026-07-01 to 2026-09-30" in empty.text
    assert trustee.get("/ui/reports/trustee.pdf", params=QUERY).content.startswith(b"%PDF-")


def test_a_volunteer_has_no_reports_link_and_is_refused(api: Api) -> None:
    volunteer, _ = person(api, "vic", "volunteer")
    coordinator, _ = person(api, "cora", "coordinator")

    assert REPORTS_LINK not in volunteer.get("/ui/").text
    assert REPORTS_LINK in coordinator.get("/ui/").text
    assert volunteer.get("/ui/reports").status_code == 403
    assert volunteer.get("/ui/reports", params={"kind": "trustee", **QUERY}).status_code == 403
    assert volunteer.get("/ui/reports/trustee.csv", params=QUERY).status_code == 403


def test_a_trustees_now_page_points_to_the_reports_and_shows_no_queue(api: Api) -> None:
    trustee, _ = person(api, "tess", "trustee")

    page = trustee.get("/ui/")

    assert page.status_code == 200
    assert "Read the reports" in page.text
    assert REPORTS_LINK in page.text
    assert "Queues" not in page.text
    assert "My shift" not in page.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2026-11-30", "to": "2026-11-01"}, "before &#39;from&#39;"),
        ({"from": "2025-01-01", "to": "2026-11-30"}, "at most 366 days"),
        ({"from": "30/11/2026", "to": "2026-11-30"}, "must be a date"),
        ({"from": "2026-11-01", "to": "2026-11-30", "as_of": "yesterday"}, "RFC 3339"),
        ({"from": "2026-11-01", "to": "2026-11-30", "as_of": "1800-01-01T00:00:00Z"}, "between"),
        ({"from": "2026-11-01", "to": "2026-11-30", "as_of": "2026-11-17T12:29:00Z"}, "too recent"),
        ({"from": "2026-11-01", "to": "2026-11-30", "service": "nowhere"}, "unknown service"),
    ],
)
def test_a_bad_request_is_the_form_again_with_the_message(
    api: Api, story: Vigil, query: dict[str, str], message: str
) -> None:
    lead, _ = person(api, "lena", "safeguarding_lead")
    before = api.log_position()

    page = lead.get("/ui/reports", params={"kind": "sla", **query})
    download = lead.get("/ui/reports/sla.csv", params=query)

    for answer in (page, download):
        assert answer.status_code == 422, answer.text
        assert message in answer.text
        assert 'role="alert"' in answer.text
        assert '<form method="get" action="/ui/reports"' in answer.text
        assert "Download CSV" not in answer.text
    # What was sent stays in the form, so it can be corrected
    assert f'value="{query["from"]}"' in page.text
    assert api.log_position() == before
