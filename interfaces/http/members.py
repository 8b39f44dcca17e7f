"""Community intake's members (issue 16): the members who joined through a forum's intake, when
each is due their welcome (``GET /members``, from the ``community_members`` view: no personal
data, never a username), and a welcome made outside the forum recorded by whoever made it
(``POST /members/{ref}/welcome``). The ``members_awaiting_welcome`` queue is read with the
others, ``GET /queues``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from domain.access.permissions import Permission
from domain.community.decide import RecordWelcome
from domain.community.events import ForumMemberWelcomed, WelcomeWay
from domain.service.commands import ServiceName
from domain.shared import Actor, Moment, PersonalText
from interfaces.http.dependencies import (
    POSITION_HEADER,
    Keyed,
    MinPosition,
    VigilDep,
    keyed_answer,
    require,
)
from interfaces.http.docs import LIST_ERRORS
from interfaces.http.middleware import note_for_log
from interfaces.http.problems import error_responses
from projections.community_members import Member
from projections.paging import DEFAULT_LIMIT, MAX_LIMIT

TAG = {
    "name": "community",
    "description": "Community intake: a forum's signed webhooks bring flags, new members and "
    "their welcomes; the members who joined through it (never their usernames) and when each "
    "is due their welcome (the SLA policy's new_member_welcomed target, by default 24 h).",
}

router = APIRouter(prefix="/api/v1", tags=["community"])

MemberReader = Annotated[Actor, Depends(require(Permission.MEMBERS_READ))]
Welcomer = Annotated[Actor, Depends(require(Permission.MEMBERS_WELCOME))]
RefPath = Annotated[
    str,
    Path(
        max_length=200,
        description="The member's ref: <service>:user-<forum user id>, e.g. forum:user-42.",
    ),
]


class MemberPage(BaseModel):
    """A page of members, latest joined first; pass ``next_cursor`` back as ``cursor``."""

    items: list[Member]
    next_cursor: str | None
    as_of: datetime = Field(description="The moment overdue was judged at (now).")


class WelcomeBody(BaseModel):
    """A welcome made outside the forum (a phone call, an email), recorded by who made it."""

    model_config = ConfigDict(extra="forbid")

    service: ServiceName = Field(description="The member's service (the intake's).")
    occurred_at: Moment | None = Field(
        default=None,
        description="When the welcome was made (default now); not before joining, not later "
        "than now.",
    )
    note: PersonalText | None = Field(
        default=None, description="How (sealed: personal; never shown in lists)."
    )


class WelcomeAnswer(BaseModel):
    """The member after the welcome."""

    ref: str
    service: str
    joined_at: datetime | None
    welcomed_at: datetime | None
    welcomed_how: WelcomeWay
    welcomed_by: str
    position: int = Field(description="The log position of the write (for ?min_position=).")


@router.get("/members", responses=error_responses(*LIST_ERRORS))
def list_members(
    vigil: VigilDep,
    actor: MemberReader,
    caught_up: MinPosition,
    service: Annotated[
        str | None, Query(max_length=63, description="Only members of this service.")
    ] = None,
    welcomed: Annotated[
        bool | None,
        Query(description="true: welcomed; false: awaiting their welcome."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> MemberPage:
    """List the forum members who joined through community intake, latest joined first: when
    they joined, when their welcome is due (the SLA policy's `new_member_welcomed` target in
    force when they joined, on their service's calendar) and when, how (`reply`, `message`,
    `recorded`) and by whom they were welcomed. `overdue`: not welcomed by `welcome_due` (as of
    now), or welcomed after it. No personal data: a member is named by their ref, never their
    forum username. (The `members_awaiting_welcome` queue, `GET /queues/members_awaiting_welcome`,
    answers for a past `as_of` too.)"""
    now = vigil.clock()
    items, next_cursor = vigil.community_members.query(
        as_of=now,
        service=service,
        welcomed=welcomed,
        limit=limit,
        cursor=cursor,
    )
    return MemberPage(items=items, next_cursor=next_cursor, as_of=now)


@router.post(
    "/members/{ref}/welcome",
    status_code=201,
    responses={
        **keyed_answer(201, "Welcomed: the member and when, how and by whom."),
        **error_responses(401, 403, 404, 409, 422, 503),
    },
    summary="Record a welcome made outside the forum",
)
def record_welcome(
    ref: RefPath,
    body: WelcomeBody,
    vigil: VigilDep,
    actor: Welcomer,
    request: Request,
    response: Response,
    keyed: Keyed,
) -> WelcomeAnswer:
    """A new member's welcome made outside the forum (a phone call, an email), recorded by whoever
    made it; it stops their welcome clock. `occurred_at` (default now) may not be before they
    joined or later than now (422). 404 (`member-not-found`) for a ref that is not a member of
    `service` who joined through intake; 409 (`already-welcomed`) once they are welcomed
    (on the forum or by hand). Supports `Idempotency-Key`."""
    note_for_log(request, member_ref=ref)
    command = RecordWelcome(occurred_at=body.occurred_at, note=body.note)
    written = vigil.community.record_welcome(
        ref, body.service, command, actor, request=keyed.request_for(body)
    )
    response.headers[POSITION_HEADER] = str(written.position)
    keyed.answered(replayed=written.replayed)
    state = written.member
    welcome = written.events[-1]
    assert isinstance(welcome, ForumMemberWelcomed)
    return WelcomeAnswer(
        ref=state.member_ref,
        service=state.service,
        joined_at=state.joined_at,
        welcomed_at=state.welcomed_at,
        welcomed_how=welcome.how,
        welcomed_by=welcome.welcomed_by,
        position=written.position,
    )
