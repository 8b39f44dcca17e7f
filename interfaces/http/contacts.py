"""Helpline contacts: log one, read one (with its reviews and follow-ups), link it to a case,
review it, answer and resolve the feedback, and its follow-ups. The lists and queues of
contacts are the read side's.

Every write answers 201 ``{"contact": {...}, "events": [...], "position": N}`` with the
``Vigil-Position`` header and accepts an Idempotency-Key and ``occurred_at`` (when it happened:
never in the future, never before the contact). The contact in a write's answer holds no
personal text (the events the writer just wrote do); ``GET /contacts/{id}`` answers the
contact's personal fields too, and is recorded in the access log like a case read. Every
refusal is a problem and writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Union
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from application.contacts import ContactRecord, ContactWrite
from domain.access.permissions import Permission
from domain.case.events import Agency
from domain.case.vocabulary import AgencyKind, Category, Consent
from domain.contact import commands as c
from domain.contact.events import (
    EVENT_TYPES,
    Caller,
    ContactEvent,
    ContactLinkedToCase,
    ContactLogged,
    ContactReviewed,
    FeedbackAcknowledged,
    FeedbackDisputed,
    FeedbackDisputeResolved,
    FollowUpAttempted,
    FollowUpCompleted,
    FollowUpScheduled,
    Meeting,
    Participant,
)
from domain.contact.state import ContactState, FollowUp, Review
from domain.contact.vocabulary import (
    AttemptOutcome,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    DisputeOutcome,
    FeedbackStatus,
    FollowUpKind,
    ReviewResult,
)
from domain.personal import erased_paths
from domain.shared import Actor, Role
from interfaces.http.access import Purpose, current_request_id
from interfaces.http.dependencies import POSITION_HEADER, Keyed, VigilDep, keyed_answer, require
from interfaces.http.docs import READ_ERRORS, read_responses
from interfaces.http.middleware import note_for_log
from interfaces.http.problems import error_responses
from interfaces.http.schemas import Read, event_read_model

TAG = {
    "name": "contacts",
    "description": "Helpline contacts (every channel, anonymous or named callers), their link to "
    "a case, their quality reviews (by someone other than the handler, scored against the "
    "scorecard version in force at the contact), the handler's acknowledgement or dispute of "
    "the feedback and a lead's resolution, and their follow-ups (call-backs, advocacy letters, "
    "multi-agency meetings, referrals, signposting).",
}

router = APIRouter(prefix="/api/v1", tags=["contacts"])

# --- what the writes answer (no personal text) -----------------------------------------------


class ReviewRead(Read):
    """A review as it stands (its feedback and rationale are in its ContactReviewed event)."""

    review_id: UUID
    reviewer: str
    reviewed_at: datetime = Field(description="When the review was made (occurred_at).")
    scorecard_version: int = Field(description="The scorecard version in force at the contact.")
    score: float = Field(description="Weighted score, 0-100.")
    result: ReviewResult
    critical_failures: list[str] = Field(description="Critical criteria scored 0.")
    safeguarding_fail: bool = Field(description="A critical safeguarding criterion scored 0.")
    calibration: bool = Field(description="The contact had been reviewed before (calibration).")
    feedback_status: FeedbackStatus
    answered_at: datetime | None = Field(description="Acknowledged or disputed (occurred_at).")
    resolved_by: str | None
    resolved_at: datetime | None


class AttemptRead(Read):
    outcome: AttemptOutcome
    by: str
    at: datetime = Field(description="When the attempt was made (occurred_at).")


class FollowUpRead(Read):
    """A follow-up as it stands (its detail and completion are in its events)."""

    follow_up_id: UUID
    kind: FollowUpKind
    due_at: datetime
    assignee: str
    scheduled_by: str
    scheduled_at: datetime = Field(description="When it was scheduled (occurred_at).")
    agency_kind: AgencyKind | None = Field(description="A referral's agency kind.")
    consent: Consent | None = Field(description="A referral's consent.")
    attempts: list[AttemptRead]
    completed_by: str | None
    completed_at: datetime | None = Field(description="When it was completed (occurred_at).")


class ContactRead(Read):
    """A contact as it stands, without its personal text: who handled it, when (both clocks),
    its case, reviews and follow-ups."""

    id: UUID
    version: int = Field(description="Number of events of the contact.")
    occurred_at: datetime = Field(description="When the contact happened.")
    recorded_at: datetime = Field(description="When it was logged (server clock).")
    channel: ContactChannel
    direction: ContactDirection
    service: str
    duration_seconds: int | None
    anonymous: bool = Field(description="The caller gave no name or reference.")
    caller_ref: str | None = Field(description="A named caller's reference (pseudonymous).")
    category: Category
    outcome: ContactOutcome
    handled_by: str
    case_id: UUID | None = Field(description="The case its concern opened or joined.")
    opened_case: bool = Field(description="The contact opened that case.")
    reviewed: bool
    reviews: list[ReviewRead] = Field(description="In the order they were made.")
    follow_ups: list[FollowUpRead] = Field(description="In the order they were scheduled.")


def _review_read(review: Review) -> ReviewRead:
    return ReviewRead(
        **review.model_dump(exclude={"critical_failures"}),
        critical_failures=list(review.critical_failures),
    )


def _follow_up_read(follow_up: FollowUp) -> FollowUpRead:
    return FollowUpRead(
        **follow_up.model_dump(exclude={"attempts"}),
        attempts=[AttemptRead.model_validate(a) for a in follow_up.attempts],
    )


def contact_read(state: ContactState) -> ContactRead:
    return ContactRead(
        **state.model_dump(
            include={
                "id",
                "version",
                "occurred_at",
                "recorded_at",
                "channel",
                "direction",
                "service",
                "duration_seconds",
                "anonymous",
                "caller_ref",
                "category",
                "outcome",
                "handled_by",
                "case_id",
                "opened_case",
            }
        ),
        reviewed=state.reviewed,
        reviews=[
            _review_read(r) for r in sorted(state.reviews.values(), key=lambda r: r.reviewed_at)
        ],
        follow_ups=[
            _follow_up_read(f)
            for f in sorted(state.follow_ups.values(), key=lambda f: f.scheduled_at)
        ],
    )


# --- the events -------------------------------------------------------------------------------

_STORAGE_ONLY = {"originator_id", "originator_version"}


class ContactEventReadBase(Read):
    """Every contact event: who, when (both clocks), which contact and version, its fields."""

    event_id: UUID
    type: str = Field(description="The event's kind, e.g. ContactReviewed.")
    contact_id: UUID
    version: int = Field(description="The contact version this event made.")
    occurred_at: datetime = Field(description="When it happened (client-supplied, default now).")
    recorded_at: datetime = Field(description="When Vigil wrote it (server clock).")
    actor: str = Field(description="The authenticated user who recorded it.")
    actor_role: Role
    erased_fields: list[str] = Field(
        default=[],
        description='Personal fields erased (crypto-shredded): each reads "[erased]".',
    )


CONTACT_EVENT_READ_MODELS: dict[str, type[ContactEventReadBase]] = {
    name: event_read_model(cls, ContactEventReadBase, _STORAGE_ONLY)
    for name, cls in EVENT_TYPES.items()
}

if TYPE_CHECKING:
    ContactEventRead = ContactEventReadBase
else:
    ContactEventRead = Annotated[
        Union[tuple(CONTACT_EVENT_READ_MODELS.values())],  # noqa: UP007 - built at runtime
        Field(discriminator="type"),
    ]


def contact_event_read(event: ContactEvent) -> ContactEventReadBase:
    name = type(event).__name__
    return CONTACT_EVENT_READ_MODELS[name].model_validate(
        {
            **event.model_dump(exclude=_STORAGE_ONLY),
            "type": name,
            "contact_id": event.originator_id,
            "version": event.originator_version,
            "erased_fields": erased_paths(event),
        }
    )


class ContactWriteAnswer(BaseModel):
    """The contact after the write, and the write's events."""

    contact: ContactRead
    events: list[ContactEventRead]
    position: int = Field(description="The log position of the write (for ?min_position=).")


