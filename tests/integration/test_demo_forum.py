"""The demo's forum: a month of signed Discourse deliveries taken through the real endpoint."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from application.demo import load_demo
from application.demo_forum import BURST_POSTS, FLAGGED_AUTHOR, load_forum, script
from application.demo_rota import FORUM
from application.reports.service import ReportRequest
from domain.case.vocabulary import CaseSource
from domain.community.events import DeliveryEffect, DiscourseDeliveryAccepted
from domain.community.ids import member_ref
from infrastructure.discourse import Delivery, parse
from interfaces.composition import Vigil
from interfaces.http.app import create_app
from interfaces.http.in_process import InProcessClient, discourse_sender
from tests.conftest import Clock


def accepted_deliveries(vigil: Vigil) -> list[DiscourseDeliveryAccepted]:
    return [
        event
        for stream in vigil.event_log.originators_of(DiscourseDeliveryAccepted)
        for event in vigil.event_log.events_of(stream)
        if isinstance(event, DiscourseDeliveryAccepted)
    ]


def test_the_demos_forum_deliveries_are_accepted_through_the_endpoint(vigil: Vigil) -> None:
    load_demo(vigil, actor="cli")
    now = vigil.clock()

    forum = load_forum(vigil, discourse_sender(vigil))

    # Every scripted delivery was accepted, once, by the endpoint, with its effects recorded
    scripted, burst_day = script(now)
    records = accepted_deliveries(vigil)
    assert forum.delivered == len(scripted) == len(records)
    assert {r.discourse_event_id for r in records} == {d.event_id for d in scripted}
    assert all(r.service == FORUM and r.occurred_at <= r.recorded_at for r in records)
    effects = Counter(effect for r in records for effect in r.effects)
    assert effects[DeliveryEffect.MEMBER_JOINED] == 4
    assert effects[DeliveryEffect.FIRST_TOPIC] == 3
    assert effects[DeliveryEffect.MEMBER_WELCOMED] == 3
    assert effects[DeliveryEffect.CASE_OPENED] == 1
    assert effects[DeliveryEffect.FLAG_RAISED] == 1

    # The new members: welcomed within the day, by a message, late, and not at all (overdue)
    members = {
        user_id: vigil.community.member(member_ref(FORUM, user_id)) for user_id in forum.members
    }
    assert sorted(members) == [3001, 3002, 3003, 3004]
    waits = {}
    for user_id, member in members.items():
        assert member is not None
        assert member.joined_at is not None
        waits[user_id] = (
            None if member.welcomed_at is None else member.welcomed_at - member.joined_at
        )
    assert waits[3001] is not None
    assert waits[3001] < timedelta(hours=24)
    assert waits[3002] is not None
    assert waits[3002] < timedelta(hours=24)
    assert waits[3004] is not None
    assert waits[3004] > timedelta(hours=24)
    assert waits[3003] is None
    overdue = members[3003]
    assert overdue is not None
    assert overdue.joined_at is not None
    assert now - overdue.joined_at > timedelta(hours=24)

    # The two flags on one author: one case, opened from the first and joined by the second
    assert forum.case_id is not None
    case = vigil.cases.get(forum.case_id)
    assert case.source is CaseSource.FLAG
    assert case.subject.ref == member_ref(FORUM, FLAGGED_AUTHOR)
    assert case.flag_count == 1  # the second flag (the opening carried the first)
    assert {r.case_id for r in records if r.case_id} == {forum.case_id}

    # The burst: one category's posts on one day, against weeks of one a day
    per_day = Counter(
        (r.occurred_at.date(), r.activity.category)
        for r in records
        if r.activity is not None and r.activity.kind == "post"
    )
    burst = per_day[(burst_day.date(), "living-with-type-1")]
    assert burst >= BURST_POSTS
    others = [
        n
        for (day, cat), n in per_day.items()
        if cat == "living-with-type-1" and day != burst_day.date()
    ]
    assert len(others) >= 20
    assert max(others) <= 2


def test_a_delivery_the_demo_signed_wrongly_is_refused_by_the_endpoint(vigil: Vigil) -> None:
    """The demo's sender goes through the endpoint's signature check (not around it)."""
    load_demo(vigil, actor="cli")
    load_forum(vigil, discourse_sender(vigil))
    before = vigil.event_log.recorder.max_notification_id()
    [first, *_] = script(vigil.clock())[0]
    headers = first.headers("not-the-secret") | {"X-Discourse-Event-Id": "9999"}
    status, answer = InProcessClient(create_app(vigil)).post(
        f"/api/v1/intake/discourse/{FORUM}", headers, first.body
    )
    assert status == 401
    assert answer["type"].endswith("delivery-not-authenticated")
    assert vigil.event_log.recorder.max_notification_id() == before


@pytest.mark.parametrize("days", [0, 3])
def test_the_script_is_all_before_the_demos_clock(vigil: Vigil, days: int) -> None:
    now = vigil.clock() + timedelta(days=days, hours=7)
    deliveries, _ = script(now)
    assert [d.event_id for d in deliveries] == sorted(d.event_id for d in deliveries)
    assert len({d.body for d in deliveries}) == len(deliveries)
    for d in deliveries:
        happening = parse(Delivery(d.event_id, d.event_type, d.event_name, d.body))
        assert happening is not None
        assert now - timedelta(days=30) < happening.created_at < now


def test_the_demos_burst_is_a_spike_in_the_community_report(vigil: Vigil, clock: Clock) -> None:
    load_demo(vigil, actor="cli")
    now = vigil.clock()
    load_forum(vigil, discourse_sender(vigil))
    _, burst_day = script(now)
    clock.set(now + timedelta(minutes=10))  # the deliveries' recording is final by then
    vigil.projector.catch_up()
    report = vigil.reports.report(
        ReportRequest("community", (now - timedelta(days=30)).date(), now.date(), FORUM)
    )
    [engagement] = [s for s in report["sections"] if s["key"] == "engagement"]
    [spikes] = [t for t in engagement["tables"] if t["key"] == "spikes"]
    # (the demo's forum is in London: in November its local date is the UTC date)
    assert [row["date"] for row in spikes["rows"]] == [burst_day.date().isoformat()]
