"""The web UI's shift pages: the rota (``/ui/shifts``), one shift with its log
(``/ui/shifts/{id}``), and the hand-over and acknowledgement forms.

Reads go through the same read models and permissions as the API: the rota as
``GET /api/v1/shifts`` (``vigil.rota.shifts``, permission ``shift.rota_read``), a shift as
``GET /shifts/{id}`` (``vigil.rota.shift`` with the reader's visibility) and, for those who may
read shift logs, its log as ``GET /shifts/{id}/log`` (``vigil.shift_logs.log``). Writes go
through the shift service as ``POST /shifts/{id}/handovers`` and
``.../handovers/{handover_id}/acknowledgement`` do (the same events, the same rules), and answer
with a redirect. A handover's note is never shown: no API read shows it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from domain.access.permissions import Permission, check, permits
from domain.errors import DomainError
from domain.shared import EARLIEST_MOMENT, LATEST_MOMENT, MOMENT_RANGE
from domain.shift import commands as c
from domain.shift.vocabulary import ShiftRole
from interfaces.composition import Vigil
from interfaces.http.dependencies import VigilDep
from interfaces.http.problems import domain_status
from interfaces.web import shift_parts
from interfaces.web.auth import Form, Person, PostingPerson, SignedIn, web_parts
from interfaces.web.forms import keyed
from interfaces.web.pages import NOTICES, Notice, attend, now_refused
from projections.paging import DEFAULT_LIMIT

router = APIRouter(prefix="/ui", include_in_schema=False)

ShiftId = Annotated[UUID, Path(description="The shift id.")]
HandoverId = Annotated[UUID, Path(description="The handover id.")]
Text = Annotated[str, Query(max_length=200)]
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_DATE_HELP = "Give dates as YYYY-MM-DD, e.g. 2026-11-16."


def _base(person: SignedIn) -> dict[str, Any]:
    return {"person": person.actor, "csrf_token": person.csrf_token, "nav": "shifts"}


def _refused(
    request: Request, person: SignedIn, status: int, detail: str, title: str = "Shifts"
) -> Response:
    return web_parts(request).renderer.page(
        "shift_refused.html",
        {**_base(person), "title": title, "status": status, "detail": detail},
        status_code=status,
    )


# --- hand over and acknowledge -------------------------------------------------------------------


@router.post("/shifts/{shift_id}/handovers")
def hand_over(
    request: Request, vigil: VigilDep, person: PostingPerson, shift_id: ShiftId, form: Form
) -> Response:
    """A handover while checked in, as ``POST /api/v1/shifts/{id}/handovers``."""
    zone = web_parts(request).renderer.zone
    return attend(
        request,
        vigil,
        person,
        shift_id,
        lambda: shift_parts.record_handover(form, zone),
        "handed-over",
        form,
    )


@router.post("/shifts/{shift_id}/handovers/{handover_id}/acknowledgement")
def acknowledge(
    request: Request,
    vigil: VigilDep,
    person: PostingPerson,
    shift_id: ShiftId,
    handover_id: HandoverId,
    form: Form,
) -> Response:
    """Acknowledge a handover, as the API's acknowledgement; back to the page it was sent from
    (the now page, or the shift's page)."""
    to_shift = form.get("back") == "shift"
    zone = web_parts(request).renderer.zone
    try:
        check(person.actor, Permission.SHIFT_ATTEND)
        occurred_at = shift_parts.local_moment(
            form.get("occurred_at", ""), zone, "when you read it"
        )
        command = c.AcknowledgeHandover(handover_id=handover_id, occurred_at=occurred_at)
        vigil.shifts.execute(
            shift_id, command, person.actor, request=keyed(request, vigil, form, command)
        )
    except shift_parts.FormProblem as exc:
        return _after_refusal(request, vigil, person, shift_id, to_shift, str(exc), 422)
    except DomainError as exc:
        status = domain_status(exc, request)[0]
        return _after_refusal(request, vigil, person, shift_id, to_shift, exc.detail, status)
    where = f"/ui/shifts/{shift_id}" if to_shift else "/ui/"
    return RedirectResponse(f"{where}?done=acknowledged", status_code=303)


def _after_refusal(
    request: Request,
    vigil: Vigil,
    person: SignedIn,
    shift_id: UUID,
    to_shift: bool,
    message: str,
    status: int,
) -> Response:
    if not to_shift:
        return now_refused(request, vigil, person, message, status)
    try:
        context = _shift_context(vigil, person, shift_id)
    except DomainError:
        return _refused(request, person, status, message, "Shift")
    page = {**context, "notice": None, "error": message}
    return web_parts(request).renderer.page("shift.html", page, status_code=status)


# --- the rota ------------------------------------------------------------------------------------


def _week_of(today: date) -> tuple[date, date]:
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=6)


def _day(text: str, label: str) -> date | None:
    value = text.strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise shift_parts.FormProblem(f"'{label}' is not a date. {_DATE_HELP}") from None
    if not EARLIEST_MOMENT.date() < day < LATEST_MOMENT.date():
        raise shift_parts.FormProblem(f"'{label}' must be {MOMENT_RANGE}.")
    return day