def _answer(written: ContactWrite, response: Response, keyed: Keyed) -> ContactWriteAnswer:
    response.headers[POSITION_HEADER] = str(written.position)
    keyed.answered(replayed=written.replayed)
    return ContactWriteAnswer(
        contact=contact_read(written.state),
        events=[contact_event_read(e) for e in written.events],
        position=written.position,
    )


# --- the contact as read (personal text included) --------------------------------------------


class ReviewDetail(ReviewRead):
    """A review with its scores, feedback and rationale, and the handler's answer."""

    scores: dict[str, int]
    feedback: str = Field(description='Personal ("[erased]" once the caller is erased).')
    rationale: str
    acknowledgement_note: str | None = Field(description="The handler's note, if acknowledged.")
    dispute_reason: str | None = Field(description="The handler's reason, if disputed.")
    resolution: DisputeOutcome | None
    resolution_rationale: str | None
    erased_fields: list[str] = Field(description="Personal fields of the review erased.")


class AttemptDetail(AttemptRead):
    note: str | None


class FollowUpDetail(FollowUpRead):
    """A follow-up with its detail, a referral's agency and basis, and its completion."""

    detail: str
    agency: Agency | None
    consent_rationale: str | None
    lawful_basis: str | None
    attempts: list[AttemptDetail]  # type: ignore[assignment]
    completion_outcome: str | None
    completion_note: str | None
    letter_text: str | None = Field(description="An advocacy letter's text.")
    meeting: Meeting | None = Field(description="A multi-agency meeting's record.")
    erased_fields: list[str] = Field(description="Personal fields of the follow-up erased.")


