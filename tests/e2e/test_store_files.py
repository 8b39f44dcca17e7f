"""What Vigil creates on disk is its own user's alone: the data directory 0700, the SQLite
store and the -wal and -shm files beside it 0600, like the key files, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_cli import serving


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    # What `vigil serve` started from a careless shell or service unit inherits: without care,
    # the files it makes are readable (and the directories searchable) by every local user.
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
def test_a_fresh_store_and_its_data_directory_are_readable_by_their_owner_only(
    database_url: str, tmp_path: Path
) -> None:
    # Given a data directory that does not exist yet (nor its parent), and on SQLite the
    # default store inside it
    data = tmp_path / "srv" / "data"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")},
        "VIGIL_DATA_DIR": str(data),
    }
    on_sqlite = database_url.startswith("sqlite")
    if not on_sqlite:
        env["VIGIL_DATABASE_URL"] = database_url

    # When `vigil serve` starts on it (and has the store open)
    with serving(env, tmp_path, tmp_path / "serve.log"):
        made = {path.name: mode(path) for path in data.iterdir()}

    # Then the directories it made are 0700 and every file in them 0600
    assert mode(data) == 0o700
    assert mode(data.parent) == 0o700
    assert made, "vigil serve made nothing in its data directory"
    assert made == dict.fromkeys(made, 0o600)
    if on_sqlite:
        assert {"vigil.db", "vigil.db-wal", "vigil.db-shm"} <= made.keys()
    assert "master.key" in made