@router.get("/shifts")
def rota_page(
    request: Request,
    vigil: VigilDep,
    person: Person,
    from_: Annotated[str, Query(alias="from", max_length=40)] = "",
    to: Annotated[str, Query(max_length=40)] = "",
    assignee: Text = "",
    role: Text = "",
    service: Text = "",
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    """The rota as ``GET /api/v1/shifts`` lists it, from a day to a day (both included, in the
    service's time zone; default this week, Monday to Sunday)."""
    renderer = web_parts(request).renderer
    try:
        check(person.actor, Permission.ROTA_READ)
    except DomainError as exc:
        return _refused(request, person, domain_status(exc, request)[0], exc.detail)
    zone = renderer.zone
    monday, sunday = _week_of(vigil.clock().astimezone(zone).date())
    filters = {
        "from": from_.strip() or monday.isoformat(),
        "to": to.strip() or sunday.isoformat(),
        "assignee": assignee.strip(),
        "role": role.strip(),
        "service": service.strip(),
    }
    context: dict[str, Any] = {
        **_base(person),
        "title": "Shifts",
        "filters": filters,
        "roles": [r.value for r in ShiftRole],
        "items": [],
        "next_url": None,
        "error": None,
    }
    try:
        first = _day(filters["from"], "From") or monday
        last = _day(filters["to"], "To") or sunday
        if last < first:
            raise shift_parts.FormProblem("'To' must not be before 'From'.")
        try:
            chosen_role = ShiftRole(filters["role"]) if filters["role"] else None
        except ValueError:
            raise shift_parts.FormProblem(
                f"There is no shift role '{filters['role'][:40]}'."
            ) from None
        vigil.projector.catch_up()  # as GET /api/v1/shifts does without min_position
        items, next_cursor = vigil.rota.shifts(
            start=datetime.combine(first, time(0), zone),
            end=datetime.combine(last + timedelta(days=1), time(0), zone),
            assignee=filters["assignee"].lower() or None,
            service=filters["service"] or None,
            role=chosen_role,
            limit=DEFAULT_LIMIT,
            cursor=cursor or None,
        )
    except (shift_parts.FormProblem, DomainError) as exc:
        message = exc.detail if isinstance(exc, DomainError) else str(exc)
        return renderer.page("shifts.html", {**context, "error": message}, status_code=422)
    next_url = None
    if next_cursor:
        kept = {name: value for name, value in filters.items() if value}
        next_url = "/ui/shifts?" + urlencode({**kept, "cursor": next_cursor})
    return renderer.page("shifts.html", {**context, "items": items, "next_url": next_url})


# --- one shift -----------------------------------------------------------------------------------


def _shift_context(vigil: Vigil, person: SignedIn, shift_id: UUID) -> dict[str, Any]:
    """The shift as ``GET /shifts/{id}`` reads it and, for those who may, its log as
    ``GET /shifts/{id}/log`` does (raises the same refusals)."""
    actor = person.actor
    check(actor, Permission.ROTA_READ)
    vigil.projector.catch_up()
    visibility = vigil.access.visibility(actor)
    detail = vigil.rota.shift(shift_id, visibility=visibility)
    log = None
    if permits(actor, Permission.SHIFT_LOG_READ):
        log = vigil.shift_logs.log(
            shift_id, now=vigil.clock(), reader=actor.username, visibility=visibility
        )
    attends = permits(actor, Permission.SHIFT_ATTEND)
    late_after = vigil.shift_logs.late_after

    def rows(entries: list[Any]) -> list[dict[str, Any]]:
        return [
            {
                "entry": h,
                "may_acknowledge": attends and shift_parts.may_acknowledge(h, actor.username),
            }
            for h in entries
        ]

    return {
        **_base(person),
        "title": f"Shift {str(shift_id)[:8]}",
        "shift": detail,
        "log": log,
        "given": rows(detail.handovers_given),
        "received": rows(detail.handovers_received),
        "late_minutes": int(late_after.total_seconds() // 60),
        "late_after": late_after,
        "actions": [
            {"action": a, "name": _CAMEL.sub(" ", a.type).lower().capitalize()}
            for a in (log.actions if log is not None else [])
        ],
    }


@router.get("/shifts/{shift_id}")
def shift_page(
    request: Request, vigil: VigilDep, person: Person, shift_id: str, done: Notice = None
) -> Response:
    """One shift: the plan against attendance on both clocks (late logs marked), its log's
    actions, the out-of-hours decisions made in it, the handovers given and received."""
    try:
        wanted = UUID(shift_id)
    except ValueError:
        return _refused(request, person, 404, "No such shift.", "Not found")
    try:
        context = _shift_context(vigil, person, wanted)
    except DomainError as exc:
        status = domain_status(exc, request)[0]
        return _refused(request, person, status, exc.detail, "Shift")
    page = {**context, "notice": NOTICES.get(done or ""), "error": None}
    return web_parts(request).renderer.page("shift.html", page)
