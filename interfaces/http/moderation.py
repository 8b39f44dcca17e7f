"""Moderation actions, each under a named policy clause."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from domain.access.permissions import Permission
from domain.case.commands import TakeModerationAction
from domain.shared import Actor
from interfaces.http import examples
from interfaces.http.dependencies import CaseId, Writes, require
from interfaces.http.docs import APPEND_ERRORS, write_responses
from interfaces.http.schemas import CaseWriteAnswer

router = APIRouter(prefix="/api/v1", tags=["moderation"])


@router.post(
    "/cases/{case_id}/moderation-actions",
    status_code=201,
    responses=write_responses(*APPEND_ERRORS),
)
def take_moderation_action(
    case_id: CaseId,
    body: Annotated[TakeModerationAction, Body(openapi_examples=examples.MODERATE)],
    actor: Annotated[Actor, Depends(require(Permission.MODERATE))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Record a moderation action with its rationale and policy clause (expiry from occurred_at).

    Four-eyes: an action named in `VIGIL_FOUR_EYES` (`ban_member` by default) does not take
    effect yet. It is answered 201 with an `ApprovalRequested` event (the write is the request),
    listed in the case's `pending_approvals` and the `approvals_awaiting_decision` queue, and
    takes effect only when a safeguarding lead other than the requester approves it
    (`POST /cases/{id}/approvals/{approval_id}/decisions`).
    """
    return writes.append(case_id, body, actor)
