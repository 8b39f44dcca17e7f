"""A rebuild filled by several processes gives exactly the tables one process gives.

On PostgreSQL, ``Projector.rebuild`` may fill the side tables in ``rebuild_processes``
processes, each applying the events of its share of the aggregates (``share_bounds``).
Given a log (a random interleaving of many cases' histories with reads and break-glass access;
or one case touching every event class), the views followed live, rebuilt by one process and
rebuilt by two or three hold the same rows and the same indexes. A worker process that fails
fails the rebuild at once (the rebuilding process abandons its own share), a worker process
that hangs fails it after the timeout: the side tables are dropped, the other processes
stopped and the live views untouched.

PostgreSQL only: SQLite rebuilds in one process.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.access.vocabulary import AccessedRecord, GrantReviewOutcome
from domain.shared import Actor, Role
from domain.shift.commands import CheckIn, CheckOut, HandoverNote, PlanShift
from infrastructure.event_log import EventLog
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap, rebuild_parts
from projections.parallel_rebuild import share_bounds
from projections.projector import Projector
from projections.rebuild import REBUILD_SUFFIX
from projections.registry import ViewConfig
from projections.runner import View
from tests.conftest import Clock
from tests.integration.contact_steps import ContactStep, ContactSteps
from tests.integration.projection_checks import dump
from tests.integration.test_persistence import _every_event
from tests.integration.test_projection_properties import History, Writer
from tests.integration.test_worker import indexes
from tests.member_writer import joins, replied, welcomes
from tests.story import COORDINATOR, LEAD, open_case
from tests.unit.test_properties import ACTORS, INTENTIONS


def on_postgres(test: Callable[..., None]) -> Callable[..., None]:
    marked: Callable[..., None] = pytest.mark.postgres(
        pytest.mark.parametrize("database_url", ["postgres"], indirect=True)(test)
    )
    return marked


VAL = Actor(username="val", role=Role.VOLUNTEER)


@pytest.fixture
def vigil(settings: Settings, clock: Clock) -> Iterator[Vigil]:
    # The product default: self-harm risk and harm to others are restricted (break glass).
    restricted = settings.model_copy(update={"restricted_categories": "self_harm_risk"})
    app = bootstrap(restricted, clock=clock)
    try:
        yield app
    finally:
        app.close()


def random_log(vigil: Vigil, clock: Clock, seed: int, cases: int = 24) -> list[UUID]:
    """Cases' random histories (the property tests' intentions), interleaved at random, with
    reads of case records, break-glass grants on restricted cases and their reviews."""
    rng = random.Random(seed)
    for username, role in (("lee", Role.SAFEGUARDING_LEAD), ("casey", Role.COORDINATOR)):
        vigil.identity.register(username, role, actor="test-setup")
    names = sorted(INTENTIONS)
    steps = [
        [
            (
                rng.choice(names),
                rng.randrange(1000),
                rng.choice(ACTORS),
                rng.randint(1, 600),
                None if rng.random() < 0.8 else rng.randint(0, 300),
            )
            for _ in range(rng.randint(3, 14))
        ]
        for _ in range(cases)
    ]
    order = [case for case, case_steps in enumerate(steps) for _ in range(len(case_steps) + 1)]
    rng.shuffle(order)
    # Openings come first within a case: Writer takes a case's writes in the order given.
    history = History(steps, order, {}, 10)
    writer = Writer(vigil, clock)
    for case in order:
        writer.write(case, history)
        story = writer.stories[case]
        if rng.random() < 0.15:
            vigil.access.record(LEAD, AccessedRecord.CASE, case_id=story.case.id)
    case_ids = [story.case.id for story in writer.stories.values()]
    restricted = [s.case.id for s in writer.stories.values() if s.case.category == "self_harm_risk"]
    for n, case_id in enumerate(restricted[:4]):
        grant = vigil.access.break_glass(VAL, case_id, "A welfare call came in.").event
        if n % 2 == 0:
            vigil.projector.catch_up()  # a review finds its grant in the access log
            vigil.access.review_grant(
                LEAD, grant.event_id, GrantReviewOutcome.APPROPRIATE, "Checked with the caller."
            )
    shifts_attended(vigil, clock)
    contacts_worked(vigil, clock, case_ids)
    return case_ids


# Every contact table gets rows: contacts logged (one named), linked to a case, reviewed (a
# pass, a calibration, a safeguarding fail), answered, looked at, followed up and completed.
CONTACT_WORK: list[ContactStep] = [
    ("log", 0, 5),
    ("log_named", 1, 5),
    ("link", 0, 5),
    ("review", 0, 30),
    ("review", 1, 30),
    ("review_fail", 1, 30),
    ("acknowledge", 0, 5),
    ("dispute", 2, 5),
    ("look", 2, 5),
    ("follow_up", 0, 10),
    ("attempt", 0, 10),
    ("follow_up", 1, 10),
    ("complete", 1, 10),
]


def contacts_worked(vigil: Vigil, clock: Clock, case_ids: list[UUID]) -> None:
    steps = ContactSteps(vigil, clock, case_ids=list(case_ids))
    for step in CONTACT_WORK:
        steps.write(step)


def shifts_attended(vigil: Vigil, clock: Clock) -> None:
    """Two shifts starting an hour on, both checked in to, one checked out of with a handover to
    the other (the attendance view keeps the open one; the shift board has every table)."""
    start = clock() + timedelta(hours=1)
    for name in ("kit", "sam"):
        vigil.identity.register(name, Role.VOLUNTEER, actor="test-setup")
        shift = vigil.shifts.plan(
            PlanShift(
                role="host", assignee=name, starts_at=start, ends_at=start + timedelta(hours=2)
            ),
            COORDINATOR,
        ).state.id
        clock.set(start)
        person = Actor(username=name, role=Role.VOLUNTEER)
        vigil.shifts.execute(shift, CheckIn(), person)
        if name == "sam":
            clock.set(start + timedelta(minutes=30))
            handover = HandoverNote(
                note="Quiet night; the forum's new thread needs a look.", to="kit"
            )
            vigil.shifts.execute(shift, CheckOut(handover=handover), person)


def members_joined(vigil: Vigil, clock: Clock) -> None:
    """Forum members joining through intake, one welcomed by hand and one by a reply (the
    community members view has rows, some welcomed)."""
    refs = [joins(vigil, clock, user, clock() - timedelta(hours=user)) for user in (1, 2, 3)]
    welcomes(vigil, clock, refs[0])
    replied(vigil, clock, refs[1])


def parallel(
    vigil: Vigil,
    processes: int,
    config: ViewConfig | None = None,
    *,
    parts: Callable[[], tuple[EventLog, list[View]]] | None = None,
    batch_size: int = 7,
    **options: Any,
) -> Projector:
    """A projector rebuilding in ``processes`` processes whatever the log's length."""
    return Projector(
        vigil.event_log,
        vigil.views,
        rebuild_batch_size=batch_size,
        rebuild_processes=processes,
        rebuild_parts=parts or partial(rebuild_parts, vigil.settings, config),
        parallel_min_events=0,
        parallel_head_start=0,  # even shares, so a small log has cases in each
        listen=False,
        **options,
    )


