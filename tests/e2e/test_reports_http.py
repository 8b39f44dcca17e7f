"""Compliance reports over real HTTP, on SQLite and PostgreSQL.

A safeguarding lead lists the report kinds, reads each in JSON (valid against its published
schema), CSV (a zip, or one table), HTML and PDF; asked twice with the same parameters, JSON
and CSV are the same bytes. A volunteer may not read reports. A bad request is a problem naming
the parameter at fault, and nothing is written.
"""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import httpx
import jsonschema
import pytest

from application.reports.definitions import REPORTS
from interfaces.composition import Vigil
from tests.community_story import AS_OF as FORUM_AS_OF
from tests.community_story import EXPECTED as FORUM_EXPECTED
from tests.community_story import record_community_story
from tests.e2e.support import Api, assert_problem
from tests.report_story import AS_OF, PERIOD, record_story

PATH = "/api/v1/reports"
QUERY = {"from": PERIOD[0].isoformat(), "to": PERIOD[1].isoformat(), "as_of": AS_OF.isoformat()}


@pytest.fixture
def lead(api: Api, vigil: Vigil) -> httpx.Client:
    record_story(vigil)
    return api.user("lena.lead", "safeguarding_lead")


def test_the_kinds_are_listed_with_their_sections_and_schemas(lead: httpx.Client) -> None:
    listed = lead.get(PATH)

    assert listed.status_code == 200, listed.text
    kinds = {item["kind"]: item for item in listed.json()["items"]}
    assert set(kinds) == {"trustee", "sla", "helpline", "shifts", "moderation", "community"}
    assert kinds["trustee"]["suppressed"] is True
    assert [s["key"] for s in kinds["sla"]["sections"]] == ["summary", "breaches", "clocks"]
    schema = lead.get(kinds["sla"]["schema"])
    assert schema.status_code == 200
    assert schema.json()["properties"]["kind"] == {"const": "sla"}


@pytest.mark.parametrize("kind", list(REPORTS))
def test_each_report_reads_the_same_bytes_twice_and_fits_its_schema(
    lead: httpx.Client, kind: str
) -> None:
    first = lead.get(f"{PATH}/{kind}", params=QUERY)
    again = lead.get(f"{PATH}/{kind}", params=QUERY)

    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("application/json")
    assert first.content == again.content
    document = first.json()
    jsonschema.validate(document, lead.get(f"{PATH}/{kind}/schema").json())
    assert document["parameters"] == {**QUERY, "service": None, "as_of": "2026-11-17T12:00:00Z"}
    assert document["basis"]["checkpoint"]["tree_size"] > 0

    zipped = lead.get(f"{PATH}/{kind}", params={**QUERY, "format": "csv"})
    assert zipped.status_code == 200
    assert zipped.headers["content-type"] == "application/zip"
    assert zipped.content == lead.get(f"{PATH}/{kind}", params={**QUERY, "format": "csv"}).content
    names = zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
    first_table = f"{document['sections'][0]['key']}__{document['sections'][0]['tables'][0]['key']}"
    assert f"{first_table}.csv" in names
    one = lead.get(f"{PATH}/{kind}", params={**QUERY, "format": "csv", "table": first_table})
    assert one.status_code == 200
    assert one.headers["content-type"].startswith("text/csv")

    html = lead.get(f"{PATH}/{kind}", params={**QUERY, "format": "html"})
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "<svg" in html.text or kind == "sla"
    assert "<script" not in html.text.lower()
    pdf = lead.get(f"{PATH}/{kind}", params={**QUERY, "format": "pdf"})
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")


def test_the_community_report_of_a_forum_s_month_in_every_format(api: Api, vigil: Vigil) -> None:
    record_community_story(vigil)
    coordinator = api.user("cora.coordinator", "coordinator")
    query = {**QUERY, "as_of": FORUM_AS_OF.isoformat()}

    found = coordinator.get(f"{PATH}/community", params=query)

    assert found.status_code == 200, found.text
    document = found.json()
    jsonschema.validate(document, coordinator.get(f"{PATH}/community/schema").json())
    tables = {
        f"{s['key']}.{t['key']}": t["rows"] for s in document["sections"] for t in s["tables"]
    }
    for path, rows in FORUM_EXPECTED.items():
        assert tables[path] == rows, path
    zipped = coordinator.get(f"{PATH}/community", params={**query, "format": "csv"})
    assert zipped.headers["content-type"] == "application/zip"
    spikes = zipfile.ZipFile(io.BytesIO(zipped.content)).read("engagement__spikes.csv").decode()
    assert spikes.splitlines()[1].startswith("2026-11-01,default,wellbeing,7,1,5,1")
    html = coordinator.get(f"{PATH}/community", params={**query, "format": "html"})
    assert html.status_code == 200
    assert "<svg" in html.text
    assert "wellbeing" in html.text
    assert "<script" not in html.text.lower()
    pdf = coordinator.get(f"{PATH}/community", params={**query, "format": "pdf"})
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    assert (
        pdf.content
        == coordinator.get(f"{PATH}/community", params={**query, "format": "pdf"}).content
    )


