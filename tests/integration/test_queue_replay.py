"""Every queue answers a past ``as_of`` as Vigil knew it then (recorded basis), on SQLite and
PostgreSQL: the helpline contact queues and the shift queues replayed from the events recorded
by that moment (``projections.replay``), exactly what a live answer at that moment said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain.shared import Actor, Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil
from projections.contact_queues import ContactQueue, ContactQueueItem, ContactQueues
from projections.paging import InvalidCursor
from projections.shift_queues import ShiftQueue, ShiftQueues
from projections.work_queues import REPLAY_SLOT, ReplayBusy
from tests.conftest import Clock
from tests.contact_writer import ALEX, CASEY, KIT, MISSED_RISK, ContactWriter
from tests.integration.contact_steps import ContactSteps
from tests.shift_writer import ShiftWriter
from tests.story import assess_risk, assign, open_case

LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)
SAM = Actor(username="sam", role=Role.MODERATOR)
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
WAIT = 1.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The product default: self-harm risk and harm to others are restricted."""
    return settings.model_copy(update={"restricted_categories": "self_harm_risk,harm_to_others"})


@pytest.fixture
def writer(vigil: Vigil) -> ContactWriter:
    for username, role in (("lee", Role.SAFEGUARDING_LEAD), ("casey", Role.COORDINATOR)):
        vigil.identity.register(username, role, actor="test-setup")
    return ContactWriter(vigil)


def page(
    queues: ContactQueues, name: ContactQueue, at: datetime, **kw: object
) -> list[ContactQueueItem]:
    """Every item of a contact queue at ``at``, two at a time."""
    found: list[ContactQueueItem] = []
    cursor = None
    while True:
        items, cursor = queues.items(name, as_of=at, limit=2, cursor=cursor, **kw)  # type: ignore[arg-type]
        found += items
        if cursor is None:
            return found


def past(vigil: Vigil, at: datetime) -> ContactQueues:
    return vigil.contact_queues.replayed(at, wait_seconds=WAIT)


def test_a_contact_awaits_review_in_the_past_until_the_moment_its_review_was_recorded(
    vigil: Vigil, clock: Clock, writer: ContactWriter
) -> None:
    clock.set(MONDAY)
    contact = writer.log(KIT)  # due 5 working days later: Monday 30 November 10:00
    due = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    clock.set(MONDAY + timedelta(days=8))  # Tuesday 1 December: the review is a day late
    # Logged now, though it happened on Friday: Vigil did not know of it before now.
    late = writer.log(ALEX, occurred_at=MONDAY + timedelta(days=4))
    review = writer.review(contact, CASEY, scores=MISSED_RISK)  # fails a safeguarding criterion
    clock.set(MONDAY + timedelta(days=9))
    vigil.projector.catch_up()

    # Wednesday 25th: awaiting review, not yet overdue; the late contact not known yet.
    between = MONDAY + timedelta(days=2)
    (item,) = page(past(vigil, between), ContactQueue.CONTACTS_AWAITING_REVIEW, between)
    assert (item.item_id, item.due_at, item.overdue) == (contact, due, False)
    # Monday 30th 12:00: still awaiting (the review came the next day), and overdue now.
    overdue_at = due + timedelta(hours=2)
    (item,) = page(past(vigil, overdue_at), ContactQueue.CONTACTS_AWAITING_REVIEW, overdue_at)
    assert (item.item_id, item.overdue) == (contact, True)
    counts = {
        c.name: (c.total, c.overdue) for c in past(vigil, overdue_at).counts(as_of=overdue_at)
    }
    assert counts[ContactQueue.CONTACTS_AWAITING_REVIEW] == (1, 1)
    assert counts[ContactQueue.QA_SAFEGUARDING_FAILS] == (0, 0)
    assert counts[ContactQueue.FEEDBACK_UNACKNOWLEDGED] == (0, None)
    # After the review was recorded: the contact is out, the late one in, and the review's
    # safeguarding fail awaits a lead, as the live queues say.
    after = MONDAY + timedelta(days=8, minutes=1)
    replayed = past(vigil, after)
    assert [i.item_id for i in page(replayed, ContactQueue.CONTACTS_AWAITING_REVIEW, after)] == [
        late
    ]
    assert [i.item_id for i in page(replayed, ContactQueue.QA_SAFEGUARDING_FAILS, after)] == [
        review
    ]
    for queue in ContactQueue:
        assert page(replayed, queue, after) == page(vigil.contact_queues, queue, after)


