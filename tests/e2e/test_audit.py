"""An auditor, over real HTTP: fetches the ledger's public key, exports a case, and checks the
export offline with `vigil verify-export`; lists checkpoints and checks that a later one extends
an earlier one. Other roles are refused."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.integrity.merkle import verify_consistency
from infrastructure.settings import Settings
from interfaces.cli import app
from tests.e2e.support import Api, assert_problem, open_case


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


def test_an_auditor_exports_a_case_and_checks_it_offline(api: Api, tmp_path: Path) -> None:
    lead = api.user("priya.lead", "safeguarding_lead")
    auditor = api.user("amal.auditor", "auditor")
    case = open_case(lead)
    for text in ("Member replied to our message.", "Agreed a call at 10:00."):
        note = lead.post(f"/api/v1/cases/{case['id']}/notes", json={"kind": "fact", "text": text})
        assert note.status_code == 201, note.text

    key = auditor.get("/api/v1/audit/public-key")
    export = auditor.get(f"/api/v1/cases/{case['id']}/export")

    assert key.status_code == 200, key.text
    assert export.status_code == 200, export.text
    body = export.json()
    assert body["format"] == "vigil-case-export/v1"
    assert [e["version"] for e in body["events"]] == [1, 2, 3]
    assert [e["entry"]["type"] for e in body["events"]] == ["CaseOpened", "NoteAdded", "NoteAdded"]
    assert body["checkpoint"]["key_id"] == key.json()["key_id"]
    (tmp_path / "export.json").write_text(export.text)
    (tmp_path / "ledger.pub").write_text(key.json()["public_key"])  # raw base64 works too
    checked = CliRunner().invoke(
        app,
        [
            "verify-export",
            str(tmp_path / "export.json"),
            "--public-key",
            str(tmp_path / "ledger.pub"),
        ],
    )
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith("OK: 3 events of case"), checked.output

    # The same file with one event's stored bytes changed: refused, naming the event.
    changed = json.loads(export.text)
    state = bytearray(base64.b64decode(changed["events"][1]["stored"]["state"]))
    state[-3] ^= 0x02
    changed["events"][1]["stored"]["state"] = base64.b64encode(bytes(state)).decode()
    (tmp_path / "changed.json").write_text(json.dumps(changed))
    refused = CliRunner().invoke(
        app,
        [
            "verify-export",
            str(tmp_path / "changed.json"),
            "--public-key",
            str(tmp_path / "ledger.pub"),
        ],
    )
    assert refused.exit_code == 1, refused.output
    assert "event version 2" in refused.stdout, refused.output


def test_checkpoints_page_newest_first_and_each_extends_the_last(api: Api) -> None:
    lead = api.user("priya.lead", "safeguarding_lead")
    case = open_case(lead)
    for i in range(7):
        note = {"kind": "note", "text": f"Checked the thread again ({i})."}
        assert lead.post(f"/api/v1/cases/{case['id']}/notes", json=note).status_code == 201
    api.vigil.integrity.notary.catch_up()  # the notary runs in `vigil serve`; not in this server

    first = lead.get("/api/v1/audit/checkpoints", params={"limit": 1})
    second = lead.get(
        "/api/v1/audit/checkpoints", params={"limit": 1, "cursor": first.json()["next_cursor"]}
    )

    assert first.status_code == 200, first.text
    [newer] = first.json()["items"]
    [older] = second.json()["items"]
    assert newer["tree_size"] > older["tree_size"]
    proof = lead.get(
        "/api/v1/audit/consistency",
        params={"first": older["tree_size"], "second": newer["tree_size"]},
    )
    assert proof.status_code == 200, proof.text
    verify_consistency(
        older["tree_size"],
        newer["tree_size"],
        base64.b64decode(older["root_hash"]),
        base64.b64decode(newer["root_hash"]),
        [base64.b64decode(p) for p in proof.json()["proof"]],
    )


def test_only_auditors_and_leads_read_the_ledger_and_bad_input_is_refused(api: Api) -> None:
    coordinator = api.user("kit.coordinator", "coordinator")
    auditor = api.user("amal.auditor", "auditor")
    case = open_case(coordinator)

    with api.writes_nothing():
        assert_problem(coordinator.get("/api/v1/audit/public-key"), 403, "not-permitted")
        assert_problem(coordinator.get(f"/api/v1/cases/{case['id']}/export"), 403, "not-permitted")
        assert api.client().get("/api/v1/audit/checkpoints").status_code == 401
        assert_problem(
            auditor.get("/api/v1/audit/checkpoints", params={"cursor": "newest"}),
            422,
            "invalid-input",
            errors=["cursor"],
        )
        assert_problem(
            auditor.get("/api/v1/audit/consistency", params={"first": 5, "second": 2}),
            422,
            "invalid-input",
        )
        assert_problem(
            auditor.get("/api/v1/cases/00000000-0000-4000-8000-000000000000/export"),
            404,
            "case-not-found",
        )
