"""Group commit, on both stores: appends that queue while one is written go in one transaction.

Each story holds the log's write lock from outside (PostgreSQL: the events table's EXCLUSIVE
lock in another session; SQLite: a write transaction on another connection), so the appends
made meanwhile queue behind the first, then lets go and looks at what was written and how.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from infrastructure.db_admin import prepare_store
from infrastructure.event_log import EventLog
from infrastructure.group_commit import GroupCommit
from infrastructure.persistence import recorder_env
from infrastructure.recorders import events_table
from infrastructure.settings import Settings
from interfaces.composition import Vigil
from tests.conftest import POSTGRES_URL
from tests.story import COORDINATOR, MODERATOR, add_note, open_case

TOPIC = "tests.integration.test_group_commit:Appended"  # never decoded: raw rows only


@pytest.fixture
def log(settings: Settings) -> Iterator[EventLog]:
    settings = settings.model_copy(update={"store_timeout_seconds": 30})
    prepare_store(settings)
    event_log = EventLog(env=recorder_env(settings))
    try:
        yield event_log
    finally:
        event_log.close()


def appended(aggregate_id: uuid.UUID, version: int) -> StoredEvent:
    return StoredEvent(
        originator_id=aggregate_id, originator_version=version, topic=TOPIC, state=b"{}"
    )


@contextmanager
def write_lock_held(settings: Settings, log: EventLog) -> Iterator[None]:
    """The log's write lock, held by another session until the block ends."""
    env = recorder_env(settings)
    table, _ = events_table(log.recorder)
    if "SQLITE_DBNAME" in env:
        conn: Any = sqlite3.connect(env["SQLITE_DBNAME"], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
    else:
        conn = psycopg.connect(POSTGRES_URL)
        conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
    try:
        yield
    finally:
        conn.rollback()
        conn.close()


def group(log: EventLog) -> GroupCommit:
    committer = getattr(log.recorder, "group_commit", None)
    assert isinstance(committer, GroupCommit), "the log's recorder gathers appends"
    return committer


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def in_threads(
    appends: list[list[StoredEvent]], log: EventLog
) -> tuple[list[Any], list[threading.Thread]]:
    """Each append from a thread of its own, started in order; each one's ids or error."""
    answers: list[Any] = [None] * len(appends)

    def append(i: int) -> None:
        try:
            answers[i] = log.recorder.insert_events(appends[i])
        except Exception as error:
            answers[i] = error

    threads = []
    for i in range(len(appends)):
        thread = threading.Thread(target=append, args=(i,))
        thread.start()
        threads.append(thread)
        # the next starts once this one is queued: the queue's order is known
        wait_until(lambda queued=i + 1: group(log).waiting() >= queued)
    return answers, threads


def stored_rows(log: EventLog) -> list[tuple[int, uuid.UUID, int]]:
    """(log position, aggregate, version) of every stored row, in log order."""
    found = log.recorder.select_notifications(None, 1000)
    return [(n.id, uuid.UUID(str(n.originator_id)), n.originator_version) for n in found]


def test_appends_made_while_one_is_written_share_the_next_transaction(
    settings: Settings, log: EventLog
) -> None:
    cases = [uuid.uuid4() for _ in range(6)]
    before = group(log).stats.transactions
    with write_lock_held(settings, log):
        answers, threads = in_threads([[appended(c, 1), appended(c, 2)] for c in cases], log)
        assert all(a is None for a in answers), "nobody is answered before a commit"
    for thread in threads:
        thread.join(30)
    # The first was written alone (it was taking the lock); the five that queued behind it, in
    # one transaction: six appends, two transactions.
    assert group(log).stats.transactions - before == 2
    assert group(log).stats.largest == 5
    rows = stored_rows(log)
    # The log's order is the order they were queued in, each append's events together.
    assert [(aggregate, version) for _, aggregate, version in rows] == [
        (c, v) for c in cases for v in (1, 2)
    ]
    positions = [position for position, _, _ in rows]
    assert positions == sorted(positions)
    # Each append is answered with its own events' log positions.
    assert [list(a) for a in answers] == [positions[i : i + 2] for i in range(0, 12, 2)]


def test_a_conflicting_append_is_refused_alone_and_the_rest_of_its_batch_lands(
    settings: Settings, log: EventLog
) -> None:
    taken = uuid.uuid4()
    log.recorder.insert_events([appended(taken, 1)])
    others = [uuid.uuid4() for _ in range(3)]
    appends = [
        [appended(others[0], 1)],  # the leader, alone
        [appended(others[1], 1)],
        [appended(taken, 1)],  # version 1 of this one is taken: refused
        [appended(others[2], 1), appended(others[2], 2)],
    ]
    regrouped = group(log).stats.regrouped
    with write_lock_held(settings, log):
        answers, threads = in_threads(appends, log)
    for thread in threads:
        thread.join(30)
    assert isinstance(answers[2], IntegrityError)
    assert all(not isinstance(a, Exception) for i, a in enumerate(answers) if i != 2)
    assert group(log).stats.regrouped == regrouped + 1
    rows = [(aggregate, version) for _, aggregate, version in stored_rows(log)]
    assert rows == [(taken, 1), (others[0], 1), (others[1], 1), (others[2], 1), (others[2], 2)]


def test_a_lone_writer_commits_at_once_and_alone(log: EventLog) -> None:
    before = group(log).stats.transactions
    for _ in range(5):
        started = time.perf_counter()
        log.recorder.insert_events([appended(uuid.uuid4(), 1)])
        assert time.perf_counter() - started < 5
    assert group(log).stats.transactions - before == 5
    assert len(stored_rows(log)) == 5


def test_many_writers_lose_nothing_and_the_log_follows_commit_order(log: EventLog) -> None:
    cases = [uuid.uuid4() for _ in range(16)]
    answers: dict[uuid.UUID, list[int]] = {}

    def write(case: uuid.UUID) -> None:
        for version in range(1, 11):
            ids = log.recorder.insert_events([appended(case, version)])
            answers.setdefault(case, []).extend(ids or [])

    threads = [threading.Thread(target=write, args=(c,)) for c in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    rows = stored_rows(log)
    assert len(rows) == 160
    by_case: dict[uuid.UUID, list[int]] = {}
    for position, aggregate, version in rows:
        by_case.setdefault(aggregate, []).append(version)
        assert position in answers[aggregate]
    assert all(versions == list(range(1, 11)) for versions in by_case.values())
    # Each writer's appends were answered in the order they were made, after the one before
    # had committed: their log positions rise with their versions.
    assert all(ids == sorted(ids) and len(set(ids)) == 10 for ids in answers.values())


def test_case_writes_made_together_through_the_service_share_transactions(
    vigil: Vigil, settings: Settings
) -> None:
    """The real path (the case service, the application's save): notes on several cases, made
    while the log is held, land together and each answers its own position."""
    cases = [vigil.cases.execute(None, open_case(), COORDINATOR).state.id for _ in range(4)]
    committer = group(vigil.event_log)
    before = (committer.stats.appends, committer.stats.transactions)
    results: dict[uuid.UUID, Any] = {}

    def note(case_id: uuid.UUID) -> None:
        results[case_id] = vigil.cases.execute(case_id, add_note(), MODERATOR)

    with write_lock_held(settings, vigil.event_log):
        threads = []
        for i, case_id in enumerate(cases):
            thread = threading.Thread(target=note, args=(case_id,))
            thread.start()
            threads.append(thread)
            wait_until(lambda queued=i + 1: committer.waiting() >= queued)
    for thread in threads:
        thread.join(30)
    appends = committer.stats.appends - before[0]
    transactions = committer.stats.transactions - before[1]
    assert (appends, transactions) == (4, 2)  # the first alone, the three behind it together
    for case_id in cases:
        written = results[case_id]
        assert written.state.version == 2
        assert written.state.notes == 1
        assert vigil.event_log.notification_id_of(case_id, 2) == written.position
