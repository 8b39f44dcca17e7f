"""The ``vigil`` command line, run as a user runs it: a separate process, configured by VIGIL_*.

Each test points the CLI at a store of its own (a SQLite file, or a PostgreSQL schema)
and then checks what it wrote through a fresh bootstrap of the same store.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from application.demo import DEMO_USERS
from domain.shared import Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap

REPO = Path(__file__).resolve().parents[2]
TOKEN = re.compile(r"^vgl_[0-9a-f]{32}_[A-Za-z0-9_-]{20,}$")


def vigil_command() -> list[str]:
    script = shutil.which("vigil", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "interfaces.cli"]


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a user's shell, minus any VIGIL_* of the developer running the tests."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    return {
        **clean,
        "VIGIL_DATABASE_URL": database_url,
        "VIGIL_DATA_DIR": str(tmp_path / "data"),
        "VIGIL_LOG_JSON": "true",
    }


def vigil(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # cwd is a temporary directory, so no .env file of the repository is read.
    return subprocess.run(
        [*vigil_command(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[Vigil]:
    """A fresh bootstrap of the store the CLI writes to, for checking what it wrote (with the
    CLI's data directory, so both use the same master and signing keys)."""
    app = bootstrap(
        Settings(
            _env_file=None,
            environment="test",
            database_url=database_url,
            data_dir=tmp_path / "data",
        )
    )
    try:
        yield app
    finally:
        app.close()


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def assert_clean_refusal(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode in (1, 2), result
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_users_add_prints_a_token_that_authenticates_as_the_last_line(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    result = vigil(env, tmp_path, "users", "add", "Kit.Coordinator", "--role", "coordinator")

    assert result.returncode == 0, result.stderr
    token = last_line(result.stdout)
    assert TOKEN.match(token)
    actor = store.identity.authenticate(token)
    assert actor is not None
    assert (actor.username, actor.role) == ("kit.coordinator", Role.COORDINATOR)


def test_users_token_issues_another_token_for_an_existing_user(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    first = last_line(
        vigil(env, tmp_path, "users", "add", "jo.lead", "--role", "safeguarding_lead").stdout
    )

    result = vigil(env, tmp_path, "users", "token", "jo.lead")

    assert result.returncode == 0, result.stderr
    second = last_line(result.stdout)
    assert TOKEN.match(second)
    assert second != first
    for token in (first, second):
        actor = store.identity.authenticate(token)
        assert actor is not None
        assert (actor.username, actor.role) == ("jo.lead", Role.SAFEGUARDING_LEAD)


def test_refusals_are_one_clear_line_and_write_nothing(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    assert vigil(env, tmp_path, "users", "add", "sam.host", "--role", "volunteer").returncode == 0
    written = store.event_log.recorder.max_notification_id()

    assert_clean_refusal(
        vigil(env, tmp_path, "users", "add", "sam.host", "--role", "moderator"), "already exists"
    )
    assert_clean_refusal(vigil(env, tmp_path, "users", "token", "nobody.here"), "no user")
    assert_clean_refusal(
        vigil(env, tmp_path, "users", "add", "Not A Name", "--role", "admin"), "invalid username"
    )
    assert_clean_refusal(
        vigil(env, tmp_path, "users", "add", "new.one", "--role", "superuser"), "--role"
    )
    assert_clean_refusal(
        vigil({**env, "VIGIL_TIMEZONE": "Mars/Olympus"}, tmp_path, "users", "token", "sam.host"),
        "VIGIL_TIMEZONE",
    )
    assert store.event_log.recorder.max_notification_id() == written


def test_demo_fills_an_empty_store_and_prints_one_line_per_user(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    result = vigil(env, tmp_path, "demo")

    assert result.returncode == 0, result.stderr
    lines = [line.split(" ") for line in result.stdout.strip().splitlines()]
    assert [(name, role) for name, role, _ in lines] == [
        (u.username, u.role.value) for u in DEMO_USERS
    ]
    for name, role, token in lines:
        actor = store.identity.authenticate(token)
        assert actor is not None
        assert (actor.username, actor.role.value) == (name, role)
    assert (store.event_log.recorder.max_notification_id() or 0) > 0
    case_ids = {
        n.originator_id
        for n in store.event_log.recorder.select_notifications(start=1, limit=10_000)
        if n.topic.endswith(":CaseOpened")
    }
    assert len(case_ids) >= 5
    for case_id in case_ids:
        assert isinstance(case_id, UUID)
        assert store.cases.get(case_id).version > 1
    # Tokens are output, never log lines.
    assert "vgl_" not in result.stderr


def test_demo_refuses_a_store_that_is_not_empty_unless_told_to_skip(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    assert vigil(env, tmp_path, "users", "add", "real.user", "--role", "admin").returncode == 0
    written = store.event_log.recorder.max_notification_id()

    refused = vigil(env, tmp_path, "demo")
    skipped = vigil(env, tmp_path, "demo", "--if-empty")

    assert_clean_refusal(refused, "only fills an empty store")
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stdout == ""
    assert "vigil users token" in skipped.stderr
    assert store.event_log.recorder.max_notification_id() == written


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@contextmanager
def serving(env: dict[str, str], cwd: Path, log: Path, timeout: float = 60) -> Iterator[str]:
    """`vigil serve` on a free port, as a user starts it, until it answers /health; yields its
    base URL and stops it afterwards (its output goes to ``log``)."""
    port = free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            [*vigil_command(), "serve", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                assert server.poll() is None, "vigil serve exited early"
                try:
                    if get(f"{base}/health")[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"vigil serve did not answer in {timeout} s"
                time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_serve_answers_health_and_logs_json_without_tokens(
    env: dict[str, str], tmp_path: Path
) -> None:
    token = last_line(vigil(env, tmp_path, "users", "add", "ana.audit", "--role", "auditor").stdout)
    log = tmp_path / "serve.log"
    with serving(env, tmp_path, log) as base:
        unknown_case = f"{base}/api/v1/cases/{uuid4()}"
        assert get(unknown_case, token)[0] == 404  # authenticated, then not found
        assert get(unknown_case, "vgl_wrong")[0] == 401
    output = log.read_text()

    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any(line.get("url") == base for line in lines), output
    assert any(line.get("request_id") for line in lines), output
    # vgl_<user id hex>_<secret>; the secret itself may contain "_".
    secret = token.split("_", 2)[2]
    assert len(secret) >= 40
    assert secret not in output


def test_env_example_lists_every_setting() -> None:
    example = (REPO / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?VIGIL_([A-Z0-9_]+)=", example, flags=re.MULTILINE))

    assert listed == {name.upper() for name in Settings.model_fields}
