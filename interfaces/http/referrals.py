"""Referrals to outside agencies, and what the agency did with them."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path

from domain.access.permissions import Permission
from domain.case.commands import MakeReferral, UpdateReferral
from domain.shared import Actor
from interfaces.http import examples
from interfaces.http.dependencies import CaseId, Writes, require
from interfaces.http.docs import APPEND_ERRORS, write_responses
from interfaces.http.schemas import CaseWriteAnswer, ReferralUpdateBody

router = APIRouter(prefix="/api/v1", tags=["referrals"])


@router.post(
    "/cases/{case_id}/referrals", status_code=201, responses=write_responses(*APPEND_ERRORS)
)
def make_referral(
    case_id: CaseId,
    body: Annotated[MakeReferral, Body(openapi_examples=examples.REFERRAL)],
    actor: Annotated[Actor, Depends(require(Permission.REFER))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Refer to an agency; without consent, say why and on what lawful basis."""
    return writes.append(case_id, body, actor)


@router.post(
    "/cases/{case_id}/referrals/{referral_id}/updates",
    status_code=201,
    responses=write_responses(*APPEND_ERRORS),
)
def update_referral(
    case_id: CaseId,
    referral_id: Annotated[UUID, Path(description="The referral's id (referral_id).")],
    body: Annotated[ReferralUpdateBody, Body(openapi_examples=examples.REFERRAL_UPDATE)],
    actor: Annotated[Actor, Depends(require(Permission.UPDATE_REFERRAL))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Record the agency's acknowledgement, outcome, a chase, or the referral's closing."""
    command = UpdateReferral(referral_id=referral_id, **body.model_dump())
    return writes.append(case_id, command, actor, body=body)
