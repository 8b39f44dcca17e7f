"""The web UI's helpline contact pages (issue 17): the contact list, logging a contact, a
contact with its reviews and follow-ups, the review form with its live score, and the forms
for follow-ups and the handler's acknowledgement.

Every read and write is the API's own: the list is ``interfaces.http.contact_reads.list_contacts``
(the same view, filters and visibility as ``GET /api/v1/contacts``); a contact is read through
``vigil.contacts.read`` and ``contact_detail`` exactly as ``GET /api/v1/contacts/{id}`` reads it,
so it is gated and access-logged alike; each write builds the API's command and runs it through
``vigil.contacts`` (``log`` or ``execute``), so it appends the same events and is refused by the
same rules, with the status ``domain_status`` gives. The live score of the review form is
``domain.quality.scoring.score_review`` over the scorecard version the review command itself is
judged by (``ContactService.scorecard_of``): there is no second formula, in Python or in the
browser. A refused write answers the form again with its message and writes nothing; it reads
only the contact's state (no personal field), so not even an access-log entry is appended.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from domain.access.permissions import Permission, check, permits
from domain.case.vocabulary import Category, RiskLevel
from domain.contact import commands as c
from domain.contact.errors import ContactNotFound
from domain.contact.state import ContactState
from domain.contact.vocabulary import (
    AttemptOutcome,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    FeedbackStatus,
    FollowUpKind,
)
from domain.errors import DomainError, IdempotencyKeyReused
from domain.quality.scoring import ScorecardVersion, score_review
from domain.shared import within_moment_range
from interfaces.composition import Vigil
from interfaces.http.access import current_request_id
from interfaces.http.contact_reads import list_contacts
from interfaces.http.contacts import contact_detail
from interfaces.http.dependencies import VigilDep
from interfaces.http.middleware import note_for_log
from interfaces.http.problems import domain_status, field_errors
from interfaces.web.auth import Form, Person, PostingPerson, SignedIn, web_parts
from interfaces.web.cases import reading_purpose
from interfaces.web.forms import keyed, new_form_key

router = APIRouter(prefix="/ui", include_in_schema=False)

Text = Annotated[str, Query(max_length=500)]
# A moment as a browser's datetime-local field sends it (the service's local time, no offset).
_LOCAL = "%Y-%m-%dT%H:%M"
SCORE_PREFIX = "score."
# Each form carries a key of its own: sent twice (a double tap, a retry on a slow line), it
# writes once, as an API write retried with its Idempotency-Key does.
# What a redirect after a write says happened (only these; anything else says nothing).
NOTICES = {
    "logged": "Contact logged.",
    "reviewed": "Review saved.",
    "scheduled": "Follow-up scheduled.",
    "attempted": "Attempt recorded.",
    "completed": "Follow-up completed.",
    "acknowledged": "Feedback acknowledged.",
    "linked": "Linked to the case.",
}
# The follow-up kinds the page schedules (a referral, with its agency, consent and lawful
# basis, and a meeting's completion, are the API's for now).
PAGE_KINDS = [
    FollowUpKind.CALL_BACK,
    FollowUpKind.ADVOCACY_LETTER,
    FollowUpKind.MULTI_AGENCY_MEETING,
    FollowUpKind.SIGNPOSTING,
]
# What a field is called on the page, for the messages of a refusal.
FIELD_WORDS = {
    "channel": "Channel",
    "direction": "Direction",
    "service": "Service",
    "duration_seconds": "Duration",
    "caller": "Caller",
    "caller.ref": "Caller ref",
    "caller.display_name": "Caller name",
    "category": "Category",
    "summary": "Summary",
    "outcome": "Outcome",
    "case_id": "Case id",
    "occurred_at": "When it happened",
    "feedback": "Feedback for the handler",
    "rationale": "Rationale",
    "kind": "Kind",
    "due_at": "Due",
    "assignee": "Assignee",
    "detail": "Detail",
    "note": "Note",
    "letter_text": "Letter text",
    "attendees": "Attendees",
    "decisions": "Decisions",
    "open_case.subject.ref": "Subject ref",
    "open_case.category": "Category",
    "open_case.summary": "Concern summary",
    "open_case.risk_level": "Risk level",
}


class BadInput(ValueError):
    """A form value the page cannot read (a badly written moment or number): 422."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _base(person: SignedIn) -> dict[str, Any]:
    return {
        "person": person.actor,
        "csrf_token": person.csrf_token,
        "nav": "contacts",
        "new_key": new_form_key,
    }


