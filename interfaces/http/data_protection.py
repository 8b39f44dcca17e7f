"""Data protection: erasure (crypto-shredding), legal holds and subject access exports.

A subject is named by its ``ref`` in the URL (it may contain '/') and its ``kind`` in the body
(or the ``kind`` query parameter of the export). Safeguarding leads only. The writes accept
Idempotency-Key: a retry with the same key and body answers as the first time and appends
nothing (where a plain repeat would be refused: already erased, already on hold).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from application.data_protection import HoldResult, SubjectRecord
from domain.access.permissions import Permission
from domain.access.vocabulary import AccessedRecord
from domain.case.vocabulary import SubjectKind
from domain.personal import ERASED, ErasureTrigger, erased_paths
from domain.shared import Actor, Rationale, Role
from domain.shift.events import HandoverRecorded
from domain.subject.events import SubjectEvent
from domain.subject.subject import (
    EraseSubject,
    LawfulBasis,
    LiftLegalHold,
    PlaceLegalHold,
    SubjectCommand,
)
from interfaces.http.access import Reader
from interfaces.http.contacts import ContactDetail, contact_detail
from interfaces.http.dependencies import (
    POSITION_HEADER,
    Keyed,
    VigilDep,
    keyed_answer,
    require,
)
from interfaces.http.problems import Problem, error_responses
from interfaces.http.schemas import CaseRead, EventRead, case_read, event_read

router = APIRouter(prefix="/api/v1", tags=["data protection"])

SubjectRefPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=500,
        description="The subject's ref (its id in the community or helpline system); it may "
        "contain '/'.",
    ),
]


def _errors(
    done: tuple[int, str] | None = None, **described: str
) -> dict[int | str, dict[str, Any]]:
    """``done``: a write's success (status, what it answers), with its Idempotency-Key retry."""
    responses = {**(keyed_answer(*done) if done else {}), **error_responses(401, 403, 422)}
    for status, description in described.items():
        responses[int(status.removeprefix("s"))] = {"model": Problem, "description": description}
    return responses


# --- answers -------------------------------------------------------------------------------------


class ErasureRequest(SubjectCommand):
    """An erasure asked for over HTTP: always at a request (retention erases by `vigil
    retention --apply`), so there is no trigger to choose."""

    lawful_basis: LawfulBasis = Field(description="The lawful basis, e.g. UK GDPR Art 17(1)(a).")
    reason: Rationale = Field(description="Why; kept in the clear, so no personal data.")


class SubjectName(BaseModel):
    kind: SubjectKind
    ref: str


class SubjectEventRead(BaseModel):
    """A decision about a subject's data as a whole: a legal hold placed or lifted, an erasure."""

    event_id: UUID
    type: str = Field(examples=["LegalHoldPlaced"])
    version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    actor_role: Role
    reason: str
    reference: str | None = None
    trigger: ErasureTrigger | None = Field(default=None, description="SubjectErased only.")
    lawful_basis: str | None = Field(default=None, description="SubjectErased only.")
    case_ids: list[UUID] | None = Field(default=None, description="SubjectErased only.")
    key_ids: list[str] | None = Field(default=None, description="SubjectErased only.")
    contact_ids: list[UUID] | None = Field(
        default=None, description="SubjectErased only: the caller's helpline contacts."
    )


def subject_event_read(event: SubjectEvent) -> SubjectEventRead:
    data = event.model_dump(exclude={"originator_id", "originator_version", "subject_kind"})
    return SubjectEventRead.model_validate(
        {**data, "type": type(event).__name__, "version": event.originator_version}
    )


class ErasureAnswer(BaseModel):
    """The erasure as recorded: the subject's keys are destroyed and each case records it."""

    subject: SubjectName
    erasure: SubjectEventRead
    case_ids: list[UUID] = Field(description="Cases that recorded PersonalDataErased.")
    contact_ids: list[UUID] = Field(
        default=[],
        description="Helpline contacts the subject made as a named caller (kind `contact`): "
        'their personal fields read "[erased]" from now on.',
    )
    keys_destroyed: int
    position: int = Field(description="Log position of the last event written (read-your-writes).")


