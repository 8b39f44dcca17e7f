"""The projector's work per batch: the SLA policy and services' calendars come from the batches
it reads (never read from the log again per event), and each batch is one transaction.

Every test runs on SQLite and on PostgreSQL (the ``vigil`` fixture), with real commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from domain.case.vocabulary import Urgency
from domain.shared import Actor, Role
from interfaces.composition import Vigil
from projections.store import Tx
from projections.work_queues import Queue, WorkQueues
from tests import story
from tests.conftest import Clock
from tests.integration.test_sla_policies import shorter

LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)


def count_topic_reads(vigil: Vigil, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every read of the log by topic (how the policy and calendars are read) from now on."""
    recorder = vigil.event_log.recorder
    reads: list[Any] = []
    select: Callable[..., Any] = recorder.select_notifications

    def counted(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("topics"):
            reads.append(kwargs["topics"])
        return select(*args, **kwargs)

    monkeypatch.setattr(recorder, "select_notifications", counted)
    return reads


def catch_up_in_batches(vigil: Vigil, size: int) -> int:
    batches = 0
    while vigil.projector.catch_up(max_events=size):
        batches += 1
    return batches


def test_the_projector_reads_no_policy_or_calendar_per_event_and_judges_by_the_version_then(
    vigil: Vigil, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a case, its escalation, and views caught up with them
    case = vigil.cases.execute(None, story.open_case(), LEE).state
    old = vigil.cases.execute(case.id, story.escalate(urgency=Urgency.URGENT), LEE).events[-1]
    raised = clock()
    vigil.projector.catch_up()
    reads = count_topic_reads(vigil, monkeypatch)

    # When many notes are added, a shorter policy takes effect, and a new escalation follows,
    # all folded by the projector in batches of 4 (the version lands mid-batch)
    for _ in range(17):
        vigil.cases.execute(case.id, story.add_note(), LEE)
    clock.advance(minutes=10)
    vigil.sla_policies.add_version(shorter(), LEE)
    clock.advance(minutes=5)
    new = vigil.cases.execute(case.id, story.escalate(urgency=Urgency.URGENT), LEE).events[-1]
    reads.clear()  # the writes themselves may look the policy up; only the projector counts
    assert catch_up_in_batches(vigil, 4) >= 5

    # Then no view read the log by topic: the policy and calendars came from the batches
    assert reads == []
    # And each escalation is due by the version in force when it was raised
    queues = WorkQueues(vigil.event_log, projector=vigil.projector)
    found, _ = queues.items(Queue.UNACKNOWLEDGED_ESCALATIONS, as_of=clock(), limit=10)
    assert {item.item_id: item.due_at for item in found} == {
        old.event_id: raised + timedelta(hours=4),
        new.event_id: clock() + timedelta(hours=1),
    }
    # And a rebuild from the log (which reads them by topic) gives the same rows
    current = queues.all()
    queues.rebuild()
    assert queues.all() == current


def test_a_busy_log_is_applied_in_one_transaction_per_batch(
    vigil: Vigil, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a case and views caught up with it
    case = vigil.cases.execute(None, story.open_case(), LEE).state
    vigil.projector.catch_up()
    store = vigil.projector.store
    opened: list[bool] = []
    transaction = store.transaction

    @contextmanager
    def counted(*args: Any, **kwargs: Any) -> Iterator[Tx]:
        opened.append(bool(kwargs.get("commit")))
        with transaction(*args, **kwargs) as tx:
            yield tx

    monkeypatch.setattr(store, "transaction", counted)

    # When 30 notes arrive while the projector is not looking
    for _ in range(30):
        vigil.cases.execute(case.id, story.add_note(), LEE)

    # Then catching up in batches of 10 commits three transactions, not one per event
    assert catch_up_in_batches(vigil, 10) == 3
    assert opened.count(True) == 3
    # And at once: one transaction for all 30
    for _ in range(30):
        vigil.cases.execute(case.id, story.add_note(), LEE)
    opened.clear()
    assert vigil.projector.catch_up() == 30
    assert opened.count(True) == 1