def test_a_service_s_report_counts_that_service_only(lead: httpx.Client) -> None:
    everything = lead.get(f"{PATH}/helpline", params=QUERY).json()
    forum = lead.get(f"{PATH}/helpline", params={**QUERY, "service": "forum"}).json()

    def contacts(document: dict[str, object]) -> int:
        table = document["sections"][0]["tables"][0]  # type: ignore[index]
        return int(table["totals"]["contacts"])  # type: ignore[index]

    assert contacts(everything) > 0
    assert contacts(forum) == 0
    assert forum["parameters"]["service"] == "forum"


def test_a_volunteer_may_not_read_reports(api: Api, lead: httpx.Client) -> None:
    volunteer = api.user("val.volunteer", "volunteer")

    for path, params in ((PATH, {}), (f"{PATH}/trustee", QUERY), (f"{PATH}/sla/schema", {})):
        refused = volunteer.get(path, params=params)
        assert_problem(refused, 403, "not-permitted")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({**QUERY, "to": "2026-10-01"}, "to"),
        ({**QUERY, "from": "2025-01-01", "to": "2026-11-30"}, "to"),
        ({**QUERY, "service": "no-such-service"}, "service"),
        ({**QUERY, "as_of": (AS_OF + timedelta(days=3650)).isoformat()}, "as_of"),
        ({**QUERY, "format": "docx"}, "format"),
        ({**QUERY, "format": "csv", "table": "nope__nothing"}, "table"),
        ({"to": "2026-11-30"}, "from"),
    ],
)
def test_a_bad_request_is_a_problem_naming_the_parameter_and_writes_nothing(
    api: Api, lead: httpx.Client, params: dict[str, str], field: str
) -> None:
    with api.writes_nothing():
        refused = lead.get(f"{PATH}/sla", params=params)

    assert_problem(refused, 422, refused.json()["type"].rsplit("/", 1)[-1], errors=[field])


def test_an_unknown_kind_is_not_found(lead: httpx.Client) -> None:
    refused = lead.get(f"{PATH}/quarterly", params=QUERY)

    problem = assert_problem(refused, 404, refused.json()["type"].rsplit("/", 1)[-1])
    assert "trustee" in problem["detail"]


def test_a_trustee_reads_the_trustee_pack_and_no_other_report(api: Api, lead: httpx.Client) -> None:
    trustee = api.user("tia.trustee", "trustee")

    listed = trustee.get(PATH)
    assert listed.status_code == 200
    assert [item["kind"] for item in listed.json()["items"]] == ["trustee"]
    pack = trustee.get(f"{PATH}/trustee", params=QUERY)
    assert pack.status_code == 200, pack.text
    assert pack.content == lead.get(f"{PATH}/trustee", params=QUERY).content
    for kind in ("sla", "helpline", "shifts", "moderation", "community"):
        # The other reports list cases and staff, unsuppressed: not for trustees.
        assert_problem(trustee.get(f"{PATH}/{kind}", params=QUERY), 403, "not-permitted")


def test_a_moment_too_recent_to_be_final_is_refused(
    api: Api, vigil: Vigil, lead: httpx.Client
) -> None:
    # A write's recorded_at is read before it commits, and servers' clocks differ by up to the
    # skew allowed: a report as of a moment later than that could still change.
    recent = vigil.clock() - timedelta(seconds=30)

    with api.writes_nothing():
        refused = lead.get(f"{PATH}/sla", params={**QUERY, "as_of": recent.isoformat()})

    problem = assert_problem(
        refused, 422, refused.json()["type"].rsplit("/", 1)[-1], errors=["as_of"]
    )
    assert "too recent" in problem["errors"]["as_of"]
    latest = lead.get(f"{PATH}/sla", params={k: v for k, v in QUERY.items() if k != "as_of"})
    assert latest.status_code == 200
    skew = vigil.settings.max_clock_skew_seconds
    settled = (vigil.clock() - timedelta(seconds=skew)).replace(microsecond=0)
    assert latest.json()["parameters"]["as_of"] == settled.strftime("%Y-%m-%dT%H:%M:%SZ")
