"""The read side of helpline contacts on SQLite and PostgreSQL: the contact list (filters,
paging, a volunteer's own, contacts on restricted cases), a handler's feedback, reviewers'
agreement, and the contact queues (their order, their due times by the calendar of the
contact's service in force at the contact, and what takes an item out), each equal to a
rebuild."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.case.vocabulary import RiskLevel
from domain.service.commands import RegisterService, VersionCalendar
from domain.shared import Actor, Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil
from projections.contact_list import ContactSummaries
from projections.contact_queues import ContactQueue, ContactQueueItem
from projections.paging import InvalidCursor, InvalidQuery
from tests.conftest import Clock
from tests.contact_writer import (
    ALEX,
    CASEY,
    FAIR,
    GOOD,
    KIT,
    LEE,
    MISSED_RISK,
    ROBIN,
    ContactWriter,
)
from tests.story import assess_risk, assign, close, open_case, reopen

RESTRICTED = "self_harm_risk,harm_to_others"
TUESDAY = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)  # within the default hours (Mon-Fri 9-17)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The product default: self-harm risk and harm to others are restricted."""
    return settings.model_copy(update={"restricted_categories": RESTRICTED})


@pytest.fixture
def writer(vigil: Vigil) -> ContactWriter:
    for username, role in (("lee", Role.SAFEGUARDING_LEAD), ("casey", Role.COORDINATOR)):
        vigil.identity.register(username, role, actor="test-setup")
    return ContactWriter(vigil)


def caught_up(vigil: Vigil) -> ContactSummaries:
    vigil.projector.catch_up()
    return vigil.contact_summaries


def walk(vigil: Vigil, limit: int = 2, **filters: Any) -> list[UUID]:
    """Every contact of a listing, page by page."""
    found: list[UUID] = []
    cursor = None
    while True:
        page, cursor = vigil.contact_summaries.query(limit=limit, cursor=cursor, **filters)
        found += [item.id for item in page]
        if cursor is None:
            return found


def queue(vigil: Vigil, name: ContactQueue, limit: int = 2, **kw: Any) -> list[ContactQueueItem]:
    """Every item of a contact queue at the clock's now, page by page."""
    vigil.projector.catch_up()
    found: list[ContactQueueItem] = []
    cursor = None
    while True:
        page, cursor = vigil.contact_queues.items(
            name, as_of=vigil.clock(), limit=limit, cursor=cursor, **kw
        )
        found += page
        if cursor is None:
            return found


def assert_equal_to_a_rebuild(vigil: Vigil) -> None:
    before = caught_up(vigil).all()
    queues = {q: queue(vigil, q, limit=200) for q in ContactQueue}
    vigil.projector.rebuild()
    assert vigil.contact_summaries.all() == before
    assert {q: queue(vigil, q, limit=200) for q in ContactQueue} == queues


