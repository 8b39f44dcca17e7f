"""What people add to a case as it unfolds: flags, risk assessments, notes, corrections."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from domain.access.permissions import Permission
from domain.case.commands import AddNote, AssessRisk, CorrectRecord, RaiseFlag
from domain.shared import Actor
from interfaces.http import examples
from interfaces.http.dependencies import CaseId, Writes, require
from interfaces.http.docs import APPEND_ERRORS, write_responses
from interfaces.http.schemas import CaseWriteAnswer

router = APIRouter(prefix="/api/v1", tags=["records"])


@router.post("/cases/{case_id}/flags", status_code=201, responses=write_responses(*APPEND_ERRORS))
def raise_flag(
    case_id: CaseId,
    body: Annotated[RaiseFlag, Body(openapi_examples=examples.RAISE_FLAG)],
    actor: Annotated[Actor, Depends(require(Permission.FLAG))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Attach another flag about the same subject to the case."""
    return writes.append(case_id, body, actor)


@router.post(
    "/cases/{case_id}/risk-assessments", status_code=201, responses=write_responses(*APPEND_ERRORS)
)
def assess_risk(
    case_id: CaseId,
    body: Annotated[AssessRisk, Body(openapi_examples=examples.ASSESS_RISK)],
    actor: Annotated[Actor, Depends(require(Permission.ASSESS_RISK))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Record a risk level and the reasoning behind it (the level drives SLA targets)."""
    return writes.append(case_id, body, actor)


@router.post("/cases/{case_id}/notes", status_code=201, responses=write_responses(*APPEND_ERRORS))
def add_note(
    case_id: CaseId,
    body: Annotated[AddNote, Body(openapi_examples=examples.NOTE)],
    actor: Annotated[Actor, Depends(require(Permission.NOTE))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Add a fact, an assessment or a note (also on a closed case)."""
    return writes.append(case_id, body, actor)


@router.post(
    "/cases/{case_id}/corrections", status_code=201, responses=write_responses(*APPEND_ERRORS)
)
def correct_record(
    case_id: CaseId,
    body: Annotated[CorrectRecord, Body(openapi_examples=examples.CORRECTION)],
    actor: Annotated[Actor, Depends(require(Permission.CORRECT))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Correct an earlier event of this case, saying why; nothing is edited (422 if not ours)."""
    return writes.append(case_id, body, actor)
