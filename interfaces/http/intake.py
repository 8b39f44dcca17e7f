"""Community intake (issue 16): a Discourse forum's webhook deliveries.

``POST /api/v1/intake/discourse/{service}`` takes a delivery as Discourse sends it. There is no
bearer token: the delivery is authenticated by its signature under the service's webhook secret
(``vigil intake add discourse SERVICE --secret-file FILE``), checked before anything is read
from it (``application.community``). Answers: 200 ``accepted`` / ``duplicate`` / ``ignored``;
401 unsigned, wrongly signed, or for a service with no intake; 409 an event id taken before
with other content; 413 a body over ``VIGIL_INTAKE_MAX_BODY_BYTES``; 422 a signed body that is
not its event type's shape. Only ``accepted`` writes.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, Field

from domain.community.events import DeliveryEffect
from infrastructure.discourse import Delivery
from interfaces.http.dependencies import VigilDep
from interfaces.http.problems import error_responses

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])

TAG = {
    "name": "intake",
    "description": "A forum as a source: a Discourse forum's signed webhook deliveries (new "
    "members, flagged posts, topics and posts). No bearer token: each delivery is "
    "authenticated by its HMAC-SHA256 signature under the service's webhook secret.",
}


class DeliveryRead(BaseModel):
    status: Literal["accepted", "duplicate", "ignored"] = Field(
        description="`accepted`: written; `duplicate`: taken before (under this event id, or "
        "this content under another: Discourse's retries), nothing written; `ignored`: nothing "
        "Vigil uses (a ping, an event type or a post it does not count), nothing written."
    )
    delivery_id: UUID | None = None
    effects: list[DeliveryEffect] = []
    case_id: UUID | None = Field(
        default=None, description="The case a flagged post raised a flag on, or opened."
    )
    position: int = Field(default=0, description="The log position of the write (0: none).")


async def raw_body(request: Request) -> bytes:
    """The body's bytes as sent: the signature is over them, never over re-encoded JSON."""
    return await request.body()


@router.post(
    "/discourse/{service}",
    responses=error_responses(401, 409, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def discourse_delivery(
    service: str,
    vigil: VigilDep,
    body: Annotated[bytes, Depends(raw_body)],
    x_discourse_event_type: Annotated[str, Header()] = "",
    x_discourse_event: Annotated[str, Header()] = "",
    x_discourse_event_id: Annotated[str, Header()] = "",
    x_discourse_event_signature: Annotated[str | None, Header()] = None,
) -> DeliveryRead:
    """Take a Discourse webhook delivery, authenticated by its signature."""
    delivery = Delivery(
        event_id=x_discourse_event_id.strip(),
        event_type=x_discourse_event_type.strip(),
        event_name=x_discourse_event.strip(),
        body=body,
    )
    answer = vigil.community.receive(service, delivery, x_discourse_event_signature)
    return DeliveryRead(
        status=answer.status,
        delivery_id=answer.delivery_id,
        effects=list(answer.effects),
        case_id=answer.case_id,
        position=answer.position,
    )