class LegalHoldAnswer(BaseModel):
    subject: SubjectName
    on_hold: bool
    event: SubjectEventRead
    position: int = Field(description="Log position of the event (read-your-writes).")


class SubjectKeyRead(BaseModel):
    """One generation of the subject's key: destroyed ones mark erasures."""

    key_id: str
    created_at: datetime
    destroyed_at: datetime | None


class HeldCase(BaseModel):
    case: CaseRead
    events: list[EventRead] = Field(description="The whole timeline, decrypted where held.")


class HeldHandover(BaseModel):
    """A shift handover naming one of the subject's cases. Its note is sealed under a key of
    its own (erased with the subject of any case it names) and may speak of other people too:
    review it before disclosing it."""

    shift_id: UUID
    handover_id: UUID
    given_at: datetime = Field(description="When it was given (occurred_at).")
    recorded_at: datetime
    by: str
    to: str | None
    case_ids: list[UUID]
    note: str
    erased_fields: list[str]


class HeldForumRecord(BaseModel):
    """A forum member's own record (community intake): how they joined and were welcomed."""

    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    details: dict[str, Any] = Field(
        description="The record's fields (a username or a welcome's note: personal)."
    )
    erased_fields: list[str]


def _forum_record(event: Any) -> HeldForumRecord:
    envelope = {
        "originator_id",
        "originator_version",
        "event_id",
        "occurred_at",
        "recorded_at",
        "actor",
        "actor_role",
    }
    return HeldForumRecord(
        type=type(event).__name__,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        actor=event.actor,
        details=event.model_dump(mode="json", exclude=envelope),
        erased_fields=erased_paths(event),
    )


class HeldSubject(BaseModel):
    subject: SubjectName
    legal_hold: bool
    history: list[SubjectEventRead] = Field(description="Legal holds and erasures, in order.")
    keys: list[SubjectKeyRead]
    cases: list[HeldCase]
    handovers: list[HeldHandover] = Field(
        default=[], description="Shift handovers naming the subject's cases, in order."
    )
    contacts: list[ContactDetail] = Field(
        default=[],
        description="Helpline contacts the subject made as a named caller (kind `contact`), "
        "with their reviews and follow-ups, in the order they happened.",
    )
    forum_member: list[HeldForumRecord] = Field(
        default=[],
        description="A forum member's own records from community intake (kind `member`): "
        "joined, first topic, welcomed, cases opened from flags, in order.",
    )


class SubjectAccessExport(BaseModel):
    """Everything Vigil holds about a person (or item), decrypted: for a subject access request.

    Erased fields read "[erased]" and are listed in each event's ``erased_fields``."""

    ref: str
    generated_at: datetime
    subjects: list[HeldSubject] = Field(description="One per kind the ref is known as.")


def _hold_answer(result: HoldResult, response: Response, keyed: Keyed) -> LegalHoldAnswer:
    response.headers[POSITION_HEADER] = str(result.position)
    keyed.answered(replayed=result.replayed)
    return LegalHoldAnswer(
        subject=SubjectName(kind=result.subject.kind, ref=result.subject.ref),
        on_hold=result.state.on_hold,
        event=subject_event_read(result.event),
        position=result.position,
    )


