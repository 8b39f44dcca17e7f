"""Every view is a pure function of the log, applied exactly once, whatever happens to the worker.

Hypothesis draws a few case histories (the intentions of ``tests/unit/test_properties.py``: flag,
escalate, review the second decision, close, ..., by someone, some minutes later, sometimes
back-dated) and a few people's shifts (planned, covered, cancelled, checked into and out of,
sometimes late-logged, handed over and acknowledged: ``tests/integration/shift_steps.py``) and
a few helpline contacts (logged, linked to the cases, reviewed, failed, calibrated, their feedback
answered and disputes resolved, safeguarding fails looked at by a lead, follow-ups scheduled,
attempted and completed: ``tests/integration/contact_steps.py``), interleaves them at random
and writes them through the real case service and the one write path while the server clock
moves on. Between writes, the views are caught up by random amounts, in batches of a random
size; sometimes a view joins late (catching up alone while the others skip what they hold) or
one view is rebuilt aside and swapped in mid-history. Then:

- every registered view equals the same view built from scratch by a fresh worker with a
  ledger of its own, in tables of its own (all tables, all rows);
- with failures injected at random points (a view's batch dies before its transaction, or
  inside it just before the commit) and the worker restarted (fresh views) or retried, the
  views still equal the build from scratch, every view's position is the head of the log,
  and a witness view has seen every event of the log exactly once.

A last test kills a real follower process with SIGKILL at random moments while it applies
small batches, restarts it, and checks the same.

Each example gets a store of its own (a SQLite file, or a PostgreSQL schema); both backends run.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from domain.case import commands as c
from domain.case.vocabulary import RiskLevel
from domain.errors import DomainError
from domain.shared import Actor, Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from projections.projector import Projector
from projections.store import ViewStore, view_store_for
from tests.conftest import POSTGRES_URL, Clock
from tests.integration.contact_steps import INTENTIONS as CONTACT_INTENTIONS
from tests.integration.contact_steps import ContactStep, ContactSteps, contact_steps
from tests.integration.projection_checks import (
    CrashSwitch,
    activity_positions,
    all_views,
    applied,
    arm_crash,
    dump,
    head,
    log_positions,
    positions,
    projector,
    shift_activity,
)
from tests.integration.shift_steps import INTENTIONS as SHIFT_INTENTIONS
from tests.integration.shift_steps import ShiftStep, ShiftSteps, shift_steps
from tests.story import COORDINATOR, LEAD, Story, add_note, assess_risk, open_case, raise_flag
from tests.unit.test_properties import INTENTIONS, START, intentions

ROOT = Path(__file__).resolve().parents[2]
MAX_STEPS = 20  # per case, after its opening: keeps an example to a second or two

PROPERTIES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

Step = tuple[str, int, Actor, int, int | None]
SHIFT = -1  # in History.order: the next shift step
CONTACT = -2  # in History.order: the next contact step


@dataclass
class History:
    """Several cases' intentions, the order they are written in, and when views catch up."""

    cases: list[list[Step]]
    order: list[int]  # a case index per write (its opening, then its steps in order), or SHIFT
    catch_ups: dict[int, int]  # before write i, catch up at most this many events
    batch_size: int
    shifts: list[ShiftStep] = field(default_factory=list)
    contacts: list[ContactStep] = field(default_factory=list)


@st.composite
def histories(draw: st.DrawFn) -> History:
    cases = [steps[:MAX_STEPS] for steps in draw(st.lists(intentions, min_size=2, max_size=4))]
    shifts = draw(shift_steps)
    contacts = draw(contact_steps)
    writes = [i for i, steps in enumerate(cases) for _ in range(len(steps) + 1)]
    order = draw(st.permutations(writes + [SHIFT] * len(shifts) + [CONTACT] * len(contacts)))
    catch_ups = draw(st.dictionaries(st.integers(0, len(order)), st.integers(1, 30), max_size=8))
    return History(cases, list(order), catch_ups, draw(st.integers(1, 40)), shifts, contacts)


