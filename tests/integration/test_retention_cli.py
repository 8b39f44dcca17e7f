"""`vigil retention`: a dry run lists what is due and writes nothing; --apply erases it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from domain.case import commands as c
from domain.case.vocabulary import CaseSource, Category
from domain.personal import ERASED
from domain.subject.subject import PlaceLegalHold
from infrastructure.settings import Settings
from interfaces.composition import bootstrap
from tests.conftest import Clock
from tests.integration.test_cli import env, vigil  # noqa: F401 - the env fixture
from tests.story import COORDINATOR, LEAD

LONG_AGO = datetime(2015, 3, 2, 10, 0, tzinfo=UTC)


def test_retention_dry_run_then_apply(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=env["VIGIL_DATABASE_URL"],
        data_dir=Path(env["VIGIL_DATA_DIR"]),
    )
    store = bootstrap(settings, clock=Clock(LONG_AGO))
    try:
        ids = {}
        for ref in ("spammer-1", "spammer-2"):
            opened = c.OpenCase(
                subject={"kind": "member", "ref": ref, "display_name": "Kestrel Pillshop"},
                source=CaseSource.FLAG,
                category=Category.SPAM,
                summary="Posted forty links to a pill shop.",
            )
            ids[ref] = store.cases.execute(None, opened, COORDINATOR).state.id
            closing = c.CloseCase(outcome="Banned", rationale="Links removed, account banned.")
            store.cases.execute(ids[ref], closing, COORDINATOR)
        hold = PlaceLegalHold(kind="member", reason="The bank is investigating the payments.")
        store.data_protection.place_hold("spammer-2", hold, LEAD)
        position = store.event_log.recorder.max_notification_id()
    finally:
        store.close()

    dry = vigil(env, tmp_path, "retention")

    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0].split() == ["STATUS", "KIND", "CASES", "CONTACTS", "DUE", "REF"]
    assert sorted(line.split()[0] + " " + line.split()[-1] for line in lines[1:]) == [
        "due spammer-1",
        "held spammer-2",
    ]
    assert "dry run" in dry.stderr
    after = bootstrap(settings)
    try:
        assert after.event_log.recorder.max_notification_id() == position  # nothing written
    finally:
        after.close()

    applied = vigil(env, tmp_path, "retention", "--apply")

    assert applied.returncode == 0, applied.stderr
    assert "erased member spammer-1: 1 case(s), 0 contact(s), 1 key(s) destroyed" in applied.stderr
    assert "under a legal hold: skipped" in applied.stderr
    after = bootstrap(settings)
    try:
        assert after.cases.get(ids["spammer-1"]).summary == ERASED
        assert after.cases.timeline(ids["spammer-1"])[-1].actor == "vigil-retention"
        assert after.cases.get(ids["spammer-2"]).summary == "Posted forty links to a pill shop."
    finally:
        after.close()
