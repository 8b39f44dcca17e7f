"""Restricted cases at the edge: the read gate every case read uses, the access log, break-glass.

Routes that show case content take ``reader: Reader`` and call ``reader.read(case_id, what,
produce)``: access is decided (404 without it), the content produced, and the read recorded in
the access log before it is returned. Lists take ``reader.visibility()`` and pass it to their
view, which leaves out the restricted cases the reader may not see.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar
from uuid import UUID

import structlog
from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from application.access import AccessService
from domain.access.permissions import Permission
from domain.access.rules import CaseGate, Visibility
from domain.access.vocabulary import AccessedRecord, AccessPurpose, GrantReviewOutcome
from domain.shared import Actor, Moment, Rationale
from interfaces.http.dependencies import (
    POSITION_HEADER,
    CaseId,
    Keyed,
    MinPosition,
    VigilDep,
    keyed_answer,
    require,
)
from interfaces.http.docs import LIST_ERRORS
from interfaces.http.problems import error_responses
from projections.access_log import AccessEntry
from projections.paging import DEFAULT_LIMIT, MAX_LIMIT

T = TypeVar("T")

PURPOSE_HEADER = "Vigil-Purpose"

router = APIRouter(prefix="/api/v1", tags=["access"])


async def read_purpose(
    purpose: Annotated[
        AccessPurpose | None,
        Query(
            description="Why you are reading this (recorded in the access log). Also accepted "
            f"as the `{PURPOSE_HEADER}` header. Default: case_work.",
        ),
    ] = None,
    header: Annotated[
        AccessPurpose | None,
        Header(alias=PURPOSE_HEADER, description="The purpose of the read, as `?purpose=`."),
    ] = None,
) -> AccessPurpose:
    return purpose or header or AccessPurpose.CASE_WORK


Purpose = Annotated[AccessPurpose, Depends(read_purpose)]


@dataclass
class CaseReader:
    """One request's reads of case content: gated by the access rule, each one logged."""

    access: AccessService
    actor: Actor
    purpose: AccessPurpose
    request_id: str | None

    def read(self, case_id: UUID, what: AccessedRecord, produce: Callable[[CaseGate], T]) -> T:
        return self.access.read(
            self.actor,
            case_id,
            what,
            produce,
            purpose=self.purpose,
            request_id=self.request_id,
        )

    def record_subject(
        self, what: AccessedRecord, subject_ref: str, case_ids: Sequence[UUID] = ()
    ) -> None:
        """Log a read of a subject's records (their history, a subject access export): one
        entry per case whose content it shows (``case_ids``), so the log of each of those cases
        names it too; one entry for the subject when it shows no case's content."""
        for case_id in dict.fromkeys(case_ids) or [None]:
            self.access.record(
                self.actor,
                what,
                case_id=case_id,
                subject_ref=subject_ref,
                purpose=self.purpose,
                request_id=self.request_id,
            )

    def visibility(self) -> Visibility | None:
        """Which restricted cases lists must leave out for this reader (None: none)."""
        return self.access.visibility(self.actor)


def _request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None


def current_request_id() -> str | None:
    """The request's id (X-Request-Id, bound by the middleware): what an access record names."""
    return _request_id()


async def case_reader(
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.READ))],
    purpose: Purpose,
) -> CaseReader:
    return CaseReader(vigil.access, actor, purpose, _request_id())


Reader = Annotated[CaseReader, Depends(case_reader)]
"""A read route's gate and access log: ``reader.read(case_id, what, produce)``."""


# --- the access log ------------------------------------------------------------------------------


class AccessLogPage(BaseModel):
    """A page of the access log in log order; pass ``next_cursor`` back as ``cursor``."""

    items: list[AccessEntry]
    next_cursor: str | None