def test_the_contact_list_filters_pages_and_refuses_what_it_cannot_answer(
    vigil: Vigil, clock: Clock, writer: ContactWriter
) -> None:
    vigil.services.register(
        RegisterService(
            name="helpline",
            timezone="Europe/London",
            operating_hours={day: ["08:00-14:00"] for day in ("mon", "tue", "wed")},
        ),
        LEE,
    )
    clock.set(TUESDAY)
    chat = writer.log(KIT, channel="chat", service="helpline")
    clock.advance(minutes=10)
    call = writer.log(
        ALEX,
        channel="call",
        caller={"anonymous": False, "ref": "caller-12", "display_name": "Jo Bloggs"},
    )
    clock.advance(minutes=10)
    sms = writer.log(KIT, channel="sms", occurred_at=TUESDAY - timedelta(days=1))  # logged late
    clock.advance(minutes=10)
    letter = writer.log(ALEX, channel="letter", service="helpline")
    writer.review(call, CASEY)
    writer.review(letter, CASEY)

    contacts = caught_up(vigil)
    # Latest first, by when each contact happened (the late-logged SMS last).
    assert walk(vigil) == [letter, call, chat, sms]
    assert walk(vigil, channel="chat") == [chat]
    assert walk(vigil, handled_by="kit") == [chat, sms]
    assert walk(vigil, reviewed=True) == [letter, call]
    assert walk(vigil, reviewed=False) == [chat, sms]
    assert walk(vigil, service="helpline") == [letter, chat]
    assert walk(vigil, start=TUESDAY, end=TUESDAY + timedelta(minutes=20)) == [call, chat]
    assert walk(vigil, reviewed=False, service="helpline", handled_by="kit") == [chat]
    # A reader who may read only their own contacts gets only theirs, whatever they ask.
    assert walk(vigil, only_handled_by="kit", handled_by="alex") == []
    assert walk(vigil, only_handled_by="kit") == [chat, sms]

    (named,) = [c for c in contacts.all() if c.id == call]
    assert (named.anonymous, named.caller_ref, named.reviewed, named.review_count) == (
        False,
        "caller-12",
        True,
        1,
    )
    assert (named.last_score, named.last_result) == (100.0, "pass")
    # No personal data anywhere in the view: not the name, not the summary, not the feedback.
    dumped = str([c.model_dump() for c in contacts.all()])
    for personal in ("Jo Bloggs", "harassment at work", "ask about risk earlier"):
        assert personal not in dumped

    with pytest.raises(InvalidQuery) as bad_channel:
        contacts.query(channel="pigeon")
    assert "channel" in (bad_channel.value.errors or {})
    with pytest.raises(InvalidQuery) as backwards:
        contacts.query(start=TUESDAY, end=TUESDAY)
    assert backwards.value.errors == {"to": "must be after from"}
    _, cursor = contacts.query(limit=1)
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        contacts.feedback("kit", cursor=cursor)  # a cursor of another listing
    with pytest.raises(InvalidQuery):
        contacts.query(limit=0)
    assert_equal_to_a_rebuild(vigil)


def test_a_contact_on_a_restricted_case_is_restricted_with_it(
    vigil: Vigil, clock: Clock, writer: ContactWriter
) -> None:
    vigil.identity.register("kit", Role.VOLUNTEER, actor="test-setup")
    clock.set(TUESDAY)
    restricted_case = vigil.cases.execute(
        None, open_case(category="self_harm_risk"), CASEY
    ).state.id
    vigil.cases.execute(restricted_case, assign("lee"), CASEY)
    open_case_id = vigil.cases.execute(None, open_case(category="harassment"), CASEY).state.id
    on_restricted = writer.log(KIT, outcome="safeguarding_concern")
    writer.link(on_restricted, restricted_case)
    on_open = writer.log(KIT)
    writer.link(on_open, open_case_id)
    plain = writer.log(KIT)
    writer.review(on_restricted, CASEY, MISSED_RISK)
    writer.follow_up(on_restricted, TUESDAY + timedelta(days=1), assignee="kit")
    caught_up(vigil)

    def seen_by(actor: Actor) -> list[UUID]:
        return walk(vigil, visibility=vigil.access.visibility(actor))

    # The lead sees everything (and the flag saying so); the coordinator, not assigned, and
    # the volunteer who handled it do not see the contact on the restricted case in a list.
    assert set(seen_by(LEE)) == {on_restricted, on_open, plain}
    assert set(seen_by(CASEY)) == {on_open, plain}
    assert set(seen_by(KIT)) == {on_open, plain}
    flags = {c.id: c.case_restricted for c in vigil.contact_summaries.all()}
    assert flags == {on_restricted: True, on_open: False, plain: False}
    # Nor in any queue, nor in their feedback.
    for name in ContactQueue:
        for item in queue(vigil, name, visibility=vigil.access.visibility(CASEY)):
            assert item.contact_id != on_restricted
    assert [i.contact_id for i in queue(vigil, ContactQueue.QA_SAFEGUARDING_FAILS)] == [
        on_restricted
    ]
    kit_feedback, _ = vigil.contact_summaries.feedback(
        "kit", visibility=vigil.access.visibility(KIT)
    )
    assert kit_feedback == []
    # Assigned to the coordinator, the case (and its contact) is theirs to see.
    vigil.cases.execute(restricted_case, assign("casey"), LEE)
    vigil.projector.catch_up()
    assert set(seen_by(CASEY)) == {on_restricted, on_open, plain}
    assert_equal_to_a_rebuild(vigil)


