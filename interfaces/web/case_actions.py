"""The web UI's case writes: the case page's action forms, opening a case, break-glass, the case
export and the four-eyes approval inbox.

One write path for every action form (``POST /ui/cases/{id}/actions/{action}``): the action's
row in ``interfaces.web.actions.ACTIONS`` names the permission the API route requires (checked
here again, 403), the API's own request schema the form is read into (422 with each field's
message beside it, nothing written) and, for a route naming an item of the case in its path, the
command that route builds; the write itself is the API's ``CaseWrites`` (access checked, the
case service, the same events). A form carries a one-time Idempotency-Key (sent twice, it writes
once) and the case version it was shown at (a stale form: 409, nothing written). Success
redirects (post, redirect, get) to the case page with a notice, or to a ``next`` page under
``/ui/`` ("Save and next" from a queue).
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import RedirectResponse, Response

from application.idempotency import KeyedRequest
from application.write_path import Contention
from domain.access.permissions import Permission, check
from domain.case.commands import OpenCase
from domain.case.errors import CaseNotFound
from domain.errors import DomainError, IdempotencyKeyReused, NotPermitted, VersionConflict
from interfaces.composition import Vigil
from interfaces.http.access import BreakGlassRequest, CaseReader, current_request_id
from interfaces.http.audit import export_case
from interfaces.http.dependencies import CaseWrites, VigilDep, request_hash
from interfaces.http.problems import domain_status
from interfaces.http.schemas import CaseWriteAnswer, case_state_read
from interfaces.web.actions import (
    BY_NAME,
    ITEM,
    OCCURRED_AT,
    OPEN_FIELDS,
    Action,
    Failed,
    FormErrors,
    approval_words,
    body_data,
    local_value,
    validated,
    zone_label,
)
from interfaces.web.auth import CSRF_FIELD, Form, Person, PostingPerson, SignedIn, web_parts
from interfaces.web.cases import (
    NOTICES,
    _not_found,
    _refused,
    reading_purpose,
    render_case,
    safe_next,
)
from interfaces.web.forms import new_form_key
from projections.paging import DEFAULT_LIMIT
from projections.queue_rows import Queue

router = APIRouter(prefix="/ui", include_in_schema=False)

_KEY = re.compile(r"^[\x20-\x7e]{1,200}$")  # as the API's Idempotency-Key header
_VERSION = re.compile(r"^\d{1,12}$")
_NOT_KEPT = frozenset({CSRF_FIELD, "idempotency_key", "version", "after"})
APPROVALS_PAGE = "/ui/approvals"
APPROVALS_ORIGIN = "approvals"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _key(form: dict[str, str]) -> str | None:
    sent = form.get("idempotency_key", "")
    return sent if _KEY.match(sent) else None


def _kept(form: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in form.items() if name not in _NOT_KEPT}


def _refusal(
    request: Request, exc: DomainError, action: Action | None
) -> tuple[int, str, dict[str, str]]:
    """A domain refusal as the form shows it: status, message, field errors."""
    status = domain_status(exc, request)[0]
    errors = dict(exc.errors)
    if action is not None and action.item is not None and action.item in errors:
        errors[ITEM] = errors.pop(action.item)
    if isinstance(exc, VersionConflict):
        # A form is not an If-Match header: the case moved on while the page was open (409).
        return (
            409,
            "The case changed after you opened this page (someone else recorded something). "
            "Nothing was saved: check the case below, then send the form again.",
            {},
        )
    if isinstance(exc, IdempotencyKeyReused):
        return (
            422,
            "This form was already sent with other contents. Nothing was saved: send it again "
            "from the page below.",
            {},
        )
    return status, exc.detail, errors


def run_action(
    request: Request,
    vigil: Vigil,
    person: SignedIn,
    case_id: UUID,
    action: Action,
    form: dict[str, str],
) -> CaseWriteAnswer | Failed:
    """The form as the API's request, written as the API writes it; or why not (nothing
    written)."""
    zone = web_parts(request).renderer.zone
    key = _key(form) or new_form_key()

    def failed(status: int, message: str, errors: dict[str, str] | None = None) -> Failed:
        return Failed(action.name, _kept(form), errors or {}, message, status, key)

    try:
        check(person.actor, action.permission)
    except NotPermitted as exc:
        return failed(403, exc.detail)
    version_text = form.get("version", "")
    if version_text and not _VERSION.match(version_text):
        return failed(422, "This form is damaged (its case version): reload the page.")
    try:
        body = validated(action.body, body_data(action.fields, form, zone))
        command: Any = body
        if action.item is not None and action.command is not None:
            try:
                item = UUID(form.get(ITEM, "").strip())
            except ValueError:
                raise FormErrors({ITEM: "choose one"}) from None
            command = action.command(**{action.item: item}, **body.model_dump())
    except FormErrors as invalid:
        return failed(422, "Check the fields marked below.", invalid.errors)
    expected = int(version_text) if version_text else None
    writes = CaseWrites(vigil, request, Response(), _key(form), expected)
    try:
        # The request's fingerprint is the whole command: the item (a path parameter on the
        # API, so part of its fingerprint there) is a form field here.
        return writes.append(case_id, command, person.actor)
    except DomainError as exc:
        status, message, errors = _refusal(request, exc, action)
        if isinstance(exc, IdempotencyKeyReused):
            # The key is spent on the first contents: the form comes back with a fresh one,
            # so sending it again writes what it now says.
            return Failed(action.name, _kept(form), errors, message, status, new_form_key())
        return failed(status, message, errors)


def _done(answer: CaseWriteAnswer, action: Action) -> str:
    held = any(event.type == "ApprovalRequested" for event in answer.events)
    return "held" if held else action.name


@router.post("/cases/{case_id}/actions/{action_name}")
def case_action(
    request: Request,
    vigil: VigilDep,
    person: PostingPerson,
    form: Form,
    case_id: Annotated[UUID, Path()],
    action_name: Annotated[str, Path(max_length=40)],
) -> Response:
    """One action form, written as its API route writes it."""
    action = BY_NAME.get(action_name)
    if action is None:
        return _refused(request, person, NotPermitted("there is no such action"))
    try:
        check(person.actor, Permission.READ)
    except DomainError as exc:
        return _refused(request, person, exc)
    outcome = run_action(request, vigil, person, case_id, action, form)
    from_queue = form.get("from_queue", "").strip()
    next_url = safe_next(form.get("next"))
    if isinstance(outcome, Failed):
        if outcome.status == 404:
            return _refused(request, person, CaseNotFound("no such case"), case_id=case_id)
        if form.get("origin") == APPROVALS_ORIGIN:
            return approvals_page(request, vigil, person, failed=outcome)
        return render_case(
            request,
            vigil,
            person,
            case_id,
            from_queue=from_queue,
            next_url=next_url or "",
            failed=outcome,
        )
    done = _done(outcome, action)
    if next_url is not None and form.get("after") != "case":
        return _see_other(next_url)
    query = {"done": done, **({"from_queue": from_queue} if from_queue else {})}
    return _see_other(f"/ui/cases/{case_id}?{urlencode(query)}#act-heading")


# --- opening a case ------------------------------------------------------------------------------


def _new_page(
    request: Request,
    vigil: Vigil,
    person: SignedIn,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str = "",
    key: str | None = None,
    status_code: int = 200,
) -> Response:
    renderer = web_parts(request).renderer
    services = sorted(service.name for service in vigil.services.list_services()) or ["default"]
    context = {
        "person": person.actor,
        "csrf_token": person.csrf_token,
        "nav": "cases",
        "title": "Open a case",
        "fields": OPEN_FIELDS,
        "options": {"service": [(name, name) for name in services]},
        "values": values,
        "errors": errors or {},
        "message": message,
        "key": key or new_form_key(),
        "zone": zone_label(vigil.clock(), renderer.zone),
    }
    return renderer.page("case_new.html", context, status_code=status_code)


@router.get("/cases/new")
def new_case_form(
    request: Request,
    vigil: VigilDep,
    person: Person,
    source: Annotated[str, Query(max_length=40)] = "",
    content_ref: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    """The form for POST /cases (a link may prefill the source and the flagged content)."""
    try:
        check(person.actor, Permission.OPEN)
    except DomainError as exc:
        return _refused(request, person, exc)
    values = {
        OCCURRED_AT: local_value(vigil.clock(), web_parts(request).renderer.zone),
        "service": "default",
        "source": source.strip(),
        "content_ref": content_ref.strip(),
    }
    return _new_page(request, vigil, person, values=values)


@router.post("/cases/new")
def open_case(request: Request, vigil: VigilDep, person: PostingPerson, form: Form) -> Response:
    """Open a case as POST /cases does; then its page."""
    key = _key(form) or new_form_key()
    try:
        check(person.actor, Permission.OPEN)
    except DomainError as exc:
        return _refused(request, person, exc)
    zone = web_parts(request).renderer.zone
    try:
        body = validated(OpenCase, body_data(OPEN_FIELDS, form, zone))
    except FormErrors as invalid:
        return _new_page(
            request,
            vigil,
            person,
            values=_kept(form),
            errors=invalid.errors,
            message="Check the fields marked below.",
            key=key,
            status_code=422,
        )
    writes = CaseWrites(vigil, request, Response(), _key(form), None)
    try:
        answer = writes.open(body, person.actor)  # type: ignore[arg-type]
    except DomainError as exc:
        status, message, errors = _refusal(request, exc, None)
        return _new_page(
            request,
            vigil,
            person,
            values=_kept(form),
            errors=errors,
            message=message,
            key=key,
            status_code=status,
        )
    return _see_other(f"/ui/cases/{answer.case.id}?done=opened")


# --- break-glass ---------------------------------------------------------------------------------


@router.post("/cases/{case_id}/break-glass")
def break_glass(
    request: Request,
    vigil: VigilDep,
    person: PostingPerson,
    form: Form,
    case_id: Annotated[UUID, Path()],
) -> Response:
    """Break the glass on a case, as POST /api/v1/cases/{id}/break-glass does; then its page."""
    renderer = web_parts(request).renderer
    try:
        check(person.actor, Permission.BREAK_GLASS)
    except DomainError as exc:
        return _refused(request, person, exc)
    key = _key(form)
    reason = form.get("reason", "")

    def again(status: int, problem: str) -> Response:
        context = {
            "person": person.actor,
            "csrf_token": person.csrf_token,
            "nav": "cases",
            **_not_found(person, case_id),
            "title": "Not found" if status == 404 else "Not opened",
            "status": status,
            "detail": problem,
            "reason": reason,
            "reason_error": problem if status == 422 else None,
            "key": key or new_form_key(),
        }
        return renderer.page("case_refused.html", context, status_code=status)

    try:
        body = BreakGlassRequest(reason=reason)
    except ValidationError as invalid:
        return again(422, str(invalid.errors()[0]["msg"]).removeprefix("Value error, "))
    keyed = (
        None
        if key is None
        else KeyedRequest(key, request_hash(vigil, "POST", request.url.path, body))
    )
    try:
        vigil.access.break_glass(person.actor, case_id, body.reason, request=keyed)
    except DomainError as exc:
        return again(domain_status(exc, request)[0], exc.detail)
    return _see_other(f"/ui/cases/{case_id}?done=break-glass")


# --- the case export -----------------------------------------------------------------------------


@router.get("/cases/{case_id}/export")
def case_export(
    request: Request, vigil: VigilDep, person: Person, case_id: Annotated[UUID, Path()]
) -> Response:
    """The API's export of the case (GET /api/v1/cases/{id}/export), read and access-logged by
    the same function, as a file."""
    try:
        check(person.actor, Permission.READ)
        check(person.actor, Permission.CASE_EXPORT)
    except DomainError as exc:
        return _refused(request, person, exc)
    reader = CaseReader(vigil.access, person.actor, reading_purpose(person), current_request_id())
    try:
        exported = export_case(case_id, vigil, reader, person.actor, request)
    except DomainError as exc:
        return _refused(request, person, exc, case_id=case_id)
    if isinstance(exported, Response):  # the signing key cannot be read: the API's 503
        return _refused(
            request, person, Contention("the export cannot be signed now; try again later")
        )
    assert isinstance(exported, BaseModel)
    return Response(
        exported.model_dump_json(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="vigil-case-{case_id}-export.json"'},
    )


# --- the four-eyes approval inbox ---------------------------------------------------------------


def approvals_page(
    request: Request,
    vigil: Vigil,
    person: SignedIn,
    *,
    done: str = "",
    cursor: str = "",
    failed: Failed | None = None,
) -> Response:
    """The approvals_awaiting_decision queue as GET /api/v1/queues/... lists it to this person,
    each held decision described from the case's state without its content (as a write's answer
    shows it: no access record), with a form to approve or reject it."""
    renderer = web_parts(request).renderer
    try:
        check(person.actor, Permission.READ)
        check(person.actor, Permission.APPROVE)
    except DomainError as exc:
        return _refused(request, person, exc)
    vigil.projector.catch_up()
    now = vigil.clock()
    try:
        items, next_cursor = vigil.work_queues.items(
            Queue.APPROVALS_AWAITING_DECISION,
            as_of=now,
            limit=DEFAULT_LIMIT,
            cursor=cursor or None,
            visibility=vigil.access.visibility(person.actor),
        )
    except DomainError as exc:
        return _refused(request, person, exc)
    rows = []
    for item in items:
        state = vigil.cases.load(item.case_id)
        if state is None:
            continue
        shown = case_state_read(state, now)
        approval = next((a for a in shown.approvals if a.approval_id == item.item_id), None)
        if approval is None:
            continue
        mine = (
            failed if failed is not None and failed.values.get(ITEM) == str(item.item_id) else None
        )
        rows.append(
            {
                "item": item,
                "approval": approval,
                "what": approval_words(
                    approval.kind.value, approval.rule, approval.action, approval.level, None
                ),
                "own": approval.requested_by == person.actor.username,
                "values": dict(mine.values)
                if mine
                else {OCCURRED_AT: local_value(now, renderer.zone)},
                "errors": dict(mine.errors) if mine else {},
                "message": mine.message if mine else "",
                "key": mine.key if mine else new_form_key(),
                "version": shown.version,
            }
        )
    context = {
        "person": person.actor,
        "csrf_token": person.csrf_token,
        "nav": "approvals",
        "title": "Approvals",
        "rows": rows,
        "notice": NOTICES.get(done),
        "failed": failed,
        "decision": BY_NAME["approval"],
        "next_url": (
            APPROVALS_PAGE + "?" + urlencode({"cursor": next_cursor}) if next_cursor else None
        ),
        "zone": zone_label(now, renderer.zone),
    }
    status = failed.status if failed is not None else 200
    return renderer.page("approvals.html", context, status_code=status)


@router.get("/approvals")
def approvals(
    request: Request,
    vigil: VigilDep,
    person: Person,
    done: Annotated[str, Query(max_length=40)] = "",
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    """Decisions held for a second safeguarding lead (four-eyes), with approve/reject forms."""
    return approvals_page(request, vigil, person, done=done, cursor=cursor)