def failing_parts(marker: Path) -> tuple[EventLog, list[View]]:
    """A worker process's parts that fail at once (after saying so in ``marker``)."""
    marker.write_text(str(os.getpid()))
    raise RuntimeError("the worker could not start")


def hanging_parts(marker: Path) -> tuple[EventLog, list[View]]:
    """A worker process's parts that never come (after saying so in ``marker``)."""
    marker.write_text(str(os.getpid()))
    time.sleep(3600)
    raise AssertionError("unreachable: the rebuild stops this process")


def wait_for_file(marker: Path, done: int, total: int) -> None:
    """A progress callback: the first batch waits for the worker process to have started."""
    for _ in range(600):
        if done == 0 or marker.exists():
            return
        time.sleep(0.1)


def is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def share_events(vigil: Vigil, processes: int, index: int) -> int:
    """How many of the log's events fall in share ``index`` (even shares)."""
    share = share_bounds(processes, head(vigil), 0)[index]
    log = vigil.event_log.recorder.select_notifications(start=1, limit=head(vigil))
    return sum(1 for n in log if share.holds(n.originator_id))


def head(vigil: Vigil) -> int:
    return int(vigil.event_log.recorder.max_notification_id() or 0)


def stored(vigil: Vigil) -> int:
    """How many events the log holds: what a rebuild reads. Fewer than ``head`` when an append
    was refused (a write decided on a state that was behind): PostgreSQL's ids have a gap then."""
    return len(vigil.event_log.recorder.select_notifications(start=1, limit=head(vigil)))


def side_tables(vigil: Vigil) -> list[str]:
    store = vigil.projector.store
    with store.transaction(commit=False) as tx:
        found = tx.fetchall(
            "SELECT tablename FROM pg_tables WHERE schemaname = %(schema)s",
            {"schema": getattr(store, "schema", "")},
        )
    return sorted(row["tablename"] for row in found if REBUILD_SUFFIX in row["tablename"])