def test_reviews_feedback_follow_ups_and_reviewers_agreement(
    vigil: Vigil, clock: Clock, writer: ContactWriter
) -> None:
    clock.set(TUESDAY)
    agreeing = writer.log(KIT)
    disagreeing = writer.log(KIT)
    once = writer.log(ALEX)
    elsewhere = writer.log(KIT, occurred_at=TUESDAY - timedelta(days=30))
    clock.advance(hours=1)
    first = writer.review(agreeing, CASEY, GOOD)  # 100.0
    second = writer.review(agreeing, ROBIN, {"greeting": 3, "risk_asked": 4, "signposting": 4})
    writer.review(disagreeing, CASEY, GOOD)  # 100.0
    writer.review(disagreeing, ROBIN, FAIR)  # 75.0: 25 points apart
    writer.review(once, CASEY, FAIR)
    writer.review(elsewhere, CASEY, GOOD)
    writer.review(elsewhere, ROBIN, GOOD)
    clock.advance(hours=1)
    writer.acknowledge(agreeing, first)
    writer.dispute(agreeing, second)
    writer.resolve(agreeing, second, "revised")
    call_back = writer.follow_up(once, TUESDAY + timedelta(days=1), assignee="alex")
    writer.attempt(once, call_back, "no_answer")
    writer.attempt(once, call_back, "left_message")
    writer.complete(once, call_back)

    contacts = caught_up(vigil)
    (summary,) = [c for c in contacts.all() if c.id == agreeing]
    assert (summary.review_count, summary.calibrated) == (2, True)
    assert summary.last_score == 93.8  # (3/4 + 2 * 4/4 + 4/4) / 4, to one decimal
    assert [(r.review_id, r.feedback_status, r.calibration) for r in summary.reviews] == [
        (first, "acknowledged", False),
        (second, "revised", True),
    ]
    (followed,) = [c for c in contacts.all() if c.id == once]
    (done,) = followed.follow_ups
    assert (done.follow_up_id, done.kind, done.attempts, done.completed) == (
        call_back,
        "call_back",
        2,
        True,
    )
    assert done.last_attempt_outcome == "left_message"

    # Reviewers' agreement over the last week: 93.8 is within 10 points of 100, 75 is not.
    week = contacts.calibration(start=TUESDAY - timedelta(days=7), end=TUESDAY + timedelta(days=1))
    assert (week.calibrated_contacts, week.agreeing, week.disagreeing, week.share) == (2, 1, 1, 0.5)
    assert week.reviewed_contacts == 3
    month = contacts.calibration(start=TUESDAY - timedelta(days=31))
    assert (month.calibrated_contacts, month.agreeing, month.share) == (3, 2, 0.6667)
    assert contacts.calibration(service="helpline").share is None

    # A handler's own feedback, latest review first, and what they still have to answer.
    kit_reviews, _ = contacts.feedback("kit")
    assert len(kit_reviews) == 6
    awaiting, _ = contacts.feedback("kit", status="awaiting")
    assert {r.contact_id for r in awaiting} == {disagreeing, elsewhere}
    assert [r.feedback_status for r in contacts.feedback("alex")[0]] == ["awaiting"]
    with pytest.raises(InvalidQuery):
        contacts.feedback("kit", status="ignored")
    assert_equal_to_a_rebuild(vigil)


