"""A safeguarding lead's look at a review that failed a safeguarding criterion (the
``qa_safeguarding_fails`` queue's work: the look takes the review out of it)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from application.contacts import ContactWrite
from domain.access.permissions import Permission
from domain.contact.lead_review import LeadLook, ReviewSafeguardingFail, SafeguardingFailReviewed
from domain.personal import erased_paths
from domain.shared import Actor
from interfaces.http.contacts import ContactEventReadBase, ContactRead, contact_read
from interfaces.http.dependencies import POSITION_HEADER, Keyed, VigilDep, keyed_answer, require
from interfaces.http.middleware import note_for_log
from interfaces.http.problems import error_responses
from interfaces.http.schemas import event_read_model

router = APIRouter(prefix="/api/v1", tags=["contacts"])

_STORAGE_ONLY = {"originator_id", "originator_version"}
SafeguardingFailReviewedRead = event_read_model(
    SafeguardingFailReviewed, ContactEventReadBase, _STORAGE_ONLY
)


class LeadLookAnswer(BaseModel):
    """The contact after the lead's look, and the look's event."""

    contact: ContactRead
    events: list[SafeguardingFailReviewedRead]  # type: ignore[valid-type]
    position: int = Field(description="The log position of the write (for ?min_position=).")


def _answer(written: ContactWrite, response: Response, keyed: Keyed) -> LeadLookAnswer:
    response.headers[POSITION_HEADER] = str(written.position)
    keyed.answered(replayed=written.replayed)
    return LeadLookAnswer(
        contact=contact_read(written.state),
        events=[
            SafeguardingFailReviewedRead.model_validate(
                {
                    **event.model_dump(exclude=_STORAGE_ONLY),
                    "type": type(event).__name__,
                    "contact_id": event.originator_id,
                    "version": event.originator_version,
                    "erased_fields": erased_paths(event),
                }
            )
            for event in written.events
        ],
        position=written.position,
    )


@router.post(
    "/contacts/{contact_id}/reviews/{review_id}/lead-review",
    status_code=201,
    responses={
        **keyed_answer(201, "Looked at: the contact and its SafeguardingFailReviewed."),
        **error_responses(401, 403, 404, 409, 422, 503),
    },
    summary="Record a safeguarding lead's look at a safeguarding fail",
)
def review_safeguarding_fail(
    contact_id: Annotated[UUID, Path(description="The contact's id (a UUID).")],
    review_id: Annotated[UUID, Path(description="The review's id (review_id).")],
    body: LeadLook,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.CONTACT_LEAD_REVIEW))],
    request: Request,
    response: Response,
    keyed: Keyed,
) -> LeadLookAnswer:
    """A review that failed a critical safeguarding criterion waits in `qa_safeguarding_fails`
    until a safeguarding lead records what was done about it: `outcome`
    (`no_further_action`, `practice_addressed`, `safeguarding_action_taken`) and a `rationale`
    (not sealed: say why without describing anyone). Once per review (409 after that); 409 for
    a review that failed no safeguarding criterion; 403 for the lead who handled the
    contact."""
    note_for_log(request, contact_id=str(contact_id))
    command = ReviewSafeguardingFail(review_id=review_id, **body.model_dump())
    written = vigil.contact_lead_reviews.review(
        contact_id, command, actor, request=keyed.request_for(body)
    )
    return _answer(written, response, keyed)
