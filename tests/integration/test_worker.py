"""The projector: every view in one pass, exactly once, following new events, rebuilt aside.

Every test runs on SQLite and on PostgreSQL (the ``vigil`` fixture). Test views here record
each event they are handed in a table keyed by its position, so applying an event twice
would fail on the primary key rather than pass unnoticed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import psycopg
import pytest

from domain.case.commands import OpenCase, RaiseFlag, SubjectInput
from domain.case.vocabulary import RiskLevel
from domain.shared import Actor, Role
from infrastructure.persistence import postgres_conninfo
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from projections.case_summaries import CaseSummaries, CaseSummariesView
from projections.projector import Projector, UnknownView
from projections.rebuild import REBUILD_SUFFIX
from projections.runner import Positioned, Statement, View
from projections.store import ViewStore
from tests.conftest import Clock
from tests.integration.projection_checks import dump
from tests.integration.test_cli import vigil_command
from tests.story import acknowledge, assess_risk, assign, close, escalate, resolve

CORA = Actor(username="cora", role=Role.COORDINATOR)
SECRET_NAME = "Jo Bloggs-Secretname"


def open_case(vigil: Vigil, ref: str = "member-1") -> UUID:
    result = vigil.cases.execute(
        None,
        OpenCase(
            subject=SubjectInput(kind="member", ref=ref, display_name=SECRET_NAME),
            source="flag",
            category="harassment",
            summary="Posted that they feel unsafe at home tonight",
            channel="forum",
        ),
        CORA,
    )
    return result.state.id


def flag(vigil: Vigil, case_id: UUID) -> int:
    result = vigil.cases.execute(case_id, RaiseFlag(reason="another report", category="spam"), CORA)
    return result.position


def head(vigil: Vigil) -> int:
    return vigil.event_log.recorder.max_notification_id() or 0


def some_events(vigil: Vigil, cases: int = 3, flags: int = 2) -> list[UUID]:
    ids = []
    for n in range(cases):
        case_id = open_case(vigil, f"member-{n}")
        for _ in range(flags):
            flag(vigil, case_id)
        ids.append(case_id)
    return ids


class Ledgerbook(View):
    """Records every event it is handed: (position, type), position as primary key."""

    name: ClassVar[str] = "ledgerbook_a"
    version: ClassVar[int] = 1

    def __init__(self) -> None:
        self.handed: list[int] = []  # positions handed, in order, across batches
        self.batches = 0

    def create_statements(self, store: ViewStore) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {store.table(self.name)} "
            "(position BIGINT PRIMARY KEY, event_type TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {store.index(self.name + '_by_type')} "
            f"ON {store.table(self.name)} (event_type)",
        ]

    def drop_statements(self, store: ViewStore) -> list[str]:
        return [f"DROP TABLE IF EXISTS {store.table(self.name)}"]

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        self.batches += 1
        self.handed.extend(item.position for item in batch)
        insert = (
            f"INSERT INTO {store.table(self.name)} (position, event_type) "
            "VALUES (%(position)s, %(type)s)"
        )
        return [(insert, {"position": i.position, "type": type(i.event).__name__}) for i in batch]


class OtherLedgerbook(Ledgerbook):
    name = "ledgerbook_b"


class Failing(OtherLedgerbook):
    """Fails once, in ``changes`` or in its SQL, on the first batch reaching ``at``."""

    def __init__(self, at: int, *, in_sql: bool = False) -> None:
        super().__init__()
        self.at = at
        self.in_sql = in_sql
        self.failed = False

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        statements = super().changes(store, batch)
        if not self.failed and batch[-1].position >= self.at:
            self.failed = True
            if not self.in_sql:
                raise RuntimeError("the view failed while computing its changes")
            return [*statements, ("INSERT INTO no_such_table VALUES (1)", {})]
        return statements


def rows(store: ViewStore, table: str) -> list[int]:
    with store.transaction(commit=False) as tx:
        found = tx.fetchall(f"SELECT position FROM {store.table(table)} ORDER BY position")
    return [int(row["position"]) for row in found]


def indexes(store: ViewStore, table: str) -> set[str]:
    with store.transaction(commit=False) as tx:
        if store.dialect == "sqlite":
            found = tx.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %(t)s "
                "AND sql IS NOT NULL",
                {"t": table},
            )
            return {row["name"] for row in found}
        found = tx.fetchall(
            "SELECT indexname AS name FROM pg_indexes WHERE tablename = %(t)s "
            "AND schemaname = %(schema)s",
            {"t": table, "schema": getattr(store, "schema", "")},
        )
        return {row["name"] for row in found}


# --- one pass, one transaction, per-view positions ----------------------------------------------


def test_one_pass_reads_each_event_once_and_moves_every_view(vigil: Vigil, clock: Clock) -> None:
    some_events(vigil)
    total = head(vigil)
    a, b = Ledgerbook(), OtherLedgerbook()
    projector = Projector(vigil.event_log, [a, b], batch_size=4)
    read: list[int] = []
    select = vigil.event_log.recorder.select_notifications

    def counting_select(*args: Any, **kwargs: Any) -> Any:
        found = select(*args, **kwargs)
        read.extend(n.id for n in found)
        return found

    vigil.event_log.recorder.select_notifications = counting_select  # type: ignore[method-assign]
    try:
        assert projector.catch_up() == total
    finally:
        del vigil.event_log.recorder.select_notifications

    assert sorted(read) == list(range(1, total + 1))  # each event read from the log once
    assert a.handed == b.handed == list(range(1, total + 1))
    assert a.batches == b.batches == -(-total // 4)
    assert projector.positions() == {"ledgerbook_a": total, "ledgerbook_b": total}
    assert rows(projector.store, "ledgerbook_a") == rows(projector.store, "ledgerbook_b")
    assert projector.catch_up() == 0


def test_a_view_added_later_catches_up_alone(vigil: Vigil, clock: Clock) -> None:
    some_events(vigil)
    total = head(vigil)
    a = Ledgerbook()
    Projector(vigil.event_log, [a]).catch_up()
    assert len(a.handed) == total

    a_again, b = Ledgerbook(), OtherLedgerbook()
    projector = Projector(vigil.event_log, [a_again, b], batch_size=2)
    assert projector.positions() == {"ledgerbook_a": total, "ledgerbook_b": 0}
    assert projector.position() == 0
    assert projector.position("ledgerbook_a") == total

    assert projector.catch_up() == total
    assert a_again.handed == []  # nothing applied twice
    assert b.handed == list(range(1, total + 1))

    case_id = open_case(vigil, "member-late")
    position = flag(vigil, case_id)
    assert projector.catch_up() == 2
    assert a_again.handed == b.handed[-2:] == [position - 1, position]
    assert rows(projector.store, "ledgerbook_a") == rows(projector.store, "ledgerbook_b")


def test_unknown_view_names_are_refused(vigil: Vigil) -> None:
    with pytest.raises(UnknownView):
        vigil.projector.position("no_such_view")
    with pytest.raises(UnknownView):
        vigil.projector.rebuild(["no_such_view"])


def test_the_composition_root_runs_every_registered_view(vigil: Vigil, clock: Clock) -> None:
    some_events(vigil, cases=2)
    names = [view.name for view in vigil.views]
    assert "case_summaries" in names
    assert vigil.projector.catch_up() == head(vigil)
    assert set(vigil.projector.positions().values()) == {head(vigil)}
    statuses = vigil.projector.status()
    assert [s.name for s in statuses] == names
    assert all(s.lag_events == 0 and s.head == head(vigil) for s in statuses)
    assert all(s.events_applied_total == head(vigil) for s in statuses)


# --- crash and restart --------------------------------------------------------------------------


@pytest.mark.parametrize("in_sql", [False, True], ids=["in-changes", "in-sql"])
def test_a_crash_mid_batch_changes_nothing_and_a_restart_applies_nothing_twice(
    vigil: Vigil, clock: Clock, in_sql: bool
) -> None:
    some_events(vigil, cases=4)
    total = head(vigil)
    a, failing = Ledgerbook(), Failing(at=7, in_sql=in_sql)
    projector = Projector(vigil.event_log, [a, failing], batch_size=3)

    with pytest.raises(Exception, match=r"failed|no_such_table"):
        projector.catch_up()

    # Batches 1-3 and 4-6 committed; the batch 7-9 left neither view nor tracking row moved.
    assert projector.positions() == {"ledgerbook_a": 6, "ledgerbook_b": 6}
    assert rows(projector.store, "ledgerbook_a") == rows(projector.store, "ledgerbook_b")
    assert rows(projector.store, "ledgerbook_a") == list(range(1, 7))

    # The process dies; a new one (fresh views) carries on from the tracking rows.
    restarted = Projector(vigil.event_log, [Ledgerbook(), OtherLedgerbook()], batch_size=3)
    assert restarted.catch_up() == total - 6
    assert rows(restarted.store, "ledgerbook_a") == list(range(1, total + 1))
    assert rows(restarted.store, "ledgerbook_b") == list(range(1, total + 1))


def test_two_projectors_racing_apply_each_event_once(vigil: Vigil, clock: Clock) -> None:
    projectors = [
        Projector(vigil.event_log, [Ledgerbook(), OtherLedgerbook()], batch_size=n) for n in (2, 3)
    ]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(5):
                flag(vigil, open_case(vigil, f"member-{n}-{i}"))
                projectors[n % 2].catch_up()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    projectors[0].catch_up()

    assert errors == []
    store = projectors[0].store
    # Event ids may have gaps on PostgreSQL (a lost race burns a sequence number).
    everything = [
        n.id for n in vigil.event_log.recorder.select_notifications(start=1, limit=10_000)
    ]
    assert rows(store, "ledgerbook_a") == rows(store, "ledgerbook_b") == everything


# --- following ----------------------------------------------------------------------------------


def test_the_follower_picks_up_new_writes(vigil: Vigil, clock: Clock) -> None:
    projector = vigil.projector
    follower = projector.start_in_thread()
    try:
        with pytest.raises(RuntimeError):
            projector.start_in_thread()
        case_id = open_case(vigil)
        for _ in range(3):
            position = flag(vigil, case_id)
            assert projector.wait_for(position, timeout=10)
        assert vigil.case_summaries.get(case_id) is not None
        assert vigil.case_summaries.position() == position
    finally:
        follower.stop()
    assert not follower.is_alive()
    assert projector.follower is None


def test_waiting_for_a_position_not_written_times_out(vigil: Vigil) -> None:
    started = time.monotonic()
    assert not vigil.projector.wait_for(head(vigil) + 5, timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 5  # bounded (slack for a busy machine)


def wait_until_listening(vigil: Vigil, timeout: float = 30.0) -> None:
    """Until a session has LISTENed on the ledger's channel (its last statement)."""
    channel = str(vigil.event_log.recorder.channel_name)  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    with psycopg.connect(postgres_conninfo(vigil.settings.resolved_database_url)) as conn:
        while True:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query = %s",
                (f'LISTEN "{channel}"',),
            ).fetchone()
            conn.rollback()  # a fresh snapshot of pg_stat_activity each time
            if row and row[0]:
                return
            assert time.monotonic() < deadline, "the follower's listener never LISTENed"
            time.sleep(0.02)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_on_postgres_a_notify_wakes_the_follower_long_before_its_poll(
    vigil: Vigil, clock: Clock
) -> None:
    assert vigil.projector.is_postgres
    projector = Projector(vigil.event_log, [Ledgerbook()], fallback_interval=30.0)
    follower = projector.start_in_thread()
    try:
        wait_until_listening(vigil)
        case_id = open_case(vigil)
        written = time.monotonic()
        position = head(vigil)
        while projector.position() < position:
            assert time.monotonic() - written < 10, "no NOTIFY woke the follower"
            time.sleep(0.01)
        assert time.monotonic() - written < 5  # against a 30 s poll
        assert case_id
    finally:
        follower.stop()