class ContactDetail(ContactRead):
    """A contact with its personal fields (decrypted, or "[erased]"), its reviews and
    follow-ups."""

    caller: Caller
    participants: list[Participant]
    summary: str
    reviews: list[ReviewDetail]  # type: ignore[assignment]
    follow_ups: list[FollowUpDetail]  # type: ignore[assignment]
    erased_fields: list[str] = Field(description="Personal fields of the contact erased.")


class ContactAnswer(BaseModel):
    contact: ContactDetail


def contact_detail(record: ContactRecord) -> ContactDetail:
    """The contact as read, built from its events (the state holds no personal text)."""
    state = record.state
    logged: ContactLogged | None = None
    reviews: dict[UUID, dict[str, Any]] = {}
    follow_ups: dict[UUID, dict[str, Any]] = {}
    # Each follow-up's attempt notes in the order of its attempts (the state's order).
    notes: dict[UUID, list[str | None]] = {}
    for event in record.events:
        erased = erased_paths(event)
        if isinstance(event, ContactLogged):
            logged = event
        elif isinstance(event, ContactReviewed):
            reviews[event.review_id] = {
                "scores": event.scores,
                "feedback": event.feedback,
                "rationale": event.rationale,
                "acknowledgement_note": None,
                "dispute_reason": None,
                "resolution": None,
                "resolution_rationale": None,
                "erased_fields": erased,
            }
        elif isinstance(event, (FeedbackAcknowledged, FeedbackDisputed, FeedbackDisputeResolved)):
            review = reviews.get(event.review_id)
            if review is None:
                continue
            review["erased_fields"] = [*review["erased_fields"], *erased]
            if isinstance(event, FeedbackAcknowledged):
                review["acknowledgement_note"] = event.note
            elif isinstance(event, FeedbackDisputed):
                review["dispute_reason"] = event.reason
            else:
                review["resolution"] = event.outcome
                review["resolution_rationale"] = event.rationale
        elif isinstance(event, FollowUpScheduled):
            follow_ups[event.follow_up_id] = {
                "detail": event.detail,
                "agency": event.agency,
                "consent_rationale": event.consent_rationale,
                "lawful_basis": event.lawful_basis,
                "completion_outcome": None,
                "completion_note": None,
                "letter_text": None,
                "meeting": None,
                "erased_fields": erased,
            }
        elif isinstance(event, (FollowUpAttempted, FollowUpCompleted)):
            follow_up = follow_ups.get(event.follow_up_id)
            if follow_up is None:
                continue
            follow_up["erased_fields"] = [*follow_up["erased_fields"], *erased]
            if isinstance(event, FollowUpAttempted):
                notes.setdefault(event.follow_up_id, []).append(event.note)
            else:
                follow_up.update(
                    completion_outcome=event.outcome,
                    completion_note=event.note,
                    letter_text=event.letter_text,
                    meeting=event.meeting,
                )
        elif isinstance(event, ContactLinkedToCase):
            continue
    assert logged is not None  # the state exists: its logging is among its events
    base = contact_read(state)
    return ContactDetail(
        **base.model_dump(exclude={"reviews", "follow_ups"}),
        caller=logged.caller,
        participants=logged.participants,
        summary=logged.summary,
        erased_fields=erased_paths(logged),
        reviews=[
            ReviewDetail(**r.model_dump(), **reviews.get(r.review_id, _NO_REVIEW))
            for r in base.reviews
        ],
        follow_ups=[
            FollowUpDetail(
                **f.model_dump(exclude={"attempts"}),
                attempts=[
                    AttemptDetail(**a.model_dump(), note=_nth(notes.get(f.follow_up_id, []), n))
                    for n, a in enumerate(f.attempts)
                ],
                **follow_ups.get(f.follow_up_id, _NO_FOLLOW_UP),
            )
            for f in base.follow_ups
        ],
    )