def test_the_first_group_follows_the_case_risk_as_it_was_then(
    vigil: Vigil, clock: Clock, writer: ContactWriter
) -> None:
    clock.set(MONDAY)
    case_id = vigil.cases.execute(
        None, open_case(category="harassment", risk_level="low"), CASEY
    ).state.id
    ordinary = writer.log(KIT)
    clock.set(MONDAY + timedelta(minutes=5))
    on_case = writer.log(KIT)
    writer.link(on_case, case_id)
    clock.set(MONDAY + timedelta(hours=2))
    vigil.cases.execute(case_id, assess_risk("high"), LEE)
    clock.set(MONDAY + timedelta(hours=3))
    vigil.projector.catch_up()

    before = MONDAY + timedelta(hours=1)
    items = page(past(vigil, before), ContactQueue.CONTACTS_AWAITING_REVIEW, before)
    assert [(i.item_id, i.first, i.high_risk_case) for i in items] == [
        (ordinary, False, False),
        (on_case, False, False),
    ]
    now = clock()
    items = page(vigil.contact_queues, ContactQueue.CONTACTS_AWAITING_REVIEW, now)
    assert [(i.item_id, i.first) for i in items] == [(on_case, True), (ordinary, False)]


def test_a_shift_is_uncovered_in_the_past_until_a_check_in_was_recorded(
    vigil: Vigil, clock: Clock
) -> None:
    shifts = ShiftWriter(vigil)
    evening = datetime(2026, 11, 17, 19, 0, tzinfo=UTC)
    clock.set(evening - timedelta(hours=9))
    shift = shifts.plan("casey", evening, evening + timedelta(hours=4))
    # casey checked in at 19:05, but it was logged only at 20:00.
    clock.set(evening + timedelta(hours=1))
    shifts.check_in(
        shift,
        Actor(username="casey", role=Role.COORDINATOR),
        occurred_at=evening + timedelta(minutes=5),
    )
    clock.set(evening + timedelta(hours=5))  # casey never checked out
    vigil.projector.catch_up()
    queues: ShiftQueues = vigil.shift_queues

    def uncovered(at: datetime) -> list[UUID]:
        return [
            i.item_id
            for i in queues.replayed(at, wait_seconds=WAIT).items(
                ShiftQueue.UNCOVERED_SHIFTS, as_of=at
            )[0]
        ]

    # At 19:30 Vigil knew of no check-in: uncovered then (the live answer at 19:30 said so),
    # though today's board, asked about 19:30, knows casey was there from 19:05.
    half_past = evening + timedelta(minutes=30)
    assert uncovered(half_past) == [shift]
    assert queues.items(ShiftQueue.UNCOVERED_SHIFTS, as_of=half_past)[0] == []
    assert uncovered(evening + timedelta(hours=1, minutes=1)) == []
    # 23:30: casey's part ended at 23:00, still checked in: a missed check-out then.
    late = evening + timedelta(hours=4, minutes=30)
    counts = {
        c.name: (c.total, c.overdue)
        for c in queues.replayed(late, wait_seconds=WAIT).counts(as_of=late)
    }
    assert counts[ShiftQueue.MISSED_CHECK_OUTS] == (1, 1)
    assert counts[ShiftQueue.UNCOVERED_SHIFTS] == (0, 0)


