"""The case itself: open, read (now or as of a past moment), timeline, assign, close, reopen."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel

from application.cases import TimelinePage
from domain.access.permissions import Permission
from domain.access.rules import CaseGate, own_events
from domain.access.vocabulary import AccessedRecord
from domain.case.commands import AssignCase, CloseCase, OpenCase, ReopenCase
from domain.case.vocabulary import CaseStatus, Category, RiskLevel
from domain.shared import Actor, Basis, Moment
from interfaces.composition import Vigil
from interfaces.http import examples
from interfaces.http.access import CaseReader, Reader
from interfaces.http.dependencies import (
    CaseId,
    MinLogPosition,
    MinPosition,
    OpenWrites,
    VigilDep,
    Writes,
    require,
)
from interfaces.http.docs import (
    APPEND_ERRORS,
    LIST_ERRORS,
    OPEN_ERRORS,
    READ_ERRORS,
    read_responses,
)
from interfaces.http.docs import write_responses as writes_doc
from interfaces.http.problems import error_responses
from interfaces.http.schemas import (
    CaseAnswer,
    CaseWriteAnswer,
    TimelineAnswer,
    case_read,
    event_read,
    restricted_case_read,
)
from projections.case_summaries import CaseSummary
from projections.paging import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1", tags=["cases"])


AsOf = Annotated[
    Moment | None,
    Query(
        description="Answer as of this moment (RFC 3339 with offset). Without it: now.",
        examples=["2026-11-17T10:00:00+00:00"],
    ),
]
BasisQuery = Annotated[
    Basis,
    Query(
        description="With as_of: `recorded` = what Vigil had been told by then (audit: what "
        "did we know at T); `occurred` = what had happened by then, including things logged "
        "later (e.g. an out-of-hours decision logged the next morning)."
    ),
]


@router.post(
    "/cases",
    status_code=201,
    responses=writes_doc(*OPEN_ERRORS),
    response_description="Where the new case stands (no subject or summary) and its CaseOpened "
    "event.",
)
def open_case(
    body: Annotated[OpenCase, Body(openapi_examples=examples.OPEN_CASE)],
    actor: Annotated[Actor, Depends(require(Permission.OPEN))],
    writes: OpenWrites,
) -> CaseWriteAnswer:
    """Open a case about one concern (a flag, a helpline contact, a staff concern, a detector)."""
    return writes.open(body, actor)


class CaseList(BaseModel):
    """A page of cases, newest first; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[CaseSummary]
    next_cursor: str | None