_NO_REVIEW: dict[str, Any] = {
    "scores": {},
    "feedback": "",
    "rationale": "",
    "acknowledgement_note": None,
    "dispute_reason": None,
    "resolution": None,
    "resolution_rationale": None,
    "erased_fields": [],
}
_NO_FOLLOW_UP: dict[str, Any] = {
    "detail": "",
    "agency": None,
    "consent_rationale": None,
    "lawful_basis": None,
    "completion_outcome": None,
    "completion_note": None,
    "letter_text": None,
    "meeting": None,
    "erased_fields": [],
}


# --- examples ----------------------------------------------------------------------------------

_LOG = {
    "named": {
        "summary": "A call from a named caller reporting a hate incident",
        "value": {
            "channel": "call",
            "direction": "inbound",
            "duration_seconds": 840,
            "caller": {"anonymous": False, "ref": "caller-2291", "display_name": "R. Patel"},
            "category": "hate_incident",
            "summary": "Caller was abused on the bus home; wants to report it to the police.",
            "outcome": "referral_made",
        },
    },
    "anonymous": {
        "summary": "An anonymous chat via BSL video relay, with an interpreter",
        "value": {
            "channel": "bsl_video",
            "direction": "inbound",
            "caller": {"anonymous": True},
            "participants": [{"role": "interpreter", "agency": "Relay UK"}],
            "category": "harassment",
            "summary": "Neighbour's harassment continuing; information given on options.",
            "outcome": "information_given",
        },
    },
}
_SCHEDULE = {
    "call_back": {
        "summary": "A call-back tomorrow morning",
        "value": {
            "kind": "call_back",
            "due_at": "2026-11-18T10:00:00+00:00",
            "detail": "Call back after the caller has spoken to their landlord.",
        },
    },
    "referral": {
        "summary": "A referral without consent, on its lawful basis",
        "value": {
            "kind": "referral",
            "due_at": "2026-11-17T17:00:00+00:00",
            "detail": "Refer to adult social care: caller at risk at home.",
            "agency": {"name": "Northshire Adult Social Care", "kind": "adult_social_care"},
            "consent": "refused",
            "consent_rationale": "Caller refused, but the risk of serious harm outweighs it.",
            "lawful_basis": "UK GDPR Art 6(1)(e), Art 9(2)(g); DPA 2018 Sch 1 para 18",
        },
    },
}

