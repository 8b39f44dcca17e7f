"""The ``community_members`` view (issue 16): one row per member who joined through intake, due
their welcome by the SLA policy in force when they joined, and the ``members_awaiting_welcome``
queue, now and as of a past moment (replayed).

Every test runs on SQLite and on PostgreSQL (the ``vigil`` fixture). The members' events are
made by the domain's own decisions (``domain.community.decide``) and saved to the log, as the
intake's application service does; the server clock is the ``clock`` fixture's (Tuesday 17
November 2026, 09:30 UTC).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.community.events import WelcomeWay
from domain.community.ids import member_ref
from domain.policy.commands import VersionSlaPolicy
from domain.policy.sla import DEFAULT_TARGETS, Target
from domain.shared import Actor, Role
from interfaces.composition import Vigil
from projections.community_members import (
    TABLE,
    CommunityMembers,
    MemberQueue,
)
from projections.paging import InvalidQuery
from projections.registry import build_views
from tests.conftest import Clock
from tests.member_writer import SERVICE, joins, replied, welcomes

QUEUE = MemberQueue.MEMBERS_AWAITING_WELCOME
LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)


def welcome_in(minutes: int) -> VersionSlaPolicy:
    values: dict[str, Any] = {
        **dict(DEFAULT_TARGETS),
        "new_member_welcomed": Target(minutes=minutes),
    }
    return VersionSlaPolicy(
        **values, rationale="Hosts agreed to welcome new members within the hour."
    )


def members(vigil: Vigil) -> CommunityMembers:
    model = CommunityMembers(vigil.event_log, projector=vigil.projector)
    model.catch_up()
    return model


def test_members_are_due_their_welcome_by_the_policy_in_force_when_they_joined(
    vigil: Vigil, clock: Clock
) -> None:
    # Given a member who joined an hour before their account reached Vigil (24 h by default)
    early_join = clock() - timedelta(hours=1)
    early = joins(vigil, clock, 41, early_join)

    # When the policy's welcome target becomes 1 hour, and another member joins after it
    clock.advance(minutes=10)
    vigil.sla_policies.add_version(welcome_in(60), LEE)
    clock.advance(minutes=5)
    late = joins(vigil, clock, 42, clock())
    late_join = clock()

    # Then the first keeps the old due time (policy version 1) and the second gets the new one
    model = members(vigil)
    found, cursor = model.query(as_of=clock())
    assert cursor is None
    by_ref = {m.ref: m for m in found}
    assert [m.ref for m in found] == [late, early]  # latest joined first
    assert by_ref[early].joined_at == early_join
    assert by_ref[early].welcome_due == early_join + timedelta(hours=24)
    assert by_ref[early].policy_version == 1
    assert by_ref[late].welcome_due == late_join + timedelta(hours=1)
    assert by_ref[late].policy_version == 2
    assert by_ref[late].recorded_at == late_join
    assert not any(m.welcomed for m in found)

    # And a policy change after both joined moves neither (even on a rebuild)
    clock.advance(minutes=5)
    vigil.sla_policies.add_version(welcome_in(600), LEE)
    joins(vigil, clock, 43, clock())
    model.rebuild()
    again = {m.ref: m.welcome_due for m in model.query(as_of=clock())[0]}
    assert again[early] == early_join + timedelta(hours=24)
    assert again[late] == late_join + timedelta(hours=1)
    assert again[member_ref(SERVICE, 43)] == clock() + timedelta(hours=10)


def test_a_welcome_fills_the_row_and_filters_and_pages_follow_it(
    vigil: Vigil, clock: Clock
) -> None:
    first = joins(vigil, clock, 7, clock() - timedelta(hours=30))
    second = joins(vigil, clock, 8, clock() - timedelta(hours=2))
    third = joins(vigil, clock, 9, clock() - timedelta(minutes=5))
    clock.advance(minutes=1)
    welcomes(vigil, clock, first, at=clock() - timedelta(minutes=30))
    replied(vigil, clock, second)

    model = members(vigil)
    welcomed, _ = model.query(as_of=clock(), welcomed=True)
    assert {m.ref: (m.welcomed_how, m.welcomed_by) for m in welcomed} == {
        first: (WelcomeWay.RECORDED, "hana"),
        second: (WelcomeWay.REPLY, "moe"),
    }
    by_ref = {m.ref: m for m in welcomed}
    assert by_ref[first].welcomed_at == clock() - timedelta(minutes=30)
    assert by_ref[first].overdue is True  # welcomed 29.5 h after joining: late
    assert by_ref[second].overdue is False
    awaiting, _ = model.query(as_of=clock(), welcomed=False)
    assert [m.ref for m in awaiting] == [third]
    assert model.query(as_of=clock(), service="elsewhere")[0] == []

    page, cursor = model.query(as_of=clock(), limit=2)
    assert [m.ref for m in page] == [third, second]
    assert cursor is not None
    rest, end = model.query(as_of=clock(), limit=2, cursor=cursor)
    assert [m.ref for m in rest] == [first]
    assert end is None
    with pytest.raises(InvalidQuery):
        model.query(as_of=clock(), cursor="bm90IGEgY3Vyc29y")
    assert model.get(third, as_of=clock()) is not None
    assert model.get(member_ref(SERVICE, 999), as_of=clock()) is None


def test_the_view_holds_no_username(vigil: Vigil, clock: Clock) -> None:
    joins(vigil, clock, 5, clock())
    model = members(vigil)
    with model.store.transaction(commit=False) as tx:
        rows = tx.fetchall(f"SELECT * FROM {model.store.table(TABLE)}")
    assert rows
    assert not any("newbie" in str(value) for row in rows for value in row.values())


def test_the_queue_lists_the_overdue_first_now_and_as_of_the_past(
    vigil: Vigil, clock: Clock
) -> None:
    # Given three members: one joined 30 h ago (overdue), one 2 h ago, one now
    start = clock()
    old = joins(vigil, clock, 1, start - timedelta(hours=30))
    recent = joins(vigil, clock, 2, start - timedelta(hours=2))
    clock.advance(minutes=1)
    new = joins(vigil, clock, 3, clock())
    model = members(vigil)
    [count] = model.counts(as_of=clock())
    assert (count.name, count.total, count.overdue) == (QUEUE, 3, 1)
    items, _ = model.items(QUEUE, as_of=clock())
    assert [(i.ref, i.overdue) for i in items] == [(old, True), (recent, False), (new, False)]
    assert items[0].due_at == start - timedelta(hours=6)

    # When the overdue one is welcomed an hour later
    before_welcome = clock()
    clock.advance(hours=1)
    welcomes(vigil, clock, old)
    model.catch_up()

    # Then now it is gone; as of before the welcome it is still there, overdue
    assert [i.ref for i in model.items(QUEUE, as_of=clock())[0]] == [recent, new]
    past = model.replayed(before_welcome, wait_seconds=5)
    then, _ = past.items(QUEUE, as_of=before_welcome)
    assert [(i.ref, i.overdue) for i in then] == [(old, True), (recent, False), (new, False)]
    [then_count] = past.counts(as_of=before_welcome)
    assert (then_count.total, then_count.overdue) == (3, 1)
    # And as of before the last member joined, only the first two
    earlier = model.replayed(start, wait_seconds=5).items(QUEUE, as_of=start)[0]
    assert [i.ref for i in earlier] == [old, recent]

    # And the queue pages by due time
    page, cursor = model.items(QUEUE, as_of=clock(), limit=1)
    assert [i.ref for i in page] == [recent]
    assert cursor is not None
    assert [i.ref for i in model.items(QUEUE, as_of=clock(), cursor=cursor)[0]] == [new]
    with pytest.raises(InvalidQuery):
        CommunityMembers.check_query(QUEUE, cursor="bm90IGEgY3Vyc29y")


def test_the_view_is_registered_with_every_view(vigil: Vigil) -> None:
    assert TABLE in {view.name for view in build_views(vigil.event_log)}
    assert TABLE in {view.name for view in vigil.views}
