"""The serious-incident register's sign-offs (issue 15): a trustee signs the register off for a
period of dates, as it stood at a moment (``as_of``: the trustee pack with that ``as_of`` shows
exactly what they read); anyone who reads reports lists the sign-offs.

The write accepts Idempotency-Key: a retry with the same key and body answers as the first time
(header Idempotent-Replayed) and appends nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from application.compliance import RegisterWrite
from domain.access.permissions import Permission
from domain.compliance.events import RegisterEvent, SeriousIncidentRegisterSignedOff
from domain.compliance.register import SignOff, SignOffRegister
from domain.shared import Actor, Role
from interfaces.http.dependencies import Keyed, VigilDep, keyed_answer, require
from interfaces.http.problems import error_responses

router = APIRouter(prefix="/api/v1/reports/trustee", tags=["reports"])
LOCATION = "/api/v1/reports/trustee/register-sign-offs"


class SignOffRead(BaseModel):
    """A trustee's sign-off of the serious-incident register for a period."""

    sign_off_id: UUID = Field(description="The id of the sign-off's event.")
    period_from: date
    period_to: date
    as_of: datetime = Field(description="The moment of the register the trustee read.")
    signed_off_by: str
    signed_off_at: datetime = Field(description="When it was signed off (server clock).")


class RegisterEventRead(BaseModel):
    """A register event: its envelope and the sign-off it records."""

    event_id: UUID
    type: str = Field(examples=["SeriousIncidentRegisterSignedOff"])
    stream_version: int = Field(description="Its place in the register's stream.")
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    actor_role: Role
    period_from: date
    period_to: date
    as_of: datetime


class SignOffWriteAnswer(BaseModel):
    sign_off: SignOffRead
    events: list[RegisterEventRead]
    position: int = Field(description="The log position of the write (for ?min_position=).")


class SignOffsRead(BaseModel):
    sign_offs: list[SignOffRead] = Field(description="Every sign-off, in the order recorded.")


def _sign_off_read(sign_off: SignOff) -> SignOffRead:
    return SignOffRead.model_validate(sign_off.model_dump())


def _event_read(event: RegisterEvent) -> RegisterEventRead:
    assert isinstance(event, SeriousIncidentRegisterSignedOff)  # the stream's one kind
    return RegisterEventRead(
        **event.model_dump(include={"event_id", "occurred_at", "recorded_at", "actor"}),
        actor_role=event.actor_role,
        type=type(event).__name__,
        stream_version=event.originator_version,
        period_from=event.period_from,
        period_to=event.period_to,
        as_of=event.as_of,
    )


def _answer(write: RegisterWrite, keyed: Keyed, response: Response) -> SignOffWriteAnswer:
    keyed.answered(replayed=write.replayed)
    response.headers["Location"] = LOCATION
    return SignOffWriteAnswer(
        sign_off=_sign_off_read(write.sign_off),
        events=[_event_read(e) for e in write.events],
        position=write.position,
    )


@router.post(
    "/register-sign-offs",
    status_code=201,
    responses={
        **keyed_answer(201, "The sign-off and its SeriousIncidentRegisterSignedOff event."),
        **error_responses(401, 403, 413, 422, 503),
    },
)
def sign_off_register(
    body: SignOffRegister,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.REGISTER_SIGN_OFF))],
    keyed: Keyed,
    response: Response,
) -> SignOffWriteAnswer:
    """Sign the serious-incident register off for `period_from`..`period_to` (at most a year,
    ended before the day of `as_of`), as it stood at `as_of` (default now; never later)."""
    write = vigil.register.sign_off(body, actor, request=keyed.request_for(body))
    return _answer(write, keyed, response)


@router.get("/register-sign-offs", responses=error_responses(401, 403))
def list_register_sign_offs(
    vigil: VigilDep, actor: Annotated[Actor, Depends(require(Permission.TRUSTEE_PACK_READ))]
) -> SignOffsRead:
    """Every sign-off of the serious-incident register, in the order recorded."""
    return SignOffsRead(sign_offs=[_sign_off_read(s) for s in vigil.register.sign_offs()])
