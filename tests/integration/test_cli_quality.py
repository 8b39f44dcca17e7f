"""``vigil quality scorecards``, run as a user runs it (a separate process, configured by
VIGIL_*): the default scorecard listed without being recorded, then a scheduled version beside
the one in force."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.quality.commands import VersionScorecard
from domain.shared import Actor, Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from tests.integration.test_cli import vigil as run_vigil


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    return {
        **clean,
        "VIGIL_DATABASE_URL": database_url,
        "VIGIL_DATA_DIR": str(tmp_path / "data"),
        "VIGIL_LOG_JSON": "true",
    }


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[Vigil]:
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


def test_the_scorecard_versions_listed_from_the_command_line(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    # Given a fresh store: the default is listed, in force, and listing it records nothing
    listed = run_vigil(env, tmp_path, "quality", "scorecards")
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert line.split("\t") == [
        "1",
        "1900-01-01T00:00:00+00:00",
        "70",
        "7 criteria (2 critical)",
        "Helpline quality review",
        "in force",
    ]
    assert "not yet recorded" in listed.stderr
    assert (store.event_log.recorder.max_notification_id() or 0) == 0

    # When a lead schedules a version for next month
    next_month = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    command = VersionScorecard(
        name="Chat review",
        criteria=[
            {
                "key": "risk_asked",
                "label": "Risk asked about directly",
                "weight": 3,
                "max_score": 2,
                "critical": True,
                "safeguarding": True,
            }
        ],
        pass_mark=75,
        effective_from=next_month,
        rationale="Chat contacts now outnumber calls: a shorter card for them.",
    )
    store.scorecards.add_version(command, Actor(username="lee", role=Role.SAFEGUARDING_LEAD))

    # Then both are listed, the default still in force and the new one scheduled, with criteria
    listed = run_vigil(env, tmp_path, "quality", "scorecards", "--criteria")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    versions = [line.split("\t") for line in lines if not line.startswith("\t")]
    assert [(v[0], v[-1]) for v in versions] == [("1", "in force"), ("2", "scheduled")]
    assert versions[1][1] == next_month.isoformat()
    assert lines[-1].split("\t") == [
        "",
        "risk_asked",
        "weight 3",
        "0-2",
        "critical,safeguarding",
        "Risk asked about directly",
    ]
    assert listed.stderr.strip() == "2 version(s)."