def test_contacts_awaiting_review_put_what_matters_first_and_are_due_by_the_calendar_in_force(
    vigil: Vigil, clock: Clock, writer: ContactWriter
) -> None:
    clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))  # Monday
    vigil.services.register(
        RegisterService(
            name="helpline",
            timezone="Europe/London",
            operating_hours={day: ["08:00-14:00"] for day in ("mon", "tue", "wed")},
        ),
        LEE,
    )
    risky_case = vigil.cases.execute(
        None, open_case(category="harassment", risk_level="low"), CASEY
    ).state.id
    clock.set(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))  # Monday 15:00: the helpline is closed
    ordinary = writer.log(KIT, service="helpline")
    concern = writer.log(KIT, service="helpline", outcome="safeguarding_concern")
    referral = writer.log(KIT, service="helpline", outcome="referral_made")
    on_risky_case = writer.log(KIT, service="helpline")
    writer.link(on_risky_case, risky_case)
    followed_up = writer.log(KIT, service="helpline")
    writer.follow_up(followed_up, datetime(2026, 11, 24, 12, 0, tzinfo=UTC), kind="referral")
    # Earlier, on the default calendar (Mon-Fri 09:00-17:00): Friday 16:00, 5 working days.
    earlier = writer.log(ALEX, occurred_at=datetime(2026, 11, 20, 16, 0, tzinfo=UTC))
    reviewed = writer.log(ALEX)
    writer.review(reviewed, CASEY)

    # The helpline's first version: out of hours on Monday 15:00, so the first working day
    # ends at Tuesday's 14:00 close; then Wed, Mon, Tue and Wed 2 December 14:00.
    helpline_due = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
    items = queue(vigil, ContactQueue.CONTACTS_AWAITING_REVIEW)
    assert {i.item_id: i.due_at for i in items} == {
        ordinary: helpline_due,
        concern: helpline_due,
        referral: helpline_due,
        on_risky_case: helpline_due,
        followed_up: helpline_due,
        earlier: datetime(2026, 11, 27, 16, 0, tzinfo=UTC),
    }
    # The case is not (yet) high risk: the contact on it waits with the others.
    first = [i.item_id for i in items if i.first]
    assert set(first) == {concern, referral, followed_up}
    assert [i.item_id for i in items][:3] == sorted(first, key=str)
    assert [i.item_id for i in items][3:] == [earlier, *sorted([ordinary, on_risky_case], key=str)]

    # Assessed high risk, the case brings its contact first.
    vigil.cases.execute(risky_case, assess_risk(RiskLevel.HIGH), CASEY)
    items = queue(vigil, ContactQueue.CONTACTS_AWAITING_REVIEW)
    assert {i.item_id for i in items if i.first} == {concern, referral, followed_up, on_risky_case}
    assert [i.high_risk_case for i in items if i.item_id == on_risky_case] == [True]
    assert [i.item_id for i in items][4:] == [earlier, ordinary]
    # Closed, the case no longer puts its contact first (its risk is history).
    vigil.cases.execute(risky_case, close(), CASEY)
    items = queue(vigil, ContactQueue.CONTACTS_AWAITING_REVIEW)
    assert on_risky_case not in {i.item_id for i in items if i.first}
    vigil.cases.execute(risky_case, reopen(), CASEY)

    # A new calendar version moves no due time already set; a contact after it is judged by it.
    clock.set(datetime(2026, 11, 23, 15, 30, tzinfo=UTC))
    vigil.services.add_version(
        "helpline",
        VersionCalendar(
            timezone="Europe/London",
            operating_hours={day: ["08:00-20:00"] for day in ("mon", "tue", "wed", "thu")},
            effective_from=datetime(2026, 11, 23, 16, 0, tzinfo=UTC),
            rationale="Afternoon volunteers recruited.",
        ),
        LEE,
    )
    clock.set(datetime(2026, 11, 23, 16, 30, tzinfo=UTC))
    later = writer.log(KIT, service="helpline")
    # The earlier contacts' rows are written again, judged as the log holds the versions now.
    writer.review(ordinary, CASEY)
    writer.follow_up(concern, datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    dues = {i.item_id: i.due_at for i in queue(vigil, ContactQueue.CONTACTS_AWAITING_REVIEW)}
    assert dues[concern] == helpline_due
    assert ordinary not in dues
    # Monday 16:30, open until 20:00: 5 working days (Tue, Wed, Thu, Mon, Tue) -> Tuesday 16:30.
    assert dues[later] == datetime(2026, 12, 1, 16, 30, tzinfo=UTC)

    counts = {
        c.name: (c.total, c.overdue) for c in vigil.contact_queues.counts(as_of=vigil.clock())
    }
    assert counts[ContactQueue.CONTACTS_AWAITING_REVIEW] == (6, 0)
    late = {
        c.name: (c.total, c.overdue)
        for c in vigil.contact_queues.counts(as_of=datetime(2026, 11, 28, tzinfo=UTC))
    }
    assert late[ContactQueue.CONTACTS_AWAITING_REVIEW] == (6, 1)  # Friday's, due the 27th
    # Paging a page at a time crosses from the first group to the rest without loss.
    one_by_one = queue(vigil, ContactQueue.CONTACTS_AWAITING_REVIEW, limit=1)
    assert one_by_one == queue(vigil, ContactQueue.CONTACTS_AWAITING_REVIEW, limit=50)
    assert_equal_to_a_rebuild(vigil)


def test_follow_ups_feedback_and_safeguarding_fails_queue_until_their_work_is_done(
    vigil: Vigil, clock: Clock, writer: ContactWriter
) -> None:
    clock.set(TUESDAY)
    contact = writer.log(KIT)
    other = writer.log(ALEX)
    tomorrow = writer.follow_up(contact, TUESDAY + timedelta(days=1), assignee="kit")
    in_an_hour = writer.follow_up(other, TUESDAY + timedelta(hours=1), kind="signposting")
    letter = writer.follow_up(contact, TUESDAY + timedelta(days=2), kind="advocacy_letter")
    failed = writer.review(contact, CASEY, MISSED_RISK)
    passed = writer.review(other, CASEY, GOOD)
    calibration = writer.review(contact, ROBIN, GOOD)
    clock.advance(hours=2)  # 11:30: the signposting is overdue

    due = queue(vigil, ContactQueue.FOLLOW_UPS_DUE)
    assert [(i.item_id, i.overdue) for i in due] == [
        (in_an_hour, True),
        (tomorrow, False),
        (letter, False),
    ]
    assert [i.kind for i in due] == ["signposting", "call_back", "advocacy_letter"]
    # A volunteer's own: the follow-ups assigned to them or on the contacts they handled.
    assert [i.item_id for i in queue(vigil, ContactQueue.FOLLOW_UPS_DUE, mine="kit")] == [
        tomorrow,
        letter,
    ]
    writer.attempt(contact, tomorrow)
    writer.complete(other, in_an_hour)
    due = queue(vigil, ContactQueue.FOLLOW_UPS_DUE)
    assert [(i.item_id, i.attempts) for i in due] == [(tomorrow, 1), (letter, 0)]

    fails = queue(vigil, ContactQueue.QA_SAFEGUARDING_FAILS)
    # Reviewed Tuesday 09:30: a lead's look is due by Wednesday's close.
    assert [(i.review_id, i.due_at) for i in fails] == [
        (failed, datetime(2026, 11, 18, 17, 0, tzinfo=UTC))
    ]
    unanswered = queue(vigil, ContactQueue.FEEDBACK_UNACKNOWLEDGED)
    assert {i.review_id for i in unanswered} == {failed, passed, calibration}
    assert all(i.due_at is None and not i.overdue for i in unanswered)
    assert {
        i.review_id for i in queue(vigil, ContactQueue.FEEDBACK_UNACKNOWLEDGED, mine="alex")
    } == {passed}
    writer.acknowledge(other, passed, ALEX)
    writer.dispute(contact, failed)
    assert {i.review_id for i in queue(vigil, ContactQueue.FEEDBACK_UNACKNOWLEDGED)} == {
        calibration
    }
    assert [i.review_id for i in queue(vigil, ContactQueue.FEEDBACK_DISPUTES)] == [failed]
    writer.resolve(contact, failed, "upheld")
    assert queue(vigil, ContactQueue.FEEDBACK_DISPUTES) == []
    # The dispute's resolution is not a lead's look at the safeguarding fail: it stays.
    assert [i.review_id for i in queue(vigil, ContactQueue.QA_SAFEGUARDING_FAILS)] == [failed]
    counts = {c.name: (c.total, c.overdue) for c in vigil.contact_queues.counts(as_of=clock())}
    assert counts == {
        ContactQueue.CONTACTS_AWAITING_REVIEW: (0, 0),
        ContactQueue.FOLLOW_UPS_DUE: (2, 0),
        ContactQueue.FEEDBACK_UNACKNOWLEDGED: (1, None),
        ContactQueue.FEEDBACK_DISPUTES: (0, None),
        ContactQueue.QA_SAFEGUARDING_FAILS: (1, 0),
    }
    assert_equal_to_a_rebuild(vigil)