def _options(kind: type[Enum]) -> list[str]:
    return [member.value for member in kind]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _refused(request: Request, person: SignedIn, status: int, detail: str) -> Response:
    title = "Not found" if status == 404 else "Not allowed" if status == 403 else "Not shown"
    return web_parts(request).renderer.page(
        "contact_refused.html",
        {**_base(person), "title": title, "status": status, "detail": detail},
        status_code=status,
    )


def _moment(value: str, zone: ZoneInfo, name: str) -> datetime | None:
    """A moment from a form: a datetime-local value (the service's time) or RFC 3339."""
    text = value.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput({name: "give a date and time, e.g. 2026-11-17T10:00"}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return within_moment_range(moment)
    except ValueError as out_of_range:
        raise BadInput({name: str(out_of_range)}) from None


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime(_LOCAL)


def _worded(errors: Mapping[str, str]) -> list[str]:
    shown = []
    for field, message in errors.items():
        if field.startswith("scores."):
            shown.append(f"Score for {field.removeprefix('scores.')}: {message}")
        elif field in ("", "body"):
            shown.append(message)
        else:
            shown.append(f"{FIELD_WORDS.get(field, field.replace('_', ' '))}: {message}")
    return shown


def _problem(request: Request, exc: DomainError | ValidationError | BadInput) -> tuple[int, str]:
    """The status and the message of a refusal, as the API would answer it."""
    if isinstance(exc, IdempotencyKeyReused):
        return 422, "this form was already sent with other values: open the page again to send it"
    if isinstance(exc, DomainError):
        status = domain_status(exc, request)[0]
        lines = _worded(exc.errors) if exc.errors else []
        return status, exc.detail + ("" if not lines else " (" + "; ".join(lines) + ")")
    errors = exc.errors if isinstance(exc, BadInput) else field_errors(exc.errors())
    return 422, "; ".join(_worded(errors))


# --- the list ------------------------------------------------------------------------------------


@router.get("/contacts")
def contact_list(
    request: Request,
    vigil: VigilDep,
    person: Person,
    from_: Annotated[str, Query(alias="from", max_length=64)] = "",
    to: Annotated[str, Query(max_length=64)] = "",
    channel: Text = "",
    handled_by: Text = "",
    reviewed: Text = "",
    service: Text = "",
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    """The contacts ``GET /api/v1/contacts`` lists to this person with the same filters."""
    renderer = web_parts(request).renderer
    try:
        check(person.actor, Permission.CONTACT_READ)
    except DomainError as exc:
        return _refused(request, person, domain_status(exc, request)[0], exc.detail)
    filters = {
        "from": from_.strip(),
        "to": to.strip(),
        "channel": channel.strip(),
        "handled_by": handled_by.strip(),
        "reviewed": reviewed.strip(),
        "service": service.strip(),
    }
    context: dict[str, Any] = {
        **_base(person),
        "title": "Contacts",
        "filters": filters,
        "channels": _options(ContactChannel),
        "error": None,
        "items": [],
        "next_url": None,
        "notice": None,
    }
    try:
        chosen_channel = ContactChannel(filters["channel"]) if filters["channel"] else None
    except ValueError:
        return renderer.page(
            "contacts.html", {**context, "error": "Channel: choose one listed."}, status_code=422
        )
    if filters["reviewed"] not in ("", "true", "false"):
        return renderer.page(
            "contacts.html", {**context, "error": "Reviewed: choose one listed."}, status_code=422
        )
    try:
        start = _moment(filters["from"], renderer.zone, "from")
        end = _moment(filters["to"], renderer.zone, "to")
        vigil.projector.catch_up()  # as GET /api/v1/contacts does without min_position
        page = list_contacts(
            vigil,
            person.actor,
            None,
            from_=start,
            to=end,
            channel=chosen_channel,
            handled_by=filters["handled_by"] or None,
            reviewed=None if not filters["reviewed"] else filters["reviewed"] == "true",
            service=filters["service"] or None,
            cursor=cursor or None,
        )
    except (BadInput, DomainError) as exc:
        message = "; ".join(_worded(exc.errors)) if isinstance(exc, BadInput) else exc.detail
        return renderer.page("contacts.html", {**context, "error": message}, status_code=422)
    next_url = None
    if page.next_cursor:
        kept = {name: value for name, value in filters.items() if value}
        next_url = "/ui/contacts?" + urlencode({**kept, "cursor": page.next_cursor})
    return renderer.page("contacts.html", {**context, "items": page.items, "next_url": next_url})


# --- logging a contact ---------------------------------------------------------------------------


def _log_form(
    request: Request,
    vigil: Vigil,
    person: SignedIn,
    values: Mapping[str, str],
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    renderer = web_parts(request).renderer
    services = [s.name for s in vigil.services.list_services()]
    context = {
        **_base(person),
        "title": "Log a contact",
        "values": values,
        "error": error,
        "channels": _options(ContactChannel),
        "directions": _options(ContactDirection),
        "categories": _options(Category),
        "outcomes": _options(ContactOutcome),
        "services": services or ["default"],
    }
    return renderer.page("contact_new.html", context, status_code=status_code)


@router.get("/contacts/new")
def new_contact(request: Request, vigil: VigilDep, person: Person) -> Response:
    """The form to log a contact (when it happened defaults to now)."""
    try:
        check(person.actor, Permission.CONTACT_LOG)
    except DomainError as exc:
        return _refused(request, person, domain_status(exc, request)[0], exc.detail)
    zone = web_parts(request).renderer.zone
    values = {
        "direction": "inbound",
        "service": "default",
        "caller": "anonymous",
        "occurred_at": _local(vigil.clock(), zone),
    }
    return _log_form(request, vigil, person, values)


def _minutes(value: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    try:
        minutes = float(text)
    except ValueError:
        raise BadInput({"duration_seconds": "give the minutes as a number, e.g. 12"}) from None
    if not minutes >= 0 or minutes > 24 * 60:
        raise BadInput({"duration_seconds": "from 0 to 1440 minutes"})
    return round(minutes * 60)


def _log_command(form: Mapping[str, str], zone: ZoneInfo) -> c.LogContact:
    named = form.get("caller", "anonymous") == "named"
    caller: dict[str, Any] = {"anonymous": not named}
    if named or form.get("caller_ref", "").strip() or form.get("caller_name", "").strip():
        caller["ref"] = form.get("caller_ref", "").strip() or None
        caller["display_name"] = form.get("caller_name", "").strip() or None
    body: dict[str, Any] = {
        "channel": form.get("channel", ""),
        "direction": form.get("direction", ""),
        "service": form.get("service", "").strip() or "default",
        "duration_seconds": _minutes(form.get("duration_minutes", "")),
        "caller": caller,
        "category": form.get("category", ""),
        "summary": form.get("summary", ""),
        "outcome": form.get("outcome", ""),
        "case_id": form.get("case_id", "").strip() or None,
        "occurred_at": _moment(form.get("occurred_at", ""), zone, "occurred_at"),
    }
    return c.LogContact.model_validate(body)


@router.post("/contacts")
def log_contact(request: Request, vigil: VigilDep, person: PostingPerson, form: Form) -> Response:
    """Log a contact as ``POST /api/v1/contacts`` does; then to its page."""
    try:
        check(person.actor, Permission.CONTACT_LOG)
    except DomainError as exc:
        return _refused(request, person, domain_status(exc, request)[0], exc.detail)
    try:
        command = _log_command(form, web_parts(request).renderer.zone)
        written = vigil.contacts.log(
            command, person.actor, request=keyed(request, vigil, form, command)
        )
    except (BadInput, ValidationError, DomainError) as exc:
        status, message = _problem(request, exc)
        return _log_form(request, vigil, person, form, error=message, status_code=status)
    note_for_log(request, contact_id=str(written.state.id))
    return _see_other(f"/ui/contacts/{written.state.id}?done=logged")


# --- one contact ---------------------------------------------------------------------------------


def _criteria(version: ScorecardVersion | None) -> list[dict[str, Any]]:
    if version is None:
        return []
    return [
        {"criterion": criterion, "field": SCORE_PREFIX + criterion.key}
        for criterion in version.criteria
    ]


def _forms(person: SignedIn, vigil: Vigil, state: ContactState, request: Request) -> dict[str, Any]:
    """Which forms the page offers this person (each route checks again)."""
    actor = person.actor
    version = vigil.contacts.scorecard_of(state)
    reviewed_by_me = any(r.reviewer == actor.username for r in state.reviews.values())
    may_review = (
        permits(actor, Permission.CONTACT_REVIEW)
        and actor.stands_apart_from(state.handled_by)
        and not reviewed_by_me
        and version is not None
    )
    zone = web_parts(request).renderer.zone
    due = (vigil.clock() + timedelta(hours=1)).replace(second=0, microsecond=0)
    return {
        "scorecard": version,
        "criteria": _criteria(version),
        "may_review": may_review,
        "reviewed_by_me": reviewed_by_me,
        "is_handler": actor.username == state.handled_by,
        "may_follow_up": permits(actor, Permission.CONTACT_FOLLOW_UP),
        "may_attempt": permits(actor, Permission.CONTACT_LOG),
        "may_answer": permits(actor, Permission.CONTACT_ANSWER_FEEDBACK)
        and actor.username == state.handled_by,
        "kinds": [k.value for k in PAGE_KINDS],
        "attempt_outcomes": _options(AttemptOutcome),
        "awaiting": FeedbackStatus.AWAITING.value,
        "may_link": permits(actor, Permission.CONTACT_LINK_CASE) and state.case_id is None,
        "may_open_case": permits(actor, Permission.OPEN),
        "categories": _options(Category),
        "risks": _options(RiskLevel),
        "contact_state": state,
        # A call-back's due time, offered: in an hour, to the quarter hour.
        "due_default": _local(due - timedelta(minutes=due.minute % 15), zone),
    }


def _contact_id(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


@router.get("/contacts/{contact_id}")
def contact_page(
    request: Request,
    vigil: VigilDep,
    person: Person,
    contact_id: str,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """A contact with its reviews and follow-ups, read as ``GET /api/v1/contacts/{id}`` reads
    it (so gated and access-logged alike), and the forms this person may use on it."""
    try:
        check(person.actor, Permission.CONTACT_READ)
    except DomainError as exc:
        return _refused(request, person, domain_status(exc, request)[0], exc.detail)
    wanted = _contact_id(contact_id)
    if wanted is None:
        return _refused(request, person, 404, "no such contact")
    note_for_log(request, contact_id=str(wanted))
    try:
        record = vigil.contacts.read(
            person.actor,
            wanted,
            purpose=reading_purpose(person),
            request_id=current_request_id(),
        )
    except DomainError as exc:
        return _refused(request, person, domain_status(exc, request)[0], exc.detail)
    detail = contact_detail(record)
    context = {
        **_base(person),
        **_forms(person, vigil, record.state, request),
        "title": f"Contact {str(wanted)[:8]}",
        "contact": detail,
        "notice": NOTICES.get(done),
        "values": {},
        "error": None,
        "failed": None,
        "live": None,
    }
    return web_parts(request).renderer.page("contact.html", context)


def _write_refused(
    request: Request,
    vigil: Vigil,
    person: SignedIn,
    contact_id: UUID,
    exc: DomainError | ValidationError | BadInput,
    *,
    failed: str,
    form: Mapping[str, str],
    follow_up_id: UUID | None = None,
    review_id: UUID | None = None,
) -> Response:
    """The form again with what was refused, and nothing written: it reads the contact's state
    only (no personal field, so no access-log entry either); a contact the person may not see
    is not found, as in the API."""
    status, message = _problem(request, exc)
    if status in (403, 404) and isinstance(exc, DomainError):
        return _refused(request, person, status, exc.detail)
    try:
        state = vigil.contacts.seen_by(person.actor, contact_id)
    except ContactNotFound as missing:
        return _refused(request, person, 404, missing.detail)
    follow_up = state.follow_ups.get(follow_up_id) if follow_up_id else None
    version = vigil.contacts.scorecard_of(state)
    # Without scripts the score is shown once the form is sent: here, as the form comes back.
    live = _score_so_far(version, _scores(form)) if failed == "review" else None
    context = {
        "live": live,
        **_base(person),
        **_forms(person, vigil, state, request),
        "title": "Not saved",
        "state": state,
        "failed": failed,
        "error": message,
        "values": form,
        "follow_up": follow_up,
        "review_id": review_id,
    }
    return web_parts(request).renderer.page("contact_action.html", context, status_code=status)


def _posted_contact(request: Request, person: SignedIn, contact_id: str) -> UUID | Response:
    wanted = _contact_id(contact_id)
    if wanted is None:
        return _refused(request, person, 404, "no such contact")
    note_for_log(request, contact_id=str(wanted))
    return wanted


def _scores(form: Mapping[str, str]) -> dict[str, Any]:
    """The scores a review form sends (``score.<key>``); an unchosen one is left out (and so
    refused as not scored); a value that is no whole number is passed on for the command to
    refuse."""
    scores: dict[str, Any] = {}
    for name, value in form.items():
        if name.startswith(SCORE_PREFIX) and value.strip():
            text = value.strip()
            scores[name.removeprefix(SCORE_PREFIX)] = (
                int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else text
            )
    return scores


@router.post("/contacts/{contact_id}/score")
def live_score(
    request: Request, vigil: VigilDep, person: PostingPerson, form: Form, contact_id: str
) -> Response:
    """The review form's live score (an HTMX partial): the weighted score and result of the
    scores chosen so far, by ``score_review`` over the version the review will be judged by.
    Writes nothing."""
    renderer = web_parts(request).renderer
    wanted = _contact_id(contact_id)
    try:
        check(person.actor, Permission.CONTACT_REVIEW)
        if wanted is None:
            raise ContactNotFound("no such contact")
        state = vigil.contacts.seen_by(person.actor, wanted)
    except DomainError as exc:
        status = domain_status(exc, request)[0]
        return renderer.page("contact_score.html", {"refused": exc.detail}, status_code=status)
    context = _score_so_far(vigil.contacts.scorecard_of(state), _scores(form))
    return renderer.page("contact_score.html", context)


def _score_so_far(version: ScorecardVersion | None, scores: Mapping[str, Any]) -> dict[str, Any]:
    """What the live score region shows for ``scores``: how many criteria are scored, and once
    all are, ``score_review``'s answer (or why they are no score)."""
    context: dict[str, Any] = {
        "refused": None,
        "version": version,
        "scored": None,
        "problem": None,
        "count": 0,
        "total": 0,
    }
    if version is None:
        return context
    context["count"] = sum(1 for criterion in version.criteria if criterion.key in scores)
    context["total"] = len(version.criteria)
    if context["count"] == context["total"]:
        try:
            context["scored"] = score_review(version, scores)
        except DomainError as exc:
            context["problem"] = exc.detail
    return context


@router.post("/contacts/{contact_id}/reviews")
def review_contact(
    request: Request, vigil: VigilDep, person: PostingPerson, form: Form, contact_id: str
) -> Response:
    """Review the contact as ``POST /api/v1/contacts/{id}/reviews`` does."""
    wanted = _posted_contact(request, person, contact_id)
    if isinstance(wanted, Response):
        return wanted
    try:
        check(person.actor, Permission.CONTACT_REVIEW)
        command = c.ReviewContact.model_validate(
            {
                "scores": _scores(form),
                "feedback": form.get("feedback", ""),
                "rationale": form.get("rationale", ""),
            }
        )
        vigil.contacts.execute(
            wanted, command, person.actor, request=keyed(request, vigil, form, command)
        )
    except (ValidationError, DomainError) as exc:
        return _write_refused(request, vigil, person, wanted, exc, failed="review", form=form)
    return _see_other(f"/ui/contacts/{wanted}?done=reviewed#reviews")


@router.post("/contacts/{contact_id}/reviews/{review_id}/acknowledgement")
def acknowledge_feedback(
    request: Request,
    vigil: VigilDep,
    person: PostingPerson,
    form: Form,
    contact_id: str,
    review_id: UUID,
) -> Response:
    """The handler acknowledges a review's feedback, as the API's acknowledgement does."""
    wanted = _posted_contact(request, person, contact_id)
    if isinstance(wanted, Response):
        return wanted
    try:
        check(person.actor, Permission.CONTACT_ANSWER_FEEDBACK)
        command = c.AcknowledgeFeedback.model_validate(
            {"review_id": review_id, "note": form.get("note", "").strip() or None}
        )
        vigil.contacts.execute(
            wanted, command, person.actor, request=keyed(request, vigil, form, command)
        )
    except (ValidationError, DomainError) as exc:
        return _write_refused(
            request,
            vigil,
            person,
            wanted,
            exc,
            failed="acknowledge",
            form=form,
            review_id=review_id,
        )
    return _see_other(f"/ui/contacts/{wanted}?done=acknowledged#reviews")


@router.post("/contacts/{contact_id}/follow-ups")
def schedule_follow_up(
    request: Request, vigil: VigilDep, person: PostingPerson, form: Form, contact_id: str
) -> Response:
    """Schedule a follow-up (a call-back by default) as the API's follow-ups do."""
    wanted = _posted_contact(request, person, contact_id)
    if isinstance(wanted, Response):
        return wanted
    zone = web_parts(request).renderer.zone
    try:
        check(person.actor, Permission.CONTACT_FOLLOW_UP)
        command = c.ScheduleFollowUp.model_validate(
            {
                "kind": form.get("kind", "") or FollowUpKind.CALL_BACK.value,
                "due_at": _moment(form.get("due_at", ""), zone, "due_at"),
                "assignee": form.get("assignee", "").strip().lower() or None,
                "detail": form.get("detail", ""),
            }
        )
        vigil.contacts.execute(
            wanted, command, person.actor, request=keyed(request, vigil, form, command)
        )
    except (BadInput, ValidationError, DomainError) as exc:
        return _write_refused(request, vigil, person, wanted, exc, failed="schedule", form=form)
    return _see_other(f"/ui/contacts/{wanted}?done=scheduled#follow-ups")


@router.post("/contacts/{contact_id}/follow-ups/{follow_up_id}/attempts")
def attempt_follow_up(
    request: Request,
    vigil: VigilDep,
    person: PostingPerson,
    form: Form,
    contact_id: str,
    follow_up_id: UUID,
) -> Response:
    """Record an attempt at a follow-up, as the API's attempts do."""
    wanted = _posted_contact(request, person, contact_id)
    if isinstance(wanted, Response):
        return wanted
    try:
        check(person.actor, Permission.CONTACT_LOG)
        command = c.RecordAttempt.model_validate(
            {
                "follow_up_id": follow_up_id,
                "outcome": form.get("outcome", ""),
                "note": form.get("note", "").strip() or None,
            }
        )
        vigil.contacts.execute(
            wanted, command, person.actor, request=keyed(request, vigil, form, command)
        )
    except (ValidationError, DomainError) as exc:
        return _write_refused(
            request,
            vigil,
            person,
            wanted,
            exc,
            failed="attempt",
            form=form,
            follow_up_id=follow_up_id,
        )
    return _see_other(f"/ui/contacts/{wanted}?done=attempted#follow-ups")


@router.post("/contacts/{contact_id}/follow-ups/{follow_up_id}/completion")
def complete_follow_up(
    request: Request,
    vigil: VigilDep,
    person: PostingPerson,
    form: Form,
    contact_id: str,
    follow_up_id: UUID,
) -> Response:
    """Complete a follow-up, as the API's completion does (a letter with its text)."""
    wanted = _posted_contact(request, person, contact_id)
    if isinstance(wanted, Response):
        return wanted
    try:
        check(person.actor, Permission.CONTACT_LOG)
        command = c.CompleteFollowUp.model_validate(
            {
                "follow_up_id": follow_up_id,
                "outcome": form.get("outcome", ""),
                "note": form.get("note", "").strip() or None,
                "letter_text": form.get("letter_text", "").strip() or None,
            }
        )
        vigil.contacts.execute(
            wanted, command, person.actor, request=keyed(request, vigil, form, command)
        )
    except (ValidationError, DomainError) as exc:
        return _write_refused(
            request,
            vigil,
            person,
            wanted,
            exc,
            failed="complete",
            form=form,
            follow_up_id=follow_up_id,
        )
    return _see_other(f"/ui/contacts/{wanted}?done=completed#follow-ups")


def _link_command(form: Mapping[str, str], state: ContactState) -> c.LinkCase:
    if form.get("mode") == "open":
        return c.LinkCase.model_validate(
            {
                "open_case": {
                    "subject": {"kind": "contact", "ref": form.get("subject_ref", "")},
                    "category": form.get("category", ""),
                    "summary": form.get("summary", ""),
                    "risk_level": form.get("risk_level", "").strip() or None,
                    "service": state.service,
                }
            }
        )
    return c.LinkCase.model_validate({"case_id": form.get("case_id", "").strip() or None})


@router.post("/contacts/{contact_id}/case-link")
def link_case(
    request: Request, vigil: VigilDep, person: PostingPerson, form: Form, contact_id: str
) -> Response:
    """Join an existing case or open one from the contact, as the API's case-link does."""
    wanted = _posted_contact(request, person, contact_id)
    if isinstance(wanted, Response):
        return wanted
    try:
        check(person.actor, Permission.CONTACT_LINK_CASE)
        state = vigil.contacts.seen_by(person.actor, wanted)
        command = _link_command(form, state)
        vigil.contacts.execute(
            wanted, command, person.actor, request=keyed(request, vigil, form, command)
        )
    except (ValidationError, DomainError) as exc:
        failed = "open_case" if form.get("mode") == "open" else "join_case"
        return _write_refused(request, vigil, person, wanted, exc, failed=failed, form=form)
    return _see_other(f"/ui/contacts/{wanted}?done=linked")
