"""The web UI's routes: sign-in and sign-out, the now page, and check-in and check-out.

Each page reads and writes through the same application services and read models as the API
(``vigil.shifts``, ``interfaces.http.queues.queue_list``, ``vigil.rota``), so every rule and
permission is the same; a refusal by the domain is shown on the page, never a 500. Writes
answer with a redirect (post, redirect, get), so a reload never posts twice.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from application.identity import SINGLE_SIGN_ON, token_user_id
from domain.access.permissions import Permission, check, permits
from domain.errors import DomainError
from domain.shared import Actor
from domain.shift.commands import ShiftCommand
from infrastructure.logging import get_logger
from infrastructure.settings import Settings
from interfaces.composition import Vigil
from interfaces.http.dependencies import VigilDep
from interfaces.http.problems import TooManyFailedAttempts, domain_status
from interfaces.http.queues import queue_list
from interfaces.http.security import count_failure
from interfaces.web import shift_parts
from interfaces.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Form,
    Person,
    PostingPerson,
    SignedIn,
    clear_cookie,
    current_session,
    forbidden_page,
    login_csrf_ok,
    set_cookie,
    web_parts,
)
from interfaces.web.forms import keyed
from interfaces.web.sessions import NewSession
from interfaces.web.shift_parts import handovers_for
from projections.community_members import MemberQueueCount
from projections.contact_queues import ContactQueueCount
from projections.queue_rows import QueueCount
from projections.rota import RotaShift
from projections.shift_queues import ShiftQueueCount

log = get_logger(__name__)

router = APIRouter(prefix="/ui", include_in_schema=False)

# Shifts shown on the now page: those with a part of yours running, starting within a day, or
# ended in the last half day (a check-out you may have missed).
_SHIFTS_AHEAD = timedelta(hours=24)
_SHIFTS_BEHIND = timedelta(hours=12)
# What a redirect after a write says happened (only these; anything else says nothing).
NOTICES = {
    "checked-in": "You are checked in.",
    "checked-out": "You are checked out.",
    "handed-over": "Your handover is recorded.",
    "handed-over-out": "Your handover is recorded and you are checked out.",
    "acknowledged": "Handover acknowledged.",
}
Notice = Annotated[str | None, Query(max_length=20, description="What just happened.")]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- signing in and out ------------------------------------------------------------------------


def sso_label(settings: Settings) -> str | None:
    """The single sign-on button's words, when OIDC sign-in is configured (else None)."""
    if not (settings.oidc_enabled and settings.oidc_client_id):
        return None
    return f"Sign in with {settings.oidc_provider_name or 'single sign-on'}"


def session_method(credential_id: UUID) -> str:
    """How a session began, as the log says it: never who."""
    return "oidc" if credential_id == SINGLE_SIGN_ON else "token"


def begin_session(request: Request, vigil: Vigil, username: str, credential: UUID) -> NewSession:
    """Begin a session for a person just signed in (replacing the one this browser had), and
    delete the rows of sessions past their absolute expiry while here."""
    sessions = web_parts(request).sessions
    now = vigil.clock()
    earlier = current_session(request, vigil)
    if earlier is not None:  # signing in again replaces the session this browser had
        sessions.end(earlier.session.session_hash, now, reason="replaced")
    sessions.purge_expired(now)
    started = sessions.begin(username, credential, now)
    log.info(
        "ui_signed_in",
        session=started.session.session_hash[:8],
        method=session_method(credential),
    )
    return started