@dataclass
class Writer:
    """Writes a history through the case service, as users would, one command at a time."""

    vigil: Vigil
    clock: Clock
    stories: dict[int, Story] = field(default_factory=dict)
    written: dict[int, int] = field(default_factory=dict)  # case index -> steps taken
    shifts: ShiftSteps | None = None
    contacts: ContactSteps | None = None

    def write(self, case: int, history: History) -> None:
        if case == CONTACT:
            if self.contacts is None:
                self.contacts = ContactSteps(self.vigil, self.clock)
            self.contacts.case_ids = [story.case.id for story in self.stories.values()]
            self.contacts.write(history.contacts[self.written.get(CONTACT, 0)])
            self.written[CONTACT] = self.written.get(CONTACT, 0) + 1
            return
        if case == SHIFT:
            if self.shifts is None:
                self.shifts = ShiftSteps(self.vigil, self.clock)
            self.shifts.case_ids = [story.case.id for story in self.stories.values()]
            self.shifts.write(history.shifts[self.written.get(SHIFT, 0)])
            self.written[SHIFT] = self.written.get(SHIFT, 0) + 1
            return
        taken = self.written.get(case, 0)
        self.written[case] = taken + 1
        if taken == 0:
            self.clock.advance(minutes=1)
            opening = open_case(
                subject={"kind": "member", "ref": f"member-{case % 2}"},  # shared subjects
                category=["self_harm_risk", "harassment", "spam"][case % 3],
            )
            result = self.vigil.cases.execute(None, opening, COORDINATOR)
            story = Story(start=self.clock())
            story.state, story.events = result.state, list(result.events)
            self.stories[case] = story
            return
        story = self.stories[case]
        name, n, actor, minutes, back = history.cases[case][taken - 1]
        now = self.clock.advance(minutes=minutes)
        command = INTENTIONS[name](story, n)
        if command is None:
            return
        if back is not None:
            happened = max(story.case.opened_at, now - timedelta(minutes=back))
            command = command.model_copy(update={"occurred_at": happened})
        try:
            result = self.vigil.cases.execute(story.case.id, command, actor)
        except DomainError:
            return  # refused: nothing written
        story.state = result.state
        story.events.extend(result.events)


@contextmanager
def fresh_vigil(base_url: str) -> Iterator[tuple[Vigil, Clock]]:
    """A store of the example's own, on the backend of ``base_url``."""
    tmp: str | None = None
    schema: str | None = None
    if base_url.startswith("sqlite"):
        tmp = tempfile.mkdtemp(prefix="vigil-prop-")
        url = f"sqlite:///{tmp}/vigil.db"
    else:
        schema = f"vigil_prop_{uuid4().hex[:12]}"
        url = f"{POSTGRES_URL}?schema={schema}"
    clock = Clock(START)
    vigil = bootstrap(
        Settings(_env_file=None, environment="test", database_url=url, db_pool_size=4),
        clock=clock,
    )
    try:
        # Assignees must be users; their registrations are events of other aggregates in the log.
        for username, role in (("lee", Role.SAFEGUARDING_LEAD), ("casey", Role.COORDINATOR)):
            vigil.identity.register(username, role, actor="test-setup")
        yield vigil, clock
    finally:
        vigil.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if schema is not None:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def assert_views_are_the_log(vigil: Vigil, follower: Projector) -> None:
    """Positions at the head, every event seen once, and every view equal to a rebuild."""
    event_log = vigil.event_log
    store: ViewStore = view_store_for(event_log.recorder)
    at_head = head(event_log)
    assert positions(event_log, follower.views) == {view.name: at_head for view in follower.views}
    every_event = log_positions(event_log)
    assert applied(store) == every_event, "an event was applied twice or missed"
    if any(view.name == "actor_activity" for view in follower.views):
        assert activity_positions(store) == every_event
    caught_up = dump(store, follower.views)
    assert caught_up, "no view tables found"
    # From scratch: fresh views in tables (and a tracking table) of their own, built from the
    # start of the log by a fresh projector. (Rebuilding in place, aside then swap, is drawn
    # among the interruptions of the first test.)
    # Another process's worth of objects (its own ledger, so no shared caches of case states).
    other = bootstrap(vigil.settings, clock=vigil.clock)
    try:
        scratch = view_store_for(other.event_log.recorder).with_suffix("__scratch")
        from_scratch = Projector(
            other.event_log, all_views(other.event_log), store=scratch, listen=False
        )
        from_scratch.catch_up()
        assert from_scratch.positions() == {view.name: at_head for view in follower.views}
        assert dump(scratch, from_scratch.views) == caught_up
    finally:
        other.close()