_WRITE_ERRORS = error_responses(401, 403, 404, 409, 422, 503)
ContactId = Annotated[UUID, Path(description="The contact's id (a UUID).")]
ReviewId = Annotated[UUID, Path(description="The review's id (review_id).")]
FollowUpId = Annotated[UUID, Path(description="The follow-up's id (follow_up_id).")]


def _bind(request: Request, contact_id: UUID) -> None:
    note_for_log(request, contact_id=str(contact_id))


# --- routes ------------------------------------------------------------------------------------


@router.post(
    "/contacts",
    status_code=201,
    responses={**keyed_answer(201, "Logged: the contact and its ContactLogged."), **_WRITE_ERRORS},
    summary="Log a helpline contact",
)
def log_contact(
    body: Annotated[c.LogContact, Body(openapi_examples=_LOG)],
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.CONTACT_LOG))],
    request: Request,
    response: Response,
    keyed: Keyed,
) -> ContactWriteAnswer:
    """Log a contact you handled, on any channel, with an anonymous caller (`{"anonymous":
    true}`: its personal fields are sealed under a key of the contact's own) or a named one
    (`ref`, `display_name?`: sealed under the caller's key, so erasing the caller, kind
    `contact`, erases every contact they made). The summary, the caller's name and the
    participants' names are personal.

    With `case_id` the contact joins that case (the case records ContactJoined, in the same
    append): 422 `unknown-reference` for a case that does not exist or that you cannot see,
    409 for a closed one. 422 for an unknown service."""
    written = vigil.contacts.log(body, actor, request=keyed.request_for(body))
    _bind(request, written.state.id)
    response.headers["Location"] = f"/api/v1/contacts/{written.state.id}"
    return _answer(written, response, keyed)


@router.get(
    "/contacts/{contact_id}",
    responses=read_responses(*READ_ERRORS),
    summary="Read a contact with its reviews and follow-ups",
)
def read_contact(
    contact_id: ContactId,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.CONTACT_READ))],
    purpose: Purpose,
    request: Request,
) -> ContactAnswer:
    """The contact with its personal fields (decrypted; `"[erased]"` once its caller's data is
    erased, listed in `erased_fields`), its reviews (scores, feedback, the handler's answer, a
    lead's resolution) and its follow-ups (detail, attempts, completion). Read straight from
    the log. Recorded in the access log (who, when, `purpose`) before it is answered.

    Volunteers and moderators see the contacts they handled (or hold a follow-up of);
    coordinators, leads and auditors every contact, except that a contact linked to a
    restricted case needs full access to the case. Without access: 404, exactly as a contact
    that does not exist."""
    _bind(request, contact_id)
    record = vigil.contacts.read(
        actor, contact_id, purpose=purpose, request_id=current_request_id()
    )
    return ContactAnswer(contact=contact_detail(record))


@router.post(
    "/contacts/{contact_id}/case-link",
    status_code=201,
    responses={
        **keyed_answer(201, "Linked: the contact and its ContactLinkedToCase."),
        **_WRITE_ERRORS,
    },
    summary="Link a contact to a case: join one, or open one from it",
)
def link_case(
    contact_id: ContactId,
    body: c.LinkCase,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.CONTACT_LINK_CASE))],
    request: Request,
    response: Response,
    keyed: Keyed,
) -> ContactWriteAnswer:
    """A safeguarding concern raised by the contact joins an existing case (`case_id`: the case
    records ContactJoined) or opens one (`open_case`: the body of `POST /cases`, its `source`
    `helpline_contact`; the case's CaseOpened names the contact). Both sides in one append, at
    the link's `occurred_at`. A contact names one case: 409 if it already does; 409 for a
    closed case; 422 `unknown-reference` for a case you cannot see; 422 for an `open_case`
    whose source is not `helpline_contact`."""
    _bind(request, contact_id)
    written = vigil.contacts.execute(contact_id, body, actor, request=keyed.request_for(body))
    return _answer(written, response, keyed)


