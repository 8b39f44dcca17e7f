"""`vigil users ...` beyond add and token: grant, revoke, revoke-token, deactivate, reactivate,
list, token expiry; and `vigil permissions`. Run as a user runs them, in a separate process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from domain.access.permissions import permission_table_markdown
from domain.identity.events import RoleGranted
from domain.shared import Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from tests.integration import test_cli
from tests.integration.test_cli import TOKEN, assert_clean_refusal, last_line, vigil

# The CLI's environment as test_cli builds it: a store of the test's own.
env = pytest.fixture(test_cli.env.__wrapped__)  # type: ignore[attr-defined]


@pytest.fixture
def store(env: dict[str, str]) -> Iterator[Vigil]:
    """The same store as the CLI's, data directory (and so any key kept there) included."""
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=env["VIGIL_DATABASE_URL"],
        data_dir=Path(env["VIGIL_DATA_DIR"]),
    )
    app = bootstrap(settings)
    try:
        yield app
    finally:
        app.close()


def appended(store: Vigil) -> int:
    return store.event_log.recorder.max_notification_id() or 0


def test_roles_are_granted_and_revoked_from_the_command_line(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    assert vigil(env, tmp_path, "users", "add", "kit", "--role", "coordinator").returncode == 0

    granted = vigil(env, tmp_path, "users", "grant", "kit", "safeguarding_lead")
    assert granted.returncode == 0, granted.stderr
    assert "safeguarding_lead,coordinator" in granted.stderr
    kit = store.identity.get("kit")
    assert kit is not None
    assert kit.roles == {Role.COORDINATOR, Role.SAFEGUARDING_LEAD}

    revoked = vigil(env, tmp_path, "users", "revoke", "kit", "coordinator")
    assert revoked.returncode == 0, revoked.stderr
    kit = store.identity.get("kit")
    assert kit is not None
    assert kit.roles == {Role.SAFEGUARDING_LEAD}

    before = appended(store)
    assert_clean_refusal(
        vigil(env, tmp_path, "users", "revoke", "kit", "safeguarding_lead"), "at least one role"
    )
    assert_clean_refusal(vigil(env, tmp_path, "users", "grant", "kit", "captain"), "captain")
    assert appended(store) == before


def test_a_token_with_an_expiry_and_its_revocation_by_id(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    assert vigil(env, tmp_path, "users", "add", "kit", "--role", "coordinator").returncode == 0

    issued = vigil(env, tmp_path, "users", "token", "kit", "--expires-in", "90d")

    assert issued.returncode == 0, issued.stderr
    token = last_line(issued.stdout)
    assert TOKEN.match(token)
    assert store.identity.authenticate(token) is not None
    kit = store.identity.get("kit")
    assert kit is not None
    newest = kit.tokens[-1]
    assert newest.expires_at is not None
    assert newest.expires_at - newest.issued_at == timedelta(days=90)
    assert str(newest.token_id) in issued.stderr

    listed = vigil(env, tmp_path, "users", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (record,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert record["username"] == "kit"
    assert str(newest.token_id) in [t["token_id"] for t in record["live_tokens"]]
    assert token not in listed.stdout

    revoked = vigil(env, tmp_path, "users", "revoke-token", "kit", str(newest.token_id))
    assert revoked.returncode == 0, revoked.stderr
    assert store.identity.authenticate(token) is None

    assert_clean_refusal(
        vigil(env, tmp_path, "users", "token", "kit", "--expires-in", "soon"), "invalid duration"
    )
    assert_clean_refusal(
        vigil(env, tmp_path, "users", "revoke-token", "kit", str(uuid4())), "no token"
    )


def test_deactivation_from_the_command_line_keeps_the_last_admin(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    assert vigil(env, tmp_path, "users", "add", "alex", "--role", "admin").returncode == 0
    added = vigil(env, tmp_path, "users", "add", "kit", "--role", "coordinator")
    token = last_line(added.stdout)

    assert vigil(env, tmp_path, "users", "deactivate", "kit").returncode == 0
    assert store.identity.authenticate(token) is None
    assert_clean_refusal(vigil(env, tmp_path, "users", "deactivate", "alex"), "last active admin")

    assert vigil(env, tmp_path, "users", "reactivate", "kit").returncode == 0
    listed = vigil(env, tmp_path, "users", "list")
    assert listed.stdout.splitlines() == [
        "alex  admin  active  tokens: " + str(store.identity.get("alex").tokens[0].token_id),  # type: ignore[union-attr]
        "kit  coordinator  active  tokens: none",
    ]


def test_the_permission_table_is_printed_for_the_readme(
    env: dict[str, str], tmp_path: Path
) -> None:
    printed = vigil(env, tmp_path, "permissions", "--markdown")

    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == permission_table_markdown()


def test_a_case_role_someone_gave_themselves_before_the_second_person_rule_is_listed(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    # Given Alex, an admin, gave herself the lead role before a second person was needed (the
    # event as that version stored it: in force at once, Alex its actor),
    assert vigil(env, tmp_path, "users", "add", "alex", "--role", "admin").returncode == 0
    assert vigil(env, tmp_path, "users", "add", "kit", "--role", "coordinator").returncode == 0
    alex = store.identity.get("alex")
    assert alex is not None
    store.event_log.save(
        RoleGranted(
            originator_id=alex.id,
            originator_version=alex.version + 1,
            event_id=uuid4(),
            recorded_at=alex.registered_at,
            actor="alex",
            role=Role.SAFEGUARDING_LEAD,
        )
    )

    # when the users are listed, then that role is flagged, and the host operator's are not;
    listed = vigil(env, tmp_path, "users", "list")
    as_json = vigil(env, tmp_path, "users", "list", "--json")

    [alex_line, kit_line] = listed.stdout.splitlines()
    assert "safeguarding_lead granted alone by themselves" in alex_line
    assert "granted alone" not in kit_line
    records = {r["username"]: r for r in map(json.loads, as_json.stdout.splitlines())}
    assert records["alex"]["granted_alone"] == [{"role": "safeguarding_lead", "by": "alex"}]
    assert records["kit"]["granted_alone"] == []
    # and revoking it, as docs/access.md says, ends it (the history stays).
    assert vigil(env, tmp_path, "users", "revoke", "alex", "safeguarding_lead").returncode == 0
    relisted = vigil(env, tmp_path, "users", "list", "--json").stdout.splitlines()
    assert json.loads(relisted[0])["granted_alone"] == []
