"""Escalations up the chain: raised, acknowledged (an SLA clock), resolved."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path

from domain.access.permissions import Permission
from domain.case.commands import AcknowledgeEscalation, EscalateCase, ResolveEscalation
from domain.shared import Actor
from interfaces.http import examples
from interfaces.http.dependencies import CaseId, Writes, require
from interfaces.http.docs import APPEND_ERRORS, write_responses
from interfaces.http.schemas import AcknowledgementBody, CaseWriteAnswer, ResolutionBody

router = APIRouter(prefix="/api/v1", tags=["escalations"])

EscalationId = Annotated[UUID, Path(description="The escalation's id (escalation_id).")]


@router.post(
    "/cases/{case_id}/escalations", status_code=201, responses=write_responses(*APPEND_ERRORS)
)
def escalate_case(
    case_id: CaseId,
    body: Annotated[EscalateCase, Body(openapi_examples=examples.ESCALATE)],
    actor: Annotated[Actor, Depends(require(Permission.ESCALATE))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Escalate the case to a coordinator, a safeguarding lead, the designated lead or outside."""
    return writes.append(case_id, body, actor)


@router.post(
    "/cases/{case_id}/escalations/{escalation_id}/acknowledgements",
    status_code=201,
    responses=write_responses(*APPEND_ERRORS),
)
def acknowledge_escalation(
    case_id: CaseId,
    escalation_id: EscalationId,
    body: Annotated[AcknowledgementBody, Body(openapi_examples=examples.ACKNOWLEDGE)],
    actor: Annotated[Actor, Depends(require(Permission.ACKNOWLEDGE_ESCALATION))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Acknowledge an escalation: someone has picked it up."""
    command = AcknowledgeEscalation(escalation_id=escalation_id, **body.model_dump())
    return writes.append(case_id, command, actor, body=body)


@router.post(
    "/cases/{case_id}/escalations/{escalation_id}/resolutions",
    status_code=201,
    responses=write_responses(*APPEND_ERRORS),
)
def resolve_escalation(
    case_id: CaseId,
    escalation_id: EscalationId,
    body: Annotated[ResolutionBody, Body(openapi_examples=examples.RESOLVE)],
    actor: Annotated[Actor, Depends(require(Permission.RESOLVE_ESCALATION))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Resolve an acknowledged escalation with an outcome and rationale."""
    command = ResolveEscalation(escalation_id=escalation_id, **body.model_dump())
    return writes.append(case_id, command, actor, body=body)