@router.get(
    "/audit/access",
    responses=error_responses(*LIST_ERRORS),
    summary="The access log: who read which case record, when and why",
)
def read_access_log(
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.ACCESS_LOG_READ))],
    caught_up: MinPosition,
    case_id: Annotated[UUID | None, Query(description="Only entries about this case.")] = None,
    user: Annotated[
        str | None, Query(max_length=63, description="Only entries by this username.")
    ] = None,
    from_: Annotated[
        Moment | None,
        Query(alias="from", description="From this moment (inclusive), by recorded time."),
    ] = None,
    to: Annotated[Moment | None, Query(description="Until this moment (exclusive).")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> AccessLogPage:
    """List reads of case content (a case, its timeline or changes, an export, a subject's
    history or access export) and break-glass grants and reviews, in log order, filtered by
    case, user and period. Each read entry says who, what, when, for which purpose, under which
    right (full, break_glass, own_records) and the request id. Every read is recorded before its
    content is returned, so a read that answered is always here."""
    items, next_cursor = vigil.access_log.entries(
        case_id=case_id,
        user=None if user is None else user.strip().lower(),
        start=from_,
        end=to,
        limit=limit,
        cursor=cursor,
    )
    return AccessLogPage(items=items, next_cursor=next_cursor)


# --- break-glass ---------------------------------------------------------------------------------


class BreakGlassRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Rationale = Field(
        description="Why you need this case now (at least 10 characters; not a placeholder). "
        "Safeguarding leads review every use.",
        examples=["Member phoned the helpline in crisis and named this thread; need the history."],
    )


class BreakGlassAnswer(BaseModel):
    """The grant: full access to the case until ``expires_at``."""

    grant_id: UUID
    case_id: UUID
    username: str
    granted_at: datetime
    expires_at: datetime = Field(description="granted_at plus VIGIL_BREAK_GLASS_MINUTES.")
    position: int = Field(description="The grant's log position (for ?min_position=).")


@router.post(
    "/cases/{case_id}/break-glass",
    status_code=201,
    responses={
        **keyed_answer(201, "Granted: the grant as recorded (also after it has expired)."),
        **error_responses(401, 403, 404, 409, 422),
    },
    summary="Break the glass: open a restricted case you cannot otherwise read, saying why",
)
def break_glass(
    case_id: CaseId,
    body: Annotated[BreakGlassRequest, Body()],
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.BREAK_GLASS))],
    response: Response,
    keyed: Keyed,
) -> BreakGlassAnswer:
    """Grant yourself full access to a restricted case for a limited time
    (`VIGIL_BREAK_GLASS_MINUTES`, 60 by default, from the moment of the grant), stating a
    reason. The grant is an event in the log: it appears in the access log and in the
    `break_glass_reviews` queue for safeguarding leads, and every read under it is logged as
    `break_glass`. While it lasts you may read the case and add the frontline kinds (flags,
    notes, moderation actions, out-of-hours decisions, escalations, referrals).

    Refused, writing nothing: 422 without a real reason; 409 if the case is not restricted or
    you already have access (full, or an active grant); 404 if there is no such case. With an
    Idempotency-Key, a retry with the same body answers with the first grant and appends
    nothing; the same key with another body is 422.
    """
    recorded = vigil.access.break_glass(
        actor, case_id, body.reason, request=keyed.request_for(body)
    )
    event, position = recorded.event, recorded.position
    response.headers[POSITION_HEADER] = str(position)
    keyed.answered(replayed=recorded.replayed)
    return BreakGlassAnswer(
        grant_id=event.event_id,
        case_id=event.case_id,
        username=event.actor,
        granted_at=event.recorded_at,
        expires_at=event.expires_at,
        position=position,
    )


class BreakGlassReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: GrantReviewOutcome
    rationale: Rationale


class BreakGlassReviewAnswer(BaseModel):
    grant_id: UUID
    case_id: UUID
    outcome: GrantReviewOutcome
    reviewed_by: str
    reviewed_at: datetime
    position: int


@router.post(
    "/break-glass/{grant_id}/reviews",
    status_code=201,
    responses={
        **keyed_answer(201, "Reviewed: the review as recorded."),
        **error_responses(401, 403, 404, 409, 422),
    },
    summary="Review a break-glass grant (takes it out of the break_glass_reviews queue)",
)
def review_break_glass(
    grant_id: Annotated[UUID, Path(description="The grant_id of a break-glass grant.")],
    body: BreakGlassReviewRequest,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.BREAK_GLASS_REVIEW))],
    response: Response,
    keyed: Keyed,
) -> BreakGlassReviewAnswer:
    """Record a safeguarding lead's finding on a break-glass grant (appropriate or not, and
    why). 404 for an unknown grant, 409 if it was already reviewed; each is written once. With
    an Idempotency-Key, a retry with the same body answers with the first review and appends
    nothing; the same key with another body is 422."""
    recorded = vigil.access.review_grant(
        actor, grant_id, body.outcome, body.rationale, request=keyed.request_for(body)
    )
    event, position = recorded.event, recorded.position
    response.headers[POSITION_HEADER] = str(position)
    keyed.answered(replayed=recorded.replayed)
    return BreakGlassReviewAnswer(
        grant_id=grant_id,
        case_id=event.case_id,
        outcome=event.outcome,
        reviewed_by=event.actor,
        reviewed_at=event.recorded_at,
        position=position,
    )