def assert_parallel_equals_serial(vigil: Vigil, processes: int) -> None:
    vigil.projector.catch_up()
    store = vigil.projector.store
    followed = dump(store, vigil.views)
    live_indexes = {view.name: indexes(store, view.name) for view in vigil.views}
    assert all(followed.values()), "every view's tables should have rows"

    # When every view is rebuilt by one process
    serial = Projector(vigil.event_log, vigil.views, rebuild_batch_size=7, listen=False)
    assert serial.rebuild() == stored(vigil)
    assert dump(store, vigil.views) == followed

    # And again by several, each applying its share of the aggregates
    assert parallel(vigil, processes).rebuild() == stored(vigil)

    # Then every table holds what following the log (and one process) gave it
    assert dump(store, vigil.views) == followed
    assert {view.name: indexes(store, view.name) for view in vigil.views} == live_indexes
    assert set(vigil.projector.positions().values()) == {head(vigil)}
    assert side_tables(vigil) == []


def every_share_holds_a_case(vigil: Vigil, processes: int, case_ids: list[UUID]) -> list[UUID]:
    """Open plain cases until each process's share holds one of ``case_ids``. Case ids are
    random and a share is a range of their last byte, so a fixed number of cases left a share
    empty now and then (6 cases, 2 shares: 1 run in 32, seen in CI)."""
    shares = share_bounds(processes, head(vigil), 0)
    while not all(any(share.holds(case_id) for case_id in case_ids) for share in shares):
        assert len(case_ids) < 200, "case ids are not spread over the shares"
        case_ids.append(vigil.cases.execute(None, open_case(), LEAD).state.id)
    return case_ids


@on_postgres
@pytest.mark.parametrize("processes", [2, 3])
def test_a_random_log_rebuilt_in_parallel_equals_the_serial_rebuild(
    vigil: Vigil, clock: Clock, processes: int
) -> None:
    # Given many cases' histories interleaved, with reads and break-glass grants and reviews
    case_ids = random_log(vigil, clock, seed=processes)
    members_joined(vigil, clock)
    # (whose cases fall in every share)
    every_share_holds_a_case(vigil, processes, case_ids)
    assert_parallel_equals_serial(vigil, processes)


@on_postgres
def test_a_log_of_every_event_class_rebuilt_in_parallel_equals_the_serial_rebuild(
    vigil: Vigil, clock: Clock
) -> None:
    # Given a case touching every case event class (erasure last), other cases, user
    # registrations, reads, and a break-glass grant and its review
    _every_event(vigil, clock)
    vigil.identity.register("casey", Role.COORDINATOR, actor="admin")
    restricted = vigil.cases.execute(None, open_case(category="self_harm_risk"), LEAD).state.id
    others = every_share_holds_a_case(vigil, 2, [])
    grant = vigil.access.break_glass(VAL, restricted, "A welfare call came in.").event
    vigil.access.record(VAL, AccessedRecord.CASE, case_id=restricted)
    vigil.projector.catch_up()  # a review finds its grant in the access log
    vigil.access.review_grant(LEAD, grant.event_id, GrantReviewOutcome.APPROPRIATE, "Fine.")
    shifts_attended(vigil, clock)
    contacts_worked(vigil, clock, [restricted, *others])
    members_joined(vigil, clock)
    assert len(others) >= 2
    assert_parallel_equals_serial(vigil, 2)


@on_postgres
def test_a_failing_worker_process_fails_the_rebuild_and_leaves_the_live_views(
    vigil: Vigil, clock: Clock
) -> None:
    # Given views following a log
    random_log(vigil, clock, seed=7, cases=6)
    vigil.projector.catch_up()
    store = vigil.projector.store
    before = dump(store, vigil.views)
    positions = vigil.projector.positions()

    # When a worker process cannot make the same views (another SLA configuration)
    other = ViewConfig(fingerprint="another configuration")
    with pytest.raises(RuntimeError, match="rebuild worker process 1 failed"):
        parallel(vigil, 2, other).rebuild()

    # Then the live views and positions are as they were, and the side tables are gone
    assert dump(store, vigil.views) == before
    assert vigil.projector.positions() == positions
    assert side_tables(vigil) == []
    # And the next rebuild succeeds
    assert parallel(vigil, 2).rebuild() == stored(vigil)
    assert dump(store, vigil.views) == before


