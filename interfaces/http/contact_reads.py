"""Helpline contacts, read: the contact list, a handler's own feedback and reviewers' agreement,
from the contact view (``projections.contact_summaries``: no personal data, so no read here is
access-logged; one contact with its personal fields is ``GET /contacts/{id}``, in
``interfaces/http/contacts.py``). The contact queues are read with the others, ``GET /queues``.

Who sees what: whoever reads every contact (coordinators, safeguarding leads, auditors) sees
them all; everyone else who takes contacts sees only their own (handled by them), whatever
``handled_by`` asks. A contact linked to a restricted case is restricted with it: it is left
out for anyone who may not see that case in a list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from domain.access.permissions import Permission, permits
from domain.contact.vocabulary import ContactChannel, FeedbackStatus
from domain.shared import Actor, Moment
from interfaces.http.dependencies import MinPosition, VigilDep, require
from interfaces.http.docs import LIST_ERRORS
from interfaces.http.problems import error_responses
from projections.contact_list import Calibration, ContactSummary, FeedbackItem
from projections.paging import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(prefix="/api/v1", tags=["contacts"])

ContactReader = Annotated[Actor, Depends(require(Permission.CONTACT_READ))]
EveryContactReader = Annotated[Actor, Depends(require(Permission.CONTACT_READ_ALL))]
Cursor = Annotated[str | None, Query(max_length=1000)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
From = Annotated[
    Moment | None,
    Query(
        alias="from",
        description="Contacts that occurred at or after this moment (RFC 3339 with offset).",
        examples=["2026-11-01T00:00:00+00:00"],
    ),
]
To = Annotated[
    Moment | None,
    Query(
        description="Contacts that occurred before this moment (exclusive; after from).",
        examples=["2026-12-01T00:00:00+00:00"],
    ),
]
Service = Annotated[str | None, Query(max_length=63, description="Only contacts of this service.")]


class ContactPage(BaseModel):
    """A page of contacts, latest first; pass ``next_cursor`` back as ``cursor``."""

    items: list[ContactSummary]
    next_cursor: str | None


class FeedbackPage(BaseModel):
    """A page of the reviews of my contacts, latest first; pass ``next_cursor`` back as
    ``cursor``."""

    items: list[FeedbackItem]
    next_cursor: str | None


class CalibrationRead(Calibration):
    """Reviewers' agreement over a period (contacts by when they occurred), for a service or
    all of them."""

    from_: datetime | None = Field(serialization_alias="from")
    to: datetime | None
    service: str | None


def _reads_every_contact(actor: Actor) -> bool:
    return permits(actor, Permission.CONTACT_READ_ALL)


@router.get("/contacts", responses=error_responses(*LIST_ERRORS))
def list_contacts(
    vigil: VigilDep,
    actor: ContactReader,
    caught_up: MinPosition,
    from_: From = None,
    to: To = None,
    channel: ContactChannel | None = None,
    handled_by: Annotated[
        str | None, Query(max_length=63, description="Contacts handled by this username.")
    ] = None,
    reviewed: Annotated[
        bool | None,
        Query(description="true: reviewed at least once; false: awaiting their review."),
    ] = None,
    service: Service = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ContactPage:
    """List helpline contacts, latest first (no personal data: read one contact for that),
    each with its reviews' scores and feedback states and its follow-ups.

    Coordinators, safeguarding leads and auditors see every contact; anyone else only the
    contacts they handled. A contact linked to a restricted case is listed only to those who
    may see that case. Any other query parameter, a bad value or `to` not after `from` is
    refused (422)."""
    items, next_cursor = vigil.contact_summaries.query(
        start=from_,
        end=to,
        channel=channel,
        handled_by=None if handled_by is None else handled_by.strip().lower(),
        reviewed=reviewed,
        service=service,
        limit=limit,
        cursor=cursor,
        visibility=vigil.access.visibility(actor),
        only_handled_by=None if _reads_every_contact(actor) else actor.username,
    )
    return ContactPage(items=items, next_cursor=next_cursor)


@router.get("/me/feedback", responses=error_responses(*LIST_ERRORS))
def read_my_feedback(
    vigil: VigilDep,
    actor: ContactReader,
    caught_up: MinPosition,
    status: Annotated[
        FeedbackStatus | None,
        Query(
            description="Only reviews whose feedback is in this state (`awaiting`: neither "
            "acknowledged nor disputed yet)."
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> FeedbackPage:
    """List the quality reviews of the contacts I handled, latest first, each with where its
    feedback stands: awaiting my acknowledgement or dispute, acknowledged, disputed (awaiting
    a safeguarding lead), upheld or revised.

    The feedback's text is on the contact (GET /api/v1/contacts/{id}); acknowledge or dispute
    it with POST /api/v1/contacts/{id}/reviews/{review_id}/acknowledgement or /dispute."""
    items, next_cursor = vigil.contact_summaries.feedback(
        actor.username,
        status=status,
        limit=limit,
        cursor=cursor,
        visibility=vigil.access.visibility(actor),
    )
    return FeedbackPage(items=items, next_cursor=next_cursor)


@router.get("/quality/calibration", responses=error_responses(*LIST_ERRORS))
def read_calibration(
    vigil: VigilDep,
    actor: EveryContactReader,
    caught_up: MinPosition,
    from_: From = None,
    to: To = None,
    service: Service = None,
) -> CalibrationRead:
    """Read reviewers' agreement: of the contacts reviewed twice or more (a calibration) that
    occurred in the period, how many had review scores within 10 points of each other, and
    the share.

    Coordinators, safeguarding leads and auditors. Contacts on restricted cases count only for
    those who may see them."""
    found = vigil.contact_summaries.calibration(
        start=from_, end=to, service=service, visibility=vigil.access.visibility(actor)
    )
    return CalibrationRead(**found.model_dump(), from_=from_, to=to, service=service)
