"""Whose personal data a stored class holds is declared by the class, never guessed."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel, ConfigDict

import domain
from domain.access.events import BreakGlassAccessGranted, BreakGlassAccessReviewed
from domain.access.vocabulary import GrantReviewOutcome
from domain.case.events import CaseEvent, CaseOpened, NoteAdded, Subject
from domain.case.snapshot import CaseSnapshot
from domain.case.state import fold
from domain.case.vocabulary import NoteKind
from domain.personal import (
    DataSubjectOf,
    OwnStream,
    Person,
    SubjectOfCase,
    UndeclaredSubject,
    declaration_of,
    declared_subject,
    plan_for,
)
from domain.shared import PERSONAL

NOW = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)
CASE_ID = uuid4()


def stored_classes() -> list[type[BaseModel]]:
    """Every model class defined under ``domain/`` that is stored as a stream's own record
    (an event or a snapshot: it has an ``originator_id``)."""
    found = []
    for module in pkgutil.walk_packages(domain.__path__, "domain."):
        loaded = importlib.import_module(module.name)
        for cls in vars(loaded).values():
            if (
                inspect.isclass(cls)
                and issubclass(cls, BaseModel)
                and cls.__module__ == module.name
                and "originator_id" in cls.model_fields
            ):
                found.append(cls)
    return found


def undeclared(classes: list[type[BaseModel]]) -> list[str]:
    """Those that hold personal fields and declare no data subject."""
    return [cls.__name__ for cls in classes if plan_for(cls) and declaration_of(cls) is None]


def test_every_stored_class_with_personal_fields_declares_its_data_subject() -> None:
    classes = stored_classes()
    personal = {cls for cls in classes if plan_for(cls)}

    # The walk reaches every context's events and snapshots...
    assert {CaseOpened, NoteAdded, CaseSnapshot, BreakGlassAccessGranted} <= personal
    # ...and none of them would be sealed under a key that erasing its subject leaves alone.
    assert undeclared(classes) == [], (
        "set __data_subject__ (domain.personal.DataSubjectOf) on these: their personal fields "
        "would escape erasure"
    )


class HandoverNoted(BaseModel):
    """A new context's event that forgot to say whose its personal text is."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID
    originator_version: int
    note: Annotated[str, PERSONAL]


def test_the_declaration_check_can_fail() -> None:
    assert undeclared([HandoverNoted]) == ["HandoverNoted"]
    with pytest.raises(UndeclaredSubject, match="HandoverNoted"):
        declared_subject(HandoverNoted(originator_id=uuid4(), originator_version=1, note="x"))


def envelope(version: int) -> dict[str, object]:
    return {
        "originator_id": CASE_ID,
        "originator_version": version,
        "event_id": uuid4(),
        "occurred_at": NOW,
        "recorded_at": NOW,
        "actor": "kit",
        "actor_role": "coordinator",
    }


def opened() -> CaseOpened:
    return CaseOpened(
        **envelope(1),
        subject=Subject(kind="member", ref="m-1", display_name="Sam"),
        source="flag",
        category="harassment",
        summary="Sam was threatened",
    )


def test_a_case_opening_names_the_subject_every_later_event_of_the_case_belongs_to() -> None:
    note = NoteAdded(**envelope(2), kind=NoteKind.FACT, text="Sam called back")

    assert declared_subject(opened()) == SubjectOfCase(CASE_ID, named=Person("member", "m-1"))
    assert declared_subject(note) == SubjectOfCase(CASE_ID)


def test_every_case_event_belongs_to_its_case_subject_unless_it_says_otherwise() -> None:
    class LaterCaseEvent(CaseEvent):
        comment: Annotated[str, PERSONAL]

    assert declaration_of(LaterCaseEvent) is DataSubjectOf.case_subject


def test_a_snapshot_belongs_to_the_subject_its_state_names() -> None:
    state = fold(None, [opened()])
    assert state is not None
    snapshot = CaseSnapshot(
        originator_id=CASE_ID, originator_version=1, recorded_at=NOW, state=state
    )

    assert declared_subject(snapshot) == Person("member", "m-1")


def test_a_break_glass_reason_and_its_review_belong_to_the_subject_of_their_case() -> None:
    stream = uuid4()
    common = {"originator_id": stream, "recorded_at": NOW, "actor_role": "volunteer"}
    granted = BreakGlassAccessGranted(
        **common,
        originator_version=1,
        event_id=uuid4(),
        actor="val",
        case_id=CASE_ID,
        category="self_harm_risk",
        reason="Sam's friend called",
        expires_at=NOW + timedelta(hours=1),
    )
    reviewed = BreakGlassAccessReviewed(
        **{**common, "actor_role": "safeguarding_lead"},
        originator_version=2,
        event_id=uuid4(),
        actor="priya",
        grant_id=granted.event_id,
        case_id=CASE_ID,
        outcome=GrantReviewOutcome.APPROPRIATE,
        rationale="Sam was at risk",
    )

    # Not the grant's own stream: erasing the case's subject erases these words too.
    assert declared_subject(granted) == declared_subject(reviewed) == SubjectOfCase(CASE_ID)
    assert declared_subject(granted) != OwnStream(stream)