def _held(record: SubjectRecord, now: datetime) -> HeldSubject:
    return HeldSubject(
        subject=SubjectName(kind=record.subject.kind, ref=record.subject.ref),
        legal_hold=record.state is not None and record.state.on_hold,
        history=[subject_event_read(e) for e in record.history],
        keys=[
            SubjectKeyRead(key_id=k.key_id, created_at=k.created_at, destroyed_at=k.destroyed_at)
            for k in record.keys
        ],
        cases=[
            HeldCase(
                case=case_read(c.state, now),
                events=[event_read(e) for e in c.timeline],
            )
            for c in record.cases
        ],
        handovers=[
            HeldHandover(
                shift_id=e.originator_id,
                handover_id=e.handover_id,
                given_at=e.occurred_at,
                recorded_at=e.recorded_at,
                by=e.actor,
                to=e.to,
                case_ids=e.case_ids,
                note=e.note,
                erased_fields=erased_paths(e),
            )
            for e in record.naming
            if isinstance(e, HandoverRecorded)
        ],
        contacts=[contact_detail(contact) for contact in record.contacts],
        forum_member=[_forum_record(e) for e in record.forum_member],
    )


# --- bodies --------------------------------------------------------------------------------------

_ERASE_EXAMPLES = {
    "request": {
        "summary": "A right-to-erasure request",
        "value": {
            "kind": "member",
            "lawful_basis": "UK GDPR Art 17(1)(a): no longer necessary",
            "reason": "Member asked for erasure; no safeguarding concern open, no hold.",
        },
    }
}
_HOLD_EXAMPLES = {
    "police": {
        "summary": "A police request to preserve records",
        "value": {
            "kind": "member",
            "reason": "Police asked us to preserve all records pending an investigation.",
            "reference": "Police ref 24/1234",
        },
    }
}
_LIFT_EXAMPLES = {
    "closed": {
        "summary": "The investigation has ended",
        "value": {"kind": "member", "reason": "Police confirmed the investigation has closed."},
    }
}


# --- routes --------------------------------------------------------------------------------------

_ERASE = (
    "Erase a subject's personal data (crypto-shredding): destroy its key, so every personal "
    "field recorded about it (display name, summaries, notes, rationales...) reads "
    '"[erased]" in every timeline, state and export from now on, as does every shift '
    "handover note naming one of its cases and, for a named helpline caller (kind `contact`), "
    "every contact they made. Recorded as SubjectErased "
    "(with the lawful basis and reason, kept in the clear: do not put personal data in them) "
    "and as PersonalDataErased on each of the subject's cases, closed ones too. The event "
    "log is never changed, so its hashes still verify. Refused with 409 `legal-hold` while a "
    "legal hold is in force, 409 `rule-violation` if nothing readable is left to erase, 404 if "
    "Vigil holds nothing about the subject; a refusal writes nothing. Another Vigil process "
    "stops decrypting within VIGIL_KEY_CACHE_SECONDS (5 s)."
)


@router.post(
    "/subjects/{ref:path}/erasure",
    status_code=201,
    summary="Erase a subject's personal data",
    description=_ERASE,
    responses=_errors(
        (201, "Erased: the erasure as recorded."),
        s404="Vigil holds nothing about this subject.",
        s409="Under a legal hold (`legal-hold`), or already erased (`rule-violation`).",
        s503="The subject kept changing; retry.",
    ),
)
def erase_subject(
    ref: SubjectRefPath,
    body: Annotated[ErasureRequest, Body(openapi_examples=_ERASE_EXAMPLES)],
    actor: Annotated[Actor, Depends(require(Permission.ERASE))],
    vigil: VigilDep,
    response: Response,
    keyed: Keyed,
) -> ErasureAnswer:
    """Erase a subject's personal data (crypto-shredding)."""
    command = EraseSubject(kind=body.kind, lawful_basis=body.lawful_basis, reason=body.reason)
    result = vigil.data_protection.erase(ref, command, actor, request=keyed.request_for(body))
    response.headers[POSITION_HEADER] = str(result.position)
    keyed.answered(replayed=result.replayed)
    return ErasureAnswer(
        subject=SubjectName(kind=result.subject.kind, ref=result.subject.ref),
        erasure=subject_event_read(result.event),
        case_ids=result.case_ids,
        contact_ids=result.contact_ids,
        keys_destroyed=len(result.key_ids),
        position=result.position,
    )


