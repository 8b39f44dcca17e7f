"""What changed in a case between two moments: the events in between, and the case at both ends.

An auditor's question ("what did we learn about this case overnight?", "what had happened by the
time of the strategy meeting that we had not written down?") answered from the log alone, on the
same two bases as ``as_of``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import Field

from domain.access.rules import CaseGate
from domain.access.vocabulary import AccessedRecord
from domain.case.state import CaseState
from domain.case.vocabulary import CaseStatus, RiskLevel
from domain.errors import NotPermitted
from domain.shared import Basis, Moment
from interfaces.http.access import Reader
from interfaces.http.cases import BasisQuery
from interfaces.http.dependencies import CaseId, VigilDep
from interfaces.http.docs import READ_ERRORS, read_responses
from interfaces.http.schemas import CaseRead, EventRead, Read, case_read, event_read

router = APIRouter(prefix="/api/v1", tags=["cases"])


class CaseDigest(Read):
    """Where a case stood at one moment, in the fields a before/after comparison needs."""

    version: int = Field(description="Number of events known at that moment.")
    status: CaseStatus
    risk_level: RiskLevel | None = None
    assignee: str | None = None
    pending_reviews: list[UUID] = Field(description="Out-of-hours decisions awaiting review.")
    unacknowledged_escalations: list[UUID]
    referrals_awaiting_acknowledgement: list[UUID]


def digest(state: CaseState) -> CaseDigest:
    return CaseDigest(
        version=state.version,
        status=state.status,
        risk_level=state.risk_level,
        assignee=state.assignee,
        pending_reviews=[d.decision_id for d in state.pending_reviews()],
        unacknowledged_escalations=[e.escalation_id for e in state.unacknowledged_escalations()],
        referrals_awaiting_acknowledgement=[
            r.referral_id for r in state.referrals_awaiting_acknowledgement()
        ],
    )


class ChangeSummary(Read):
    """The case before and after, compactly, and which of those fields differ."""

    before: CaseDigest | None = Field(description="Null when the case did not exist yet at from.")
    after: CaseDigest
    changed: list[str] = Field(
        description="The digest fields whose value differs (every field when before is null)."
    )


class ChangesAnswer(Read):
    """The events in (from, to] on the chosen basis, and the case as of from and as of to."""

    case_id: UUID
    from_: datetime = Field(serialization_alias="from", description="The window's start.")
    to: datetime = Field(description="The window's end (included).")
    basis: Basis
    summary: ChangeSummary
    before: CaseRead | None = Field(
        description="The case as of from (sanctions judged at from); null if not yet opened."
    )
    after: CaseRead = Field(description="The case as of to (sanctions judged at to).")
    events: list[EventRead] = Field(
        description="Recorded (basis=recorded) or occurred (basis=occurred) after from and at "
        "or before to, in version order."
    )


def summarise(before: CaseState | None, after: CaseState) -> ChangeSummary:
    then = None if before is None else digest(before)
    now = digest(after)
    changed = [
        name
        for name in CaseDigest.model_fields
        if then is None or getattr(then, name) != getattr(now, name)
    ]
    return ChangeSummary(before=then, after=now, changed=changed)


From = Annotated[
    Moment,
    Query(
        alias="from",
        description="Start of the window (excluded), RFC 3339 with offset.",
        examples=["2026-11-16T17:00:00+00:00"],
    ),
]
To = Annotated[
    Moment | None,
    Query(
        description="End of the window (included), RFC 3339 with offset; at or after `from`. "
        "Without it: now.",
        examples=["2026-11-17T09:00:00+00:00"],
    ),
]


@router.get(
    "/cases/{case_id}/changes",
    responses=read_responses(*READ_ERRORS),
    response_description="The events between the two moments and the case at both ends. "
    "ETag: the case version as of `to`.",
)
def read_changes(
    case_id: CaseId,
    vigil: VigilDep,
    reader: Reader,
    response: Response,
    from_: From,
    to: To = None,
    basis: BasisQuery = Basis.RECORDED,
) -> ChangesAnswer:
    """What changed between two moments: events in (from, to] and the case before and after.

    `basis=recorded` (default): what Vigil was told in the window, e.g. a decision taken
    last night but logged this morning appears in the window containing this morning.
    `basis=occurred`: what happened in the window, including things logged after it.
    422 if `from` is later than `to`; 404 if the case did not exist at `to`; `before` is null
    if it did not exist yet at `from`.

    Recorded in the access log before it is answered. A restricted case: 404 without access;
    403 for a user who recorded on it without full access (their own records are in the
    timeline).
    """
    end: datetime = to if to is not None else vigil.clock()

    def produce(gate: CaseGate) -> ChangesAnswer:
        if not gate.full:
            raise NotPermitted(
                "this case is restricted: you may read only your own records of it, in its timeline"
            )
        changes = vigil.cases.changes(case_id, from_, end, basis)
        response.headers["ETag"] = f'"{changes.after.version}"'
        return ChangesAnswer(
            case_id=case_id,
            from_=from_,
            to=end,
            basis=basis,
            summary=summarise(changes.before, changes.after),
            before=None if changes.before is None else case_read(changes.before, from_),
            after=case_read(changes.after, end),
            events=[event_read(e) for e in changes.events],
        )

    return reader.read(case_id, AccessedRecord.CHANGES, produce)