@on_postgres
def test_a_worker_failing_early_fails_the_rebuild_before_the_rebuilding_process_s_share_is_done(
    vigil: Vigil, clock: Clock, tmp_path: Path
) -> None:
    # Given views following a log, the rebuilding process's share one event per batch
    random_log(vigil, clock, seed=11)
    # (ids are random: open cases until the rebuilding process's share holds 60 events; the
    # random log alone left it short about one run in 120)
    while share_events(vigil, 2, 0) < 60:
        assert head(vigil) < 2000, "case ids are not spread over the shares"
        vigil.cases.execute(None, open_case(), LEAD)
    vigil.projector.catch_up()
    store = vigil.projector.store
    before = dump(store, vigil.views)
    positions = vigil.projector.positions()
    own = share_events(vigil, 2, 0)

    # When the worker process fails as it starts, while the rebuilding process works through
    # its share (each batch slowed down once the worker has failed, so finishing the share
    # would take seconds after the failure)
    marker = tmp_path / "worker"
    batches_after_failure = 0

    def slowed(done: int, total: int) -> None:
        nonlocal batches_after_failure
        if done == 0:
            return
        wait_for_file(marker, done, total)  # the worker process needs a moment to start
        batches_after_failure += 1
        time.sleep(0.05)

    projector = parallel(vigil, 2, parts=partial(failing_parts, marker), batch_size=1)
    with pytest.raises(
        RuntimeError, match="rebuild worker process 1 failed: RuntimeError: the worker could not"
    ) as failed:
        projector.rebuild(progress=slowed)

    # Then the rebuild failed within a few of the rebuilding process's batches, not at the end
    # of its share, naming the worker's share
    assert marker.exists()
    assert "the aggregates whose id ends in a byte from 128 to 255" in str(failed.value)
    assert 1 <= batches_after_failure < own // 4
    # And the live views and positions are as they were, and the side tables are gone
    assert dump(store, vigil.views) == before
    assert vigil.projector.positions() == positions
    assert side_tables(vigil) == []
    # And the next rebuild succeeds
    assert parallel(vigil, 2).rebuild() == stored(vigil)
    assert dump(store, vigil.views) == before


@on_postgres
def test_a_hung_worker_fails_the_rebuild_after_the_timeout_and_is_stopped(
    vigil: Vigil, clock: Clock, tmp_path: Path
) -> None:
    # Given views following a log
    random_log(vigil, clock, seed=5, cases=6)
    vigil.projector.catch_up()
    store = vigil.projector.store
    before = dump(store, vigil.views)
    positions = vigil.projector.positions()

    assert share_events(vigil, 2, 0) > 0

    # When a worker process hangs (the rebuilding process's share ends only once it does), and
    # the rebuild waits at most 1 s for it after its own share
    marker = tmp_path / "worker"
    projector = parallel(vigil, 2, parts=partial(hanging_parts, marker), rebuild_worker_timeout=1.0)
    with pytest.raises(RuntimeError, match="rebuild worker process 1 failed: not done 1 s after"):
        projector.rebuild(progress=partial(wait_for_file, marker))

    # Then the hung process was stopped
    assert marker.exists(), "the worker process should have started"
    assert is_gone(int(marker.read_text()))
    # And the live views and positions are as they were, and the side tables are gone
    assert dump(store, vigil.views) == before
    assert vigil.projector.positions() == positions
    assert side_tables(vigil) == []
    # And the next rebuild succeeds
    assert parallel(vigil, 2).rebuild() == stored(vigil)
    assert dump(store, vigil.views) == before


def test_the_worker_timeout_must_be_positive(vigil: Vigil) -> None:
    with pytest.raises(ValueError, match="rebuild_worker_timeout must be positive"):
        Projector(vigil.event_log, vigil.views, rebuild_worker_timeout=0, set_up=False)


@pytest.mark.parametrize("count", [2, 3, 5, 16])
@pytest.mark.parametrize("events", [1, 100_000, 1_000_000])
def test_the_shares_hold_every_aggregate_once_the_first_larger_for_short_logs(
    count: int, events: int
) -> None:
    shares = share_bounds(count, events, 20_000)
    held = [byte for share in shares for byte in range(share.low, share.high + 1)]
    assert held == list(range(256))
    sizes = [share.high - share.low + 1 for share in shares]
    assert min(sizes) >= 1
    assert max(sizes[1:]) - min(sizes[1:]) <= 1  # the worker processes' shares are even
    assert sizes[0] >= max(sizes[1:])  # the rebuilding process, which starts first, does more
    if events == 100_000 and count == 2:
        assert sizes[0] > 0.55 * 256
    even = share_bounds(count, events, 0)
    assert max(s.high - s.low for s in even) - min(s.high - s.low for s in even) <= 1