_PLACE = (
    "Place a legal hold on a subject: erasure (and retention) of its data is refused until "
    "the hold is lifted. Recorded as LegalHoldPlaced; the reason and reference are kept in the "
    "clear. 409 if a hold is already in force."
)


@router.post(
    "/subjects/{ref:path}/legal-hold",
    status_code=201,
    summary="Place a legal hold on a subject",
    description=_PLACE,
    responses=_errors(
        (201, "Placed: the hold as recorded."),
        s409="A legal hold is already in force.",
        s503="Retry.",
    ),
)
def place_legal_hold(
    ref: SubjectRefPath,
    body: Annotated[PlaceLegalHold, Body(openapi_examples=_HOLD_EXAMPLES)],
    actor: Annotated[Actor, Depends(require(Permission.LEGAL_HOLD))],
    vigil: VigilDep,
    response: Response,
    keyed: Keyed,
) -> LegalHoldAnswer:
    """Place a legal hold on a subject's data."""
    result = vigil.data_protection.place_hold(ref, body, actor, request=keyed.request_for(body))
    return _hold_answer(result, response, keyed)


_LIFT = (
    "Lift the legal hold in force on a subject, saying why (JSON body, as on the POST). "
    "Recorded as LegalHoldLifted. 409 if no hold is in force."
)


@router.delete(
    "/subjects/{ref:path}/legal-hold",
    summary="Lift a subject's legal hold",
    description=_LIFT,
    responses=_errors(
        (200, "Lifted: the lift as recorded."), s409="No legal hold is in force.", s503="Retry."
    ),
)
def lift_legal_hold(
    ref: SubjectRefPath,
    body: Annotated[LiftLegalHold, Body(openapi_examples=_LIFT_EXAMPLES)],
    actor: Annotated[Actor, Depends(require(Permission.LEGAL_HOLD))],
    vigil: VigilDep,
    response: Response,
    keyed: Keyed,
) -> LegalHoldAnswer:
    """Lift the legal hold on a subject's data."""
    result = vigil.data_protection.lift_hold(ref, body, actor, request=keyed.request_for(body))
    return _hold_answer(result, response, keyed)


_EXPORT = (
    "Everything Vigil holds about a subject, for a subject access request: each of its cases "
    "with the case as it stands and its whole timeline, decrypted; its legal holds and "
    f"erasures; its key generations; the shift handovers naming its cases (their notes may "
    f"speak of others: review before disclosing); for a named helpline caller (kind `contact`), "
    f"every contact they made, with its reviews and follow-ups. Personal data already erased reads "
    f'"{ERASED}" and is '
    "named in each event's `erased_fields`. Without `kind`, every kind the ref is known as. "
    "Read straight from the event log (no lag). 404 if Vigil holds nothing about the subject."
)


@router.get(
    "/subjects/{ref:path}/sar-export",
    summary="Export everything held about a subject (subject access request)",
    description=_EXPORT,
    responses=_errors(s404="Vigil holds nothing about this subject."),
)
def export_subject(
    ref: SubjectRefPath,
    actor: Annotated[Actor, Depends(require(Permission.SUBJECT_ACCESS))],
    vigil: VigilDep,
    reader: Reader,
    kind: Annotated[SubjectKind | None, Query(description="Only this kind of subject.")] = None,
) -> SubjectAccessExport:
    """Export everything held about a subject, decrypted (subject access request)."""
    now = vigil.clock()
    records = vigil.data_protection.export(ref, kind)
    # Recorded in the access log (application.access) before the export is returned: one entry
    # per case it shows, so the export is found in each of those cases' access log.
    reader.record_subject(
        AccessedRecord.SUBJECT_ACCESS_EXPORT,
        ref,
        [case.state.id for record in records for case in record.cases],
    )
    return SubjectAccessExport(
        ref=ref, generated_at=now, subjects=[_held(record, now) for record in records]
    )
