"""Who is signed in to the web UI, and whether a form post is theirs.

Every request re-checks the person through the identity service (the same one the API's bearer
path uses): the session names the API token it began with, and a token revoked or expired, or a
user deactivated, ends the session at once. Every POST under ``/ui/`` must carry the session's
CSRF token (the form's hidden ``csrf_token``, or an ``X-CSRF-Token`` header for HTMX), else a
403 page and nothing is written; the sign-in form, before any session, carries a token matched
against a cookie of its own (double submit). Both refusals are raised as
``interfaces.http.problems.PageAnswer``, the one error mapping's entry for pages.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from starlette.responses import RedirectResponse, Response

from domain.shared import Actor
from interfaces.composition import Vigil
from interfaces.http.dependencies import VigilDep
from interfaces.http.middleware import note_for_log
from interfaces.http.problems import PageAnswer
from interfaces.web.render import Renderer
from interfaces.web.sessions import SessionStore, UiSession

SESSION_COOKIE = "vigil_session"
LOGIN_CSRF_COOKIE = "vigil_login_csrf"
COOKIE_PATH = "/ui"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
FORM_TYPE = "application/x-www-form-urlencoded"
_MAX_FIELDS = 50


@dataclass(frozen=True)
class WebParts:
    """What the pages share, kept in ``app.state.vigil_web``."""

    sessions: SessionStore
    renderer: Renderer


def web_parts(request: Request) -> WebParts:
    parts: WebParts = request.app.state.vigil_web
    return parts


@dataclass(frozen=True)
class SignedIn:
    """The person behind a request: who they act as, and their session."""

    actor: Actor
    session: UiSession

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


def secure_cookies(vigil: Vigil, request: Request) -> bool:
    """Cookies are Secure (sent over HTTPS only) outside development and tests, and whenever
    the page came over HTTPS (a deployment that left VIGIL_ENVIRONMENT at its default)."""
    return (
        vigil.settings.environment not in ("development", "test") or request.url.scheme == "https"
    )


def set_cookie(response: Response, vigil: Vigil, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(vigil, request),
    )


def clear_cookie(response: Response, vigil: Vigil, request: Request, name: str) -> None:
    response.delete_cookie(
        name,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(vigil, request),
    )


def sign_in_required(request: Request, vigil: Vigil) -> PageAnswer:
    """No live session (none, ended, expired, or its token no longer valid): to sign in."""
    answer = RedirectResponse("/ui/login", status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        clear_cookie(answer, vigil, request, SESSION_COOKIE)
    return PageAnswer(answer)


def forbidden_page(request: Request) -> Response:
    """403 for a post without a valid CSRF token (or without a session): nothing written."""
    return web_parts(request).renderer.page(
        "refused.html", {"title": "Not saved", "person": None, "csrf_token": ""}, status_code=403
    )


def csrf_refused(request: Request) -> PageAnswer:
    return PageAnswer(forbidden_page(request))


def current_session(request: Request, vigil: Vigil) -> SignedIn | None:
    """The live session this request's cookie names, its person checked again now; None if
    there is none (an expired one, or one whose token is no longer valid, is ended here)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    sessions = web_parts(request).sessions
    now = vigil.clock()
    session = sessions.find(session_id, now)
    if session is None:
        return None
    actor = vigil.identity.credential_actor(
        session.username, session.credential_id, signed_in_at=session.created_at
    )
    if actor is None:
        sessions.end(session.session_hash, now, reason="credential")
        return None
    sessions.touch(session, now)
    note_for_log(request, actor=actor.username)
    return SignedIn(actor=actor, session=session)


def signed_in(request: Request, vigil: VigilDep) -> SignedIn:
    """A page's person (a plain ``def``: it reads the store, so it runs in a worker thread)."""
    found = current_session(request, vigil)
    if found is None:
        raise sign_in_required(request, vigil)
    return found


async def posted_form(request: Request) -> dict[str, str]:
    """A form post's fields (``application/x-www-form-urlencoded``; anything else: none). The
    body's size is already bounded by the middleware."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != FORM_TYPE:
        return {}
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except ValueError:
        raise csrf_refused(request) from None  # more fields than any form of ours has
    return dict(pairs)


Form = Annotated[dict[str, str], Depends(posted_form)]


def _same(sent: str | None, expected: str) -> bool:
    return bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())


def signed_post(request: Request, vigil: VigilDep, form: Form) -> SignedIn:
    """A form post's person, refused (403) unless it carries the session's CSRF token."""
    found = current_session(request, vigil)
    if found is None:
        raise csrf_refused(request)
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not _same(sent, found.csrf_token):
        raise csrf_refused(request)
    return found


def login_csrf_ok(request: Request, form: dict[str, str]) -> bool:
    """The sign-in form's token matches its cookie (there is no session yet to hold one)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    return cookie is not None and _same(form.get(CSRF_FIELD), cookie)


Person = Annotated[SignedIn, Depends(signed_in)]
PostingPerson = Annotated[SignedIn, Depends(signed_post)]
