"""Kept queue counts (issue 18): ``work_queue_counts`` holds the rows of ``work_queue_items`` per
queue and category, moved in the same transaction as the rows, and ``WorkQueues.counts`` answers
from it (overdue and idle items counted by index ranges) exactly what a COUNT over the rows
says, for every reader: all, one assignee, a reader kept out of restricted categories with
cases of their own and a break-glass grant.

Random sequences of real commands (opening in several categories, assigning, assessing risk,
escalating and acknowledging, referring with and without consent, acknowledging referrals,
raising flags, noting, closing, reopening) go through the case service; after each stretch the
kept counts are compared with a direct ``GROUP BY`` over the rows, and every answer of
``counts`` with the same answer computed in Python from the rows themselves and from a replay
of the log. Then across a rebuild of the view (side tables, swapped in) and the projector's
check against a rebuild (``vigil verify``), which must notice a kept count altered by hand.

On SQLite and PostgreSQL (the ``vigil`` fixture).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.access.rules import Visibility
from domain.case.events import CaseEscalated, OutOfHoursDecisionRecorded, ReferralMade
from domain.case.vocabulary import Category, Consent, RiskLevel, Urgency
from domain.errors import DomainError
from domain.shared import Actor, Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil
from projections.queue_rows import QueueCount
from projections.work_queues import COUNTS_TABLE, Replayed, WorkQueues
from tests import story
from tests.conftest import Clock

LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
STAFF = ("lee", "casey", "cora")
RESTRICTED = ("self_harm_risk", "harm_to_others")
CATEGORIES = (Category.SELF_HARM_RISK, Category.HARM_TO_OTHERS, Category.HARASSMENT, Category.SPAM)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"restricted_categories": ",".join(RESTRICTED)})


@pytest.fixture
def queues(vigil: Vigil) -> WorkQueues:
    for username, role in (
        ("lee", Role.SAFEGUARDING_LEAD),
        ("casey", Role.COORDINATOR),
        ("cora", Role.COORDINATOR),
    ):
        vigil.identity.register(username, role, actor="test-setup")
    return WorkQueues(vigil.event_log, projector=vigil.projector)


class Writer:
    """Random commands on random cases; refused ones (a closed case, say) write nothing."""

    def __init__(self, vigil: Vigil, clock: Clock, rng: random.Random) -> None:
        self.vigil, self.clock, self.rng = vigil, clock, rng
        self.cases: list[UUID] = []
        self.escalations: dict[UUID, list[UUID]] = {}
        self.referrals: dict[UUID, list[UUID]] = {}
        self.decisions: dict[UUID, list[UUID]] = {}

    def step(self) -> None:
        rng = self.rng
        self.clock.advance(minutes=rng.choice([1, 20, 90, 600, 1500, 4000]))
        if not self.cases or rng.random() < 0.2:
            command: Any = story.open_case(
                category=rng.choice(CATEGORIES),
                risk_level=rng.choice([None, *RiskLevel]),
                subject={"kind": "member", "ref": f"m-{len(self.cases)}", "display_name": "X"},
            )
            result = self.vigil.cases.execute(None, command, LEE)
            self.cases.append(result.state.id)
            return
        case_id = rng.choice(self.cases)
        escalations = self.escalations.setdefault(case_id, [])
        referrals = self.referrals.setdefault(case_id, [])
        decisions = self.decisions.setdefault(case_id, [])
        choice = rng.randrange(13)
        if choice in (0, 11):
            command = story.assign(rng.choice(STAFF))
        elif choice == 1:
            command = story.assess_risk(rng.choice(list(RiskLevel)))
        elif choice == 2:
            command = story.escalate(rng.choice(list(Urgency)))
        elif choice == 3 and escalations:
            command = story.acknowledge(rng.choice(escalations))
        elif choice == 4:
            command = story.refer(rng.choice([Consent.GIVEN, Consent.NOT_SOUGHT]))
        elif choice == 5 and referrals:
            command = story.update_referral(rng.choice(referrals), "acknowledged")
        elif choice == 6:
            command = story.raise_flag(category=rng.choice(CATEGORIES))
        elif choice == 7:
            command = story.add_note()
        elif choice == 8:
            command = story.close()
        elif choice == 9:
            command = story.reopen()
        elif choice == 12 and decisions:
            command = story.review(rng.choice(decisions))
        else:
            command = story.ooh_decision()
        try:
            result = self.vigil.cases.execute(case_id, command, LEE)
        except DomainError:
            return
        for event in result.events:
            if isinstance(event, CaseEscalated):
                escalations.append(event.escalation_id)
            if isinstance(event, ReferralMade):
                referrals.append(event.referral_id)
            if isinstance(event, OutOfHoursDecisionRecorded):
                decisions.append(event.decision_id)


def readers(writer: Writer) -> list[dict[str, Any]]:
    """Every kind of reader counts serves: all, one assignee, restricted readers."""
    granted = tuple(writer.rng.sample(writer.cases, min(3, len(writer.cases))))
    return [
        {},
        {"assignee": "casey"},
        {"assignee": "nobody"},
        {"visibility": Visibility(RESTRICTED, "casey", ())},
        {"visibility": Visibility(RESTRICTED, "cora", granted)},
        {"visibility": Visibility(RESTRICTED, "casey", granted), "assignee": "casey"},
        {"visibility": Visibility(("spam",), "lee", granted[:1])},
    ]


def answer(found: list[QueueCount]) -> list[tuple[str, int, int | None]]:
    return [(c.name.value, c.total, c.overdue) for c in found]


def key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in ("queue", "item_id", "category", "assignee", "due_at", "since_at"))


def check(queues: WorkQueues, writer: Writer) -> None:
    vigil = writer.vigil
    vigil.projector.catch_up()
    store = queues.store
    with store.transaction(commit=False) as tx:
        direct = tx.fetchall(
            "SELECT queue, category, COUNT(*) AS n "
            f"FROM {queues.view.table(store)} GROUP BY queue, category"
        )
    assert queues.kept_counts() == {(r["queue"], r["category"]): int(r["n"]) for r in direct}

    rows = queues.all()
    here = Replayed(rows=rows, assignees={row["case_id"]: row["assignee"] for row in rows})
    now = writer.clock()
    logged = queues.replay(now)
    assert Counter(key(r) for r in logged.rows) == Counter(key(r) for r in rows)
    for reader in readers(writer):
        for as_of in (now - timedelta(days=3), now, now + timedelta(days=9)):
            for idle_days in (1, 7):
                kept = queues.counts(as_of=as_of, idle_days=idle_days, **reader)
                counted = queues.replayed_counts(here, as_of=as_of, idle_days=idle_days, **reader)
                replayed = queues.replayed_counts(
                    logged, as_of=as_of, idle_days=idle_days, **reader
                )
                assert answer(kept) == answer(counted) == answer(replayed), (reader, as_of)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kept_counts_equal_a_count_over_the_rows_after_random_commands(
    vigil: Vigil, clock: Clock, queues: WorkQueues, seed: int
) -> None:
    writer = Writer(vigil, clock, random.Random(seed))
    nonempty = 0
    for stretch in range(6):
        for _ in range(25 if stretch else 40):
            writer.step()
        check(queues, writer)
        nonempty += bool(queues.kept_counts())
    # The sequences put items in queues, some a restricted reader may not see, some assigned.
    assert nonempty
    everyone = answer(queues.counts(as_of=clock()))
    restricted = answer(queues.counts(as_of=clock(), visibility=readers(writer)[3]["visibility"]))
    assert sum(total for _, total, _ in everyone) > sum(total for _, total, _ in restricted) > 0
    assigned = [answer(queues.counts(as_of=clock(), assignee=name)) for name in STAFF]
    assert any(total for counted in assigned for _, total, _ in counted)


def test_kept_counts_survive_a_rebuild_and_verify_sees_one_altered(
    vigil: Vigil, clock: Clock, queues: WorkQueues
) -> None:
    writer = Writer(vigil, clock, random.Random(7))
    for _ in range(120):
        writer.step()
    check(queues, writer)
    before = queues.kept_counts()
    assert before

    vigil.projector.rebuild(["work_queues"])  # side tables filled (buffered on PostgreSQL)
    assert queues.kept_counts() == before
    check(queues, writer)
    for _ in range(40):  # and kept from there on
        writer.step()
    check(queues, writer)

    differences, _ = vigil.projector.compare_with_rebuild(["work_queues"])
    assert differences == []
    store = queues.store
    with store.transaction(commit=True) as tx:
        tx.execute(
            f"UPDATE {store.table(COUNTS_TABLE)} SET total = total + 1 "
            "WHERE queue = (SELECT MIN(queue) FROM " + store.table(COUNTS_TABLE) + ")"
        )
    differences, _ = vigil.projector.compare_with_rebuild(["work_queues"])
    assert [d.table for d in differences] == [COUNTS_TABLE]


def test_a_view_stored_before_the_counts_is_rebuilt_with_them(
    vigil: Vigil, clock: Clock, queues: WorkQueues
) -> None:
    """The counts came with version 6: a view stored at 5 is rebuilt, so never read with an
    empty counts table beside full rows."""
    writer = Writer(vigil, clock, random.Random(11))
    for _ in range(60):
        writer.step()
    check(queues, writer)
    before = queues.kept_counts()
    store = queues.store
    with store.transaction(commit=True) as tx:
        tx.execute(f"DELETE FROM {store.table(COUNTS_TABLE)}")
        tx.execute(
            f"UPDATE {store.table('projection_tracking')} SET view_version = 5 "
            "WHERE view_name = 'work_queues'"
        )
    vigil.projector.setup()
    check(queues, writer)
    assert queues.kept_counts() == before
