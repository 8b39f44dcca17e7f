"""``vigil rota``, run as a user runs it (a separate process, configured by VIGIL_*): a weekly
pattern planned from the command line, then listed; bad input is refused and plans nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from domain.shared import Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from tests.integration.test_cli import vigil as run_vigil

LONDON = ZoneInfo("Europe/London")


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


def next_weekday(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7 or 7)


def test_a_weekly_pattern_planned_and_listed_from_the_command_line(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    store.identity.register("casey", Role.COORDINATOR, actor="cli")
    store.identity.register("kit", Role.VOLUNTEER, actor="cli")
    first = next_weekday(datetime.now(LONDON).date(), 0)  # next Monday: nothing started yet
    last = first + timedelta(days=13)  # two weeks: two Tuesdays, two Saturdays

    planned = run_vigil(
        env,
        tmp_path,
        "rota",
        "plan",
        "--role",
        "on_call",
        "--assignee",
        "kit",
        "--weekly",
        "tue=19:00-23:00,sat=20:00-23:00",
        "--from",
        first.isoformat(),
        "--until",
        last.isoformat(),
        "--by",
        "casey",
    )

    assert planned.returncode == 0, planned.stderr
    lines = planned.stdout.splitlines()
    assert len(lines) == 4
    assert "Planned 4 shift(s) for kit" in planned.stderr
    for line in lines:
        start, end, service, role, who, status, shift_id = line.split("\t")
        # Local times in the service's zone: 19:00 or 20:00 whatever the offset that day.
        assert datetime.fromisoformat(start).strftime("%H:%M") in ("19:00", "20:00")
        assert datetime.fromisoformat(end).strftime("%H:%M") == "23:00"
        assert (service, role, who, status) == ("default", "on_call", "kit", "planned")
        state = store.shifts.get(UUID(shift_id))
        assert state.assignee == "kit"
        assert store.shifts.events(state.id)[0].actor == "casey"

    listed = run_vigil(
        env, tmp_path, "rota", "list", "--from", first.isoformat(), "--to", last.isoformat()
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == lines
    theirs = run_vigil(
        env, tmp_path, "rota", "list", "--from", first.isoformat(), "--assignee", "casey"
    )
    assert (theirs.returncode, theirs.stdout) == (0, "")

    # Refused, planning nothing: a weekly pattern that cannot be read, a user who may not plan,
    # a pattern whose shifts have started.
    before = store.event_log.recorder.max_notification_id()
    bad = run_vigil(
        env, tmp_path, "rota", "plan", "--role", "host", "--assignee", "kit",
        "--weekly", "tuesday 7pm", "--from", first.isoformat(), "--until", last.isoformat(),
    )  # fmt: skip
    assert bad.returncode == 2
    assert "--weekly" in bad.stderr
    not_a_lead = run_vigil(
        env, tmp_path, "rota", "plan", "--role", "host", "--assignee", "kit",
        "--weekly", "sun=10:00-12:00", "--from", first.isoformat(), "--until", last.isoformat(),
        "--by", "kit",
    )  # fmt: skip
    assert not_a_lead.returncode == 1
    assert "may not plan" in not_a_lead.stderr
    past = run_vigil(
        env, tmp_path, "rota", "plan", "--role", "host", "--assignee", "kit",
        "--weekly", "mon=00:00-01:00", "--from", (first - timedelta(days=7)).isoformat(),
        "--until", first.isoformat(),
    )  # fmt: skip
    assert past.returncode == 1
    assert "has started" in past.stderr
    assert store.event_log.recorder.max_notification_id() == before