def test_a_replay_at_now_equals_the_live_queues(
    vigil: Vigil, clock: Clock, writer: ContactWriter
) -> None:
    clock.set(MONDAY)
    steps = ContactSteps(vigil, clock)
    story = [
        ("log", 0, 5),
        ("log", 1, 30),
        ("log_late", 2, 10),
        ("review", 0, 60),
        ("review_fail", 1, 20),
        ("follow_up", 2, 15),
        ("dispute", 0, 5),
        ("follow_up", 0, 40),
        ("attempt", 0, 30),
        ("look", 1, 10),
        ("log_named", 3, 5),
        ("complete", 1, 90),
        ("acknowledge", 1, 5),
        ("log", 4, 2000),
    ]
    for step in story:
        steps.write(step)
    vigil.projector.catch_up()
    now = clock()
    replayed = vigil.contact_queues.replayed(now, wait_seconds=WAIT)
    assert replayed.counts(as_of=now) == vigil.contact_queues.counts(as_of=now)
    for queue in ContactQueue:
        assert page(replayed, queue, now) == page(vigil.contact_queues, queue, now)
    assert sum(c.total for c in replayed.counts(as_of=now)) > 3  # the story left work open
    for mine in ("kit", "casey"):
        assert replayed.counts(as_of=now, mine=mine) == vigil.contact_queues.counts(
            as_of=now, mine=mine
        )


def test_a_replay_is_kept_until_the_log_grows_and_one_runs_at_a_time(
    vigil: Vigil, clock: Clock, writer: ContactWriter
) -> None:
    clock.set(MONDAY)
    writer.log(KIT)
    clock.set(MONDAY + timedelta(hours=1))
    at = MONDAY + timedelta(minutes=30)
    first = vigil.contact_queues.replayed(at, wait_seconds=WAIT)
    assert vigil.contact_queues.replayed(at, wait_seconds=WAIT).store is first.store
    writer.log(KIT)
    again = vigil.contact_queues.replayed(at, wait_seconds=WAIT)
    assert again.store is not first.store
    assert again.counts(as_of=at) == first.counts(as_of=at)
    # A refused page costs nothing; a replay while another runs waits, then is refused.
    with pytest.raises(InvalidCursor):
        ContactQueues.check_query(ContactQueue.FOLLOW_UPS_DUE, cursor="not-a-cursor")
    assert REPLAY_SLOT.acquire(timeout=1)
    try:
        with pytest.raises(ReplayBusy):
            vigil.shift_queues.replayed(at, wait_seconds=0.05)
    finally:
        REPLAY_SLOT.release()


def test_a_replay_hides_a_restricted_case_by_todays_assignee(
    vigil: Vigil, clock: Clock, writer: ContactWriter
) -> None:
    coordinator = Actor(username="casey", role=Role.COORDINATOR)
    clock.set(MONDAY)
    restricted = vigil.cases.execute(None, open_case(category="self_harm_risk"), LEE).state.id
    vigil.cases.execute(restricted, assign("casey"), LEE)
    on_restricted = writer.log(KIT)
    writer.link(on_restricted, restricted)
    plain = writer.log(KIT)
    clock.set(MONDAY + timedelta(hours=1))
    at = clock()
    clock.set(MONDAY + timedelta(hours=2))
    vigil.cases.execute(restricted, assign("lee"), LEE)  # no longer casey's
    vigil.projector.catch_up()

    def awaiting(queues: ContactQueues, actor: Actor) -> set[UUID]:
        visibility = vigil.access.visibility(actor)
        items = page(queues, ContactQueue.CONTACTS_AWAITING_REVIEW, at, visibility=visibility)
        return {i.item_id for i in items}

    # casey was the assignee then, but is not today: by today's rule, casey does not see it.
    assert awaiting(past(vigil, at), coordinator) == {plain}
    assert awaiting(past(vigil, at), LEE) == {on_restricted, plain}
