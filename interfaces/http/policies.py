"""The SLA policy: read it (the version in force and every version), give it a new version.

A version states every target (how soon a flag gets its first action, by risk; an escalation its
acknowledgement, by urgency; an out-of-hours decision its review; a referral its
acknowledgement and chase; a held decision its second lead; a contact its review; a new member
their welcome), each in minutes or in working days on the service's calendar. A due time is
judged by the version in force when its clock started: a new version takes effect now or later
(422 otherwise), so no due time already set moves. Follow-ups are due at their own ``due_at``:
they have no target. Version 1 (the settings' targets) exists from the start
(``application.sla_policies``).

The write accepts Idempotency-Key: a retry with the same key and body answers as the first time
(same status and body, header Idempotent-Replayed) and appends nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel, Field

from domain.access.permissions import Permission
from domain.policy.commands import VersionSlaPolicy
from domain.policy.events import SlaPolicyEvent, SlaPolicyVersioned
from domain.policy.sla import SlaPolicyVersion, SlaTargets
from domain.policy.state import SlaPolicyState
from domain.shared import Actor, Moment, Role
from interfaces.http.dependencies import Keyed, VigilDep, keyed_answer, require
from interfaces.http.problems import error_responses

TAG = {
    "name": "policies",
    "description": "The SLA policy in versions: the targets every due time is judged by, the "
    "version in force when each clock started, so a new version never moves a due time "
    "already set. Follow-ups are due at their own due_at (no target).",
}
router = APIRouter(prefix="/api/v1/policies", tags=["policies"])
LOCATION = "/api/v1/policies/sla"

PolicyReader = Annotated[Actor, Depends(require(Permission.POLICY_READ))]
PolicyManager = Annotated[Actor, Depends(require(Permission.POLICY_MANAGE))]
AtQuery = Annotated[
    Moment | None,
    Query(
        description="Which version was (or will be) in force at this moment (RFC 3339 with "
        "offset); default now.",
        examples=["2026-11-17T10:00:00+00:00"],
    ),
]


def _hours(hours: int) -> dict[str, int]:
    return {"minutes": hours * 60}


VERSION_EXAMPLES: dict[str, Any] = {
    "shorter": {
        "summary": "Shorter first-action targets from the new year",
        "value": {
            "first_action": {
                "critical": {"minutes": 30},
                "high": _hours(2),
                "medium": _hours(24),
                "low": _hours(72),
            },
            "escalation_acknowledged": {
                "immediate": {"minutes": 15},
                "urgent": _hours(4),
                "routine": {"working_days": 1},
            },
            "out_of_hours_review": {"working_days": 1},
            "referral_acknowledged": {"working_days": 1},
            "referral_chase": {"working_days": 5},
            "approval_decided": {"working_days": 1},
            "contact_reviewed": {"working_days": 5},
            "new_member_welcomed": _hours(24),
            "effective_from": "2027-01-04T00:00:00+00:00",
            "rationale": "The board agreed faster first responses to critical concerns.",
        },
    }
}


class SlaPolicyVersionRead(BaseModel):
    """One version, in force from ``effective_from`` until a later one's."""

    version: int = Field(description="1, 2, ...: in the order the versions were recorded.")
    effective_from: datetime
    targets: SlaTargets
    described: dict[str, Any] = Field(
        description='Each target in words ("30 min", "4 h", "1 working day"), keyed as targets.'
    )
    rationale: str | None = None


class SlaPolicyRead(BaseModel):
    """The SLA policy: the version in force at ``evaluated_at`` and every version."""

    recorded: bool = Field(
        description="Whether the policy is in the log: version 1 (the settings' targets) is "
        "recorded with the first write that needs it (a case opened, or a new version)."
    )
    in_force: SlaPolicyVersionRead = Field(description="The version in force at evaluated_at.")
    versions: list[SlaPolicyVersionRead] = Field(
        description="Every version, oldest first (later ones may be scheduled)."
    )
    evaluated_at: datetime = Field(
        description="The moment the version in force is judged at: now (or ?at=) for a read, "
        "the write's recorded_at in a write's answer (so a retry answers the same)."
    )


class SlaPolicyEventRead(BaseModel):
    """An SLA policy event: its envelope and the version it records."""

    event_id: UUID = Field(description="The event's id.")
    type: str = Field(examples=["SlaPolicyVersioned"])
    stream_version: int = Field(description="Its place in the policy's stream (its version).")
    occurred_at: datetime
    recorded_at: datetime
    actor: str = Field(description="Who versioned it (vigil: version 1, recorded by Vigil).")
    actor_role: Role
    policy: SlaPolicyVersionRead = Field(description="The version it records.")


class SlaPolicyWriteAnswer(BaseModel):
    """A write's answer: the policy after it and the events it appended."""

    policy: SlaPolicyRead
    events: list[SlaPolicyEventRead]
    position: int = Field(
        description="The log position of the write's last event (pass as min_position)."
    )


def version_read(version: SlaPolicyVersion) -> SlaPolicyVersionRead:
    return SlaPolicyVersionRead(
        version=version.version,
        effective_from=version.effective_from,
        targets=version.targets,
        described=version.targets.described(),
        rationale=version.rationale,
    )


def policy_read(state: SlaPolicyState, at: datetime) -> SlaPolicyRead:
    return SlaPolicyRead(
        recorded=state.version > 0,
        in_force=version_read(state.history().in_force(at)),
        versions=[version_read(v) for v in state.versions],
        evaluated_at=at,
    )


def event_read(event: SlaPolicyEvent) -> SlaPolicyEventRead:
    assert isinstance(event, SlaPolicyVersioned)  # the stream's one kind of event
    return SlaPolicyEventRead(
        event_id=event.event_id,
        type=type(event).__name__,
        stream_version=event.originator_version,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        actor=event.actor,
        actor_role=event.actor_role,
        policy=version_read(event.policy()),
    )


@router.get("/sla", responses=error_responses(401, 403, 422))
def read_sla_policy(vigil: VigilDep, actor: PolicyReader, at: AtQuery = None) -> SlaPolicyRead:
    """Read the SLA policy: the version in force now (or at ?at=) and every version.
    Follow-ups are due at their own due_at (no target)."""
    return policy_read(vigil.sla_policies.current(), at or vigil.clock())


@router.post(
    "/sla",
    status_code=201,
    responses={
        **keyed_answer(201, "The policy after it and its SlaPolicyVersioned event."),
        **error_responses(401, 403, 409, 413, 422, 503),
    },
)
def version_sla_policy(
    body: Annotated[VersionSlaPolicy, Body(openapi_examples=VERSION_EXAMPLES)],
    vigil: VigilDep,
    actor: PolicyManager,
    keyed: Keyed,
    response: Response,
) -> SlaPolicyWriteAnswer:
    """Give the SLA policy a new version from effective_from (now or later, 422 otherwise; 409
    at the moment another version takes effect)."""
    write = vigil.sla_policies.add_version(body, actor, request=keyed.request_for(body))
    keyed.answered(replayed=write.replayed)
    response.headers["Location"] = LOCATION
    return SlaPolicyWriteAnswer(
        policy=policy_read(write.policy, write.events[-1].recorded_at),
        events=[event_read(e) for e in write.events],
        position=write.position,
    )
