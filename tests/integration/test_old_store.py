"""A store written by an earlier release still reads the same and still verifies.

``tests/fixtures/store-225a4cc`` was written by the release before issue 12's refactor (commit
225a4cc) with ``tests/fixtures/make_old_store.py``: the demo, a break-glass grant and its review,
a legal hold, an erasure, snapshots, signed checkpoints, and the answers that release gave to
every read below. Event and snapshot classes are stored by topic (``module:Class``), views by
name and the keys beside the log, so a class moved without registering its old topic, a view
that no longer reads its old rows or a key that no longer opens its fields fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from interfaces.http import create_app
from tests.conftest import Clock

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-225a4cc"
NEW_QUEUES = ["flags_awaiting_action"]
"""Queues added after the fixture's release, listed after its own."""
EXPECTED: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text())
VIGIL = Path(sys.executable).with_name("vigil")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the fixture (never the committed files: reads append to the access log), with
    the owner-only modes Vigil gives its own files (git keeps none)."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    for name in ("vigil.db", "master.key", "signing-key.pem"):
        shutil.copyfile(FIXTURE / name, data / name)
        (data / name).chmod(0o600)
    return data


@pytest.fixture
def old_store(data_dir: Path) -> Iterator[Vigil]:
    settings = Settings(_env_file=None, environment="test", data_dir=data_dir, log_json=True)
    # The clock stands where it stood when the answers were recorded: queues judge overdue
    # and break-glass grants expire against it.
    vigil = bootstrap(settings, clock=Clock(datetime.fromisoformat(EXPECTED["clock"])))
    try:
        yield vigil
    finally:
        vigil.close()


def test_every_read_of_an_old_store_answers_as_the_old_release_did(
    old_store: Vigil, tmp_path: Path, data_dir: Path
) -> None:
    tokens: dict[str, str] = EXPECTED["tokens"]
    exports: list[Path] = []
    with TestClient(create_app(old_store)) as client:
        for read in EXPECTED["reads"]:
            user, path = read["user"], read["path"]
            answer = client.get(path, headers={"Authorization": f"Bearer {tokens[user]}"})
            assert answer.status_code == read["status"], (user, path, answer.text)
            body = answer.json()
            if "/export?" in path:
                # Proved against the latest checkpoint, which moves on: the same events, leaf
                # hashes and places, and proofs checked offline below.
                exports.append(tmp_path / f"export-{len(exports)}.json")
                exports[-1].write_text(answer.text)
                assert_still_says(shaped_export(body), read["body"], (user, path))
            elif path.split("?")[0] == "/api/v1/queues":
                # Queues added since (issue 15: flags_awaiting_action) come after the old ones,
                # which answer as they did.
                old = read["body"]["items"]
                assert [q["name"] for q in body["items"][len(old) :]] == NEW_QUEUES
                assert_still_says({**body, "items": body["items"][: len(old)]}, read["body"], path)
            elif path.startswith("/api/v1/audit/access"):
                # Reads logged since (the fixture's own later ones, this test's) come after.
                old = read["body"]["items"]
                assert_still_says(body["items"][: len(old)], old, path)
            else:
                assert_still_says(body, read["body"], (user, path))
        public_key = tmp_path / "ledger.pub"
        answer = client.get(
            "/api/v1/audit/public-key",
            headers={"Authorization": f"Bearer {tokens['morgan.auditor']}"},
        )
        public_key.write_text(answer.json()["public_key_pem"])
    assert exports
    for export in exports:
        checked = vigil_cli("verify-export", str(export), "--public-key", str(public_key))
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_vigil_verify_passes_on_an_old_store(data_dir: Path) -> None:
    checked = vigil_cli("verify", "--no-progress", data_dir=data_dir)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def assert_still_says(new: Any, old: Any, where: object) -> None:
    """``new`` says everything ``old`` said, unchanged: the public contract may gain fields (an
    object may carry more keys), never lose or change one, nor add or drop a list's items."""
    if isinstance(old, dict):
        assert isinstance(new, dict), where
        missing = sorted(set(old) - set(new))
        assert missing == [], (where, missing)
        for key, value in old.items():
            assert_still_says(new[key], value, (where, key))
    elif isinstance(old, list):
        assert isinstance(new, list), where
        assert len(new) == len(old), (where, new, old)
        for index, (new_item, old_item) in enumerate(zip(new, old, strict=True)):
            assert_still_says(new_item, old_item, (where, index))
    else:
        assert new == old, (where, new, old)


def shaped_export(body: dict[str, Any]) -> dict[str, Any]:
    """An export as the fixture keeps it (``make_old_store.kept``)."""
    return {
        "case_id": body["case_id"],
        "format": body["format"],
        "leaf_format": body["leaf_format"],
        "events": [
            {k: event[k] for k in ("entry", "leaf_hash", "leaf_index", "notification_id")}
            for event in body["events"]
        ],
    }


def vigil_cli(*args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env["VIGIL_LOG_LEVEL"] = "warning"
    if data_dir is not None:
        env["VIGIL_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [str(VIGIL), *args],
        cwd=data_dir or FIXTURE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