@router.post(
    "/contacts/{contact_id}/reviews",
    status_code=201,
    responses={
        **keyed_answer(201, "Reviewed: the contact and its ContactReviewed."),
        **_WRITE_ERRORS,
    },
    summary="Review a contact against the scorecard version in force at it",
)
def review_contact(
    contact_id: ContactId,
    body: c.ReviewContact,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.CONTACT_REVIEW))],
    request: Request,
    response: Response,
    keyed: Keyed,
) -> ContactWriteAnswer:
    """Score every criterion of the scorecard version in force at the contact's `occurred_at`
    (`scores`: `{key: 0..max_score}`), with `feedback` for the handler (personal) and a
    `rationale` (sealed like the feedback: it speaks of the call). The answer's event carries the
    weighted `score` (0-100) and the `result` (`fail` below the pass mark, or when a critical
    criterion is 0, whatever the total), the critical failures and whether one is a
    safeguarding criterion's. A second review of a contact is a `calibration`.

    By someone other than the handler (403), once per reviewer (409); 422 for scores that do
    not fit the version (an unknown or missing criterion, a score out of range); 409 if no
    scorecard version was in force at the contact."""
    _bind(request, contact_id)
    written = vigil.contacts.execute(contact_id, body, actor, request=keyed.request_for(body))
    return _answer(written, response, keyed)


@router.post(
    "/contacts/{contact_id}/reviews/{review_id}/acknowledgement",
    status_code=201,
    responses={
        **keyed_answer(201, "Acknowledged: the contact and its FeedbackAcknowledged."),
        **_WRITE_ERRORS,
    },
    summary="Acknowledge a review's feedback (the handler)",
)
def acknowledge_feedback(
    contact_id: ContactId,
    review_id: ReviewId,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.CONTACT_ANSWER_FEEDBACK))],
    request: Request,
    response: Response,
    keyed: Keyed,
    body: Annotated[c.FeedbackNote | None, Body()] = None,
) -> ContactWriteAnswer:
    """The handler read the feedback and takes it on, with a `note?` (personal). Only the
    contact's handler (403); once, and not after disputing it (409)."""
    _bind(request, contact_id)
    command = c.AcknowledgeFeedback(
        review_id=review_id, **(body or c.FeedbackNote()).model_dump(exclude_none=True)
    )
    written = vigil.contacts.execute(contact_id, command, actor, request=keyed.request_for(body))
    return _answer(written, response, keyed)


@router.post(
    "/contacts/{contact_id}/reviews/{review_id}/dispute",
    status_code=201,
    responses={
        **keyed_answer(201, "Disputed: the contact and its FeedbackDisputed."),
        **_WRITE_ERRORS,
    },
    summary="Dispute a review's feedback (the handler)",
)
def dispute_feedback(
    contact_id: ContactId,
    review_id: ReviewId,
    body: c.DisputeReason,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.CONTACT_ANSWER_FEEDBACK))],
    request: Request,
    response: Response,
    keyed: Keyed,
) -> ContactWriteAnswer:
    """The handler disputes the feedback, with a `reason` (personal), instead of acknowledging
    it; a safeguarding lead resolves it. Only the contact's handler (403); once, and not after
    acknowledging it (409)."""
    _bind(request, contact_id)
    command = c.DisputeFeedback(review_id=review_id, **body.model_dump(exclude_none=True))
    written = vigil.contacts.execute(contact_id, command, actor, request=keyed.request_for(body))
    return _answer(written, response, keyed)


@router.post(
    "/contacts/{contact_id}/reviews/{review_id}/dispute/resolution",
    status_code=201,
    responses={
        **keyed_answer(201, "Resolved: the contact and its FeedbackDisputeResolved."),
        **_WRITE_ERRORS,
    },
    summary="Resolve a disputed review (a safeguarding lead)",
)
def resolve_dispute(
    contact_id: ContactId,
    review_id: ReviewId,
    body: c.DisputeResolution,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.CONTACT_RESOLVE_DISPUTE))],
    request: Request,
    response: Response,
    keyed: Keyed,
) -> ContactWriteAnswer:
    """A safeguarding lead other than the reviewer and the handler resolves a disputed review:
    `upheld` (it stands) or `revised`, with a `rationale` (sealed). 409 if the review is
    not disputed (or already resolved), or if you reviewed or handled the contact."""
    _bind(request, contact_id)
    command = c.ResolveDispute(review_id=review_id, **body.model_dump(exclude_none=True))
    written = vigil.contacts.execute(contact_id, command, actor, request=keyed.request_for(body))
    return _answer(written, response, keyed)