def test_with_notify_off_the_follower_polls(vigil: Vigil, clock: Clock) -> None:
    projector = Projector(
        vigil.event_log, [Ledgerbook()], listen=False, poll_interval=0.05, fallback_interval=0.05
    )
    follower = projector.start_in_thread()
    try:
        open_case(vigil)
        deadline = time.monotonic() + 5
        while projector.position() < head(vigil):
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        follower.stop()


# --- rebuild aside ------------------------------------------------------------------------------


class Gated(CaseSummariesView):
    """Holds a rebuild (a batch for the side tables) until the gate opens."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_rebuild = threading.Event()
        self.gate = threading.Event()

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        if store.suffix == REBUILD_SUFFIX:
            self.in_rebuild.set()
            assert self.gate.wait(20)
        return super().changes(store, batch)


def test_a_rebuild_keeps_answering_reads_from_the_old_view_until_it_swaps(
    vigil: Vigil, clock: Clock
) -> None:
    cases = some_events(vigil, cases=3)
    vigil.projector.catch_up()
    reader = CaseSummaries(vigil.event_log)  # reads the live table, as a request does
    store = vigil.projector.store
    with store.transaction(commit=True) as tx:  # a view gone wrong, say by a bug since fixed
        tx.execute(f"UPDATE {store.table('case_summaries')} SET flag_count = 99")
    wrong = reader.all()
    assert {row.flag_count for row in wrong} == {99}

    gated = Gated(vigil.event_log)
    rebuilder = Projector(vigil.event_log, [gated], rebuild_batch_size=2)
    done = threading.Event()
    progress: list[tuple[int, int]] = []
    thread = threading.Thread(
        target=lambda: (rebuilder.rebuild(progress=lambda *p: progress.append(p)), done.set())
    )
    thread.start()
    try:
        assert gated.in_rebuild.wait(10)
        # Mid-rebuild: the old complete view answers, and the live view still follows the log.
        assert reader.all() == wrong
        late = open_case(vigil, "member-late")
        vigil.projector.catch_up()
        assert reader.get(late) is not None
        assert len(reader.all()) == 4
    finally:
        gated.gate.set()
        thread.join(30)
    assert done.is_set()

    rebuilt = reader.all()
    assert {row.case_id for row in rebuilt} == {*cases, late}
    assert {row.flag_count for row in rebuilt} == {0, 2}
    assert rebuilder.position("case_summaries") == head(vigil)
    assert progress[0] == (0, progress[0][1])
    assert progress[-1][0] == progress[-1][1]
    # The side tracking row is gone; a second rebuild finds no name taken (indexes included).
    assert list(vigil.projector.positions()) == [view.name for view in vigil.views]
    assert vigil.projector.rebuild(["case_summaries"]) == head(vigil)
    assert reader.all() == rebuilt
    live_indexes = indexes(store, "case_summaries")
    assert "case_summaries_by_opened" in live_indexes
    assert not [name for name in live_indexes if REBUILD_SUFFIX in name]
    assert indexes(store, "case_summaries" + REBUILD_SUFFIX) == set()


def test_rebuilding_every_view_gives_the_views_the_log_gives(vigil: Vigil, clock: Clock) -> None:
    some_events(vigil, cases=4)
    vigil.projector.catch_up()
    before = vigil.case_summaries.all()

    assert vigil.projector.rebuild() == head(vigil)

    assert vigil.case_summaries.all() == before
    assert set(vigil.projector.positions().values()) == {head(vigil)}
    vigil.case_summaries.rebuild()
    assert vigil.case_summaries.all() == before


def test_a_rebuild_in_small_batches_gives_every_view_what_following_the_log_gives(
    vigil: Vigil, clock: Clock
) -> None:
    # Given cases worked on over many batches: summaries rewritten, queue items written, taken
    # out (acknowledged, de-escalated, closed) and written again
    vigil.identity.register("lee", Role.SAFEGUARDING_LEAD, actor="test-setup")
    lead = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
    cases = some_events(vigil, cases=3, flags=1)
    for n, case_id in enumerate(cases):
        clock.advance(minutes=7)
        escalated = vigil.cases.execute(case_id, escalate(), CORA).state
        [escalation] = escalated.escalations.values()
        vigil.cases.execute(case_id, assess_risk(RiskLevel.HIGH), lead)
        vigil.cases.execute(case_id, acknowledge(escalation.escalation_id), lead)
        vigil.cases.execute(case_id, assign("lee"), lead)
        vigil.cases.execute(case_id, resolve(escalation.escalation_id), lead)
        vigil.cases.execute(case_id, assess_risk(RiskLevel.LOW), lead)
        flag(vigil, case_id)
        if n == 0:
            vigil.cases.execute(case_id, close(), lead)
    vigil.projector.catch_up()
    store = vigil.projector.store
    followed = dump(store, vigil.views)
    live_indexes = {view.name: indexes(store, view.name) for view in vigil.views}

    # When every view is rebuilt aside, three events a batch
    rebuilder = Projector(vigil.event_log, vigil.views, rebuild_batch_size=3)
    assert rebuilder.rebuild() == head(vigil)

    # Then every table holds what following the log gave it, with the same indexes
    assert dump(store, vigil.views) == followed
    assert {view.name: indexes(store, view.name) for view in vigil.views} == live_indexes
    assert set(vigil.projector.positions().values()) == {head(vigil)}


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    return {
        **clean,
        "VIGIL_DATABASE_URL": database_url,
        "VIGIL_DATA_DIR": str(tmp_path / "data"),
        "VIGIL_LOG_JSON": "true",
        "VIGIL_PROJECTOR_POLL_SECONDS": "0.05",
    }


@pytest.fixture
def store(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[Vigil]:
    app = bootstrap(
        Settings(
            _env_file=None,
            environment="test",
            database_url=database_url,
            data_dir=tmp_path / "data",
        ),
        clock=clock,
    )
    try:
        yield app
    finally:
        app.close()


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*vigil_command(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_vigil_status_shows_positions_head_and_lag(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    some_events(store, cases=2)
    store.projector.catch_up()
    open_case(store, "member-behind")

    table = run(env, tmp_path, "status", "--sample", "0")
    as_json = run(env, tmp_path, "status", "--json", "--sample", "0")

    assert table.returncode == 0, table.stderr
    lines = table.stdout.strip().splitlines()
    assert lines[0].split() == ["VIEW", "POSITION", "HEAD", "LAG", "EVENTS/S"]
    # (the log: the default service's registration and the SLA policy's first version, with the
    # first case, and 6 case events)
    assert lines[1].split()[:4] == ["case_summaries", "8", "9", "1"]
    statuses = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {s["view"] for s in statuses} == {view.name for view in store.views}
    assert all(s["head"] == 9 and s["lag_events"] == 1 for s in statuses)


def test_vigil_rebuild_rebuilds_one_view_or_all(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    some_events(store, cases=2)
    store.projector.catch_up()
    before = store.case_summaries.all()

    one = run(env, tmp_path, "rebuild", "case_summaries")
    every = run(env, tmp_path, "rebuild", "--no-progress")
    unknown = run(env, tmp_path, "rebuild", "no_such_view")

    assert one.returncode == 0, one.stderr
    # with the default service and the SLA policy's first version
    assert "Rebuilt case_summaries from 8 events" in one.stderr
    assert every.returncode == 0, every.stderr
    assert all(view.name in every.stderr for view in store.views)
    assert unknown.returncode == 2
    assert "no view named 'no_such_view'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    assert store.case_summaries.all() == before


def test_vigil_project_follows_the_log_until_sigterm(
    env: dict[str, str], tmp_path: Path, store: Vigil
) -> None:
    some_events(store, cases=1)
    worker = subprocess.Popen(
        [*vigil_command(), "project", "--report-every", "0.2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while store.projector.position() < head(store):
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            assert time.monotonic() < deadline, "vigil project did not catch up"
            time.sleep(0.05)
        position = flag(store, open_case(store, "member-2"))
        while store.projector.position() < position:
            assert time.monotonic() < deadline, "vigil project did not follow a new write"
            time.sleep(0.05)
        time.sleep(0.3)  # a progress line
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=20)

    assert worker.returncode == 0, stderr
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    events = [line["event"] for line in lines]
    assert "projector_following" in events
    assert "projection_progress" in events
    # Both followers of `vigil project` stop cleanly on SIGTERM: the views and the hash ledger.
    assert set(events[-2:]) == {"projector_stopped", "notary_stopped"}
    assert SECRET_NAME not in stderr
    assert store.case_summaries.position() == position
