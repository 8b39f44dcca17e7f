"""Serious incidents on a case: a safeguarding lead's decision whether to report it to a
regulator, and that it was reported (issue 15). Decided on closed cases too."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path

from domain.access.permissions import Permission
from domain.case.commands import AssessSeriousIncident, Command, ReportSeriousIncident
from domain.shared import Actor, Ref
from interfaces.http.dependencies import CaseId, Writes, require
from interfaces.http.docs import APPEND_ERRORS, write_responses
from interfaces.http.schemas import CaseWriteAnswer

router = APIRouter(prefix="/api/v1", tags=["serious incidents"])

AssessmentId = Annotated[UUID, Path(description="The assessment's id (assessment_id).")]


class SeriousIncidentReportBody(Command):
    reference: Ref | None = None


@router.post(
    "/cases/{case_id}/serious-incident-assessments",
    status_code=201,
    responses=write_responses(*APPEND_ERRORS),
)
def assess_serious_incident(
    case_id: CaseId,
    body: AssessSeriousIncident,
    actor: Annotated[Actor, Depends(require(Permission.SERIOUS_INCIDENT))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Decide whether the case is a serious incident to report (`reportable`), to which
    `regulator`, on which `grounds` (at least one), and why (`rationale`, sealed); a later
    assessment supersedes this one. Open or closed cases."""
    return writes.append(case_id, body, actor)


@router.post(
    "/cases/{case_id}/serious-incident-assessments/{assessment_id}/report",
    status_code=201,
    responses=write_responses(*APPEND_ERRORS),
)
def report_serious_incident(
    case_id: CaseId,
    assessment_id: AssessmentId,
    body: SeriousIncidentReportBody,
    actor: Annotated[Actor, Depends(require(Permission.SERIOUS_INCIDENT))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Record that the latest, reportable assessment was reported to its regulator (at
    `occurred_at`), with the regulator's `reference?`; once (409 after, or for an assessment
    that was not reportable or is superseded)."""
    command = ReportSeriousIncident(assessment_id=assessment_id, **body.model_dump())
    return writes.append(case_id, command, actor, body=body)
