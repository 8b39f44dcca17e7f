"""The web UI's audit page over real HTTP, on SQLite and PostgreSQL: the access log as
GET /api/v1/audit/access gives it (filtered by case, person and period, a page at a time), the
signed checkpoints as GET /audit/checkpoints gives them, and the verification status in plain
words (every checkpoint shown signed by the ledger's key and extending the one before, and, on
request, the whole log checked as `vigil verify` checks it). Only those the API lets read these
see them: a volunteer gets 403. Reading the page writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.settings import Settings
from tests.e2e.support import Api, open_case
from tests.e2e.ui_support import csrf_of, person


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        data_dir=tmp_path / "data",
        checkpoint_every_events=3,
        db_pool_size=6,
        db_max_overflow=6,
        restricted_categories="",
    )


def _section(text: str, section_id: str) -> str:
    return text[text.index(f'id="{section_id}"') :].split("</section>")[0]


def test_the_auditor_reads_the_verification_status_checkpoints_and_access_log(api: Api) -> None:
    # Given a case worked on, read by Lee and by Cat, and the notary's signed checkpoints
    lee = api.user("lee", "safeguarding_lead")
    cat = api.user("cat", "coordinator")
    case = open_case(lee)
    other = open_case(lee, subject={"kind": "member", "ref": "forum-member-2"})
    for i in range(5):
        note = {"kind": "note", "text": f"Checked the thread again ({i})."}
        assert lee.post(f"/api/v1/cases/{case['id']}/notes", json=note).status_code == 201
    assert lee.get(f"/api/v1/cases/{case['id']}").status_code == 200
    assert cat.get(f"/api/v1/cases/{case['id']}").status_code == 200
    assert cat.get(f"/api/v1/cases/{other['id']}").status_code == 200
    api.vigil.integrity.notary.catch_up()  # the notary runs in `vigil serve`; not in this server
    auditor, _ = person(api, "ava", "auditor")
    audra = api.user("audra", "auditor")  # the API, as an auditor reads it

    # When the auditor opens the audit page (nav item "Audit")
    assert '<a href="/ui/audit"' in auditor.get("/ui/").text
    with api.writes_nothing():
        page = auditor.get("/ui/audit")
    assert page.status_code == 200, page.text
    text = page.text

    # Then it says, in plain words, that the hash ledger is intact, and which checkpoint is latest
    verification = _section(text, "verification")
    assert "The hash ledger is intact" in verification
    checkpoints = audra.get("/api/v1/audit/checkpoints").json()["items"]
    assert len(checkpoints) >= 2
    latest = checkpoints[0]
    assert f"Latest signed checkpoint: the first {latest['tree_size']:,} events" in verification
    assert "its signature verifies" in verification
    assert "Last verified:" in verification
    # And lists the checkpoints newest first, each signed and extending the one before
    listed = _section(text, "checkpoints")
    for checkpoint in checkpoints[:3]:
        assert checkpoint["root_hash"] in listed
    assert listed.index(checkpoints[0]["root_hash"]) < listed.index(checkpoints[1]["root_hash"])
    assert "signature verifies" in listed
    assert "(consistency proof verified)" in listed
    assert "does not verify" not in text

    # And the access log lists the reads the API lists
    entries = audra.get("/api/v1/audit/access").json()["items"]
    log = _section(text, "access-log")
    assert log.count('<li class="card">') == len(entries) == 3
    assert "cat (coordinator) · read case" in log

    # Filtered by person, and by case
    by_cat = _section(auditor.get("/ui/audit", params={"user": "cat"}).text, "access-log")
    assert by_cat.count('<li class="card">') == 2
    assert "lee (" not in by_cat
    by_case = auditor.get("/ui/audit", params={"user": "cat", "case_id": other["id"]}).text
    assert _section(by_case, "access-log").count('<li class="card">') == 1
    by_day = auditor.get("/ui/audit", params={"from": "2026-11-18", "to": "2026-11-19"}).text
    assert "No entries match." in by_day

    # A filter that is not one is refused on the page, writing nothing
    with api.writes_nothing():
        bad = auditor.get("/ui/audit", params={"case_id": "the insulin thread"})
    assert bad.status_code == 422
    assert "Not shown:" in bad.text


def test_the_whole_log_is_verified_on_request(api: Api) -> None:
    lee = api.user("lee", "safeguarding_lead")
    open_case(lee)
    api.vigil.integrity.notary.catch_up()
    auditor, _ = person(api, "ava", "auditor")

    token = csrf_of(auditor.get("/ui/audit"))
    with api.writes_nothing():
        page = auditor.post("/ui/audit/verification", data={"csrf_token": token})

    assert page.status_code == 200, page.text
    verification = _section(page.text, "verification")
    assert "the whole log matches it" in verification
    assert "no fault found" in verification


def test_only_those_the_api_lets_read_the_ledger_or_the_access_log_see_the_page(
    api: Api,
) -> None:
    volunteer, _ = person(api, "vic", "volunteer")
    coordinator, _ = person(api, "cat", "coordinator")
    lead, _ = person(api, "lee", "safeguarding_lead")

    with api.writes_nothing():
        refused = [volunteer.get("/ui/audit"), coordinator.get("/ui/audit")]
    for page in refused:
        assert page.status_code == 403, page.text
        assert "Only auditors and safeguarding leads" in page.text
        assert 'id="access-log"' not in page.text
    assert '<a href="/ui/audit"' not in volunteer.get("/ui/").text
    # As the API: a volunteer may not read the access log or the checkpoints
    vic_api = api.user("vera", "volunteer")
    assert vic_api.get("/api/v1/audit/access").status_code == 403
    assert vic_api.get("/api/v1/audit/checkpoints").status_code == 403

    # A safeguarding lead reads both
    page = lead.get("/ui/audit")
    assert page.status_code == 200
    assert 'id="access-log"' in page.text
    assert 'id="verification"' in page.text
