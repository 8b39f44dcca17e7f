"""Four-eyes approvals, and the review of emergency actions (referrals made without consent).

Held decisions: with the default ``VIGIL_FOUR_EYES=ban_member,close_critical``, a ``ban_member``
moderation action, or closing a case whose current risk is critical, is answered 201 with an
``ApprovalRequested`` event instead of the action: the write happened (a request), the case lists
it under ``pending_approvals`` and the ``approvals_awaiting_decision`` queue holds it. A
safeguarding lead other than the requester then approves it (``ApprovalDecided`` and, in the same
write, the ``ModerationActionTaken`` or ``CaseClosed`` it puts into effect) or rejects it.

Emergency actions are never held back: a referral made without consent is recorded at once and a
safeguarding lead other than the referrer reviews it by the end of the next working day.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path

from domain.access.permissions import Permission
from domain.case.commands import DecideApproval, ReviewReferral
from domain.shared import Actor
from interfaces.http.dependencies import CaseId, Writes, require
from interfaces.http.docs import APPEND_ERRORS, write_responses
from interfaces.http.schemas import ApprovalDecisionBody, CaseWriteAnswer, ReviewBody

router = APIRouter(prefix="/api/v1", tags=["approvals"])

TAG = {
    "name": "approvals",
    "description": "Four-eyes: decisions held until a second safeguarding lead approves them "
    "(by default banning a member and closing a critical-risk case), and the review of "
    "referrals made without consent.",
}

APPROVAL_DECISION: dict[str, dict[str, Any]] = {
    "approve_ban": {
        "summary": "A second lead approves a proposed ban",
        "value": {
            "decision": "approved",
            "rationale": "The account has sent threats to three members after two warnings; a "
            "ban is proportionate and consistent with clause 9.1.",
        },
    },
    "reject_closure": {
        "summary": "A second lead refuses to sign off a closure",
        "value": {
            "decision": "rejected",
            "rationale": "The member has not yet been seen by the crisis team; keep the case "
            "open until the referral's outcome is known.",
        },
    },
}

REFERRAL_REVIEW: dict[str, dict[str, Any]] = {
    "ratified": {
        "summary": "A night-time police referral without consent, ratified next morning",
        "value": {
            "outcome": "ratified",
            "rationale": "A stated plan and the means: sharing without consent was necessary "
            "and proportionate to protect life (DPA 2018 Sch 1 para 18).",
        },
    }
}


@router.post(
    "/cases/{case_id}/approvals/{approval_id}/decisions",
    status_code=201,
    responses=write_responses(*APPEND_ERRORS),
    response_description="The approval's decision and, when approved, the decision it put into "
    "effect (ModerationActionTaken or CaseClosed, recorded by the approver at the approval's "
    "occurred_at, naming the approval and its requester).",
)
def decide_approval(
    case_id: CaseId,
    approval_id: Annotated[UUID, Path(description="The approval's id (approval_id).")],
    body: Annotated[ApprovalDecisionBody, Body(openapi_examples=APPROVAL_DECISION)],
    actor: Annotated[Actor, Depends(require(Permission.APPROVE))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Approve or reject a decision held for four-eyes approval (a lead other than the requester).

    Approved: two events in one write, `ApprovalDecided` then the held decision itself, which
    takes effect at this write's `occurred_at` (a ban is in force from the approval, not from the
    request). Rejected: `ApprovalDecided` only; the decision never takes effect. Refused with 409
    and nothing written when the approver is the requester, the approval is already decided, or
    the case no longer allows the decision (e.g. it is closed, or a closure now meets an
    unreviewed out-of-hours decision); 404 when there is no such approval on the case.
    """
    command = DecideApproval(approval_id=approval_id, **body.model_dump())
    return writes.append(case_id, command, actor, body=body)


@router.post(
    "/cases/{case_id}/referrals/{referral_id}/reviews",
    status_code=201,
    responses=write_responses(*APPEND_ERRORS),
)
def review_referral(
    case_id: CaseId,
    referral_id: Annotated[UUID, Path(description="The referral's id (referral_id).")],
    body: Annotated[ReviewBody, Body(openapi_examples=REFERRAL_REVIEW)],
    actor: Annotated[Actor, Depends(require(Permission.REVIEW_REFERRAL))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Ratify, vary or overturn a referral made without consent (a lead other than the referrer).

    Such a referral is an emergency action: it was recorded at once and waits in the
    `referrals_awaiting_review` queue, due by the end of the next working day; the case cannot
    be closed until it is reviewed. Overturning records the lead's judgement; the referral
    itself stays on the record (follow it up with a referral update). 409 when the referral was
    made with consent, is already reviewed, or the reviewer made it.
    """
    command = ReviewReferral(referral_id=referral_id, **body.model_dump())
    return writes.append(case_id, command, actor, body=body)