def contact_activity(vigil: Vigil) -> tuple[int, int, int]:
    """How many contacts, reviews and follow-ups the contact view holds (for statistics),
    bucketed."""
    store = view_store_for(vigil.event_log.recorder)
    with store.transaction(commit=False) as tx:
        found = [
            tx.fetchone(f"SELECT COUNT(*) AS n FROM {store.table(name)}")
            for name in ("contact_summaries", "contact_reviews", "contact_follow_ups")
        ]
    contacts, reviews, follow_ups = (int(row["n"]) if row else 0 for row in found)
    return min(contacts, 4), min(reviews, 2), min(follow_ups, 2)


# Other things a live worker meets: a view added later (it catches up alone while the others
# skip what they hold), and one view rebuilt aside and swapped in while writes go on.
Interruption = tuple[str, int, int]  # ("join" | "rebuild", before write i, which view)
interruptions = st.lists(
    st.tuples(st.sampled_from(["join", "rebuild"]), st.integers(0, 60), st.integers(0, 50)),
    max_size=2,
)


@PROPERTIES
@given(history=histories(), events=interruptions)
def test_views_caught_up_at_random_points_equal_a_rebuild(
    database_url: str, history: History, events: list[Interruption]
) -> None:
    with fresh_vigil(database_url) as (vigil, clock):
        writer = Writer(vigil, clock)
        views = all_views(vigil.event_log)
        joins = {i: which for kind, i, which in events if kind == "join"}
        rebuilds = {i: which for kind, i, which in events if kind == "rebuild"}
        late = views.pop(next(iter(joins.values())) % len(views)) if joins else None
        follower = projector(vigil.event_log, views, batch_size=history.batch_size)
        for i, case in enumerate(history.order):
            if i in history.catch_ups:
                follower.catch_up(history.catch_ups[i])
            if late is not None and i >= min(joins):
                views, late = [*views, late], None
                follower = projector(vigil.event_log, views, batch_size=history.batch_size)
            if i in rebuilds:
                follower.rebuild([views[rebuilds[i] % len(views)].name])
            writer.write(case, history)
        if late is not None:
            follower = projector(vigil.event_log, [*views, late], batch_size=history.batch_size)
        follower.catch_up()
        event(f"events in the log: {head(vigil.event_log) // 10 * 10}+")
        shifts, check_ins, handovers = shift_activity(view_store_for(vigil.event_log.recorder))
        drawn = (min(shifts, 3), min(check_ins, 2), min(handovers, 1))
        event("shifts {}+, check-ins {}+, handovers {}+".format(*drawn))
        event("contacts {}+, reviews {}+, follow-ups {}+".format(*contact_activity(vigil)))
        assert_views_are_the_log(vigil, follower)


# Where the worker dies: (which view, on its n-th batch, inside the transaction?, then restart a
# fresh worker (True) or retry with the same one (False)).
crashes = st.lists(
    st.tuples(st.integers(0, 50), st.integers(1, 4), st.booleans(), st.booleans()),
    min_size=1,
    max_size=4,
)


class CrashingWorker:
    """A follower that dies at the planned points and is restarted (or retried) each time."""

    def __init__(self, vigil: Vigil, batch_size: int, plan: Sequence[tuple[int, int, bool, bool]]):
        self._vigil = vigil
        self._batch_size = batch_size
        self._plan = list(plan)
        self.deaths = 0
        self._start(fresh=True)

    def _start(self, *, fresh: bool) -> None:
        if fresh:
            self.follower = projector(
                self._vigil.event_log, all_views(self._vigil.event_log), batch_size=self._batch_size
            )
        self._switch: CrashSwitch | None = None
        self._restart_fresh = True
        if self._plan:
            which, on_call, inside, restart_fresh = self._plan.pop(0)
            view = self.follower.views[which % len(self.follower.views)]
            self._switch = arm_crash(view, on_call=on_call, inside_transaction=inside)
            self._restart_fresh = restart_fresh

    def catch_up(self, max_events: int | None = None) -> None:
        try:
            self.follower.catch_up(max_events)
        except Exception:
            if self._switch is None or not self._switch.fired:
                raise  # not an injected failure: a real bug
            self.deaths += 1
            self._start(fresh=self._restart_fresh)


