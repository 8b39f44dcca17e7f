"""Out-of-hours decisions and their review by a safeguarding lead."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path

from domain.access.permissions import Permission
from domain.case.commands import RecordOutOfHoursDecision, ReviewOutOfHoursDecision
from domain.shared import Actor
from interfaces.http import examples
from interfaces.http.dependencies import CaseId, Writes, require
from interfaces.http.docs import APPEND_ERRORS, write_responses
from interfaces.http.schemas import CaseWriteAnswer, ReviewBody

router = APIRouter(prefix="/api/v1", tags=["out-of-hours"])


@router.post(
    "/cases/{case_id}/out-of-hours-decisions",
    status_code=201,
    responses=write_responses(*APPEND_ERRORS),
)
def record_out_of_hours_decision(
    case_id: CaseId,
    body: Annotated[
        RecordOutOfHoursDecision, Body(openapi_examples=examples.OUT_OF_HOURS_DECISION)
    ],
    actor: Annotated[Actor, Depends(require(Permission.OOH_DECIDE))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Log a decision taken out of hours (409 if occurred_at is within operating hours)."""
    return writes.append(case_id, body, actor)


@router.post(
    "/cases/{case_id}/out-of-hours-decisions/{decision_id}/reviews",
    status_code=201,
    responses=write_responses(*APPEND_ERRORS),
)
def review_out_of_hours_decision(
    case_id: CaseId,
    decision_id: Annotated[UUID, Path(description="The decision's id (decision_id).")],
    body: Annotated[ReviewBody, Body(openapi_examples=examples.REVIEW)],
    actor: Annotated[Actor, Depends(require(Permission.OOH_REVIEW))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Ratify, vary or overturn an out-of-hours decision (a lead other than the decider)."""
    command = ReviewOutOfHoursDecision(decision_id=decision_id, **body.model_dump())
    return writes.append(case_id, command, actor, body=body)
