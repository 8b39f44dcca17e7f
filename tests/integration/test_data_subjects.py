"""A new context's personal fields are sealed under the subject its classes declare, and erased
with that subject once the context says where it holds theirs; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

import pytest
from pydantic import AwareDatetime, BaseModel, ConfigDict

from application.data_protection import HOLDERS, DataProtectionService, SubjectRef
from domain.case import commands as c
from domain.case.events import NoteAdded
from domain.case.vocabulary import CaseSource, Category, NoteKind, SubjectKind
from domain.personal import (
    ERASED,
    DataSubject,
    DataSubjectOf,
    OwnStream,
    Person,
    UndeclaredSubject,
)
from domain.shared import PERSONAL
from domain.subject.subject import EraseSubject
from infrastructure.keys import CASES_TABLE
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from tests.conftest import Clock
from tests.story import COORDINATOR, LEAD

REF = "forum-member-7070"


class ContactEvent(BaseModel):
    """A stand-in for a context Vigil does not have yet: helpline contacts."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID
    originator_version: int
    recorded_at: AwareDatetime

    @property
    def timestamp(self) -> datetime:
        return self.recorded_at


def the_caller(event: Any) -> DataSubject:
    return Person(SubjectKind.MEMBER, event.caller_ref)


class CallerNoted(ContactEvent):
    """A note about a caller who gave their member id."""

    caller_ref: str
    note: Annotated[str, PERSONAL]

    __data_subject__ = the_caller


class AnonymousContactNoted(ContactEvent):
    """A note about a caller who gave no name: the contact is its own subject."""

    note: Annotated[str, PERSONAL]

    __data_subject__ = DataSubjectOf.own_stream


class HandoverNoted(ContactEvent):
    """Personal text whose class forgot to say whose it is."""

    note: Annotated[str, PERSONAL]


class ContactHoldings:
    """How the contacts context would say where it holds a subject's notes: here, the contacts
    it has linked to them."""

    def __init__(self, linked: dict[str, list[UUID]]) -> None:
        self.linked = linked

    def holdings(self, subject: SubjectRef, case_ids: Sequence[UUID]) -> Iterable[DataSubject]:
        return [OwnStream(contact) for contact in self.linked.get(subject.ref, [])]


def open_case_about(vigil: Vigil) -> UUID:
    command = c.OpenCase(
        subject={"kind": "member", "ref": REF, "display_name": "Corvin Ashdown"},
        source=CaseSource.HELPLINE_CONTACT,
        category=Category.SELF_HARM_RISK,
        summary="Corvin called the line.",
    )
    return vigil.cases.execute(None, command, COORDINATOR).state.id


def erase(service: DataProtectionService) -> None:
    service.erase(
        REF,
        EraseSubject(
            kind=SubjectKind.MEMBER,
            lawful_basis="UK GDPR Art 17(1)(a)",
            reason="The member asked for their data to be erased; no concern remains open.",
        ),
        LEAD,
    )


def note_of(vigil: Vigil, stream: UUID) -> str:
    [event] = vigil.event_log.events_of(stream)
    return str(event.note)


def test_a_note_declared_as_the_callers_is_erased_with_them(vigil: Vigil, clock: Clock) -> None:
    open_case_about(vigil)
    contact = uuid4()
    vigil.event_log.save(
        CallerNoted(
            originator_id=contact,
            originator_version=1,
            recorded_at=clock(),
            caller_ref=REF,
            note="Corvin said the pills are in the kitchen drawer (brackwater).",
        )
    )
    assert "brackwater" in note_of(vigil, contact)

    erase(vigil.data_protection)

    assert note_of(vigil, contact) == ERASED


def test_a_stream_of_its_own_is_erased_once_its_context_says_whose_it_holds(
    vigil: Vigil, clock: Clock, settings: Settings
) -> None:
    open_case_about(vigil)
    linked, unlinked = uuid4(), uuid4()
    for contact in (linked, unlinked):
        vigil.event_log.save(
            AnonymousContactNoted(
                originator_id=contact,
                originator_version=1,
                recorded_at=clock(),
                note="The caller said the bridge felt like the only way (fennimore).",
            )
        )
    contacts = ContactHoldings({REF: [linked]})
    service = DataProtectionService(
        vigil.event_log,
        vigil.cases,
        vigil.keyring,
        clock=clock,
        retention_years=settings.retention_period_years,
        write_retries=settings.write_retries,
        holders=(*HOLDERS, contacts),
    )

    erase(service)

    # The contact linked to the subject is erased with them; one nobody links stays readable.
    assert note_of(vigil, linked) == ERASED
    assert "fennimore" in note_of(vigil, unlinked)


def test_personal_text_whose_class_declares_no_subject_is_never_stored(
    vigil: Vigil, clock: Clock
) -> None:
    stream = uuid4()
    leaky = HandoverNoted(
        originator_id=stream,
        originator_version=1,
        recorded_at=clock(),
        note="Corvin's neighbour has a key.",
    )

    with pytest.raises(UndeclaredSubject, match="HandoverNoted"):
        vigil.event_log.save(leaky)

    assert list(vigil.event_log.events_of(stream)) == []


def test_a_case_unknown_to_the_key_table_is_keyed_by_the_subject_its_opening_names(
    settings: Settings, clock: Clock
) -> None:
    # Given a case whose binding to its subject is not in the key table (a store written before
    # bindings were kept), read by a process that has never seen it.
    first = bootstrap(settings, clock=clock)
    try:
        case_id = open_case_about(first)
        db = first.keyring._database()
        with db.transaction(commit=True) as tx:
            tx.execute(f"DELETE FROM {db.table(CASES_TABLE)}")
        assert first.keyring.cases_of([first.keyring.subject_hash("member", REF)]) == []
    finally:
        first.close()
    vigil = bootstrap(settings, clock=clock)
    try:
        # When a note is added, it is sealed under the key of the subject the opening names...
        vigil.cases.execute(case_id, c.AddNote(kind=NoteKind.FACT, text="Corvin (larkspur)."), LEAD)
        assert vigil.keyring.cases_of([vigil.keyring.subject_hash("member", REF)]) == [case_id]

        # ...so erasing the subject erases it.
        erase(vigil.data_protection)
        note = vigil.cases.timeline(case_id)[1]
        assert isinstance(note, NoteAdded)
        assert note.text == ERASED
    finally:
        vigil.close()
