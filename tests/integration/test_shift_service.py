"""The shift service on SQLite and PostgreSQL: handover notes are sealed, erased with the subject
of any case they name (and still verify), and listed in that subject's access export; a weekly
pattern is planned in one append; one open check-in per person, from the attendance view."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import pytest

from domain.case import commands as cc
from domain.case.vocabulary import CaseSource, Category, SubjectKind
from domain.personal import ERASED
from domain.shared import Actor, Role
from domain.shift import commands as c
from domain.shift.errors import CheckedInElsewhere, RotaInvalid
from domain.shift.events import HandoverRecorded
from domain.shift.rota import PlanRota
from domain.subject.subject import EraseSubject
from interfaces.composition import Vigil
from tests.conftest import Clock
from tests.story import COORDINATOR, LEAD

TONIGHT = datetime.fromisoformat("2026-11-17T19:00:00+00:00")
KIT = Actor(username="kit", role=Role.VOLUNTEER)
SECRET_NOTE = "Corvin said the pills are in the kitchen drawer (brackwater)."
OTHER_NOTE = "The spam wave in the recipes forum has stopped (fennimore)."


def people(vigil: Vigil) -> None:
    for name, role in (
        ("kit", Role.VOLUNTEER),
        ("casey", Role.COORDINATOR),
        ("lee", Role.SAFEGUARDING_LEAD),
    ):
        vigil.identity.register(name, role, actor="cli")


def open_case(vigil: Vigil, ref: str, category: Category = Category.HARASSMENT) -> UUID:
    command = cc.OpenCase(
        subject={"kind": "member", "ref": ref},
        source=CaseSource.FLAG,
        category=category,
        summary="Member reported repeated unwanted messages.",
    )
    return vigil.cases.execute(None, command, COORDINATOR).state.id


def kit_on_shift(vigil: Vigil, clock: Clock) -> UUID:
    planned = vigil.shifts.plan(
        c.PlanShift(
            role="on_call",
            assignee="kit",
            starts_at=TONIGHT,
            ends_at=TONIGHT + timedelta(hours=4),
        ),
        COORDINATOR,
    )
    clock.set(TONIGHT)
    vigil.shifts.execute(planned.state.id, c.CheckIn(), KIT)
    return planned.state.id


def hand_over(vigil: Vigil, shift_id: UUID, note: str, *case_ids: UUID) -> HandoverRecorded:
    written = vigil.shifts.execute(
        shift_id, c.RecordHandover(note=note, case_ids=list(case_ids), to="lee"), KIT
    )
    [event] = written.events
    assert isinstance(event, HandoverRecorded)
    return event


def note_of(vigil: Vigil, shift_id: UUID, handover_id: UUID) -> str:
    [event] = [
        e
        for e in vigil.shifts.events(shift_id)
        if isinstance(e, HandoverRecorded) and e.handover_id == handover_id
    ]
    return event.note


def erase(vigil: Vigil, ref: str) -> list[str]:
    result = vigil.data_protection.erase(
        ref,
        EraseSubject(
            kind=SubjectKind.MEMBER,
            lawful_basis="UK GDPR Art 17(1)(a)",
            reason="The member asked for their data to be erased; no concern remains open.",
        ),
        LEAD,
    )
    return result.key_ids


def stored_text(vigil: Vigil, needle: str) -> bool:
    recorder = vigil.event_log.recorder
    return any(needle.encode() in bytes(n.state) for n in recorder.select_notifications(1, 10_000))


def test_a_handover_note_is_erased_with_the_subject_of_a_case_it_names(
    vigil: Vigil, clock: Clock
) -> None:
    people(vigil)
    corvin = open_case(vigil, "forum-member-7070")
    other = open_case(vigil, "forum-member-8080", Category.SPAM)
    shift = kit_on_shift(vigil, clock)
    naming = hand_over(vigil, shift, SECRET_NOTE, corvin, other)
    elsewhere = hand_over(vigil, shift, OTHER_NOTE, other)
    unnamed = hand_over(vigil, shift, "Nothing open tonight.")
    vigil.integrity.notary.catch_up()

    # The note is sealed: never in the log in plaintext; readable through the service.
    assert not stored_text(vigil, "brackwater")
    assert note_of(vigil, shift, naming.handover_id) == SECRET_NOTE

    destroyed = erase(vigil, "forum-member-7070")

    # The handover naming Corvin's case reads as erased, whichever other cases it names; the
    # others are untouched. The erasure names the handover's key, so the ledger still verifies.
    assert note_of(vigil, shift, naming.handover_id) == ERASED
    assert note_of(vigil, shift, elsewhere.handover_id) == OTHER_NOTE
    assert note_of(vigil, shift, unnamed.handover_id) == "Nothing open tonight."
    handover_key = vigil.keyring.aggregate_subject_hash(naming.handover_id)
    [key] = vigil.keyring.keys_of([handover_key])
    assert key.destroyed_at is not None
    assert key.key_id in destroyed
    vigil.integrity.notary.catch_up()
    report = vigil.integrity.verify([vigil.integrity.public_key()])
    assert report.ok, report.findings

    # A note recorded later about the same case is sealed under a key of its own, readable.
    later = hand_over(vigil, shift, "Corvin wrote again (rowanberry).", corvin)
    assert note_of(vigil, shift, later.handover_id) == "Corvin wrote again (rowanberry)."


def test_a_subject_access_export_lists_the_handovers_naming_their_cases(
    vigil: Vigil, clock: Clock
) -> None:
    people(vigil)
    corvin = open_case(vigil, "forum-member-7070")
    other = open_case(vigil, "forum-member-8080", Category.SPAM)
    shift = kit_on_shift(vigil, clock)
    naming = hand_over(vigil, shift, SECRET_NOTE, corvin)
    hand_over(vigil, shift, OTHER_NOTE, other)

    [record] = vigil.data_protection.export("forum-member-7070", SubjectKind.MEMBER)

    assert [(e.handover_id, e.note) for e in record.naming] == [(naming.handover_id, SECRET_NOTE)]

    erase(vigil, "forum-member-7070")
    [record] = vigil.data_protection.export("forum-member-7070", SubjectKind.MEMBER)
    assert [e.note for e in record.naming] == [ERASED]


def test_a_weekly_pattern_is_planned_in_one_append_or_not_at_all(vigil: Vigil) -> None:
    people(vigil)
    rota = PlanRota.model_validate(
        {
            "role": "host",
            "assignee": "kit",
            "weekly": [{"weekday": "sat", "start": "20:00", "end": "23:00"}],
            "from": "2026-11-21",
            "until": "2026-12-19",
        }
    )
    before = vigil.event_log.recorder.max_notification_id() or 0

    planned = vigil.shifts.plan_rota(rota, COORDINATOR)

    # Five Saturdays, five streams, five consecutive positions (one transaction).
    assert len(planned.shifts) == 5
    positions = [vigil.event_log.notification_id_of(s.id, 1) for s in planned.shifts]
    assert positions == list(range(before + 1, before + 6))
    assert planned.position == before + 5

    # A pattern one of whose shifts has started (last Saturday's) plans none of them.
    started = rota.model_dump(by_alias=True) | {"from": "2026-11-14", "until": "2026-11-28"}
    with pytest.raises(RotaInvalid):
        vigil.shifts.plan_rota(PlanRota.model_validate(started), COORDINATOR)
    assert vigil.event_log.recorder.max_notification_id() == before + 5


def test_one_open_check_in_per_person_comes_from_the_attendance_view(
    vigil: Vigil, clock: Clock
) -> None:
    people(vigil)
    first = kit_on_shift(vigil, clock)
    second = vigil.shifts.plan(
        c.PlanShift(
            role="host",
            assignee="kit",
            starts_at=TONIGHT + timedelta(hours=1),
            ends_at=TONIGHT + timedelta(hours=3),
        ),
        COORDINATOR,
    ).state.id
    clock.set(TONIGHT + timedelta(hours=1))

    # The view had not seen Kit's check-in when it was written; the check-in catches it up.
    with pytest.raises(CheckedInElsewhere):
        vigil.shifts.execute(second, c.CheckIn(), KIT)
    assert [o.shift_id for o in vigil.open_check_ins.of("kit")] == [first]

    vigil.shifts.execute(first, c.CheckOut(), KIT)
    vigil.shifts.execute(second, c.CheckIn(), KIT)
    assert [o.shift_id for o in vigil.open_check_ins.current("kit")] == [second]
    # A lead's record of a forgotten check-out closes it too.
    clock.advance(hours=3)
    vigil.shifts.execute(
        second,
        c.CheckOut(on_behalf_of="kit", reason="Kit left at the end and forgot to check out."),
        LEAD,
    )
    assert vigil.open_check_ins.current("kit") == []