@router.post(
    "/contacts/{contact_id}/follow-ups",
    status_code=201,
    responses={
        **keyed_answer(201, "Scheduled: the contact and its FollowUpScheduled."),
        **_WRITE_ERRORS,
    },
    summary="Schedule a follow-up of a contact",
)
def schedule_follow_up(
    contact_id: ContactId,
    body: Annotated[c.ScheduleFollowUp, Body(openapi_examples=_SCHEDULE)],
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.CONTACT_FOLLOW_UP))],
    request: Request,
    response: Response,
    keyed: Keyed,
) -> ContactWriteAnswer:
    """A call-back, an advocacy letter, a multi-agency meeting, a referral or signposting, due
    at `due_at` (not before it is scheduled), for an `assignee` (an active user who takes
    contacts; default you), with a `detail` (personal). A `referral` takes `agency` and
    `consent`, and without consent `consent_rationale` and `lawful_basis`: the case referral's
    rule, the same refusal (422). Its `follow_up_id` is the event's id."""
    _bind(request, contact_id)
    written = vigil.contacts.execute(contact_id, body, actor, request=keyed.request_for(body))
    return _answer(written, response, keyed)


@router.post(
    "/contacts/{contact_id}/follow-ups/{follow_up_id}/attempts",
    status_code=201,
    responses={
        **keyed_answer(201, "Attempted: the contact and its FollowUpAttempted."),
        **_WRITE_ERRORS,
    },
    summary="Record an attempt at a follow-up",
)
def attempt_follow_up(
    contact_id: ContactId,
    follow_up_id: FollowUpId,
    body: c.Attempt,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.CONTACT_LOG))],
    request: Request,
    response: Response,
    keyed: Keyed,
) -> ContactWriteAnswer:
    """An attempt (a call-back's call) and its `outcome`, with a `note?` (personal): by the
    follow-up's assignee, or a coordinator or lead (403 otherwise). 409 once the follow-up is
    completed."""
    _bind(request, contact_id)
    command = c.RecordAttempt(follow_up_id=follow_up_id, **body.model_dump(exclude_none=True))
    written = vigil.contacts.execute(contact_id, command, actor, request=keyed.request_for(body))
    return _answer(written, response, keyed)


@router.post(
    "/contacts/{contact_id}/follow-ups/{follow_up_id}/completion",
    status_code=201,
    responses={
        **keyed_answer(201, "Completed: the contact and its FollowUpCompleted."),
        **_WRITE_ERRORS,
    },
    summary="Complete a follow-up",
)
def complete_follow_up(
    contact_id: ContactId,
    follow_up_id: FollowUpId,
    body: c.Completion,
    vigil: VigilDep,
    actor: Annotated[Actor, Depends(require(Permission.CONTACT_LOG))],
    request: Request,
    response: Response,
    keyed: Keyed,
) -> ContactWriteAnswer:
    """Complete a follow-up, once (409 after), with its `outcome` and a `note?` (personal): an
    advocacy letter with its `letter_text`; a multi-agency meeting with its `attendees`
    (`[{"name", "agency"}]`), `decisions` (`[text]`) and `actions` (`[{"owner", "action",
    "due"}]`); other follow-ups with neither (422). By the follow-up's assignee, or a
    coordinator or lead (403 otherwise)."""
    _bind(request, contact_id)
    command = c.CompleteFollowUp(follow_up_id=follow_up_id, **body.model_dump(exclude_none=True))
    written = vigil.contacts.execute(contact_id, command, actor, request=keyed.request_for(body))
    return _answer(written, response, keyed)


def _nth(notes: list[str | None], n: int) -> str | None:
    return notes[n] if n < len(notes) else None