def login_page(
    request: Request,
    vigil: Vigil,
    *,
    message: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    csrf = secrets.token_urlsafe(32)
    page = web_parts(request).renderer.page(
        "login.html",
        {
            "title": "Sign in",
            "person": None,
            "csrf_token": csrf,
            "message": message,
            "sso": sso_label(vigil.settings),
        },
        status_code=status_code,
        headers=headers,
    )
    set_cookie(page, vigil, request, LOGIN_CSRF_COOKIE, csrf)
    return page


@router.get("/login")
def login_form(request: Request, vigil: VigilDep) -> Response:
    if current_session(request, vigil) is not None:
        return _see_other("/ui/")
    return login_page(request, vigil)


@router.post("/login")
def sign_in(request: Request, vigil: VigilDep, form: Form) -> Response:
    """Sign in with an API token: a failure counts toward the same limit as a bad bearer
    token (429 past it); a success begins a session."""
    if not login_csrf_ok(request, form):
        return forbidden_page(request)
    token = form.get("token", "").strip()
    if not token:
        # No credential is not a failed one (as on the API): nothing is counted.
        return login_page(request, vigil, message="Enter your API token.", status_code=422)
    actor = vigil.identity.authenticate(token)
    if actor is None:
        try:
            count_failure(request, token_user_id(token))
        except TooManyFailedAttempts as exc:
            wait = max(1, math.ceil(exc.retry_after))
            return login_page(
                request,
                vigil,
                message=f"Too many failed sign-ins. Try again in {wait} seconds.",
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        return login_page(
            request,
            vigil,
            message="That API token is not valid (unknown, expired or revoked).",
            status_code=401,
        )
    credential = actor.credential_id
    if credential is None:
        # A valid identity provider's token pasted in: not a failure, but not how the pages
        # take single sign-on (its button, whose flow proves this browser asked for it).
        return login_page(
            request,
            vigil,
            message="An identity provider's token is not taken here: use a Vigil API token"
            + (f", or {sso[0].lower()}{sso[1:]}." if (sso := sso_label(vigil.settings)) else "."),
            status_code=401,
        )
    started = begin_session(request, vigil, actor.username, credential)
    answer = _see_other("/ui/")
    set_cookie(answer, vigil, request, SESSION_COOKIE, started.session_id)
    clear_cookie(answer, vigil, request, LOGIN_CSRF_COOKIE)
    return answer


@router.post("/logout")
def sign_out(request: Request, vigil: VigilDep, person: PostingPerson) -> Response:
    session = person.session
    web_parts(request).sessions.end(session.session_hash, vigil.clock(), reason="signed_out")
    log.info(
        "ui_signed_out",
        session=session.session_hash[:8],
        method=session_method(session.credential_id),
    )
    answer = _see_other("/ui/login")
    clear_cookie(answer, vigil, request, SESSION_COOKIE)
    return answer


# --- now -----------------------------------------------------------------------------------------


def _mine_open(shift: RotaShift, username: str) -> bool:
    return any(a.person == username and a.checked_out_at is None for a in shift.attendance)


def _my_shifts(vigil: Vigil, actor: Actor, now: datetime) -> list[dict[str, Any]]:
    # As GET /api/v1/shifts?assignee=me&from=..&to=.. reads them: each with its attendance.
    shifts, _ = vigil.rota.shifts(
        start=now - _SHIFTS_BEHIND, end=now + _SHIFTS_AHEAD, assignee=actor.username, limit=20
    )
    shown = []
    for shift in shifts:
        checked_in = _mine_open(shift, actor.username)
        attended = any(a.person == actor.username for a in shift.attendance)
        current = shift.starts_at <= now + _SHIFTS_AHEAD and shift.ends_at > now
        if shift.status == "cancelled" or not (checked_in or current):
            continue
        shown.append(
            {
                "shift": shift,
                "checked_in": checked_in,
                "may_check_in": not attended,
                "may_check_out": checked_in,
            }
        )
    return shown


def _queues(vigil: Vigil, actor: Actor, now: datetime) -> list[dict[str, Any]]:
    if not permits(actor, Permission.READ):
        return []
    answer = queue_list(
        vigil, vigil.work_queues, actor, vigil.access.visibility(actor), at=now, now=now
    )
    counts: list[QueueCount | ShiftQueueCount | ContactQueueCount | MemberQueueCount] = [
        *answer.items,
        *answer.shift_queues,
        *answer.contact_queues,
        *answer.community_queues,
    ]
    rows = [{"name": r.name.value, "total": r.total, "overdue": r.overdue} for r in counts]
    # Overdue first, then the fullest: what needs doing soonest at the top.
    return sorted(rows, key=lambda r: (-(r["overdue"] or 0), -r["total"]))


def now_context(vigil: Vigil, person: SignedIn) -> dict[str, Any]:
    """What the now page shows: counts and shifts only, never a case's or contact's content
    (so there is nothing to access-log)."""
    actor = person.actor
    vigil.projector.catch_up()  # as every view-backed API read does without min_position
    now = vigil.clock()
    rota = permits(actor, Permission.ROTA_READ)
    return {
        "title": "Now",
        "now": now,
        "my_shifts": _my_shifts(vigil, actor, now) if rota else [],
        "queues": _queues(vigil, actor, now),
        "on_call": vigil.rota.on_call(now).as_known_now if rota else None,
        "sees_rota": rota,
        "handovers_for_me": handovers_for(vigil, actor, now),
    }


def _base(person: SignedIn) -> dict[str, Any]:
    return {"person": person.actor, "csrf_token": person.csrf_token, "nav": "now"}


@router.get("/")
def now_page(request: Request, vigil: VigilDep, person: Person, done: Notice = None) -> Response:
    context = {**_base(person), **now_context(vigil, person), "notice": NOTICES.get(done or "")}
    return web_parts(request).renderer.page("now.html", {**context, "error": None})


# --- attendance ----------------------------------------------------------------------------------


ShiftId = Annotated[UUID, Path(description="The shift id.")]


def now_refused(
    request: Request, vigil: Vigil, person: SignedIn, message: str, status_code: int
) -> Response:
    """The now page saying why a write was not done, with the status the API answers with."""
    context = {**_base(person), **now_context(vigil, person), "notice": None}
    return web_parts(request).renderer.page(
        "now.html", {**context, "error": message}, status_code=status_code
    )


def attend(
    request: Request,
    vigil: Vigil,
    person: SignedIn,
    shift_id: UUID,
    command: Callable[[], ShiftCommand],
    done: str,
    form: Form,
) -> Response:
    """Run an attendance command through the shift service, as POST /api/v1/shifts/{id}/...
    does; a refusal (a form value the command's rules refuse: 422, or the domain's) is shown on
    the now page with the status the API answers it with."""
    try:
        check(person.actor, Permission.SHIFT_ATTEND)
        built = command()
        vigil.shifts.execute(
            shift_id, built, person.actor, request=keyed(request, vigil, form, built)
        )
    except shift_parts.FormProblem as exc:
        return now_refused(request, vigil, person, str(exc), 422)
    except DomainError as exc:
        return now_refused(request, vigil, person, exc.detail, domain_status(exc, request)[0])
    return _see_other(f"/ui/?done={done}")


@router.post("/shifts/{shift_id}/check-in")
def check_in(
    request: Request, vigil: VigilDep, person: PostingPerson, shift_id: ShiftId, form: Form
) -> Response:
    """Check in (``occurred_at``, the form's "Started at", for a late log)."""
    zone = web_parts(request).renderer.zone
    return attend(
        request,
        vigil,
        person,
        shift_id,
        lambda: shift_parts.check_in(form, zone),
        "checked-in",
        form,
    )


@router.post("/shifts/{shift_id}/check-out")
def check_out(
    request: Request, vigil: VigilDep, person: PostingPerson, shift_id: ShiftId, form: Form
) -> Response:
    """Check out; with the hand-over form's note (``with_handover=1``) the handover and the
    check-out are one write, as the API's ``handover``."""
    zone = web_parts(request).renderer.zone
    with_handover = form.get("with_handover") == "1"
    return attend(
        request,
        vigil,
        person,
        shift_id,
        lambda: shift_parts.check_out(form, zone, with_handover=with_handover),
        "handed-over-out" if with_handover else "checked-out",
        form,
    )