@router.get("/cases", responses=error_responses(*LIST_ERRORS))
def list_cases(
    vigil: VigilDep,
    reader: Reader,
    caught_up: MinPosition,
    status: Annotated[CaseStatus | None, Query()] = None,
    risk_level: Annotated[RiskLevel | None, Query()] = None,
    category: Annotated[Category | None, Query()] = None,
    assignee: Annotated[str | None, Query(max_length=63)] = None,
    subject_ref: Annotated[str | None, Query(max_length=500)] = None,
    opened_from: Annotated[
        Moment | None,
        Query(
            description="Only cases opened at or after this moment (RFC 3339 with offset), "
            "by the case's opened_at (when it occurred).",
            examples=["2026-11-01T00:00:00+00:00"],
        ),
    ] = None,
    opened_to: Annotated[
        Moment | None,
        Query(
            description="Only cases opened before this moment (exclusive).",
            examples=["2026-12-01T00:00:00+00:00"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    service: Annotated[
        str | None, Query(max_length=63, description="Only cases of this service.")
    ] = None,
) -> CaseList:
    """List cases (no personal data), filtered by status, risk, category, assignee, subject,
    service or when they were opened.

    Any other query parameter is refused (422), so a list never looks filtered when it is not.
    Restricted cases (VIGIL_RESTRICTED_CATEGORIES) are listed only to safeguarding leads,
    auditors, their assignee and holders of an active break-glass grant; to anyone else they
    are absent, whatever the filters."""
    items, next_cursor = vigil.case_summaries.query(
        visibility=reader.visibility(),
        status=status,
        risk_level=risk_level,
        category=category,
        assignee=assignee,
        subject_ref=subject_ref,
        opened_from=opened_from,
        opened_to=opened_to,
        limit=limit,
        cursor=cursor,
        service=service,
    )
    return CaseList(items=[CaseSummary(**item) for item in items], next_cursor=next_cursor)


@router.get("/cases/{case_id}", responses=read_responses(*READ_ERRORS))
def read_case(
    case_id: CaseId,
    vigil: VigilDep,
    reader: Reader,
    logged: MinLogPosition,
    response: Response,
    as_of: AsOf = None,
    basis: BasisQuery = Basis.RECORDED,
) -> CaseAnswer:
    """Read a case now, or as it was known (recorded) or had happened (occurred) at a moment.

    Every read is recorded in the access log (who, when, `purpose`) before it is answered. A
    restricted case answers 404 to a user without access, exactly as a missing case; to a user
    who recorded on it (without full access), its restricted form."""
    answer = case_content(vigil, reader, case_id, as_of=as_of, basis=basis)
    response.headers["ETag"] = f'"{answer.case.version}"'
    return answer


def case_content(
    vigil: Vigil, reader: CaseReader, case_id: UUID, *, as_of: datetime | None, basis: Basis
) -> CaseAnswer:
    """A case now or as of a moment, through ``reader`` (gated, access-logged): what GET
    /cases/{id} answers, and what the web UI's case page shows."""
    evaluated_at: datetime = as_of if as_of is not None else vigil.clock()

    def produce(gate: CaseGate) -> CaseAnswer:
        state = (
            gate.state
            if as_of is None
            else vigil.cases.get(case_id, as_of=as_of, basis=basis, current=gate.state)
        )
        if not gate.full:
            return CaseAnswer(case=restricted_case_read(state, evaluated_at))
        return CaseAnswer(case=case_read(state, evaluated_at))

    return reader.read(case_id, AccessedRecord.CASE, produce)


# A page of a timeline may be larger than a page of a list: a long case's events are small.
TIMELINE_MAX_LIMIT = 1000

TimelineLimit = Annotated[
    int | None,
    Query(
        ge=1,
        le=TIMELINE_MAX_LIMIT,
        description=f"Answer one page of at most this many events (1 to {TIMELINE_MAX_LIMIT}), "
        "oldest first, with `next_cursor` for the next. Without it: the whole timeline (a "
        "future version may add a default page size; clients that want everything should "
        "follow `next_cursor`).",
    ),
]
TimelineCursor = Annotated[
    str | None,
    Query(
        description="`next_cursor` from the previous page of this case's timeline (opaque). "
        "A cursor from another case or an altered one is refused (422)."
    ),
]


@router.get("/cases/{case_id}/timeline", responses=read_responses(*READ_ERRORS))
def read_timeline(
    case_id: CaseId,
    vigil: VigilDep,
    reader: Reader,
    logged: MinLogPosition,
    response: Response,
    as_of: AsOf = None,
    basis: BasisQuery = Basis.RECORDED,
    limit: TimelineLimit = None,
    cursor: TimelineCursor = None,
) -> TimelineAnswer:
    """Every event of the case in order, with both clocks and who recorded it; with `limit`,
    one page of them (pass `next_cursor` back as `cursor` for the next).

    `total` counts the whole timeline as you see it at that moment. Each request (each page)
    is recorded in the access log before it is answered. On a restricted case: 404 without
    access; only your own events if you recorded on it without full access. The ETag is the
    version of the case's last event (at `as_of`), whichever page is asked for."""
    answer, version = timeline_content(
        vigil, reader, case_id, as_of=as_of, basis=basis, limit=limit, cursor=cursor
    )
    if version is not None:
        response.headers["ETag"] = f'"{version}"'
    return answer


def _timeline_tag(case_id: UUID) -> str:
    return f"timeline:{case_id}"


def timeline_content(
    vigil: Vigil,
    reader: CaseReader,
    case_id: UUID,
    *,
    as_of: datetime | None,
    basis: Basis,
    limit: int | None = None,
    cursor: str | None = None,
) -> tuple[TimelineAnswer, int | None]:
    """A case's timeline through ``reader`` (gated, access-logged), and the version of its
    last event (the ETag): what GET /cases/{id}/timeline answers, and the web UI shows.

    With ``limit``, one page: the events after ``cursor`` (keyed by version), at most
    ``limit`` of them; only the page's events are turned into answers, and for a reader with
    full access only they are read where the case's clocks allow (``CaseService.timeline_page``).
    """
    # Checked before the read, so a refused cursor writes nothing (not even an access record).
    after = 0 if cursor is None else decode_cursor(_timeline_tag(case_id), cursor, [int])[0]
    version: int | None = None

    def produce(gate: CaseGate) -> TimelineAnswer:
        nonlocal version
        if limit is not None and gate.full:
            page = vigil.cases.timeline_page(
                case_id, after=after, limit=limit, as_of=as_of, basis=basis, current=gate.state
            )
        else:
            events = vigil.cases.timeline(case_id, as_of=as_of, basis=basis)
            last = events[-1].originator_version if events else None
            if not gate.full:
                events = own_events(events, reader.actor.username)
            page = TimelinePage.of(events, after=after, limit=limit, version=last)
        version = page.version
        return TimelineAnswer(
            case_id=case_id,
            events=[event_read(e) for e in page.events],
            total=page.total,
            next_cursor=(
                encode_cursor(_timeline_tag(case_id), [page.events[-1].originator_version])
                if page.more
                else None
            ),
        )

    return reader.read(case_id, AccessedRecord.TIMELINE, produce), version


@router.post("/cases/{case_id}/assignments", status_code=201, responses=writes_doc(*APPEND_ERRORS))
def assign_case(
    case_id: CaseId,
    body: Annotated[AssignCase, Body(openapi_examples=examples.ASSIGN)],
    actor: Annotated[Actor, Depends(require(Permission.ASSIGN))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Assign the case to a Vigil user (422 if there is no such user)."""
    return writes.append(case_id, body, actor)


@router.post("/cases/{case_id}/closure", status_code=201, responses=writes_doc(*APPEND_ERRORS))
def close_case(
    case_id: CaseId,
    body: Annotated[CloseCase, Body(openapi_examples=examples.CLOSE)],
    actor: Annotated[Actor, Depends(require(Permission.CLOSE))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Close the case with an outcome and rationale (409 while reviews or escalations are open).

    409 and nothing written while an out-of-hours decision or a referral made without consent
    awaits review, an escalation is unacknowledged, or a decision awaits a second lead's
    approval (including an earlier closure awaiting sign-off). Four-eyes: closing a case whose
    current risk is critical (`close_critical` in `VIGIL_FOUR_EYES`, on by default) is answered
    201 with an `ApprovalRequested` event; the case closes when a safeguarding lead other than
    the requester approves it (`POST /cases/{id}/approvals/{approval_id}/decisions`).
    """
    return writes.append(case_id, body, actor)


@router.post("/cases/{case_id}/reopening", status_code=201, responses=writes_doc(*APPEND_ERRORS))
def reopen_case(
    case_id: CaseId,
    body: Annotated[ReopenCase, Body(openapi_examples=examples.REOPEN)],
    actor: Annotated[Actor, Depends(require(Permission.REOPEN))],
    writes: Writes,
) -> CaseWriteAnswer:
    """Reopen a closed case, saying why."""
    return writes.append(case_id, body, actor)
