"""A safeguarding lead's explanation of a breached SLA clock (issue 15): on a case or on a
helpline contact, the clock named by its id (``domain.sla_clocks``: ``<clock>:<item id>``)."""

from __future__ import annotations

from typing import Annotated, Self
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import Field, model_validator

from domain.access.permissions import Permission
from domain.case.commands import Command, ExplainSlaBreach
from domain.contact.commands import ExplainContactSlaBreach
from domain.errors import InvalidCommand
from domain.shared import Actor, PersonalText
from domain.sla_clocks import BreachCause, parse_clock_id
from interfaces.http.contacts import ContactWriteAnswer
from interfaces.http.contacts import _answer as contact_answer
from interfaces.http.dependencies import Keyed, VigilDep, Writes, require
from interfaces.http.docs import APPEND_ERRORS, write_responses
from interfaces.http.middleware import note_for_log
from interfaces.http.schemas import CaseWriteAnswer

router = APIRouter(prefix="/api/v1", tags=["sla"])

ClockId = Annotated[
    str,
    Path(
        description="The clock: `<clock>:<item id>`, e.g. `first_action:<the FlagRaised event's "
        "id>`, `escalation_acknowledged:<escalation_id>`, `follow_up:<follow_up_id>`.",
        max_length=200,
    ),
]


class BreachExplanationBody(Command):
    """On a case (`case_id`) or a helpline contact (`contact_id`): exactly one."""

    case_id: UUID | None = Field(default=None, description="The case the clock runs on.")
    contact_id: UUID | None = Field(default=None, description="The contact the clock runs on.")
    cause: BreachCause
    explanation: PersonalText
    action: PersonalText = Field(description="What will be done about it (sealed).")

    @model_validator(mode="after")
    def _one_record(self) -> Self:
        if (self.case_id is None) == (self.contact_id is None):
            raise ValueError("name the clock's record: case_id or contact_id (exactly one)")
        return self


@router.post(
    "/sla/breaches/{clock_id}/explanations",
    status_code=201,
    responses=write_responses(*APPEND_ERRORS),
)
def explain_breach(
    clock_id: ClockId,
    body: BreachExplanationBody,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.SLA_EXPLAIN_BREACH))],
    request: Request,
    response: Response,
    writes: Writes,
    keyed: Keyed,
) -> CaseWriteAnswer | ContactWriteAnswer:
    """Explain a breached SLA clock: its `cause`, what happened (`explanation`) and what will be
    done (`action`), both sealed; on a case (answers `{case, events}`; If-Match applies) or a
    helpline contact (`{contact, events}`). Open or closed cases."""
    try:
        clock, item_id = parse_clock_id(clock_id)
    except ValueError as error:
        raise InvalidCommand(str(error), errors={"clock_id": str(error)}) from None
    fields = body.model_dump(include={"cause", "explanation", "action", "occurred_at"})
    if body.case_id is not None:
        command = ExplainSlaBreach(clock=clock, item_id=item_id, **fields)
        return writes.append(body.case_id, command, actor, body=body)
    assert body.contact_id is not None
    note_for_log(request, contact_id=str(body.contact_id))
    contact_command = ExplainContactSlaBreach(clock=clock, item_id=item_id, **fields)
    written = vigil.contacts.execute(
        body.contact_id, contact_command, actor, request=keyed.request_for(body)
    )
    return contact_answer(written, response, keyed)
