"""The Subject aggregate: commands, state, ``decide`` and ``evolve``.

One subject is one data subject as cases name it (``kind`` + ``ref``). Its events record the
decisions about its data as a whole: a legal hold placed or lifted, an erasure. Pure: ids and
times come in on the context.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints

from domain.case.ids import event_id_for
from domain.case.vocabulary import SubjectKind
from domain.errors import NotPermitted, RuleViolation
from domain.personal import ErasureTrigger
from domain.shared import DecisionContext, Line, Rationale, Role
from domain.subject.events import LegalHoldLifted, LegalHoldPlaced, SubjectErased, SubjectEvent

LawfulBasis = Annotated[
    Line, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)
]
Reference = Annotated[Line, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class LegalHoldInForce(RuleViolation):
    """The subject's data is under a legal hold: it may not be destroyed."""

    title = "Under a legal hold"


class SubjectCommand(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    kind: SubjectKind


class PlaceLegalHold(SubjectCommand):
    reason: Rationale
    reference: Reference | None = None


class LiftLegalHold(SubjectCommand):
    reason: Rationale


class EraseSubject(SubjectCommand):
    lawful_basis: LawfulBasis
    reason: Rationale
    trigger: ErasureTrigger = ErasureTrigger.REQUEST


class Erasure(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: UUID
    erased_at: datetime
    erased_by: str
    trigger: ErasureTrigger
    case_ids: list[UUID]


class SubjectState(BaseModel):
    id: UUID
    version: int
    kind: SubjectKind
    on_hold: bool = False
    hold_placed_at: datetime | None = None
    hold_placed_by: str | None = None
    erasures: list[Erasure] = []


def _envelope(
    subject_id: UUID, state: SubjectState | None, kind: SubjectKind, ctx: DecisionContext
) -> dict[str, Any]:
    version = 1 if state is None else state.version + 1
    return {
        "originator_id": subject_id,
        "originator_version": version,
        "event_id": event_id_for(subject_id, version),
        "occurred_at": ctx.now,
        "recorded_at": ctx.now,
        "actor": ctx.actor.username,
        "actor_role": ctx.actor.role,
        "subject_kind": kind,
    }


def place_hold(
    subject_id: UUID, state: SubjectState | None, cmd: PlaceLegalHold, ctx: DecisionContext
) -> LegalHoldPlaced:
    if ctx.actor.role is not Role.SAFEGUARDING_LEAD:
        raise NotPermitted("only a safeguarding lead may place a legal hold")
    if state is not None and state.on_hold:
        raise RuleViolation("the subject is already under a legal hold")
    return LegalHoldPlaced(
        **_envelope(subject_id, state, cmd.kind, ctx), reason=cmd.reason, reference=cmd.reference
    )


def lift_hold(
    subject_id: UUID, state: SubjectState | None, cmd: LiftLegalHold, ctx: DecisionContext
) -> LegalHoldLifted:
    if ctx.actor.role is not Role.SAFEGUARDING_LEAD:
        raise NotPermitted("only a safeguarding lead may lift a legal hold")
    if state is None or not state.on_hold:
        raise RuleViolation("the subject is not under a legal hold")
    return LegalHoldLifted(**_envelope(subject_id, state, cmd.kind, ctx), reason=cmd.reason)


def check_erasable(state: SubjectState | None) -> None:
    """Refuse (LegalHoldInForce) while a legal hold is in force."""
    if state is not None and state.on_hold:
        raise LegalHoldInForce(
            "the subject's data is under a legal hold: lift the hold before erasing it"
        )


def erase(
    subject_id: UUID,
    state: SubjectState | None,
    cmd: EraseSubject,
    ctx: DecisionContext,
    *,
    case_ids: list[UUID],
    key_ids: list[str],
    contact_ids: list[UUID] | None = None,
) -> SubjectErased:
    """Record the erasure of the subject's data held under ``key_ids`` in ``case_ids`` (and in
    ``contact_ids``, the helpline contacts they made)."""
    if cmd.trigger is ErasureTrigger.REQUEST and ctx.actor.role is not Role.SAFEGUARDING_LEAD:
        raise NotPermitted("only a safeguarding lead may erase a subject's personal data")
    check_erasable(state)
    return SubjectErased(
        **_envelope(subject_id, state, cmd.kind, ctx),
        trigger=cmd.trigger,
        lawful_basis=cmd.lawful_basis,
        reason=cmd.reason,
        case_ids=sorted(case_ids),
        key_ids=list(key_ids),
        contact_ids=sorted(contact_ids or []),
    )


def evolve(state: SubjectState | None, event: SubjectEvent) -> SubjectState:
    """Fold one event (never raises on a stored event)."""
    if state is None:
        state = SubjectState(id=event.originator_id, version=0, kind=event.subject_kind)
    update: dict[str, Any] = {"version": event.originator_version}
    if isinstance(event, LegalHoldPlaced):
        update |= {"on_hold": True, "hold_placed_at": event.occurred_at}
        update["hold_placed_by"] = event.actor
    elif isinstance(event, LegalHoldLifted):
        update |= {"on_hold": False, "hold_placed_at": None, "hold_placed_by": None}
    elif isinstance(event, SubjectErased):
        erasure = Erasure(
            event_id=event.event_id,
            erased_at=event.occurred_at,
            erased_by=event.actor,
            trigger=event.trigger,
            case_ids=event.case_ids,
        )
        update["erasures"] = [*state.erasures, erasure]
    return state.model_copy(update=update)


def fold(events: Iterable[SubjectEvent]) -> SubjectState | None:
    state: SubjectState | None = None
    for event in events:
        state = evolve(state, event)
    return state
