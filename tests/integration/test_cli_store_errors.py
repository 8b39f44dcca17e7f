"""What the command line says when it cannot reach its store, and what `vigil verify` says before
anything is signed: run as a user runs it, a separate process configured by VIGIL_*.

Each reason is one line naming what is wrong and where, with exit 1 (the store refused or is
out of reach), never the pool's "couldn't get a connection" nor a traceback.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse
from uuid import uuid4

import pytest

from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, postgres_available
from tests.integration.test_cli import vigil


def clean_env(**settings: str) -> dict[str, str]:
    """A user's shell with only these VIGIL_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    return {**clean, "VIGIL_LOG_JSON": "true", **settings}


def assert_one_line_refusal(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr, result.stderr
    assert result.stdout == ""


@pytest.fixture
def postgres_server() -> tuple[str, int]:
    if not postgres_available():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but {POSTGRES_URL} is not reachable")
        pytest.skip("PostgreSQL not reachable")
    parsed = urlparse(POSTGRES_URL)
    return parsed.hostname or "127.0.0.1", parsed.port or 5432


def test_a_missing_database_is_named(postgres_server: tuple[str, int], tmp_path: Path) -> None:
    # Given a URL naming a database the server does not have
    host, port = postgres_server
    name = f"vigil_missing_{uuid4().hex[:8]}"
    env = clean_env(
        VIGIL_DATABASE_URL=f"postgresql://postgres@{host}:{port}/{name}",
        VIGIL_DATA_DIR=str(tmp_path / "data"),
    )
    # When a command opens the store, then it names the database and the server
    assert_one_line_refusal(
        vigil(env, tmp_path, "status"), f'database "{name}" does not exist on {host}:{port}'
    )


def test_a_missing_role_is_named(postgres_server: tuple[str, int], tmp_path: Path) -> None:
    host, port = postgres_server
    role = f"vigil_nobody_{uuid4().hex[:8]}"
    env = clean_env(
        VIGIL_DATABASE_URL=f"postgresql://{role}@{host}:{port}/postgres",
        VIGIL_DATA_DIR=str(tmp_path / "data"),
    )
    assert_one_line_refusal(
        vigil(env, tmp_path, "status"), f'role "{role}" does not exist on {host}:{port}'
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_nothing_listening_is_named(tmp_path: Path) -> None:
    # Given a URL naming a port where no server listens
    port = free_port()
    env = clean_env(
        VIGIL_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/vigil",
        VIGIL_DATA_DIR=str(tmp_path / "data"),
    )
    assert_one_line_refusal(
        vigil(env, tmp_path, "status"), f"nothing is listening at 127.0.0.1:{port}"
    )


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """The directory made unwritable, for root too (immutable), then restored."""
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(directory)]).returncode != 0:
            pytest.skip("cannot make a directory read-only for root here (no chattr +i)")
        try:
            yield
        finally:
            subprocess.run([chattr, "-i", str(directory)], check=True)
    else:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)


def test_a_read_only_data_directory_is_named(tmp_path: Path) -> None:
    # Given an embedded store whose data directory can no longer be written
    data = tmp_path / "data"
    env = clean_env(VIGIL_DATA_DIR=str(data))
    assert vigil(env, tmp_path, "users", "add", "ann.admin", "--role", "admin").returncode == 0
    with read_only(data):
        # When a command opens the store, then it says which directory, not a traceback
        assert_one_line_refusal(
            vigil(env, tmp_path, "status"), f"cannot write to the data directory {data}"
        )


def test_a_data_directory_under_a_file_is_named(tmp_path: Path) -> None:
    # A path whose parent is a regular file cannot be made, by root neither
    (tmp_path / "a-file").write_text("not a directory\n")
    data = tmp_path / "a-file" / "data"
    env = clean_env(VIGIL_DATA_DIR=str(data))
    assert_one_line_refusal(
        vigil(env, tmp_path, "status"),
        f"cannot create the data directory {data}: not a directory",
    )


def test_verify_before_the_first_checkpoint_says_nothing_is_signed_yet(
    database_url: str, tmp_path: Path
) -> None:
    # Given a store with events, and no checkpoint signed yet (no server has run)
    env = clean_env(VIGIL_DATABASE_URL=database_url, VIGIL_DATA_DIR=str(tmp_path / "data"))
    assert vigil(env, tmp_path, "users", "add", "ann.admin", "--role", "admin").returncode == 0
    # When the log is verified
    result = vigil(env, tmp_path, "verify", "--no-progress")
    # Then the events are checked, and it says there is nothing signed yet: no fault
    assert result.returncode == 0, result
    assert result.stdout.startswith("OK: "), result.stdout
    assert "Nothing is signed yet" in result.stdout
    assert "Traceback" not in result.stderr


def test_db_init_names_nothing_listening_in_one_line(tmp_path: Path) -> None:
    # The owner's first step, before any other command: the same one line
    port = free_port()
    env = clean_env(
        VIGIL_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/vigil",
        VIGIL_DATA_DIR=str(tmp_path / "data"),
    )
    assert_one_line_refusal(
        vigil(env, tmp_path, "db", "init"), f"nothing is listening at 127.0.0.1:{port}"
    )