@PROPERTIES
@given(history=histories(), plan=crashes)
def test_a_worker_dying_at_random_points_applies_every_event_exactly_once(
    database_url: str, history: History, plan: list[tuple[int, int, bool, bool]]
) -> None:
    with fresh_vigil(database_url) as (vigil, clock):
        writer = Writer(vigil, clock)
        worker = CrashingWorker(vigil, history.batch_size, plan)
        for i, case in enumerate(history.order):
            if i in history.catch_ups:
                worker.catch_up(history.catch_ups[i])
            writer.write(case, history)
        for _ in range(len(plan) + 1):
            worker.catch_up()  # dies again or finishes
        # A last restart, with nothing armed, finishes whatever the deaths left.
        event(f"worker deaths: {worker.deaths}")
        final = projector(vigil.event_log, all_views(vigil.event_log))
        final.catch_up()
        assert_views_are_the_log(vigil, final)


# --- a real process, killed -----------------------------------------------------------------------

KILL_ROUNDS = 4
WRITES_PER_ROUND = 60


def _write_some(
    vigil: Vigil,
    clock: Clock,
    rng: random.Random,
    cases: list[Any],
    shifts: ShiftSteps,
    contacts: ContactSteps,
) -> None:
    for _ in range(WRITES_PER_ROUND):
        if rng.random() < 0.2:  # a contact logged, reviewed, answered or followed up
            contacts.case_ids = cases[-3:]
            contacts.write((rng.choice(CONTACT_INTENTIONS), rng.randrange(8), rng.randint(0, 30)))
            continue
        if rng.random() < 0.25:  # a shift planned, attended or handed over
            shifts.case_ids = cases[-3:]
            shifts.write((rng.choice(SHIFT_INTENTIONS), rng.randrange(8), rng.randint(0, 30)))
            continue
        clock.advance(minutes=rng.randint(1, 30))
        if not cases or rng.random() < 0.1:
            cases.append(vigil.cases.execute(None, open_case(), COORDINATOR).state.id)
            continue
        level = rng.choice([RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH])
        options: list[c.CaseCommand] = [add_note(), raise_flag(), assess_risk(level)]
        command = rng.choice(options)
        vigil.cases.execute(rng.choice(cases), command, rng.choice([COORDINATOR, LEAD]))


def test_a_follower_process_killed_mid_batch_loses_and_repeats_nothing(
    database_url: str,
) -> None:
    rng = random.Random(20261117)
    with fresh_vigil(database_url) as (vigil, clock):
        url = str(vigil.settings.resolved_database_url)
        cases: list[Any] = []
        shifts = ShiftSteps(vigil, clock)
        contacts = ContactSteps(vigil, clock)
        interrupted = 0
        for _ in range(KILL_ROUNDS):
            _write_some(vigil, clock, rng, cases, shifts, contacts)
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from tests.integration.projection_checks import child_main; child_main()",
                    url,
                    "1",  # one event per transaction: many commits to land a kill among
                    "stepped",
                ],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            # Killed at a batch chosen at random among the first half of what it has to do
            # (each round writes more), a moment after it is let go on with that batch: in
            # the middle of its work, whatever the speed of the machine.
            kill_at = rng.randint(1, WRITES_PER_ROUND // 2)
            try:
                assert child.stdout is not None
                assert child.stdin is not None
                while (line := child.stdout.readline()) and line.strip() != "ready":
                    pass  # anything printed before it is not ours to judge
                assert line.strip() == "ready", "the follower process did not start"
                for _ in range(kill_at):
                    assert child.stdout.readline().strip() == "applying"
                    child.stdin.write("go\n")
                    child.stdin.flush()
                time.sleep(rng.uniform(0.0, 0.005))
                child.send_signal(signal.SIGKILL)
                out, _ = child.communicate(timeout=30)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
            if "done" not in out:
                interrupted += 1
            # Whatever the kill interrupted, the witness holds exactly the events up to its
            # position: its rows and its position were committed together or not at all.
            store = view_store_for(vigil.event_log.recorder)
            witness = positions(vigil.event_log, all_views(vigil.event_log))["test_applied_events"]
            assert applied(store) == [p for p in log_positions(vigil.event_log) if p <= witness]
        assert interrupted == KILL_ROUNDS, "a kill landed after the follower had finished"
        final = projector(vigil.event_log, all_views(vigil.event_log))
        final.catch_up()
        assert_views_are_the_log(vigil, final)
