"""The quality scorecard: read it (the version in force and every version), give it a version.

A scorecard version lists the criteria a reviewer scores (each with a weight, a maximum score,
critical or not, about safeguarding or not) and a pass mark; a review of a contact is judged by
the version in force at the contact's moment. A new version only takes effect now or later and
after the latest one's (409 otherwise), so no review already made changes. The default scorecard
exists from the start (``application.quality``).

The write accepts Idempotency-Key: a retry with the same key and body answers as the first time
(same status and body, header Idempotent-Replayed) and appends nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel, Field

from application.quality import ScorecardWrite
from domain.access.permissions import Permission
from domain.quality.commands import VersionScorecard
from domain.quality.events import ScorecardEvent, ScorecardVersioned
from domain.quality.scoring import Criterion, ScorecardVersion
from domain.quality.state import ScorecardState
from domain.shared import Actor, Moment, Role
from interfaces.http.dependencies import Keyed, VigilDep, keyed_answer, require
from interfaces.http.problems import error_responses

TAG = {
    "name": "quality",
    "description": "The quality scorecard in versions: the criteria every contact is reviewed "
    "against, judged by the version in force at the contact, so a new version never changes a "
    "review already made.",
}
router = APIRouter(prefix="/api/v1/quality", tags=["quality"])
LOCATION = "/api/v1/quality/scorecards"

ScorecardReader = Annotated[Actor, Depends(require(Permission.SCORECARDS_READ))]
ScorecardVersioner = Annotated[Actor, Depends(require(Permission.SCORECARDS_VERSION))]
AtQuery = Annotated[
    Moment | None,
    Query(
        description="Which version was (or will be) in force at this moment (RFC 3339 with "
        "offset); default now.",
        examples=["2026-11-17T10:00:00+00:00"],
    ),
]

VERSION_EXAMPLES = {
    "chat": {
        "summary": "A version for chat and text from the new year",
        "value": {
            "name": "Helpline quality review (chat and text)",
            "criteria": [
                {
                    "key": "greeting_rapport",
                    "label": "Greeting and rapport",
                    "weight": 1,
                    "max_score": 4,
                    "critical": False,
                },
                {
                    "key": "risk_asked",
                    "label": "Risk asked about directly",
                    "weight": 3,
                    "max_score": 2,
                    "critical": True,
                    "safeguarding": True,
                },
                {
                    "key": "written_tone",
                    "label": "Written tone: plain words, no abbreviations",
                    "weight": 1,
                    "max_score": 4,
                    "critical": False,
                },
            ],
            "pass_mark": 75,
            "effective_from": "2027-01-04T00:00:00+00:00",
            "rationale": "Chat contacts now outnumber calls; written tone is reviewed too.",
        },
    }
}


class CriterionRead(BaseModel):
    """One criterion: scored from 0 to ``max_score``, weighted by ``weight``."""

    key: str
    label: str
    weight: float
    max_score: int
    critical: bool = Field(description="Scored 0, the review fails whatever the total.")
    safeguarding: bool = Field(description="Scored 0, the review is a safeguarding fail.")


class ScorecardVersionRead(BaseModel):
    """One version, in force from ``effective_from`` until the next version's."""

    version: int = Field(description="The number a review records.")
    name: str
    criteria: list[CriterionRead]
    pass_mark: float = Field(description="0-100: a weighted score below it fails.")
    effective_from: datetime
    rationale: str | None = None


class ScorecardRead(BaseModel):
    """The scorecard: the version in force at ``evaluated_at`` and every version."""

    recorded: bool = Field(
        description="Whether the scorecard is in the log: the default one is recorded with "
        "the first write that needs it (a review, or a new version)."
    )
    in_force: ScorecardVersionRead | None = Field(
        description="The version in force at evaluated_at (null only before the first)."
    )
    versions: list[ScorecardVersionRead] = Field(
        description="Every version, oldest first (later ones may be scheduled)."
    )
    evaluated_at: datetime = Field(
        description="The moment the version in force is judged at: now (or ?at=) for a read, "
        "the write's recorded_at in a write's answer (so a retry answers the same)."
    )


class ScorecardEventRead(BaseModel):
    """A scorecard event: its envelope and the version it records."""

    event_id: UUID = Field(description="The event's id.")
    type: str = Field(examples=["ScorecardVersioned"])
    stream_version: int = Field(description="Its place in the scorecard's stream.")
    occurred_at: datetime
    recorded_at: datetime
    actor: str = Field(description="Who versioned it (vigil: the default, recorded by Vigil).")
    actor_role: Role
    scorecard: ScorecardVersionRead = Field(description="The version it records.")


class ScorecardWriteAnswer(BaseModel):
    """A write's answer: the scorecard after it and the events it appended."""

    scorecard: ScorecardRead
    events: list[ScorecardEventRead]
    position: int = Field(
        description="The log position of the write's last event (pass as min_position)."
    )


def _criterion_read(criterion: Criterion) -> CriterionRead:
    return CriterionRead(**criterion.model_dump())


def version_read(version: ScorecardVersion) -> ScorecardVersionRead:
    return ScorecardVersionRead(
        version=version.version,
        name=version.name,
        criteria=[_criterion_read(c) for c in version.criteria],
        pass_mark=version.pass_mark,
        effective_from=version.effective_from,
        rationale=version.rationale,
    )


def scorecard_read(state: ScorecardState, at: datetime) -> ScorecardRead:
    current = state.in_force(at)
    return ScorecardRead(
        recorded=state.version > 0,
        in_force=None if current is None else version_read(current),
        versions=[version_read(v) for v in state.versions],
        evaluated_at=at,
    )


def event_read(event: ScorecardEvent) -> ScorecardEventRead:
    assert isinstance(event, ScorecardVersioned)  # the stream's one kind of event
    return ScorecardEventRead(
        event_id=event.event_id,
        type=type(event).__name__,
        stream_version=event.originator_version,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        actor=event.actor,
        actor_role=event.actor_role,
        scorecard=version_read(event.scorecard()),
    )


def _answer(write: ScorecardWrite, keyed: Keyed, response: Response) -> ScorecardWriteAnswer:
    keyed.answered(replayed=write.replayed)
    response.headers["Location"] = LOCATION
    at = write.events[-1].recorded_at
    return ScorecardWriteAnswer(
        scorecard=scorecard_read(write.scorecard, at),
        events=[event_read(e) for e in write.events],
        position=write.position,
    )


@router.get("/scorecards", responses=error_responses(401, 403, 422))
def read_scorecards(vigil: VigilDep, actor: ScorecardReader, at: AtQuery = None) -> ScorecardRead:
    """Read the scorecard: the version in force now (or at ?at=) and every version."""
    return scorecard_read(vigil.scorecards.current(), at or vigil.clock())


@router.post(
    "/scorecards",
    status_code=201,
    responses={
        **keyed_answer(201, "The scorecard after it and its ScorecardVersioned event."),
        **error_responses(401, 403, 409, 413, 422, 503),
    },
)
def version_scorecard(
    body: Annotated[VersionScorecard, Body(openapi_examples=VERSION_EXAMPLES)],
    vigil: VigilDep,
    actor: ScorecardVersioner,
    keyed: Keyed,
    response: Response,
) -> ScorecardWriteAnswer:
    """Give the scorecard a new version from effective_from (now or later, after the latest
    version's; 409 otherwise)."""
    write = vigil.scorecards.add_version(body, actor, request=keyed.request_for(body))
    return _answer(write, keyed, response)
